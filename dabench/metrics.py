"""Evaluation metrics (percentages, as the reference library reports them)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["accuracy", "binary_accuracy"]


@torch.no_grad()
def binary_accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Percentage of probabilities on the right side of 0.5: ``100 * mean((output >= 0.5) == target)``.

    Returns a 0-d tensor on ``output``'s device (no synchronisation).

    Example::

        >>> binary_accuracy(torch.tensor([[0.5], [0.49], [0.9]]), torch.tensor([[1.], [1.], [0.]]))
        tensor(33.3333)
    """
    predicted = (output >= 0.5).to(target.dtype)
    return (predicted == target).float().mean() * 100.0


@torch.no_grad()
def accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Top-1 accuracy in percent of ``(N, C)`` logits against ``(N,)`` class indices, as a 0-d tensor.

    Example::

        >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        tensor(50.)
    """
    return (output.argmax(dim=1) == target).float().mean() * 100.0
