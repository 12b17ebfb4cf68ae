"""What a method is to the shared training loop: a :class:`Recipe`.

The loop (:func:`dabench.trainable.run_trial`) owns data, optimisation, the learning-rate schedule,
evaluation and reporting. A recipe supplies only what differs between methods: the modules to
build, their parameter groups, the loss of one step, and how to predict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dabench.data.task import IGNORE_INDEX, Task
from dabench.modules.classifier import ImageClassifier

COMMON_DEFAULTS: dict[str, Any] = {
    "lr": 0.01,
    "lr_gamma": 0.001,
    "lr_decay": 0.75,
    "momentum": 0.9,
    "weight_decay": 1e-3,
    "nesterov": True,
    "batch_size": 32,
    "bottleneck_dim": 256,
}
"""The reference classification examples' optimiser and model defaults (spec §1.8, §2.1)."""


class Batch(NamedTuple):
    """One training step's data. ``y_t`` is ``None`` except for the target-supervised oracle."""

    x_s: Tensor
    y_s: Tensor
    x_t: Tensor | None
    y_t: Tensor | None = None


class Recipe(ABC):
    """Base recipe: a classifier (or segmenter) trained with cross-entropy on labelled batches.

    Subclasses set ``name``, ``settings``, ``defaults`` and override :meth:`loss` (and, when they
    add modules, :meth:`build` and :meth:`parameter_groups`).

    Attributes:
        uses_target_labels: only the target-supervised oracle sets this; the loop then feeds
            labelled ``target_adapt`` batches. Every other recipe sees target inputs only.
        needs_target: whether the loop fetches ``target_adapt`` batches at all (source-only
            training does not).
    """

    name: ClassVar[str]
    settings: ClassVar[tuple[str, ...]]
    defaults: ClassVar[dict[str, Any]] = {}
    uses_target_labels: ClassVar[bool] = False
    needs_target: ClassVar[bool] = True

    def __init__(self, task: Task, hp: dict[str, Any], device: torch.device) -> None:
        self.task, self.hp, self.device = task, hp, device
        self.model = build_model(task, hp).to(device)
        self.build()

    def build(self) -> None:  # noqa: B027  (a hook: most recipes add nothing)
        """Create the method's extra modules (discriminators, losses); none by default."""

    def modules(self) -> dict[str, nn.Module]:
        """Every module whose state makes up the method (checkpointed, moved, put in train mode)."""
        return {"model": self.model}

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Parameter groups with *relative* learning rates (multiplied by ``lr`` and the schedule)."""
        return self.model.get_parameters()

    @abstractmethod
    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss of one step and extra 0-d statistics to report (e.g. discriminator accuracy)."""

    def grl_coefficient(self) -> float | None:
        """The current gradient-reversal coefficient, for methods that have one."""
        return None

    def classification_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Scores whose argmax over dimension 1 is the prediction (model in eval mode)."""
        return self.model(x)


def logits_of(output: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """The logits of a model's output: a classifier in training mode returns ``(logits,
    features)``, a segmenter (or a classifier in eval mode) the logits alone."""
    return output[0] if isinstance(output, tuple) else output


def build_model(task: Task, hp: dict[str, Any]) -> nn.Module:
    """The task's model family: a segmenter for segmentation, otherwise an
    :class:`~dabench.modules.classifier.ImageClassifier` on the task's backbone."""
    from dabench import models

    pretrained = bool(hp.get("pretrained", False))
    if task.setting == "segmentation":
        return models.build_segmenter(
            task.model, task.num_classes, in_channels=task.input_shape[0], pretrained=pretrained
        )
    in_channels = task.input_shape[0] if len(task.input_shape) == 3 else None
    backbone = models.build_backbone(task.model, in_channels=in_channels, pretrained=pretrained)
    return ImageClassifier(backbone, task.num_classes, hp["bottleneck_dim"], finetune=pretrained)
