"""``dabench sweep`` and ``dabench rerun`` on the command line: the options from the flags, the
run with its live display, and the summary table; and ``dabench space``, the search space a sweep
uses by default."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dabench.cli import console
from dabench.cli.progress import SweepProgress
from dabench.engine.options import RerunOptions, SweepOptions, declarations, parse_assignments
from dabench.engine.rerun import rerun
from dabench.engine.state import load_sweep
from dabench.engine.sweep import SweepSummary, run_sweep
from dabench.methods import get_method
from dabench.records import naming, store
from dabench.reports.leaderboard import mean_ci
from dabench.spaces import SearchSpaceError, space_path


def options_from(args: argparse.Namespace, cls: type, required: bool = True) -> Any:
    """An options dataclass from the parsed flags (a flag not given keeps its default; ``--set``
    pairs become the overrides); with ``required=False``, only the given values, by name."""
    values = {}
    for name in declarations(cls):
        value = args.set if name == "overrides" else getattr(args, name, None)
        if value is None:
            continue
        values[name] = parse_assignments(value) if name == "overrides" else value
    if "select" in values:
        values["select"] = tuple(values["select"])
    return cls(**values) if required else values


def run(args: argparse.Namespace) -> int:
    """``dabench sweep`` (``--resume``: finish an interrupted one), then, with ``--seeds``, the
    rerun of its picks."""
    try:
        with console.attached(), SweepProgress():
            if args.resume:
                under = args.storage or "ray_results"
                check_resume_flags(args, load_sweep(args.resume, under)[0])
                summary = run_sweep(resume=args.resume, resume_under=under, verbose=args.verbose)
            else:
                if not args.method or not args.task:
                    raise ValueError("--method and --task are required (or --resume SWEEP)")
                summary = run_sweep(options_from(args, SweepOptions), verbose=args.verbose)
    except (ValueError, SearchSpaceError) as error:
        console.error("sweep", error)
        return 2
    Console().print(summary_table(summary))
    if summary.interrupted:
        Console(stderr=True).print(Text(f"interrupted; finish it with: dabench sweep --resume "
                                        f"{summary.path}"))  # fmt: skip
        return 130
    if summary.counts.get("completed", 0) + summary.counts.get("pruned", 0) == 0:
        console.error("sweep", "every trial failed (see the errors above and the trials' runs)")
        return 1
    if args.seeds:
        saved, _ = load_sweep(summary.path, "")  # a resumed sweep's own resources
        shared = {name: getattr(saved, name) for name in declarations(RerunOptions)
                  if hasattr(saved, name)}  # fmt: skip
        return rerun_and_print(RerunOptions(sweep=summary.name, seeds=args.seeds, **shared),
                               args.verbose)  # fmt: skip
    return 0


def check_resume_flags(args: argparse.Namespace, saved: SweepOptions) -> None:
    """Refuse option flags given with ``--resume`` that contradict the saved sweep (a resumed
    sweep runs with its saved options; ``--storage`` only says where to find it)."""
    given = options_from(args, SweepOptions, required=False)
    contradicting = [
        f"--{name.replace('_', '-')} {value!r} (the sweep has {getattr(saved, name)!r})"
        for name, value in given.items()
        if name not in ("storage", "tracking_uri") and value != getattr(saved, name)
    ]  # fmt: skip
    if (
        given.get("tracking_uri")
        and store.tracking_uri(given["tracking_uri"]) != saved.tracking_uri
    ):
        contradicting.append(f"--tracking-uri {store.redact(given['tracking_uri'])} (the sweep "
                             f"records to {store.redact(saved.tracking_uri or '')})")  # fmt: skip
    if contradicting:
        raise ValueError(f"--resume {args.resume}: a resumed sweep keeps its options; these "
                         f"contradict them: {'; '.join(contradicting)}. Leave them out, or start a "
                         "new sweep with another --name")  # fmt: skip


def run_rerun(args: argparse.Namespace) -> int:
    """``dabench rerun``: re-train a finished sweep's picks with fresh seeds."""
    try:
        options = options_from(args, RerunOptions)
    except (ValueError, TypeError) as error:
        console.error("rerun", error)
        return 2
    return rerun_and_print(options, args.verbose)


