"""What a method is to the shared training loop: a :class:`Recipe`.

The loop (:func:`dabench.trainable.run_trial`) owns data, the optimiser steps, evaluation,
checkpoints and reporting. A recipe supplies only what differs between methods: the modules to
build, its optimisers and learning-rate schedules, its training stages (e.g. ADDA's source
pre-training), the loss of one step, and how to predict. Its name, settings and defaults are
declared in :mod:`dabench.catalog.methods` (the trial's common ones in
:mod:`dabench.catalog.defaults`).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from dabench import models
from dabench.catalog.methods import MethodInfo
from dabench.data.task import IGNORE_INDEX, Task
from dabench.modules.classifier import ImageClassifier


class Stage(NamedTuple):
    """A phase of training with its own optimisers (e.g. ``pretrain`` then ``adapt``)."""

    name: str
    steps: int


class Batch(NamedTuple):
    """One training step's data. ``y_t`` is ``None`` except for the target-supervised oracle."""

    x_s: Tensor
    y_s: Tensor
    x_t: Tensor | None
    y_t: Tensor | None = None


class Recipe(ABC):
    """Base recipe: a classifier (or segmenter) trained with cross-entropy on labelled batches.

    Subclasses take their ``name``, ``settings``, ``defaults``, ``setting_defaults`` and
    ``family_defaults`` from a :class:`~dabench.catalog.methods.MethodInfo` (``class
    DANN(Recipe, info=catalog.DANN)``: the built-in ones are declared in
    :mod:`dabench.catalog.methods`, so ``dabench methods`` lists them without torch; a recipe of
    one's own may set the five attributes instead), set ``ranges`` and ``choices`` for their own
    keys, and override :meth:`loss` (and, when they add modules, :meth:`build`, :meth:`modules`
    and :meth:`parameter_groups`). Methods with several
    phases override :meth:`stages` and :meth:`end_stage`; methods with their own optimisers
    override :meth:`optimizers`; methods with state outside their modules override
    :meth:`extra_state` and :meth:`load_extra_state` (so checkpoints capture it).

    Attributes:
        uses_target_labels: only the target-supervised oracle sets this; the loop then feeds
            labelled ``target_adapt`` batches. Every other recipe sees target inputs only.
        needs_target: whether the loop fetches ``target_adapt`` batches at all (source-only
            training does not).
    """

    name: ClassVar[str]
    settings: ClassVar[tuple[str, ...]]
    defaults: ClassVar[dict[str, Any]] = {}
    setting_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    family_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    uses_target_labels: ClassVar[bool] = False
    needs_target: ClassVar[bool] = True

    def __init_subclass__(cls, *, info: MethodInfo | None = None, **kwargs: Any) -> None:
        """With ``info``: the recipe's name, settings and defaults are that declaration's."""
        super().__init_subclass__(**kwargs)
        if info is not None:
            cls.name, cls.settings, cls.defaults = info.name, info.settings, info.defaults
            cls.setting_defaults, cls.family_defaults = info.setting_defaults, info.family_defaults

    def __init__(self, task: Task, hp: dict[str, Any], device: torch.device) -> None:
        self.task, self.hp, self.device = task, hp, device
        self.model = self.build_model().to(device)
        self.stage = ""
        self.build()

    def build_model(self) -> nn.Module:
        """The classifier or segmenter (the task's default family)."""
        return build_model(self.task, self.hp)

    def build(self) -> None:  # noqa: B027  (a hook: most recipes add nothing)
        """Create the method's extra modules (discriminators, losses); none by default."""

    def modules(self) -> dict[str, nn.Module]:
        """Every module whose state makes up the method (checkpointed, put in train mode)."""
        return {"model": self.model}

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Parameter groups with *relative* learning rates (multiplied by ``lr`` and the schedule)."""
        return self.model.get_parameters()

    def stages(self, steps: int) -> list[Stage]:
        """How the trial's ``steps`` divide into stages; one ``main`` stage by default."""
        return [Stage("main", steps)]

    def begin_stage(self, stage: Stage) -> None:
        """Enter ``stage`` (also when a trial resumes inside it): set flags, freeze modules.
        Must not change module state — a resumed trial loads its checkpoint after this call."""
        self.stage = stage.name

    def end_stage(self, stage: Stage) -> None:  # noqa: B027  (a hook)
        """Leave ``stage`` after its last step (e.g. copy the pre-trained model)."""

    def optimizers(self, stage: Stage) -> list[tuple[Optimizer, LRScheduler]]:
        """The optimisers of ``stage`` with their per-step schedules: by default one SGD over
        :meth:`parameter_groups` (momentum, weight decay, Nesterov from the config) with the
        configured learning-rate schedule."""
        return [sgd(self.parameter_groups(), self.hp, stage.steps)]

    def train(self, mode: bool = True) -> None:
        """Put every module in training (``True``) or evaluation mode."""
        for module in self.modules().values():
            module.train(mode)

    def extra_state(self) -> dict[str, Any]:
        """State outside :meth:`modules` that a checkpoint must keep (e.g. PADA's class weights)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027  (a hook)
        """Restore what :meth:`extra_state` returned."""

    @abstractmethod
    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss of one step and extra 0-d statistics to report (e.g. discriminator accuracy)."""

    def grl_coefficient(self) -> float | None:
        """The current gradient-reversal coefficient, for methods that have one."""
        return None

    def classification_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)

    def decide(self, logits: Tensor) -> Tensor:
        """Scores whose argmax over dimension 1 is the prediction, from the model's logits: the
        logits themselves by default (open-set thresholding methods override this)."""
        return logits

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Scores whose argmax over dimension 1 is the prediction (model in eval mode)."""
        return self.decide(logits_of(self.model(x)))

    @torch.no_grad()
    def logits_and_features(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The model's logits on ``x`` and, for a classifier, its features ``f`` (the bottleneck
        output fed to the head), in one forward pass (model in eval mode); a segmenter has no
        feature vector per sample (``None``). The validators read both."""
        model = self.model
        if isinstance(model, ImageClassifier):
            features = model.bottleneck(model.pool_layer(model.backbone(x)))
            return model.head(features), features
        return logits_of(model(x)), None


