"""``dabench analyze``: a pick's feature diagnostics — the proxy A-distance between its source and
target features and their t-SNE — beside the same task's source-only pick.

**Which models.** With ``--sweep``, the sweep's trial-level pick by ``--select`` (a label-free
criterion or ``oracle``; default the sweep's objective), by
:func:`dabench.records.selection.pick` — the trial ``dabench sweep`` reports and ``dabench rerun``
re-trains. With ``--checkpoint``, the model of a ``trial.pt`` (``dabench train
--checkpoint-dir``, or a sweep's trial folder). Beside it, when the MLflow experiment holds one,
the pick of the task's most recent finished ``source_only`` sweep
(:func:`dabench.records.readers.source_only_sweep`), by that sweep's own objective.

**Which weights.** A sweep keeps each trial's latest checkpoint in its Ray storage
(``<storage>/<sweep>/<label>_<trial id>/checkpoint_*/trial.pt``: :mod:`dabench.records.naming`);
the one of the pick's last evaluation is used when it is there. Otherwise (another machine, a
deleted folder, ``dabench benchmark``, which deletes its checkpoints when it finishes) the pick
is trained again from its recorded config and seed by :func:`dabench.trainable.run_trial` — the
one training loop — up to that evaluation; on CPU that gives the same weights, and the
re-trained evaluation's target metric is compared with the recorded one (a difference is
printed).

**Which features.** :meth:`~dabench.methods.base.Recipe.logits_and_features` — the bottleneck
output the classifier's head reads — on the task's ``source_val`` inputs and its target
``target_val`` (default: what the validators read) or ``target_test`` inputs.
:func:`dabench.analysis.a_distance` reads up to 2,000 of each, :func:`dabench.analysis.tsne` a
balanced sample (``--samples`` per domain), both seeded; the class colours use both splits'
labels (a diagnostic, never a selection).

**Where it goes.** A table on the console; with ``--sweep``, metrics ``a_distance.<criterion>``
(and ``a_distance.source_only``) and the artifacts ``analysis/<criterion>/tsne.png`` and
``analysis.json`` on the sweep's MLflow parent run (``Analysis.logged`` says where); with
``--out DIR``, the same two files there (``Analysis.files``).
Segmentation models have no feature vector per sample and are refused.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.fs
import torch
from mlflow.tracking import MlflowClient

from dabench import analysis, storage
from dabench.data.loading import eval_batches
from dabench.data.registry import task_spec
from dabench.data.task import Task
from dabench.methods.base import Recipe
from dabench.records import criteria, naming, readers, schema, selection, store, writers
from dabench.task_settings import HEADLINE_METRIC
from dabench.trainable import CHECKPOINT_FILE, read_checkpoint, restore, run_trial

log = logging.getLogger(__name__)

TARGET_SPLITS = ("target_val", "target_test")


@dataclass
class AnalyzeOptions:
    sweep: str | None = None
    checkpoint: str | None = None
    select: str | None = None
    """A criterion name (``source_val``, a validator of the setting, ``oracle``); ``None``: the
    sweep's objective."""
    tracking_uri: str | None = None
    experiment: str = "dabench"
    storage: str | None = None
    """Where the sweep's Ray state is; ``None``: the ``--storage`` the sweep recorded."""
    target_split: str = "target_val"
    samples: int = analysis.TSNE_SAMPLES
    seed: int = 0
    device: str | None = None
    """``None``: the device the trial trained on."""
    root: str | None = None
    out: str | None = None


@dataclass
class Model:
    """A model to analyse: its label, where its weights come from (a checkpoint's ``state``, or
    ``None`` until re-trained from ``config``) and the trial's recorded metrics."""

    label: str
    config: dict[str, Any]
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    sweep: str | None = None
    trial: str | None = None
    run_id: str | None = None
    state: dict[str, Any] | None = None
    origin: str = ""
    """``checkpoint`` or ``re-trained``."""
    location: str = ""
    """The checkpoint's path or URI, or how the weights were re-trained."""


