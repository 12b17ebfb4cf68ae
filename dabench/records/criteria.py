"""Selection criteria: what a sweep optimises and what picks a configuration, in one type.

A :class:`Criterion` is resolved for one setting and carries everything a pick needs, so no
caller can drop half of it: its ``name`` (as users type it: ``bnm``, ``source_val``,
``oracle``, ``train_loss``), the reported metric ``key`` it reads (``validator_bnm``,
``source_val_acc``, ``target_val_h_score``), its direction ``mode`` (``max`` or ``min``),
whether it uses target labels (only the oracle and the other ``target_val_*`` metrics do: they
read target-*val* labels), the settings it applies to, and its reporting twin ``test_key`` (the
target-test metric its picks are reported by).

The criteria of a setting:

* **label-free** — ``source_val`` (source-val accuracy, mIoU for segmentation) and every
  validator of the setting (:data:`dabench.validators.VALIDATORS`, all higher-is-better);
* **oracle** — the setting's headline target-val metric
  (:data:`~dabench.task_settings.HEADLINE_METRIC`), or another ``target_val_*`` metric by its
  key: uses target labels, so only when asked for;
* **reported metrics** with a declared direction (:data:`REPORTED`), e.g. ``train_loss``
  (minimised).

Target-*test* labels never select: a ``target_test_*`` key is refused wherever a criterion is
named (``--metric``, ``--select``), with the keys that are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from dabench.names import did_you_mean
from dabench.task_settings import HEADLINE_METRIC, SETTINGS, TARGET_METRICS
from dabench.validators import VALIDATORS, validators_for

ORACLE = "oracle"
SOURCE_VAL = "source_val"

DEFAULT: dict[str, str] = {"closed": "bnm", "partial": "guarded_source_val",
                           "open_set": "h_proxy", "segmentation": SOURCE_VAL}  # fmt: skip
"""The label-free criterion a sweep selects on when none is named, per setting, chosen on the
measurements of ``reports/selection.md``: on closed-set tasks BNM ranks checkpoints near the best
of all validators where source-val accuracy is blind to the shift; on partial tasks plain
source-val accuracy cannot see a model collapse onto one target class, so the collapse-guarded
source-val accuracy; on open-set tasks source-val accuracy, DEV, ClassAMI and known-IM all
prefer models that never reject, so the H-score proxy; segmentation keeps source-val mIoU."""

CLASSIFICATION = ("closed", "partial", "open_set")
REPORTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "train_loss": ("min", SETTINGS),
    "dev_ess": ("max", CLASSIFICATION),
    "predicted_top_class_pct": ("min", CLASSIFICATION),
    "source_val_pixel_acc": ("max", ("segmentation",)),
}
"""Reported metrics a sweep may also optimise, with their direction and settings: the training
loss (lower is better), DEV's effective sample size, the share of target-val decisions in the
most predicted class (lower: less collapsed) and source-val pixel accuracy. Diagnostics without a
direction (``predicted_unknown_pct``: how much an open-set model rejects) are no criterion."""


@dataclass(frozen=True)
class Criterion:
    """A selection criterion resolved for ``setting`` (see the module doc)."""

    name: str
    key: str
    mode: str
    uses_target_labels: bool
    setting: str
    settings: tuple[str, ...]
    test_key: str
    """The target-test metric its picks are reported by: the twin of a ``target_val_*`` key,
    else the setting's headline target-test metric."""

    @property
    def sign(self) -> int:
        """``+1`` when higher is better, ``-1`` when lower is (to rank by ``sign · value``)."""
        return 1 if self.mode == "max" else -1

    @property
    def label_use(self) -> str:
        """``oracle (target-val labels)`` or ``label-free``, as reports say it."""
        return "oracle (target-val labels)" if self.uses_target_labels else "label-free"

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than`` under this criterion."""
        return self.sign * value > self.sign * than


def source_key(setting: str) -> str:
    """The source-val metric of ``setting``: ``source_val_miou`` for segmentation, else
    ``source_val_acc``."""
    return "source_val_miou" if setting == "segmentation" else "source_val_acc"


def test_key(setting: str) -> str:
    """The headline target-test metric of ``setting`` (what a leaderboard cell reports)."""
    return f"target_test_{HEADLINE_METRIC[setting]}"


def _check_setting(setting: str) -> None:
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")


def oracle(setting: str) -> Criterion:
    """The oracle of ``setting``: its headline target-val metric (target-val labels)."""
    _check_setting(setting)
    metric = HEADLINE_METRIC[setting]
    return Criterion(ORACLE, f"target_val_{metric}", "max", True, setting, SETTINGS,
                     f"target_test_{metric}")  # fmt: skip


def label_free(setting: str) -> list[Criterion]:
    """The label-free criteria of ``setting``: ``source_val``, then its validators."""
    _check_setting(setting)
    test = test_key(setting)
    source = Criterion(SOURCE_VAL, source_key(setting), "max", False, setting, SETTINGS, test)
    return [source, *(Criterion(v.name, v.key, "max", False, setting, v.settings, test)
                      for v in validators_for(setting))]  # fmt: skip


def _reported(setting: str) -> list[Criterion]:
    """The reported metrics of ``setting`` that are criteria (:data:`REPORTED`, and every
    target-val metric but the headline one, which is the oracle)."""
    test = test_key(setting)
    found = [Criterion(key, key, mode, False, setting, settings, test)
             for key, (mode, settings) in REPORTED.items() if setting in settings]  # fmt: skip
    for metric in TARGET_METRICS[setting]:
        if metric != HEADLINE_METRIC[setting]:
            key = f"target_val_{metric}"
            found.append(Criterion(key, key, "max", True, setting, SETTINGS,
                                   f"target_test_{metric}"))  # fmt: skip
    return found


def every(setting: str) -> list[Criterion]:
    """Every criterion of ``setting``: the label-free ones, the oracle, the reported metrics."""
    return [*label_free(setting), oracle(setting), *_reported(setting)]


def accepted(setting: str) -> list[str]:
    """The names :func:`criterion` accepts for ``setting`` (keys are accepted too)."""
    return [c.name for c in every(setting)]


def criterion(name: str | None, setting: str) -> Criterion:
    """The criterion ``name`` (a criterion's name or its reported key; ``None``: the setting's
    :data:`DEFAULT`) of ``setting``. Raises ``ValueError`` naming what is accepted for a
    target-test key (test labels only report), a validator of another setting, or an unknown
    name."""
    _check_setting(setting)
    name = name or DEFAULT[setting]
    known = every(setting)
    for found in known:
        if name in (found.name, found.key):
            return found
    names = [c.name for c in known]
    if name.startswith("target_test_"):
        free = ", ".join(c.name for c in known if not c.uses_target_labels)
        oracles = ", ".join(c.name for c in known if c.uses_target_labels)
        raise ValueError(f"{name!r} reads target-test labels, which only report and never "
                         f"select; for {setting} tasks use a label-free criterion ({free}) or "
                         f"one on target-val labels ({oracles})")  # fmt: skip
    validator = VALIDATORS.get(name.removeprefix("validator_"))
    if validator is not None:
        own = ", ".join(c.name for c in label_free(setting))
        raise ValueError(f"{name!r} does not apply to {setting} tasks; their validators: {own} "
                         "(or oracle)")  # fmt: skip
    raise ValueError(f"{name!r}{did_you_mean(name, names)} is no criterion for {setting} tasks; "
                     f"accepted: {', '.join(names)}")  # fmt: skip


def from_key(key: str, setting: str) -> Criterion:
    """The criterion that reads ``key`` (a sweep records its objective's key): the inverse of
    ``criterion(name).key``, so a criterion survives the round trip through the records."""
    return criterion(key, setting)


def names_in_any_setting() -> list[str]:
    """Every criterion name of any setting, in a stable order (for messages and choices)."""
    return list(dict.fromkeys(c.name for s in SETTINGS for c in every(s)))
