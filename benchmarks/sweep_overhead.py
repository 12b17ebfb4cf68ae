"""What Ray Tune costs per trial, and what running two trials side by side gains, on this machine.

Run:  python benchmarks/sweep_overhead.py [--trials 16] [--real-trials 6] [--steps 300]
                                          [--rounds 3] [--out reports/sweep_overhead.md]

Part 1, per-trial overhead. Near-zero-work trials (DANN on ``moons/rot40``: 1 training step and
1 evaluation each) run (a) as ``dabench`` sweeps — Ray Tune, Optuna TPE, MLflow child runs, Tune
checkpoints — one trial at a time, of ``--trials``/4 and of ``--trials`` trials, and (b) as a
plain Python loop of :func:`dabench.trainable.run_trial` over the *same* ``--trials``
configurations (read back from the sweep's MLflow runs) in this process, on 1 thread as each
trial has. The slope between the two sweep sizes minus the loop's time per trial is the overhead
per trial; the intercept is the fixed cost per sweep. Starting the local Ray cluster is timed
separately.

Part 2, concurrency. ``--real-trials`` trials of ``--steps`` steps each (the same seeded
configurations every time) as a sweep with one trial at a time on 1 CPU, one at a time on 2
CPUs (2 torch threads), and two at a time on 1 CPU each (``--max-concurrent 2``).

Variants alternate within each round; the report gives per-round numbers, their medians and
the medians of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from dabench import __version__
from dabench.engine.cluster import init_ray
from dabench.engine.options import SweepOptions
from dabench.engine.sweep import run_sweep
from dabench.records import readers
from dabench.trainable import run_trial

TASK = "moons/rot40"


def sweep(directory: Path, name: str, **changes) -> tuple[float, list[dict]]:
    """Wall seconds of one sweep, and the trial configurations it ran."""
    from mlflow.tracking import MlflowClient

    options = SweepOptions(
        method="dann", task=TASK, scheduler="none", storage=str(directory / "ray"),
        tracking_uri=f"sqlite:///{directory / 'mlflow.db'}", experiment=name, name=name,
        **changes,
    )  # fmt: skip
    start = time.perf_counter()
    summary = run_sweep(options)
    wall = time.perf_counter() - start
    assert summary.counts["completed"] == options.num_samples, summary.counts
    client = MlflowClient(options.tracking_uri)
    experiment = client.get_experiment_by_name(name).experiment_id
    runs = readers.children(client, experiment, summary.parent_run_id)
    configs = [json.loads(r.data.tags["searched"]) for r in runs]
    return wall, configs


def plain_loop(configs: list[dict], steps: int) -> float:
    torch.set_num_threads(1)  # as each sweep trial on 1 CPU
    start = time.perf_counter()
    for config in configs:
        run_trial({"method": "dann", "task": TASK, "steps": steps, "eval_every": steps, **config})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--real-trials", type=int, default=6)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/sweep_overhead.md"))
    args = parser.parse_args()

    start = time.perf_counter()
    init_ray(None)
    ray_start = time.perf_counter() - start
    overhead, concurrency = [], []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        sweep(directory, "warm-up", num_samples=1, steps=1, eval_every=1)  # first-use costs
        for r in range(args.rounds):
            tiny = {"steps": 1, "eval_every": 1, "max_concurrent": 1}
            small_s = sweep(directory, f"tiny-{r}-small", num_samples=args.trials // 4, **tiny)[0]
            sweep_s, configs = sweep(directory, f"tiny-{r}", num_samples=args.trials, **tiny)
            loop_s = plain_loop(configs, steps=1)
            slope = (sweep_s - small_s) / (args.trials - args.trials // 4)
            overhead.append({
                "small_s": small_s, "sweep_s": sweep_s, "loop_s": loop_s,
                "per_trial_s": slope - loop_s / args.trials,
                "per_sweep_s": small_s - slope * (args.trials // 4),
            })  # fmt: skip
            print(f"round {r}: overhead {overhead[-1]}", flush=True)
            real = {"num_samples": args.real_trials, "steps": args.steps, "eval_every": args.steps}
            walls = {}
            for label, changes in (
                ("1 at a time, 1 CPU", {"max_concurrent": 1, "cpus_per_trial": 1}),
                ("1 at a time, 2 CPUs", {"max_concurrent": 1, "cpus_per_trial": 2}),
                ("2 at a time, 1 CPU each", {"max_concurrent": 2, "cpus_per_trial": 1}),
            ):
                name = f"real-{r}-{changes['max_concurrent']}-{changes['cpus_per_trial']}"
                walls[label] = sweep(directory, name, **real, **changes)[0]
            concurrency.append(walls)
            print(f"round {r}: concurrency {walls}", flush=True)
    write_report(args, ray_start, overhead, concurrency)


def write_report(args, ray_start: float, overhead: list[dict], concurrency: list[dict]) -> None:
    median = statistics.median
    lines = [
        "# Ray Tune's cost per trial, and two trials side by side",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python {' '.join(sys.argv)}`",
        f"(dabench {__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}). Method: the docstring of "
        "`benchmarks/sweep_overhead.py`.",
        "",
        f"Starting the local Ray cluster (`ray.init`, once per sweep process): {ray_start:.1f} s.",
        "",
        f"## Per-trial overhead (trials of 1 step + 1 evaluation, DANN on `{TASK}`)",
        "",
        f"| round | sweep of {args.trials // 4}, s | sweep of {args.trials}, s | plain loop of "
        f"{args.trials}, s | per trial: sweep − loop, s | per sweep: fixed, s |",
        "|---|---|---|---|---|---|",
    ]
    for r, o in enumerate(overhead):
        lines.append(f"| {r} | {o['small_s']:.1f} | {o['sweep_s']:.1f} | {o['loop_s']:.1f} | "
                     f"{o['per_trial_s']:.2f} | {o['per_sweep_s']:.1f} |")  # fmt: skip
    per_trial = median(o["per_trial_s"] for o in overhead)
    lines += [
        "",
        f"**Median: a sweep costs {median(o['per_sweep_s'] for o in overhead):.1f} s to start "
        f"and finish, plus {per_trial:.2f} s per trial more than a plain loop** (which needs "
        f"{median(o['loop_s'] for o in overhead) / args.trials:.3f} s per trial). Per trial: the "
        "slope between the two sweep sizes, minus the loop's time per trial. Per sweep: the "
        "intercept — the parent MLflow run, Tune's setup, the first trial actor's start and its "
        "imports of torch, MLflow and dabench (the actor is reused for later trials), and "
        "shutting the actors down. Per trial it covers Tune's scheduling, the Optuna "
        "suggestion, the trial's MLflow child run (create, params, metrics, status) and the Tune "
        "checkpoint.",
        "",
        f"## Concurrency ({args.real_trials} trials of {args.steps} steps, DANN on `{TASK}`)",
        "",
    ]
    labels = list(concurrency[0])
    lines += ["| round | " + " | ".join(f"{label}, s" for label in labels) + " |",
              "|---" * (len(labels) + 1) + "|"]  # fmt: skip
    for r, walls in enumerate(concurrency):
        lines.append(f"| {r} | " + " | ".join(f"{walls[k]:.1f}" for k in labels) + " |")
    two = labels[2]
    ratios = {k: median(w[k] / w[two] for w in concurrency) for k in labels[:2]}
    lines += [
        "",
        f"**`--max-concurrent 2` on 2 cores: {ratios[labels[0]]:.2f}× faster than one trial "
        f"at a time on 1 CPU, {ratios[labels[1]]:.2f}× faster than one trial at a time on 2 CPUs** "
        "(medians of the per-round wall-time ratios).",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    notes = ""  # a hand-written reading of the numbers survives a rerun
    if args.out.exists() and "\n## Reading the results" in args.out.read_text():
        notes = (
            "\n## Reading the results" + args.out.read_text().split("\n## Reading the results")[1]
        )
    args.out.write_text("\n".join(lines) + notes)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
