"""A GPU's readiness for the real-data benchmarks: one real-data-shaped trial (what a trial of
the ``office31`` spec costs per step), and how much training throughput fractional-GPU trials
get out of one GPU: 1, 2, 4 and 8 trials side by side, in fp32, bf16 and bf16 with
``channels_last``.

Run (on a machine with a GPU):
      python benchmarks/gpu.py [--parts real fractional] [--real-steps 200] [--workers 8]
          [--method dann] [--task digits/synth2blend] [--steps 3000]
          [--concurrency 1 2 4 8] [--variants fp32 bf16 bf16+channels_last]
          [--out reports/gpu.md]
On CPU (each trial on one core, up to the number of cores):
      python benchmarks/gpu.py --device cpu --parts fractional --concurrency 1 2 --steps 300 \
          --out reports/gpu_cpu.md
Dry run (tiny, on CPU, for the tests): python benchmarks/gpu.py --dry-run --out /tmp/gpu.md

**The real-data-shaped trial** (``--parts real``): DANN on ``office31/D2W`` as the ``office31``
spec trains it — ResNet-50, 224×224 crops through the real image-list loaders and transforms,
batch 32 + 32, SGD — on a synthetic tree in Office-31's layout with the reference's 498 and 795
images (300×300 JPEGs of noise, written under ``--work``), with random initial weights (a GPU
machine may have no network for ImageNet's), ``--workers`` data-loading processes,
``--real-steps`` steps and one evaluation at the end, once per variant, in this process. It
reports the seconds per training step (``2 × batch / samples_per_s``: the loop's own clock,
evaluations excluded), the evaluation's seconds and the peak GPU memory; a spec's cost is
its trial-steps (``docs/real-data.md``) times the seconds per step.

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
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # each spelt out in full: the defaults may be any of them
    "fp32": {"precision": "fp32", "channels_last": False},
    "bf16": {"precision": "bf16", "channels_last": False},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
    "fp16": {"precision": "fp16", "channels_last": False},
    "fp32+channels_last": {"precision": "fp32", "channels_last": True},
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


REAL_TASK = "office31/D2W"


def real_data_tree(root: Path, size: int) -> Path:
    """Office-31's dslr and webcam under ``root`` in the reference's layout, with as many images
    as its lists (498, 795), spread over the 31 classes: ``size``×``size`` JPEGs of noise."""
    import numpy as np
    from PIL import Image

    from dabench.catalog.datasets import DATASETS

    office31 = DATASETS["office31"]
    rng = np.random.default_rng(0)
    for name in ("dslr", "webcam"):
        domain = next(d for d in office31.domains if d.name == name)
        ((list_file, count),) = zip(domain.lists, domain.sizes, strict=True)
        if (root / list_file).is_file():
            continue
        lines = []
        for i in range(count):
            label = i % len(office31.classes)
            rel = f"{name}/images/{office31.classes[label]}/frame_{i:04d}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / rel, quality=90)
            lines.append(f"{rel} {label}\n")
        (root / list_file).parent.mkdir(parents=True, exist_ok=True)
        (root / list_file).write_text("".join(lines))
    return root


def real_trial(args: argparse.Namespace, variant: str, root: Path) -> dict:
    """One real-data-shaped trial (see the module doc) in this process: seconds per training
    step, training samples/s, evaluation seconds and images, peak GPU memory, wall time."""
    import torch

    from dabench.data import get_task
    from dabench.trainable import run_trial

    config = {
        "method": "dann", "task": REAL_TASK, "root": str(root), "steps": args.real_steps,
        "eval_every": args.real_steps, "device": args.device, "pretrained": False,
        "batch_size": args.real_batch, "eval_batch_size": 128, "num_workers": args.workers,
        "image_size": args.image_size, **VARIANTS[variant],
    }  # fmt: skip
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    final = run_trial(config)
    wall = time.perf_counter() - start
    per_step = 2 * args.real_batch / final["samples_per_s"]
    task = get_task(REAL_TASK, root)
    evaluated = sum(len(task.splits[s]) for s in ("source_val", "target_val", "target_test"))
    return {
        "s_per_step": per_step, "samples_per_s": final["samples_per_s"],
        "eval_s": final["time_s"] - args.real_steps * per_step, "evaluated": evaluated,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None,
        "wall_s": wall,
    }  # fmt: skip


def machine(device: str) -> str:
    import torch

    if device == "cuda":
        return f"{torch.cuda.device_count()}× {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}"


def write_report(args: argparse.Namespace, results: dict[tuple[str, int], list[float]],
                 real: dict[str, dict]) -> str:  # fmt: skip
    kind = "CPU cores" if args.device == "cpu" else "one GPU"
    title = "A real-data-shaped trial and fractional trials" if real else "Fractional trials"
    lines = [
        f"# {title} on {kind}",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/gpu.py {' '.join(sys.argv[1:])}` on {machine(args.device)}. "
        "Method: the docstring of `benchmarks/gpu.py`.",
        "",
    ]
    if args.dry_run:
        lines += ["**Dry run** (tiny trials on CPU, to test the script): these numbers measure "
                  "nothing.", ""]  # fmt: skip
    if real:
        lines += real_lines(args, real)
    if results:
        lines += fractional_lines(args, results)
    text = "\n".join(lines) + "\n"
    notes = ""  # a hand-written reading survives a rerun
    if args.out.is_file() and "\n## Reading" in args.out.read_text():
        notes = "\n## Reading" + args.out.read_text().split("\n## Reading", 1)[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + notes)
    return text


def real_lines(args: argparse.Namespace, real: dict[str, dict]) -> list[str]:
    """The real-data-shaped trial's section: one row per variant."""
    first = next(iter(real.values()))
    lines = [
        "## One real-data-shaped trial", "",
        f"DANN on `{REAL_TASK}` as the `office31` spec trains it: ResNet-50 (random initial "
        f"weights), {args.image_size}×{args.image_size} crops of synthetic JPEGs through the real "
        f"loaders and transforms, batch {args.real_batch} + {args.real_batch}, {args.workers} "
        f"data-loading workers, {args.real_steps} steps, then one evaluation of "
        f"{first['evaluated']:,} images.",
        "",
        "| variant | s per training step | training samples/s | evaluation (s) | "
        "peak GPU memory (GiB) | wall (s) |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for variant, r in real.items():
        peak = "–" if r["peak_gib"] is None else f"{r['peak_gib']:.1f}"
        lines.append(f"| {variant} | {r['s_per_step']:.3f} | {r['samples_per_s']:,.0f} | "
                     f"{r['eval_s']:.1f} | {peak} | {r['wall_s']:.0f} |")  # fmt: skip
    return [*lines, ""]


def fractional_lines(args: argparse.Namespace, results: dict[tuple[str, int], list[float]]
                     ) -> list[str]:  # fmt: skip
    """The fractional trials' section: aggregate and per-trial throughput."""
    lines = [
        "## Fractional trials: aggregate training throughput", "",
        f"{args.method} on `{args.task}`, {args.steps} steps per trial"
        + (f", batch size {args.batch_size}" if args.batch_size else "") + ".", "",
    ]  # fmt: skip
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
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=("real", "fractional"),
                        default=["real", "fractional"], help="what to measure")  # fmt: skip
    parser.add_argument("--real-steps", type=int, default=200,
                        help="steps of the real-data-shaped trial")  # fmt: skip
    parser.add_argument("--real-batch", type=int, default=32,
                        help="its batch (source and target each; the spec's 32)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="its data-loading processes")  # fmt: skip
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
    args.image_size, picture = 224, 300
    if args.dry_run:
        args.device, args.steps, args.concurrency = "cpu", 2, [1, 2]
        args.variants = ["bf16+channels_last"]
        args.real_steps, args.real_batch, args.workers = 2, 4, 0
        args.image_size, picture = 32, 8
    import ray
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU here: run it on a GPU machine (or --device cpu, --dry-run)")
    if args.device == "cpu" and max(args.concurrency) > (os.cpu_count() or 1):
        parser.error(f"--concurrency {max(args.concurrency)} > {os.cpu_count()} CPU cores")
    args.work = args.work.resolve()
    real = {}
    if "real" in args.parts:
        root = real_data_tree(args.work / f"office31-{picture}px", picture)
        real = {variant: real_trial(args, variant, root) for variant in args.variants}
        if args.device == "cuda":
            torch.cuda.empty_cache()  # give the fractional trials the memory it cached
    results = {}
    if "fractional" in args.parts:
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        started = not ray.is_initialized()
        if started:  # a private local cluster with every CPU and GPU of this machine
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
        try:
            results = {(v, k): measure(args, v, k) for v in args.variants
                       for k in args.concurrency}  # fmt: skip
        finally:
            if started:
                ray.shutdown()
    print(write_report(args, results, real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