def sgd(
    groups: list[dict[str, Any]],
    hp: dict[str, Any],
    steps: int,
    lr: float | None = None,
) -> tuple[Optimizer, LRScheduler]:
    r"""SGD over ``groups`` (whose ``"lr"`` entries are multipliers) with the per-step schedule of
    ``hp["lr_schedule"]`` over a stage of ``steps`` steps (:func:`schedule`); ``lr`` overrides
    the config's. torch's fused implementation: one pass over each parameter for the weight
    decay, momentum and Nesterov terms, the same update as its per-tensor loop up to rounding, at
    a fraction of its time on the CPU (a CDAN trial's optimiser share fell from 15 % to 6 %:
    ``reports/profile.md``)."""
    lr = hp["lr"] if lr is None else lr
    momentum = hp["momentum"]
    optimizer = torch.optim.SGD(
        groups, lr, momentum=momentum, weight_decay=hp["weight_decay"],
        nesterov=hp["nesterov"] and momentum > 0, fused=True,
    )  # fmt: skip
    return optimizer, schedule(optimizer, hp, steps, lr)


def schedule(optimizer: Optimizer, hp: dict[str, Any], steps: int, lr: float) -> LRScheduler:
    r"""The configured per-step schedule, as multipliers of the groups' ``"lr"``: at step
    :math:`x` of a stage of :math:`X` steps, ``"inverse"`` gives
    :math:`\text{lr}\,(1 + a\,x / S)^{-d}` (:math:`a` = ``lr_anneal``, :math:`d` = ``lr_decay``,
    :math:`S` = the trial's ``steps``: the reference's :math:`\gamma = a / S` per step) and
    ``"poly"`` :math:`\text{lr}\,(1 - x / X)^{p}` (:math:`p` = ``lr_power``)."""
    if hp["lr_schedule"] == "poly":
        power = hp["lr_power"]
        return LambdaLR(optimizer, lambda x: lr * max(0.0, 1 - x / max(steps, 1)) ** power)
    decay, gamma = hp["lr_decay"], hp["lr_anneal"] / hp["steps"]
    return LambdaLR(optimizer, lambda x: lr * (1 + gamma * x) ** (-decay))


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` whose parameters take no gradient."""
    clone = copy.deepcopy(model)
    for parameter in clone.parameters():
        parameter.requires_grad_(False)
    return clone


def logits_of(output: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """The logits of a model's output: a classifier in training mode returns ``(logits,
    features)``, a segmenter (or a classifier in eval mode) the logits alone."""
    return output[0] if isinstance(output, tuple) else output


def build_model(
    task: Task, hp: dict[str, Any], classifier: type[ImageClassifier] = ImageClassifier
) -> nn.Module:
    """The task's model family: a segmenter for segmentation, otherwise a ``classifier`` (an
    :class:`~dabench.modules.classifier.ImageClassifier` or a subclass) on the task's backbone,
    or on the config's ``backbone`` where it names one."""
    pretrained = bool(hp.get("pretrained", False))
    if task.setting == "segmentation":
        return models.build_segmenter(
            task.model, task.num_classes, in_channels=task.input_shape[0], pretrained=pretrained
        )
    in_channels = task.input_shape[0] if len(task.input_shape) == 3 else None
    name = hp.get("backbone") or task.model
    backbone = models.build_backbone(name, in_channels=in_channels, pretrained=pretrained)
    return classifier(backbone, task.num_classes, hp["bottleneck_dim"], finetune=pretrained)
