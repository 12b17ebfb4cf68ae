"""IWAN: Importance Weighted Adversarial Nets for partial domain adaptation (Zhang et al.,
CVPR 2018, https://arxiv.org/abs/1803.09210)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dabench._checks import check_same_rows, check_tensor
from dabench.modules.classifier import ImageClassifier

__all__ = ["ImageClassifier", "ImportanceWeightModule"]


class ImportanceWeightModule:
    r"""Importance weights of source samples from an auxiliary domain discriminator.

    With :math:`D(f) = P(\text{source} \mid f)`,

    .. math::
        \tilde w_i = 1 - D(f_i), \qquad w_i = \frac{\tilde w_i}{\frac1N \sum_k \tilde w_k + 10^{-5}}

    so source samples that look like target data get large weights and the batch mean is about 1.
    The weights carry no gradient (computed under ``no_grad``). :math:`D` runs in whatever mode it is
    in, as in the reference: in training mode a dropout discriminator gives stochastic weights and a
    BatchNorm discriminator updates its running statistics.

    Args:
        discriminator: maps ``(N, F)`` features to ``(N, 1)`` probabilities of "source".
        partial_classes_index: indices of the classes the target really has (diagnostics only).

    Example::

        >>> from dabench.modules.domain_discriminator import DomainDiscriminator
        >>> D = DomainDiscriminator(in_feature=16, hidden_size=32, batch_norm=False).eval()
        >>> w = ImportanceWeightModule(D).get_importance_weight(torch.randn(6, 16))
        >>> w.shape, round(float(w.mean()), 3), w.requires_grad
        (torch.Size([6, 1]), 1.0, False)
    """

    def __init__(
        self, discriminator: nn.Module, partial_classes_index: Sequence[int] | None = None
    ) -> None:
        self.discriminator = discriminator
        self.partial_classes_index = partial_classes_index

    def get_importance_weight(self, feature: Tensor) -> Tensor:
        """Weights ``(N, 1)`` of the features ``(N, F)``."""
        with torch.no_grad():
            weight = 1.0 - self.discriminator(feature)
            return weight / (weight.mean() + 1e-5)

    def get_partial_classes_weight(self, weights: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Mean weight of the samples whose label is a shared class, and of the others.

        ``weights``: ``(N,)`` or ``(N, 1)``; ``labels``: ``(N,)``. A group with no sample gives 0.
        Needs ``partial_classes_index`` (a diagnostic for benchmarks where the shared classes are
        known).
        """
        if self.partial_classes_index is None:
            raise ValueError(
                "get_partial_classes_weight needs partial_classes_index at construction"
            )
        check_tensor("labels", labels, 1)
        weights = weights.reshape(-1)
        check_same_rows("weights", weights, "labels", labels)
        shared = torch.as_tensor(list(self.partial_classes_index), device=labels.device)
        is_partial = torch.isin(labels, shared)
        return _masked_mean(weights, is_partial), _masked_mean(weights, ~is_partial)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    count = mask.sum()
    return torch.where(count > 0, (values * mask).sum() / count.clamp(min=1), values.new_zeros(()))
