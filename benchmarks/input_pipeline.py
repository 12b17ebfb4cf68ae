"""Share of a training step spent fetching data, on the bundled tasks.

Run:  python benchmarks/input_pipeline.py [--out reports/input_pipeline.md]

For each bundled task, times (``torch.utils.benchmark``, medians, side by side in one process) the
fetch of one source batch plus one target batch from ``InfiniteBatches`` and one complete DANN
training step (forward, backward, SGD step) on batches already fetched (source-only for
segmentation); the ratio is the share of the input pipeline.
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch.utils import benchmark

from dabench import __version__
from dabench.data import get_task, list_tasks
from dabench.data.loading import InfiniteBatches
from dabench.methods import Batch, get_method
from dabench.trainable import resolve_config


def measure(name: str, min_run_time: float) -> tuple[float, float]:
    task = get_task(name, seed=0)
    method = "source_only" if task.setting == "segmentation" else "dann"
    config = resolve_config({"method": method, "task": name})
    device = torch.device("cpu")
    torch.manual_seed(0)
    recipe = get_method(method)(task, config, device)
    optimizer = torch.optim.SGD(recipe.parameter_groups(), 0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    source = InfiniteBatches(task.split("source_train"), 32, generator, device)
    target = InfiniteBatches(task.split("target_adapt"), 32, generator, device)
    x_s, y_s = next(source)
    x_t = next(target)

    def fetch() -> None:
        next(source)
        next(target)

    def step() -> None:
        loss, _ = recipe.loss(Batch(x_s, y_s, x_t))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for module in recipe.modules().values():
        module.train()
    timer = lambda fn: benchmark.Timer("fn()", globals={"fn": fn}).blocked_autorange(  # noqa: E731
        min_run_time=min_run_time
    )
    return timer(fetch).median, timer(step).median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/input_pipeline.md"))
    parser.add_argument("--min-run-time", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    for spec in list_tasks():
        if spec.needs_root:
            continue
        fetch, step = measure(spec.name, args.min_run_time)
        rows.append(
            f"| {spec.name} | {fetch * 1e3:.3f} | {step * 1e3:.2f} | {100 * fetch / step:.1f} % |"
        )
        print(rows[-1], flush=True)
    command = "python " + " ".join([sys.argv[0], *sys.argv[1:]])
    args.out.write_text(f"""# Input pipeline vs training step (bundled tasks, CPU)

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`
(dabench {__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}).
Medians of `torch.utils.benchmark` blocked runs ({args.min_run_time} s each), measured side by side.
"fetch" = one source + one target batch of 32 from `InfiniteBatches` (tensor indexing of the
in-memory data, uint8 → float); "step" = one DANN training step on fetched batches (source-only
for segmentation).

| task | fetch ms | step ms | fetch / step |
|---|---|---|---|
{chr(10).join(rows)}
""")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
