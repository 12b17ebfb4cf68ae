"""The one training loop: ``run_trial(config, report)`` trains any registered method on any task.

A plain function — no Ray import — so it runs in a test, in ``dabench train`` and under Ray Tune
unchanged. Target labels are read only by the evaluation (target-val/test metrics, reported) and by
the explicitly named ``target_oracle`` baseline; no training decision ever uses them.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from dabench import analysis, validators
from dabench import metrics as m
from dabench.catalog.datasets import IMAGE_SIZE, MIN_IMAGE_SIZE, resizable
from dabench.catalog.defaults import config_defaults
from dabench.catalog.models import RESNETS
from dabench.data import get_task
from dabench.data.loading import InfiniteBatches, eval_batches
from dabench.data.registry import task_spec
from dabench.data.task import IGNORE_INDEX, Task
from dabench.methods import Batch, Recipe, get_method
from dabench.methods.base import Stage
from dabench.precision import PRECISIONS
from dabench.precision import prepare as prepare_precision

Report = Callable[[dict[str, Any]], None]

MAIN_METRIC = {"closed": "acc", "partial": "acc", "open_set": "h_score", "segmentation": "miou"}
"""The headline target metric of each setting (reported as ``target_test_<metric>``)."""

RANGES: dict[str, tuple[float | None, float | None, str]] = {
    # key: (low, high, which ends are open: "()", "[)", "[]", "(]")
    "lr": (0.0, None, "()"),
    "lr_anneal": (0.0, None, "[)"),
    "lr_decay": (0.0, None, "[)"),
    "momentum": (0.0, 1.0, "[)"),
    "weight_decay": (0.0, None, "[)"),
    "batch_size": (1, None, "[)"),
    "bottleneck_dim": (1, None, "[)"),
    "steps": (1, None, "[)"),
    "eval_every": (1, None, "[)"),
    "eval_batch_size": (1, None, "[)"),
    "num_workers": (0, None, "[)"),
    "trade_off": (0.0, None, "[)"),
    "grl_alpha": (0.0, None, "[)"),
    "grl_warmup": (0.0, None, "()"),
    "disc_hidden": (1, None, "[)"),
    "threshold": (0.0, 1.0, "()"),
    "lr_power": (0.0, None, "()"),
}
"""Accepted ranges of the loop's and the common keys (recipes add theirs in ``Recipe.ranges``)."""

