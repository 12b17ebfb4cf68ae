"""``dabench sweep``: Ray Tune schedules trials, Optuna's TPE proposes them, ASHA stops poor ones
early, MLflow records everything; an interrupted sweep resumes where it stopped.

The driver (:func:`run_sweep`) validates the method, task, search space and options before Ray
starts, opens a parent MLflow run, and runs a ``Tuner`` over
:func:`~dabench.engine.trial.tune_trial`. A :class:`TrialMonitor` records each trial's end the
moment Tune knows it and tells the display (:mod:`dabench.engine.events`); when the Tuner
returns, :func:`close_sweep` gives every trial its final status and records the picks and the
sweep's summary.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from ray import tune
from ray.tune import Callback
from ray.tune.result import AUTO_RESULT_KEYS

from dabench import storage
from dabench.data import get_task
from dabench.data.registry import task_spec
from dabench.engine import events, logs
from dabench.engine.cluster import check_address, check_resources, init_ray, tune_run
from dabench.engine.options import SweepOptions, check
from dabench.engine.provenance import provenance
from dabench.engine.search import asha, grace_period, searcher
from dabench.engine.state import SWEEP_STATE, hold, load_sweep, repair_tune_state, save_sweep
from dabench.engine.trial import (
    INTERNAL,
    TrialName,
    record_trial_end,
    searched_of,
    trial_dirname,
    trial_internal,
    tune_trial,
)
from dabench.methods import get_method
from dabench.records import criteria, naming, readers, selection, store, writers
from dabench.records import schema as s
from dabench.records.criteria import Criterion
from dabench.reports.dashboard import log_summary, publish_view
from dabench.spaces import SearchSpace, load_space, space_path
from dabench.trainable import resolve_config
from dabench.validators import COSTLY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """A sweep's options as checked before Ray starts: its search space, the fixed part of every
    trial's config and its objective."""

    space: SearchSpace
    base: dict[str, Any]
    objective: Criterion


def validate(options: SweepOptions) -> Checked:
    """Check everything that can be checked before Ray starts: every option against its
    declaration, the task, the method, the search space, the fixed values and the objective.
    Raises ``ValueError`` (or ``SearchSpaceError``) naming what is wrong."""
    check(options)
    spec = task_spec(options.task)  # an unknown task: ValueError listing the tasks
    setting = spec.setting
    get_method(options.method, setting)  # unknown, or not for this setting: ValueError naming both
    space = load_space(options.space or space_path(options.method), method=options.method)
    base = {
        **space.fixed,
        **options.overrides,
        "method": options.method,
        "task": options.task,
        "steps": options.steps,
        "eval_every": options.eval_every,
        "seed": options.seed,
        "device": "cuda" if options.gpus_per_trial > 0 else "cpu",
    }
    if options.root:
        base["root"] = options.root
    searched = set(space.names()) & set(options.overrides)
    if searched:
        raise ValueError(f"--set {sorted(searched)} fixes searched parameter(s); edit the space")
    resolve_config(base)  # method/setting fit, unknown keys, types and ranges of the fixed values
    if spec.needs_root:  # a missing root, list file or first image: now, not in every trial
        get_task(options.task, options.root)
    try:
        objective = criteria.criterion(options.metric, setting)
    except ValueError as error:
        raise ValueError(f"--metric {error}") from None
    if objective.name in COSTLY:  # ASHA and the checkpoint pick read it at every evaluation
        when = base.get("costly_validators", "every")
        if when != "every":
            raise ValueError(f"--metric {objective.name} is scored at every evaluation; "
                             f"drop --set costly_validators={when}")  # fmt: skip
        base["costly_validators"] = "every"
    return Checked(space, base, objective)


class TrialMonitor(Callback):
    """Driver-side: records each trial's final state in its MLflow run the moment Tune knows it
    (``completed``, ``pruned`` by ASHA, ``failed``), logs one line per finished trial — its label
    (:class:`~dabench.engine.trial.TrialName`), status, objective, oracle, hyperparameters — and
    publishes the trials' state to the display (:mod:`dabench.engine.events`). Pickled with the
    Tuner, so a resumed sweep keeps it."""

    def __init__(self, sweep: dict[str, Any], steps: int, objective: Criterion,
                 num_samples: int) -> None:  # fmt: skip
        self.sweep, self.steps, self.objective = sweep, steps, objective
        self.oracle = criteria.oracle(objective.setting)
        self.num_samples = num_samples

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        events.publish("trials", monitor=self, trials=trials, ending=None)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:  # fmt: skip
        events.publish("trials", monitor=self, trials=trials, ending=None)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.finish(trial, trials, errored=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.finish(trial, trials, errored=True)

    def finish(self, trial: Any, trials: list, errored: bool) -> None:
        result = trial.last_result or {}
        status = record_trial_end(self.sweep, trial.trial_id, str(trial), trial.config or {},
                                  result, self.steps, errored)  # fmt: skip
        finished = 1 + sum(t.is_finished() for t in trials if t is not trial)
        objective, oracle = self.objective.key, self.oracle.key
        value, oracle_value = result.get(objective, math.nan), result.get(oracle, math.nan)
        searched_text = " ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in searched_of(trial.config or {}).items()
        )
        shown = f"{objective} {value:7.4g}  "
        if oracle != objective:
            shown += f"{oracle} {oracle_value:7.4g}  "
        log.info("[%d/%d] %s %-9s %s%s", finished, self.num_samples, trial, status, shown,
                 searched_text)  # fmt: skip
        events.publish("trials", monitor=self, trials=trials, ending=(trial, errored))


