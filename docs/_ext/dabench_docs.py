"""Pages and checks generated from dabench's code when the docs build.

At ``builder-inited`` (before Sphinx looks for sources) this writes, into ``_generated/``
(fragments the pages include) and ``reports/`` (one page per ``reports/*.md`` of the repository):

* ``_generated/cli.md``: every subcommand's ``--help``, from :func:`dabench.cli.build_parser`;
* ``_generated/methods.md``: the method registry with its defaults, as ``dabench methods``;
* ``_generated/tasks.md``: the task registry, as ``dabench tasks``, with the split sizes;
* ``_generated/validators.md``: the validators, their settings and each setting's default;
* ``_generated/api.md``: a summary table of every public name of the loss library;
* ``reports/<name>.md``: each report included as a page (its plots and data linked beside it),
  so that a link to a report that does not exist is a missing cross-reference (an error under
  ``-W``).

At ``source-read`` a page's markdown link to a report, written as the repository's web view
resolves it (``../reports/<name>.md`` from ``docs/``), is pointed at the report's page
(``reports/<name>.md``); MyST would otherwise make it a download of the raw file.

At ``env-check-consistency`` it warns about every public name (``__all__``) of
``dabench.modules.*`` and ``dabench.adaptation.*`` that has no API entry.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pkgutil
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

API_PACKAGES = ("dabench.modules", "dabench.adaptation")


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless ``path`` already holds it (keeps incremental builds incremental)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def cli_reference() -> str:
    """One section per subcommand with its help, as ``dabench COMMAND --help`` prints it."""
    from dabench.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; make the page reproducible
    parser = build_parser()
    (commands,) = (a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = ["(cli-dabench)=", "## `dabench`", "", "```text", parser.format_help().rstrip(), "```"]
    for name, sub in commands.choices.items():
        out += ["", f"(cli-{name})=", f"## `dabench {name}`", "", "```text"]
        out += [sub.format_help().rstrip(), "```"]
    return "\n".join(out) + "\n"


def methods_reference() -> str:
    """The registry that ``dabench methods`` prints: settings and defaults of every recipe."""
    from dabench.cli.listings import format_defaults as _format_defaults
    from dabench.methods import METHODS

    rows = []
    for name, recipe in sorted(METHODS.items()):
        own = [
            f"{setting}: {_format_defaults(v)}"
            for setting, v in recipe.setting_defaults.items()
            if setting in recipe.settings
        ]
        own += [f"{family}: {_format_defaults(v)}" for family, v in recipe.family_defaults.items()]
        rows.append(
            [
                f"`{name}`",
                ", ".join(recipe.settings),
                _format_defaults(recipe.defaults) or "–",
                "; ".join(own) or "–",
                f"{{class}}`~{recipe.__module__}.{recipe.__qualname__}`",
            ]
        )
    header = ["method", "settings", "defaults (the reference's)", "overrides", "recipe"]
    return table(header, rows)


def tasks_reference() -> str:
    """The task registry as ``dabench tasks`` lists it: bundled tasks, then real-data families."""
    from dabench import models
    from dabench.data import SPLITS, get_task, list_tasks

    specs = list_tasks()
    bundled = [
        [f"`{s.name}`", s.setting, s.model, models.family(s.model), s.description]
        for s in specs
        if not s.needs_root
    ]
    families: dict[str, list] = {}
    for s in specs:
        if s.needs_root:
            families.setdefault(s.name.split("/")[0], []).append(s)
    real = [
        [
            f"`{prefix}/…`",
            len(group),
            ", ".join(sorted({s.setting for s in group})),
            ", ".join(sorted({s.model for s in group})),
            f"`{group[0].name}`: {group[0].description}",
        ]
        for prefix, group in families.items()
    ]
    sizes = []
    for s in specs:
        if not s.needs_root:  # built once, then cached like any dabench run (a few s, cold)
            sizes.append([f"`{s.name}`", *get_task(s.name, seed=0).sizes().values()])
    return (
        "**Bundled tasks** (generated or read from installed packages; no download):\n\n"
        + table(["task", "setting", "model", "defaults", "description"], bundled)
        + "\nTheir split sizes (`get_task(name).sizes()`):\n\n"
        + table(["task", *SPLITS], sizes)
        + "\n**Real-data tasks** (need `--root DIR`):\n\n"
        + table(["tasks", "count", "setting", "model", "e.g."], real)
    )


def validators_reference() -> str:
    """Which validator applies to which setting, and which one a sweep selects on by default."""
    from dabench.records.criteria import DEFAULT as DEFAULT_METRIC
    from dabench.task_settings import SETTINGS
    from dabench.validators import VALIDATORS

    rows = [["`source_val`", "`source_val_acc` / `source_val_miou`", ", ".join(SETTINGS)]]
    rows += [[f"`{v.name}`", f"`{v.key}`", ", ".join(v.settings)] for v in VALIDATORS.values()]
    defaults = ", ".join(f"{setting}: `{metric}`" for setting, metric in DEFAULT_METRIC.items())
    return table(["`--metric`", "reported as", "settings"], rows) + (
        f"\nDefault `--metric` per setting: {defaults}.\n"
    )


def report_pages(repo: Path, srcdir: Path) -> None:
    """``reports/<name>.md`` → a page including it; the reports' other files (plots, data,
    sub-folders) are linked beside the pages, so that their relative links resolve."""
    reports, pages = repo / "reports", srcdir / "reports"
    pages.mkdir(exist_ok=True)
    names = sorted(p.stem for p in reports.glob("*.md"))
    for name in names:
        write_if_changed(pages / f"{name}.md", f"```{{include}} ../../reports/{name}.md\n```\n")
    for entry in reports.iterdir():
        link = pages / entry.name
        if entry.suffix != ".md" and not link.is_symlink():
            link.symlink_to(Path("..", "..", "reports", entry.name))
    for stale in pages.iterdir():
        if stale.name != "index.md" and not (reports / stale.name).exists():
            stale.unlink()
    write_if_changed(
        pages / "index.md",
        "# Reports\n\nMeasurements made with this repository's code, each with the command that "
        "made it (the `reports/` folder of the repository).\n\n"
        "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(names) + "\n```\n",
    )


# The destination of an inline markdown link, ``](path.md`` or ``](<path.md``, up to its anchor.
MARKDOWN_LINK_TO_MD = re.compile(r"(?P<head>\]\(<?)(?P<path>[^()\s<>#]+\.md)(?=[#)\s>])")


def report_links_to_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    """Rewrite each link of a page that resolves to ``<repository>/reports/<name>.md`` into a
    link to that report's page, ``<srcdir>/reports/<name>.md`` (its anchor kept); other links
    are left as they are."""
    srcdir = Path(app.srcdir)
    page_dir = (srcdir / docname).parent
    reports = os.path.normpath(srcdir.parent / "reports")

    def to_page(match: re.Match) -> str:
        target = os.path.normpath(page_dir / match["path"])
        if os.path.dirname(target) != reports:
            return match[0]
        page = os.path.relpath(srcdir / "reports" / os.path.basename(target), page_dir)
        return match["head"] + Path(page).as_posix()

    source[0] = MARKDOWN_LINK_TO_MD.sub(to_page, source[0])


def api_summary() -> str:
    """Autosummary tables of every public name of the API packages; a re-export (the shared
    ``ImageClassifier``) is a line under the table that points to where it is defined."""
    out = []
    for package in API_PACKAGES:
        names: list[str] = []
        aliases: dict[str, list[str]] = {}
        for module, name, obj in public_names():
            if not module.startswith(package + "."):
                continue
            canonical = f"{obj.__module__}.{obj.__qualname__}"
            if canonical == f"{module}.{name}":
                names.append(canonical)
            else:
                aliases.setdefault(canonical, []).append(f"`{module}.{name}`")
        out += [f"## `{package}`", "", "```{autosummary}", "", *names, "```", ""]
        out += [f"{', '.join(a)}: {{class}}`{c}`." for c, a in aliases.items()] + [""]
    return "\n".join(out)


def generate(app: Sphinx) -> None:
    srcdir = Path(app.srcdir)
    generated = srcdir / "_generated"
    with contextlib.redirect_stdout(io.StringIO()):  # importing the registries prints nothing
        pages = {
            "cli.md": cli_reference(),
            "methods.md": methods_reference(),
            "tasks.md": tasks_reference(),
            "validators.md": validators_reference(),
            "api.md": api_summary(),
        }
    for name, text in pages.items():
        write_if_changed(generated / name, text)
    report_pages(srcdir.parent, srcdir)


def public_names() -> list[tuple[str, str, object]]:
    """``(module, name, object)`` for every ``__all__`` entry of the API packages' modules."""
    found = []
    for package_name in API_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            for name in getattr(module, "__all__", []):
                found.append((module.__name__, name, getattr(module, name)))
    return found


def check_api_coverage(app: Sphinx, env) -> None:
    """Warn (an error under ``-W``) for each public name without an API entry: documented under
    its own module, or, for a re-export such as ``dabench.adaptation.dann.ImageClassifier``, under
    the module that defines it."""
    documented = env.get_domain("py").objects
    for module, name, obj in public_names():
        canonical = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        if f"{module}.{name}" not in documented and canonical not in documented:
            logger.warning("API docs: %s.%s has no entry (add it to docs/api/)", module, name)


def keep_attribute_prose(app: Sphinx, what: str, name: str, obj, options, lines: list) -> None:
    """Napoleon reads the first line of a data, attribute or property docstring as ``type:
    description``, so that "Steps of the reference's runs: 3 epochs ..." renders "Steps of the
    reference's runs" as a type. dabench's types are annotations, never written there: an empty
    type before a leading colon keeps the sentence whole (runs before napoleon)."""
    if what in ("data", "attribute", "property") and lines and ":" in lines[0]:
        lines[0] = ": " + lines[0]


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-docstring", keep_attribute_prose, priority=400)
    app.connect("builder-inited", generate)
    app.connect("source-read", report_links_to_pages)
    app.connect("env-check-consistency", check_api_coverage)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
