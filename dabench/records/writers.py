"""Writing dabench's records: the parent run of a sweep and of a seeds group, a trial's child run
from its start to its end, and the final state of a sweep's runs (:mod:`.schema` names them).

Sweeps, reruns and benchmarks all write through these functions, and so do the tests' fixture
stores, so a change of the schema is a change here.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from dabench.records import schema as s
from dabench.records.criteria import Criterion, oracle
from dabench.records.readers import children, find_child


def start_run(client: MlflowClient, experiment: str, name: str, tags: dict[str, str],
              params: dict[str, Any] | None = None) -> str:  # fmt: skip
    """A new run of ``experiment`` (an id) named ``name``, with ``tags`` and ``params``; its id."""
    run = client.create_run(experiment, run_name=name, tags=tags)
    if params:
        log_params(client, run.info.run_id, params)
    return run.info.run_id


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    """Log ``params`` (``None`` values are left out: a param records a value used)."""
    items = [Param(key, str(value)[:6000]) for key, value in sorted(params.items())
             if value is not None]  # fmt: skip
    for start in range(0, len(items), 100):  # MLflow's batch limit
        client.log_batch(run_id, params=items[start : start + 100])


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, Any], step: int) -> None:
    """Every finite numeric value of ``metrics`` at ``step`` (strings and NaN are skipped)."""
    now = int(time.time() * 1000)
    items = [
        Metric(key, float(value), now, step)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ]
    for start in range(0, len(items), 1000):
        client.log_batch(run_id, metrics=items[start : start + 1000])


def set_tags(client: MlflowClient, run_id: str, tags: dict[str, Any]) -> None:
    client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


# --- sweeps and their trials -------------------------------------------------------------------


def open_sweep(client: MlflowClient, experiment: str, name: str, method: str, task: str,
               objective: Criterion, params: dict[str, Any],
               tags: dict[str, str] | None = None) -> str:  # fmt: skip
    """The parent run of sweep ``name`` (kind ``sweep``), tagged with its method, task, objective
    and oracle keys (and ``tags``); its id."""
    return start_run(client, experiment, name, {
        s.KIND: s.SWEEP_KIND, s.SWEEP: name, s.METHOD: method, s.TASK: task,
        s.OBJECTIVE: objective.key, s.ORACLE: oracle(objective.setting).key, **(tags or {}),
    }, params)  # fmt: skip


def open_trial(client: MlflowClient, experiment: str, parent: str, sweep: str, trial_id: str,
               name: str, searched: dict[str, Any], config: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None,
               runtime: dict[str, str] | None = None) -> str:  # fmt: skip
    """The child run of trial ``trial_id`` of the sweep (or seeds group) ``sweep`` whose parent
    run is ``parent``: tagged with what the searcher chose (``searched``) and, for a trial that
    starts training, its whole ``config``, ``params`` and the ``runtime`` it starts on
    (:func:`dabench.runtime.facts`; a trial that failed before it started gets none of them);
    status ``running``, started once. Its id."""
    tags = {s.PARENT: parent, s.KIND: s.TRIAL_KIND, s.TRIAL_ID: trial_id, s.SWEEP: sweep,
            s.SEARCHED: json.dumps(searched, sort_keys=True)}  # fmt: skip
    if config is not None:
        tags |= {s.METHOD: config["method"], s.TASK: config["task"], s.STATUS: s.RUNNING,
                 s.STARTS: "1", s.CONFIG: json.dumps(config, sort_keys=True)}  # fmt: skip
    if runtime is not None:
        tags[s.RUNTIME] = json.dumps([runtime], sort_keys=True)
    return start_run(client, experiment, name, tags, params)


def restart_trial(client: MlflowClient, run: Any, runtime: dict[str, str] | None = None) -> None:
    """A trial resumed after an interruption, or retried after a failure: running again, one
    start more; a ``runtime`` it did not run on before is added to its list."""
    tags: dict[str, Any] = {s.STATUS: s.RUNNING,
                            s.STARTS: int(run.data.tags.get(s.STARTS, "1")) + 1}  # fmt: skip
    if runtime is not None:
        seen = json.loads(run.data.tags.get(s.RUNTIME, "[]"))
        if runtime not in seen:
            tags[s.RUNTIME] = json.dumps([*seen, runtime], sort_keys=True)
    set_tags(client, run.info.run_id, tags)
    client.update_run(run.info.run_id, status="RUNNING")


def fail_trial(client: MlflowClient, run_id: str, error: BaseException) -> None:
    """A trial that raised: status ``failed``, with the error."""
    set_tags(client, run_id, {s.STATUS: s.FAILED, "error": repr(error)[:5000]})
    client.set_terminated(run_id, "FAILED")


def end_trial(client: MlflowClient, run_id: str, status: str) -> None:
    """A trial that ended ``completed``, ``pruned`` or ``failed``."""
    set_tags(client, run_id, {s.STATUS: status})
    client.set_terminated(run_id, s.MLFLOW_STATUS[status])


def close_children(client: MlflowClient, experiment: str, parent: str,
                   known: set[str] | None) -> dict[str, int]:  # fmt: skip
    """Give every child run of ``parent`` its final status and end the ones still open: a run
    still ``running`` was ``interrupted`` (it continues when the sweep resumes); a run whose
    trial id is not in ``known`` (the trials Ray's state knows; ``None``: do not judge) was
    ``superseded``. The number of runs by status."""
    counts = {s.COMPLETED: 0, s.PRUNED: 0, s.FAILED: 0, s.INTERRUPTED: 0}
    for run in children(client, experiment, parent):
        tagged = run.data.tags.get(s.STATUS, s.RUNNING)
        status = tagged
        if known is not None and run.data.tags.get(s.TRIAL_ID) not in known:
            status = s.SUPERSEDED
        elif status == s.RUNNING:  # stopped by Ctrl-C/SIGTERM: resuming continues it
            status = s.INTERRUPTED
        if status != tagged:
            set_tags(client, run.info.run_id, {s.STATUS: status})
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, "KILLED")
        counts[status] = counts.get(status, 0) + 1
    return counts


def record_picks(client: MlflowClient, parent: Any, trial_pick: Any | None,
                 checkpoint_pick: dict[str, Any], keys: list[str]) -> dict[str, float]:  # fmt: skip
    """Tag the parent run with its picks — ``pick.trial.*`` (the trial-level pick, a row of
    :func:`~dabench.records.readers.trials`) and ``pick.checkpoint.*`` (the checkpoint-level
    pick: ``trial`` id, ``step`` and ``metrics``) — and return their values of ``keys`` as
    ``best.*`` and ``best_checkpoint.*`` metrics."""
    tags, metrics = {}, {}
    if trial_pick is not None:
        tags |= {s.PICK_TRIAL_RUN: trial_pick["run_id"], s.PICK_TRIAL_NAME: trial_pick["trial"]}
        metrics |= {f"best.{k}": float(trial_pick[k]) for k in keys
                    if k in trial_pick and trial_pick[k] == trial_pick[k]}  # fmt: skip
    if checkpoint_pick:
        run_id = find_child(client, parent.info.experiment_id, parent.info.run_id,
                            checkpoint_pick["trial"])  # fmt: skip
        if run_id is not None:
            name = client.get_run(run_id).info.run_name
            tags |= {s.PICK_CHECKPOINT_RUN: run_id, s.PICK_CHECKPOINT_NAME: name}
        tags[s.PICK_CHECKPOINT_STEP] = str(checkpoint_pick["step"])
        metrics |= {f"best_checkpoint.{k}": v for k, v in checkpoint_pick["metrics"].items()
                    if k in keys}  # fmt: skip
    set_tags(client, parent.info.run_id, tags)
    return metrics


# --- seeds groups ------------------------------------------------------------------------------


def open_group(client: MlflowClient, sweep_run: Any, name: str, trial: Any,
               selected_by: list[str], seeds: list[int], params: dict[str, Any],
               tags: dict[str, str] | None = None) -> str:  # fmt: skip
    """The parent run of seeds group ``name`` (kind ``seeds``), re-training trial ``trial`` (a
    row of :func:`~dabench.records.readers.trials`) of the sweep ``sweep_run`` with ``seeds``,
    picked by the criteria ``selected_by``; its id."""
    own = sweep_run.data.tags
    return start_run(client, sweep_run.info.experiment_id, name, {
        s.KIND: s.SEEDS_KIND, s.SWEEP: name, s.SOURCE_SWEEP: own[s.SWEEP],
        s.SELECTED_BY: json.dumps(selected_by), s.SELECTED_TRIAL: trial["run_id"],
        s.SEEDS: json.dumps(seeds), s.METHOD: own[s.METHOD], s.TASK: own[s.TASK],
        s.OBJECTIVE: own[s.OBJECTIVE], **(tags or {}),
    }, {"seeds": json.dumps(seeds), "selected_trial": trial["trial"], **params})  # fmt: skip


def add_criteria(client: MlflowClient, group: Any, selected_by: list[str]) -> None:
    """A group re-used for a pick: record the criteria that picked it now too."""
    union = list(dict.fromkeys([*json.loads(group.data.tags[s.SELECTED_BY]), *selected_by]))
    set_tags(client, group.info.run_id, {s.SELECTED_BY: json.dumps(union)})


def close_group(client: MlflowClient, experiment: str, group: str, seeds: int, wall: float,
                known: set[str] | None = None) -> int:  # fmt: skip
    """End a seeds group's parent run: ``FINISHED`` when all ``seeds`` runs completed, else
    ``KILLED`` (its runs closed as :func:`close_children` says); the number of completed runs."""
    completed = close_children(client, experiment, group, known)[s.COMPLETED]
    log_metrics(client, group, {"wall_s": wall, "runs_completed": completed}, step=0)
    client.set_terminated(group, "FINISHED" if completed == seeds else "KILLED")
    return completed
