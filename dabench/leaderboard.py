"""``dabench leaderboard``: MLflow runs → pandas → markdown, CSV or LaTeX tables, and plots.

**Which runs.** For each (method, task), the most recent *finished* sweep in the chosen MLflow
experiments; unfinished sweeps, and sweeps a later one replaced, are listed as left out.

**A cell** is the setting's target-test metric (accuracy %, H-score % for open-set, mIoU % for
segmentation) of the configuration a selection criterion picks from the sweep — its trial-level
pick among :func:`~dabench.selection.candidates`, the rule ``dabench rerun`` uses. When a finished
``dabench rerun`` group re-trained that configuration with fresh seeds, the cell is the mean over
those seed runs ± the half-width of the 95 % Student-t interval of the mean,
``t_{0.975, n-1} · s / √n`` (``s``: sample standard deviation); otherwise it is the picked trial's
own single-seed value, marked ``*`` (and flattered by the search: it won among many seeds).

**Selection.** ``auto`` (the default): each sweep's own label-free objective (a sweep that
optimised the oracle gets its setting's default label-free criterion instead); a criterion name
(``source_val`` or a validator); ``oracle`` (target-val labels); ``all``: the main table under
``auto`` and every criterion in the realistic-vs-oracle table.

**Marks.** Bold: the best mean of its column among the adaptation methods (source-only and the
target oracle are references, not contenders). ``↓``: below source-only under the same selection
on the same task — negative transfer.

**Cost** of a (method, task): every run made for it — the sweep's trials by final status, the
seed runs of its groups — with wall time (sweep plus groups, as each recorded it) and CPU/GPU
seconds (each run's ``time × resources``, summed).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from dabench import __version__, selection, tracking
from dabench.data.registry import task_spec
from dabench.seeds import SELECTED_TRIAL, criterion_name
from dabench.selection import DEFAULT_METRIC
from dabench.suggest import did_you_mean
from dabench.sweep import objective_key, objective_mode, provenance
from dabench.trainable import MAIN_METRIC
from dabench.validators import VALIDATORS

CONFIDENCE = 0.95
METHOD_ORDER = ("source_only", "dann", "cdan", "adda", "bsp", "osbp", "pada", "iwan", "advent")
REFERENCE = ("source_only", "target_oracle")  # baseline and upper bound: rows, not contenders
SETTING_TITLES = {
    "closed": "Closed-set: target-test accuracy (%)",
    "partial": "Partial: target-test accuracy (%)",
    "open_set": "Open-set: target-test H-score (%)",
    "segmentation": "Segmentation: target-test mIoU (%)",
}
FORMATS = ("md", "csv", "latex")
NEGATIVE, SINGLE, MISSING = "↓", "*", "–"


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


def methods_for(setting: str) -> list[str]:
    """The registered methods of ``setting`` in table order: source-only, the adversarial methods
    (in :data:`METHOD_ORDER`, then any other registered one by name), the target oracle last."""
    from dabench.methods import METHODS

    names = [m for m in METHODS if setting in METHODS[m].settings]
    known = [m for m in METHOD_ORDER if m in names]
    others = sorted(set(names) - set(known) - {"target_oracle"})
    return [*known, *others, *(["target_oracle"] if "target_oracle" in names else [])]


def check_select(select: str) -> None:
    """Refuse a ``--select`` that names no criterion, listing the accepted ones."""
    accepted = ("auto", "all", "oracle", "source_val", *VALIDATORS)
    if select not in accepted:
        raise ValueError(f"--select {select!r}{did_you_mean(select, accepted)}: use one of "
                         f"{', '.join(accepted)}")  # fmt: skip


# --- reading ---------------------------------------------------------------------------------


def load_runs(tracking_uri: str, experiments: Sequence[str] | None) -> pd.DataFrame:
    """Every run of the named MLflow experiments (every experiment when ``None``) as one
    DataFrame, as ``mlflow.search_runs`` gives it (``metrics.*``, ``params.*``, ``tags.*``)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    tracking.check_reachable(tracking_uri)
    tracking.require_store(tracking_uri)
    client = MlflowClient(tracking_uri)
    if experiments is None:
        ids = [e.experiment_id for e in client.search_experiments()]
    else:
        ids = []
        for name in experiments:
            found = client.get_experiment_by_name(name)
            if found is None:
                known = ", ".join(e.name for e in client.search_experiments()) or "none"
                raise ValueError(f"no MLflow experiment {name!r} in {tracking_uri}; there are: "
                                 f"{known}")  # fmt: skip
            ids.append(found.experiment_id)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.search_runs(experiment_ids=ids, output_format="pandas")
    finally:
        mlflow.set_tracking_uri(previous)


EXPORTED = [
    "run_id", "experiment_id", "status", "start_time",
    *(f"tags.{t}" for t in (tracking.KIND, tracking.SWEEP, "method", "task", "objective",
                            tracking.STATUS, tracking.PARENT_TAG, "mlflow.runName", "searched",
                            SELECTED_TRIAL, tracking.BENCHMARK)),
    *(f"params.{p}" for p in ("command", "git_commit", "space_file", "machine")),
]  # fmt: skip
"""The columns of :func:`load_runs` the leaderboard reads (besides every ``metrics.*``)."""


