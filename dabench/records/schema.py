"""The MLflow schema of dabench's records: run kinds, tag names, trial statuses, and the one way to
write a search filter over them.

A **sweep** is a parent run (kind ``sweep``) with one nested child run per trial (kind
``trial``); a **seeds group** (kind ``seeds``, made by ``dabench rerun`` and benchmarks) is a
parent run with one child run per fresh seed, tagged with the sweep and the trial it re-trains.
Everything that writes or reads these runs takes its names from here (:mod:`.writers`,
:mod:`.readers`), the tests' fixture stores included.
"""

from __future__ import annotations

PARENT = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"
NOTE = "mlflow.note.content"  # a run's description (markdown) in MLflow's UI

KIND = "dabench.kind"  # SWEEP_KIND | TRIAL_KIND | SEEDS_KIND
SWEEP = "dabench.sweep"  # the sweep's (or seeds group's) name, on the parent and its children
TRIAL_ID = "dabench.trial_id"  # Ray Tune's trial id of a child run
BENCHMARK = "dabench.benchmark"  # of the sweeps and seeds groups a `dabench benchmark` made
STATUS = "dabench.status"  # a child run's status: one of STATUSES
STARTS = "dabench.starts"  # how often the trial started: 1 + resumes + retries
CONFIG = "dabench.config"  # a trial's whole config as JSON, exact types (what a rerun trains)
RUNTIME = "dabench.runtime"  # JSON list of the distinct dabench.runtime.facts a trial started with
SEARCHED = "searched"  # a trial's searched hyperparameters as JSON
METHOD, TASK = "method", "task"
OBJECTIVE = "objective"  # a sweep's objective: its criterion's reported key
ORACLE = "oracle"  # a sweep's oracle key (target-val labels)

SOURCE_SWEEP = "dabench.source_sweep"  # the sweep whose pick a seeds group re-trains
SELECTED_BY = "dabench.selected_by"  # JSON list of the criteria that picked it
SELECTED_TRIAL = "dabench.selected_trial"  # the picked trial's run id
SEEDS = "dabench.seeds"  # JSON list of the seeds

PICK_TRIAL_RUN, PICK_TRIAL_NAME = "pick.trial.run_id", "pick.trial.name"
PICK_CHECKPOINT_RUN, PICK_CHECKPOINT_NAME = "pick.checkpoint.run_id", "pick.checkpoint.name"
PICK_CHECKPOINT_STEP = "pick.checkpoint.step"

SWEEP_KIND, TRIAL_KIND, SEEDS_KIND = "sweep", "trial", "seeds"

RUNNING, COMPLETED, PRUNED, FAILED = "running", "completed", "pruned", "failed"
INTERRUPTED, SUPERSEDED = "interrupted", "superseded"
STATUSES = (RUNNING, COMPLETED, PRUNED, FAILED, INTERRUPTED, SUPERSEDED)
"""A child run's ``dabench.status``: ``running``; ended ``completed`` (its last step),
``pruned`` (by ASHA) or ``failed``; ``interrupted`` with the driver (it continues when the sweep
resumes); ``superseded`` (started after the driver's last state snapshot: its configuration ran
again as a new trial)."""
UNUSABLE = (FAILED, SUPERSEDED)
"""Statuses whose runs no pick and no table reads."""

MLFLOW_STATUS = {COMPLETED: "FINISHED", PRUNED: "FINISHED", FAILED: "FAILED"}
"""The MLflow run status of a trial by how it ended. A pruned trial ran as it should and ASHA
stopped it, by design: ``FINISHED`` (a green tick in MLflow's UI), told from a completed one by
the ``dabench.status`` tag. ``FAILED`` (a red cross) is kept for crashes, and ``KILLED`` for
trials interrupted with the driver."""

EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
"""The experiment tag (and value) MLflow's UI reads to open an experiment in its model-training
view (``docs/dashboard.md``)."""


def quoted(value: str) -> str:
    """``value`` as a string literal of an MLflow search filter. MLflow strips the outer quotes
    and does not unescape, so a value is put in single quotes, or in double quotes when it holds
    a single quote; one holding both cannot be searched for and is refused."""
    value = str(value)
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"{value!r} holds both kinds of quote: MLflow cannot search for it")


def where(*conditions: str, **tags: str | None) -> str:
    """An MLflow search filter: ``conditions`` as given (e.g. ``attributes.status = 'FINISHED'``),
    and ``tags.`name` = 'value'`` for every tag given as ``tag=value`` (``None``: left out), with
    every value quoted (:func:`quoted`). Tag names with dots are passed as keyword arguments
    through a mapping: ``where(**{KIND: SWEEP_KIND})``."""
    parts = [*conditions]
    parts += [
        f"tags.`{name}` = {quoted(value)}" for name, value in tags.items() if value is not None
    ]
    return " and ".join(parts)