CHOICES: dict[str, tuple[str, ...]] = {
    "lr_schedule": ("inverse", "poly"),
    "precision": PRECISIONS,
    "costly_validators": ("last", "every", "never"),
}


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the trial stops instead of reporting garbage."""


def callers_rng_kept(device: torch.device) -> AbstractContextManager[None]:
    """A context in which torch's random generators (CPU, and ``device``'s if it is a GPU) may
    be reseeded and drawn from, given back to the caller as they were when it ends."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in and every key checked, before any data or model is built.

    Defaults come, in increasing priority, from
    :data:`~dabench.catalog.defaults.LOOP_DEFAULTS`, the common optimiser defaults, the
    setting's, the recipe's, the recipe's for that setting, the model family's of the task and
    the recipe's for that family (:func:`~dabench.catalog.defaults.config_defaults`), then the
    config (see :func:`default_config`). Raises ``ValueError`` naming the key for an unknown
    key, a wrong type, an out-of-range value or a value outside the accepted choices, and for an
    unknown task or method or a method that does not fit the task's setting.
    """
    for key in ("method", "task"):
        if not config.get(key):
            raise ValueError(f"config needs {key!r}")
    recipe = get_method(config["method"], task_spec(config["task"]).setting)
    defaults = default_config(config["method"], config["task"])
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for method {recipe.name!r}; accepted: {sorted(defaults)}"
        )
    resolved = {**defaults, **config}
    ranges, choices = {**RANGES, **recipe.ranges}, {**CHOICES, **recipe.choices}
    for key, value in resolved.items():
        default = defaults[key]
        if default is None or value is None:
            continue
        expected = float if isinstance(default, float) else type(default)
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool)
            if expected is float
            else (
                isinstance(value, expected) and (expected is not int or not isinstance(value, bool))
            )
        )
        if not ok:
            raise ValueError(f"config key {key!r} must be {expected.__name__}; got {value!r}")
        if key in ranges:
            check_range(key, value, *ranges[key])
        if key in choices and value not in choices[key]:
            raise ValueError(f"config key {key!r} must be one of {choices[key]}; got {value!r}")
    if resolved["a_distance"] and task_spec(resolved["task"]).setting == "segmentation":
        raise ValueError("config key 'a_distance' needs a feature vector per sample; a "
                         "segmentation model has none (closed, partial and open-set tasks do)")  # fmt: skip
    check_inputs(resolved)
    return resolved


def check_inputs(config: dict[str, Any]) -> None:
    """The model and input keys of a resolved config: ``backbone`` replaces a ResNet task's
    ResNet with another ResNet; ``image_size`` (≥ :data:`~dabench.catalog.datasets.MIN_IMAGE_SIZE`)
    crops a real-data ResNet task's images. ``ValueError`` naming the key and what it accepts."""
    task, model = config["task"], task_spec(config["task"]).model
    backbone, size = config["backbone"], config["image_size"]
    if backbone is not None and (backbone not in RESNETS or model not in RESNETS):
        raise ValueError(f"config key 'backbone' replaces a ResNet task's ResNet with one of "
                         f"{', '.join(RESNETS)}; got {backbone!r} for task {task!r} (model "
                         f"{model})")  # fmt: skip
    if size is None:
        return
    if not isinstance(size, int) or isinstance(size, bool) or size < MIN_IMAGE_SIZE:
        raise ValueError(f"config key 'image_size' must be an integer ≥ {MIN_IMAGE_SIZE} (the "
                         f"crop in pixels; default {IMAGE_SIZE}); got {size!r}")  # fmt: skip
    if not resizable(task):
        raise ValueError(f"config key 'image_size' applies to the real-data ResNet tasks "
                         f"(Office-31, Office-Home, VisDA-2017, DomainNet); task {task!r} has "
                         "fixed inputs")  # fmt: skip


def default_config(method: str, task: str) -> dict[str, Any]:
    """Every key a trial of ``method`` on ``task`` accepts, with its default for that task
    (:func:`~dabench.catalog.defaults.config_defaults` of the registered recipe and task).
    ``ValueError`` for an unknown task or method, or a method that does not fit the task's
    setting."""
    spec = task_spec(task)
    return config_defaults(get_method(method, spec.setting), spec.setting, spec.model)


