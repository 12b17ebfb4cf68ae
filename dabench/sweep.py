"""``dabench sweep``: Ray Tune schedules trials, Optuna's TPE proposes them, ASHA stops poor ones
early, MLflow records everything; an interrupted sweep resumes where it stopped.

The driver (:func:`run_sweep`) validates the method, task, search space and options before Ray
starts, opens a parent MLflow run, and runs a ``Tuner`` over :func:`tune_trial`, which wraps
:func:`dabench.trainable.run_trial`: every evaluation is logged to the trial's child run and
reported to Tune with the trial's checkpoint, so a restored sweep continues each unfinished trial
from its last evaluation.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ray.tune import Callback

from dabench import __version__, logs, progress, selection, storage
from dabench.data import get_task
from dabench.data.registry import task_spec
from dabench.methods import get_method
from dabench.spaces import SearchSpace, load_space, space_path
from dabench.suggest import did_you_mean
from dabench.trainable import CHECKPOINT_FILE, MAIN_METRIC, resolve_config, run_trial
from dabench.validators import VALIDATORS, validators_for

STATE_FILE = "dabench_sweep.json"
SCHEDULERS = ("asha", "none")  # ASHA early stopping, or every trial to the end
SEARCHERS = ("tpe", "random")  # Optuna's TPE, or uniform random search as a baseline
INTERNAL = "_dabench"  # config key holding what a trial needs besides its hyperparameters


@dataclass
class SweepOptions:
    """Everything a sweep is defined by (saved next to Ray's state so ``--resume`` needs only the
    sweep's name)."""

    method: str
    task: str
    num_samples: int = 8
    max_concurrent: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    steps: int = 1000
    eval_every: int = 250
    seed: int = 0
    metric: str | None = None
    scheduler: str = "asha"
    searcher: str = "tpe"
    grace_period: int | None = None
    """ASHA's first rung, in evaluations; ``None``: the setting's (:func:`grace_period`)."""
    reduction_factor: int = 2
    max_failures: int = 0
    space: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    address: str | None = None
    tracking_uri: str | None = None
    experiment: str | None = None
    storage: str = "ray_results"
    name: str | None = None


def objective_key(metric: str | None, setting: str) -> str:
    """The reported metric a sweep optimises. ``None``: the setting's
    :data:`dabench.selection.DEFAULT_METRIC`; ``source_val``: source-val accuracy (mIoU for
    segmentation); a validator's name (``im``, ``class_ami``, ...:
    :data:`dabench.validators.VALIDATORS`); ``oracle``: the setting's
    target-val metric (uses target labels, so only when asked for); or any reported key by name.
    Raises ``ValueError`` for a validator that does not apply to the setting."""
    metric = metric or selection.DEFAULT_METRIC[setting]
    if metric == "oracle":
        return f"target_val_{MAIN_METRIC[setting]}"
    if metric == "source_val":
        return "source_val_miou" if setting == "segmentation" else "source_val_acc"
    if metric in VALIDATORS:
        if setting not in VALIDATORS[metric].settings:
            names = ", ".join(v.name for v in validators_for(setting))
            raise ValueError(
                f"--metric {metric!r} does not apply to {setting} tasks; their validators: "
                f"source_val, {names} (or oracle)"
            )
        return VALIDATORS[metric].key
    return metric


def sampler(searcher: str, seed: int) -> Any:
    """The Optuna sampler for ``--searcher``, seeded: multivariate TPE, or random search."""
    import optuna

    if searcher == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def validate(options: SweepOptions) -> tuple[SearchSpace, dict[str, Any]]:
    """Check everything that can be checked before Ray starts; return the space and the base
    config of every trial. Raises ``ValueError`` (or ``SearchSpaceError``) naming what is wrong."""
    for key in ("num_samples", "max_concurrent", "steps", "eval_every", "grace_period"):
        if getattr(options, key) is not None and getattr(options, key) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be ≥ 1; got {getattr(options, key)}")
    if options.reduction_factor < 2:
        raise ValueError(f"--reduction-factor must be ≥ 2; got {options.reduction_factor}")
    if options.cpus_per_trial <= 0 or options.gpus_per_trial < 0:
        raise ValueError("--cpus-per-trial must be > 0 and --gpus-per-trial ≥ 0")
    if options.scheduler not in SCHEDULERS:
        raise ValueError(f"--scheduler must be asha or none; got {options.scheduler!r}")
    if options.searcher not in SEARCHERS:
        raise ValueError(f"--searcher must be tpe or random; got {options.searcher!r}")
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
    key = objective_key(options.metric, setting)
    known = reported_keys(setting)
    if key not in known:
        names = ["source_val", "oracle", *(v.name for v in validators_for(setting)), *known]
        raise ValueError(
            f"--metric {options.metric!r}{did_you_mean(options.metric, names)}: {key!r} is not "
            f"reported for {setting} tasks; use "
            f"source_val, {', '.join(v.name for v in validators_for(setting))}, oracle or a "
            f"reported key: {', '.join(sorted(known))}"
        )
    return space, base


def reported_keys(setting: str) -> set[str]:
    """The evaluation metrics every report of a trial carries."""
    names = {"source_val_acc"} if setting != "segmentation" else {"source_val_miou"}
    suffixes = {
        "closed": ("acc",),
        "partial": ("acc",),
        "open_set": ("h_score", "os", "os_star", "unk"),
        "segmentation": ("miou", "pixel_acc"),
    }[setting]
    for split in ("target_val", "target_test"):
        names |= {f"{split}_{s}" for s in suffixes}
    if setting == "segmentation":
        names.add("source_val_pixel_acc")
    else:
        names |= {"dev_ess", "predicted_top_class_pct"}
    if setting == "open_set":
        names.add("predicted_unknown_pct")
    return names | {v.key for v in validators_for(setting)} | {"train_loss"}


def tune_trial(config: dict[str, Any]) -> None:
    """One Ray Tune trial: :func:`run_trial` with MLflow logging and Tune checkpoints.

    ``config[INTERNAL]`` carries the tracking URI, experiment and parent run, the objective key
    and the resources (for CPU/GPU seconds). The child run is found again by trial id when a trial
    is resumed or retried, so a trial never has two runs, and a trial whose run says it already
    finished is not trained again. With ``config[INTERNAL]["checkpoints"]`` (a storage folder;
    ``dabench benchmark`` sets it) the trial keeps its latest checkpoint there itself, at
    ``<folder>/<trial id>.pt``, replaced whole at every evaluation, instead of handing it to
    Tune: Tune deletes a trial's previous checkpoint before its next state snapshot names the new
    one, so a driver killed in between would leave a restored trial pointing at a deleted
    checkpoint. Every report also carries ``evaluation`` (its evaluation's number), the time
    attribute of such a trial's ASHA: Tune's ``training_iteration`` restarts at 1 when a trial
    without a Tune checkpoint is restored.
    """
    import torch
    from mlflow.tracking import MlflowClient
    from ray import tune

    from dabench import tracking

    internal = config[INTERNAL]
    trial_config = {k: v for k, v in config.items() if k != INTERNAL}
    trial_id = tune.get_context().get_trial_id()
    client = MlflowClient(internal["tracking_uri"])
    experiment, parent = internal["experiment_id"], internal["parent_run_id"]
    objective, sign = internal["objective"], 1 if internal["mode"] == "max" else -1
    run_id, logged = tracking.find_child(client, experiment, parent, trial_id), 0
    if run_id is None:
        searched = searched_of(config)
        run_id = tracking.start_run(
            client, experiment, internal.get("run_name") or tune.get_context().get_trial_name(),
            {tracking.PARENT_TAG: parent, tracking.KIND: "trial", tracking.TRIAL_ID: trial_id,
             tracking.SWEEP: internal["sweep"], "method": config["method"], "task": config["task"],
             "searched": json.dumps(searched, sort_keys=True), tracking.STATUS: "running",
             tracking.STARTS: "1", tracking.CONFIG: json.dumps(trial_config, sort_keys=True)},
            resolve_config(trial_config),
        )  # fmt: skip
    else:
        run = client.get_run(run_id)
        status = run.data.tags.get(tracking.STATUS)
        if status in ("completed", "pruned"):
            # It finished, but the driver was killed before Ray's state recorded that: hand Tune
            # the final result again instead of training again.
            final = dict(run.data.metrics)
            final.setdefault(objective, -sign * math.inf)
            final["evaluation"] = evaluation(final.get("step", 0), config["eval_every"])
            tune.report(final)
            return
        if status == "failed" and not internal["max_failures"]:
            error = run.data.tags.get("error", "its worker died (no error was recorded)")
            raise RuntimeError(f"failed before the sweep was resumed: {error}")
        # Resumed after an interruption, or retried after a failure (--max-failures): steps up
        # to the last one logged are not logged again (a restored checkpoint may be older).
        logged = int(run.data.metrics.get("step", 0))
        starts = int(run.data.tags.get(tracking.STARTS, "1")) + 1
        tracking.set_tags(client, run_id, {tracking.STATUS: "running", tracking.STARTS: starts})
        client.update_run(run_id, status="RUNNING")
    cpus, gpus = internal["cpus_per_trial"], internal["gpus_per_trial"]

    own = own_checkpoint(internal, trial_id)
    with tempfile.TemporaryDirectory() as work:
        checkpoints, resume = Path(work) / "checkpoints", None
        previous = tune.get_checkpoint()
        if own is not None:
            if storage.download(own, Path(work) / "resume" / CHECKPOINT_FILE):
                resume = Path(work) / "resume"
        elif previous is not None:
            with previous.as_directory() as directory:
                resume = Path(work) / "resume"
                shutil.copytree(directory, resume)

        reported = []

        def report(metrics: dict[str, Any], log: bool = True) -> None:
            reported.append(metrics["step"])
            numeric = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
            numeric["cpu_s"] = metrics["time_s"] * cpus
            numeric["gpu_s"] = metrics["time_s"] * gpus
            if log and metrics["step"] > logged:
                tracking.log_metrics(client, run_id, numeric, step=metrics["step"])
            value = numeric.get(objective, math.nan)
            if not math.isfinite(value):  # Optuna leaves a NaN trial RUNNING for good
                numeric[objective] = -sign * math.inf
            numeric["evaluation"] = evaluation(metrics["step"], config["eval_every"])
            if own is not None and log:
                storage.upload(checkpoints / CHECKPOINT_FILE, own)
            if own is None and log:
                tune.report(numeric, checkpoint=tune.Checkpoint.from_directory(checkpoints))
            else:
                tune.report(numeric)

        torch.set_num_threads(max(1, int(cpus)))  # a reused actor keeps its first count
        try:
            final = run_trial(trial_config, report, checkpoint_dir=checkpoints, resume_from=resume)
            if not reported and final:  # resumed from its last checkpoint: nothing left to train
                report(final, log=False)  # (logged before); Tune gets the final result again
        except Exception as error:
            tracking.set_tags(
                client, run_id, {tracking.STATUS: "failed", "error": repr(error)[:5000]}
            )
            client.set_terminated(run_id, "FAILED")
            raise


def evaluation(step: int, eval_every: int) -> int:
    """The number of the evaluation at ``step`` (the last one may come before a full interval)."""
    return math.ceil(step / eval_every)


def own_checkpoint(internal: dict[str, Any], trial_id: str) -> str | None:
    """Where a trial keeps its own latest checkpoint (see :func:`tune_trial`), if it does."""
    folder = internal.get("checkpoints")
    return storage.join(folder, f"{trial_id}.pt") if folder else None


class TrialMonitor(Callback):
    """Driver-side: records each trial's final state in its MLflow run the moment Tune knows it
    (``completed``, ``pruned`` by ASHA, ``failed``), and shows one line per finished trial —
    status, objective, oracle, hyperparameters — and the sweep's progress
    (:func:`dabench.progress.trials_changed`). Pickled with the Tuner, so a resumed sweep
    keeps it."""

    def __init__(self, sweep: dict[str, Any], steps: int, objective: str, oracle: str,
                 num_samples: int) -> None:  # fmt: skip
        self.sweep, self.steps, self.objective, self.oracle = sweep, steps, objective, oracle
        self.num_samples = num_samples

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        progress.trials_changed(self, trials)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:  # fmt: skip
        progress.trials_changed(self, trials)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.finish(trial, trials, errored=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.finish(trial, trials, errored=True)

    def finish(self, trial: Any, trials: list, errored: bool) -> None:
        result = trial.last_result or {}
        status = record_trial_end(self.sweep, trial.trial_id, str(trial), trial.config or {},
                                  result, self.steps, errored)  # fmt: skip
        finished = 1 + sum(t.is_finished() for t in trials if t is not trial)
        value, oracle = result.get(self.objective, math.nan), result.get(self.oracle, math.nan)
        searched_text = " ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in searched_of(trial.config or {}).items()
        )
        shown = f"{self.objective} {value:7.4g}  "
        if self.oracle != self.objective:
            shown += f"{self.oracle} {oracle:7.4g}  "
        line = f"[{finished}/{self.num_samples}] {trial} {status:9s} {shown}{searched_text}"
        progress.trials_changed(self, trials, line, ending=(trial, errored))


def record_trial_end(internal: dict[str, Any], trial_id: str, name: str, config: dict[str, Any],
                     result: dict[str, Any], steps: int, errored: bool) -> str:  # fmt: skip
    """Record in MLflow how a trial ended (``completed``, ``pruned`` by ASHA, ``failed``) the
    moment Tune knows it, on the trial's child run of the parent ``internal["parent_run_id"]``
    (opened here if the trial failed before opening it); return that status."""
    from mlflow.tracking import MlflowClient

    from dabench import tracking

    status = trial_status(result, steps, errored)
    client = MlflowClient(internal["tracking_uri"])
    experiment, parent = internal["experiment_id"], internal["parent_run_id"]
    run_id = tracking.find_child(client, experiment, parent, trial_id)
    if run_id is None:  # it failed before its run was opened: record it all the same
        run_id = tracking.start_run(client, experiment, name, {
            tracking.PARENT_TAG: parent, tracking.KIND: "trial", tracking.TRIAL_ID: trial_id,
            tracking.SWEEP: internal["sweep"],
            "searched": json.dumps(searched_of(config), sort_keys=True)})  # fmt: skip
    tracking.set_tags(client, run_id, {tracking.STATUS: status})
    client.set_terminated(run_id, MLFLOW_STATUS[status])
    return status


def searched_of(config: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters the searcher chose for a trial (its config less the fixed base)."""
    base = set(config.get(INTERNAL, {}).get("base_keys", ()))
    return {k: v for k, v in config.items() if k not in base}


def trial_status(result: dict[str, Any], steps: int, errored: bool) -> str:
    """How a finished trial ended: ``failed``, ``completed`` (reached the last step) or
    ``pruned`` (stopped early by ASHA)."""
    if errored:
        return "failed"
    return "completed" if result.get("step", 0) >= steps else "pruned"


def trial_dirname(trial: Any) -> str:
    """Short trial folders named by trial id (Ray's default puts the whole config in the name;
    :func:`summarize` reads the id back from it)."""
    return f"trial_{trial.trial_id}"


MLFLOW_STATUS = {"completed": "FINISHED", "pruned": "FINISHED", "failed": "FAILED"}
"""The MLflow run status of a trial by how it ended. A pruned trial ran as it should and ASHA
stopped it, by design: ``FINISHED`` (a green tick in MLflow's UI), told from a completed one by
the ``dabench.status`` tag (a column of the sweep's view, :mod:`dabench.dashboard`). ``FAILED``
(a red cross) is kept for crashes, and ``KILLED`` for trials interrupted with the driver."""


class TrialName:
    """Names a sweep's trials ``<sweep>-trial-<n>`` (``n``: 1, 2, ... in the order the searcher
    created them; its counter is part of Tune's saved state, so a resumed sweep goes on counting),
    or, with ``key``, ``<sweep>-<key>-<the trial's value of key>`` (a seeds group's
    ``...-seed-3``). Tune shows the name and :func:`tune_trial` names the trial's MLflow run after
    it."""

    def __init__(self, sweep: str, key: str | None = None) -> None:
        self.sweep, self.key = sweep, key

    def __call__(self, trial: Any) -> str:
        if self.key is not None:
            return f"{self.sweep}-{self.key}-{trial.config[self.key]}"
        number = str(trial.experiment_tag).split("_", 1)[0]
        return f"{self.sweep}-trial-{number or trial.trial_id}"


@dataclass
class SweepSummary:
    name: str
    path: str
    tracking_uri: str
    experiment: str
    parent_run_id: str
    objective: str
    oracle: str
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
    best_trial: str = ""
    """The trial-level pick's name (``<sweep>-trial-<n>``)."""
    """The task's source-only target-test metric and the sweep it comes from, if there is one."""

    @property
    def negative_transfer(self) -> bool | None:
        """Whether the trial-level pick scores below source-only on target-test (``None``:
        no baseline to compare with)."""
        test = self.oracle.replace("target_val", "target_test")
        if self.baseline is None or test not in self.best_metrics:
            return None
        return self.best_metrics[test] < self.baseline[0]


def run_sweep(options: SweepOptions | None = None, resume: str | None = None,
              resume_under: str = "ray_results", verbose: bool = False) -> SweepSummary:  # fmt: skip
    """Run (or, with ``resume`` = a sweep's name or path, finish) a sweep; see the module doc.
    A sweep resumed by name is looked for under ``resume_under`` (its ``--storage``). The
    engines' logs go to a file in the sweep's folder unless ``verbose`` (:mod:`dabench.logs`);
    a live display shows the trials (:class:`dabench.progress.SweepProgress`). A new sweep
    refused before its first trial leaves no folder behind."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    state: dict[str, Any] = {}
    if resume is not None:
        state = load_state(resume, options.storage if options else resume_under)
        options = SweepOptions(**state["options"])
    assert options is not None
    space, base = validate(options)
    root = storage.resolve(options.storage)
    if resume is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        options.name = options.name or f"{options.method}-{options.task.replace('/', '-')}-{stamp}"
        if storage.exists(storage.join(root, options.name)):
            raise ValueError(f"a sweep named {options.name!r} exists in {root}; use --resume")
    where = storage.join(root, options.name)
    new_root = not storage.exists(root)
    log_file = logs.log_path(where)
    print(f"sweep {options.name}: {options.num_samples} trials of {options.method} on "
          f"{options.task}; Ray's and MLflow's logs: {log_file}", flush=True)  # fmt: skip
    shown = progress.SweepProgress(f"sweep {options.name}")
    with logs.engine_logs(log_file, verbose) as engines, shown:
        try:
            tuner, client, experiment, parent = prepare(options, space, base, state, engines)
        except ValueError:
            if resume is None:  # refused before the first trial: leave nothing behind
                storage.delete_tree(where)
                if new_root:
                    storage.delete_tree(root)
            raise
        start = time.perf_counter()
        with sigterm_as_sigint():
            results = tuner.fit()
        wall = time.perf_counter() - start + state.get("wall_s", 0.0)
        save_state(where, options, parent, experiment, wall_s=wall)
        setting = task_spec(options.task).setting
        objective, oracle = objective_key(options.metric, setting), objective_key("oracle", setting)
        return summarize(results, options, client, experiment, parent, objective, oracle,
                         objective_mode(objective), wall)  # fmt: skip


def prepare(options: SweepOptions, space: SearchSpace, base: dict[str, Any],
            state: dict[str, Any], engines: Any) -> tuple[Any, Any, str, str]:  # fmt: skip
    """Check the storage, the tracking store and the cluster, open (or, resuming with the saved
    ``state``, reopen) the parent run and build (or restore) the Tuner; return it, the MLflow
    client, the experiment id and the parent run id."""
    from mlflow.tracking import MlflowClient
    from ray import tune

    from dabench import tracking

    root, resume = storage.resolve(options.storage), bool(state)
    where = storage.join(root, options.name or "")
    storage.check_writable(root)
    uri = options.tracking_uri or tracking.default_tracking_uri()
    tracking.check_reachable(uri)
    if options.address:
        check_address(options.address)
    init_ray(options.address)
    engines.apply()  # ray.init may have added its handlers again
    check_resources(options)
    options.tracking_uri = uri
    tracking.prepare_store(uri)
    client = MlflowClient(uri)
    experiment = tracking.experiment_id(client, options.experiment or "dabench")
    setting = task_spec(options.task).setting
    objective, oracle = objective_key(options.metric, setting), objective_key("oracle", setting)
    if not resume:
        parent = open_parent(client, experiment, options, space, objective)
        save_state(where, options, parent, experiment)
    else:
        parent = state["parent_run_id"]
        client.update_run(parent, status="RUNNING")
    trainable = tune.with_resources(
        tune_trial, {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    )
    if resume:
        tuner = tune.Tuner.restore(where, trainable, resume_errored=False)
        return tuner, client, experiment, parent
    mode = objective_mode(objective)
    internal = trial_internal(options, experiment, parent, options.name or "", objective, [*base])
    monitor = TrialMonitor(internal, options.steps, objective, oracle, options.num_samples)
    tuner = tune.Tuner(
        trainable,
        param_space={**base, INTERNAL: internal},
        tune_config=tune.TuneConfig(
            search_alg=searcher(options, space, objective), scheduler=asha(options),
            metric=objective, mode=mode,
            num_samples=options.num_samples, max_concurrent_trials=options.max_concurrent,
            reuse_actors=True, trial_dirname_creator=trial_dirname,
            trial_name_creator=TrialName(options.name or ""),
        ),
        run_config=tune.RunConfig(
            name=options.name, storage_path=root, verbose=0, callbacks=[monitor],
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute=objective,
                checkpoint_score_order=mode,
            ),  # keeps each trial's best checkpoint, and its latest (to resume)
        ),
    )  # fmt: skip
    return tuner, client, experiment, parent


def objective_mode(objective: str) -> str:
    """Whether a sweep maximises its objective or, for a loss, minimises it."""
    return "min" if "loss" in objective else "max"


def open_parent(client: Any, experiment: str, options: SweepOptions, space: SearchSpace,
                objective: str, tags: dict[str, str] | None = None) -> str:  # fmt: skip
    """Create the parent MLflow run of a sweep (kind ``sweep``, tagged with its name, method,
    task, objective and oracle, and ``tags``; every option as a ``sweep.*`` param — the values
    used (:func:`options_used`) — the search space and the provenance) and publish the sweep's
    dashboard view (:func:`dabench.dashboard.publish_view`); return the run's id."""
    from dabench import dashboard, tracking

    oracle = objective_key("oracle", task_spec(options.task).setting)
    parent = tracking.start_run(
        client, experiment, options.name or "",
        {tracking.KIND: "sweep", tracking.SWEEP: options.name or "", "method": options.method,
         "task": options.task, "objective": objective, "oracle": oracle, **(tags or {})},
        {**{f"sweep.{k}": v for k, v in options_used(options, space).items()},
         "space_file": space.source, "space": json.dumps([p.name for p in space.parameters]),
         **provenance()},
    )  # fmt: skip
    dashboard.publish_view(client, experiment, options.name or "", objective, oracle)
    return parent


def options_used(options: SweepOptions, space: SearchSpace) -> dict[str, Any]:
    """The sweep's options with the defaults it used in place of ``None``: the objective's
    criterion, the experiment, the search-space file, ASHA's first rung and the cluster (``local``);
    options that do not apply (e.g. no ``root``) are left out."""
    used = asdict(options) | {
        "metric": options.metric or selection.DEFAULT_METRIC[task_spec(options.task).setting],
        "experiment": options.experiment or "dabench",
        "space": options.space or space.source,
        "grace_period": grace_period(options) if options.scheduler == "asha" else None,
        "address": options.address or "local",
    }
    return {k: v for k, v in used.items() if v is not None}


def trial_internal(options: Any, experiment: str, parent: str, name: str, objective: str,
                   base_keys: list[str]) -> dict[str, Any]:  # fmt: skip
    """What :func:`tune_trial` needs besides a trial's config (``config[INTERNAL]``): where to
    log (``options.tracking_uri``, the experiment, the parent run, the sweep or group ``name``),
    the objective, the resources and retries (from ``options``, a :class:`SweepOptions` or
    :class:`~dabench.seeds.RerunOptions`) and which config keys are fixed (the rest was
    searched)."""
    return {
        "tracking_uri": options.tracking_uri, "experiment_id": experiment,
        "parent_run_id": parent, "sweep": name, "objective": objective,
        "mode": objective_mode(objective), "cpus_per_trial": options.cpus_per_trial,
        "gpus_per_trial": options.gpus_per_trial, "max_failures": options.max_failures,
        "base_keys": [*base_keys, INTERNAL],
    }  # fmt: skip


def searcher(options: SweepOptions, space: SearchSpace, objective: str) -> Any:
    """The sweep's Optuna searcher (define-by-run over ``space``, seeded)."""
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch(space=space.suggest, metric=objective, mode=objective_mode(objective),
                        sampler=sampler(options.searcher, options.seed))  # fmt: skip


def asha(options: SweepOptions, time_attr: str = "training_iteration") -> Any | None:
    """The sweep's ASHA scheduler over its evaluations, counted by ``time_attr`` (``None`` for
    ``--scheduler none``); the objective is set by the Tuner (or ``set_search_properties``)."""
    from ray.tune.schedulers import ASHAScheduler

    if options.scheduler != "asha":
        return None
    evaluations = evaluation(options.steps, options.eval_every)
    return ASHAScheduler(
        time_attr=time_attr, max_t=evaluations, grace_period=grace_period(options),
        reduction_factor=options.reduction_factor,
    )  # fmt: skip


FIRST_RUNG = {"closed": 0.3, "partial": 0.3, "open_set": 0.7, "segmentation": 0.0}
"""ASHA's first rung per setting, as a share of a trial's evaluations (at least the first): where
the setting's default objective, early in a trial, does not predict how the trial ends, ASHA
must not prune on it there. Measured in ``reports/selection.md`` ("early agreement"): the first
evaluation at which the default criterion's Spearman correlation with the trial's final oracle
reaches half its value at the end (:func:`dabench.selection.first_reliable_step`) — BNM at 10 %
(moons) and 30 % (digits) of the trial, the guarded source-val accuracy at 30 % (partial), the
H-score proxy at 70 % (open-set: OSBP starts rejecting late; before that every trial scores 0),
source-val mIoU at the first evaluation (segmentation)."""


def grace_period(options: SweepOptions) -> int:
    """ASHA's grace period in evaluations: ``--grace-period`` when given, else the setting's
    :data:`FIRST_RUNG` share of the trial's evaluations; at most all of them."""
    evaluations = evaluation(options.steps, options.eval_every)
    if options.grace_period is not None:
        return min(options.grace_period, evaluations)
    share = FIRST_RUNG[task_spec(options.task).setting]
    return min(evaluations, max(1, math.ceil(share * evaluations)))


def summarize(results: Any, options: SweepOptions, client: Any, experiment: str, parent: str,
              objective: str, oracle: str, mode: str, wall: float) -> SweepSummary:  # fmt: skip
    """Counts, the best trial (by the objective, never by the oracle unless it is the objective),
    and the parent run's final params, metrics and status."""
    known = {Path(result.path).name.removeprefix("trial_") for result in results}
    checkpoint = best_checkpoint(results, objective, mode)
    closed = close_parent(client, experiment, parent, options.num_samples, objective, mode, wall,
                          known, checkpoint)  # fmt: skip
    if checkpoint:  # its trial's name (the run's), also when the sweep was interrupted
        from dabench import tracking

        run_id = tracking.find_child(client, experiment, parent, checkpoint["trial"])
        if run_id is not None:
            checkpoint["name"] = client.get_run(run_id).info.run_name
    return SweepSummary(
        options.name or "", storage.join(storage.resolve(options.storage), options.name or ""),
        options.tracking_uri or "", options.experiment or "dabench", parent, objective, oracle,
        closed.counts, wall, closed.best_config, closed.best_metrics, closed.interrupted,
        checkpoint, selection.source_only_baseline(client, experiment, options.task),
        closed.best_trial,
    )  # fmt: skip


@dataclass
class Closed:
    """What :func:`close_parent` recorded: trial counts by final status, the trial-level pick's
    config and metrics (empty if no trial was scored), and whether trials are missing."""

    counts: dict[str, int]
    best_config: dict[str, Any]
    best_metrics: dict[str, float]
    interrupted: bool
    best_trial: str = ""
    """The trial-level pick's run name."""


def close_parent(client: Any, experiment: str, parent: str, num_samples: int, objective: str,
                 mode: str, wall: float, known: set[str] | None,
                 checkpoint: dict[str, Any] | None = None) -> Closed:  # fmt: skip
    """Close the parent run of a sweep: every child run gets its final status
    — a run still ``running`` was ``interrupted`` (it continues when the sweep resumes); a run
    whose trial id is not in ``known`` (the trials Ray's state knows; ``None``: do not judge)
    was ``superseded`` (started after the driver's last state snapshot; its configuration ran
    again as a new trial) — then the counts and, once all ``num_samples`` trials ran, the picks
    (:func:`record_picks`) and the summary artifacts (:func:`dabench.dashboard.log_summary`).
    The run ends ``FINISHED``, or ``KILLED`` when trials are missing."""
    from dabench import dashboard, tracking

    counts = close_children(client, experiment, parent, known)
    ran = sum(counts[k] for k in ("completed", "pruned", "failed"))
    counts["not run"] = max(num_samples - ran - counts["interrupted"], 0)
    interrupted = ran < num_samples
    run = client.get_run(parent)
    frame = selection.trials(client, run)
    best = selection.pick(frame, objective, mode)
    best_config: dict[str, Any] = {}
    best_metrics: dict[str, float] = {}
    if best is not None:
        best_config = dict(best["config"])
        best_metrics = {k: float(v) for k, v in best.items() if k not in selection.TRIAL_COLUMNS
                        and isinstance(v, int | float) and math.isfinite(v)}  # fmt: skip
    numeric = {f"trials_{k.replace(' ', '_')}": v for k, v in counts.items()}
    oracle = objective_key("oracle", task_spec(run.data.tags["task"]).setting)
    if not interrupted:  # params cannot change in MLflow: the best config only once, at the end
        tracking.log_params(client, parent, {f"best.{k}": v for k, v in best_config.items()
                                             if k not in ("method", "task")})  # fmt: skip
        numeric |= record_picks(client, run, best, checkpoint or {}, objective, oracle)
    tracking.log_metrics(client, parent, {**numeric, "wall_s": wall}, step=0)
    if not interrupted and not frame.empty:
        dashboard.log_summary(client, client.get_run(parent), frame, objective, oracle)
    client.set_terminated(parent, "KILLED" if interrupted else "FINISHED")
    best_trial = str(best["trial"]) if best is not None else ""
    return Closed(counts, best_config, best_metrics, interrupted, best_trial)


def record_picks(client: Any, parent: Any, best: Any, checkpoint: dict[str, Any], objective: str,
                 oracle: str) -> dict[str, float]:  # fmt: skip
    """Tag the parent run with its picks — ``pick.trial.run_id`` / ``pick.trial.name`` (the
    trial-level pick ``best``, a row of :func:`dabench.selection.trials`) and
    ``pick.checkpoint.run_id`` / ``.name`` / ``.step`` (the checkpoint-level pick, as
    :func:`best_checkpoint` gives it) — and return their objective, oracle, target-test and step
    as ``best.*`` and ``best_checkpoint.*`` metrics."""
    from dabench import tracking

    keys = list(dict.fromkeys([objective, oracle, oracle.replace("target_val", "target_test"),
                               "step"]))  # fmt: skip
    tags, metrics = {}, {}
    if best is not None:
        tags |= {"pick.trial.run_id": best["run_id"], "pick.trial.name": best["trial"]}
        metrics |= {f"best.{k}": float(best[k]) for k in keys if k in best and best[k] == best[k]}
    if checkpoint:
        experiment = parent.info.experiment_id
        run_id = tracking.find_child(client, experiment, parent.info.run_id, checkpoint["trial"])
        if run_id is not None:
            name = client.get_run(run_id).info.run_name
            tags |= {"pick.checkpoint.run_id": run_id, "pick.checkpoint.name": name}
        tags["pick.checkpoint.step"] = str(checkpoint["step"])
        metrics |= {
            f"best_checkpoint.{k}": v for k, v in checkpoint["metrics"].items() if k in keys
        }
    tracking.set_tags(client, parent.info.run_id, tags)
    return metrics


def close_children(client: Any, experiment: str, parent: str, known: set[str] | None) -> dict:
    """Give every child run of ``parent`` its final status (see :func:`close_parent`) and end
    the ones still open; the number of runs by status."""
    from dabench import tracking

    counts = {"completed": 0, "pruned": 0, "failed": 0, "interrupted": 0}
    for run in tracking.children(client, experiment, parent):
        tagged = run.data.tags.get(tracking.STATUS, "running")
        status = tagged
        if known is not None and run.data.tags.get(tracking.TRIAL_ID) not in known:
            status = "superseded"
        elif status == "running":  # stopped by Ctrl-C/SIGTERM: resuming continues it
            status = "interrupted"
        if status != tagged:
            tracking.set_tags(client, run.info.run_id, {tracking.STATUS: status})
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, "KILLED")
        counts[status] = counts.get(status, 0) + 1
    return counts


def best_checkpoint(results: Any, objective: str, mode: str) -> dict[str, Any]:
    """The best evaluation point of any trial by ``objective`` (label-free unless the objective
    is the oracle; within a trial, the latest of tied points, the one Ray keeps), with the path
    of its checkpoint when Ray kept it."""
    sign = 1 if mode == "max" else -1
    best: dict[str, Any] = {}
    for result in results:
        frame = result.metrics_dataframe
        if frame is None or objective not in frame or frame[objective].isna().all():
            continue
        row = frame.loc[(sign * frame[objective])[::-1].idxmax()]  # ties: the latest, as Ray
        if best and sign * row[objective] <= sign * best["metrics"][objective]:
            continue
        path = next((c.path for c, m in result.best_checkpoints if m.get("step") == row["step"]),
                    None)  # fmt: skip
        best = {"trial": Path(result.path).name.removeprefix("trial_"), "step": int(row["step"]),
                "metrics": reported(row), "path": path}  # fmt: skip
    return best


def reported(row: Any) -> dict[str, float]:
    """The numbers a trial reported in one row of Ray's metrics table (without the keys Ray adds:
    ``training_iteration``, ``timestamp``, ``config/...``, ..., nor ``evaluation``, which
    :func:`tune_trial` adds for Tune)."""
    import numpy as np
    from ray.tune.result import AUTO_RESULT_KEYS

    ray_keys = {*AUTO_RESULT_KEYS, "done", "trial_id", "experiment_tag", "should_checkpoint",
                "evaluation"}  # fmt: skip
    return {
        key: float(value)
        for key, value in row.items()
        if key not in ray_keys and not key.startswith("config/")
        and isinstance(value, int | float | np.number) and not isinstance(value, bool)
    }  # fmt: skip


@contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """Make SIGTERM stop the sweep as Ctrl-C does: Tune then saves its state one last time and
    returns. (Ray's own handler would abort the driver and lose what ran since the last
    snapshot.)"""

    def interrupt(signum: int, frame: Any) -> None:
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def init_ray(address: str | None) -> None:
    """Connect to the cluster at ``address``, or start a private local one (never attach to
    another session's head by accident)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Save Ray's experiment state every 2 s rather than every ≥ 10 s: after a SIGKILL, less
    # work is lost and fewer started trials are unknown to the restored sweep.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    if address:
        # Ray never turns token auth on by itself for an explicit address: do what `ray start`
        # does — use the token if one is available (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
        # ~/.ray/auth_token; RAY_AUTH_MODE, when set, decides), else connect without.
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )

        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
        ray.init(address=address, log_to_driver=False)
    else:  # Ray's default token auth stays on: the local cluster listens on all interfaces
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                 log_to_driver=False)  # fmt: skip


def check_address(address: str) -> None:
    """Fail fast when nothing listens at a ``host:port`` cluster address (``ray.init`` would
    retry for about a minute and then fail with a long traceback)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms: leave them to Ray
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise ValueError(
            f"--address {address}: no Ray cluster answers there ({error}); start one with "
            "`ray start --head --port=6379`, or leave --address out for a local cluster"
        ) from None


def check_resources(options: SweepOptions) -> None:
    """Refuse what Ray would otherwise leave PENDING for ever (e.g. GPUs the cluster lacks)."""
    import ray

    available = ray.cluster_resources()
    for kind, asked in (("CPU", options.cpus_per_trial), ("GPU", options.gpus_per_trial)):
        if asked > available.get(kind, 0):
            raise ValueError(
                f"--{kind.lower()}s-per-trial {asked} but the Ray cluster has "
                f"{available.get(kind, 0):g} {kind}s"
            )


def save_state(directory: str, options: SweepOptions, parent: str, experiment: str,
               wall_s: float = 0.0) -> None:  # fmt: skip
    """What ``--resume`` needs besides Ray's own state: the options, the parent MLflow run, and
    the wall time of the sessions that ended (``directory``: a path or a storage URI)."""
    state = {"options": asdict(options), "parent_run_id": parent, "experiment_id": experiment,
             "wall_s": wall_s}  # fmt: skip
    storage.write_text(storage.join(directory, STATE_FILE), json.dumps(state, indent=2))


def load_state(name: str, where: str) -> dict[str, Any]:
    """The saved state of sweep ``name`` (a path or URI, or a name under the storage
    ``where``)."""
    candidates = [storage.resolve(name)]
    if not (storage.is_uri(name) or Path(name).is_absolute()):  # a name: also under the storage
        candidates.append(storage.join(storage.resolve(where or "."), name))
    for directory in candidates:
        text = storage.read_text(storage.join(directory, STATE_FILE))
        if text is not None:
            state = json.loads(text)
            state["options"]["storage"] = storage.parent(directory)
            return state
    raise ValueError(f"no sweep to resume at {' or '.join(candidates)} (looked for {STATE_FILE})")


def machine() -> str:
    """This machine in a few words: OS, architecture, CPU cores and GPUs."""
    import platform

    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    gpu_text = f"{len(gpus)}× {gpus[0]}" if gpus else "no GPU"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu_text}"


def provenance() -> dict[str, str]:
    """Versions, git commit and command line for the parent run."""
    import importlib.metadata as metadata
    import subprocess

    info = {"dabench_version": __version__, "python": sys.version.split()[0],
            "command": " ".join(["dabench", *sys.argv[1:]]), "machine": machine()}  # fmt: skip
    for package in ("torch", "ray", "optuna", "mlflow"):
        info[f"version.{package}"] = metadata.version(package)
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=5)  # fmt: skip
        if commit.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD"],
                                   capture_output=True, timeout=5).returncode  # fmt: skip
            info["git_commit"] = commit.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info
