"""Many sweeps in one Ray Tune run: the searcher and the scheduler behind ``dabench benchmark``.

One ``Tuner`` runs every sweep of a benchmark and every seeds group that re-trains a sweep's
picks, so the cluster's CPUs and GPUs stay busy until the last trial, and the fixed costs —
``ray.init``, trial actors starting and importing torch — are paid once: actors are reused
across sweeps. Each trial's config names its sweep or group (``config[INTERNAL]["sweep"]``).

* :class:`MultiSweepSearcher` holds one Optuna searcher per sweep and routes Tune's calls to it.
  It offers work in a fixed order: the runs of seeds groups that are ready (they finish a cell of
  the leaderboard), then the next trial of the first sweep of the plan that has trials left and
  fewer than its ``max_concurrent`` running (as ``dabench sweep`` runs it, so TPE learns from as
  many finished trials). It records each trial's end in MLflow (as ``dabench sweep`` does); when a
  sweep's last trial ends it closes the sweep's parent run and opens the seeds groups of its
  picks (as ``dabench rerun`` writes them); when a group's last run ends it closes the group.
  Its whole state — the Optuna searchers included — is saved with Ray's experiment state, so
  ``Tuner.restore`` continues it. Every MLflow step it takes is idempotent: sweeps are found by
  name, groups by the trial they re-train, so what ran after Ray's last state snapshot is found
  again instead of duplicated.
* :class:`PerSweepScheduler` applies each sweep's ASHA on its own (its rungs, its objective);
  seeds groups run to the end.
"""

from __future__ import annotations

import math
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from dabench import storage
from dabench.compat import asha_tracks
from dabench.engine import events
from dabench.engine import rerun as reruns
from dabench.engine.cluster import slots
from dabench.engine.options import SweepOptions
from dabench.engine.search import asha, searcher
from dabench.engine.sweep import close_sweep, open_sweep_run
from dabench.engine.trial import (
    INTERNAL,
    own_checkpoint,
    record_trial_end,
    trial_internal,
    trial_label,
)
from dabench.records import naming, readers, writers
from dabench.records.criteria import Criterion
from dabench.records.schema import BENCHMARK
from dabench.spaces import SearchSpace


@dataclass
class SweepJob:
    """One sweep of the plan and how far it got."""

    options: SweepOptions
    space: SearchSpace
    base: dict[str, Any]
    """The fixed part of every trial's config (:func:`dabench.engine.sweep.validate`)."""
    objective: Criterion
    parent: str | None = None
    """Its MLflow parent run, once opened."""
    search: Any = None
    """Its Optuna searcher, once opened."""
    trials: dict[str, str | None] = field(default_factory=dict)
    """Trial id → how it ended (``None``: still running)."""
    configs: dict[str, dict] = field(default_factory=dict)
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    """Trial id → its latest ``step``, ``time_s``, objective and target-test metric."""
    started: float | None = None
    ended: float | None = None
    done: bool = False
    closed: bool = False
    """Its parent run was closed by a session that stopped before Ray's last state snapshot
    knew it: it gets no new trials, only the ones Ray restarts finish."""

    @property
    def name(self) -> str:
        return self.options.name or ""

    @property
    def total(self) -> int:
        return self.options.num_samples

    def running(self) -> int:
        return sum(status is None for status in self.trials.values())


@dataclass
class GroupJob:
    """One seeds group: a sweep's pick trained again with fresh seeds."""

    name: str
    sweep: SweepJob
    run_id: str
    selected: str
    """The run id of the sweep's trial it re-trains."""
    pending: list[dict[str, Any]]
    """Configs of the seed runs not offered yet."""
    total: int
    trials: dict[str, str | None] = field(default_factory=dict)
    configs: dict[str, dict] = field(default_factory=dict)
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    started: float | None = None
    done: bool = False

    def running(self) -> int:
        return sum(status is None for status in self.trials.values())