def save_runs(runs: pd.DataFrame, path: Path) -> None:
    """Write what the leaderboard reads of ``runs`` (from :func:`load_runs`) to a CSV file:
    the :data:`EXPORTED` columns and every metric, one row per run, in MLflow's order — a plain
    file to commit, or to carry a benchmark to another machine. :func:`read_runs` reads it
    back."""
    columns = [c for c in EXPORTED if c in runs] + sorted(
        c for c in runs if c.startswith("metrics.")
    )
    frame = runs[columns].copy()
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True).map(lambda t: t.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def of_benchmark(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    """The runs ``dabench benchmark`` ``name`` made — its sweeps and seeds groups (tagged with
    its name) and their trials and seed runs — and the seeds groups a later ``dabench rerun``
    made for its sweeps' trials (a group whose seed runs failed is re-run that way)."""
    parent = _column(runs, _tag(tracking.PARENT_TAG))
    own = _column(runs, _tag(tracking.BENCHMARK)) == name
    trials = runs.loc[parent.isin(runs.loc[own, "run_id"]), "run_id"]
    later = (_column(runs, _tag(tracking.KIND)) == "seeds") & _column(
        runs, _tag(SELECTED_TRIAL)).isin(trials)  # fmt: skip
    groups = own | later
    return runs[groups | parent.isin(runs.loc[groups, "run_id"])]


def read_runs(paths: Path | Sequence[Path]) -> pd.DataFrame:
    """The runs of :func:`save_runs` files, as :func:`load_runs` gives them (tags and params as
    strings, metrics as floats, ``start_time`` as UTC timestamps); a run in several files once.
    A task whose runs are in several files — a later chunk re-ran it, e.g. after a fix — is
    read from the newest file only (:func:`newest_per_task`)."""
    frames = _read_runs_files([paths] if isinstance(paths, Path) else paths)
    return _runs_of(frames, newest_per_task(frames))


def _read_runs_files(paths: Sequence[Path]) -> dict[Path, pd.DataFrame]:
    if not paths:
        raise ValueError("--runs: no file given")
    return {path: _read_runs_file(path) for path in paths}


def _runs_of(frames: dict[Path, pd.DataFrame], used: dict[Path, list[str]]) -> pd.DataFrame:
    kept = [frame[_column(frame, "tags.task").isin(used[path])] for path, frame in frames.items()]
    return pd.concat(kept, ignore_index=True).drop_duplicates("run_id", keep="last")


def _chunk_record(runs_path: Path) -> dict[str, Any] | None:
    """The :func:`save_chunk_record` record beside ``runs_path``, if there is one."""
    record = runs_path.with_suffix(".json")
    return json.loads(record.read_text()) if record.is_file() else None


def _tasks(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(_column(frame, "tags.task").dropna()))


def newest_per_task(frames: dict[Path, pd.DataFrame]) -> dict[Path, list[str]]:
    """Runs file → the tasks read from it: each task from the newest file that has it, by the
    ``finished`` time of the chunk record beside the file (:func:`save_chunk_record`); a file
    without a record counts as older than every recorded one, in the order given."""
    finished = {path: (_chunk_record(path) or {}).get("finished", "") for path in frames}
    taken: set[str] = set()
    used: dict[Path, list[str]] = {}
    for path in sorted(frames, key=finished.__getitem__, reverse=True):  # stable among equals
        used[path] = [t for t in _tasks(frames[path]) if t not in taken]
        taken.update(_tasks(frames[path]))
    return {path: used[path] for path in frames}


def save_chunk_record(runs_path: Path, runs: pd.DataFrame, benchmark: str, wall_s: float,
                      command: str) -> None:  # fmt: skip
    """Beside a finished benchmark's runs file (:func:`save_runs` of ``runs``), ``<name>.json``:
    how long it took (wall time over all its sessions), when the record was written, where, the
    dabench commits its sweeps ran with, and the command."""
    from dabench.sweep import machine

    sweeps = runs[_column(runs, _tag(tracking.KIND)) == "sweep"]
    commits = sorted(set(_column(sweeps, "params.git_commit").dropna()))
    record = {"benchmark": benchmark, "wall_s": round(wall_s, 1), "command": command,
              "finished": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
              "git_commit": ", ".join(commits) or "unknown"}  # fmt: skip
    runs_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


def chunk_records(runs_paths: Sequence[Path]) -> pd.DataFrame:
    """The :func:`save_chunk_record` records beside ``runs_paths`` (those that have one), with
    the tasks the leaderboard reads from each file (``tasks``) and those a newer file re-ran
    (``superseded``)."""
    frames = _read_runs_files(runs_paths)
    return _records_of(frames, newest_per_task(frames))


def _records_of(frames: dict[Path, pd.DataFrame], used: dict[Path, list[str]]) -> pd.DataFrame:
    records = []
    for path, frame in frames.items():
        record = _chunk_record(path)
        if record is not None:
            superseded = [t for t in _tasks(frame) if t not in used[path]]
            records.append({**record, "tasks": used[path], "superseded": superseded})
    return pd.DataFrame(records)


def build_from_files(paths: Sequence[Path], select: str = "auto") -> tuple[Leaderboard, str]:
    """The leaderboard of the runs in ``paths`` (:func:`save_runs` files) with the chunk records
    beside them, and a line naming its source. Each file is read once."""
    frames = _read_runs_files(paths)
    used = newest_per_task(frames)
    board = build(_runs_of(frames, used), select)
    board.chunks = _records_of(frames, used)
    return board, "the `dabench export` files " + ", ".join(str(p) for p in paths)


def _read_runs_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"--runs {path}: no such file")
    try:
        head = pd.read_csv(path, nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"--runs {path}: not a CSV file of `dabench export` ({error})") from None
    missing = {"run_id", "status", "start_time", f"tags.{tracking.KIND}"} - set(head.columns)
    if missing:
        raise ValueError(f"--runs {path}: not a file of `dabench export` (no {sorted(missing)})")
    text = {c: object for c in head.columns if not c.startswith("metrics.")}
    frame = pd.read_csv(path, dtype={**text, **{c: float for c in head.columns
                                                if c.startswith("metrics.")}})  # fmt: skip
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True, format="ISO8601")
    return frame


