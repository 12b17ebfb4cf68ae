"""Reading dabench's records back: a sweep by name, the experiments that hold sweeps, a sweep's
trials and checkpoints as DataFrames, its seeds groups, the task's source-only baseline, and
every run of some experiments as one table.

All of it through an explicit ``MlflowClient`` (:mod:`.store`); the filters are built by
:func:`~dabench.records.schema.where`, which quotes every value.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from dabench.data.registry import task_spec
from dabench.names import did_you_mean
from dabench.records import schema as s
from dabench.records.criteria import test_key
from dabench.task_settings import HEADLINE_METRIC

PAGE = 1000


def search(client: MlflowClient, experiments: list[str], filter_string: str = "",
           order_by: list[str] | None = None) -> list[Any]:  # fmt: skip
    """Every run of ``experiments`` (ids) that ``filter_string`` matches, page by page."""
    runs, token = [], None
    while True:
        page = client.search_runs(experiments, filter_string, max_results=PAGE,
                                  order_by=order_by, page_token=token)  # fmt: skip
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def first(client: MlflowClient, experiments: list[str], filter_string: str) -> Any | None:
    """The most recently started run that ``filter_string`` matches, if any."""
    runs = client.search_runs(experiments, filter_string, max_results=1,
                              order_by=["attributes.start_time DESC"])  # fmt: skip
    return runs[0] if runs else None


def children(client: MlflowClient, experiment: str, parent: str) -> list[Any]:
    """Every child run of ``parent`` (one per trial that started)."""
    return search(client, [experiment], s.where(**{s.PARENT: parent}))


def find_child(client: MlflowClient, experiment: str, parent: str, trial_id: str) -> str | None:
    """The child run of ``parent`` for ``trial_id``, if one was started (a resumed trial reuses
    it rather than creating a duplicate)."""
    run = first(client, [experiment], s.where(**{s.PARENT: parent, s.TRIAL_ID: trial_id}))
    return run.info.run_id if run else None


def find_sweep(client: MlflowClient, experiment: str, name: str,
               benchmark: str | None = None) -> Any | None:  # fmt: skip
    """The parent run of the (latest) sweep called ``name`` in experiment ``experiment`` (an id)
    — of benchmark ``benchmark`` when given — or ``None``."""
    return first(client, [experiment], s.where(
        **{s.KIND: s.SWEEP_KIND, s.SWEEP: name, s.BENCHMARK: benchmark}))  # fmt: skip


def require_sweep(client: MlflowClient, experiment: str, name: str) -> Any:
    """The parent run of sweep ``name`` in the experiment *named* ``experiment``; ``ValueError``
    naming the experiment's recent sweeps when there is none."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = [e.name for e in client.search_experiments()]
        raise ValueError(f"no MLflow experiment {experiment!r} in {client.tracking_uri}"
                         + did_you_mean(experiment, names))  # fmt: skip
    run = find_sweep(client, found.experiment_id, name)
    if run is None:
        recent = client.search_runs([found.experiment_id], s.where(**{s.KIND: s.SWEEP_KIND}),
                                    max_results=20, order_by=["attributes.start_time DESC"])  # fmt: skip
        names = [r.data.tags[s.SWEEP] for r in recent]
        raise ValueError(f"no sweep {name!r} in experiment {experiment!r}"
                         f"{did_you_mean(name, names)}; recent sweeps: "
                         f"{', '.join(names) or 'none'}")  # fmt: skip
    return run


def sweep_experiments(client: MlflowClient) -> list[str]:
    """The names of the store's experiments that hold at least one dabench sweep (a run of kind
    ``sweep``: ``dabench sweep``'s experiment, each benchmark's own), oldest experiment first."""
    found = client.search_experiments(order_by=["creation_time ASC"])
    return [e.name for e in found
            if first(client, [e.experiment_id], s.where(**{s.KIND: s.SWEEP_KIND}))]  # fmt: skip