class MultiSweepSearcher(Searcher):
    """Every sweep of a benchmark and the seeds groups of their picks, one trial at a time (see
    the module doc). ``sweeps`` in plan order; ``seeds`` fresh seeds per pick of the criteria
    ``select`` (empty: each sweep's objective and the oracle; ``seeds=0``: no groups);
    ``benchmark`` names the benchmark (the tag of its runs) in MLflow experiment ``experiment``
    (an id) of ``tracking_uri``; trials keep their checkpoints under ``checkpoints``."""

    def __init__(self, sweeps: list[SweepJob], seeds: int, select: tuple[str, ...],
                 benchmark: str, experiment: str, tracking_uri: str,
                 checkpoints: str) -> None:  # fmt: skip
        super().__init__()
        self.sweeps, self.seeds, self.select = sweeps, seeds, select
        self.benchmark, self.experiment, self.tracking_uri = benchmark, experiment, tracking_uri
        self.checkpoints = checkpoints
        """The storage folder where trials keep their latest checkpoints (see
        :func:`dabench.engine.trial.tune_trial`)."""
        self.groups: list[GroupJob] = []
        self.owner: dict[str, str] = {}
        """Trial id → the name of its sweep or group."""
        self.events: list[str] = []
        """What happened, one line per finished sweep or group (the progress display's log)."""
        self._client: Any = None
        self._resumed = False
        self._slots = 1

    # --- Searcher API ------------------------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:  # fmt: skip
        return True  # every sweep has its own objective

    def suggest(self, trial_id: str) -> dict | str | None:
        self._resume_runs()
        live = sum(job.running() for job in [*self.sweeps, *self.groups])
        if live >= self._slots:  # every slot of the cluster has a trial: suggest it later
            return None
        for group in self.groups:  # ready seeds groups first: each finishes a leaderboard cell
            if group.pending:
                config = group.pending.pop(0)
                group.started = group.started or time.time()
                return self._assign(group, trial_id, config)
        for job in self.sweeps:
            if job.done or job.closed or len(job.trials) >= job.total:
                continue
            if job.running() >= job.options.max_concurrent:
                continue
            if job.parent is None:
                self._open(job)
                if job.done:  # finished in an earlier session
                    continue
            suggestion = job.search.suggest(trial_id)
            if suggestion is None:
                continue
            internal = trial_internal(job.options, self.experiment, job.parent or "", job.name,
                                      job.objective, [*job.base])  # fmt: skip
            internal["checkpoints"] = self.checkpoints
            return self._assign(job, trial_id, {**job.base, **suggestion, INTERNAL: internal})
        busy = any(job.running() for job in [*self.sweeps, *self.groups])
        finished = all(job.done for job in [*self.sweeps, *self.groups])
        return Searcher.FINISHED if finished and not busy else None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        job = self._job(trial_id)
        if job is None:
            return
        self._record(job, trial_id, result)
        if isinstance(job, SweepJob):  # Optuna's step: the evaluation (see trial.tune_trial)
            step = result.get("evaluation", result.get("training_iteration"))
            job.search.on_trial_result(trial_id, {**result, "training_iteration": step})
        events.publish("benchmark", searcher=self)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:  # fmt: skip
        job = self._job(trial_id)
        if job is None or job.trials.get(trial_id) is not None:
            return
        if result:
            self._record(job, trial_id, result)
        config = job.configs.get(trial_id, {})
        steps = config.get("steps", 0)
        label = trial_label(config, trial_id)
        status = record_trial_end(config[INTERNAL], trial_id, label, config, result or {}, steps,
                                  error)  # fmt: skip
        own = own_checkpoint(config[INTERNAL], trial_id)
        if own is not None:  # recorded in MLflow: a restarted trial now reports its end without
            storage.delete(own)  # training, so its checkpoint is not needed any more
        job.trials[trial_id] = status
        if isinstance(job, SweepJob):
            job.search.on_trial_complete(trial_id, result=result, error=error)
            if (len(job.trials) >= job.total or job.closed) and not job.running():
                self._close_sweep(job)
        elif not job.pending and not job.running():
            self._close_group(job)
        events.publish("benchmark", searcher=self)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.__getstate__(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.__setstate__(pickle.load(file))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()
                if k not in ("_client", "_resumed", "_slots")}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client, self._resumed, self._slots = None, False, 1

    # --- MLflow bookkeeping ------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def _assign(self, job: SweepJob | GroupJob, trial_id: str, config: dict) -> dict:
        """Give trial ``trial_id`` to ``job`` with ``config``; a sweep's trial is labelled by its
        number in the sweep (Tune's own count runs over all sweeps; a seeds group's runs are
        labelled by seed: :class:`~dabench.engine.trial.TrialName`)."""
        self.owner[trial_id] = job.name
        if isinstance(job, SweepJob):
            label = naming.label(naming.TRIAL, len(job.trials) + 1)
            config = {**config, INTERNAL: {**config[INTERNAL], "label": label}}
        job.trials[trial_id] = None
        job.configs[trial_id] = config
        return config

    def _job(self, trial_id: str) -> SweepJob | GroupJob | None:
        name = self.owner.get(trial_id)
        return next((j for j in [*self.sweeps, *self.groups] if j.name == name), None)

    def _record(self, job: SweepJob | GroupJob, trial_id: str, result: dict) -> None:
        """Keep what the progress display needs of a trial's latest result."""
        sweep = job.sweep if isinstance(job, GroupJob) else job
        keys = ("step", "time_s", sweep.objective.key, sweep.objective.test_key)
        job.results[trial_id] = {k: float(result[k]) for k in keys
                                 if isinstance(result.get(k), int | float)}  # fmt: skip

    def _resume_runs(self) -> None:
        """Once per driver session: the sweeps and groups under way were closed as ``KILLED``
        when the last session stopped; they run again. One that finished after Ray's last
        state snapshot stays ``FINISHED`` and gets no new trials — the snapshot may predate
        some of its trials, which must not run a second time — while the trials Ray restarts
        only report their final results again."""
        if self._resumed:
            return
        self._resumed = True
        options = self.sweeps[0].options
        self._slots = slots(options.cpus_per_trial, options.gpus_per_trial)
        for job in [*self.sweeps, *self.groups]:
            run = job.parent if isinstance(job, SweepJob) else job.run_id
            if run is None or job.done:
                continue
            if not self._finished(run):
                self.client.update_run(run, status="RUNNING")
            elif isinstance(job, GroupJob):
                job.pending.clear()
                job.done = not job.running()
            else:
                job.closed = True
                if not job.running():
                    self._close_sweep(job)

    def _finished(self, run_id: str) -> bool:
        return self.client.get_run(run_id).info.status == "FINISHED"

    def _open(self, job: SweepJob) -> None:
        """Find the sweep's parent run (an earlier session may have made it) or create it, and
        its searcher. A sweep found finished is done: only its seeds groups may be missing."""
        found = readers.find_sweep(self.client, self.experiment, job.name, self.benchmark)
        job.search = searcher(job.options, job.space, job.objective)
        job.search.set_search_properties(job.objective.key, job.objective.mode, {})
        job.started = time.time()
        if found is not None:
            job.parent = found.info.run_id
            if found.info.status == "FINISHED":
                job.done, job.ended = True, job.started
                self._open_groups(job)
                return
            self.client.update_run(job.parent, status="RUNNING")
        else:
            job.parent = open_sweep_run(self.client, self.experiment, job.options, job.space,
                                        job.objective, {BENCHMARK: self.benchmark})  # fmt: skip

    def _close_sweep(self, job: SweepJob) -> None:
        job.ended = time.time()
        if self._finished(job.parent or ""):
            # closed by a session that stopped before Ray's state recorded it: only its trials'
            # final results were reported again
            job.done = True
            self._open_groups(job)
            return
        closed = close_sweep(self.client, self.experiment, job.parent or "", job.total,
                             job.objective, job.ended - (job.started or job.ended),
                             set(job.trials))  # fmt: skip
        job.done = True
        counts = ", ".join(f"{v} {k}" for k, v in closed.counts.items() if v)
        key, test, pick = job.objective.key, job.objective.test_key, closed.best_metrics
        shown = (f"; pick {key} {pick.get(key, math.nan):.4g}, "
                 f"{test} {pick.get(test, math.nan):.2f}") if pick else ""  # fmt: skip
        self.events.append(f"sweep {job.name} finished: {counts}{shown}")
        self._open_groups(job)

    def _open_groups(self, job: SweepJob) -> None:
        """The seeds groups of a finished sweep's picks that have not finished yet."""
        if not self.seeds:
            return
        parent = self.client.get_run(job.parent)
        try:
            frame, picked, seeds = reruns.picks(self.client, parent, self.select, self.seeds)
        except ValueError as error:  # e.g. every trial failed: nothing to re-train
            self.events.append(f"sweep {job.name}: no seeds group ({error})")
            return
        for run_id, selected_by in picked.items():
            if any(g.sweep.name == job.name and g.selected == run_id for g in self.groups):
                continue
            existing = readers.find_group(self.client, parent, run_id, seeds)
            if existing is not None and readers.settled(self.client, existing, len(seeds)):
                writers.add_criteria(self.client, existing, selected_by)
                continue
            row = frame[frame["run_id"] == run_id].iloc[0]
            group, name, configs = reruns.open_group(
                self.client, parent, row, selected_by, seeds, job.options,
                {BENCHMARK: self.benchmark}, existing,
            )  # fmt: skip
            for config in configs:
                config[INTERNAL]["checkpoints"] = self.checkpoints
            self.groups.append(GroupJob(name, job, group, run_id, configs, len(configs)))

    def _close_group(self, group: GroupJob) -> None:
        if self._finished(group.run_id):  # closed before Ray's last state snapshot knew it
            group.done = True
            return
        wall = time.time() - (group.started or time.time())
        completed = writers.close_group(self.client, self.experiment, group.run_id, group.total,
                                        wall, set(group.trials))  # fmt: skip
        group.done = True
        note = "" if completed == group.total else " (run the benchmark again to retry it)"
        self.events.append(f"seeds group {group.name}: {completed} of {group.total} runs "
                           f"completed{note}")  # fmt: skip


