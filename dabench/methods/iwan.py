"""IWAN (Zhang et al., CVPR 2018): importance-weighted adversarial nets for partial adaptation."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from dabench.adaptation.dann import DomainAdversarialLoss
from dabench.adaptation.iwan import ImportanceWeightModule
from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe
from dabench.methods.dann import warm_start_grl
from dabench.methods.registry import register_method
from dabench.modules.domain_discriminator import DomainDiscriminator
from dabench.modules.entropy import entropy


@register_method
class IWAN(Recipe, info=catalog.IWAN):
    r"""Two dropout discriminators (no BatchNorm), each in its own DANN loss and GRL (spec §2.7):
    :math:`D` learns to tell the domains apart on detached features and gives the source samples
    importance weights :math:`w = 1 - D(f_s)` (normalised to mean 1); :math:`D_0` is the
    adversary, with source samples weighted by :math:`w`:

    .. math::
        \mathcal{L} = \mathrm{CE}(h(x_s), y_s)
            + 1.5\,\text{trade\_off} \cdot \mathcal{L}_{adv}^{D}(\bar f_s, \bar f_t)
            + \text{trade\_off} \cdot \mathcal{L}_{adv}^{D_0}(f_s, f_t; w_s = w)
            + \text{trade\_off\_entropy} \cdot H\big(\mathrm{softmax}(h(x_t))\big)

    (:math:`\bar f`: no gradient). Defaults: ``trade_off`` 3, ``trade_off_entropy`` 0.1 (the
    reference's ``gamma``), batch 36, lr 0.001.
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "trade_off_entropy": (0.0, None, "[)"),
    }

    def build(self) -> None:
        features, hidden = self.model.features_dim, self.hp["disc_hidden"]
        weighting, adversary = (
            DomainDiscriminator(features, hidden, batch_norm=False) for _ in range(2)
        )
        self.weight_adv = DomainAdversarialLoss(weighting, grl=warm_start_grl(self.hp))
        self.domain_adv = DomainAdversarialLoss(adversary, grl=warm_start_grl(self.hp))
        self.weight_adv.to(self.device), self.domain_adv.to(self.device)
        self.importance = ImportanceWeightModule(weighting, self.task.shared_classes)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "weight_adv": self.weight_adv, "domain_adv": self.domain_adv}

    def parameter_groups(self) -> list[dict[str, Any]]:
        return (
            self.model.get_parameters()
            + self.weight_adv.domain_discriminator.get_parameters()
            + self.domain_adv.domain_discriminator.get_parameters()
        )

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        assert batch.x_t is not None
        n_s = len(batch.x_s)
        y, f = self.model(torch.cat((batch.x_s, batch.x_t)))
        y_s, y_t, f_s, f_t = y[:n_s], y[n_s:], f[:n_s], f[n_s:]
        cls_loss = self.classification_loss(y_s, batch.y_s)
        weight_loss = self.weight_adv(f_s.detach(), f_t.detach())
        w_s = self.importance.get_importance_weight(f_s)
        transfer_loss = self.domain_adv(f_s, f_t, w_s=w_s)
        target_entropy = entropy(y_t.softmax(dim=1), reduction="mean")
        hp = self.hp
        loss = (
            cls_loss
            + 1.5 * hp["trade_off"] * weight_loss
            + hp["trade_off"] * transfer_loss
            + hp["trade_off_entropy"] * target_entropy
        )
        stats = {
            "cls_loss": cls_loss.detach(),
            "transfer_loss": transfer_loss.detach(),
            "target_entropy": target_entropy.detach(),
            "disc_acc": self.domain_adv.domain_discriminator_accuracy,
            "weight_disc_acc": self.weight_adv.domain_discriminator_accuracy,
        }
        if self.task.shared_classes is not None:
            shared, other = self.importance.get_partial_classes_weight(w_s, batch.y_s)
            stats.update(importance_shared=shared, importance_other=other)
        return loss, stats

    def grl_coefficient(self) -> float:
        return self.domain_adv.grl.coefficient
