"""MathJax served from the built pages themselves, so that their math renders with no network.

``sphinx.ext.mathjax`` loads MathJax from a CDN unless told otherwise; offline, a page's math
then shows as raw TeX. This extension sets it up with a copy of MathJax 3 that the
``django-static-mathjax`` package ships (a data-only wheel, no Django needed): at
``config-inited`` it points ``mathjax_path`` at ``_static/mathjax/tex-mml-chtml.js``, and at
``builder-inited`` it copies that package's ``es5/`` build into ``_static/mathjax/`` of the HTML
output: the ``tex-mml-chtml.js`` entry point and every component it may load on demand (TeX
extensions, the CHTML fonts, the menu, the accessibility components and their speech rules, the
SVG output the menu can switch to), without the other combined entry points it would never load.

MathJax 4, the CDN default of Sphinx 9, has the ``textmacros`` package built in (``\\_`` in
``\\text{ignore\\_index}`` is an underscore, not a backslash and an underscore); the bundled
MathJax 3 is told to load it, unless ``conf.py`` gives a ``mathjax3_config`` of its own.

A ``mathjax_path`` that ``conf.py`` sets to a URL is an error, and so is a missing MathJax.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError, ExtensionError
from sphinx.ext import mathjax

ENTRY = "tex-mml-chtml.js"  # TeX and MathML input, HTML-CSS output: what Sphinx loads by default
STATIC = "mathjax"  # the folder under the output's _static/
INSTALL = 'pip install -e ".[docs]" (MathJax 3 comes in django-static-mathjax>=3.2.2,<4)'


def bundled_mathjax() -> Path:
    """The installed MathJax 3 ``es5/`` folder of ``django-static-mathjax`` (import name
    ``mathjax``); an error naming the install command when it is not there."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.origin:
        raise ExtensionError(f"MathJax for the offline docs is not installed: {INSTALL}")
    es5 = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (es5 / ENTRY).is_file():
        raise ExtensionError(
            f"the installed 'mathjax' package ({Path(spec.origin).parent}) has no "
            f"static/mathjax/es5/{ENTRY}: it is not django-static-mathjax 3.x; {INSTALL}"
        )
    return es5


def use_bundled_mathjax(app: Sphinx, config: Config) -> None:
    """Point ``mathjax_path`` (left at Sphinx's CDN default) at the bundled copy, with
    ``textmacros`` loaded; refuse a URL."""
    bundled_mathjax()  # fail before reading any page when MathJax is missing
    path = config.mathjax_path
    if path == mathjax.MATHJAX_URL:
        config.mathjax_path = f"{STATIC}/{ENTRY}"  # relative: under _static/ of the output
        if config.mathjax3_config is None:
            config.mathjax3_config = {"loader": {"load": ["[tex]/textmacros"]},
                                      "tex": {"packages": {"[+]": ["textmacros"]}}}  # fmt: skip
    elif urlsplit(path).scheme or path.startswith("//"):
        raise ConfigError(
            f"mathjax_path = {path!r} loads MathJax from the network, so that math shows as raw "
            f"TeX offline; leave mathjax_path unset (the pages then load _static/{STATIC}/{ENTRY}, "
            "copied from the installed MathJax) or give a path under _static/"
        )


def copy_bundled_mathjax(app: Sphinx) -> None:
    """Copy the bundled MathJax into ``_static/mathjax/`` of an HTML build that renders math
    with MathJax (before the pages are written, so that Sphinx stamps the script's checksum)."""
    renderer = getattr(app.builder, "math_renderer_name", None)
    if app.builder.format != "html" or renderer != "mathjax":
        return
    es5 = bundled_mathjax()

    def other_entry_points(folder: str, names: list[str]) -> set[str]:
        if Path(folder) != es5:
            return set()
        return {n for n in names if n.endswith(".js") and n != ENTRY}

    target = Path(app.outdir) / "_static" / STATIC
    shutil.copytree(es5, target, ignore=other_entry_points, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", use_bundled_mathjax)
    app.connect("builder-inited", copy_bundled_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