class PerSweepScheduler(FIFOScheduler):
    """ASHA for each sweep on its own — its own rungs and its own objective, the scheduler
    ``dabench sweep`` would give it (:func:`dabench.engine.search.asha`) — and no early stopping
    for seeds groups (or sweeps with ``scheduler: none``). ``sweeps``: name → (options,
    objective)."""

    def __init__(self, sweeps: dict[str, tuple[SweepOptions, Criterion]]) -> None:
        super().__init__()
        self.sweeps = sweeps
        self._schedulers: dict[str, Any] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def _of(self, trial: Any) -> Any | None:
        name = (trial.config or {}).get(INTERNAL, {}).get("sweep")
        if name not in self._schedulers:
            scheduler = None
            if name in self.sweeps:
                options, objective = self.sweeps[name]
                scheduler = asha(options, time_attr="evaluation")  # see trial.tune_trial
                if scheduler is not None:
                    scheduler.set_search_properties(objective.key, objective.mode)
            self._schedulers[name] = scheduler
        return self._schedulers[name]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if (scheduler := self._of(trial)) is not None:
            scheduler.on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        if (scheduler := self._of(trial)) is not None:
            return scheduler.on_trial_result(tune_controller, trial, result)
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        if (scheduler := self._tracking(trial)) is not None:
            scheduler.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        if (scheduler := self._tracking(trial)) is not None:
            scheduler.on_trial_remove(tune_controller, trial)

    def _tracking(self, trial: Any) -> Any | None:
        """The trial's ASHA if that still tracks the trial (ASHA forgets a trial it finished)."""
        scheduler = self._of(trial)
        return (
            scheduler if scheduler is not None and asha_tracks(scheduler, trial.trial_id) else None
        )

    def debug_string(self) -> str:
        return f"ASHA per sweep ({sum(s is not None for s in self._schedulers.values())} sweeps)"
