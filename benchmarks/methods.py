"""Every method at its defaults on every bundled task, over seeds → reports/methods.md.

Run:  python benchmarks/methods.py [--seeds 3] [--tasks NAME ...] [--methods NAME ...] [--jobs 2]
                                   [--report-only]

For each bundled task, each method registered for the task's setting (source-only and the target
oracle included) trains with ``run_trial`` at its defaults — those of the task's model family,
``scratch`` for every bundled task (``dabench methods``) — for the task's step budget (``STEPS``),
with training seeds 0..n-1 (data and splits fixed by ``data_seed=0``), ``--jobs`` runs at a time on
one thread each. The final target-test metric is reported as mean ± sample std over seeds, with
the time per run. The last step is reported: nothing is selected on target labels.

Every finished run is appended to ``--raw`` (JSON lines) at once with its resolved config, and a
rerun skips the runs already there whose config still resolves the same (a run made under other
defaults is run again), so an interrupted benchmark loses nothing. Seeds are the outer loop: an
interrupted run still has every (task, method) at the first seeds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import torch
from recipes import load_runs, run_pending

from dabench import __version__
from dabench.data import get_task, list_tasks
from dabench.data.registry import task_spec
from dabench.methods import METHODS
from dabench.trainable import MAIN_METRIC, resolve_config

STEPS = {"moons/rot40": 2000, "shapes/flat2textured": 1000}
DEFAULT_STEPS = 1500
ORDER = ("source_only", "dann", "cdan", "adda", "bsp", "osbp", "pada", "iwan", "advent")
ORACLE = "target_oracle"
NOTES = "## Reading the results"
SECONDARY = {"open_set": ("os_star", "unk"), "segmentation": ("pixel_acc",)}


def methods_for(setting: str) -> list[str]:
    names = [m for m in ORDER if setting in METHODS[m].settings]
    return [*names, ORACLE]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", help="default: every bundled task")
    parser.add_argument("--methods", nargs="*", help="default: every method of the task's setting")
    parser.add_argument("--out", type=Path, default=Path("reports/methods.md"))
    parser.add_argument("--raw", type=Path, default=Path("reports/methods.jsonl"))
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    parser.add_argument(
        "--report-only", action="store_true", help="write the report from --raw, run nothing"
    )
    args = parser.parse_args()
    names = args.tasks or [s.name for s in list_tasks() if not s.needs_root]

    records = load_runs(args.raw)
    configs = [
        {"method": method, "task": name, "seed": seed, "steps": STEPS.get(name, DEFAULT_STEPS),
         "eval_every": STEPS.get(name, DEFAULT_STEPS)}
        for seed in range(args.seeds) for name in names
        for method in methods_for(task_spec(name).setting)
        if not args.methods or method in args.methods
    ]  # fmt: skip
    if not args.report_only:
        run_pending(configs, args.raw, args.jobs, records)
    runs = [
        {**r["config"], "setting": task_spec(r["config"]["task"]).setting, "final": r["final"],
         "wall_s": r["wall_s"], "reused_from": r.get("reused_from")}
        for r in records.values() if "error" not in r
    ]  # fmt: skip
    order = [s.name for s in list_tasks()]
    write_report(args, sorted({r["task"] for r in runs}, key=order.index), runs)


def fresh_build_seconds(name: str) -> float:
    """Seconds to generate the task in a new process with an empty cache (imports excluded)."""
    code = "import time; from dabench.data import get_task; t = time.perf_counter(); "
    code += f"get_task({name!r}, seed=0); print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "DABENCH_CACHE": cache}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    return float(out.stdout.strip().splitlines()[-1])


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.1f} ± {spread:.1f}"


def write_report(args: argparse.Namespace, names: list[str], runs: list[dict]) -> None:
    sections, matrix = [], {}
    for name in names:
        task = get_task(name, seed=0)
        sizes, setting = task.sizes(), task.setting
        main, extra = MAIN_METRIC[setting], SECONDARY.get(setting, ())
        header = ["method", f"{main} mean ± std", "per seed", *extra, "s / run", "key defaults"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in methods_for(setting):
            chosen = sorted((r for r in runs if (r["task"], r["method"]) == (name, method)),
                            key=lambda r: r["seed"])  # fmt: skip
            if not chosen:
                continue
            values = [r["final"][f"target_test_{main}"] for r in chosen]
            matrix[method, name] = mean_std(values) + ("" if len(values) == args.seeds else "*")
            cells = [
                f"**{method}**" if method != ORACLE else f"{method} (uses target labels)",
                mean_std(values),
                ", ".join(f"{v:.1f}" for v in values),
                *(mean_std([r["final"][f"target_test_{k}"] for r in chosen]) for k in extra),
                f"{statistics.median(r['wall_s'] for r in chosen):.0f}",
                key_defaults(method, name),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        reused = sorted({f"{r['method']} seed {r['seed']}" for r in runs
                         if r["task"] == name and r.get("reused_from")})  # fmt: skip
        notes = {r["reused_from"] for r in runs if r["task"] == name and r.get("reused_from")}
        sections.append(
            f"### {name} ({setting}, {chosen[0]['steps']} steps)\n\n"
            f"{task.description}. Splits: {sizes['source_train']}/{sizes['source_val']} source "
            f"train/val, {sizes['target_adapt']}/{sizes['target_val']}/{sizes['target_test']} "
            f"target adapt/val/test; generated in {fresh_build_seconds(name):.1f} s.\n\n"
            + "\n".join(lines)
            + (
                f"\n\nRuns reused from an earlier benchmark ({'; '.join(sorted(notes))}): "
                f"{', '.join(reused)}."
                if reused
                else ""
            )
        )
    methods = [m for m in (*ORDER, ORACLE) if any(k[0] == m for k in matrix)]
    overview = ["| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for method in methods:
        overview.append(
            f"| {method} | " + " | ".join(matrix.get((method, n), "–") for n in names) + " |"
        )
    command = "python " + " ".join([sys.argv[0], *sys.argv[1:]])
    notes = ""  # the hand-written reading of the results survives a regeneration
    if args.out.exists() and NOTES in (previous := args.out.read_text()):
        notes = previous[previous.index(NOTES) :]
    args.out.write_text(f"""# Methods at their defaults on the bundled tasks

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`
(dabench {__version__}, torch {torch.__version__}, one CPU thread per run, {args.jobs} runs at a
time, {platform.machine()}). Raw runs, with every final metric and the resolved config:
`{args.raw}`.

Each cell: the target-**test** metric after the last step (accuracy % for closed-set and partial,
H-score % for open-set, mIoU % for segmentation), mean ± sample std over {args.seeds} training
seeds (data and splits fixed by `data_seed=0`); `*` marks a cell with fewer seeds. No checkpoint or
hyperparameter is selected on target labels: these are the defaults of the `scratch` model family
(every bundled task trains a small network from scratch): the reference's from-scratch digit
recipe where it has one, and measured departures (`dabench methods`, `reports/recipes.md`). The
target oracle trains on the labelled target-adapt split: an upper reference, not an adaptation
result. `s / run`: median wall seconds of a run, evaluations included.

## Overview

{chr(10).join(overview)}

## Per task

{(chr(10) * 2).join(sections)}

{notes}""")
    print(f"wrote {args.out}")


def key_defaults(method: str, task: str) -> str:
    """The hyperparameters that set a method apart, as resolved for the task."""
    keys = {
        "dann": ("lr", "trade_off"),
        "cdan": ("lr", "trade_off", "randomized"),
        "adda": ("lr", "pretrain_lr", "grl_hi", "pretrain_fraction"),
        "bsp": ("lr", "trade_off_bsp", "adversary", "pretrain_fraction"),
        "osbp": ("lr", "weight_decay", "osbp_t"),
        "pada": ("lr", "batch_size", "temperature", "class_weight_updates"),
        "iwan": ("lr", "batch_size", "trade_off", "trade_off_entropy"),
        "advent": ("lr", "lr_d", "trade_off"),
    }.get(method, ("lr", "lr_schedule"))
    config = resolve_config({"method": method, "task": task})
    return ", ".join(f"{k} {config[k]:.3g}" if isinstance(config[k], float) else f"{k} {config[k]}"
                     for k in keys)  # fmt: skip


if __name__ == "__main__":
    main()
