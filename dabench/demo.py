"""A one-minute demonstration: source-only vs DANN on two moons → moons rotated 40°.

Both runs go through :func:`dabench.trainable.run_trial` with the same seed, so they start from the
same initialisation and see the same batches; only the DANN loss differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dabench.trainable import run_trial

TASK = "moons/rot40"


@dataclass
class DemoResult:
    source_only: float
    dann: float
    seconds: float


def run(steps: int = 2000, seed: int = 0, threads: int | None = 1) -> DemoResult:
    """Target-test accuracy (percent) of source-only and DANN training on :data:`TASK`, each on
    ``threads`` torch threads (``None``: the process's setting; one, as a sweep's trial on one
    CPU, by default)."""
    start = time.perf_counter()
    accuracy = {
        method: run_trial(
            {"method": method, "task": TASK, "steps": steps, "eval_every": steps, "seed": seed},
            threads=threads,
        )["target_test_acc"]
        for method in ("source_only", "dann")
    }
    return DemoResult(accuracy["source_only"], accuracy["dann"], time.perf_counter() - start)
