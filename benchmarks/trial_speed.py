"""Memory layout and precision of a trial on the CPU: how much faster, and what they change.

Run:  python benchmarks/trial_speed.py [--rounds 3] [--seeds 3] [--threads 1]
          [--out reports/trial_speed.md]

**Speed.** Each workload trains at its method's defaults with each variant — ``fp32``,
``channels_last`` (the modules' 4-D weights in NHWC layout), ``bf16`` (the task model's forward
under bf16 autocast) and both — on ``--threads`` torch threads (a sweep's trial gets one per CPU),
each run in a fresh process; the figure is the trial's own ``samples_per_s`` (training time only).
The variants alternate within each round (the order reversed every other round); the report
gives the median samples/s and the median of the per-round ratios to ``fp32`` — robust to a
shared machine's noise, which hits both sides of a ratio alike.

Workloads: the leaderboard's digits trial (DANN, LeNet, ``digits/mnist2uci``), the segmentation
trial (source-only, the small FCN, ``shapes/flat2textured``) and, as a control without any 4-D
weight, the moons MLP (DANN, ``moons/rot40``).

**Numbers.** DANN on ``digits/mnist2uci`` at the leaderboard's protocol (1,500 steps, an
evaluation every 250) with seeds ``0 … --seeds-1`` in each variant: the final target-test
accuracy per seed, and its difference to ``fp32`` — ``channels_last`` changes only the order
of floating-point sums, ``bf16`` the precision of the model's forward.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

VARIANTS = {  # each spelt out in full: the defaults may be any of them
    "fp32": {"precision": "fp32", "channels_last": False},
    "channels_last": {"precision": "fp32", "channels_last": True},
    "bf16": {"precision": "bf16", "channels_last": False},
    "bf16 + channels_last": {"precision": "bf16", "channels_last": True},
}
WORKLOADS = {
    "digits (LeNet, DANN)": {"method": "dann", "task": "digits/mnist2uci", "steps": 300},
    "segmentation (small FCN, source-only)": {"method": "source_only",
                                              "task": "shapes/flat2textured", "steps": 40},
    "moons (MLP, DANN; no 4-D weights)": {"method": "dann", "task": "moons/rot40", "steps": 600},
}  # fmt: skip
NUMBERS = {"method": "dann", "task": "digits/mnist2uci", "steps": 1500, "eval_every": 250}


def child(config: dict, threads: int) -> None:
    """In a fresh process: one trial; print its speed and final target-test metric."""
    from dabench.trainable import run_trial

    final = run_trial(config, threads=threads)
    test = next(k for k in ("target_test_acc", "target_test_miou") if k in final)
    print(json.dumps({"samples_per_s": final["samples_per_s"], "test": final[test]}))


def measure(config: dict, threads: int) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps(config), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("reports/trial_speed.md"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child), args.threads)
        return
    started = time.perf_counter()
    speed: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for workload, base in WORKLOADS.items():
            order = list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]
            for variant in order:
                config = {**base, "eval_every": base["steps"], **VARIANTS[variant]}
                result = measure(config, args.threads)
                speed.setdefault((workload, variant), []).append(result["samples_per_s"])
                print(r, workload, variant, f"{result['samples_per_s']:.0f}", flush=True)
    speed_s = time.perf_counter() - started
    numbers: dict[tuple[str, int], float] = {}
    for seed in range(args.seeds):
        for variant in VARIANTS:
            result = measure({**NUMBERS, "seed": seed, **VARIANTS[variant]}, args.threads)
            numbers[(variant, seed)] = result["test"]
            print("seed", seed, variant, f"{result['test']:.2f}", flush=True)

    import torch

    from dabench import __version__

    rows = []
    for workload in WORKLOADS:
        base = speed[(workload, "fp32")]
        cells = []
        for variant in VARIANTS:
            runs = speed[(workload, variant)]
            ratio = statistics.median(v / b for v, b in zip(runs, base, strict=True))
            cells.append(f"{statistics.median(runs):,.0f} ({ratio:.2f}×)")
        rows.append(f"| {workload} | " + " | ".join(cells) + " |")
    seeds = range(args.seeds)
    accuracy = []
    for variant in VARIANTS:
        values = [numbers[(variant, s)] for s in seeds]
        deltas = [numbers[(variant, s)] - numbers[("fp32", s)] for s in seeds]
        accuracy.append(f"| {variant} | " + " | ".join(f"{v:.2f}" for v in values)
                        + f" | {statistics.mean(values):.2f} | "
                        + ", ".join(f"{d:+.2f}" for d in deltas) + " |")  # fmt: skip
    command = "python benchmarks/trial_speed.py " + " ".join(sys.argv[1:])
    args.out.write_text(f"""# Memory layout and precision of a trial on the CPU

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command.strip()}` in
{time.perf_counter() - started:.0f} s (speed {speed_s:.0f} s); dabench {__version__}, torch
{torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores,
{platform.machine()}, {args.threads} torch thread(s) per trial. Method: the docstring of
`benchmarks/trial_speed.py`.

Training samples/s, median of {args.rounds} rounds (× : median of the per-round ratios to fp32):

| workload | {" | ".join(VARIANTS)} |
|---|{"---:|" * len(VARIANTS)}
{chr(10).join(rows)}

DANN on `digits/mnist2uci`, {NUMBERS["steps"]:,} steps: final target-test accuracy (%) per seed,
and the difference to fp32 per seed:

| variant | {" | ".join(f"seed {s}" for s in seeds)} | mean | − fp32 |
|---|{"---:|" * args.seeds}---:|---|
{chr(10).join(accuracy)}
""")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
