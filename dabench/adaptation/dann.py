"""DANN: Domain-Adversarial Training of Neural Networks (Ganin et al., JMLR 2016,
https://arxiv.org/abs/1505.07818)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_choice, check_matrix, check_same_width, sample_weights
from dabench.metrics import accuracy, binary_accuracy
from dabench.modules.classifier import ImageClassifier
from dabench.modules.grl import WarmStartGradientReverseLayer

__all__ = ["DomainAdversarialLoss", "ImageClassifier"]

REDUCTIONS = ("mean", "sum", "none")


def default_grl() -> WarmStartGradientReverseLayer:
    """The reference DANN/CDAN schedule: alpha=1, lo=0, hi=1, max_iters=1000, auto-stepped."""
    return WarmStartGradientReverseLayer(alpha=1.0, lo=0.0, hi=1.0, max_iters=1000, auto_step=True)


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``'mean'`` / ``'sum'`` / ``'none'`` to an element-wise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class DomainAdversarialLoss(nn.Module):
    r"""The DANN domain-adversarial loss.

    With a discriminator :math:`D` that outputs :math:`P(\text{source})` (``sigmoid=True``) and a
    gradient reversal layer :math:`R_\lambda` in front of it, the returned value is the average of
    the two domains' (weighted) binary cross-entropies:

    .. math::
        \mathcal{L} = \tfrac12 \Big[ \tfrac{1}{N_s}\sum_{i} w^s_i\, \ell\big(D(R(f^s_i)), 1\big)
                     + \tfrac{1}{N_t}\sum_{j} w^t_j\, \ell\big(D(R(f^t_j)), 0\big) \Big],
        \qquad \ell(p, y) = -y \ln p - (1 - y)\ln(1 - p)

    (each log clamped at -100 as PyTorch's BCE does; with ``'sum'`` the :math:`1/N` factors are
    dropped; weights divide by the count, not by their sum). Minimising it trains :math:`D`;
    through :math:`R_\lambda` the features receive :math:`-\lambda` times their gradient, i.e. the
    feature extractor maximises :math:`\mathcal{L}`. The reference docstring's formula
    :math:`\mathbb{E}\log D(f^s) + \mathbb{E}\log(1 - D(f^t))` is :math:`-2\mathcal{L}`.

    With ``sigmoid=False`` the discriminator outputs two logits (class 1 = source) and the loss is
    the per-sample cross-entropy times ``cat([w_s, w_t])``, averaged over all :math:`N_s + N_t`.

    After each call ``domain_discriminator_accuracy`` holds the discriminator's accuracy in percent
    (0-d tensor, mean of the two domains' accuracies with ``sigmoid=True``).

    Differences from the reference library (equal to it whenever :math:`N_s = N_t`):

    * the joint output is split at :math:`N_s`, so unequal batch sizes work (the reference splits it
      into halves and fails unless :math:`N_s \in \{N_t, N_t + 1\}`);
    * ``reduction='none'`` pairs the i-th source with the i-th target element, returning
      :math:`\tfrac12(\ell^s_i + \ell^t_i)` of shape ``(N, 1)`` as the reference does; with
      ``sigmoid=True`` it therefore requires :math:`N_s = N_t` and says so (``sigmoid=False``
      returns the ``(N_s + N_t,)`` per-sample losses);
    * ``domain_discriminator_accuracy`` is a 0-d tensor in both branches (a list with
      ``sigmoid=False`` in the reference);
    * shapes, weights and ``reduction`` are checked with a clear error.

    Args:
        domain_discriminator: maps ``(N, F)`` features to ``(N, 1)`` probabilities (or ``(N, 2)``
            logits with ``sigmoid=False``).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        grl: the gradient reversal layer; default the warm-start schedule (alpha 1, lo 0, hi 1,
            max_iters 1000, auto-step).
        sigmoid: whether the discriminator outputs one probability (True) or two logits.

    Inputs:
        - f_s: source features ``(N_s, F)``; f_t: target features ``(N_t, F)``.
        - w_s, w_t (optional): per-sample weights ``(N_s,)``/``(N_s, 1)`` and ``(N_t,)``/``(N_t, 1)``.

    Example::

        >>> from dabench.modules.domain_discriminator import DomainDiscriminator
        >>> discriminator = DomainDiscriminator(in_feature=1024, hidden_size=1024)
        >>> loss = DomainAdversarialLoss(discriminator, reduction="mean")
        >>> f_s, f_t = torch.randn(20, 1024), torch.randn(20, 1024)
        >>> w_s, w_t = torch.rand(20), torch.rand(20)
        >>> output = loss(f_s, f_t, w_s, w_t)
        >>> output.shape, output.item() > 0
        (torch.Size([]), True)
    """

    def __init__(
        self,
        domain_discriminator: nn.Module,
        reduction: str = "mean",
        grl: nn.Module | None = None,
        sigmoid: bool = True,
    ) -> None:
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.grl = default_grl() if grl is None else grl
        self.domain_discriminator = domain_discriminator
        self.reduction = reduction
        self.sigmoid = sigmoid
        self.domain_discriminator_accuracy: Tensor | None = None

    def forward(
        self, f_s: Tensor, f_t: Tensor, w_s: Tensor | None = None, w_t: Tensor | None = None
    ) -> Tensor:
        check_matrix("f_s", f_s)
        check_matrix("f_t", f_t)
        check_same_width("f_s", f_s, "f_t", f_t)
        n_s, n_t = f_s.shape[0], f_t.shape[0]
        if self.sigmoid and self.reduction == "none" and n_s != n_t:
            raise ValueError(
                "reduction='none' pairs source and target samples and needs equal batch sizes; "
                f"got f_s {tuple(f_s.shape)} and f_t {tuple(f_t.shape)}"
            )
        w_s = sample_weights("w_s", w_s, n_s, f_s)
        w_t = sample_weights("w_t", w_t, n_t, f_t)

        d = self.domain_discriminator(self.grl(torch.cat((f_s, f_t), dim=0)))
        if self.sigmoid:
            d_s, d_t = d[:n_s], d[n_s:]
            label_s = torch.ones_like(d_s)
            label_t = torch.zeros_like(d_t)
            self.domain_discriminator_accuracy = 0.5 * (
                binary_accuracy(d_s, label_s) + binary_accuracy(d_t, label_t)
            )
            return 0.5 * (
                F.binary_cross_entropy(d_s, label_s, weight=w_s, reduction=self.reduction)
                + F.binary_cross_entropy(d_t, label_t, weight=w_t, reduction=self.reduction)
            )
        label = torch.cat(
            (torch.ones(n_s, device=d.device), torch.zeros(n_t, device=d.device))
        ).long()
        self.domain_discriminator_accuracy = accuracy(d, label)
        loss = F.cross_entropy(d, label, reduction="none") * torch.cat((w_s, w_t)).view(-1)
        return reduce(loss, self.reduction)