def _tag(name: str) -> str:
    return f"tags.{name}"


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def _metrics(runs: pd.DataFrame) -> pd.DataFrame:
    """Trial rows as :func:`dabench.selection.trials` gives them: ``run_id``, ``trial``,
    ``status``, ``searched`` and unprefixed metric columns."""
    metrics = runs.filter(like="metrics.").rename(columns=lambda c: c.removeprefix("metrics."))
    return pd.concat([
        pd.DataFrame({
            "run_id": runs["run_id"],
            "parent": _column(runs, _tag(tracking.PARENT_TAG)),
            "trial": _column(runs, _tag("mlflow.runName")),
            "status": _column(runs, _tag(tracking.STATUS)).fillna("running"),
            "searched": _column(runs, _tag("searched")).map(lambda s: json.loads(s or "{}")
                                                            if isinstance(s, str) else {}),
        }),
        metrics,
    ], axis=1)  # fmt: skip


# --- building ----------------------------------------------------------------------------------


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
    """The benchmarks whose runs files it was built from (:func:`chunk_records`), if any."""


def build(runs: pd.DataFrame, select: str = "auto") -> Leaderboard:
    """The leaderboard of ``runs`` (from :func:`load_runs`) under ``select``; see the module doc."""
    check_select(select)
    runs = runs.iloc[::-1].sort_values("start_time", kind="stable")  # MLflow gives newest first
    kind = _column(runs, _tag(tracking.KIND))
    parent_of = _column(runs, _tag(tracking.PARENT_TAG))
    sweeps = runs[kind == "sweep"]
    if sweeps.empty:
        return Leaderboard(pd.DataFrame(columns=["setting", "task", "method", "criterion"]),
                           pd.DataFrame(), pd.DataFrame())  # fmt: skip
    finished = sweeps[sweeps["status"] == "FINISHED"]
    chosen = finished.groupby([_tag("method"), _tag("task")]).tail(1)
    left_out = [
        f"`{row[_tag(tracking.SWEEP)]}` ({row[_tag('method')]} on {row[_tag('task')]}): "
        + ("a later sweep replaced it" if row["status"] == "FINISHED"
           else f"did not finish ({row['status']})")
        for _, row in sweeps[~sweeps["run_id"].isin(chosen["run_id"])].iterrows()
    ]  # fmt: skip
    groups = runs[kind == "seeds"]
    cells, costs, used, trials_of = [], [], [], {}
    for _, sweep in chosen.iterrows():
        name, method, task = (sweep[_tag(k)] for k in (tracking.SWEEP, "method", "task"))
        setting = task_spec(task).setting
        test = f"target_test_{MAIN_METRIC[setting]}"
        trials = _metrics(runs[parent_of == sweep["run_id"]])
        trials_of[name] = trials
        usable = trials[~trials["status"].isin(["failed", "superseded"])]
        its_groups = groups[_column(groups, _tag(SELECTED_TRIAL)).isin(trials["run_id"])]
        seed_runs = _metrics(runs[parent_of.isin(its_groups["run_id"])])  # any status: cost
        finished_groups = its_groups[its_groups["status"] == "FINISHED"]
        values = _seed_values(finished_groups, seed_runs, test, setting)
        primary, names = criteria_for(select, setting, sweep[_tag("objective")], method)
        for criterion in names:
            picked = cell(usable, criterion, setting, test, values)
            cells.append({"setting": setting, "task": task, "method": method,
                          "criterion": criterion, "primary": criterion == primary,
                          "sweep": name, **picked})  # fmt: skip
        costs.append(cost_row(setting, task, method, trials, seed_runs, sweep, its_groups))
        used.append({
            "sweep": name, "method": method, "task": task, "setting": setting,
            "objective": sweep[_tag("objective")], "run_id": sweep["run_id"],
            "command": sweep.get("params.command"), "git_commit": sweep.get("params.git_commit"),
            "wall_s": sweep.get("metrics.wall_s", math.nan), "groups": len(finished_groups),
            "space_file": sweep.get("params.space_file"), "machine": sweep.get("params.machine"),
            "benchmark": sweep.get(_tag(tracking.BENCHMARK)),
        })  # fmt: skip
    columns = ["setting", "task", "method", "criterion", "primary", "sweep", "mean", "half", "n",
               "values", "rerun", "trial", "searched", "note", "failures", "decisions"]  # fmt: skip
    frame = pd.DataFrame(cells, columns=columns)
    baseline = frame[frame["method"] == "source_only"].set_index(["task", "criterion"])["mean"]
    below = [
        method not in REFERENCE and mean < baseline.get((task, criterion), math.nan)
        for task, criterion, method, mean in frame[["task", "criterion", "method", "mean"]].values
    ]
    frame["negative_transfer"] = pd.Series(below, index=frame.index, dtype=bool)
    return Leaderboard(frame, pd.DataFrame(costs), pd.DataFrame(used), trials_of, left_out)


def criteria_for(select: str, setting: str, objective: str,
                 method: str = "") -> tuple[str, list[str]]:  # fmt: skip
    """The primary criterion of a sweep's cells (the main table's) and every criterion to make
    cells for: ``auto`` → the sweep's label-free objective (the setting's default one if it
    optimised the oracle); ``all`` → every criterion of the setting; the oracle always. The
    target oracle's primary criterion is the oracle: it trains on target labels anyway, and as
    an upper reference it should be the best it can be."""
    own = criterion_name(objective)
    auto = own if own != "oracle" else DEFAULT_METRIC[setting]
    primary = auto if select in ("auto", "all") else select
    if method == "target_oracle":
        primary = "oracle"
    names = list(selection.criteria(setting)) if select == "all" else []
    return primary, list(dict.fromkeys([*names, primary, "oracle"]))