@dataclass
class Diagnosis:
    """What :func:`diagnose` found for one model."""

    model: Model
    a_distance: float
    domain_error: float
    per_domain: int
    target_metric: str
    target_value: float
    embedding: Any
    labels: Any
    class_names: list[str]
    seconds: dict[str, float]

    def summary(self) -> dict[str, Any]:
        m = self.model
        return {"label": m.label, "sweep": m.sweep, "trial": m.trial, "run_id": m.run_id,
                "step": m.step, "weights": m.origin, "weights_from": m.location, "method": m.config["method"],
                "task": m.config["task"], "a_distance": self.a_distance,
                "domain_error": self.domain_error, "samples_per_domain": self.per_domain,
                self.target_metric: self.target_value, "seconds": self.seconds,
                "metrics": {k: v for k, v in (m.state or {}).get("metrics", {}).items()
                            if k.startswith(("source_val_", "target_"))},
                "config": m.config}  # fmt: skip


@dataclass
class Analysis:
    """What :func:`analyze` did: the criterion of the pick, the sweep's run it logged to, one
    :class:`Diagnosis` per model (the source-only pick first), the files written to ``--out``,
    where the same files were logged (artifact URIs) and notes for the user."""

    criterion: str | None
    parent_run_id: str | None
    results: list[Diagnosis]
    files: list[Path]
    notes: list[str]
    logged: list[str] = field(default_factory=list)


def analyze(options: AnalyzeOptions) -> Analysis:
    """Check the input (before any compute), then diagnose the pick and its source-only
    baseline, plot, log and write (see the module doc)."""
    if (options.sweep is None) == (options.checkpoint is None):
        raise ValueError("give one of --sweep NAME or --checkpoint PATH")
    if options.target_split not in TARGET_SPLITS:
        raise ValueError(f"--target-split must be one of {TARGET_SPLITS}; got "
                         f"{options.target_split!r}")  # fmt: skip
    if options.samples < 2:
        raise ValueError(f"--samples must be ≥ 2; got {options.samples}")
    out = Path(options.out) if options.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder")
    notes: list[str] = []
    client, parent, criterion = None, None, None
    if options.sweep is not None:
        client = _client(options.tracking_uri, required=True)
        parent = readers.require_sweep(client, options.experiment, options.sweep)
        criterion, pick = sweep_pick(client, parent, options.select)
        models = [pick]
        task, method = parent.data.tags[schema.TASK], parent.data.tags[schema.METHOD]
    else:
        if options.select is not None:
            raise ValueError("--select picks among a sweep's trials; give --sweep with it")
        state = _read(options.checkpoint)
        config = state["config"]
        task, method = config["task"], config["method"]
        _check_features(task)
        models = [Model(f"{method} ({Path(options.checkpoint).name})", config, state["step"],
                        state.get("metrics", {}), state=state,
                        origin="checkpoint", location=str(options.checkpoint))]  # fmt: skip
        client = _client(options.tracking_uri, required=False)
    if method != "source_only" and client is not None:
        try:
            baseline = source_only_pick(client, options.experiment, task)
        except ValueError as error:  # e.g. a source-only sweep of an older dabench
            baseline = None
            notes.append(f"the source-only pick is left out: {error}")
        if baseline is None and not notes:
            notes.append(f"no finished source_only sweep of {task} in experiment "
                         f"{options.experiment!r}: nothing to compare with")  # fmt: skip
        else:
            models.insert(0, baseline)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    results = []
    for model in models:
        if model.state is None:
            parent_of = parent if model is models[-1] else None
            model.state, model.origin, model.location = weights(parent_of, model, options,
                                                                client, notes)  # fmt: skip
        results.append(diagnose(model, options))
    with tempfile.TemporaryDirectory() as work:
        folder = out if out is not None else Path(work)
        files = write(results, folder, options, criterion)
        logged = []
        if client is not None and parent is not None:
            logged = log_results(client, parent.info.run_id, results, files, criterion or "")
        kept = files if out is not None else []
    return Analysis(criterion, parent.info.run_id if parent else None, results, kept, notes,
                    logged)  # fmt: skip


