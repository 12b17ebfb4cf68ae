"""A trial's defaults, layer by layer: the loop's keys, the reference's common optimiser and model
defaults, those of a setting and those of a model family; :func:`config_defaults` stacks them with
a method's own (:mod:`dabench.catalog.methods`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dabench.catalog.models import family

LOOP_DEFAULTS: dict[str, Any] = {
    "method": None,
    "task": None,
    "root": None,
    "seed": 0,
    "data_seed": 0,
    "steps": 1000,
    "eval_every": 250,
    "eval_batch_size": 512,
    "device": "auto",
    "num_workers": 0,
    "pretrained": False,
    "backbone": None,
    "image_size": None,
    "precision": "fp32",
    "channels_last": True,
    "a_distance": False,
    "costly_validators": "last",
}
"""Keys every trial accepts besides the method's hyperparameters. ``seed`` drives initialisation
and batch order; ``data_seed`` the generated data and the splits (fixed across seeds by default);
``pretrained``: start the backbone from ImageNet weights (ResNets); ``backbone``: another ResNet
than the task's (``None``: the task's model; e.g. ``resnet101``, the reference's VisDA-2017
backbone) and ``image_size``: the crop a real-data ResNet task's images are cut to (``None``:
224, after a resize to 256; a smaller size scales the resize alike), both for ResNet tasks only
(:func:`dabench.catalog.datasets.resizable`); ``precision`` and ``channels_last``: see
:mod:`dabench.precision`; ``a_distance``: also report the proxy A-distance between the
source-val and target-val features at every evaluation (:func:`dabench.analysis.a_distance`;
classification only; its cost: ``reports/analysis.md``); ``costly_validators``: ``last`` scores
SND, ClassAMI and DEV (:data:`dabench.validators.COSTLY`, seconds each) at the trial's last
evaluation only — where a trial-level pick reads them —, ``every`` at every evaluation (for
checkpoint-level analysis; a sweep whose objective is one of them asks for it), ``never`` not at
all (a search whose objective and reports need none of them: a 1-step trial of the bundled MLP
spends about three quarters of its time on them)."""

REFERENCE_STEPS = 20 * 1000
"""Steps of the reference's default run (its adversarial scripts train 20 epochs of 1,000
iterations, spec §4.1): the count its step-counted hyperparameters were set for."""


def budget_relative(
    reference_steps: int,
    *,
    lr_gamma: float | None = None,
    grl_max_iters: float | None = None,
    class_weight_update_steps: int | None = None,
) -> dict[str, float]:
    r"""The reference's step-counted hyperparameters of a ``reference_steps``-step run, as the
    budget-relative keys dabench uses, so that a trial of ``steps`` steps schedules the same
    *shape* whatever its length, and exactly the reference's schedule at ``reference_steps``:

    * ``lr_anneal`` :math:`= \gamma \cdot S_{ref}`: the inverse schedule's
      :math:`(1 + \gamma x)^{-d}` becomes :math:`(1 + \text{lr\_anneal} \cdot x / S)^{-d}`;
    * ``grl_warmup`` :math:`= \text{max\_iters} / S_{ref}`: the GRL warms up over
      ``grl_warmup · S`` steps;
    * ``class_weight_updates`` :math:`= S_{ref} / \text{update\_steps}`: PADA recomputes its class
      weights every ``S / class_weight_updates`` steps.

    Example::

        >>> budget_relative(20000, lr_gamma=0.001, grl_max_iters=1000, class_weight_update_steps=500)
        {'lr_anneal': 20.0, 'grl_warmup': 0.05, 'class_weight_updates': 40.0}
    """
    relative = {
        "lr_anneal": None if lr_gamma is None else lr_gamma * reference_steps,
        "grl_warmup": None if grl_max_iters is None else grl_max_iters / reference_steps,
        "class_weight_updates": None
        if class_weight_update_steps is None
        else reference_steps / class_weight_update_steps,
    }  # rounded to 12 significant digits: 6.9, not 6.8999999999999995
    return {key: float(f"{value:.12g}") for key, value in relative.items() if value is not None}


COMMON_DEFAULTS: dict[str, Any] = {
    "lr": 0.01,
    **budget_relative(REFERENCE_STEPS, lr_gamma=0.001),
    "lr_decay": 0.75,
    "momentum": 0.9,
    "weight_decay": 1e-3,
    "nesterov": True,
    "batch_size": 32,
    "bottleneck_dim": 256,
    "lr_schedule": "inverse",
    "lr_power": 0.9,
}
r"""The reference classification examples' optimiser and model defaults (spec §1.8, §2.1).

