"""``dabench benchmark`` on the command line: the spec, the flags that override it, the plan,
then the run with its live display (or, with ``--plan``, how far each sweep got), and at the end
the leaderboard's main tables and the file it was written to."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from dabench.cli import console
from dabench.cli.progress import BenchmarkProgress
from dabench.data.registry import task_spec
from dabench.engine import benchmark
from dabench.engine import spec as specs
from dabench.engine.options import BenchmarkSpec, SweepOptions, declarations, parse_assignments
from dabench.records import store
from dabench.records.criteria import criterion
from dabench.reports import tables
from dabench.reports.leaderboard import Leaderboard
from dabench.spaces import SearchSpaceError


def spec_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The spec keys given as flags (``None``: not given)."""
    keys = [f.metadata["spec"] for f in declarations(SweepOptions).values()
            if f.metadata["spec"] and f.metadata["spec"] != "set"]  # fmt: skip
    keys += [name for name, f in declarations(BenchmarkSpec).items() if f.metadata.get("flag")]
    return {key: getattr(args, key) for key in keys}


def run(args: argparse.Namespace) -> int:
    """The plan from the spec and flags, checked; then run it (or, with ``--plan``, show it)."""
    uri = store.tracking_uri(args.tracking_uri)
    try:
        spec = specs.load_spec(args.spec) if args.spec else BenchmarkSpec()
        name = args.name or (specs.spec_name(args.spec) if args.spec else "benchmark")
        if args.chunk:
            if args.tasks:
                raise ValueError("--chunk names the tasks already; leave out --tasks")
            spec = specs.chunk_of(spec, args.chunk)
            name = args.name or f"{name}-{args.chunk}"
        flags = spec_flags(args)
        if args.set:
            flags["set"] = parse_assignments(args.set)
        spec = specs.with_flags(spec, flags)
        plan = specs.make_plan(spec, name, uri, args.storage, args.address)
        if args.plan:
            Console().print(plan_table(plan, benchmark.progress_of(plan, uri)))
            return 0
        board = spec.leaderboard
        out, plots = args.out, args.plots
        if out is None and "out" in board:  # the spec's leaderboard, with the spec's plots
            out = Path(board["out"])
            plots = plots or (Path(board["plots"]) if "plots" in board else None)
        if out is None:
            out = default_out(plan.name)
        if plots is None:
            plots = out.with_suffix("")  # next to the file, as `dabench leaderboard` does
        runs_dir = Path(board["runs"]) if "runs" in board else None
        if args.no_leaderboard:
            out = runs_dir = None
        select = args.leaderboard_select or board.get("select", "auto")
        command = shlex.join(["dabench", *args.argv])
        with console.attached(), BenchmarkProgress(plan.name):
            outcome = benchmark.run_benchmark(plan, uri, args.storage, args.address, out, plots,
                                              select, command, runs_dir, args.verbose)  # fmt: skip
    except (ValueError, SearchSpaceError) as error:
        console.error("benchmark", error)
        return 2
    minutes = outcome.wall_s / 60
    err = Console(stderr=True, soft_wrap=True)
    if not outcome.finished:
        err.print(Text(f"benchmark {outcome.name} stopped after {minutes:.1f} min of wall time; "
                       "run the same command again to continue it"))  # fmt: skip
        return 130
    if outcome.board is not None:
        for table in board_tables(outcome.board):
            Console().print(table)
    err.print(Text(f"benchmark {outcome.name} finished ({minutes:.1f} min of wall time); runs in "
                   f"{store.redact(outcome.tracking_uri)}, experiment {outcome.experiment!r}"))  # fmt: skip
    if outcome.leaderboard is not None:
        err.print(Text("the whole leaderboard (realistic vs oracle, cost, best hyperparameters, "
                       f"plots): {outcome.leaderboard}"))  # fmt: skip
    return 0


def default_out(name: str) -> Path:
    """Where a benchmark's leaderboard goes when neither ``--out`` nor its spec says:
    ``leaderboard-<name>.md`` in the working directory, beside the default MLflow store."""
    return Path(f"leaderboard-{name}.md")


def board_tables(board: Leaderboard) -> list[Group]:
    """The leaderboard's main tables, one per setting, as the console shows them: the markdown
    document's cells, its bold as bold, and below each what selected it and the marks."""
    shown = []
    for setting in tables.settings_of(board):
        frame = tables.main_table(board, setting)
        title = tables.SETTING_TITLES[setting]
        table = Table(title=Text(title), min_width=len(title) + 4)  # the title on one line
        table.add_column(frame.index.name or "method", overflow="fold")
        for column in frame.columns:
            table.add_column(str(column), justify="right")
        for method, row in frame.iterrows():
            table.add_row(Text(str(method)), *(cell_text(value) for value in row))
        marks = Text(f"{tables.selection_line(board, setting)} {tables.LEGEND}.")
        shown.append(Group(table, marks))
    return shown


def cell_text(value: object) -> Text:
    """A main-table cell as rich text: ``**x**`` (the column's best) in bold."""
    text = str(value)
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        return Text(text[2:-2], style="bold")
    return Text(text)


def plan_table(plan: specs.Plan, status: dict[str, str]) -> Table:
    """The sweeps of a benchmark plan, one row each, with how far each got."""
    table = Table(title=Text(f"benchmark {plan.name}: {len(plan.sweeps)} sweeps, each pick "
                             f"re-trained with {plan.spec.seeds} fresh seeds"))  # fmt: skip
    for column in ("sweep", "trials", "steps", "eval every", "objective", "status"):
        table.add_column(column)
    for options in plan.sweeps:
        objective = criterion(options.metric, task_spec(options.task).setting)
        table.add_row(Text(options.name or ""), str(options.num_samples), str(options.steps),
                      str(options.eval_every), objective.key, status[options.name or ""])  # fmt: skip
    return table
