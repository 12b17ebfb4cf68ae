"""dabench: tune and benchmark domain-adversarial domain adaptation.

``dabench.modules`` and ``dabench.adaptation`` hold the loss library (the reference library's public
API, exact to its math, with its bugs fixed).
"""

__version__ = "0.2.0"
"""dabench's version: its one home (``pyproject.toml`` reads it from here)."""