``lr_schedule``: ``"inverse"`` is :math:`\text{lr}\,(1 + a\,x / S)^{-\text{decay}}` with
:math:`a` = ``lr_anneal`` and :math:`S` the trial's steps (the reference's
:math:`(1 + \gamma x)^{-\text{decay}}` with :math:`\gamma = a / S`; classification),
``"poly"`` is :math:`\text{lr}\,(1 - x / X)^{\text{power}}` over the stage's :math:`X` steps
(segmentation, spec §2.8). :math:`x` counts the steps of the current stage."""

SETTING_DEFAULTS: dict[str, dict[str, Any]] = {
    "segmentation": {
        "lr": 2.5e-3,
        "weight_decay": 5e-4,
        "nesterov": False,
        "lr_schedule": "poly",
    },
}
"""Defaults that differ by setting, applied to every recipe of that setting (the reference's
segmentation examples, source-only included, train with SGD 2.5e-3, wd 5e-4, no Nesterov and the
polynomial schedule)."""

SCRATCH_CLASSIFICATION: dict[str, Any] = {"lr": 0.01, "lr_anneal": 2.0}
"""Small classifiers trained from scratch (every bundled classification task; the reference's
LeNet/DTN digit recipes): lr 0.01 for every method and baseline, the reference's digit rate
(MNIST→USPS; its fine-tuning defaults are 0.001–0.003 for ADDA, BSP, OSBP, IWAN and the
open-set/partial ERM, set for ImageNet backbones whose own layers train at a tenth of it), and a
gentler annealing than the fine-tuning 20: at the bundled tasks' 300–2,000 steps the inverse
schedule with ``lr_anneal`` 20 leaves a network from scratch too few steps at a useful rate (the
reference's digit runs take 50,000 steps). Both measured in ``reports/recipes.md``."""

FAMILY_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "finetune": {},
    "scratch": {setting: SCRATCH_CLASSIFICATION for setting in ("closed", "open_set", "partial")},
}
"""Defaults of every recipe by model family (:func:`dabench.catalog.models.family` of the task's
model) and setting, applied over the recipe's own (fine-tuning) defaults; a recipe adds its own in
``family_defaults``. ``finetune``: the reference's ImageNet-backbone recipes, unchanged.
``scratch``: :data:`SCRATCH_CLASSIFICATION` for classification; segmentation keeps the
reference's optimiser (:data:`SETTING_DEFAULTS`)."""


class MethodDefaults(Protocol):
    """What :func:`config_defaults` reads of a method: a
    :class:`~dabench.catalog.methods.MethodInfo` or a :class:`~dabench.methods.base.Recipe`."""

    defaults: Mapping[str, Any]
    setting_defaults: Mapping[str, Mapping[str, Any]]
    family_defaults: Mapping[str, Mapping[str, Any]]


def config_defaults(method: MethodDefaults, setting: str, model: str) -> dict[str, Any]:
    """Every key a trial of ``method`` accepts on a task of ``setting`` and ``model``, with its
    default: the loop's, then the common, setting, method, method-setting and model-family
    defaults, each layer over the previous.

    Example::

        >>> from dabench.catalog.methods import METHODS
        >>> config = config_defaults(METHODS["dann"], "closed", "lenet")
        >>> config["lr"], config["lr_anneal"], config["trade_off"], config["steps"]
        (0.01, 2.0, 1.0, 1000)
    """
    kind = family(model)
    return {
        **LOOP_DEFAULTS, **COMMON_DEFAULTS, **SETTING_DEFAULTS.get(setting, {}),
        **method.defaults, **method.setting_defaults.get(setting, {}),
        **FAMILY_DEFAULTS[kind].get(setting, {}), **method.family_defaults.get(kind, {}),
    }  # fmt: skip
