"""Source only: supervised training on labelled source data, no adaptation (the lower baseline)."""

from __future__ import annotations

from torch import Tensor

from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe, logits_of
from dabench.methods.registry import register_method


@register_method
class SourceOnly(Recipe, info=catalog.SOURCE_ONLY):
    r""":math:`\min \mathbb{E}_{(x, y) \sim S}\, \mathrm{CE}(h(x), y)`. Target data are not used.

    Open-set: the model has :math:`C + 1` outputs; a target sample is "unknown" when its largest
    known-class probability is below ``threshold`` (the reference replaces the unknown column of
    the softmax by the threshold before the argmax; default 0.8).

    Open-set and partial: the reference's ``erm.py`` of those settings trains with lr 0.001,
    ``lr_gamma`` 0.0003 (``lr_anneal`` 6) and weight decay 5e-4 (partial: batch 36).
    """

    needs_target = False

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        y = logits_of(self.model(batch.x_s))
        loss = self.classification_loss(y, batch.y_s)
        return loss, {"cls_loss": loss.detach()}

    def decide(self, logits: Tensor) -> Tensor:
        return threshold_unknown(logits, self.task.setting, self.hp.get("threshold"))


def threshold_unknown(logits: Tensor, setting: str, threshold: float | None) -> Tensor:
    """Open-set prediction by thresholding: softmax, with the last ("unknown") column set to
    ``threshold`` (a key of open-set configs only). Other settings: the logits unchanged."""
    if setting != "open_set":
        return logits
    assert threshold is not None, "open-set configs carry a threshold"
    probabilities = logits.softmax(dim=1)
    probabilities[:, -1] = threshold
    return probabilities
