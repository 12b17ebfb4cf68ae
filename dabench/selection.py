"""Honest selection: what each label-free criterion picks from a sweep, and how good it is.

A sweep's *checkpoints* are its trials' evaluation points (every ``eval_every`` steps). For each
criterion — source-val accuracy and every validator of the setting — :func:`validator_quality`
measures, over the checkpoints,

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
target-test is *negative transfer*; the baseline is the label-free pick of the most recent
finished ``source_only`` sweep of the task in the same MLflow experiment.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from dabench import tracking
from dabench.data.registry import task_spec
from dabench.trainable import MAIN_METRIC
from dabench.validators import validators_for

LEVELS = ("checkpoint", "trial")


DEFAULT_METRIC = {"closed": "bnm", "partial": "guarded_source_val", "open_set": "h_proxy",
                  "segmentation": "source_val"}  # fmt: skip
"""The label-free criterion a sweep selects on when ``--metric`` is not given, per setting,
chosen on the measurements of ``reports/selection.md``: on closed-set tasks BNM ranks
checkpoints near the best of all validators where source-val accuracy is blind to the shift; on
partial tasks plain source-val accuracy cannot see a model collapse onto one target class, so
the collapse-guarded source-val accuracy; on open-set tasks source-val accuracy, DEV, ClassAMI
and known-IM all prefer models that never reject, so the H-score proxy; segmentation keeps
source-val mIoU."""


def criteria(setting: str) -> dict[str, str]:
    """Label-free criterion name → reported metric key, for ``setting``."""
    source = "source_val_miou" if setting == "segmentation" else "source_val_acc"
    return {"source_val": source, **{v.name: v.key for v in validators_for(setting)}}


def find_sweep(client: Any, experiment: str, name: str) -> Any:
    """The parent run of the sweep called ``name`` in MLflow experiment ``experiment`` (a name)."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ValueError(f"no MLflow experiment {experiment!r} in {client.tracking_uri}")
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`{tracking.KIND}` = 'sweep' and tags.`{tracking.SWEEP}` = '{name}'",
        max_results=1,
    )
    if not runs:
        sweeps = client.search_runs(
            [found.experiment_id], filter_string=f"tags.`{tracking.KIND}` = 'sweep'",
            max_results=20, order_by=["attributes.start_time DESC"],
        )  # fmt: skip
        known = ", ".join(r.data.tags[tracking.SWEEP] for r in sweeps) or "none"
        raise ValueError(f"no sweep {name!r} in experiment {experiment!r}; recent sweeps: {known}")
    return runs[0]


def sweep_status(client: Any, experiment: str, name: str) -> str | None:
    """The MLflow status of the sweep called ``name`` (``FINISHED``, ``KILLED``, ``RUNNING``,
    ...), or ``None`` if experiment ``experiment`` has no such sweep."""
    try:
        return find_sweep(client, experiment, name).info.status
    except ValueError:
        return None


def checkpoints(client: Any, parent: Any) -> pd.DataFrame:
    """One row per evaluation point of every trial of the sweep ``parent``: ``run_id``,
    ``trial`` (run name), ``status``, ``step``, ``last`` (the trial's last evaluation point) and
    every evaluation metric at that step (the label-free diagnostics ``predicted_*_pct`` and
    ``dev_ess`` included). Failed trials are left out, and so are runs superseded by a resumed
    sweep that ran their configuration again."""
    experiment = parent.info.experiment_id
    rows: list[dict[str, Any]] = []
    runs = tracking.children(client, experiment, parent.info.run_id)
    for run in sorted(runs, key=lambda r: r.info.start_time):  # the sweep's order
        status = run.data.tags.get(tracking.STATUS, "running")
        if status in ("failed", "superseded"):
            continue
        keys = [
            k for k in run.data.metrics
            if k.startswith(("source_val", "target_", "validator_", "predicted_", "dev_ess"))
        ]  # fmt: skip
        by_step: dict[int, dict[str, Any]] = {}
        for key in keys:
            for point in client.get_metric_history(run.info.run_id, key):
                by_step.setdefault(point.step, {})[key] = point.value
        for step, values in sorted(by_step.items()):
            rows.append({"run_id": run.info.run_id, "trial": run.info.run_name,
                         "status": status, "step": step, **values})  # fmt: skip
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["last"] = frame["step"] == frame.groupby("run_id")["step"].transform("max")
    return frame


