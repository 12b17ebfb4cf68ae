"""Shannon entropy of predicted class distributions."""

from __future__ import annotations

import torch
from torch import Tensor

from dabench._checks import check_choice, check_tensor

__all__ = ["entropy"]

EPSILON = 1e-5
"""Added inside the logarithm, as in the reference library."""


def entropy(predictions: Tensor, reduction: str = "none") -> Tensor:
    r"""Entropy of class probabilities, in nats.

    .. math::
        H(p_i) = -\sum_{c=1}^{C} p_{ic} \ln(p_{ic} + \epsilon), \qquad \epsilon = 10^{-5}

    ``predictions`` must already be probabilities (apply ``softmax`` first). Because of
    :math:`\epsilon`, a one-hot row gives :math:`-\ln(1 + 10^{-5}) \approx -10^{-5}`, as in the
    reference. The class dimension is dimension 1, so ``(N, C, H, W)`` inputs give per-pixel
    entropies ``(N, H, W)``.

    Args:
        predictions: probabilities of shape ``(N, C)`` or ``(N, C, *)``.
        reduction: ``'none'`` (per sample, the default), ``'mean'`` or ``'sum'``. The reference
            treats every value other than ``'mean'`` as ``'none'``; here an unknown value is an error.

    Example::

        >>> entropy(torch.tensor([[0.25, 0.25, 0.5], [1.0, 0.0, 0.0]]))
        tensor([ 1.0397e+00, -1.0014e-05])
        >>> entropy(torch.tensor([[0.5, 0.5]]), reduction="mean")
        tensor(0.6931)
    """
    check_tensor("predictions", predictions, tuple(range(2, 9)))
    check_choice("reduction", reduction, ("none", "mean", "sum"))
    h = -predictions * torch.log(predictions + EPSILON)
    h = h.sum(dim=1)
    if reduction == "mean":
        return h.mean()
    if reduction == "sum":
        return h.sum()
    return h
