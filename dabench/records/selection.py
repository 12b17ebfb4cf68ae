"""Honest selection as pure functions over a sweep's records: what a criterion picks, and how
good each criterion is.

A sweep's *checkpoints* are its trials' evaluation points (every ``eval_every`` steps; rows of
:func:`dabench.records.readers.checkpoints`), its *trials* their last evaluation points (rows of
:func:`dabench.records.readers.trials`). Every pick takes a
:class:`~dabench.records.criteria.Criterion`, which carries its key and its direction.

For each label-free criterion, :func:`validator_quality` measures, over the checkpoints,

* its **Spearman** rank correlation with the oracle (the target-val metric of the setting);
* its **weighted Spearman** correlation (Musgrave et al., arXiv 2208.07360): the Pearson
  correlation of the two rankings, each point weighted by ``max(r_v, r_o)²`` where ``r_v`` and
  ``r_o`` are its normalised ranks (in ``(0, 1]``, 1 = best) by the criterion and by the oracle, so
  that agreement at the top of the ranking counts most;
* the target-test metric of the checkpoint it ranks first (**top-1**) and the mean over its five
  first (**top-5**), next to the oracle's pick (best target-val) and the best target-test
  checkpoint of the sweep (unattainable: it is picked on the very numbers it reports).

Selection is done at two levels: **checkpoint** (any evaluation point of any trial) and **trial**
(each trial's last evaluation point). A pick that scores below the task's source-only baseline on
target-test is *negative transfer*.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from dabench.records import criteria
from dabench.records.criteria import Criterion
from dabench.records.schema import COMPLETED

LEVELS = ("checkpoint", "trial")


def candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials a trial-level pick chooses from (rows of
    :func:`~dabench.records.readers.trials`): the completed ones — ASHA's survivors, scored at
    the end of training like each other — or, if none completed, every trial with its last
    score."""
    completed = frame[frame["status"] == COMPLETED] if "status" in frame else frame
    return completed if not completed.empty else frame


def pick(frame: pd.DataFrame, criterion: Criterion) -> pd.Series | None:
    """The trial-level pick of ``criterion``: among the :func:`candidates` of ``frame`` (rows of
    :func:`~dabench.records.readers.trials`), the trial with the best last value of its key
    (highest, or lowest for a minimised criterion; ties to the earlier trial) — the rule of
    every dabench pick: a sweep's best trial, the configurations ``dabench rerun`` re-trains, a
    leaderboard cell. ``None`` when no candidate reported the key."""
    frame = candidates(frame)
    key = criterion.key
    if frame.empty or key not in frame or frame[key].isna().all():
        return None
    best = _ranked(frame, key, criterion.sign, 1).index[0]
    return frame.loc[best]


def picks(frame: pd.DataFrame, criterion: Criterion, n: int = 5) -> pd.DataFrame:
    """The ``n`` rows of ``frame`` (checkpoints or trials) ranked first by ``criterion`` (a
    missing value — a validator with nothing to judge — ranks last). Ties go to the later
    evaluation point (the one Ray keeps as a trial's best checkpoint), then to the earlier
    trial."""
    return _ranked(frame, criterion.key, criterion.sign, n)


def _ranked(frame: pd.DataFrame, key: str, sign: int, n: int) -> pd.DataFrame:
    score = (sign * frame[key]).fillna(-math.inf)
    ranked = frame.assign(_score=score).sort_values(["_score", "step"], ascending=False,
                                                    kind="stable")  # fmt: skip
    return ranked.drop(columns="_score").head(n)


def weighted_spearman(scores: np.ndarray, truth: np.ndarray, power: float = 2.0) -> float:
    """Pearson correlation of the rankings of ``scores`` and ``truth``, each point weighted by
    ``max(r_s, r_t) ** power`` with ``r`` the rank divided by the number of points (ties share
    the mean rank). NaN with fewer than three points or a constant ranking."""
    n = len(scores)
    if n < 3:
        return math.nan
    r_s, r_t = rankdata(scores) / n, rankdata(truth) / n
    w = np.maximum(r_s, r_t) ** power
    mean_s, mean_t = np.average(r_s, weights=w), np.average(r_t, weights=w)
    cov = np.average((r_s - mean_s) * (r_t - mean_t), weights=w)
    var_s = np.average((r_s - mean_s) ** 2, weights=w)
    var_t = np.average((r_t - mean_t) ** 2, weights=w)
    if var_s <= 0 or var_t <= 0:
        return math.nan
    return float(cov / math.sqrt(var_s * var_t))