def _seed_values(groups: pd.DataFrame, seed_runs: pd.DataFrame, test: str,
                 setting: str) -> dict[str, tuple[list, list, list]]:  # fmt: skip
    """Picked trial run id → the target-test values of the completed runs of the latest finished
    seeds group that re-trained it, in seed order, their label-free failure modes
    (:func:`dabench.selection.failure_mode`, ``""`` for none) and their :data:`DECISIONS`
    diagnostic."""
    values: dict[str, tuple[list, list, list]] = {}
    for _, group in groups.iterrows():  # in start order: a later group replaces an earlier one
        runs = seed_runs[_column(seed_runs, "parent") == group["run_id"]]
        done = runs[runs["status"] == "completed"]
        done = done.iloc[np.argsort([d.get("seed", 0) for d in done["searched"]], kind="stable")]
        done = done[done[test].notna()] if test in done else done.iloc[:0]
        failures = [selection.failure_mode(row, setting) for _, row in done.iterrows()]
        values[group[_tag(SELECTED_TRIAL)]] = (done[test].tolist(), failures,
                                               _decisions(done, setting))  # fmt: skip
    return values


DECISIONS = {"open_set": ("predicted_unknown_pct", "rejected"),
             "partial": ("predicted_top_class_pct", "in the top class"),
             "closed": ("predicted_top_class_pct", "in the top class")}  # fmt: skip
"""Setting → the label-free share of target-val decisions that tells how a model fails (the
metric, and what it counts): an open-set model's rejections, a classifier's top class."""


def _decisions(runs: pd.DataFrame, setting: str) -> list[float]:
    key = DECISIONS.get(setting, ("", ""))[0]
    return _column(runs, key).astype(float).tolist() if key in runs else []


def cell(trials: pd.DataFrame, criterion: str, setting: str, test: str,
         seed_values: dict[str, tuple[list, list, list]]) -> dict[str, Any]:  # fmt: skip
    """One cell (see the module doc): the pick of ``criterion`` among the sweep's candidates, and
    its seed runs' values if a group re-trained it, else its own value."""
    empty = {"mean": math.nan, "half": math.nan, "n": 0, "values": [], "rerun": False,
             "trial": None, "searched": {}, "note": "", "failures": [], "decisions": []}  # fmt: skip
    if criterion not in ("oracle", "source_val") and setting not in VALIDATORS[criterion].settings:
        return {**empty, "note": f"{criterion} does not apply to {setting} tasks"}
    key = objective_key(criterion, setting)
    pick = selection.pick(trials, key)
    if pick is None:
        return {**empty, "note": f"no trial reported {key}"}
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
        **{s: int(statuses.get(s, 0)) for s in ("completed", "pruned", "failed")},
        "seed_runs": len(seed_runs),
        "wall_s": float(sweep.get("metrics.wall_s", 0.0) or 0.0)
        + float(_column(groups, "metrics.wall_s").fillna(0).sum()),
        "cpu_s": float(_column(everything, "cpu_s").fillna(0).sum()),
        "gpu_s": float(_column(everything, "gpu_s").fillna(0).sum()),
    }  # fmt: skip


# --- tables ------------------------------------------------------------------------------------


def format_cell(row: pd.Series | dict) -> str:
    """``mean ± half`` (1 decimal) for a re-trained pick, ``mean*`` for a single-seed one, ``–``
    for none; ``↓`` appended for negative transfer, ``[collapsed 2/3]`` (or ``never rejects``)
    for runs a label-free failure mode flags."""
    if not row["n"]:
        return MISSING
    text = f"{row['mean']:.1f}"
    if row["rerun"]:
        text += f" ± {row['half']:.1f}" if row["n"] > 1 else " (1 seed)"
    else:
        text += SINGLE
    text += f" {NEGATIVE}" if row["negative_transfer"] else ""
    failures = pd.Series(row.get("failures") or [], dtype=object).value_counts()
    return text + "".join(f" [{mode} {k}/{row['n']}]" for mode, k in failures.items())


def tasks_of(board: Leaderboard, setting: str) -> list[str]:
    from dabench.data import list_tasks

    order = [s.name for s in list_tasks()]
    present = set(board.cells.loc[board.cells["setting"] == setting, "task"])
    return sorted(present, key=lambda t: (order.index(t) if t in order else len(order), t))


def _methods(board: Leaderboard, setting: str) -> list[str]:
    present = set(board.cells.loc[board.cells["setting"] == setting, "method"])
    ordered = [m for m in methods_for(setting) if m in present]
    return [*ordered, *sorted(present - set(ordered))]


def _label(method: str) -> str:
    return "target_oracle (target labels, oracle pick)" if method == "target_oracle" else method


def main_table(board: Leaderboard, setting: str) -> pd.DataFrame:
    """Rows: methods; columns: the setting's tasks, and their average when there are several
    (the mean of the cell means; ``–`` unless the method has every task). Each cell under its
    sweep's primary criterion; the best adaptation method per column in bold."""
    cells = board.cells[(board.cells["setting"] == setting) & board.cells["primary"]]
    tasks, methods = tasks_of(board, setting), _methods(board, setting)
    means = cells.pivot_table(index="method", columns="task", values="mean", aggfunc="first")
    means = means.reindex(index=methods, columns=tasks)
    text = pd.DataFrame(MISSING, index=methods, columns=tasks, dtype=object)
    for _, row in cells.iterrows():
        text.loc[row["method"], row["task"]] = format_cell(row)
    if len(tasks) > 1:
        means["average"] = means[tasks].mean(axis=1, skipna=False)
        text["average"] = [MISSING if pd.isna(v) else f"{v:.1f}" for v in means["average"]]
    contenders = [m for m in methods if m not in REFERENCE]
    for column in text.columns:
        best = means.loc[contenders, column].max() if contenders else math.nan
        for method in contenders:
            if not pd.isna(best) and means.loc[method, column] == best:
                text.loc[method, column] = f"**{text.loc[method, column]}**"
    text.index = [_label(m) for m in methods]
    text.index.name = "method"
    return text