def rerun_and_print(options: RerunOptions, verbose: bool) -> int:
    try:
        with console.attached(), SweepProgress():
            groups = rerun(options, verbose)
    except (ValueError, RuntimeError) as error:
        console.error("rerun", error)
        return 2
    table = Table(title=Text(f"sweep {options.sweep}: picks re-trained with fresh seeds"))
    for column in ("picked by", "trial", "in the sweep (1 seed)", "seeds", "per seed",
                   "mean ± 95 % CI (t)"):  # fmt: skip
        table.add_column(column)
    for group in groups:
        mean, half = mean_ci(group.values)
        table.add_row(
            ", ".join(group.selected_by), Text(naming.label_of(group.trial, options.sweep)),
            f"{group.sweep_value:.2f}",
            " ".join(map(str, group.seeds)) + (" (already run)" if group.reused else ""),
            ", ".join(f"{v:.2f}" for v in group.values), f"{mean:.2f} ± {half:.2f}",
        )  # fmt: skip
    Console().print(table)
    return 0


def summary_table(summary: SweepSummary) -> Table:
    """A finished sweep (or a session of it) in one table: counts, wall time, the criterion, the
    trial- and checkpoint-level picks, the source-only baseline, the best config, where the
    records are."""
    table = Table(title=Text(f"sweep {summary.name}"), show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    objective, oracle, test = summary.objective, summary.oracle, summary.objective.test_key
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items() if v)
    table.add_row("trials", counts)
    table.add_row("wall time", f"{summary.wall_s:.0f} s")
    table.add_row("selected by", f"{objective.key} (label-free)" if not objective.uses_target_labels
                  else f"{objective.key} (uses target labels: oracle)")  # fmt: skip
    best = summary.best_metrics
    if best:
        table.add_row("trial-level pick", Text(f"{naming.label_of(summary.best_trial, summary.name)}: "
                                               + _pick(best, objective.key, oracle.key, test)))  # fmt: skip
    if summary.checkpoint:
        checkpoint = summary.checkpoint
        name = checkpoint.get("name")
        label = naming.label_of(name, summary.name) if name else f"trial {checkpoint['trial']}"
        where = f"{label} step {checkpoint['step']}"
        if checkpoint["path"]:
            where += f", {checkpoint['path']}"
        table.add_row("checkpoint-level pick", Text(
            f"{_pick(checkpoint['metrics'], objective.key, oracle.key, test)}\n({where})"))  # fmt: skip
    best_task = summary.best_config.get("task", "TASK")
    if best and summary.baseline is None:
        table.add_row("source-only", "no source_only sweep of this task in the experiment: "
                      f"`dabench sweep --method source_only --task {best_task}` tells negative "
                      "transfer")  # fmt: skip
    elif best:
        value, sweep = summary.baseline
        verdict = ("[red]NEGATIVE TRANSFER[/red]: the pick is below it"
                   if summary.negative_transfer else "the pick is not below it")  # fmt: skip
        table.add_row("source-only", Text(f"{test} {value:.2f} (sweep {sweep}): ")
                      + Text.from_markup(verdict))  # fmt: skip
    if best:
        searched = {k: v for k, v in summary.best_config.items()
                    if k not in ("method", "task", "steps", "eval_every", "seed", "device")}  # fmt: skip
        shown = (
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in searched.items()
        )
        table.add_row("best config", Text(", ".join(shown)))
    table.add_row("MLflow", Text(f"{store.redact(summary.tracking_uri)}, experiment {summary.experiment!r}, "
                                 f"run {summary.parent_run_id} (`dabench ui`)"))  # fmt: skip
    table.add_row("Ray state", Text(summary.path))
    return table


def _pick(metrics: dict[str, Any], objective: str, oracle: str, test: str) -> str:
    nan = float("nan")
    shown = f"{objective} {metrics.get(objective, nan):.3f}"
    if oracle != objective:
        shown += f", {oracle} {metrics.get(oracle, nan):.2f} (oracle)"
    return shown + f", {test} {metrics.get(test, nan):.2f}"


def run_space(args: argparse.Namespace) -> int:
    """``dabench space METHOD``: the shipped search space of a method, to copy and edit."""
    try:
        get_method(args.method)
    except ValueError as failure:
        console.error("space", failure)
        return 2
    path = space_path(args.method)
    print(f"# {path}: dabench's search space for {args.method}. Save it (dabench space "
          f"{args.method} > my.yaml), edit it and pass it with --space my.yaml.")  # fmt: skip
    print(path.read_text(), end="")
    return 0
