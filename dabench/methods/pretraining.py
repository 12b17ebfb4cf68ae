"""Source pre-training before adaptation, as the reference's ADDA and BSP examples do."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from dabench.methods.base import Batch, Stage, logits_of, sgd

PRETRAIN_RANGES: dict[str, tuple[float | None, float | None, str]] = {
    "pretrain_fraction": (0.0, 1.0, "[)"),
    "pretrain_lr": (0.0, None, "()"),
}


class SourcePretraining:
    """Mixin for a :class:`~dabench.methods.base.Recipe`: a ``pretrain`` stage of
    ``round(pretrain_fraction · steps)`` steps (at least 1 when the fraction is positive) trains
    the classifier by cross-entropy on source batches alone, with its own SGD at ``pretrain_lr``;
    the ``adapt`` stage that follows gets fresh optimisers (no momentum carried over) and a
    schedule that starts again from step 0. Target batches are not fetched while pre-training.
    """

    hp: dict[str, Any]
    stage: str

    def stages(self, steps: int) -> list[Stage]:
        fraction = self.hp["pretrain_fraction"]
        pretrain = min(steps, max(1, round(fraction * steps))) if fraction > 0 else 0
        return [
            s for s in (Stage("pretrain", pretrain), Stage("adapt", steps - pretrain)) if s.steps
        ]

    @property
    def needs_target(self) -> bool:
        return self.stage != "pretrain"

    def optimizers(self, stage: Stage) -> list:
        if stage.name == "pretrain":
            groups = self.model.get_parameters()  # type: ignore[attr-defined]
            return [sgd(groups, self.hp, stage.steps, lr=self.hp["pretrain_lr"])]
        return super().optimizers(stage)  # type: ignore[misc]

    def pretrain_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """Source cross-entropy: :math:`\\mathrm{CE}(h(x_s), y_s)`."""
        loss = self.classification_loss(logits_of(self.model(batch.x_s)), batch.y_s)  # type: ignore[attr-defined]
        return loss, {"cls_loss": loss.detach()}
