"""``dabench train``: one trial with a progress bar, its final metrics as a table or JSON; and
``dabench demo``: source-only and DANN on two moons."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dabench import demo
from dabench.cli import console
from dabench.data.registry import task_spec
from dabench.engine.options import parse_assignments
from dabench.task_settings import HEADLINE_METRIC
from dabench.trainable import CHECKPOINT_FILE, load_checkpoint, resolve_config, run_trial


def train_config(args: Any) -> dict[str, Any]:
    """The trial's config from the command line (``--set`` pairs, then the named options)."""
    config = parse_assignments(args.set or [])
    config.update(method=args.method, task=args.task)
    for key in ("seed", "steps", "eval_every", "device", "root"):
        value = getattr(args, key)
        if value is not None:
            config[key] = str(value) if isinstance(value, Path) else value
    return config


def run(args: Any) -> int:
    """Validate, train (resuming from ``--checkpoint-dir`` when it holds this trial), print."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        config = train_config(args)
        resolved = resolve_config(config)
        directory = args.checkpoint_dir
        resume = directory if directory and (directory / CHECKPOINT_FILE).is_file() else None
        start = load_checkpoint(resume, resolved)["step"] if resume else 0
    except ValueError as error:
        console.error("train", error)
        return 2
    setting_metric = f"target_val_{HEADLINE_METRIC[task_spec(resolved['task']).setting]}"
    if resume:
        err.print(f"resuming {directory} from step {start}", markup=False)
    if not args.quiet:
        err.print(f"{resolved['method']} on {resolved['task']}, seed {resolved['seed']}, "
                  f"{resolved['steps']} steps (oracle: {setting_metric})")  # fmt: skip
    progress = progress_bar(err, disable=args.quiet)
    with progress:
        bar = progress.add_task("train", total=resolved["steps"], completed=start, status="")

        def report(metrics: dict[str, Any]) -> None:
            status = status_text(metrics["train_loss"], metrics[setting_metric])
            progress.update(bar, completed=metrics["step"], status=status)

        try:
            final = run_trial(
                config, report, checkpoint_dir=directory, resume_from=resume,
                on_step=lambda step: progress.update(bar, completed=step), threads=args.threads,
            )  # fmt: skip
        except KeyboardInterrupt:
            progress.stop()
            hint = (
                f"; run the same command again to resume from {directory}"
                if directory
                else " (pass --checkpoint-dir to be able to resume)"
            )
            err.print(f"interrupted{hint}", markup=False)
            return 130
    if args.json:
        json.dump({"config": resolved, "metrics": final}, sys.stdout, indent=2, default=str)
        print()
    else:
        Console().print(metrics_table(final, resolved))
    return 0


def progress_bar(console: Console, disable: bool = False) -> Progress:
    """The training bar, one row that fits 80 columns: bar, steps done/total, elapsed and
    remaining time, the last evaluation's loss and oracle (:func:`status_text`; the method, task
    and oracle's name are printed above it once)."""
    columns = (
        BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("<"),
        TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
    )  # fmt: skip
    return Progress(*columns, console=console, disable=disable)


def status_text(loss: float, oracle: float) -> str:
    """The bar's status: ``loss 0.123  oracle 85.3``."""
    return f"loss {loss:.3f}  oracle {oracle:.1f}"


def metrics_table(metrics: dict[str, Any], config: dict[str, Any]) -> Table:
    """The final metrics, evaluation metrics first (target-test last is what a paper reports)."""
    table = Table(title=f"{config['method']} on {config['task']} (seed {config['seed']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    order = ("source_val", "target_val", "target_test")
    evaluation = [k for p in order for k in metrics if k.startswith(p)]
    for key in evaluation + [k for k in metrics if k not in evaluation]:
        value = metrics[key]
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


def run_demo(args: argparse.Namespace) -> None:
    """``dabench demo``: source-only and DANN on two moons → moons rotated 40°."""
    print(f"two moons → moons rotated 40°, {args.steps} steps, seed {args.seed}, {args.threads} "
          f"thread{'s' if args.threads > 1 else ''}")  # fmt: skip
    result = demo.run(steps=args.steps, seed=args.seed, threads=args.threads)
    print(f"target accuracy  source-only: {result.source_only:5.1f} %")
    print(f"target accuracy  DANN:        {result.dann:5.1f} %")
    print(f"({result.seconds:.1f} s)")