def check_range(key: str, value: float, low: float | None, high: float | None, ends: str) -> None:
    ok = math.isfinite(value)
    if low is not None:
        ok = ok and (value > low if ends[0] == "(" else value >= low)
    if high is not None:
        ok = ok and (value < high if ends[1] == ")" else value <= high)
    if not ok:
        low_text = "-inf" if low is None else low
        high_text = "inf" if high is None else high
        bounds = f"{ends[0]}{low_text}, {high_text}{ends[1]}"
        raise ValueError(f"config key {key!r} must be in {bounds}; got {value!r}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def run_trial(
    config: dict[str, Any],
    report: Report | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    on_step: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train ``config["method"]`` on ``config["task"]`` for ``steps`` iterations.

    Every ``eval_every`` steps (and at the end) ``report(metrics)`` is called with: ``step``,
    ``stage``, ``train_loss`` (mean since the last report) and the recipe's statistics (e.g.
    ``disc_acc``), ``grl_coeff`` where there is one, ``lr_now`` (the first group's current rate;
    the param ``lr`` is the base rate), ``source_val_acc``, the setting's target metrics on
    target-val and target-test (``target_val_acc``, ``target_test_h_score``, ...), ``time_s``
    (wall time so far, evaluations included) and ``samples_per_s`` (training samples per second
    of training time). Returns the last metrics.

    With ``checkpoint_dir``, the whole training state (modules, optimisers, schedulers, recipe
    state, data order, random generators, clocks) is written there at every evaluation, before
    ``report`` is called. ``resume_from`` (a directory holding such a checkpoint, of the same
    config) continues that trial exactly where it stopped: on CPU the final metrics are identical
    to an uninterrupted run's. ``on_step(step)`` is called after every training step (for
    progress bars; it gets no tensor, so it never synchronises a GPU).

    ``threads`` sets torch's intra-op thread count for the trial (``None``: the process's, by
    default one per core; a sweep's trial gets one per CPU it was given). The caller's thread
    count and random generators are given back unchanged when the trial ends.
    """
    cfg = resolve_config(config)
    device = resolve_device(cfg["device"])
    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be an integer >= 1; got {threads}")
        torch.set_num_threads(threads)
    try:
        with callers_rng_kept(device):  # seeded below
            return _train(cfg, device, report, checkpoint_dir, resume_from, on_step)
    finally:
        torch.set_num_threads(previous)


def _train(
    cfg: dict[str, Any],
    device: torch.device,
    report: Report | None,
    checkpoint_dir: str | Path | None,
    resume_from: str | Path | None,
    on_step: Callable[[int], None] | None,
) -> dict[str, Any]:
    """:func:`run_trial`'s training, on the resolved config and device."""
    saved = load_checkpoint(resume_from, cfg) if resume_from is not None else None
    task = get_task(cfg["task"], cfg["root"], seed=cfg["data_seed"], image_size=cfg["image_size"])
    torch.manual_seed(cfg["seed"])
    recipe: Recipe = get_method(cfg["method"])(task, cfg, device)
    scaler = prepare_precision(recipe, device, cfg)
    stages = recipe.stages(cfg["steps"])

    generator = torch.Generator().manual_seed(cfg["seed"])
    batch_size, workers = cfg["batch_size"], cfg["num_workers"]
    source = InfiniteBatches(task.split("source_train"), batch_size, generator, device, workers)
    target = None
    if recipe.needs_target:
        adapt = task.split("target_adapt", labelled=recipe.uses_target_labels)
        target = InfiniteBatches(adapt, batch_size, generator, device, workers)

    report = report or (lambda metrics: None)
    clock = {"train_s": 0.0, "eval_s": 0.0, "samples": 0}
    metrics: dict[str, Any] = saved["metrics"] if saved else {}
    done = saved["step"] if saved else 0
    first = 1
    for stage in stages:
        last = first + stage.steps - 1
        if last <= done:  # finished before the checkpoint
            first = last + 1
            continue
        recipe.begin_stage(stage)
        optimizers = recipe.optimizers(stage)
        loop = LoopState(recipe, optimizers, generator, source, target, clock, scaler)
        if saved is not None:  # resume: the state of the checkpoint, then its stage's optimisers
            loop.load_state_dict(saved, same_stage=saved["stage"] == stage.name)
            saved = None
        recipe.train(True)
        sums: dict[str, Tensor] = {}
        since, tick = 0, time.perf_counter()
        for step in range(max(first, done + 1), last + 1):
            x_s, y_s = next(source)
            x_t = y_t = None
            if target is not None and recipe.needs_target:
                t = next(target)
                x_t, y_t = t if recipe.uses_target_labels else (t, None)
            try:
                loss, stats = recipe.loss(Batch(x_s, y_s, x_t, y_t))
            except RuntimeError as error:  # e.g. a BCE on NaN probabilities after divergence
                if not _diverged(recipe, x_s):
                    raise
                raise NonFiniteLossError(
                    f"the parameters or activations became NaN or infinite before step {step} (method "
                    f"{cfg['method']!r}, task {cfg['task']!r}); lower lr or trade_off"
                ) from error
            for optimizer, _ in optimizers:
                optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # fp16: scaled (see dabench.precision); else as is
            for optimizer, scheduler in optimizers:
                scaler.step(optimizer)
                scheduler.step()
            scaler.update()
            for key, value in {"train_loss": loss.detach(), **stats}.items():
                sums[key] = sums.get(key, 0.0) + value.float()
            since += 1
            clock["samples"] += len(x_s) + (0 if x_t is None else len(x_t))
            if on_step is not None:
                on_step(step)
            if step == last:
                recipe.end_stage(stage)
            if step % cfg["eval_every"] == 0 or step == cfg["steps"]:
                clock["train_s"] += time.perf_counter() - tick
                metrics = _evaluation(cfg, recipe, task, device, stage, step, sums, since, clock)
                metrics["lr_now"] = optimizers[0][0].param_groups[0]["lr"]
                if checkpoint_dir is not None:
                    save_checkpoint(checkpoint_dir, cfg, loop, stage, step, metrics)
                report(metrics)
                sums, since, tick = {}, 0, time.perf_counter()
        clock["train_s"] += time.perf_counter() - tick
        first = last + 1
    return metrics


