"""The leaderboard's cells: runs (an MLflow store's or runs files') → one cell per task, method and
criterion, and what each (method, task) cost.

**Which runs.** For each (method, task), the most recent *finished* sweep; unfinished sweeps, and
sweeps a later one replaced, are listed as left out.

**A cell** is the setting's target-test metric (accuracy %, H-score % for open-set, mIoU % for
segmentation) of the configuration a selection criterion picks from the sweep — its trial-level
pick among :func:`~dabench.records.selection.candidates`, the rule ``dabench rerun`` uses. When
a finished ``dabench rerun`` group re-trained that configuration with fresh seeds, the cell is the
mean over those seed runs ± the half-width of the 95 % Student-t interval of the mean,
``t_{0.975, n-1} · s / √n`` (``s``: sample standard deviation); otherwise it is the picked
trial's own single-seed value, marked ``*`` (and flattered by the search: it won among many
seeds).

**Selection.** ``auto`` (the default): each sweep's own label-free objective (a sweep that
optimised the oracle gets its setting's default label-free criterion instead); a criterion name
(``source_val``, a validator, a reported metric); ``oracle`` (target-val labels); ``all``: the
main table under ``auto`` and every label-free criterion in the realistic-vs-oracle table.

**Cost** of a (method, task): every run made for it — the sweep's trials by final status, the
seed runs of its groups — with wall time (sweep plus groups, as each recorded it) and CPU/GPU
seconds (each run's ``time × resources``, summed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from dabench.data import list_tasks
from dabench.data.registry import task_spec
from dabench.methods import methods_for
from dabench.names import did_you_mean
from dabench.records import criteria, selection
from dabench.records import schema as s
from dabench.records.criteria import Criterion
from dabench.records.readers import column, tag, trial_rows
from dabench.runtime import describe

CONFIDENCE = 0.95
REFERENCE = ("source_only", "target_oracle")  # baseline and upper bound: rows, not contenders
SELECTIONS = ("auto", "all")


def mean_ci(values: Sequence[float], level: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean:
    ``t_{(1+level)/2, n-1} · s / √n`` with ``s`` the sample standard deviation. The half-width
    is NaN for fewer than two values (no spread to estimate); both are NaN for none."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), math.nan
    half = student_t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def check_select(select: str) -> None:
    """Refuse a ``--select`` that names no criterion of any setting (or reads target-test
    labels), listing the accepted ones."""
    names = criteria.names_in_any_setting()
    free = [n for n in names if n not in (criteria.ORACLE, *criteria.REPORTED)
            and not n.startswith("target_")]  # fmt: skip
    accepted = [*SELECTIONS, criteria.ORACLE, *free, *criteria.REPORTED]
    if select in accepted or select in names:
        return
    if select.startswith("target_test_"):
        raise ValueError(f"--select {select!r}: target-test labels only report, they never "
                         f"select; use one of {', '.join(accepted)}")  # fmt: skip
    raise ValueError(f"--select {select!r}{did_you_mean(select, accepted)}: use one of "
                     f"{', '.join(accepted)}")  # fmt: skip


@dataclass
class Leaderboard:
    """Everything the outputs are made of; ``cells`` is the long form (one row per task, method
    and criterion), the rest are per (method, task)."""

    cells: pd.DataFrame
    cost: pd.DataFrame
    sweeps: pd.DataFrame
    """The sweeps used: ``sweep``, ``method``, ``task``, ``setting``, ``objective``, ``run_id``,
    ``command``, ``git_commit``, ``machine``, ``space_file``, ``wall_s`` and ``groups`` (how many
    finished seeds groups re-trained its picks)."""
    trials: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Sweep name → its trials (for the parallel-coordinate plots)."""
    left_out: list[str] = field(default_factory=list)
    chunks: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The benchmarks whose runs files it was built from (their chunk records), if any."""
    runtimes: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))
    """What the trials' and seed runs' numbers depend on besides config and seed
    (:func:`dabench.runtime.describe` of each run's tag ``dabench.runtime``, its
    starts' joined by ``then``; ``not recorded`` for runs made before dabench recorded it) → how
    many runs."""


CELL_COLUMNS = ["setting", "task", "method", "criterion", "primary", "sweep", "mean", "half", "n",
                "values", "rerun", "trial", "searched", "note", "failures", "decisions"]  # fmt: skip


def build(runs: pd.DataFrame, select: str = "auto") -> Leaderboard:
    """The leaderboard of ``runs`` (a :func:`~dabench.records.readers.load_runs` table, or
    :func:`~dabench.records.runs_files.read_runs`) under ``select``; see the module doc."""
    check_select(select)
    runs = runs.iloc[::-1].sort_values("start_time", kind="stable")  # newest first: reversed
    kind, parent_of = column(runs, tag(s.KIND)), column(runs, tag(s.PARENT))
    sweeps = runs[kind == s.SWEEP_KIND]
    if sweeps.empty:
        return Leaderboard(pd.DataFrame(columns=CELL_COLUMNS), pd.DataFrame(), pd.DataFrame())
    finished = sweeps[sweeps["status"] == "FINISHED"]
    chosen = finished.groupby([tag(s.METHOD), tag(s.TASK)]).tail(1)
    left_out = [
        f"`{row[tag(s.SWEEP)]}` ({row[tag(s.METHOD)]} on {row[tag(s.TASK)]}): "
        + ("a later sweep replaced it" if row["status"] == "FINISHED"
           else f"did not finish ({row['status']})")
        for _, row in sweeps[~sweeps["run_id"].isin(chosen["run_id"])].iterrows()
    ]  # fmt: skip
    groups = runs[kind == s.SEEDS_KIND]
    cells, costs, used, trials_of, parents = [], [], [], {}, []
    for _, sweep in chosen.iterrows():
        name, method, task = (sweep[tag(k)] for k in (s.SWEEP, s.METHOD, s.TASK))
        setting = task_spec(task).setting
        trials = trial_rows(runs[parent_of == sweep["run_id"]])
        trials_of[name] = trials
        usable = trials[~trials["status"].isin(s.UNUSABLE)]
        its_groups = groups[column(groups, tag(s.SELECTED_TRIAL)).isin(trials["run_id"])]
        seed_runs = trial_rows(runs[parent_of.isin(its_groups["run_id"])])  # any status: cost
        finished_groups = its_groups[its_groups["status"] == "FINISHED"]
        values = _seed_values(finished_groups, seed_runs, criteria.test_key(setting), setting)
        objective = criteria.from_key(sweep[tag(s.OBJECTIVE)], setting)
        primary, names = criteria_for(select, objective, method)
        for criterion in names:
            picked = cell(usable, criterion, setting, values)
            cells.append({"setting": setting, "task": task, "method": method,
                          "criterion": criterion, "primary": criterion == primary,
                          "sweep": name, **picked})  # fmt: skip
        costs.append(cost_row(setting, task, method, trials, seed_runs, sweep, its_groups))
        parents += [sweep["run_id"], *its_groups["run_id"]]
        used.append({
            "sweep": name, "method": method, "task": task, "setting": setting,
            "objective": objective.key, "run_id": sweep["run_id"],
            "command": sweep.get("params.command"), "git_commit": sweep.get("params.git_commit"),
            "wall_s": sweep.get("metrics.wall_s", math.nan), "groups": len(finished_groups),
            "space_file": sweep.get("params.space_file"), "machine": sweep.get("params.machine"),
            "benchmark": sweep.get(tag(s.BENCHMARK)),
        })  # fmt: skip
    frame = pd.DataFrame(cells, columns=CELL_COLUMNS)
    baseline = frame[frame["method"] == "source_only"].set_index(["task", "criterion"])["mean"]
    below = [
        method not in REFERENCE and mean < baseline.get((task, name), math.nan)
        for task, name, method, mean in frame[["task", "criterion", "method", "mean"]].values
    ]
    frame["negative_transfer"] = pd.Series(below, index=frame.index, dtype=bool)
    members = runs[parent_of.isin(parents) & (kind == s.TRIAL_KIND)]
    runtimes = column(members, tag(s.RUNTIME)).map(runtime_text).value_counts()
    return Leaderboard(frame, pd.DataFrame(costs), pd.DataFrame(used), trials_of, left_out,
                       runtimes=runtimes)  # fmt: skip


def runtime_text(value: Any) -> str:
    """A run's tag ``dabench.runtime`` in words."""
    if not isinstance(value, str) or not value:
        return "not recorded"
    return " then ".join(describe(facts) for facts in json.loads(value))


def criteria_for(select: str, objective: Criterion, method: str = "") -> tuple[str, list[str]]:
    """The primary criterion of a sweep's cells (the main table's) and the name of every
    criterion to make cells for: ``auto`` → the sweep's label-free ``objective`` (the setting's
    default one if it optimised on target labels); ``all`` → every label-free criterion of the
    setting; the oracle always. The target oracle's primary criterion is the oracle: it trains
    on target labels anyway, and as an upper reference it should be the best it can be."""
    setting = objective.setting
    auto = criteria.DEFAULT[setting] if objective.uses_target_labels else objective.name
    primary = auto if select in SELECTIONS else select
    if method == "target_oracle":
        primary = criteria.ORACLE
    names = [c.name for c in criteria.label_free(setting)] if select == "all" else []
    return primary, list(dict.fromkeys([*names, primary, criteria.ORACLE]))


def _seed_values(groups: pd.DataFrame, seed_runs: pd.DataFrame, test: str,
                 setting: str) -> dict[str, tuple[list, list, list]]:  # fmt: skip
    """Picked trial run id → the target-test values of the completed runs of the latest finished
    seeds group that re-trained it, in seed order, their label-free failure modes
    (:func:`~dabench.records.selection.failure_mode`, ``""`` for none) and their
    :data:`DECISIONS` diagnostic."""
    values: dict[str, tuple[list, list, list]] = {}
    for _, group in groups.iterrows():  # in start order: a later group replaces an earlier one
        runs = seed_runs[column(seed_runs, "parent") == group["run_id"]]
        done = runs[runs["status"] == s.COMPLETED]
        done = done.iloc[np.argsort([d.get("seed", 0) for d in done["searched"]], kind="stable")]
        done = done[done[test].notna()] if test in done else done.iloc[:0]
        failures = [selection.failure_mode(row, setting) for _, row in done.iterrows()]
        values[group[tag(s.SELECTED_TRIAL)]] = (done[test].tolist(), failures,
                                                _decisions(done, setting))  # fmt: skip
    return values


DECISIONS = {"open_set": ("predicted_unknown_pct", "rejected"),
             "partial": ("predicted_top_class_pct", "in the top class"),
             "closed": ("predicted_top_class_pct", "in the top class")}  # fmt: skip
"""Setting → the label-free share of target-val decisions that tells how a model fails (the
metric, and what it counts): an open-set model's rejections, a classifier's top class."""


def _decisions(runs: pd.DataFrame, setting: str) -> list[float]:
    key = DECISIONS.get(setting, ("", ""))[0]
    return column(runs, key).astype(float).tolist() if key in runs else []


def cell(trials: pd.DataFrame, name: str, setting: str,
         seed_values: dict[str, tuple[list, list, list]]) -> dict[str, Any]:  # fmt: skip
    """One cell (see the module doc): the pick of criterion ``name`` among the sweep's
    candidates, and its seed runs' values if a group re-trained it, else its own value."""
    empty = {"mean": math.nan, "half": math.nan, "n": 0, "values": [], "rerun": False,
             "trial": None, "searched": {}, "note": "", "failures": [], "decisions": []}  # fmt: skip
    try:
        criterion = criteria.criterion(name, setting)
    except ValueError:
        return {**empty, "note": f"{name} does not apply to {setting} tasks"}
    pick = selection.pick(trials, criterion)
    if pick is None:
        return {**empty, "note": f"no trial reported {criterion.key}"}
    test = criteria.test_key(setting)
    values, failures, decisions = seed_values.get(pick["run_id"], ([], [], []))
    rerun = bool(values)
    if not rerun:
        values = [pick[test]] if test in pick and not pd.isna(pick[test]) else []
        failures = [selection.failure_mode(pick, setting)] if values else []
        decisions = _decisions(pd.DataFrame([pick]), setting) if values else []
    mean, half = mean_ci(values)
    return {**empty, "mean": mean, "half": half, "n": len(values), "values": values,
            "rerun": rerun, "trial": pick["trial"], "searched": pick["searched"],
            "failures": [f for f in failures if f], "decisions": decisions}  # fmt: skip


def cost_row(setting: str, task: str, method: str, trials: pd.DataFrame, seed_runs: pd.DataFrame,
             sweep: pd.Series, groups: pd.DataFrame) -> dict[str, Any]:  # fmt: skip
    """What a (method, task) cost: trials by status, seed runs, wall time, CPU/GPU seconds."""
    statuses = trials["status"].value_counts()
    everything = pd.concat([trials, seed_runs])
    return {
        "setting": setting, "task": task, "method": method,
        **{k: int(statuses.get(k, 0)) for k in (s.COMPLETED, s.PRUNED, s.FAILED)},
        "seed_runs": len(seed_runs),
        "wall_s": float(sweep.get("metrics.wall_s", 0.0) or 0.0)
        + float(column(groups, "metrics.wall_s").fillna(0).sum()),
        "cpu_s": float(column(everything, "cpu_s").fillna(0).sum()),
        "gpu_s": float(column(everything, "gpu_s").fillna(0).sum()),
    }  # fmt: skip


def tasks_of(board: Leaderboard, setting: str) -> list[str]:
    """The tasks of ``setting`` on the board, in registry order."""
    order = [spec.name for spec in list_tasks()]
    present = set(board.cells.loc[board.cells["setting"] == setting, "task"])
    return sorted(present, key=lambda t: (order.index(t) if t in order else len(order), t))


def methods_of(board: Leaderboard, setting: str) -> list[str]:
    """The methods of ``setting`` on the board, in table order
    (:func:`dabench.methods.registry.methods_for`)."""
    present = set(board.cells.loc[board.cells["setting"] == setting, "method"])
    ordered = [m for m in methods_for(setting) if m in present]
    return [*ordered, *sorted(present - set(ordered))]


def label(method: str) -> str:
    """A method's row label (the target oracle says what it is)."""
    return "target_oracle (target labels, oracle pick)" if method == "target_oracle" else method
