"""Source-only, target-oracle and default-DANN results on every bundled task, over seeds.

Run:  python benchmarks/task_baselines.py [--seeds 3] [--out reports/tasks.md] [--tasks NAME ...] [--fresh]

Every finished run is appended to ``--raw`` (JSON lines) at once; a rerun skips the runs already
there (``--fresh`` starts over), so an interrupted benchmark loses nothing.

For each bundled task and each baseline method, ``run_trial`` trains with the method's reference
defaults for the task's step budget (``STEPS``) with seeds 0..n-1 (the generated data and splits are
fixed by ``data_seed=0``), and the final target-test metric is reported as mean ± std over seeds,
with the time per run. Segmentation has no DANN (its adversarial method is ADVENT).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import torch

from dabench import __version__
from dabench.data import get_task, list_tasks
from dabench.trainable import MAIN_METRIC, run_trial

STEPS = {"moons/rot40": 2000, "shapes/flat2textured": 1500}
DEFAULT_STEPS = 3000
METHODS = {"segmentation": ("source_only", "target_oracle")}
DEFAULT_METHODS = ("source_only", "target_oracle", "dann")
LABELS = {
    "source_only": "source only",
    "target_oracle": "target oracle (uses target labels)",
    "dann": "DANN (defaults)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", help="default: every bundled task")
    parser.add_argument("--out", type=Path, default=Path("reports/tasks.md"))
    parser.add_argument(
        "--raw", type=Path, default=Path("reports/tasks.jsonl"), help="one JSON line per run"
    )
    parser.add_argument("--fresh", action="store_true", help="ignore the runs already in --raw")
    args = parser.parse_args()
    names = args.tasks or [s.name for s in list_tasks() if not s.needs_root]

    args.raw.parent.mkdir(parents=True, exist_ok=True)
    runs = (
        []
        if args.fresh or not args.raw.exists()
        else [json.loads(line) for line in args.raw.open()]
    )
    done = {(r["task"], r["method"], r["seed"]) for r in runs}
    with args.raw.open("w" if args.fresh else "a") as raw:
        for name in names:
            task = get_task(name, seed=0)
            metric = f"target_test_{MAIN_METRIC[task.setting]}"
            for method in METHODS.get(task.setting, DEFAULT_METHODS):
                for seed in range(args.seeds):
                    if (name, method, seed) in done:
                        continue
                    config = {
                        "method": method,
                        "task": name,
                        "seed": seed,
                        "steps": STEPS.get(name, DEFAULT_STEPS),
                    }
                    config["eval_every"] = config["steps"]
                    final = run_trial(config)
                    run = {"task": name, "method": method, "seed": seed, "metric": metric,
                           "value": final[metric], "time_s": final["time_s"],
                           "steps": config["steps"], "final": final}  # fmt: skip
                    raw.write(json.dumps(run) + "\n")
                    raw.flush()
                    runs.append(run)
                    print(
                        f"{name:28s} {method:14s} seed {seed}: {metric} = {final[metric]:.2f} "
                        f"({final['time_s']:.0f} s)",
                        flush=True,
                    )
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


def write_report(args: argparse.Namespace, names: list[str], runs: list[dict]) -> None:
    rows = []
    for name in names:
        task_runs = [r for r in runs if r["task"] == name]
        task = get_task(name, seed=0)
        sizes = task.sizes()
        for method in dict.fromkeys(r["method"] for r in task_runs):
            values = [r["value"] for r in task_runs if r["method"] == method]
            times = [r["time_s"] for r in task_runs if r["method"] == method]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            rows.append(
                f"| {name} | {task_runs[0]['metric'].removeprefix('target_test_')} | {LABELS[method]} | "
                f"{statistics.mean(values):.1f} ± {spread:.1f} | {', '.join(f'{v:.1f}' for v in values)} | "
                f"{statistics.median(times):.0f} | {task_runs[0]['steps']} |"
            )
        rows.append(
            f"| | | *splits: {sizes['source_train']}/{sizes['source_val']} source, "
            f"{sizes['target_adapt']}/{sizes['target_val']}/{sizes['target_test']} target; "
            f"generated in {fresh_build_seconds(name):.1f} s (new process, empty cache)* | | | | |"
        )
    command = "python " + " ".join([sys.argv[0], *sys.argv[1:]])
    args.out.write_text(f"""# Bundled tasks: what the baselines reach

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`
(dabench {__version__}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads,
{platform.machine()}).
Raw runs: `{args.raw}`.

Each cell: the target-**test** metric (accuracy %, H-score % for open-set, mIoU % for segmentation)
after the last step, mean ± sample std over {args.seeds} seeds (training seed; data and splits fixed by
`data_seed=0`), with the reference defaults of each method (SGD lr 0.01, momentum 0.9, weight decay
1e-3, batch 32 + 32, inverse-decay schedule, 256-d bottleneck, DANN discriminator 1024 wide with the
warm-start GRL). The last checkpoint is reported: no selection on target labels. The target oracle
trains on the labelled target-adapt split and is an upper reference, not an adaptation result.

| task | metric | method | mean ± std | per seed | s / run | steps |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
""")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