@torch.no_grad()
def _diverged(recipe: Recipe, x: Tensor) -> bool:
    """Whether a parameter or the model's output on ``x`` is NaN or infinite (asked only after a
    loss raised, to tell divergence from a genuine error)."""
    parameters = (p for module in recipe.modules().values() for p in module.parameters())
    output = recipe.model(x)
    outputs = output if isinstance(output, tuple) else (output,)
    return not all(bool(torch.isfinite(t).all()) for t in (*parameters, *outputs))


def _evaluation(
    cfg: dict[str, Any],
    recipe: Recipe,
    task: Task,
    device: torch.device,
    stage: Stage,
    step: int,
    sums: dict[str, Tensor],
    since: int,
    clock: dict[str, float],
) -> dict[str, Any]:
    """The metrics of an evaluation point (raises :class:`NonFiniteLossError` on a NaN loss)."""
    train_stats = {key: float(total) / max(since, 1) for key, total in sums.items()}
    loss = train_stats.get("train_loss", 0.0)
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"the training loss became {loss} before step {step} (method {cfg['method']!r}, "
            f"task {cfg['task']!r}); lower lr or trade_off"
        )
    metrics: dict[str, Any] = {"step": step, "stage": stage.name, **train_stats}
    coefficient = recipe.grl_coefficient()
    if coefficient is not None:
        metrics["grl_coeff"] = coefficient
    start = time.perf_counter()
    when = cfg["costly_validators"]
    costly = when == "every" or (when == "last" and step == cfg["steps"])
    metrics.update(evaluate(recipe, task, cfg["eval_batch_size"], device, cfg["num_workers"],
                            a_distance=cfg["a_distance"], costly=costly))  # fmt: skip
    recipe.train(True)
    clock["eval_s"] += time.perf_counter() - start
    metrics["time_s"] = clock["train_s"] + clock["eval_s"]
    metrics["samples_per_s"] = clock["samples"] / max(clock["train_s"], 1e-9)
    return metrics


CHECKPOINT_FILE = "trial.pt"
RUNTIME_KEYS = ("device", "num_workers", "eval_batch_size", "root", "a_distance",
                "costly_validators")  # fmt: skip
"""Config keys a resumed trial may change: they do not alter what is trained."""


