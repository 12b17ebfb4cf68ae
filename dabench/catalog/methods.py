"""Every built-in method as the command line and the registry know it without building it: its
name, the settings it supports and its defaults (the reference's, for fine-tuning an ImageNet
backbone; per setting where the reference's example for that setting uses others; per model family
where a small network trained from scratch needs others, with the measurement that says why).

The recipes of ``dabench.methods`` take these declarations (``class DANN(Recipe,
info=DANN)``), so the defaults a trial gets and those ``dabench methods`` prints are one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dabench.catalog.defaults import REFERENCE_STEPS, budget_relative
from dabench.names import did_you_mean
from dabench.task_settings import SETTINGS


@dataclass(frozen=True, eq=False)
class MethodInfo:
    """A method known without building it: ``name``, the ``settings`` it supports, its
    ``defaults``, its ``setting_defaults`` (setting → overrides) and its ``family_defaults``
    (model family → overrides), layered by :func:`dabench.catalog.defaults.config_defaults`."""

    name: str
    settings: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    setting_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    family_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wrong = [s for s in self.settings if s not in SETTINGS]
        if not self.settings or wrong:
            raise ValueError(f"method {self.name!r}: settings must be among {', '.join(SETTINGS)} "
                             f"(at least one); got {self.settings!r}")  # fmt: skip


ERM_DEFAULTS: dict[str, Any] = {
    "lr": 0.001,
    **budget_relative(REFERENCE_STEPS, lr_gamma=0.0003),
    "weight_decay": 5e-4,
}
"""The optimiser of the reference's open-set and partial ``erm.py`` (spec §2.5, §4.3)."""

GRL_DEFAULTS: dict[str, Any] = {
    "grl_alpha": 1.0,
    "grl_lo": 0.0,
    "grl_hi": 1.0,
    **budget_relative(REFERENCE_STEPS, grl_max_iters=1000),
}
"""The reference's warm-start schedule (spec §1.2, ``max_iters`` 1000 of its 20,000 steps); the
coefficient rises from ``grl_lo`` towards ``grl_hi`` over about ``grl_warmup`` of the trial's
steps."""

CDAN_DEFAULTS: dict[str, Any] = {
    "randomized": False,
    "randomized_dim": 1024,
    "entropy_conditioning": False,
}

PRETRAIN_REFERENCE_STEPS = (3 + 20) * 1000
"""Steps of the reference's ADDA and BSP runs: 3 epochs of source pre-training, then 20
adversarial epochs, of 1,000 iterations each (spec §2.3, §2.4)."""

PRETRAIN_DEFAULTS: dict[str, Any] = {"pretrain_fraction": 3 / 23, "pretrain_lr": 0.001}
"""The reference pre-trains 3 epochs on the source before 20 adversarial epochs (so 3/23 of the
steps) with SGD at lr 0.001 and the script's schedule (spec §2.3, §2.4)."""

SCRATCH_PRETRAINING: dict[str, Any] = {"pretrain_fraction": 0.3, "pretrain_lr": 0.01}
"""Pre-training of a small network from scratch: long and fast enough to learn the source
(``reports/recipes.md``: on ``digits/synth2hand`` at 1,500 steps the reference's 0.001 for 3/23 of
the steps ends at 35 % source-val accuracy, 0.01 for 30 % at 97 %)."""

SOURCE_ONLY = MethodInfo(
    "source_only", ("closed", "open_set", "partial", "segmentation"), {"threshold": 0.8},
    {"open_set": ERM_DEFAULTS, "partial": {**ERM_DEFAULTS, "batch_size": 36}},
)  # fmt: skip
"""Source only, the lower baseline; open-set and partial: the reference's ``erm.py`` of those
settings (lr 0.001, ``lr_gamma`` 0.0003, weight decay 5e-4; partial: batch 36)."""

TARGET_ORACLE = MethodInfo(
    "target_oracle", SOURCE_ONLY.settings, setting_defaults=SOURCE_ONLY.setting_defaults
)
"""The target-supervised upper baseline: source-only's optimiser defaults, per setting."""

DANN = MethodInfo(
    "dann", ("closed", "open_set", "partial"),
    {"trade_off": 1.0, **GRL_DEFAULTS, "disc_hidden": 1024, "threshold": 0.8},
    {"open_set": {"lr": 0.002}, "partial": {"lr": 0.002, "batch_size": 36}},
)  # fmt: skip
"""DANN; the reference's open-set and partial ``dann.py`` use lr 0.002 (partial: batch 36)."""

_DANN_CLOSED = {key: value for key, value in DANN.defaults.items() if key != "threshold"}