def realistic_vs_oracle(board: Leaderboard, setting: str) -> pd.DataFrame:
    """Rows: (task, method); columns: the cell under each label-free criterion made (the primary
    one first), under the oracle, and the gap: oracle mean − primary mean. The target oracle is
    left out: it is picked by the oracle in any case."""
    cells = board.cells[(board.cells["setting"] == setting)
                        & (board.cells["method"] != "target_oracle")]  # fmt: skip
    names = list(dict.fromkeys([
        *cells.loc[cells["primary"], "criterion"], *cells["criterion"]]))  # fmt: skip
    names = [n for n in names if n != "oracle"]
    rows = []
    for task in tasks_of(board, setting):
        for method in [m for m in _methods(board, setting) if m != "target_oracle"]:
            mine = cells[(cells["task"] == task) & (cells["method"] == method)]
            if mine.empty:
                continue
            by = {r["criterion"]: r for _, r in mine.iterrows()}
            primary = mine[mine["primary"]].iloc[0]
            row = {"task": task, "method": _label(method)}
            for name in names:
                header = f"{name} (main table)" if name == primary["criterion"] else name
                row[header] = format_cell(by[name]) if name in by else MISSING
            oracle = by.get("oracle")
            row["oracle"] = format_cell(oracle) if oracle is not None else MISSING
            gap = oracle["mean"] - primary["mean"] if oracle is not None else math.nan
            row["gap"] = MISSING if pd.isna(gap) else f"{round(gap, 1) + 0.0:+.1f}"  # no -0.0
            rows.append(row)
    return pd.DataFrame(rows)


def cost_table(board: Leaderboard) -> pd.DataFrame:
    """Per (task, method): trials by status, seed runs, wall minutes, CPU and GPU seconds; a
    total."""
    cost = board.cost.copy()
    table = pd.DataFrame({
        "task": cost["task"], "method": cost["method"].map(_label),
        "trials (completed / pruned / failed)": [
            f"{c} / {p} / {f}" for c, p, f in cost[["completed", "pruned", "failed"]].values],
        "seed runs": cost["seed_runs"],
        "wall (min)": (cost["wall_s"] / 60).round(1),
        "CPU (s)": cost["cpu_s"].round().astype(int),
        "GPU (s)": cost["gpu_s"].round().astype(int),
    })  # fmt: skip
    total = {"task": "**total**", "method": "",
             "trials (completed / pruned / failed)": " / ".join(
                 str(int(cost[k].sum())) for k in ("completed", "pruned", "failed")),
             "seed runs": int(cost["seed_runs"].sum()),
             "wall (min)": round(cost["wall_s"].sum() / 60, 1),
             "CPU (s)": round(cost["cpu_s"].sum()),
             "GPU (s)": round(cost["gpu_s"].sum())}  # fmt: skip
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def hyperparameter_table(board: Leaderboard) -> pd.DataFrame:
    """Per (task, method): the searched hyperparameters of the main table's pick and of the
    oracle's pick ("same" when it is the same trial)."""
    rows = []
    for (task, method), cells in board.cells.groupby(["task", "method"], sort=False):
        primary = cells[cells["primary"]].iloc[0]
        oracle = cells[cells["criterion"] == "oracle"]
        oracle_text = MISSING
        if len(oracle) and oracle["trial"].iloc[0] is not None:
            same = oracle["trial"].iloc[0] == primary["trial"]
            oracle_text = "same" if same else _searched(oracle["searched"].iloc[0])
        rows.append({"task": task, "method": _label(method),
                     "label-free pick": f"{_searched(primary['searched'])} "
                     f"({primary['criterion']})" if primary["trial"] else MISSING,
                     "oracle pick": oracle_text})  # fmt: skip
    return pd.DataFrame(rows)


def _searched(values: dict[str, Any]) -> str:
    return (
        ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        or "(nothing searched)"
    )


# --- plots -------------------------------------------------------------------------------------