@dataclass
class SweepSummary:
    """What a sweep (or a session of it) ended with."""

    name: str
    path: str
    tracking_uri: str
    experiment: str
    parent_run_id: str
    objective: Criterion
    counts: dict[str, int]
    wall_s: float
    best_config: dict[str, Any]
    best_metrics: dict[str, Any]
    interrupted: bool
    checkpoint: dict[str, Any] = field(default_factory=dict)
    """Checkpoint-level pick: the best evaluation point of any trial by the objective —
    ``trial`` (id), ``name``, ``step``, ``metrics`` and ``path`` (Ray keeps each trial's best
    checkpoint)."""
    baseline: tuple[float, str] | None = None
    """The task's source-only target-test metric and the sweep it comes from, if there is one."""
    best_trial: str = ""
    """The trial-level pick's run name (``trial-<n> · <sweep>``, :mod:`dabench.records.naming`)."""

    @property
    def oracle(self) -> Criterion:
        return criteria.oracle(self.objective.setting)

    @property
    def negative_transfer(self) -> bool | None:
        """Whether the trial-level pick scores below source-only on target-test (``None``:
        no baseline to compare with)."""
        test = self.objective.test_key
        if self.baseline is None or test not in self.best_metrics:
            return None
        return self.best_metrics[test] < self.baseline[0]


def run_sweep(options: SweepOptions | None = None, resume: str | None = None,
              resume_under: str = "ray_results", verbose: bool = False) -> SweepSummary:  # fmt: skip
    """Run (or, with ``resume`` = a sweep's name or path, finish) a sweep; see the module doc.
    A sweep resumed by name is looked for under ``resume_under`` (its ``--storage``). The
    engines' logs go to a file in the sweep's folder unless ``verbose``
    (:mod:`dabench.engine.logs`). One driver at a time runs a sweep
    (:func:`~dabench.engine.state.hold`). A new sweep refused before its first trial leaves no
    folder behind."""
    state: dict[str, Any] = {}
    if resume is not None:
        options, state = load_sweep(resume, options.storage if options else resume_under)
    assert options is not None
    checked = validate(options)
    root = storage.resolve(options.storage)
    if resume is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        options.name = options.name or f"{options.method}-{options.task.replace('/', '-')}-{stamp}"
        where = storage.join(root, options.name)
        if storage.exists(storage.join(where, SWEEP_STATE)):
            raise ValueError(f"a sweep named {options.name!r} exists in {root}: finish it with "
                             f"`dabench sweep --resume {options.name} --storage {root}`, or "
                             "choose another --name")  # fmt: skip
        if storage.exists(where):
            raise ValueError(f"{where} exists and is not a dabench sweep: choose another --name "
                             "(dabench never writes into a folder it did not make)")  # fmt: skip
    where = storage.join(root, options.name)
    new_root = not storage.exists(root)
    storage.check_writable(root)
    log_file = logs.log_path(where)
    with hold(where, f"sweep {options.name}"), logs.engine_logs(log_file, verbose) as engines:
        log.info("sweep %s: %d trials of %s on %s; Ray's and MLflow's logs: %s", options.name,
                 options.num_samples, options.method, options.task, log_file)  # fmt: skip
        events.publish("started", title=f"sweep {options.name}")
        try:
            tuner, client, experiment, parent = prepare(options, checked, state, engines)
        except ValueError:
            if resume is None:  # refused before the first trial: leave nothing behind
                storage.delete_tree(where)
                if new_root:
                    storage.delete_tree(root)
            raise
        start = time.perf_counter()
        with tune_run():
            results = tuner.fit()
        wall = time.perf_counter() - start + state.get("wall_s", 0.0)
        save_sweep(where, options, parent, experiment, wall_s=wall)
        return summarize(results, options, client, experiment, parent, checked.objective, wall)