@dataclass
class LoopState:
    """Everything that changes while a trial trains, checkpointed as one piece."""

    recipe: Recipe
    optimizers: list[tuple[Optimizer, LRScheduler]]
    generator: torch.Generator
    source: InfiniteBatches
    target: InfiniteBatches | None
    clock: dict[str, float]
    scaler: torch.amp.GradScaler | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {name: m.state_dict() for name, m in self.recipe.modules().items()},
            "optimizers": [optimizer.state_dict() for optimizer, _ in self.optimizers],
            "schedulers": [scheduler.state_dict() for _, scheduler in self.optimizers],
            "extra": self.recipe.extra_state(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "batches": self.generator.get_state(),
            },
            "source_batches": self.source.state_dict(),
            "target_batches": None if self.target is None else self.target.state_dict(),
            "clock": dict(self.clock),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
        }

    def load_state_dict(self, state: dict[str, Any], same_stage: bool) -> None:
        """Restore ``state``; the optimisers only when it was saved inside the current stage
        (a checkpoint at a stage's last step hands the next stage fresh optimisers)."""
        for name, module in self.recipe.modules().items():
            module.load_state_dict(state["modules"][name])
        self.recipe.load_extra_state(state["extra"])
        if same_stage:
            for (optimizer, scheduler), o, s in zip(
                self.optimizers, state["optimizers"], state["schedulers"], strict=True
            ):
                optimizer.load_state_dict(o)
                scheduler.load_state_dict(s)
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.generator.set_state(state["rng"]["batches"])
        self.source.load_state_dict(state["source_batches"])
        if self.target is not None and state["target_batches"] is not None:
            self.target.load_state_dict(state["target_batches"])
        self.clock.update(state["clock"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def save_checkpoint(
    directory: str | Path,
    cfg: dict[str, Any],
    loop: LoopState,
    stage: Stage,
    step: int,
    metrics: dict[str, Any],
) -> Path:
    """Write the full training state to ``directory/trial.pt`` atomically (write, then rename)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {"format": 1, "config": cfg, "step": step, "stage": stage.name, "metrics": metrics,
             **loop.state_dict()}  # fmt: skip
    path = directory / CHECKPOINT_FILE
    partial = path.with_suffix(".tmp")
    torch.save(state, partial)
    os.replace(partial, path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state :func:`save_checkpoint` wrote, from its file or the directory holding
    ``trial.pt`` (loaded with ``weights_only=True``: tensors and plain containers only).
    ``FileNotFoundError`` naming the path when there is none; ``ValueError`` naming the file when
    it is not a dabench checkpoint (another program's file, a truncated or corrupt one)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (a {CHECKPOINT_FILE} file, or a folder "
                                "holding one, as `dabench train --checkpoint-dir` writes)")  # fmt: skip
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file it cannot read
        reason = (
            str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        )
        raise ValueError(f"{path}: not a dabench checkpoint ({reason})") from None
    missing = {"config", "step", "modules"} - set(state) if isinstance(state, dict) else {"a dict"}
    if missing:
        raise ValueError(f"{path}: not a dabench checkpoint (no {', '.join(sorted(missing))})")
    return state


def load_checkpoint(directory: str | Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint in ``directory``, checked to belong to a trial of the same config."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from: {path} does not exist")
    state = read_checkpoint(path)
    differ = sorted(
        key
        for key in set(cfg) | set(state["config"])
        if key not in RUNTIME_KEYS and cfg.get(key) != state["config"].get(key)
    )
    if differ:
        raise ValueError(
            f"the checkpoint in {directory} is of another config: {differ} differ "
            f"(only {', '.join(RUNTIME_KEYS)} may change on resume)"
        )
    return state


def restore(state: dict[str, Any], **runtime: Any) -> tuple[Recipe, Task]:
    """The trained recipe of a checkpoint's ``state`` (:func:`read_checkpoint`), in evaluation
    mode, and its task: the task and recipe built from the saved config — with the
    :data:`RUNTIME_KEYS` given in ``runtime`` (e.g. ``device="cpu"``, ``root=...``) replaced —
    the saved stage entered, then every module's weights and the recipe's extra state loaded.
    The caller's random generators are left as they were (building the modules draws their
    initial weights, which the checkpoint's then replace)."""
    unknown = sorted(set(runtime) - set(RUNTIME_KEYS))
    if unknown:
        raise ValueError(f"only {', '.join(RUNTIME_KEYS)} may change on restore; got {unknown}")
    cfg = resolve_config({**state["config"], **runtime})
    device = resolve_device(cfg["device"])
    with callers_rng_kept(device):
        task = get_task(cfg["task"], cfg["root"], cfg["data_seed"], cfg["image_size"])
        recipe: Recipe = get_method(cfg["method"])(task, cfg, device)
    recipe.begin_stage(next(s for s in recipe.stages(cfg["steps"]) if s.name == state["stage"]))
    for name, module in recipe.modules().items():
        module.load_state_dict(state["modules"][name])
    recipe.load_extra_state(state["extra"])
    recipe.train(False)
    return recipe, task


VALIDATOR_ROWS = 2000
"""At most this many samples (the first of the split, whose order is random) feed the validators
of one split: SND is quadratic in them and k-means and DEV's classifier grow with them."""

PIXEL_STRIDE = 4
"""Segmentation validators read every 4th pixel in each direction (1/16 of the pixels)."""

VALIDATOR_SPLITS = {"source_val": True, "target_val": False}
"""The splits the validators read, and whether they may read its labels (target: inputs only)."""


def evaluate(
    recipe: Recipe,
    task: Task,
    batch_size: int,
    device: torch.device,
    workers: int = 0,
    a_distance: bool = False,
    costly: bool = True,
) -> dict[str, float]:
    """Source-val accuracy (mIoU), the setting's metrics on target-val and target-test (labels:
    reported, never used to train or select unless asked for) and every label-free validator of
    the setting, from the source-val outputs and the target-val *inputs* (see
    :func:`dabench.validators.score`).

    Open-set source-val accuracy is the accuracy of the best known class, whether or not the
    model rejects the sample: source-val holds known classes only, and counting each rejection as
    an error would prefer models that never reject (measured: ``reports/selection.md``). How much
    a model rejects is judged by the ``h_proxy`` validator.

    Without ``costly``, the :data:`~dabench.validators.COSTLY` validators are left out.
    With ``a_distance``, also ``a_distance``: the proxy A-distance between the features of those
    same source-val and target-val rows (:func:`dabench.analysis.a_distance`, seed 0)."""
    recipe.train(False)
    results: dict[str, float] = {}
    rows: dict[str, validators.Outputs | None] = {}
    for split in ("source_val", "target_val", "target_test"):
        pred, target, rows[split] = _predictions(recipe, task, split, batch_size, device, workers)
        if task.setting == "segmentation":
            seg = m.segmentation_metrics(pred, target, task.num_classes, ignore_index=IGNORE_INDEX)
            results[f"{split}_miou"] = float(seg["miou"])
            results[f"{split}_pixel_acc"] = float(seg["pixel_acc"])
        elif task.setting == "open_set" and split != "source_val":
            for key, value in m.open_set_metrics(pred, target, task.num_classes).items():
                results[f"{split}_{key}"] = float(value)
        else:
            results[f"{split}_acc"] = float((pred == target).float().mean() * 100)
    source, target_inputs = rows["source_val"], rows["target_val"]
    assert source is not None and target_inputs is not None
    results.update(validators.score(task.setting, source, target_inputs, costly=costly))
    if a_distance and source.features is not None and target_inputs.features is not None:
        results["a_distance"] = analysis.a_distance(source.features, target_inputs.features)
    return results


def _predictions(
    recipe: Recipe, task: Task, split: str, batch_size: int, device: torch.device, workers: int
) -> tuple[Tensor, Tensor, validators.Outputs | None]:
    """The decisions and labels of a whole split — on open-set source-val, the best *known* class
    (see :func:`evaluate`) — and, for the :data:`VALIDATOR_SPLITS`, the rows the validators read
    (``None`` for the others): the first :data:`VALIDATOR_ROWS` samples, or for segmentation
    every :data:`PIXEL_STRIDE`-th pixel of each image as ``(pixels, C)`` rows. Only source rows
    carry labels (and drop ignored pixels); target rows are inputs only."""
    wanted, labelled = split in VALIDATOR_SPLITS, VALIDATOR_SPLITS.get(split, False)
    predicted, labels = [], []
    logits, decisions, features, row_labels = [], [], [], []
    taken = 0
    known_only = task.setting == "open_set" and split == "source_val"
    for x, y in eval_batches(task.split(split), batch_size, device, workers):
        z, f = recipe.logits_and_features(x)
        scores = recipe.decide(z)
        decision = scores.argmax(dim=1)
        predicted.append((scores[:, :-1].argmax(dim=1) if known_only else decision).cpu())
        labels.append(y.cpu())
        if not wanted:
            continue
        if task.setting == "segmentation":
            step = PIXEL_STRIDE
            z = z[:, :, ::step, ::step].permute(0, 2, 3, 1).reshape(-1, z.shape[1])
            decision, y = decision[:, ::step, ::step].reshape(-1), y[:, ::step, ::step].reshape(-1)
            if labelled:
                keep = y != IGNORE_INDEX
                z, decision, y = z[keep], decision[keep], y[keep]
        elif taken >= VALIDATOR_ROWS:
            continue
        else:
            n = VALIDATOR_ROWS - taken
            z, decision, y = z[:n], decision[:n], y[:n]
            f = None if f is None else f[:n]
            taken += len(z)
        logits.append(z.float().cpu())
        decisions.append(decision.cpu())
        row_labels.append(y.cpu())
        if f is not None:
            features.append(f.float().cpu())
    rows = validators.Outputs(
        torch.cat(logits), torch.cat(decisions),
        torch.cat(features) if features else None,
        torch.cat(row_labels) if labelled else None,
    ) if wanted else None  # fmt: skip
    return torch.cat(predicted), torch.cat(labels), rows
