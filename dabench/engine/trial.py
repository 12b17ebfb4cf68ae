"""One trial under Ray Tune: :func:`tune_trial` runs :func:`dabench.trainable.run_trial` in a Ray
worker, logs every evaluation to the trial's MLflow child run and reports it to Tune with the
trial's checkpoint, so that a restored sweep continues each unfinished trial from its last
evaluation. The driver side of a trial — how it is named, what it is handed, how its end is
recorded — is here too, shared by sweeps, reruns and benchmarks."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from ray import tune

from dabench import runtime, storage
from dabench.records import naming, readers, writers
from dabench.records import schema as s
from dabench.records.criteria import Criterion
from dabench.trainable import CHECKPOINT_FILE, resolve_config, resolve_device, run_trial

INTERNAL = "_dabench"  # config key holding what a trial needs besides its hyperparameters


def trial_internal(options: Any, experiment: str, parent: str, name: str, objective: Criterion,
                   base_keys: list[str]) -> dict[str, Any]:  # fmt: skip
    """What :func:`tune_trial` needs besides a trial's config (``config[INTERNAL]``): where to
    log (``options.tracking_uri``, the experiment, the parent run, the sweep or group ``name``),
    the objective's key and direction, the resources and retries (from ``options``, a
    :class:`~dabench.engine.options.SweepOptions` or
    :class:`~dabench.engine.options.RerunOptions`) and which config keys are fixed (the rest was
    searched)."""
    return {
        "tracking_uri": options.tracking_uri, "experiment_id": experiment,
        "parent_run_id": parent, "sweep": name, "objective": objective.key,
        "mode": objective.mode, "cpus_per_trial": options.cpus_per_trial,
        "gpus_per_trial": options.gpus_per_trial, "max_failures": options.max_failures,
        "base_keys": [*base_keys, INTERNAL],
    }  # fmt: skip


def searched_of(config: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters the searcher chose for a trial (its config less the fixed base)."""
    base = set(config.get(INTERNAL, {}).get("base_keys", ()))
    return {k: v for k, v in config.items() if k not in base}


def evaluation(step: int, eval_every: int) -> int:
    """The number of the evaluation at ``step`` (the last one may come before a full interval)."""
    return math.ceil(step / eval_every)


def own_checkpoint(internal: dict[str, Any], trial_id: str) -> str | None:
    """Where a trial keeps its own latest checkpoint (see :func:`tune_trial`), if it does."""
    folder = internal.get("checkpoints")
    return storage.join(folder, f"{trial_id}.pt") if folder else None


