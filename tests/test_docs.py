"""The documentation as its two readers see it: the repository's web view, which renders each
``.md`` file where it lies (every relative link must name a file that exists relative to it), and
the Sphinx pages, whose math must be typeset with no network (MathJax served from the pages, never
from a CDN) and whose links to ``reports/`` must open the reports' pages."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = {"_build", "_generated", "reports"}  # docs/.gitignore: what the build writes there


def generated(path: Path) -> bool:
    """Whether ``path`` (normalised) lies in a folder of docs/ that the docs build writes."""
    return path.is_relative_to(DOCS) and not GENERATED.isdisjoint(path.relative_to(DOCS).parts[:1])


def markdown_files() -> list[Path]:
    """README.md, every committed page under docs/ (not what the build writes there) and every
    report."""
    pages = [p for p in DOCS.rglob("*.md") if not generated(p)]
    return [ROOT / "README.md", *sorted(pages), *sorted((ROOT / "reports").glob("*.md"))]


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
FENCE_END = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*$")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(r"\]\(\s*(?:<([^>]*)>|([^()\s]+))(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(?:<([^>]*)>|(\S+))")
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def link_targets(text: str) -> list[tuple[int, str]]:
    """``(line, target)`` of every inline link or image, reference definition and HTML ``a`` or
    ``img`` of a markdown text, outside fenced code blocks and code spans (which GitHub shows
    as code, MyST roles included)."""
    found, fence = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is not None:
            closing = FENCE_END.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
            continue
        if opening := FENCE.match(line):
            fence = opening[1]
            continue
        line = CODE_SPAN.sub(" ", line)
        for match in [*INLINE_LINK.finditer(line), *REFERENCE.finditer(line)]:
            found.append((number, match[1] if match[1] is not None else match[2]))
        found += [(number, match[1]) for match in HTML_LINK.finditer(line)]
    return found


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """Each relative link of a markdown file that does not open a file or folder on the
    repository's web view, as ``file:line: target (why)``; URLs with a scheme and anchor-only
    links (``#section``) are not checked."""
    text = path.read_text(encoding="utf-8") if text is None else text
    broken = []
    for number, target in link_targets(text):
        if not target or target.startswith("#") or SCHEME.match(target):
            continue
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        file = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if file.startswith("/"):
            broken.append(f"{where} (starts with /: give the path relative to the file)")
            continue
        resolved = Path(os.path.normpath(path.parent / file))
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{where} (leaves the repository)")
        elif generated(resolved):
            broken.append(f"{where} (made by the docs build, not in the repository)")
        elif not resolved.exists():
            broken.append(f"{where} (no {resolved.relative_to(ROOT)} in the repository)")
    return broken


def test_the_link_check_finds_what_breaks_and_skips_code_urls_and_anchors():
    page = DOCS / "page.md"
    text = "\n".join([
        "See [the sweep](sweep.md#resuming), [a report](../reports/selection.md) and",  # fine
        "![plot](_static/dashboard-runs.png) [up](../README.md) [here](#top) [web](https://x.y/z).",
        "[html](sweep.html) [root](/reports/selection.md) [no](reports/selection.md)",
        "[out](../../elsewhere.md)",
        "[ref]: missing.md",
        "`[code](missing-in-code.md)` and <img src=\"missing.png\">",
        "````markdown",
        "[fenced](missing-in-fence.md)",
        "```python",
        "````",
        "[spaced](<sweep.md>) [titled](sweep.md \"Sweeps\") [after](also-missing.md)",
    ])  # fmt: skip
    assert broken_links(page, text) == [
        "docs/page.md:3: sweep.html (no docs/sweep.html in the repository)",
        "docs/page.md:3: /reports/selection.md (starts with /: give the path relative to the file)",
        "docs/page.md:3: reports/selection.md (made by the docs build, not in the repository)",
        "docs/page.md:4: ../../elsewhere.md (leaves the repository)",
        "docs/page.md:5: missing.md (no docs/missing.md in the repository)",
        "docs/page.md:6: missing.png (no docs/missing.png in the repository)",
        "docs/page.md:11: also-missing.md (no docs/also-missing.md in the repository)",
    ]


def test_every_relative_link_of_readme_docs_and_reports_opens_a_file():
    files = markdown_files()
    assert {"README.md", "docs/index.md", "docs/api/index.md", "reports/leaderboard.md"} <= {
        str(f.relative_to(ROOT)) for f in files
    }
    broken = [line for f in files for line in broken_links(f)]
    assert not broken, "links that break on the repository's web view:\n" + "\n".join(broken)


def conf_extensions() -> list[str]:
    """The ``extensions`` that docs/conf.py lists (read from its source, not run)."""
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    (value,) = (
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["extensions"]
    )
    return ast.literal_eval(value)


DOCS_EXTRA = {"sphinx": "sphinx", "myst_parser": "myst-parser", "mathjax": "django-static-mathjax"}


def sphinx_build(srcdir: Path, outdir: Path, *options: str) -> subprocess.CompletedProcess:
    """``python -m sphinx -b html`` of ``srcdir`` with docs/conf.py's settings, in a subprocess
    (the docs' extensions set process state: sys.path, ``COLUMNS``)."""
    for module, package in DOCS_EXTRA.items():
        if importlib.util.find_spec(module) is None:
            if os.environ.get("CI"):
                pytest.fail(f"no {package} in CI (.ci/run installs the docs extra)")
            pytest.skip(f'no {package} installed: pip install -e ".[docs]"')
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-N", "-E", "-c", str(DOCS),
               *options, str(srcdir), str(outdir)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def without_generated_pages() -> tuple[str, str]:
    """``-D extensions=...``: docs/conf.py's extensions less ``dabench_docs``, whose pages made
    from dabench's code (importing torch, building every bundled task) take ~10 s."""
    return "-D", "extensions=" + ",".join(e for e in conf_extensions() if e != "dabench_docs")


MATH_PAGE = (
    "# Math\n\nInline $\\alpha + \\beta$ and displayed:\n\n"
    "$$\n\\mathcal{L} = -\\sum_i y_i \\log p_i\n$$\n"
)
LINK = re.compile(
    r'<a class="reference internal" href="([^"]+)"><span class="std std-\w+">([^<]+)<'
)
SCRIPT = re.compile(r"<script\b[^>]*?\bsrc=\"([^\"]+)\"", re.IGNORECASE)


def assert_math_loads_from_the_build(out: Path, page: str) -> None:
    """Every script of ``page`` (in ``out``) is a file of the build, MathJax's entry point among
    them, none has a URL; MathJax's fonts and on-demand components were copied beside it."""
    assert r"\(\alpha + \beta\)" in page and r"\mathcal{L}" in page  # math left for MathJax
    scripts = SCRIPT.findall(page)
    assert "_static/mathjax/tex-mml-chtml.js" in {s.split("?")[0] for s in scripts}, scripts
    for src in scripts:
        assert "//" not in src, f"{src}: a script from the network"
        assert (out / src.split("?")[0]).is_file(), f"{src}: not in the build"
    assert "mathjax@" not in page and "cdn." not in page.lower()
    mathjax = out / "_static" / "mathjax"
    assert (mathjax / "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert (mathjax / "input/tex/extensions/boldsymbol.js").is_file()  # loaded on demand
    # MathJax 4's textmacros (\_ in \text{...}), which MathJax 3 loads when configured to
    assert (
        '"[tex]/textmacros"' in page and (mathjax / "input/tex/extensions/textmacros.js").is_file()
    )
    assert not (mathjax / "tex-svg-full.js").exists()  # an entry point no page loads


def test_the_docs_configuration_typesets_math_with_mathjax_from_the_build(tmp_path):
    assert "offline_math" in conf_extensions()
    srcdir = tmp_path / "docs"
    srcdir.mkdir()
    (srcdir / "index.md").write_text(MATH_PAGE)
    out = tmp_path / "html"
    build = sphinx_build(srcdir, out, *without_generated_pages())
    assert build.returncode == 0, build.stderr
    assert_math_loads_from_the_build(out, (out / "index.html").read_text(encoding="utf-8"))


def test_a_mathjax_url_in_the_configuration_is_refused(tmp_path):
    srcdir = tmp_path / "docs"
    srcdir.mkdir()
    (srcdir / "index.md").write_text("# Math\n\n$x$\n")
    url = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    options = (*without_generated_pages(), "-D", f"mathjax_path={url}")
    build = sphinx_build(srcdir, tmp_path / "html", *options)
    assert build.returncode != 0
    assert f"mathjax_path = '{url}' loads MathJax from the network" in build.stderr
    assert not (tmp_path / "html" / "index.html").exists()


@pytest.mark.slow
def test_with_every_docs_extension_a_link_to_a_report_opens_its_page_and_math_stays_local(
    tmp_path,
):
    """The whole docs/conf.py, beside a ``reports/`` folder as in the repository: a page's link
    written for the web view, ``../reports/r.md#its-section``, opens the report's generated page
    at that section (not a download of the file), and the page's math still loads locally."""
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "r.md").write_text("# A report\n\n## Its section\n\nMeasured.\n")
    srcdir = tmp_path / "docs"
    srcdir.mkdir()
    (srcdir / "index.md").write_text(
        MATH_PAGE
        + "\nSee [the report](../reports/r.md#its-section) and [all of it](../reports/r.md)."
        "\n\n```{toctree}\nreports/index\n```\n"
    )
    out = tmp_path / "html"
    build = sphinx_build(srcdir, out)
    assert build.returncode == 0, build.stderr
    # the only warnings: the API pages this folder lacks (a link not found would be one more)
    assert [w for w in build.stderr.splitlines() if "API docs:" not in w] == [], build.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    links = {text: href for href, text in LINK.findall(page)}
    assert links["the report"] == "reports/r.html#its-section", links
    assert links["all of it"] == "reports/r.html", links
    assert "_downloads" not in page
    assert "Its section" in (out / "reports" / "r.html").read_text(encoding="utf-8")
    assert_math_loads_from_the_build(out, page)
