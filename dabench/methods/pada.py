"""PADA (Cao et al., ECCV 2018): DANN with class weights estimated from target predictions."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from dabench.adaptation.pada import AutomaticUpdateClassWeightModule
from dabench.catalog import methods as catalog
from dabench.data.loading import EvalBatches
from dabench.methods.base import Batch
from dabench.methods.dann import DANN
from dabench.methods.registry import register_method


@register_method
class PADA(DANN, info=catalog.PADA):
    r"""DANN's joint step with class weights :math:`\gamma` (spec §2.6):

    .. math::
        \mathcal{L} = \frac{\sum_i \gamma_{y_i} \mathrm{CE}_i}{\sum_i \gamma_{y_i}}
            + \text{trade\_off} \cdot \mathcal{L}_{adv}(f_s, f_t; w_s = \gamma_{y},
              w_t = \bar\gamma_{y})

    :math:`\gamma = \overline{\mathrm{softmax}(h(x)/T)}` over all unlabelled target-adapt samples,
    divided by its maximum, recomputed ``class_weight_updates`` times over the run (every
    ``round(steps / class_weight_updates)`` steps; the reference's every 500 of 20,000 steps is 40
    updates; ``temperature`` :math:`T`). Classes the target lacks get small weights, so neither the
    classifier nor the discriminator is pulled towards them. Defaults: batch 36, lr 0.002.
    Reported: the mean weight of the classes the target really has and of the others (a
    diagnostic; the task knows them, training does not read them).
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "temperature": (0.0, None, "()"),
        "class_weight_updates": (0.0, None, "()"),
    }

    def build(self) -> None:
        super().build()
        hp = self.hp
        target_inputs = EvalBatches(
            self.task.split("target_adapt"), hp["eval_batch_size"], self.device, hp["num_workers"]
        )
        self.class_weights = AutomaticUpdateClassWeightModule(
            update_interval(hp), target_inputs, self.model, self.task.num_classes,
            self.device, hp["temperature"], partial_classes_index=self.task.shared_classes,
        )  # fmt: skip

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        assert batch.x_t is not None
        n_s = len(batch.x_s)
        y, f = self.model(torch.cat((batch.x_s, batch.x_t)))
        weights = self.class_weights
        cls_loss = F.cross_entropy(
            y[:n_s], batch.y_s, weight=weights.get_class_weight_for_cross_entropy_loss()
        )
        w_s, w_t = weights.get_class_weight_for_adversarial_loss(batch.y_s)
        transfer_loss = self.domain_adv(f[:n_s], f[n_s:], w_s, w_t)
        stats = {
            "cls_loss": cls_loss.detach(),
            "transfer_loss": transfer_loss.detach(),
            "disc_acc": self.domain_adv.domain_discriminator_accuracy,
        }
        if self.task.shared_classes is not None:
            shared, other = weights.get_partial_classes_weight()
            stats.update(class_weight_shared=shared, class_weight_other=other)
        weights.step()  # may recompute the weights; they apply from the next step
        return cls_loss + self.hp["trade_off"] * transfer_loss, stats

    def extra_state(self) -> dict[str, Any]:
        return {
            "class_weight": self.class_weights.class_weight,
            "num_steps": self.class_weights.num_steps,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.class_weights.class_weight = state["class_weight"].to(self.device)
        self.class_weights.num_steps = state["num_steps"]


def update_interval(hp: dict[str, Any]) -> int:
    """Steps between two class-weight updates: ``round(steps / class_weight_updates)``, at least 1."""
    return max(1, round(hp["steps"] / hp["class_weight_updates"]))