def plot_task(board: Leaderboard, task: str, path: Path) -> None:
    """Target-test metric per method with 95 % CI error bars, for the main table's selection and
    the oracle's side by side (hollow markers: single-seed cells), and source-only as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = board.cells[board.cells["task"] == task]
    setting = cells["setting"].iloc[0]
    methods = _methods(board, setting)
    fig, ax = plt.subplots(figsize=(max(1.1 * len(methods) + 2.5, 5.0), 3.8))
    oracle = cells[cells["criterion"] == "oracle"]
    series = (("label-free pick", cells[cells["primary"]], "C0", -0.12),
              ("oracle pick (target-val labels)", oracle, "C1", 0.12))  # fmt: skip
    for label, rows, color, shift in series:
        rows = rows.set_index("method").reindex(methods)
        x = np.arange(len(methods)) + shift
        rerun = rows["rerun"].fillna(False).astype(bool).to_numpy()
        yerr = rows["half"].fillna(0).to_numpy()
        for chosen, face, suffix in ((rerun, color, ""), (~rerun, "none", ", 1 seed")):
            if chosen.any():
                ax.errorbar(x[chosen], rows["mean"].to_numpy()[chosen], yerr=yerr[chosen],
                            fmt="o", color=color, mfc=face, capsize=4, label=label + suffix)  # fmt: skip
    baseline = cells[cells["primary"] & (cells["method"] == "source_only")]["mean"]
    if len(baseline) and not pd.isna(baseline.iloc[0]):
        ax.axhline(baseline.iloc[0], color="grey", linestyle="--", linewidth=1,
                   label="source-only (label-free pick)")  # fmt: skip
    ax.set_xticks(np.arange(len(methods)), [_label(m).replace(" (", "\n(") for m in methods])
    ax.set_ylabel(f"target-test {MAIN_METRIC[setting]} (%)")
    ax.set_title(f"{task}\nmean over fresh seeds ± 95 % CI", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(board: Leaderboard, sweep: pd.Series, path: Path) -> bool:
    """The parallel-coordinate plot of one sweep (:func:`parallel_coordinates`) as a PNG;
    ``False`` when there is nothing to draw."""
    import matplotlib.pyplot as plt

    figure = parallel_coordinates(board.trials[sweep["sweep"]], sweep["objective"],
                                  sweep["method"], sweep.get("space_file"),
                                  f"{sweep['method']} on {sweep['task']}")  # fmt: skip
    if figure is None:
        return False
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def parallel_coordinates(trials: pd.DataFrame, objective: str, method: str,
                         space_file: str | None, title: str) -> Any | None:  # fmt: skip
    """Optuna's parallel-coordinate view of a sweep's ``trials`` (rows of
    :func:`dabench.selection.trials`): each trial's searched hyperparameters (axes from the
    sweep's search space, ``space_file`` or the method's) and its last value of the objective
    (pruned trials included, at the step they stopped); a matplotlib figure. ``None`` when there
    is nothing to draw (no searched parameter, under two scored trials)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import optuna

    from dabench.spaces import load_space, space_path

    scored = trials[~trials["status"].isin(["failed", "superseded"])]
    scored = scored[scored[objective].notna()] if objective in scored else scored.iloc[:0]
    source = space_file if space_file and Path(space_file).is_file() else space_path(method)
    space = load_space(source, method=method)
    distributions = {p.name: p.distribution() for p in space.parameters}
    if not distributions or len(scored) < 2:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=f"{objective_mode(objective)}imize")
    for _, row in scored.iterrows():
        params = {k: v for k, v in row["searched"].items() if k in distributions}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: distributions[k] for k in params},
            value=float(row[objective])))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        ax = optuna.visualization.matplotlib.plot_parallel_coordinate(study, target_name=objective)
    for lines in ax.collections:  # Optuna's white-to-blue map hides the worst trials
        lines.set_cmap("viridis")
    ax.set_title(f"{title}: {len(scored)} trials", fontsize=9)
    ax.figure.set_size_inches(max(8.0, 1.3 * len(distributions) + 3), 4.5)
    ax.figure.tight_layout()
    return ax.figure


