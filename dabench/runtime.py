"""What a trial's numbers depend on besides its config and seed: the processor, the device, the
number of torch threads and the versions of torch and NumPy.

On one CPU with the same of each, a config and seed give bit-identical metrics
(``tests/test_determinism.py``). Another thread count splits floating-point sums differently,
another CPU may take other vector kernels (oneDNN picks them by instruction set), another torch
release other kernels, and a GPU's convolutions are not deterministic by default: a re-run there
matches only within the spread of the seeds (``docs/trial.md``). Every trial and seed run records
these facts (tag ``dabench.runtime``), and the leaderboard names them.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import numpy as np
import torch


@functools.cache
def cpu_model() -> str:
    """The processor's model name (Linux's ``/proc/cpuinfo``; else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def facts(device: torch.device, threads: int) -> dict[str, str]:
    """This process's facts for a trial on ``device`` with ``threads`` torch threads."""
    on = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {"cpu": cpu_model(), "device": on, "threads": str(threads),
            "torch": torch.__version__, "numpy": np.__version__}  # fmt: skip


def describe(runtime: dict[str, str]) -> str:
    """One line a person reads: ``<cpu>, 1 torch thread, cpu, torch 2.14.1, numpy 2.4.6``."""
    threads = int(runtime["threads"])
    return (f"{runtime['cpu']}, {threads} torch thread{'s' * (threads != 1)}, "
            f"{runtime['device']}, torch {runtime['torch']}, numpy {runtime['numpy']}")  # fmt: skip