def validator_quality(frame: pd.DataFrame, setting: str, level: str = "checkpoint") -> pd.DataFrame:
    """One row per label-free criterion of ``setting``: correlations with the oracle and the
    target-test metric of its picks (see the module doc), plus the oracle's pick and the best
    target-test checkpoint. ``level`` is ``checkpoint`` (every evaluation point) or ``trial``
    (last ones only). ``scored``: the points a criterion has a value at (a trial scores the
    :data:`~dabench.validators.COSTLY` validators at its last evaluation only unless run with
    ``costly_validators=every``)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}; got {level!r}")
    oracle = criteria.oracle(setting)
    test = oracle.test_key
    points = frame[frame["last"]] if level == "trial" else frame
    points = points.dropna(subset=[oracle.key, test])
    rows = []
    for criterion in criteria.label_free(setting):
        if criterion.key not in points:
            continue
        scores = (criterion.sign * points[criterion.key]).fillna(-math.inf).to_numpy()
        truth = points[oracle.key].to_numpy()
        finite = np.isfinite(scores)
        spearman = (
            spearmanr(scores[finite], truth[finite]).statistic if finite.sum() > 2 else math.nan
        )
        weighted = weighted_spearman(scores[finite], truth[finite])
        rows.append(_quality_row(criterion.name, spearman, weighted, picks(points, criterion),
                                 test, setting, int(points[criterion.key].notna().sum())))  # fmt: skip
    rows.append(_quality_row("oracle (target-val labels)", 1.0, 1.0, picks(points, oracle), test,
                             setting, len(points)))  # fmt: skip
    best = _ranked(points, test, 1, 5)  # reported, never a selection: it reads the test labels
    rows.append(_quality_row("best target-test (unattainable)", math.nan, math.nan, best, test,
                             setting, len(points)))  # fmt: skip
    return pd.DataFrame(rows)


def _quality_row(name: str, spearman: float, weighted: float, top: pd.DataFrame, test: str,
                 setting: str, scored: int) -> dict:  # fmt: skip
    return {
        "criterion": name,
        "scored": scored,
        "spearman": spearman,
        "weighted_spearman": weighted,
        "top1_test": top[test].iloc[0],
        "top5_test": top[test].mean(),
        "top1_checkpoint": f"{top['trial'].iloc[0]} @ {int(top['step'].iloc[0])}",
        "top1_failure": failure_mode(top.iloc[0], setting),
    }


COLLAPSED_PCT = 80.0
"""A checkpoint whose target-val decisions put this share (%) or more in one class has collapsed."""
NEVER_REJECTS_PCT = 1.0
"""An open-set checkpoint that rejects less than this share (%) of target-val inputs never rejects
(the bundled open-set target is 40 % unknown)."""


def failure_mode(row: pd.Series, setting: str) -> str:
    """``"collapsed"``, ``"never rejects"`` or ``""`` for one checkpoint (from label-free
    diagnostics only: the share of target-val decisions in the top class and, open-set, the share
    rejected). Closed-set and partial checkpoints can collapse; open-set ones can also never
    reject."""
    top = row.get("predicted_top_class_pct", math.nan)
    if setting == "open_set" and row.get("predicted_unknown_pct", math.nan) < NEVER_REJECTS_PCT:
        return "never rejects"
    if setting != "segmentation" and top >= COLLAPSED_PCT:
        return "collapsed"
    return ""


def early_agreement(frame: pd.DataFrame, setting: str) -> pd.DataFrame:
    """How well each criterion at an early evaluation point predicts how a trial *ends*: per
    label-free criterion (rows) and evaluation step (columns), the Spearman correlation over
    trials between the criterion at that step and the trial's oracle (target-val metric) at its
    last step. ASHA prunes at its first rung on the objective's value then: a criterion that does
    not agree there prunes the trials that would have ended best."""
    oracle = criteria.oracle(setting).key
    final = frame[frame["last"]].set_index("run_id")[oracle]
    steps = sorted(frame["step"].unique())
    table = {}
    for criterion in criteria.label_free(setting):
        if criterion.key not in frame:
            continue
        row = {}
        for step in steps:
            at = frame[frame["step"] == step].set_index("run_id")[criterion.key].dropna()
            at = criterion.sign * at[np.isfinite(at)]
            both = pd.concat([at, final], axis=1, join="inner").dropna()
            varies = len(both) > 2 and (both.nunique() > 1).all()  # else: undefined
            row[int(step)] = (
                spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic if varies else math.nan
            )
        table[criterion.name] = row
    return pd.DataFrame.from_dict(table, orient="index")


def first_reliable_step(early: pd.DataFrame, criterion: str) -> int | None:
    """The earliest evaluation step at which ``criterion``'s early agreement (its row of
    :func:`early_agreement`) reaches half its agreement at the last step: where ASHA's first
    rung may prune on it (:data:`dabench.engine.search.FIRST_RUNG` is set from these). ``None``
    when the criterion is not in the table or its final agreement is not positive."""
    if criterion not in early.index:
        return None
    row = early.loc[criterion]
    final = row.iloc[-1]
    if not final > 0:
        return None
    return int(next(step for step, value in row.items() if value >= final / 2))