def setting_of(run: Any) -> str:
    """The setting of the task a sweep (or group) ran on."""
    return task_spec(run.data.tags[s.TASK]).setting


TRIAL_COLUMNS = ("run_id", "trial", "status", "config", "searched")
"""The columns of :func:`trials` that are not metrics."""


def trial_row(run_id: str, name: str, tags: dict[str, Any], metrics: dict[str, float]) -> dict:
    """One row of :func:`trials` from a run's id, name, tags and latest metrics."""

    def parsed(key: str) -> dict:
        value = tags.get(key)
        return json.loads(value) if isinstance(value, str) and value else {}

    status = tags.get(s.STATUS)
    return {"run_id": run_id, "trial": name,
            "status": status if isinstance(status, str) else s.RUNNING,
            "config": parsed(s.CONFIG), "searched": parsed(s.SEARCHED), **metrics}  # fmt: skip


def trials(client: MlflowClient, parent: Any) -> pd.DataFrame:
    """One row per trial of the sweep (or seeds group) ``parent`` at its last evaluation point:
    ``run_id``, ``trial`` (run name), ``status``, ``config`` (the trial's whole config) and
    ``searched`` (its searched part) from the run's JSON tags, and the latest value of every
    metric the run logged (MLflow keeps it with the run: no history is read). Failed and
    superseded runs are left out, as in :func:`checkpoints`; in the order the trials started."""
    runs = children(client, parent.info.experiment_id, parent.info.run_id)
    rows = [trial_row(r.info.run_id, r.info.run_name, r.data.tags, r.data.metrics)
            for r in sorted(runs, key=lambda r: r.info.start_time)
            if r.data.tags.get(s.STATUS, s.RUNNING) not in s.UNUSABLE]  # fmt: skip
    return pd.DataFrame(rows)


def checkpoints(client: MlflowClient, parent: Any) -> pd.DataFrame:
    """One row per evaluation point of every trial of the sweep ``parent``: ``run_id``,
    ``trial`` (run name), ``status``, ``step``, ``last`` (the trial's last evaluation point) and
    every evaluation metric at that step (the label-free diagnostics ``predicted_*_pct`` and
    ``dev_ess`` included). Failed and superseded trials are left out."""
    rows: list[dict[str, Any]] = []
    runs = children(client, parent.info.experiment_id, parent.info.run_id)
    for run in sorted(runs, key=lambda r: r.info.start_time):  # the sweep's order
        status = run.data.tags.get(s.STATUS, s.RUNNING)
        if status in s.UNUSABLE:
            continue
        evaluated = ("source_val", "target_", "validator_", "predicted_", "dev_ess")
        keys = [k for k in run.data.metrics if k.startswith(evaluated)]
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


