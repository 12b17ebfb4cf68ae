"""Gradient reversal layers (Ganin & Lempitsky, ICML 2015, https://arxiv.org/abs/1409.7495).

A gradient reversal layer (GRL) is the identity in the forward pass and multiplies the incoming
gradient by :math:`-\\lambda` in the backward pass. Placed between a feature extractor and a domain
discriminator, it lets one optimiser step make the discriminator *minimise* the domain loss while the
feature extractor *maximises* it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from dabench._checks import check_positive

__all__ = ["GradientReverseFunction", "GradientReverseLayer", "WarmStartGradientReverseLayer"]


class GradientReverseFunction(torch.autograd.Function):
    r"""Autograd function :math:`R_\lambda`: forward :math:`R(x) = x`, backward
    :math:`\partial R / \partial x = -\lambda I`.

    ``coeff`` (:math:`\lambda`) is a Python float or a 0-d tensor; it receives no gradient.

    Example::

        >>> x = torch.ones(2, requires_grad=True)
        >>> GradientReverseFunction.apply(x, 0.5).sum().backward()
        >>> x.grad
        tensor([-0.5000, -0.5000])
    """

    @staticmethod
    def forward(ctx: Any, input: Tensor, coeff: float | Tensor = 1.0) -> Tensor:
        ctx.coeff = coeff
        return input * 1.0

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        return grad_output.neg() * ctx.coeff, None


class GradientReverseLayer(nn.Module):
    r"""Module form of :class:`GradientReverseFunction`; ``forward(input, coeff=1.0)``.

    Called with one tensor, the coefficient is 1 for ever (no warm-up), as OSBP uses it.

    Example::

        >>> grl = GradientReverseLayer()
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> (grl(x) * torch.tensor([3.0, 4.0])).sum().backward()
        >>> x.grad
        tensor([-3., -4.])
    """

    def forward(self, *input: Any) -> Tensor:
        return GradientReverseFunction.apply(*input)


class WarmStartGradientReverseLayer(nn.Module):
    r"""Gradient reversal whose coefficient warms up from ``lo`` to ``hi``.

    At iteration :math:`i` the coefficient is

    .. math::
        \lambda_i = \frac{2(hi - lo)}{1 + \exp(-\alpha i / N)} - (hi - lo) + lo
                  = lo + (hi - lo) \tanh\left(\frac{\alpha i}{2N}\right),

    with :math:`N` = ``max_iters``. Note that :math:`\lambda_N` is not ``hi``: with the defaults
    :math:`\lambda_{1000} = \tanh(0.5) \approx 0.462`; ``hi`` is reached only asymptotically.

    With ``auto_step=True`` each forward call first computes :math:`\lambda` from the current counter
    and then advances the counter, so the first call uses :math:`\lambda_0 = lo` (with ``lo=0`` the
    features get exactly zero adversarial gradient on the first step). The counter counts forward
    calls, not optimiser steps. Without ``auto_step`` call :meth:`step`.

    Difference from the reference library: the counter is a buffer (``iter_num``, int64), so it is in
    ``state_dict()`` and a resumed run continues the schedule; it moves with ``.to()`` and the
    coefficient is computed on its device, so a forward pass never synchronises with a GPU. The
    reference's removed ``np.float`` is not used.

    Args:
        alpha: steepness :math:`\alpha \ge 0`. Default 1.0.
        lo: initial coefficient. Default 0.0.
        hi: asymptotic coefficient. Default 1.0.
        max_iters: :math:`N > 0`, the schedule's time scale. Default 1000.
        auto_step: advance the counter after every forward call. Default False.

    Example::

        >>> grl = WarmStartGradientReverseLayer(alpha=1.0, lo=0.0, hi=1.0, max_iters=1000,
        ...                                     auto_step=True)
        >>> _ = grl(torch.randn(4, 8))  # uses lambda_0 = 0, then the counter is 1
        >>> round(grl.coefficient, 6), int(grl.iter_num)
        (0.0005, 1)
        >>> sorted(grl.state_dict())
        ['iter_num']
    """

    iter_num: Tensor

    def __init__(
        self,
        alpha: float = 1.0,
        lo: float = 0.0,
        hi: float = 1.0,
        max_iters: int = 1000,
        auto_step: bool = False,
    ) -> None:
        super().__init__()
        check_positive("alpha", alpha, allow_zero=True)
        check_positive("max_iters", max_iters)
        for name, value in (("lo", lo), ("hi", hi)):
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        self.alpha = float(alpha)
        self.lo = float(lo)
        self.hi = float(hi)
        self.max_iters = max_iters
        self.auto_step = auto_step
        self.register_buffer("iter_num", torch.zeros((), dtype=torch.int64))

    def _coefficient(self) -> Tensor:
        """:math:`\\lambda` at the current counter, as a 0-d float64 tensor on the counter's device."""
        i = self.iter_num.to(torch.float64)
        span = self.hi - self.lo
        return 2.0 * span / (1.0 + torch.exp(-self.alpha * i / self.max_iters)) - span + self.lo

    @property
    def coefficient(self) -> float:
        """The coefficient the next forward call will use, as a Python float."""
        return float(self._coefficient())

    def forward(self, input: Tensor) -> Tensor:
        coeff = self._coefficient()
        if self.auto_step:
            self.step()
        return GradientReverseFunction.apply(input, coeff)

    def step(self) -> None:
        """Advance the schedule by one iteration."""
        self.iter_num.add_(1)

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, lo={self.lo}, hi={self.hi}, max_iters={self.max_iters}, "
            f"auto_step={self.auto_step}"
        )
