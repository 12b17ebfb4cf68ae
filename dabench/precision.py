"""Mixed precision and memory layout of a trial: config keys ``precision`` and ``channels_last``.

``precision`` (``fp32``, ``bf16`` or ``fp16``): the task model — backbone, bottleneck and head,
where nearly all the FLOPs are — runs its forward under ``torch.autocast`` in that dtype, and its
outputs are cast back to float32. Everything after it — the discriminators and every loss of
:mod:`dabench.adaptation`, the validators and the metrics — computes in float32 exactly as with
``fp32``: the loss library's values and gradients are unchanged (its parity tests run in
float64/float32), only the features it receives carry the model's rounding. ``fp16`` also scales
the loss with a ``torch.amp.GradScaler`` (its gradients would underflow otherwise) and skips the
optimiser steps whose gradients overflow; ``bf16`` has float32's range and needs no scaling.
``bf16`` autocast also works on CPU (the tests run it there).

``channels_last``: the modules' 4-D weights in NHWC layout; a convolution whose weight is
channels-last gives a channels-last output, so the layout carries through the network without
converting the inputs. cuDNN's tensor-core convolutions in fp16/bf16 and oneDNN's CPU
convolutions are NHWC kernels, so this saves layout transposes around every convolution (the
MLPs of the moons task have none, and no other module changes).

``channels_last`` is **on by default**: it changes only the order of floating-point sums, and on
one torch thread of this project's CPU (a sweep's trial) it trained the leaderboard's LeNet 1.24×
and the segmentation FCN 1.13× faster (``reports/trial_speed.md``, medians of 3 rounds).
``precision`` stays ``fp32``: on one thread ``bf16`` autocast trained the LeNet about 4× and the
FCN about 12× *slower* (on two threads it was faster, ``reports/gpu_cpu.md``), and it changes the
numbers a trial computes. On GPUs ``benchmarks/gpu.py`` measures both (``reports/gpu.md``).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (also in tuples, lists, dicts) as float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, tuple | list):
        return type(value)(_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _float32(v) for k, v in value.items()}
    return value


def autocast_forward(model: nn.Module, device: torch.device, precision: str) -> None:
    """Make ``model`` run its forward under ``torch.autocast(device.type, dtype)`` for
    ``precision`` ``bf16``/``fp16`` and return float32 outputs (``fp32``: nothing changes). The
    module's parameters, ``state_dict`` and checkpoints stay as they are."""
    if precision == "fp32":
        return
    dtype, forward = DTYPES[precision], model.forward

    @functools.wraps(forward)
    def mixed(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device.type, dtype=dtype):
            output = forward(*args, **kwargs)
        return _float32(output)

    model.forward = mixed  # type: ignore[method-assign]


def prepare(recipe: Any, device: torch.device, cfg: dict[str, Any]) -> torch.amp.GradScaler:
    """Apply ``cfg["precision"]`` and ``cfg["channels_last"]`` to a built recipe (see the
    module doc); the gradient scaler for its optimiser steps (disabled unless ``fp16``: then it
    passes the loss and the steps through unchanged)."""
    if cfg["channels_last"]:
        for module in recipe.modules().values():
            module.to(memory_format=torch.channels_last)
    autocast_forward(recipe.model, device, cfg["precision"])
    return torch.amp.GradScaler(device.type, enabled=cfg["precision"] == "fp16")
