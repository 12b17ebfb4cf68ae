"""CDAN: Conditional Adversarial Domain Adaptation (Long et al., NeurIPS 2018,
https://arxiv.org/abs/1705.10667)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_choice, check_matrix, check_same_rows, check_same_width
from dabench.adaptation.dann import REDUCTIONS, default_grl, reduce
from dabench.metrics import accuracy, binary_accuracy
from dabench.modules.classifier import ImageClassifier
from dabench.modules.entropy import entropy

__all__ = [
    "ConditionalDomainAdversarialLoss",
    "ImageClassifier",
    "MultiLinearMap",
    "RandomizedMultiLinearMap",
]


class ConditionalDomainAdversarialLoss(nn.Module):
    r"""The CDAN loss: a domain discriminator on the multilinear map of features and predictions.

    With :math:`g = \mathrm{softmax}(\text{logits})` (detached: no gradient flows into the
    classifier through the conditioning), :math:`T` the multilinear map
    (:class:`MultiLinearMap`, or :class:`RandomizedMultiLinearMap` when ``randomized``) and a
    gradient reversal layer :math:`R_\lambda` after the map,

    .. math::
        \mathcal{L} = \frac{1}{N_s + N_t} \sum_{i=1}^{N_s + N_t}
            w_i\, \ell\big(D(R(T(f_i, g_i))),\, y_i\big),
        \qquad y_i = 1 \text{ (source)},\ 0 \text{ (target)},

    a binary cross-entropy over the joint batch (no per-domain 0.5 averaging, unlike DANN). Without
    entropy conditioning :math:`w_i = 1`; with it,
    :math:`w_i = (N_s + N_t)\, \tilde w_i / \sum_k \tilde w_k` with
    :math:`\tilde w_i = 1 + e^{-H(g_i)}` (:func:`~dabench.modules.entropy.entropy`), normalised
    jointly over both domains so that the weights average to 1. With ``sigmoid=False`` the
    discriminator outputs two logits and :math:`\ell` is the cross-entropy.

    ``domain_discriminator_accuracy`` holds the discriminator's accuracy over the joint batch, in
    percent (0-d tensor), after each call.

    Differences from the reference library: the randomized map's matrices are buffers (saved,
    moved by ``.to()``); ``sigmoid=False`` with ``entropy_conditioning=True`` weights the per-sample
    cross-entropy instead of raising ``NotImplementedError``; ``domain_discriminator_accuracy`` is
    always a 0-d tensor; an optional ``grl`` argument (default: the reference schedule) lets a sweep
    tune the schedule, as for DANN; shapes and arguments are checked.

    Args:
        domain_discriminator: takes ``(N, F·C)`` inputs (``(N, randomized_dim)`` when randomized).
        entropy_conditioning: weight samples by prediction certainty. Default False.
        randomized: use the randomized multilinear map. Default False.
        num_classes: :math:`C`, required when ``randomized``.
        features_dim: :math:`F`, required when ``randomized``.
        randomized_dim: output dimension of the randomized map. Default 1024.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (``(N_s + N_t, 1)``).
        sigmoid: whether the discriminator outputs one probability (True) or two logits.
        grl: the gradient reversal layer; default the warm-start schedule (alpha 1, lo 0, hi 1,
            max_iters 1000, auto-step).

    Inputs:
        - g_s: source logits ``(N_s, C)``; f_s: source features ``(N_s, F)``.
        - g_t: target logits ``(N_t, C)``; f_t: target features ``(N_t, F)``.

    Example::

        >>> from dabench.modules.domain_discriminator import DomainDiscriminator
        >>> num_classes, feature_dim = 2, 1024
        >>> discriminator = DomainDiscriminator(in_feature=feature_dim * num_classes, hidden_size=1024)
        >>> loss = ConditionalDomainAdversarialLoss(discriminator, reduction="mean")
        >>> f_s, g_s = torch.randn(32, feature_dim), torch.randn(32, num_classes)
        >>> f_t, g_t = torch.randn(32, feature_dim), torch.randn(32, num_classes)
        >>> loss(g_s, f_s, g_t, f_t).shape
        torch.Size([])
    """

    def __init__(
        self,
        domain_discriminator: nn.Module,
        entropy_conditioning: bool = False,
        randomized: bool = False,
        num_classes: int = -1,
        features_dim: int = -1,
        randomized_dim: int = 1024,
        reduction: str = "mean",
        sigmoid: bool = True,
        grl: nn.Module | None = None,
    ) -> None:
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.domain_discriminator = domain_discriminator
        self.grl = default_grl() if grl is None else grl
        self.entropy_conditioning = entropy_conditioning
        self.reduction = reduction
        self.sigmoid = sigmoid
        if randomized:
            sizes = {
                "num_classes": num_classes,
                "features_dim": features_dim,
                "randomized_dim": randomized_dim,
            }
            bad = {k: v for k, v in sizes.items() if not isinstance(v, int) or v <= 0}
            if bad:
                raise ValueError(
                    "randomized=True needs positive ints num_classes, features_dim and "
                    f"randomized_dim; got {bad}"
                )
            self.map: nn.Module = RandomizedMultiLinearMap(
                features_dim, num_classes, randomized_dim
            )
        else:
            self.map = MultiLinearMap()
        self.domain_discriminator_accuracy: Tensor | None = None

    def forward(self, g_s: Tensor, f_s: Tensor, g_t: Tensor, f_t: Tensor) -> Tensor:
        for name, x in (("g_s", g_s), ("f_s", f_s), ("g_t", g_t), ("f_t", f_t)):
            check_matrix(name, x)
        check_same_width("g_s", g_s, "g_t", g_t)
        check_same_width("f_s", f_s, "f_t", f_t)
        check_same_rows("g_s", g_s, "f_s", f_s)
        check_same_rows("g_t", g_t, "f_t", f_t)
        n_s, n_t = f_s.shape[0], f_t.shape[0]

        f = torch.cat((f_s, f_t), dim=0)
        g = F.softmax(torch.cat((g_s, g_t), dim=0), dim=1).detach()
        d = self.domain_discriminator(self.grl(self.map(f, g)))

        weight = 1.0 + torch.exp(-entropy(g))
        weight = weight / torch.sum(weight) * (n_s + n_t)

        if self.sigmoid:
            label = torch.cat((torch.ones(n_s, 1), torch.zeros(n_t, 1))).to(d.device, d.dtype)
            self.domain_discriminator_accuracy = binary_accuracy(d, label)
            w = weight.view_as(d) if self.entropy_conditioning else None
            return F.binary_cross_entropy(d, label, weight=w, reduction=self.reduction)
        label = torch.cat((torch.ones(n_s), torch.zeros(n_t))).to(d.device).long()
        self.domain_discriminator_accuracy = accuracy(d, label)
        loss = F.cross_entropy(d, label, reduction="none")
        if self.entropy_conditioning:
            loss = loss * weight
        return reduce(loss, self.reduction)


class MultiLinearMap(nn.Module):
    r"""Multilinear map :math:`T_\otimes(f, g) = g \otimes f`, flattened class-major.

    Output index :math:`c \cdot F + j` holds :math:`g_c f_j`, shape ``(N, C·F)``.

    Example::

        >>> MultiLinearMap()(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[10.0, 100.0]]))
        tensor([[ 10.,  20.,  30., 100., 200., 300.]])
    """

    def forward(self, f: Tensor, g: Tensor) -> Tensor:
        check_matrix("f", f)
        check_matrix("g", g)
        check_same_rows("f", f, "g", g)
        batch_size = f.size(0)
        output = torch.bmm(g.unsqueeze(2), f.unsqueeze(1))
        return output.view(batch_size, -1)


class RandomizedMultiLinearMap(nn.Module):
    r"""Randomized multilinear map :math:`T_\odot(f, g) = (f R_f) \odot (g R_g) / \sqrt{d}`.

    :math:`R_f \in \mathbb{R}^{F \times d}` and :math:`R_g \in \mathbb{R}^{C \times d}` are drawn
    once from :math:`\mathcal{N}(0, 1)` (``Rf`` first, then ``Rg``, from the global generator, so a
    seed gives the reference's matrices) and never trained. Unlike the reference they are buffers:
    saved in the state dict, so a reloaded model uses the same projection, and moved by ``.to()``.

    Args:
        features_dim: :math:`F`. num_classes: :math:`C`. output_dim: :math:`d` (default 1024).

    Example::

        >>> m = RandomizedMultiLinearMap(features_dim=16, num_classes=3, output_dim=64)
        >>> m(torch.randn(5, 16), torch.randn(5, 3)).shape
        torch.Size([5, 64])
        >>> sorted(m.state_dict())
        ['Rf', 'Rg']
    """

    Rf: Tensor
    Rg: Tensor

    def __init__(self, features_dim: int, num_classes: int, output_dim: int = 1024) -> None:
        super().__init__()
        self.register_buffer("Rf", torch.randn(features_dim, output_dim))
        self.register_buffer("Rg", torch.randn(num_classes, output_dim))
        self.output_dim = output_dim

    def forward(self, f: Tensor, g: Tensor) -> Tensor:
        check_matrix("f", f, self.Rf.shape[0])
        check_matrix("g", g, self.Rg.shape[0], what="classes")
        check_same_rows("f", f, "g", g)
        output = torch.mm(f, self.Rf) * torch.mm(g, self.Rg)
        return output / math.sqrt(float(self.output_dim))