def sweep_pick(client: Any, parent: Any, select: str | None) -> tuple[str, Model]:
    """The criterion's name and the trial-level pick of the sweep ``parent`` by it, as a
    :class:`Model` (weights not loaded yet). ``ValueError`` for a criterion that does not apply
    (naming those that do), a sweep with no trial that reported it, or a trial without its
    recorded config."""
    tags = parent.data.tags
    setting = task_spec(tags[schema.TASK]).setting
    _check_features(tags[schema.TASK])
    if select is None:
        criterion = criteria.from_key(tags[schema.OBJECTIVE], setting)
    else:
        try:
            criterion = criteria.criterion(select, setting)
        except ValueError as error:
            raise ValueError(f"--select {error}") from None
    frame = readers.trials(client, parent)
    row = selection.pick(frame, criterion) if not frame.empty else None
    name = tags[schema.SWEEP]
    if row is None:
        raise ValueError(f"no trial of sweep {name!r} reported {criterion.key!r}, so "
                         f"--select {criterion.name} cannot pick one")  # fmt: skip
    if not row["config"]:
        raise ValueError(f"trial {row['trial']} of sweep {name!r} has no recorded config (made "
                         "by an older dabench); run the sweep again")  # fmt: skip
    metrics = {k: float(v) for k, v in row.items()
               if k not in readers.TRIAL_COLUMNS and isinstance(v, int | float)}  # fmt: skip
    label = f"{tags[schema.METHOD]} pick ({criterion.name})"
    return criterion.name, Model(label, dict(row["config"]), int(metrics.get("step", 0)), metrics,
                                 name, row["trial"], row["run_id"])  # fmt: skip


def source_only_pick(client: Any, experiment: str, task: str) -> Model | None:
    """The pick of the most recent finished ``source_only`` sweep of ``task`` in MLflow
    experiment ``experiment`` (a name), by that sweep's own objective; ``None`` if there is
    none."""
    found = client.get_experiment_by_name(experiment)
    run = readers.source_only_sweep(client, found.experiment_id, task) if found else None
    if run is None:
        return None
    _, model = sweep_pick(client, run, None)
    model.label = "source-only pick"
    return model


def weights(parent: Any, model: Model, options: AnalyzeOptions, client: Any,
            notes: list[str]) -> tuple[dict[str, Any], str, str]:  # fmt: skip
    """The checkpoint state of a sweep's pick at its last evaluation and where it came from
    (``checkpoint`` and its location, or ``re-trained`` and how): the trial's checkpoint in the
    sweep's Ray storage if Ray kept it, else the state of a re-trained trial (see the module
    doc)."""
    run = client.get_run(model.run_id)
    sweep_run = parent or client.get_run(run.data.tags[schema.PARENT])
    stored = stored_checkpoint(sweep_run, run.data.tags.get(schema.TRIAL_ID, ""), model.step,
                               options.storage)  # fmt: skip
    if stored is not None:
        return stored[0], "checkpoint", stored[1]
    log.info(
        "%s: no stored checkpoint of trial %s at step %s; re-training it (seed %s)",
        model.label,
        model.trial,
        model.step,
        model.config["seed"],
    )
    threads = int(float(sweep_run.data.params.get("sweep.cpus_per_trial", 1)))
    state = retrain(model.config, model.step, options.device, threads)
    _compare(model, state, notes)
    return state, "re-trained", f"run_trial with the recorded config, seed {model.config['seed']}"


