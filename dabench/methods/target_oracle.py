"""Target oracle: supervised on the *labelled* target-adapt split — the upper baseline.

This is the only recipe that reads target labels, and its results are always reported as an
oracle (what a method could reach with target labels), never as an adaptation result.
"""

from __future__ import annotations

from torch import Tensor

from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe, logits_of
from dabench.methods.registry import register_method


@register_method
class TargetOracle(Recipe, info=catalog.TARGET_ORACLE):
    r""":math:`\min \mathbb{E}_{(x, y) \sim T_{adapt}}\, \mathrm{CE}(h(x), y)` with target labels
    (open-set: the unknown class is a trained class, predicted by plain argmax). Same optimiser
    defaults as source-only, per setting."""

    uses_target_labels = True

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        assert batch.x_t is not None and batch.y_t is not None
        y = logits_of(self.model(batch.x_t))
        loss = self.classification_loss(y, batch.y_t)
        return loss, {"cls_loss": loss.detach()}