def metric_history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every logged value of ``key`` in run ``run_id``, by step."""
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


# --- seeds groups ------------------------------------------------------------------------------


def find_group(client: MlflowClient, sweep_run: Any, trial_run_id: str, seeds: list[int],
               finished: bool | None = None) -> Any | None:  # fmt: skip
    """The latest seeds group of the sweep ``sweep_run`` that re-trains trial ``trial_run_id``
    with ``seeds``: with ``finished=True`` a finished one only, with ``False`` one in any state,
    with ``None`` (default) a finished one if there is one, else the latest in any state."""
    if finished is None:
        return find_group(client, sweep_run, trial_run_id, seeds, True) or find_group(
            client, sweep_run, trial_run_id, seeds, False)  # fmt: skip
    status = ("attributes.status = 'FINISHED'",) if finished else ()
    return first(client, [sweep_run.info.experiment_id], s.where(*status, **{
        s.KIND: s.SEEDS_KIND, s.SELECTED_TRIAL: trial_run_id, s.SEEDS: json.dumps(seeds)}))  # fmt: skip


def settled(client: MlflowClient, group: Any, seeds: int) -> bool:
    """Whether the seeds group ``group`` needs no more running: it finished, or every one of its
    ``seeds`` runs ended (some failed: the group is ``KILLED`` and the leaderboard leaves it out;
    ``dabench rerun`` runs it again)."""
    if group.info.status == "FINISHED":
        return True
    runs = children(client, group.info.experiment_id, group.info.run_id)
    return sum(r.data.tags.get(s.STATUS) in (s.COMPLETED, s.FAILED) for r in runs) == seeds


# --- the source-only baseline --------------------------------------------------------------------


def source_only_sweep(client: MlflowClient, experiment: str, task: str) -> Any | None:
    """The parent run of the most recent finished ``source_only`` sweep of ``task`` in
    ``experiment`` (an id) that selected on a label-free objective and recorded its pick; ``None``
    if there is none. Its pick is the task's source-only baseline."""
    test = test_key(task_spec(task).setting)
    runs = search(client, [experiment], s.where(
        "attributes.status = 'FINISHED'",
        **{s.KIND: s.SWEEP_KIND, s.METHOD: "source_only", s.TASK: task}),
        order_by=["attributes.start_time DESC"])  # fmt: skip
    for run in runs:
        if f"best.{test}" in run.data.metrics and not run.data.tags.get(
                s.OBJECTIVE, "").startswith("target_"):  # fmt: skip
            return run
    return None


def source_only_baseline(client: MlflowClient, experiment: str, task: str
                         ) -> tuple[float, str] | None:  # fmt: skip
    """The target-test metric of the label-free pick of the task's source-only sweep
    (:func:`source_only_sweep`) in ``experiment`` (an id), and that sweep's name; ``None`` if
    there is none."""
    run = source_only_sweep(client, experiment, task)
    if run is None:
        return None
    metric = f"best.target_test_{HEADLINE_METRIC[setting_of(run)]}"
    return run.data.metrics[metric], run.data.tags[s.SWEEP]


# --- every run, as one table ---------------------------------------------------------------------


def load_runs(client: MlflowClient, experiments: list[str]) -> pd.DataFrame:
    """Every run of ``experiments`` (ids) as one DataFrame in the shape ``mlflow.search_runs``
    gives (``run_id``, ``experiment_id``, ``status``, ``start_time`` in UTC, ``metrics.*``,
    ``params.*``, ``tags.*``), newest first — read through ``client``, not MLflow's global
    tracking URI."""
    rows = []
    for run in search(client, experiments, order_by=["attributes.start_time DESC"]):
        rows.append({
            "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "start_time": pd.Timestamp(run.info.start_time, unit="ms", tz="UTC"),
            **{f"metrics.{k}": v for k, v in run.data.metrics.items()},
            **{f"params.{k}": v for k, v in run.data.params.items()},
            **{f"tags.{k}": v for k, v in run.data.tags.items()},
        })  # fmt: skip
    columns = ["run_id", "experiment_id", "status", "start_time"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of a :func:`load_runs` frame, or an empty one of its length."""
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def tag(name: str) -> str:
    """The column of tag ``name`` in a :func:`load_runs` frame."""
    return f"tags.{name}"


def trial_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The trials of a :func:`load_runs` frame as :func:`trials` gives them (every status
    kept), with their ``parent`` run id."""
    metrics = runs.filter(like="metrics.").rename(columns=lambda c: c.removeprefix("metrics."))
    tags = {name: column(runs, tag(name)) for name in (s.STATUS, s.CONFIG, s.SEARCHED)}
    rows = [trial_row(run_id, name, {k: v.iloc[i] for k, v in tags.items()}, {})
            for i, (run_id, name) in enumerate(zip(runs["run_id"], column(runs, tag(s.RUN_NAME)),
                                                   strict=True))]  # fmt: skip
    frame = pd.DataFrame(rows, index=runs.index, columns=list(TRIAL_COLUMNS))
    frame.insert(1, "parent", column(runs, tag(s.PARENT)))
    return pd.concat([frame, metrics], axis=1)