def stored_checkpoint(sweep_run: Any, trial_id: str, step: int,
                      where: str | None) -> tuple[dict[str, Any], str] | None:  # fmt: skip
    """The state of trial ``trial_id``'s checkpoint at ``step`` in the Ray storage of the sweep
    ``sweep_run`` (``where``, or the ``--storage`` it recorded), and its location; ``None`` when
    Ray did not keep it there."""
    params = sweep_run.data.params
    root = where or params.get("sweep.storage") or params.get("storage")
    name = sweep_run.data.tags.get(schema.SWEEP, "")
    if not root or not trial_id:
        return None
    sweep_folder = storage.join(storage.resolve(root), name)
    try:
        fs, path = storage.filesystem(sweep_folder)
        own = naming.folder_of(subfolders(fs, path), trial_id)
        if own is None:
            return None
        checkpoints = subfolders(fs, f"{path}/{own}")
    except (ValueError, OSError):
        return None
    folder = storage.join(sweep_folder, own)
    for checkpoint in sorted(checkpoints, reverse=True):
        if "checkpoint_" not in checkpoint:
            continue
        location = storage.join(folder, checkpoint, CHECKPOINT_FILE)
        with tempfile.TemporaryDirectory() as work:
            local = Path(work) / CHECKPOINT_FILE
            if storage.download(location, local):
                state = read_checkpoint(local)
                if state["step"] == step:
                    return state, location
    return None


def subfolders(fs: Any, path: str) -> list[str]:
    """The names of the folders directly in ``path`` of the ``pyarrow.fs`` filesystem ``fs``
    (none when it does not exist)."""
    infos = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    return [i.base_name for i in infos if i.type == pyarrow.fs.FileType.Directory]


class _StopTrainingError(Exception):
    """Raised by the report callback of :func:`retrain` once the wanted evaluation is saved."""


def retrain(config: dict[str, Any], step: int, device: str | None = None,
            threads: int = 1) -> dict[str, Any]:  # fmt: skip
    """Train ``config`` (with its seed) by :func:`~dabench.trainable.run_trial` up to its
    evaluation at ``step`` and return the checkpoint state saved there. Torch runs on
    ``threads`` threads, as the sweep's trial did (``--cpus-per-trial``): on CPU, another count
    sums in another order and ends in other weights."""
    config = {**config, **({"device": device} if device else {})}
    with tempfile.TemporaryDirectory() as work:

        def report(metrics: dict[str, Any]) -> None:
            if metrics["step"] >= step:
                raise _StopTrainingError

        try:
            run_trial(config, report, checkpoint_dir=work, threads=max(1, threads))
        except _StopTrainingError:
            pass
        return read_checkpoint(work)


def diagnose(model: Model, options: AnalyzeOptions) -> Diagnosis:
    """A-distance and t-SNE embedding of one model's source-val and target features."""
    assert model.state is not None
    runtime = {k: v for k, v in (("device", options.device), ("root", options.root)) if v}
    clock = time.perf_counter()
    recipe, task = restore(model.state, **runtime)
    f_s, y_s = features(recipe, task, "source_val")
    f_t, y_t = features(recipe, task, options.target_split)
    seconds = {"features": time.perf_counter() - clock}
    clock = time.perf_counter()
    error = analysis.domain_error(f_s, f_t, seed=options.seed)
    seconds["a_distance"] = time.perf_counter() - clock
    clock = time.perf_counter()
    embedding, s, t = analysis.tsne(f_s, f_t, per_domain=options.samples, seed=options.seed)
    seconds["tsne"] = time.perf_counter() - clock
    metric = f"{options.target_split}_{HEADLINE_METRIC[task.setting]}"
    value = model.state.get("metrics", {}).get(metric, model.metrics.get(metric, math.nan))
    labels = torch.cat((y_s[torch.as_tensor(s)], y_t[torch.as_tensor(t)])).numpy()
    per_domain = min(len(f_s), len(f_t), analysis.A_DISTANCE_SAMPLES)
    return Diagnosis(model, analysis.proxy_distance(error), error, per_domain, metric,
                     float(value), embedding, labels, list(task.class_names), seconds)  # fmt: skip


