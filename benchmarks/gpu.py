"""How much training throughput fractional-GPU trials get out of one GPU: 1, 2, 4 and 8 trials
side by side, in fp32, bf16 and bf16 with ``channels_last``.

Run (on a machine with a GPU):
      python benchmarks/gpu.py [--method dann] [--task digits/synth2blend] [--steps 3000]
          [--concurrency 1 2 4 8] [--variants fp32 bf16 bf16+channels_last]
          [--out reports/gpu.md]
On CPU (each trial on one core, up to the number of cores):
      python benchmarks/gpu.py --device cpu --concurrency 1 2 --steps 300 --out reports/gpu_cpu.md
Dry run (tiny, on CPU, for the tests): python benchmarks/gpu.py --dry-run --out /tmp/gpu.md

For each variant and each concurrency ``k``, one Ray Tune run of ``k`` identical trials (seeds
0…k−1) started together, each asking for ``1/k`` of the GPU (on CPU: one core) — as
``dabench sweep --gpus-per-trial 1/k --max-concurrent k`` runs them. Each trial is
:func:`dabench.trainable.run_trial` with one evaluation at the end; it reports its training
throughput ``samples_per_s`` (source + target samples per second of training time, evaluations
excluded). The aggregate is the sum over the ``k`` trials; the trials overlap only if they are
long against their start-up, so ``--steps`` must make each run for tens of seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
    "fp16": {"precision": "fp16"},
    "fp32+channels_last": {"channels_last": True},
}


def trial(config: dict) -> None:
    """One measured trial (a Ray Tune function trainable)."""
    import torch
    from ray import tune

    from dabench.trainable import run_trial

    threads = config.pop("threads")
    torch.set_num_threads(threads)
    final = run_trial(config)
    tune.report({"samples_per_s": final["samples_per_s"], "time_s": final["time_s"]})


def measure(args: argparse.Namespace, variant: str, k: int) -> list[float]:
    """Training samples/s of each of ``k`` trials run side by side."""
    from ray import tune

    gpu = args.device == "cuda"
    config = {
        "method": args.method, "task": args.task, "steps": args.steps,
        "eval_every": args.steps, "device": args.device, "seed": tune.grid_search(list(range(k))),
        "threads": 1, **VARIANTS[variant],
    }  # fmt: skip
    if args.batch_size:
        config["batch_size"] = args.batch_size
    resources = {"cpu": 1, "gpu": 1 / k} if gpu else {"cpu": 1}
    tuner = tune.Tuner(
        tune.with_resources(trial, resources),
        param_space=config,
        tune_config=tune.TuneConfig(max_concurrent_trials=k),
        run_config=tune.RunConfig(
            name=f"gpu-{variant}-{k}", storage_path=str(args.work), verbose=0
        ),
    )
    results = tuner.fit()
    if results.errors:
        raise RuntimeError(f"{variant} × {k}: {results.errors[0]}")
    return [r.metrics["samples_per_s"] for r in results]


def machine(device: str) -> str:
    import torch

    if device == "cuda":
        return f"{torch.cuda.device_count()}× {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}"


def write_report(args: argparse.Namespace, results: dict[tuple[str, int], list[float]]) -> str:
    kind = "CPU cores" if args.device == "cpu" else "one GPU"
    lines = [
        f"# Fractional trials on {kind}: aggregate training throughput",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/gpu.py {' '.join(sys.argv[1:])}` on {machine(args.device)}. "
        f"{args.method} on `{args.task}`, {args.steps} steps per trial"
        + (f", batch size {args.batch_size}" if args.batch_size else "")
        + ". Method: the docstring of `benchmarks/gpu.py`.",
        "",
    ]
    if args.dry_run:
        lines += ["**Dry run** (tiny trials on CPU, to test the script): these numbers measure "
                  "nothing.", ""]  # fmt: skip
    first = results[(args.variants[0], args.concurrency[0])]
    base = sum(first)
    header = ["trials side by side"] + [f"{v}: Σ samples/s (×)" for v in args.variants]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for k in args.concurrency:
        cells = [str(k)]
        for variant in args.variants:
            speeds = results[(variant, k)]
            cells.append(f"{sum(speeds):,.0f} ({sum(speeds) / base:.2f}×)")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"× : relative to {args.concurrency[0]} {args.variants[0]} trial(s). Per trial "
              "(median samples/s):", ""]  # fmt: skip
    lines += ["| " + " | ".join(["trials side by side", *args.variants]) + " |",
              "|---" * (len(args.variants) + 1) + "|"]  # fmt: skip
    for k in args.concurrency:
        lines.append("| " + " | ".join([str(k), *(
            f"{statistics.median(results[(v, k)]):,.0f}" for v in args.variants)]) + " |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    notes = ""  # a hand-written reading survives a rerun
    if args.out.is_file() and "\n## Reading" in args.out.read_text():
        notes = "\n## Reading" + args.out.read_text().split("\n## Reading", 1)[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + notes)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="dann")
    parser.add_argument("--task", default="digits/synth2blend")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        default=["fp32", "bf16", "bf16+channels_last"])  # fmt: skip
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="tiny trials on CPU")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dabench-gpu-benchmark"))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "gpu.md")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device, args.steps, args.concurrency = "cpu", 2, [1, 2]
        args.variants = ["bf16+channels_last"]
    import ray
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU here: run it on a GPU machine (or --device cpu, --dry-run)")
    if args.device == "cpu" and max(args.concurrency) > (os.cpu_count() or 1):
        parser.error(f"--concurrency {max(args.concurrency)} > {os.cpu_count()} CPU cores")
    args.work = args.work.resolve()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = not ray.is_initialized()
    if started:  # a private local cluster with every CPU and GPU of this machine
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
    try:
        results = {(v, k): measure(args, v, k) for v in args.variants for k in args.concurrency}
    finally:
        if started:
            ray.shutdown()
    print(write_report(args, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
