"""ADDA (Tzeng et al., CVPR 2017), as the reference's current example trains it."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from dabench.adaptation.dann import DomainAdversarialLoss
from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe, Stage, frozen_copy
from dabench.methods.dann import warm_start_grl
from dabench.methods.pretraining import (
    PRETRAIN_RANGES,
    SourcePretraining,
)
from dabench.methods.registry import register_method
from dabench.modules.domain_discriminator import DomainDiscriminator


@register_method
class ADDA(SourcePretraining, Recipe, info=catalog.ADDA):
    r"""Two stages (spec §2.3):

    1. ``pretrain``: the classifier learns the source by cross-entropy; at the end it is copied
       into a frozen *source model* (no gradients, BatchNorm statistics frozen).
    2. ``adapt``: the *target model* (the classifier, starting from the same weights) is trained
       so that a discriminator cannot tell its target features from the frozen source features:

       .. math::
           \mathcal{L} = \mathcal{L}_{adv}\big(f^{src}(x_s),\, f^{tgt}(x_t)\big)

       the DANN loss through a warm-start GRL with ``grl_hi = 2``; no classification loss. The
       head is not optimised (the source head is reused); SGD at lr 0.001, ``lr_gamma`` 0.0003.

    Budget-relative keys are counted over the reference's 23,000 steps (3 pre-training epochs and
    20 adversarial ones): ``lr_anneal`` 6.9, ``grl_warmup`` 1000/23000.

    Prediction uses the target model.

    ``source_dropout``: the reference freezes only the source model's BatchNorm, so its dropout
    layers stay active and the "frozen" source features are noisy for a network with dropout
    (LeNet; not the reference's ResNets). ``False`` turns them off too (the source model then
    computes exactly the features it was pre-trained to give at evaluation).
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        **PRETRAIN_RANGES,
        "pretrain_fraction": (0.0, 1.0, "()"),
    }

    def build(self) -> None:
        self.source_model = frozen_copy(self.model)
        discriminator = DomainDiscriminator(self.model.features_dim, self.hp["disc_hidden"])
        self.domain_adv = DomainAdversarialLoss(discriminator, grl=warm_start_grl(self.hp))
        self.domain_adv.to(self.device)

    def modules(self) -> dict[str, nn.Module]:
        return {
            "model": self.model,
            "source_model": self.source_model,
            "domain_adv": self.domain_adv,
        }

    def parameter_groups(self) -> list[dict[str, Any]]:
        return (
            self.model.get_parameters(optimize_head=False)
            + self.domain_adv.domain_discriminator.get_parameters()
        )

    def end_stage(self, stage: Stage) -> None:
        if stage.name == "pretrain":
            self.source_model.load_state_dict(self.model.state_dict())

    def train(self, mode: bool = True) -> None:
        super().train(mode)
        self.source_model.freeze_bn()
        if not self.hp["source_dropout"]:
            for module in self.source_model.modules():
                if isinstance(module, nn.modules.dropout._DropoutNd):
                    module.eval()

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        if self.stage == "pretrain":
            return self.pretrain_loss(batch)
        assert batch.x_t is not None
        with torch.no_grad():
            _, f_s = self.source_model(batch.x_s)
        _, f_t = self.model(batch.x_t)
        loss = self.domain_adv(f_s, f_t)
        return loss, {
            "transfer_loss": loss.detach(),
            "disc_acc": self.domain_adv.domain_discriminator_accuracy,
        }

    def grl_coefficient(self) -> float:
        return self.domain_adv.grl.coefficient
