"""ADVENT: Adversarial Entropy Minimization for Domain Adaptation in Semantic Segmentation
(Vu et al., CVPR 2019, https://arxiv.org/abs/1811.12833)."""

from __future__ import annotations

import itertools
import math

import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_choice, check_positive_int, check_tensor
from dabench.adaptation.adda import DOMAIN_LABELS

__all__ = ["Discriminator", "DomainAdversarialEntropyLoss", "bce_loss", "prob_2_entropy"]


class Discriminator(nn.Sequential):
    r"""Fully convolutional discriminator on entropy maps.

    Five convolutions with kernel 4, stride 2, padding 1: :math:`C \to n \to 2n \to 4n \to 8n \to 1`
    (:math:`n` = ``ndf``), LeakyReLU(0.2) between them, no normalisation. Outputs **logits** of shape
    ``(N, 1, H', W')`` with :math:`H' \approx H/32`, :math:`W' \approx W/32` (the reference docstring
    says ``(N, 1, H, W)``).

    Args:
        num_classes: :math:`C`, the number of input channels.
        ndf: width of the first layer. Default 64.

    Example::

        >>> Discriminator(num_classes=19)(torch.randn(2, 19, 64, 128)).shape
        torch.Size([2, 1, 2, 4])
    """

    def __init__(self, num_classes: int, ndf: int = 64) -> None:
        check_positive_int("num_classes", num_classes)
        check_positive_int("ndf", ndf)
        widths = [num_classes, ndf, ndf * 2, ndf * 4, ndf * 8]
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [
                nn.Conv2d(width_in, width_out, kernel_size=4, stride=2, padding=1),
                nn.LeakyReLU(negative_slope=0.2, inplace=True),
            ]
        layers.append(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=2, padding=1))
        super().__init__(*layers)
        self.num_classes = num_classes


def prob_2_entropy(prob: Tensor) -> Tensor:
    r"""Per-channel weighted self-information of a probability map.

    .. math::
        I_{c}(h, w) = -\frac{p_c(h, w) \log_2(p_c(h, w) + 10^{-30})}{\log_2 C}

    Shape ``(N, C, H, W)`` → ``(N, C, H, W)``; summing over :math:`c` gives the entropy normalised
    to [0, 1].

    Example::

        >>> prob_2_entropy(torch.full((1, 2, 1, 1), 0.5)).sum(dim=1).flatten()
        tensor([1.])
    """
    check_tensor("prob", prob, 4)
    c = prob.shape[1]
    if c < 2:
        raise ValueError(f"prob needs C >= 2 channels; got shape {tuple(prob.shape)}")
    return -prob * (prob + 1e-30).log2() / math.log2(c)


def bce_loss(y_pred: Tensor, label: float) -> Tensor:
    """Mean binary cross-entropy of logits ``y_pred`` against the constant ``label``.

    Difference from the reference library: the label tensor is made on ``y_pred``'s device (the
    reference moved it with ``get_device()``, which fails on CPU).
    """
    return F.binary_cross_entropy_with_logits(y_pred, y_pred.new_full(y_pred.shape, float(label)))


class DomainAdversarialEntropyLoss(nn.Module):
    r"""ADVENT's adversarial loss on entropy maps.

    .. math::
        \mathcal{L}(x, d) = \mathrm{BCE}\Big(D\big(I(\mathrm{softmax}(x))\big),\ d\Big),
        \qquad d = 1 \text{ for 'source'},\ 0 \text{ for 'target'},

    with :math:`I` = :func:`prob_2_entropy` and the BCE on logits averaged over all output positions.
    There is no gradient reversal: the segmenter is trained by labelling target predictions
    ``'source'`` with the discriminator frozen (``eval()``), the discriminator by labelling detached
    predictions with their true domain (``train()``).

    ``train(mode)`` sets the discriminator's mode and ``requires_grad = mode`` on its parameters, so
    ``eval()`` freezes it. Differences from the reference library: works on CPU; ``train()`` also
    sets this module's own ``training`` flag; inputs are checked.

    Args:
        discriminator: e.g. :class:`Discriminator` over :math:`C` channels.

    Inputs:
        - logits: ``(N, C, H, W)`` segmentation logits; domain_label: ``'source'`` or ``'target'``.

    Example::

        >>> loss = DomainAdversarialEntropyLoss(Discriminator(num_classes=4, ndf=8)).eval()
        >>> value = loss(torch.randn(2, 4, 64, 64), "source")
        >>> value.shape, any(p.requires_grad for p in loss.parameters())
        (torch.Size([]), False)
    """

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, logits: Tensor, domain_label: str = "source") -> Tensor:
        check_choice("domain_label", domain_label, tuple(DOMAIN_LABELS))
        check_tensor("logits", logits, 4)
        channels = getattr(self.discriminator, "num_classes", None)
        if channels is not None and logits.shape[1] != channels:
            raise ValueError(
                f"logits must have shape (N, {channels}, H, W) for this discriminator; "
                f"got shape {tuple(logits.shape)}"
            )
        d = self.discriminator(prob_2_entropy(F.softmax(logits, dim=1)))
        return bce_loss(d, DOMAIN_LABELS[domain_label])

    def train(self, mode: bool = True) -> DomainAdversarialEntropyLoss:
        super().train(mode)
        for param in self.discriminator.parameters():
            param.requires_grad = mode
        return self