def tune_trial(config: dict[str, Any]) -> None:
    """One Ray Tune trial: :func:`~dabench.trainable.run_trial` with MLflow logging and Tune checkpoints.

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
    internal = config[INTERNAL]
    trial_config = {k: v for k, v in config.items() if k != INTERNAL}
    trial_id = tune.get_context().get_trial_id()
    client = MlflowClient(internal["tracking_uri"])
    experiment, parent = internal["experiment_id"], internal["parent_run_id"]
    objective, sign = internal["objective"], 1 if internal["mode"] == "max" else -1
    run_id, logged = readers.find_child(client, experiment, parent, trial_id), 0
    resolved = resolve_config(trial_config)
    cpus, gpus = internal["cpus_per_trial"], internal["gpus_per_trial"]
    threads = max(1, int(cpus))  # one torch thread per CPU the trial was given
    try:
        facts = runtime.facts(resolve_device(resolved["device"]), threads)
    except ValueError:  # no such device here: run_trial raises it below, and the run records it
        facts = None
    if run_id is None:
        label = internal.get("label") or tune.get_context().get_trial_name()  # see TrialName
        run_id = writers.open_trial(
            client, experiment, parent, internal["sweep"], trial_id,
            naming.run_name(label, internal["sweep"]), searched_of(config), trial_config,
            resolved, facts,
        )  # fmt: skip
    else:
        run = client.get_run(run_id)
        status = run.data.tags.get(s.STATUS)
        if status in (s.COMPLETED, s.PRUNED):
            # It finished, but the driver was killed before Ray's state recorded that: hand Tune
            # the final result again instead of training again.
            final = dict(run.data.metrics)
            final.setdefault(objective, -sign * math.inf)
            final["evaluation"] = evaluation(final.get("step", 0), config["eval_every"])
            tune.report(final)
            return
        if status == s.FAILED and not internal["max_failures"]:
            error = run.data.tags.get("error", "its worker died (no error was recorded)")
            raise RuntimeError(f"failed before the sweep was resumed: {error}")
        # Resumed after an interruption, or retried after a failure (--max-failures): steps up
        # to the last one logged are not logged again (a restored checkpoint may be older).
        logged = int(run.data.metrics.get("step", 0))
        writers.restart_trial(client, run, facts)

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
                writers.log_metrics(client, run_id, numeric, step=metrics["step"])
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

        try:
            final = run_trial(trial_config, report, checkpoint_dir=checkpoints,
                              resume_from=resume, threads=threads)  # fmt: skip
            if not reported and final:  # resumed from its last checkpoint: nothing left to train
                report(final, log=False)  # (logged before); Tune gets the final result again
        except Exception as error:
            writers.fail_trial(client, run_id, error)
            raise


def trial_status(result: dict[str, Any], steps: int, errored: bool) -> str:
    """How a finished trial ended: ``failed``, ``completed`` (reached the last step) or
    ``pruned`` (stopped early by ASHA)."""
    if errored:
        return s.FAILED
    return s.COMPLETED if result.get("step", 0) >= steps else s.PRUNED


def record_trial_end(internal: dict[str, Any], trial_id: str, label: str, config: dict[str, Any],
                     result: dict[str, Any], steps: int, errored: bool) -> str:  # fmt: skip
    """Record in MLflow how a trial ended (``completed``, ``pruned`` by ASHA, ``failed``) the
    moment Tune knows it, on the trial's child run of the parent ``internal["parent_run_id"]``
    (opened here, named after the trial's ``label``, if the trial failed before opening it);
    return that status. The one place a trial's end is recorded, for sweeps, reruns and
    benchmarks alike."""
    status = trial_status(result, steps, errored)
    client = MlflowClient(internal["tracking_uri"])
    experiment, parent = internal["experiment_id"], internal["parent_run_id"]
    run_id = readers.find_child(client, experiment, parent, trial_id)
    if run_id is None:  # it failed before its run was opened: record it all the same
        name = naming.run_name(label, internal["sweep"])
        run_id = writers.open_trial(client, experiment, parent, internal["sweep"], trial_id, name,
                                    searched_of(config))  # fmt: skip
    writers.end_trial(client, run_id, status)
    return status


def trial_label(config: dict[str, Any], number: str) -> str:
    """The label of the trial with ``config`` (:mod:`dabench.records.naming`), in order: the
    label the config names (``config[INTERNAL]["label"]``: a benchmark's searcher numbers each
    sweep's trials itself, as one Tune run holds them all); the label of the trial's value of the
    key ``config[INTERNAL]["labelled_by"]`` names (a seeds group's runs: ``seed-3``); else
    ``trial-<number>``."""
    internal = config.get(INTERNAL, {})
    if internal.get("label"):
        return str(internal["label"])
    if internal.get("labelled_by"):
        return naming.label(internal["labelled_by"], config[internal["labelled_by"]])
    return naming.label(naming.TRIAL, number)


def trial_dirname(trial: Any) -> str:
    """Tune's ``trial_dirname_creator``: a trial's folder, ``<label>_<trial id>``
    (:func:`dabench.records.naming.folder`; Ray's default puts the whole config in the name). The
    sweep's summary reads the id back from it."""
    return naming.folder(TrialName()(trial), trial.trial_id)


class TrialName:
    """Tune's ``trial_name_creator``: a trial's label (:func:`trial_label`), ``trial-<n>`` unless
    its config names another, ``n`` Tune's own count of the trials its searcher created (1, 2,
    ...; part of Tune's saved state, so a resumed sweep goes on counting). Tune shows the label
    (the console's lines), :func:`trial_dirname` names the trial's folder and :func:`tune_trial`
    its MLflow run after it."""

    def __call__(self, trial: Any) -> str:
        number = str(trial.experiment_tag).split("_", 1)[0]
        return trial_label(trial.config or {}, number or trial.trial_id)