def write_plots(board: Leaderboard, folder: Path) -> dict[str, list[Path]]:
    """One PNG per task and one per sweep under ``folder``; their paths, by task."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, list[Path]] = {}
    for task in dict.fromkeys(board.cells["task"]):
        slug = task.replace("/", "-")
        plot_task(board, task, folder / f"{slug}.png")
        paths[task] = [folder / f"{slug}.png"]
    for _, sweep in board.sweeps.iterrows():
        path = folder / f"sweep-{sweep['sweep'].replace('/', '-')}.png"
        if sweep["method"] not in REFERENCE and plot_sweep(board, sweep, path):
            paths[sweep["task"]].append(path)
    return paths


# --- documents ---------------------------------------------------------------------------------


def markdown(board: Leaderboard, source: str, command: str, plots: dict[str, list[Path]],
             relative_to: Path | None = None, reading: str = "") -> str:  # fmt: skip
    """The whole leaderboard as one markdown document: provenance, per setting the main table,
    realistic vs oracle and the plots, then cost, best hyperparameters, the commands that made
    the runs, what was left out and ``reading`` (a hand-written section kept across
    regenerations)."""

    def table(frame: pd.DataFrame, index: bool = False) -> str:
        return frame.to_markdown(index=index, disable_numparse=True)

    def rel(path: Path) -> str:
        return os.path.relpath(path, relative_to) if relative_to else str(path)

    def link(path: Path) -> str:
        return f"![{path.stem}]({rel(path)})"

    cells = board.cells
    lines = [
        "# dabench leaderboard", "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`, dabench "
        f"{__version__} (commit {_short_commit(provenance().get('git_commit', 'unknown'))}), "
        f"from {source}.", "",
        *provenance_lines(board), "",
        "**How to read it.** A cell is the target-test metric of the configuration a selection "
        "criterion picked from the (method, task) sweep, re-trained with fresh seeds "
        f"(`dabench rerun`): mean ± half-width of the {CONFIDENCE:.0%} Student-t interval "
        f"(t · s/√n). `{SINGLE}`: not re-trained, the picked trial's own single-seed value "
        "(flattered: it won among many seeds). **Bold**: the best adaptation method of the column. "
        f"`{NEGATIVE}`: below source-only under the same selection (negative transfer). `–`: no "
        "finished sweep. Main tables use label-free selection (each sweep's own objective); the "
        "oracle (target-val labels) appears only beside it, in the realistic-vs-oracle tables, "
        "with the gap oracle − label-free. The target oracle trains on target labels and is "
        "picked by the oracle: an upper reference, not an adaptation result.", "",
    ]  # fmt: skip
    if not board.chunks.empty:
        chunks = pd.DataFrame({
            "benchmark": board.chunks["benchmark"],
            "wall (h)": (board.chunks["wall_s"] / 3600).map("{:.2f}".format),
            "finished": board.chunks["finished"], "machine": board.chunks["machine"],
            "commit": board.chunks["git_commit"].map(
                lambda c: ", ".join(_short_commit(x) for x in c.split(", "))),
            "tasks read": [", ".join(used) + "".join(f" (not {t}: a later chunk re-ran it)"
                                                     for t in old)
                           for used, old in zip(board.chunks["tasks"], board.chunks["superseded"],
                                                strict=True)],
            "command": board.chunks["command"].map("`{}`".format),
        })  # fmt: skip
        lines += ["Chunks (each a `dabench benchmark` of its own; wall time over all its "
                  "sessions):", "", table(chunks), ""]  # fmt: skip
    if reading:  # after every generated line above: it runs up to the next "## " heading
        lines += [reading.rstrip(), ""]
    lines += claims_section(board)
    for setting in [s for s in SETTING_TITLES if s in set(cells["setting"])]:
        mine = cells[(cells["setting"] == setting) & cells["primary"]
                     & (cells["method"] != "target_oracle")]  # fmt: skip
        used = list(dict.fromkeys(mine["criterion"]))
        selected = ("Selected by the oracle (target-val labels): not a realistic result."
                    if used == ["oracle"] else f"Selected by {', '.join(used)} (label-free).")  # fmt: skip
        lines += [f"## {SETTING_TITLES[setting]}", "", selected, "",
                  table(main_table(board, setting), index=True), "",
                  "Realistic vs oracle selection:", "",
                  table(realistic_vs_oracle(board, setting)), ""]  # fmt: skip
        for task in tasks_of(board, setting):
            if plots.get(task):
                first, *sweeps = plots[task]
                lines += [link(first), ""]
                if sweeps:
                    lines += [f"Parallel coordinates of the {task} sweeps (each trial's searched "
                              "values and last objective): " + ", ".join(
                                  f"[{p.stem.removeprefix('sweep-')}]({rel(p)})" for p in sweeps),
                              ""]  # fmt: skip
    lines += ["## Cost", "", "Everything run for each (method, task): its sweep's trials and the "
              "seed runs of its picks; CPU/GPU seconds = run time × resources per trial.", "",
              table(cost_table(board)), "",
              "## Best hyperparameters", "", table(hyperparameter_table(board)), "",
              "## Commands", "", "The runs were made by (wall time as each recorded it):", "",
              "```", *command_lines(board), "```", ""]  # fmt: skip
    if board.left_out:
        lines += ["## Left out", "", *[f"- {item}" for item in board.left_out], ""]
    return "\n".join(line for line in lines) + "\n"


def claims_section(board: Leaderboard) -> list[str]:
    """The "## Claims" section: :data:`dabench.claims.CLAIMS` tested on the main tables, the
    per-task tests, and the published digits numbers beside dabench's."""
    from dabench import claims

    per_task, summary = claims.check_claims(board.cells)
    if per_task.empty:
        return []

    def p_value(p: float) -> str:
        return MISSING if pd.isna(p) else f"{p:.3f}" if p >= 0.001 else "< 0.001"

    summary = summary.assign(**{"wilcoxon p": summary["wilcoxon p"].map(p_value)})
    per_task_raw, per_task = per_task, pd.DataFrame({
        "claim": per_task["claim"], "task": per_task["task"],
        "better": per_task["better"].map("{:.1f}".format),
        "worse": per_task["worse"].map("{:.1f}".format),
        "difference": per_task["diff"].map("{:+.1f}".format), "seeds": per_task["n"],
        "p (paired t, one-sided)": per_task["p"].map(p_value), "verdict": per_task["verdict"],
    })  # fmt: skip
    lines = [
        "## Claims", "",
        "The orderings the methods' papers report, tested on the main tables (label-free "
        f"selection), each at level {claims.ALPHA}: per task a paired t-test over the fresh "
        "seeds (both picks ran with the same seeds), across tasks a Wilcoxon signed-rank test of "
        "the per-task mean differences (with k tasks its p cannot go below 2^-k, so it decides "
        "from 5 tasks on; below that, a claim is reproduced when every task reproduces it). "
        "Method: `dabench.claims`.", "",
        summary.to_markdown(index=False, disable_numparse=True), "",
        "Per task:", "", per_task.to_markdown(index=False, disable_numparse=True), "",
    ]  # fmt: skip
    failed = [(row["task"], row["methods"], row["verdict"]) for _, row in per_task_raw.iterrows()
              if row["verdict"] != claims.REPRODUCED]  # fmt: skip
    if failed:
        lines += [
            "### The runs behind the orderings that did not reproduce", "",
            "Per claim and task, each method's label-free pick and its oracle pick, re-trained: "
            "the target-test value of every fresh seed and the label-free share of target-val "
            "decisions that shows how a model fails (open-set: rejected as unknown; else: in the "
            "most predicted class). Where the oracle pick does no better, the ordering fails in "
            "training, not in selection.", "",
            diagnosis_table(board, failed).to_markdown(index=False, disable_numparse=True), "",
        ]  # fmt: skip
    published = claims.published_table(board.cells)
    if not published.empty:
        lines += [
            "Beside the published numbers of the tasks the bundled MNIST tasks stand in for "
            "(Tzeng et al. 2017, ADDA, Table 2: MNIST→USPS and USPS→MNIST with LeNet, 2,000 "
            "MNIST and 1,800 USPS training images; their \"gradient reversal\" row is DANN). "
            "The data differ: UCI's digits are 8×8 with 17 grey levels, upscaled to 28×28, "
            "where USPS's are 16×16; dabench's MNIST set is 5,000 images; the budgets differ "
            "(see the header). Compare orderings and rough levels, not decimals.", "",
            published.to_markdown(index=False, disable_numparse=True), "",
        ]  # fmt: skip
    return lines