def prepare(options: SweepOptions, checked: Checked, state: dict[str, Any],
            engines: Any) -> tuple[Any, Any, str, str]:  # fmt: skip
    """Check the storage, the tracking store and the cluster, open (or, resuming with the saved
    ``state``, reopen) the parent run and build (or restore) the Tuner; return it, the MLflow
    client, the experiment id and the parent run id."""
    root, resume = storage.resolve(options.storage), bool(state)
    where = storage.join(root, options.name or "")
    options.tracking_uri = store.tracking_uri(options.tracking_uri)
    store.check_store(options.tracking_uri)  # before Ray; written only once the cluster fits
    if options.address:
        check_address(options.address)
    init_ray(options.address)
    engines.apply()  # ray.init may have added its handlers again
    check_resources(options.cpus_per_trial, options.gpus_per_trial)
    client, experiment = store.open_store(options.tracking_uri, options.experiment)
    objective = checked.objective
    if not resume:
        parent = open_sweep_run(client, experiment, options, checked.space, objective)
        save_sweep(where, options, parent, experiment)
    else:
        parent = state["parent_run_id"]
        client.update_run(parent, status="RUNNING")
    trainable = tune.with_resources(
        tune_trial, {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    )
    if resume:
        repair_tune_state(where)
        tuner = tune.Tuner.restore(where, trainable, resume_errored=False)
        return tuner, client, experiment, parent
    internal = trial_internal(options, experiment, parent, options.name or "", objective,
                              [*checked.base])  # fmt: skip
    monitor = TrialMonitor(internal, options.steps, objective, options.num_samples)
    tuner = tune.Tuner(
        trainable,
        param_space={**checked.base, INTERNAL: internal},
        tune_config=tune.TuneConfig(
            search_alg=searcher(options, checked.space, objective), scheduler=asha(options),
            metric=objective.key, mode=objective.mode,
            num_samples=options.num_samples, max_concurrent_trials=options.max_concurrent,
            reuse_actors=True, trial_dirname_creator=trial_dirname,
            trial_name_creator=TrialName(),
        ),
        run_config=tune.RunConfig(
            name=options.name, storage_path=root, verbose=0, callbacks=[monitor],
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute=objective.key,
                checkpoint_score_order=objective.mode,
            ),  # keeps each trial's best checkpoint, and its latest (to resume)
        ),
    )  # fmt: skip
    return tuner, client, experiment, parent


def open_sweep_run(client: Any, experiment: str, options: SweepOptions, space: SearchSpace,
                   objective: Criterion, tags: dict[str, str] | None = None) -> str:  # fmt: skip
    """Create the parent MLflow run of a sweep (:func:`dabench.records.writers.open_sweep`;
    every option as a ``sweep.*`` param — the values used (:func:`options_used`) — the search
    space and the provenance) and publish the sweep's dashboard view
    (:func:`dabench.reports.dashboard.publish_view`); return the run's id."""
    name = options.name or ""
    parent = writers.open_sweep(client, experiment, name, options.method, options.task, objective, {
        **{f"sweep.{k}": v for k, v in options_used(options, space, objective).items()},
        "space_file": space.source, "space": json.dumps([p.name for p in space.parameters]),
        **provenance(),
    }, tags)  # fmt: skip
    publish_view(client, experiment, name, objective)
    return parent


def options_used(options: SweepOptions, space: SearchSpace, objective: Criterion) -> dict:
    """The sweep's options with the defaults it used in place of ``None``: the objective's
    criterion, the search-space file, ASHA's first rung and the cluster (``local``); options
    that do not apply (e.g. no ``root``) are left out; credentials in URIs hidden."""
    used = asdict(options) | {
        "metric": objective.name,
        "space": options.space or space.source,
        "grace_period": grace_period(options) if options.scheduler == "asha" else None,
        "address": options.address or "local",
    }
    return {k: store.redact(v) if isinstance(v, str) else v for k, v in used.items()
            if v is not None}  # fmt: skip


def summarize(results: Any, options: SweepOptions, client: Any, experiment: str, parent: str,
              objective: Criterion, wall: float) -> SweepSummary:  # fmt: skip
    """Counts, the best trial (by the objective, never by the oracle unless it is the objective),
    and the parent run's final params, metrics and status."""
    known = {naming.trial_id_of(Path(result.path).name) for result in results}
    checkpoint = best_checkpoint(results, objective)
    closed = close_sweep(client, experiment, parent, options.num_samples, objective, wall, known,
                         checkpoint)  # fmt: skip
    if checkpoint:  # its trial's name (the run's), also when the sweep was interrupted
        run_id = readers.find_child(client, experiment, parent, checkpoint["trial"])
        if run_id is not None:
            checkpoint["name"] = client.get_run(run_id).info.run_name
    return SweepSummary(
        options.name or "", storage.join(storage.resolve(options.storage), options.name or ""),
        options.tracking_uri or "", options.experiment, parent, objective, closed.counts, wall,
        closed.best_config, closed.best_metrics, closed.interrupted, checkpoint,
        readers.source_only_baseline(client, experiment, options.task), closed.best_trial,
    )  # fmt: skip


