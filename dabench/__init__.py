"""dabench: tune and benchmark domain-adversarial domain adaptation.

``dabench.modules`` and ``dabench.adaptation`` hold the loss library (the reference library's public
API, exact to its math, with its bugs fixed).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dabench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