def diagnosis_table(board: Leaderboard, failed: list[tuple[str, tuple[str, str], str]]
                    ) -> pd.DataFrame:  # fmt: skip
    """One row per (claim, task, method) of ``failed``: the label-free (main-table) pick's and
    the oracle pick's trial, per-seed target-test values and per-seed :data:`DECISIONS` share."""
    cells = board.cells.set_index(["task", "method", "criterion"])
    main = board.cells[board.cells["primary"]].set_index(["task", "method"])["criterion"]
    rows = []
    for task, methods, verdict in failed:
        for method in methods:
            if (task, method) not in main.index:
                continue
            label_free = cells.loc[(task, method, main[(task, method)])]
            setting = label_free["setting"]
            key = (task, method, "oracle")
            oracle = cells.loc[key] if key in cells.index else None
            rows.append({
                "claim": f"{methods[0]} > {methods[1]}: {verdict}", "task": task,
                "method": method,
                "label-free pick": _trial_name(label_free["trial"]),
                "seeds": _per_seed(label_free["values"]),
                "its decisions": _per_seed(label_free["decisions"], "{:.0f}")
                + (f" % {DECISIONS[setting][1]}" if label_free["decisions"] else ""),
                "oracle pick": MISSING if oracle is None else (
                    "same" if oracle["trial"] == label_free["trial"]
                    else _trial_name(oracle["trial"])),
                "oracle seeds": MISSING if oracle is None else _per_seed(oracle["values"]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _trial_name(trial: Any) -> str:
    return MISSING if trial is None or pd.isna(trial) else str(trial)


def _per_seed(values: list[float], fmt: str = "{:.1f}") -> str:
    return " / ".join(fmt.format(v) for v in values) if len(values) else MISSING


def provenance_lines(board: Leaderboard) -> list[str]:
    """Where and with what the runs were made, from the sweeps' own records."""
    sweeps = board.sweeps
    if sweeps.empty:
        return ["No finished sweep."]
    commits = sweeps["git_commit"].fillna("unknown").map(_short_commit).value_counts()
    machines = sweeps["machine"].dropna().unique()
    wall = board.cost["wall_s"].sum()
    made_with = ", ".join(f"{c} ({_count(n, 'sweep')})" for c, n in commits.items())
    where = f", on {'; '.join(machines)}." if len(machines) else "."
    lines = [
        f"Runs: {_count(len(sweeps), 'sweep')} and "
        f"{_count(int(sweeps['groups'].sum()), 'seeds group')}, {_hours(wall)} of wall time in "
        "all (each sweep's and group's own; a benchmark runs them side by side); made with "
        f"dabench commit(s) {made_with}{where}"
    ]
    benchmarks = sweeps["benchmark"].dropna()
    if len(benchmarks):
        lines += ["", "Made by `dabench benchmark` (a spec's chunk is the benchmark "
                  "`<spec>-<chunk>`): " + ", ".join(
                      f"`{name}` ({_count(n, 'sweep')})"
                      for name, n in benchmarks.value_counts(sort=False).items()) + "."]  # fmt: skip
    return lines


def _count(n: int, noun: str) -> str:
    """``1 sweep``, ``2 sweeps``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _hours(seconds: float) -> str:
    """A wall time in hours, or in minutes or seconds when under an hour or a minute."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _short_commit(commit: str) -> str:
    dirty = commit.endswith("-dirty")
    return commit.removesuffix("-dirty")[:12] + ("-dirty" if dirty else "")


def command_lines(board: Leaderboard) -> list[str]:
    lines = []
    for _, sweep in board.sweeps.iterrows():
        cost = board.cost[(board.cost["task"] == sweep["task"])
                          & (board.cost["method"] == sweep["method"])]["wall_s"]  # fmt: skip
        lines.append(f"{sweep['command'] or '(command not recorded)'}   "
                     f"# {cost.sum() / 60:.1f} min")  # fmt: skip
    return lines


def to_csv(board: Leaderboard) -> str:
    """The long form: one row per (task, method, criterion) with the values, joined with cost."""
    cells = board.cells.drop(columns=["searched"]).assign(
        values=board.cells["values"].map(lambda v: " ".join(f"{x:.4g}" for x in v)),
        searched=board.cells["searched"].map(lambda d: json.dumps(d, sort_keys=True)),
    )
    cost = board.cost.drop(columns=["setting"])
    return cells.merge(cost, on=["task", "method"], how="left").to_csv(index=False)


def to_latex(board: Leaderboard) -> str:
    """The main tables as LaTeX ``tabular``s (booktabs), one per setting."""
    parts = []
    for setting in [s for s in SETTING_TITLES if s in set(board.cells["setting"])]:
        frame = main_table(board, setting)
        frame = frame.replace(r"\*\*(.*)\*\*", r"\\textbf{\1}", regex=True)
        frame = frame.replace({"±": r"$\\pm$", "↓": r"$\\downarrow$", "–": "--"}, regex=True)
        latex = frame.to_latex(escape=False, column_format="l" + "c" * len(frame.columns))
        parts.append(f"% {SETTING_TITLES[setting]}\n{latex.replace('_', chr(92) + '_')}")
    return "\n".join(parts)


def reading_section(previous: Path) -> str:
    """The hand-written "## Reading" section of a previous markdown leaderboard (up to the next
    "## " heading), kept when it is regenerated."""
    if not previous.is_file():
        return ""
    text = previous.read_text()
    start = text.find("\n## Reading\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start + 1 : end if end > 0 else None]


def render(board: Leaderboard, fmt: str, source: str, command: str, out: Path | None = None,
           plots_dir: Path | None = None) -> str:  # fmt: skip
    """The leaderboard in ``fmt`` (md, csv, latex); plots written to ``plots_dir`` (markdown)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if board.cells.empty:
        raise ValueError("no finished sweep in the chosen experiment(s): run `dabench sweep` "
                         "(with --seeds 3) first")  # fmt: skip
    if fmt == "csv":
        return to_csv(board)
    if fmt == "latex":
        return to_latex(board)
    plots = write_plots(board, plots_dir) if plots_dir else {}
    reading = reading_section(out) if out else ""
    return markdown(board, source, command, plots, out.parent if out else None, reading)
