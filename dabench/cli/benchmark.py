"""``dabench benchmark`` on the command line: the spec, the flags that override it, the plan,
then the run with its live display (or, with ``--plan``, how far each sweep got)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console
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
            flags["set"] = {**spec.sweep.get("overrides", {}), **parse_assignments(args.set)}
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
        if plots is None and out is not None:
            plots = out.with_suffix("")  # next to --out, as `dabench leaderboard` does
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
    err.print(Text(f"benchmark {outcome.name} finished ({minutes:.1f} min of wall time); runs in "
                   f"{store.redact(outcome.tracking_uri)}, experiment {outcome.experiment!r}"
                   + (f"; leaderboard: {outcome.leaderboard}" if outcome.leaderboard else "")))  # fmt: skip
    return 0


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
