"""ADVENT (Vu et al., CVPR 2019): adversarial entropy minimisation for segmentation."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from dabench.adaptation.advent import Discriminator, DomainAdversarialEntropyLoss
from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe, Stage, schedule, sgd
from dabench.methods.registry import register_method


@register_method
class ADVENT(Recipe, info=catalog.ADVENT):
    r"""A fully-convolutional discriminator :math:`D` on the pixel-wise weighted self-information
    maps :math:`I = -p \log_2 p / \log_2 C` of the segmenter's softmax (spec §2.8). One step:

    .. math::
        \mathcal{L}_{seg} = \mathrm{CE}(S(x_s), y_s) + \text{trade\_off} \cdot
            \mathrm{BCE}\big(D(I_t), 1\big), \qquad
        \mathcal{L}_D = \tfrac12\big[\mathrm{BCE}(D(\bar I_s), 1) + \mathrm{BCE}(D(\bar I_t), 0)\big]

    :math:`D` is frozen while the segmenter's adversarial term is computed (so that term only
    trains the segmenter) and :math:`\bar I` are detached; the sum of both losses is back-propagated
    once, which gives each network exactly the reference's gradients. Two optimisers: the
    segmenter's SGD (lr 2.5e-3, wd 5e-4, no Nesterov, polynomial schedule — the segmentation
    defaults) and Adam for :math:`D` (``lr_d`` 1e-4, betas (0.9, 0.99), the same polynomial
    decay). ``trade_off`` 1e-3; ``disc_width`` is the discriminator's first width (64).
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "lr_d": (0.0, None, "()"),
        "disc_width": (1, None, "[)"),
    }

    def build(self) -> None:
        discriminator = Discriminator(self.task.num_classes, self.hp["disc_width"])
        self.domain_adv = DomainAdversarialEntropyLoss(discriminator).to(self.device)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "domain_adv": self.domain_adv}

    def optimizers(self, stage: Stage) -> list:
        adam = torch.optim.Adam(
            self.domain_adv.discriminator.parameters(),
            self.hp["lr_d"],
            betas=(0.9, 0.99),
            fused=True,  # one pass per parameter, as SGD (see sgd)
        )
        return [
            sgd(self.model.get_parameters(), self.hp, stage.steps),
            (adam, schedule(adam, self.hp, stage.steps, lr=1.0)),
        ]

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        assert batch.x_t is not None
        pred_s, pred_t = self.model(batch.x_s), self.model(batch.x_t)
        cls_loss = self.classification_loss(pred_s, batch.y_s)
        self.domain_adv.eval()  # D frozen: the adversarial term trains the segmenter only
        transfer_loss = self.domain_adv(pred_t, "source")
        self.domain_adv.train()
        disc_loss = 0.5 * (
            self.domain_adv(pred_s.detach(), "source") + self.domain_adv(pred_t.detach(), "target")
        )
        stats = {
            "cls_loss": cls_loss.detach(),
            "transfer_loss": transfer_loss.detach(),
            "disc_loss": disc_loss.detach(),
        }
        return cls_loss + self.hp["trade_off"] * transfer_loss + disc_loss, stats