CDAN = MethodInfo("cdan", ("closed",), {**_DANN_CLOSED, **CDAN_DEFAULTS}, DANN.setting_defaults)
"""CDAN: DANN's defaults (no open-set threshold) and the conditioning's."""

ADDA = MethodInfo(
    "adda", ("closed",),
    {**PRETRAIN_DEFAULTS, **GRL_DEFAULTS, "grl_hi": 2.0, "disc_hidden": 1024, "lr": 0.001,
     **budget_relative(PRETRAIN_REFERENCE_STEPS, lr_gamma=0.0003, grl_max_iters=1000),
     "source_dropout": True},
    family_defaults={"scratch": {**SCRATCH_PRETRAINING, "lr": 0.001}},
)  # fmt: skip
"""ADDA: the budget-relative keys over the reference's 23,000 steps. From scratch the source model
must be learnt before the adversarial stage: pre-training at 0.01 for 30 % of the run (0.001 for
3/23 of 1,500 steps left ADDA at 20 % on ``digits/synth2hand``); the adversarial stage keeps the
reference's 0.001 (0.01 measured lower). ``reports/recipes.md``."""

BSP = MethodInfo(
    "bsp", ("closed",),
    {**CDAN.defaults, **PRETRAIN_DEFAULTS, "adversary": "dann", "trade_off_bsp": 2e-4, "lr": 0.003,
     **budget_relative(PRETRAIN_REFERENCE_STEPS, lr_gamma=0.001, grl_max_iters=1000)},
    CDAN.setting_defaults, {"scratch": {**SCRATCH_PRETRAINING, "trade_off_bsp": 1e-4}},
)  # fmt: skip
"""BSP: lr 0.003, ``trade_off_bsp`` 2e-4, the budget-relative keys over 23,000 steps (as ADDA's).
From scratch: the reference's digit recipe's penalty (1e-4, its .sh files) and ADDA's pre-training;
lr 0.01 as every scratch recipe (``reports/recipes.md``)."""

OSBP = MethodInfo(
    "osbp", ("open_set",),
    {"osbp_t": 0.5, "trade_off": 1.0, "lr": 0.001,
     **budget_relative(REFERENCE_STEPS, lr_gamma=0.0003), "weight_decay": 5e-4},
)  # fmt: skip
"""OSBP (spec §2.5): lr 0.001, ``lr_gamma`` 0.0003, weight decay 5e-4; ``trade_off`` fixed at 1."""

PADA = MethodInfo(
    "pada", ("partial",),
    {**_DANN_CLOSED, "temperature": 0.1,
     **budget_relative(REFERENCE_STEPS, class_weight_update_steps=500), "batch_size": 36,
     "lr": 0.002},
    DANN.setting_defaults, {"scratch": {"class_weight_updates": 3.0}},
)  # fmt: skip
"""PADA: batch 36, lr 0.002, class weights every 500 of 20,000 steps (40 updates). A network from
scratch predicts the target at random early on: weights recomputed 40 times (from step 38 of
1,500) fix on that noise and starve most source classes (source-val 52 %, target 30 % on
``digits-partial/synth2blend``); 3 updates, the first after a third of the run, let the classifier
learn first (``reports/recipes.md``)."""

IWAN = MethodInfo(
    "iwan", ("partial",),
    {"trade_off": 3.0, "trade_off_entropy": 0.1, **GRL_DEFAULTS, "disc_hidden": 1024,
     "batch_size": 36, "lr": 0.001},
)  # fmt: skip
"""IWAN (spec §2.7): ``trade_off`` 3, ``trade_off_entropy`` 0.1, batch 36, lr 0.001."""

ADVENT = MethodInfo(
    "advent", ("segmentation",), {"trade_off": 1e-3, "lr_d": 1e-4, "disc_width": 64}
)
"""ADVENT (spec §2.8): ``trade_off`` 1e-3, the discriminator's Adam at ``lr_d`` 1e-4."""

METHODS: dict[str, MethodInfo] = {
    info.name: info
    for info in (SOURCE_ONLY, TARGET_ORACLE, DANN, CDAN, ADDA, BSP, OSBP, PADA, IWAN, ADVENT)
}
"""Every built-in method by name; :data:`dabench.methods.registry.METHODS` holds its recipe."""


def method_info(name: str) -> MethodInfo:
    """The built-in method ``name``; ``ValueError`` listing the known ones for another."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}{did_you_mean(name, METHODS)}; known methods: "
                         f"{', '.join(sorted(METHODS))}")  # fmt: skip
    return METHODS[name]
