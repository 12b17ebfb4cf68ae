"""ADDA: Adversarial Discriminative Domain Adaptation (Tzeng et al., CVPR 2017,
https://arxiv.org/abs/1702.05464)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_choice, check_tensor
from dabench.modules.classifier import ImageClassifier

__all__ = ["DomainAdversarialLoss", "ImageClassifier"]

DOMAIN_LABELS = {"source": 1.0, "target": 0.0}


class DomainAdversarialLoss(nn.Module):
    r"""Binary cross-entropy of discriminator outputs against one domain label.

    .. math::
        \mathcal{L}(p, \text{'source'}) = -\frac1N \sum_i \ln p_i, \qquad
        \mathcal{L}(p, \text{'target'}) = -\frac1N \sum_i \ln(1 - p_i)

    (each log clamped at -100). This is the building block of ADDA's GAN-style objective with
    inverted labels: the discriminator minimises
    :math:`\mathcal{L}(D(f^s), \text{'source'}) + \mathcal{L}(D(f^t), \text{'target'})`, the target
    encoder minimises :math:`\mathcal{L}(D(f^t), \text{'source'})`. (The reference library's ADDA
    example trains with the DANN loss and a gradient reversal layer with ``hi=2`` instead; both
    recipes can be built from this package.)

    Inputs:
        - domain_pred: discriminator probabilities :math:`P(\text{source})`, any shape, in [0, 1].
        - domain_label: ``'source'`` or ``'target'``.

    Example::

        >>> loss = DomainAdversarialLoss()
        >>> loss(torch.tensor([[0.9], [0.6]]), "source")
        tensor(0.3081)
        >>> loss(torch.tensor([[0.9]]), "sauce")
        Traceback (most recent call last):
        ...
        ValueError: domain_label must be one of 'source', 'target'; got 'sauce'
    """

    def forward(self, domain_pred: Tensor, domain_label: str = "source") -> Tensor:
        check_choice("domain_label", domain_label, tuple(DOMAIN_LABELS))
        check_tensor("domain_pred", domain_pred, tuple(range(1, 9)))
        target = domain_pred.new_full(domain_pred.shape, DOMAIN_LABELS[domain_label])
        return F.binary_cross_entropy(domain_pred, target)
