"""How a sweep searches: Optuna's sampler behind Ray Tune's ``OptunaSearch``, and ASHA with a
first rung that suits the setting's objective."""

from __future__ import annotations

import math
from typing import Any

import optuna
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from dabench.data.registry import task_spec
from dabench.engine.options import SweepOptions
from dabench.engine.trial import evaluation
from dabench.records.criteria import Criterion
from dabench.spaces import SearchSpace


def sampler(searcher: str, seed: int) -> Any:
    """The Optuna sampler for ``--searcher``, seeded: multivariate TPE, or random search."""
    if searcher == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def searcher(options: SweepOptions, space: SearchSpace, objective: Criterion) -> OptunaSearch:
    """The sweep's Optuna searcher (define-by-run over ``space``, seeded)."""
    return OptunaSearch(space=space.suggest, metric=objective.key, mode=objective.mode,
                        sampler=sampler(options.searcher, options.seed))  # fmt: skip


FIRST_RUNG = {"closed": 0.3, "partial": 0.3, "open_set": 0.7, "segmentation": 0.0}
"""ASHA's first rung per setting, as a share of a trial's evaluations (at least the first): where
the setting's default objective, early in a trial, does not predict how the trial ends, ASHA
must not prune on it there. Measured in ``reports/selection.md`` ("early agreement"): the first
evaluation at which the default criterion's Spearman correlation with the trial's final oracle
reaches half its value at the end (:func:`dabench.records.selection.first_reliable_step`) — BNM
at 10 % (moons) and 30 % (digits) of the trial, the guarded source-val accuracy at 30 %
(partial), the H-score proxy at 70 % (open-set: OSBP starts rejecting late; before that every
trial scores 0), source-val mIoU at the first evaluation (segmentation)."""


def grace_period(options: SweepOptions) -> int:
    """ASHA's grace period in evaluations: ``--grace-period`` when given, else the setting's
    :data:`FIRST_RUNG` share of the trial's evaluations; at most all of them."""
    evaluations = evaluation(options.steps, options.eval_every)
    if options.grace_period is not None:
        return min(options.grace_period, evaluations)
    share = FIRST_RUNG[task_spec(options.task).setting]
    return min(evaluations, max(1, math.ceil(share * evaluations)))


def asha(options: SweepOptions, time_attr: str = "training_iteration") -> ASHAScheduler | None:
    """The sweep's ASHA scheduler over its evaluations, counted by ``time_attr`` (``None`` for
    ``--scheduler none``); the objective is set by the Tuner (or ``set_search_properties``)."""
    if options.scheduler != "asha":
        return None
    return ASHAScheduler(time_attr=time_attr, max_t=evaluation(options.steps, options.eval_every),
                         grace_period=grace_period(options),
                         reduction_factor=options.reduction_factor)  # fmt: skip
