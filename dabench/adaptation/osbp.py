"""OSBP: Open Set Domain Adaptation by Backpropagation (Saito et al., ECCV 2018,
https://arxiv.org/abs/1804.10427)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_matrix
from dabench.modules import classifier

__all__ = ["ImageClassifier", "UnknownClassBinaryCrossEntropy"]

EPSILON = 1e-6
"""Added inside both logarithms, as in the reference library."""


class UnknownClassBinaryCrossEntropy(nn.Module):
    r"""Binary cross-entropy between the "unknown" probability of target samples and ``t``.

    With :math:`p_u = \mathrm{softmax}(y)_{C+1}` (the last column is the unknown class) and
    :math:`\epsilon = 10^{-6}`:

    .. math::
        \mathcal{L}(y) = -\frac1N \sum_i t \ln(p_{u,i} + \epsilon)
                         - \frac1N \sum_i (1 - t) \ln(1 - p_{u,i} + \epsilon)

    The classifier minimises it (pushing :math:`p_u` towards :math:`t`); the feature extractor,
    behind a gradient reversal layer, maximises it (pushing target samples to be clearly known or
    clearly unknown).

    Args:
        t: target unknown probability, :math:`0 < t < 1`. Default 0.5.

    Inputs:
        - y: logits ``(N, C + 1)`` of target samples. Output: a scalar.

    Example::

        >>> UnknownClassBinaryCrossEntropy(t=0.5)(torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]))
        tensor(0.7515)
    """

    def __init__(self, t: float = 0.5) -> None:
        super().__init__()
        if not isinstance(t, int | float) or not 0.0 < t < 1.0:
            raise ValueError(f"t must be a number in the open interval (0, 1); got {t!r}")
        self.t = float(t)

    def forward(self, y: Tensor) -> Tensor:
        check_matrix("y", y)
        if y.shape[1] < 2:
            raise ValueError(
                f"y must have C + 1 >= 2 columns (known classes + unknown); got shape {tuple(y.shape)}"
            )
        unknown_class_prob = F.softmax(y, dim=1)[:, -1:]
        known_class_prob = 1.0 - unknown_class_prob
        unknown_target = torch.full_like(unknown_class_prob, self.t)
        known_target = 1.0 - unknown_target
        return -torch.mean(unknown_target * torch.log(unknown_class_prob + EPSILON)) - torch.mean(
            known_target * torch.log(known_class_prob + EPSILON)
        )

    def extra_repr(self) -> str:
        return f"t={self.t}"


class ImageClassifier(classifier.ImageClassifier):
    """OSBP's classifier: the shared :class:`~dabench.modules.classifier.ImageClassifier` with a
    two-layer bottleneck and dropout 0.5 (``Linear → BN → ReLU → Dropout`` twice).

    ``forward(x, grad_reverse=True)`` puts a gradient reversal layer (coefficient 1) between the
    bottleneck and the head; ``num_classes`` should count the unknown class (C + 1).
    """

    def __init__(
        self, backbone: nn.Module, num_classes: int, bottleneck_dim: int = 256, **kwargs: Any
    ) -> None:
        kwargs.setdefault("bottleneck_layers", 2)
        kwargs.setdefault("dropout", 0.5)
        super().__init__(backbone, num_classes, bottleneck_dim, **kwargs)