@dataclass
class Closed:
    """What :func:`close_sweep` recorded: trial counts by final status, the trial-level pick's
    config and metrics (empty if no trial was scored), and whether trials are missing."""

    counts: dict[str, int]
    best_config: dict[str, Any]
    best_metrics: dict[str, float]
    interrupted: bool
    best_trial: str = ""
    """The trial-level pick's run name."""


def close_sweep(client: Any, experiment: str, parent: str, num_samples: int, objective: Criterion,
                wall: float, known: set[str] | None,
                checkpoint: dict[str, Any] | None = None) -> Closed:  # fmt: skip
    """Close the parent run of a sweep: every child run gets its final status
    (:func:`dabench.records.writers.close_children`), then the counts and, once all
    ``num_samples`` trials ran, the picks (:func:`dabench.records.writers.record_picks`) and the
    summary (:func:`dabench.reports.dashboard.log_summary`). The run ends ``FINISHED``, or
    ``KILLED`` when trials are missing."""
    counts = writers.close_children(client, experiment, parent, known)
    ran = sum(counts[k] for k in (s.COMPLETED, s.PRUNED, s.FAILED))
    counts["not run"] = max(num_samples - ran - counts[s.INTERRUPTED], 0)
    interrupted = ran < num_samples
    run = client.get_run(parent)
    frame = readers.trials(client, run)
    best = selection.pick(frame, objective) if not frame.empty else None
    best_config: dict[str, Any] = {}
    best_metrics: dict[str, float] = {}
    if best is not None:
        best_config = dict(best["config"])
        best_metrics = {k: float(v) for k, v in best.items() if k not in readers.TRIAL_COLUMNS
                        and isinstance(v, int | float) and math.isfinite(v)}  # fmt: skip
    numeric = {f"trials_{k.replace(' ', '_')}": v for k, v in counts.items()}
    oracle = criteria.oracle(objective.setting)
    if not interrupted:  # params cannot change in MLflow: the best config only once, at the end
        writers.log_params(client, parent, {f"best.{k}": v for k, v in best_config.items()
                                            if k not in ("method", "task")})  # fmt: skip
        keys = list(dict.fromkeys([objective.key, oracle.key, objective.test_key, "step"]))
        numeric |= writers.record_picks(client, run, best, checkpoint or {}, keys)
    writers.log_metrics(client, parent, {**numeric, "wall_s": wall}, step=0)
    if not interrupted and not frame.empty:
        log_summary(client, client.get_run(parent), frame, objective)
    client.set_terminated(parent, "KILLED" if interrupted else "FINISHED")
    best_trial = str(best["trial"]) if best is not None else ""
    return Closed(counts, best_config, best_metrics, interrupted, best_trial)


def best_checkpoint(results: Any, objective: Criterion) -> dict[str, Any]:
    """The best evaluation point of any trial by ``objective`` (label-free unless the objective
    is the oracle; within a trial, the latest of tied points, the one Ray keeps), with the path
    of its checkpoint when Ray kept it."""
    key, sign = objective.key, objective.sign
    best: dict[str, Any] = {}
    for result in results:
        frame = result.metrics_dataframe
        if frame is None or key not in frame or frame[key].isna().all():
            continue
        row = frame.loc[(sign * frame[key])[::-1].idxmax()]  # ties: the latest, as Ray
        if best and sign * row[key] <= sign * best["metrics"][key]:
            continue
        path = next((c.path for c, m in result.best_checkpoints if m.get("step") == row["step"]),
                    None)  # fmt: skip
        best = {"trial": naming.trial_id_of(Path(result.path).name), "step": int(row["step"]),
                "metrics": reported(row), "path": path}  # fmt: skip
    return best


RAY_KEYS = {*AUTO_RESULT_KEYS, "done", "trial_id", "experiment_tag", "should_checkpoint",
            "evaluation"}  # fmt: skip


def reported(row: Any) -> dict[str, float]:
    """The numbers a trial reported in one row of Ray's metrics table (without the keys Ray adds:
    ``training_iteration``, ``timestamp``, ``config/...``, ..., nor ``evaluation``, which
    :func:`~dabench.engine.trial.tune_trial` adds for Tune)."""
    return {
        key: float(value)
        for key, value in row.items()
        if key not in RAY_KEYS and not key.startswith("config/")
        and isinstance(value, int | float | np.number) and not isinstance(value, bool)
    }  # fmt: skip
