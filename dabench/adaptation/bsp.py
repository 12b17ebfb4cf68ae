"""BSP: Batch Spectral Penalization (Chen et al., ICML 2019,
http://proceedings.mlr.press/v97/chen19i/chen19i.pdf)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dabench._checks import check_matrix, check_same_width
from dabench.modules.classifier import ImageClassifier

__all__ = ["BatchSpectralPenalizationLoss", "ImageClassifier", "largest_singular_value_squared"]


def largest_singular_value_squared(f: Tensor) -> Tensor:
    r""":math:`\sigma_1(f)^2` of an ``(N, F)`` matrix, differentiable, without an SVD.

    :math:`\sigma_1(f)^2` is the largest eigenvalue of the Gram matrix :math:`f f^\top` (or
    :math:`f^\top f`, whichever is smaller: :math:`\min(N, F)` squared entries), which a symmetric
    eigenvalue solver returns exactly (to floating-point rounding) and faster than a full SVD of
    :math:`f`. Its gradient is :math:`2 \sigma_1 u_1 v_1^\top`, the same as through the SVD.

    Example::

        >>> largest_singular_value_squared(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
        tensor(16.)
    """
    gram = f @ f.T if f.shape[0] <= f.shape[1] else f.T @ f
    return torch.linalg.eigvalsh(gram)[-1]


class BatchSpectralPenalizationLoss(nn.Module):
    r"""The BSP penalty: the squared largest singular value of each domain's feature batch.

    .. math::
        \mathcal{L}_{bsp}(F_s, F_t) = \sigma_{s,1}^2 + \sigma_{t,1}^2

    with :math:`\sigma_{s,1}, \sigma_{t,1}` the largest singular values of the source and target
    feature matrices (k = 1, no normalisation by batch size, as in the reference). Batch sizes may
    differ. The reference computes a full ``torch.svd`` of each matrix; here only
    :math:`\sigma_1^2` is computed, by :func:`largest_singular_value_squared` (same values; measured
    in ``reports/loss_microbench.md``).

    Inputs:
        - f_s: ``(N_s, F)``; f_t: ``(N_t, F)``. Output: a scalar.

    Example::

        >>> bsp = BatchSpectralPenalizationLoss()
        >>> bsp(torch.tensor([[3.0, 0.0], [0.0, 4.0]]), torch.ones(2, 2))
        tensor(20.)
    """

    def forward(self, f_s: Tensor, f_t: Tensor) -> Tensor:
        check_matrix("f_s", f_s)
        check_matrix("f_t", f_t)
        check_same_width("f_s", f_s, "f_t", f_t)
        return largest_singular_value_squared(f_s) + largest_singular_value_squared(f_t)
