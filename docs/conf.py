"""Sphinx configuration: ``python -m sphinx -W -b html docs <out>`` (``pip install -e ".[docs]"``)."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document this checkout, not another installed copy
sys.path.insert(0, str(DOCS / "_ext"))

import dabench  # noqa: E402

project = "dabench"
author = "the dabench authors"
copyright = "dabench authors"
release = version = dabench.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "offline_math",  # MathJax copied into the pages, loaded from there (docs/_ext/offline_math.py)
    "myst_parser",
    "dabench_docs",
]

exclude_patterns = ["_build", "_generated", "reports/*/**"]  # report sub-folders: data
# Every cross-reference must resolve (a broken one fails the -W build), except to the libraries
# dabench builds on, whose inventories would need the network (no intersphinx).
nitpicky = True
EXTERNAL = (
    "torch|torchvision|nn|np|numpy|pandas|pd|pathlib|collections|abc|typing|optuna|ray|mlflow"
    "|os|PIL|Image|datetime|yaml|importlib|contextlib"
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({EXTERNAL})\..*"),
    (r"py:class", r"Tensor|Dataset|Module|Path|Callable|Sequence|Any|_\w+"),
    (r"py:class", r"'.*"),  # a dataclass field's string annotation, split at its comma
]
html_theme = "furo"
html_title = f"dabench {release}"
html_static_path = ["_static"]

# The docstrings are Google style with reST math; "Inputs" and "Shape" are sections of their own.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Inputs", "Shape"]
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # torch's own docstrings (forward, ...) are not ours
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False  # the API pages are written out; autosummary only makes tables

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
# The build needs no network, and neither do the pages: their math is typeset by the MathJax
# that offline_math copies into _static/mathjax/ (from django-static-mathjax, in the docs extra).
