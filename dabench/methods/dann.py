"""DANN (Ganin et al., JMLR 2016): source cross-entropy plus the domain-adversarial loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from dabench.adaptation.dann import DomainAdversarialLoss
from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe
from dabench.methods.registry import register_method
from dabench.methods.source_only import threshold_unknown
from dabench.modules.domain_discriminator import DomainDiscriminator
from dabench.modules.grl import WarmStartGradientReverseLayer


def warm_start_grl(hp: dict[str, Any]) -> WarmStartGradientReverseLayer:
    """The GRL of the config's schedule, stepping itself on every forward:
    ``max_iters = grl_warmup · steps`` (the trial's steps)."""
    return WarmStartGradientReverseLayer(
        hp["grl_alpha"], hp["grl_lo"], hp["grl_hi"], hp["grl_warmup"] * hp["steps"],
        auto_step=True,
    )  # fmt: skip


@register_method
class DANN(Recipe, info=catalog.DANN):
    r"""One joint forward of ``cat(x_s, x_t)`` (BatchNorm statistics over both domains), then

    .. math::
        \mathcal{L} = \mathrm{CE}(h(x_s), y_s) + \text{trade\_off} \cdot
                      \mathcal{L}_{adv}(f_s, f_t)

    with :class:`~dabench.adaptation.dann.DomainAdversarialLoss` on the bottleneck features, a
    ``DomainDiscriminator(features_dim, disc_hidden)`` and the warm-start GRL schedule
    (``grl_alpha``, ``grl_lo``, ``grl_hi``, ``grl_warmup``), all optimised by one SGD step
    (spec §2.1). Open-set: :math:`C + 1` outputs and threshold prediction, as the reference's
    open-set DANN baseline. The reference's open-set and partial ``dann.py`` use lr 0.002
    (partial: batch 36).

    Subclasses change the adversary through :meth:`build_adversary` and :meth:`transfer_loss`.
    """

    def build(self) -> None:
        self.domain_adv = self.build_adversary().to(self.device)

    def build_adversary(self) -> nn.Module:
        """The domain-adversarial loss with its discriminator and GRL (CDAN and BSP override it)."""
        discriminator = DomainDiscriminator(self.model.features_dim, self.hp["disc_hidden"])
        return DomainAdversarialLoss(discriminator, grl=warm_start_grl(self.hp))

    def transfer_loss(self, y_s: Tensor, f_s: Tensor, y_t: Tensor, f_t: Tensor) -> Tensor:
        """The adversarial loss of one step (logits ``y``, features ``f``)."""
        return self.domain_adv(f_s, f_t)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "domain_adv": self.domain_adv}

    def parameter_groups(self) -> list[dict]:
        return self.model.get_parameters() + self.domain_adv.domain_discriminator.get_parameters()

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        assert batch.x_t is not None
        n_s = len(batch.x_s)
        y, f = self.model(torch.cat((batch.x_s, batch.x_t)))
        cls_loss = self.classification_loss(y[:n_s], batch.y_s)
        adaptation, stats = self.adaptation_loss(y[:n_s], f[:n_s], y[n_s:], f[n_s:])
        return cls_loss + adaptation, {"cls_loss": cls_loss.detach(), **stats}

    def adaptation_loss(
        self, y_s: Tensor, f_s: Tensor, y_t: Tensor, f_t: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Everything the step adds to the source cross-entropy, with its statistics."""
        transfer_loss = self.transfer_loss(y_s, f_s, y_t, f_t)
        stats = {
            "transfer_loss": transfer_loss.detach(),
            "disc_acc": self.domain_adv.domain_discriminator_accuracy,
        }
        return self.hp["trade_off"] * transfer_loss, stats

    def grl_coefficient(self) -> float:
        return self.domain_adv.grl.coefficient

    def decide(self, logits: Tensor) -> Tensor:
        return threshold_unknown(logits, self.task.setting, self.hp.get("threshold"))
