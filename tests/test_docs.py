"""The documentation as the repository's web view shows it: it renders each ``.md`` file where it
lies, so every relative link must name a file that exists relative to it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

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