@torch.no_grad()
def features(recipe: Recipe, task: Task, split: str, batch_size: int = 512) -> tuple:
    """The features ``(N, D)`` and labels ``(N,)`` of a whole split (CPU tensors)."""
    rows, labels = [], []
    for x, y in eval_batches(task.split(split), batch_size, recipe.device):
        _, f = recipe.logits_and_features(x)
        rows.append(f.float().cpu())
        labels.append(y.cpu())
    return torch.cat(rows), torch.cat(labels)


def write(results: list[Diagnosis], folder: Path, options: AnalyzeOptions,
          criterion: str | None) -> list[Path]:  # fmt: skip
    """``tsne.png`` (one row per model) and ``analysis.json`` in ``folder``."""
    panels = [{"title": f"{r.model.label}: {r.target_metric} {r.target_value:.1f}",
               "embedding": r.embedding, "labels": r.labels, "a_distance": r.a_distance}
              for r in results]  # fmt: skip
    png, summary = folder / "tsne.png", folder / "analysis.json"
    analysis.plot_tsne(panels, png, class_names=results[-1].class_names)
    summary.write_text(json.dumps({
        "sweep": options.sweep, "checkpoint": options.checkpoint, "criterion": criterion,
        "source_split": "source_val", "target_split": options.target_split,
        "tsne_samples_per_domain": options.samples, "seed": options.seed,
        "models": [r.summary() for r in results],
    }, indent=2, default=str))  # fmt: skip
    return [png, summary]


def log_results(client: Any, run_id: str, results: list[Diagnosis], files: list[Path],
        criterion: str) -> list[str]:  # fmt: skip
    """The A-distances as metrics of the sweep's parent run (``a_distance.<criterion>``,
    ``a_distance.source_only``) and the files as its artifacts under ``analysis/<criterion>``;
    returns where each file went (its artifact URI; a path for artifacts in a local folder)."""
    metrics = {}
    for result in results:
        own = result is results[-1]
        metrics[f"a_distance.{criterion if own else 'source_only'}"] = result.a_distance
    writers.log_metrics(client, run_id, metrics, step=0)
    folder = f"analysis/{criterion}"
    for path in files:
        client.log_artifact(run_id, str(path), folder)
    root = client.get_run(run_id).info.artifact_uri.rstrip("/")
    if root.startswith("file://"):  # a local folder: shown as a path one can open
        root = urllib.parse.unquote(urllib.parse.urlsplit(root).path)
    return [f"{root}/{folder}/{path.name}" for path in files]


def _client(uri: str | None, required: bool) -> Any:
    """An MLflow client on ``uri`` (default store if ``None``); without ``required``, ``None``
    when that store does not exist (a local sqlite file that is not there)."""
    uri = store.tracking_uri(uri)
    folder = store.sqlite_folder(uri)
    if folder is not None and not Path(uri.removeprefix("sqlite:///")).is_file():
        if required:
            raise ValueError(f"no MLflow store at {uri}; pass the --tracking-uri the sweep "
                             "logged to")  # fmt: skip
        return None
    store.check_store(uri)
    return MlflowClient(uri)


def _read(path: str) -> dict[str, Any]:
    try:
        return read_checkpoint(path)
    except FileNotFoundError as error:
        raise ValueError(str(error)) from None


def _check_features(task: str) -> None:
    setting = task_spec(task).setting
    if setting == "segmentation":
        raise ValueError(f"task {task} is a segmentation task: its model has no feature vector "
                         "per sample to analyse (closed, partial and open-set tasks have)")  # fmt: skip


def _compare(model: Model, state: dict[str, Any], notes: list[str]) -> None:
    """Note when a re-trained evaluation's target metric differs from the recorded one."""
    setting = task_spec(model.config["task"]).setting
    key = criteria.test_key(setting)
    recorded, again = model.metrics.get(key), state.get("metrics", {}).get(key)
    if recorded is not None and again is not None and abs(recorded - again) > 1e-6:
        notes.append(f"{model.label}: re-trained {key} {again:.2f} differs from the recorded "
                     f"{recorded:.2f} (another device or library version than the sweep's)")  # fmt: skip