def trials(client: Any, parent: Any) -> pd.DataFrame:
    """One row per trial of the sweep (or seeds group) ``parent`` at its last evaluation point:
    ``run_id``, ``trial`` (run name), ``status``, ``config`` (the trial's whole config) and
    ``searched`` (its searched part) from the run's JSON tags, and the latest value of every
    metric the run logged (MLflow keeps it with the run: no history is read). Failed and
    superseded runs are left out, as in :func:`checkpoints`."""
    rows = []
    runs = tracking.children(client, parent.info.experiment_id, parent.info.run_id)
    for run in sorted(runs, key=lambda r: r.info.start_time):
        tags = run.data.tags
        status = tags.get(tracking.STATUS, "running")
        if status in ("failed", "superseded"):
            continue
        rows.append(
            {
                "run_id": run.info.run_id,
                "trial": run.info.run_name,
                "status": status,
                "config": json.loads(tags.get(tracking.CONFIG, "{}")),
                "searched": json.loads(tags.get("searched", "{}")),
                **run.data.metrics,
            }
        )
    return pd.DataFrame(rows)


def candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials a trial-level pick chooses from (rows of :func:`trials`): the completed ones —
    ASHA's survivors, scored at the end of training like each other — or, if none completed,
    every trial with its last score."""
    completed = frame[frame["status"] == "completed"] if "status" in frame else frame
    return completed if not completed.empty else frame


TRIAL_COLUMNS = ("run_id", "trial", "status", "config", "searched")
"""The columns of :func:`trials` that are not metrics."""


def pick(frame: pd.DataFrame, key: str, mode: str = "max") -> pd.Series | None:
    """The trial-level pick of ``key``: among the :func:`candidates` of ``frame`` (rows of
    :func:`trials`), the trial with the best last value (highest, or lowest with ``mode="min"``;
    ties to the earlier trial), the rule of every dabench pick — a sweep's best trial, the
    configurations ``dabench rerun`` re-trains, a leaderboard cell. ``None`` when no candidate
    reported ``key``."""
    frame = candidates(frame)
    if frame.empty or key not in frame or frame[key].isna().all():
        return None
    sign = -1 if mode == "min" else 1
    best = picks(frame.assign(_key=sign * frame[key]), "_key", n=1).index[0]
    return frame.loc[best]


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


def picks(frame: pd.DataFrame, key: str, n: int = 5) -> pd.DataFrame:
    """The ``n`` rows ranked first by ``key`` (highest first; a missing value — a validator with
    nothing to judge — ranks last). Ties go to the later evaluation point (the one Ray keeps as
    a trial's best checkpoint), then to the earlier trial."""
    ranked = frame.assign(_score=frame[key].fillna(-math.inf)).sort_values(
        ["_score", "step"], ascending=False, kind="stable"
    )
    return ranked.drop(columns="_score").head(n)


def validator_quality(frame: pd.DataFrame, setting: str, level: str = "checkpoint") -> pd.DataFrame:
    """One row per criterion: correlations with the oracle and the target-test metric of its
    picks (see the module doc), plus the oracle's pick and the best target-test checkpoint.
    ``level`` is ``checkpoint`` (every evaluation point) or ``trial`` (last ones only)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}; got {level!r}")
    metric = MAIN_METRIC[setting]
    oracle, test = f"target_val_{metric}", f"target_test_{metric}"
    points = frame[frame["last"]] if level == "trial" else frame
    points = points.dropna(subset=[oracle, test])
    rows = []
    for name, key in criteria(setting).items():
        if key not in points:
            continue
        scores = points[key].fillna(-math.inf).to_numpy()
        truth = points[oracle].to_numpy()
        finite = np.isfinite(scores)
        spearman = (
            spearmanr(scores[finite], truth[finite]).statistic if finite.sum() > 2 else math.nan
        )
        weighted = weighted_spearman(scores[finite], truth[finite])
        rows.append(_pick_row(name, spearman, weighted, picks(points, key), test, setting))
    rows.append(
        _pick_row("oracle (target-val labels)", 1.0, 1.0, picks(points, oracle), test, setting)
    )
    best = picks(points, test)
    rows.append(
        _pick_row("best target-test (unattainable)", math.nan, math.nan, best, test, setting)
    )
    return pd.DataFrame(rows)


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
    criterion (rows) and evaluation step (columns), the Spearman correlation over trials between
    the criterion at that step and the trial's oracle (target-val metric) at its last step. ASHA
    prunes at its first rung on the objective's value then: a criterion that does not agree
    there prunes the trials that would have ended best."""
    oracle = f"target_val_{MAIN_METRIC[setting]}"
    final = frame[frame["last"]].set_index("run_id")[oracle]
    steps = sorted(frame["step"].unique())
    table = {}
    for name, key in criteria(setting).items():
        if key not in frame:
            continue
        row = {}
        for step in steps:
            at = frame[frame["step"] == step].set_index("run_id")[key].dropna()
            at = at[np.isfinite(at)]
            both = pd.concat([at, final], axis=1, join="inner").dropna()
            varies = len(both) > 2 and (both.nunique() > 1).all()  # else: undefined
            row[int(step)] = (
                spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic if varies else math.nan
            )
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index")


def first_reliable_step(early: pd.DataFrame, criterion: str) -> int | None:
    """The earliest evaluation step at which ``criterion``'s early agreement (its row of
    :func:`early_agreement`) reaches half its agreement at the last step: where ASHA's first
    rung may prune on it (:data:`dabench.sweep.FIRST_RUNG` is set from these). ``None`` when the
    criterion is not in the table or its final agreement is not positive."""
    if criterion not in early.index:
        return None
    row = early.loc[criterion]
    final = row.iloc[-1]
    if not final > 0:
        return None
    return int(next(step for step, value in row.items() if value >= final / 2))


def source_only_sweep(client: Any, experiment: str, task: str) -> Any | None:
    """The parent run of the most recent finished ``source_only`` sweep of ``task`` in
    ``experiment`` (an id) that selected on a label-free objective and recorded its pick; ``None``
    if there is none. Its pick is the task's source-only baseline."""
    metric = MAIN_METRIC[task_spec(task).setting]
    runs = client.search_runs(
        [experiment],
        filter_string=f"tags.`{tracking.KIND}` = 'sweep' and tags.method = 'source_only' and "
        f"tags.task = '{task}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    for run in runs:
        objective = run.data.tags.get("objective", "")
        value = run.data.metrics.get(f"best.target_test_{metric}")
        if value is not None and not objective.startswith("target_"):
            return run
    return None


def source_only_baseline(client: Any, experiment: str, task: str) -> tuple[float, str] | None:
    """The target-test metric of the label-free pick of the task's source-only sweep
    (:func:`source_only_sweep`) in ``experiment`` (an id), and that sweep's name; ``None`` if
    there is none."""
    run = source_only_sweep(client, experiment, task)
    if run is None:
        return None
    metric = MAIN_METRIC[task_spec(task).setting]
    return run.data.metrics[f"best.target_test_{metric}"], run.data.tags[tracking.SWEEP]


def quality_report(client: Any, experiment: str, sweep: str) -> str:
    """The markdown validator-quality tables of one sweep in the MLflow store (see
    :func:`quality_markdown`)."""
    parent = find_sweep(client, experiment, sweep)
    task = parent.data.tags["task"]
    frame = checkpoints(client, parent)
    if frame.empty:
        raise ValueError(f"sweep {sweep!r} has no evaluated trial")
    baseline = source_only_baseline(client, parent.info.experiment_id, task)
    return quality_markdown(frame, task, parent.data.tags["method"], sweep, baseline)


def quality_markdown(frame: pd.DataFrame, task: str, method: str, sweep: str,
                     baseline: tuple[float, str] | None) -> str:  # fmt: skip
    """Validator quality at checkpoint and trial level (:func:`validator_quality`), each pick's
    failure mode, and the early agreement of every criterion with how trials end
    (:func:`early_agreement`), for the :func:`checkpoints` ``frame`` of one sweep; picks below
    ``baseline`` (source-only's target-test metric, and its sweep) are negative transfer."""
    setting = task_spec(task).setting
    metric = MAIN_METRIC[setting]
    lines = [
        f"### {method} on {task} — sweep `{sweep}`",
        "",
        f"{frame['run_id'].nunique()} trials, {len(frame)} checkpoints. Oracle: "
        f"`target_val_{metric}`; picks report `target_test_{metric}`.",
    ]
    if baseline is not None:
        lines.append(f"Source-only baseline: {baseline[0]:.2f} (sweep `{baseline[1]}`); "
                     "picks below it are marked **negative transfer**.")  # fmt: skip
    flagged = frame.apply(failure_mode, axis=1, setting=setting)
    working = frame[flagged == ""]
    if setting != "segmentation":  # no failure mode is defined for segmentation
        never = int((flagged == "never rejects").sum())
        above = ""
        if baseline is not None:
            count = int((working[f"target_test_{metric}"] >= baseline[0]).sum())
            above = f", {count} of them at or above source-only"
        lines.append(
            f"Failure modes (label-free diagnostics): {int((flagged == 'collapsed').sum())} "
            f"checkpoints collapsed (≥ {COLLAPSED_PCT:.0f} % of target-val decisions in one class)"
            + (f", {never} never reject (< {NEVER_REJECTS_PCT:.0f} % rejected)"
               if setting == "open_set" else "")
            + f"; {len(working)} checkpoints have no failure mode{above}."
        )  # fmt: skip
    for level in LEVELS:
        table = validator_quality(frame, setting, level)
        if baseline is not None:
            below = table["top1_test"] < baseline[0]
            table["top1_test"] = [
                f"{v:.2f}" + (" (negative transfer)" if b else "")
                for v, b in zip(table["top1_test"], below, strict=True)
            ]
        lines += ["", f"{level.capitalize()}-level selection:", "",
                  table.to_markdown(index=False, floatfmt=".2f")]  # fmt: skip
    early = early_agreement(frame, setting)
    lines += ["", "Early agreement (what ASHA prunes on): Spearman correlation over trials of each "
              "criterion at an evaluation step (columns) with the trial's final oracle value:", "",
              early.to_markdown(floatfmt=".2f")]  # fmt: skip
    default = DEFAULT_METRIC[setting]
    step = first_reliable_step(early, default)
    if step is not None:
        last = int(early.columns[-1])
        lines += ["", f"The {setting} default criterion, `{default}`, first agrees half as well "
                  f"as at the end at step {step} of {last} ({step / last:.0%} of the trial): "
                  "where ASHA's first rung may start pruning on it."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _pick_row(name: str, spearman: float, weighted: float, top: pd.DataFrame, test: str,
              setting: str) -> dict:  # fmt: skip
    return {
        "criterion": name,
        "spearman": spearman,
        "weighted_spearman": weighted,
        "top1_test": top[test].iloc[0],
        "top5_test": top[test].mean(),
        "top1_checkpoint": f"{top['trial'].iloc[0]} @ {int(top['step'].iloc[0])}",
        "top1_failure": failure_mode(top.iloc[0], setting),
    }
