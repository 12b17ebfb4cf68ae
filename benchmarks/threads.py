"""How many torch threads a trial should use: samples/s of one trial with 1 and 2 threads, on a
quiet machine and on one whose cores are all busy with other work.

Run:  python benchmarks/threads.py [--rounds 2] [--out reports/threads.md]

Two workloads, each DANN at its defaults: ``demo`` (the MLP of ``dabench demo`` on moons/rot40,
300 steps) and ``digits`` (the LeNet-style CNN on digits/synth2hand, 80 steps). Each
measurement is one fresh process that sets ``torch.set_num_threads(n)`` and runs
:func:`dabench.trainable.run_trial`; the figure is the trial's own ``samples_per_s`` (training
time only). *Loaded* means one busy-looping process per core runs beside it for the whole
measurement (what a second trial or a test suite does to a shared machine). Thread counts
alternate within each round; the report gives medians over ``--rounds`` rounds and the median
of the per-round ratios, and whether the final metrics of 1 and 2 threads are identical.
``dabench demo`` itself (2 × 2,000 steps, ``--threads n``) is timed once per thread count on
the quiet and on the loaded machine: the time it advertises.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

WORKLOADS = {
    "demo": {"method": "dann", "task": "moons/rot40", "steps": 300, "eval_every": 300},
    "digits": {"method": "dann", "task": "digits/synth2hand", "steps": 80, "eval_every": 80},
}
THREADS = (1, 2)


def one(workload: str, threads: int) -> None:
    """In a fresh process: one trial of ``workload`` on ``threads`` threads; print its result."""
    from dabench.trainable import run_trial

    final = run_trial(WORKLOADS[workload], threads=threads)
    print(json.dumps({"samples_per_s": final["samples_per_s"],
                      "target_test_acc": final["target_test_acc"]}))  # fmt: skip


def burn() -> None:
    while True:
        pass


def measure(workload: str, threads: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--one", workload, str(threads)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def demo_seconds(threads: int) -> float:
    command = [sys.executable, "-c", "import sys; from dabench.demo import run; "
               "print(run(threads=int(sys.argv[1])).seconds)", str(threads)]  # fmt: skip
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/threads.md"))
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], int(args.one[1]))
        return
    started = time.perf_counter()
    results: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    demo: dict[tuple[str, int], float] = {}
    for load in ("quiet", "loaded"):
        burners = []
        if load == "loaded":
            burners = [multiprocessing.Process(target=burn, daemon=True)
                       for _ in range(os.cpu_count() or 1)]  # fmt: skip
            for burner in burners:
                burner.start()
        try:
            for r in range(args.rounds):
                for workload in WORKLOADS:
                    order = THREADS if r % 2 == 0 else THREADS[::-1]
                    for threads in order:
                        result = measure(workload, threads)
                        results.setdefault((workload, load, threads), []).append(result)
                        print(workload, load, threads, result, flush=True)
            for threads in THREADS:
                demo[(load, threads)] = demo_seconds(threads)
                print("dabench demo", load, threads, demo[(load, threads)], flush=True)
        finally:
            for burner in burners:
                burner.kill()
                burner.join()

    rows = []
    for workload in WORKLOADS:
        for load in ("quiet", "loaded"):
            one_t, two_t = (results[(workload, load, t)] for t in THREADS)
            speed = [statistics.median(x["samples_per_s"] for x in runs) for runs in (one_t, two_t)]
            ratio = statistics.median(a["samples_per_s"] / b["samples_per_s"]
                                      for a, b in zip(one_t, two_t, strict=True))  # fmt: skip
            same = all(a["target_test_acc"] == b["target_test_acc"]
                       for a, b in zip(one_t, two_t, strict=True))  # fmt: skip
            accs = sorted({x["target_test_acc"] for x in one_t + two_t})
            rows.append(f"| {workload} | {load} | {speed[0]:,.0f} | {speed[1]:,.0f} | "
                        f"{ratio:.2f}× | {'yes' if same else 'no'} "
                        f"({', '.join(f'{a:.2f}' for a in accs)}) |")  # fmt: skip
    command = "python benchmarks/threads.py " + " ".join(sys.argv[1:])
    import torch

    from dabench import __version__

    args.out.write_text(f"""# Torch threads per trial

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command.strip()}` in
{time.perf_counter() - started:.0f} s (dabench {__version__}, torch {torch.__version__}, Python
{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}).

Samples per second of training (the trial's own `samples_per_s`; medians of {args.rounds} rounds,
thread counts alternating). *Loaded*: one busy-looping process per core beside the trial.
*1 / 2 threads* is the median of the per-round ratios. *Same result*: whether the final
target-test accuracy of 1 and 2 threads is identical in every round (the values seen).

| workload | machine | 1 thread | 2 threads | 1 / 2 threads | same result |
|---|---|---:|---:|---:|---|
{chr(10).join(rows)}

`dabench demo --threads n` (2 × 2,000 steps), once each:

| machine | 1 thread | 2 threads |
|---|---:|---:|
| quiet | {demo[("quiet", 1)]:.1f} s | {demo[("quiet", 2)]:.1f} s |
| loaded | {demo[("loaded", 1)]:.1f} s | {demo[("loaded", 2)]:.1f} s |
""")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
