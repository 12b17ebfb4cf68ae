"""The one training loop: ``run_trial(config, report)`` trains any registered method on any task.

A plain function — no Ray import — so it runs in a test, in ``dabench train`` and under Ray Tune
unchanged. Target labels are read only by the evaluation (target-val/test metrics, reported) and by
the explicitly named ``target_oracle`` baseline; no training decision ever uses them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from dabench import metrics as m
from dabench.data import get_task
from dabench.data.loading import InfiniteBatches, eval_batches
from dabench.data.registry import task_spec
from dabench.data.task import IGNORE_INDEX, Task
from dabench.methods import Batch, Recipe, get_method
from dabench.methods.base import COMMON_DEFAULTS

Report = Callable[[dict[str, Any]], None]

LOOP_DEFAULTS: dict[str, Any] = {
    "method": None,
    "task": None,
    "root": None,
    "seed": 0,
    "data_seed": 0,
    "steps": 1000,
    "eval_every": 250,
    "eval_batch_size": 512,
    "device": "auto",
    "num_workers": 0,
    "pretrained": False,
}
"""Keys every trial accepts besides the method's hyperparameters. ``seed`` drives initialisation
and batch order; ``data_seed`` the generated data and the splits (fixed across seeds by default)."""

MAIN_METRIC = {"closed": "acc", "partial": "acc", "open_set": "h_score", "segmentation": "miou"}
"""The headline target metric of each setting (reported as ``target_test_<metric>``)."""

RANGES: dict[str, tuple[float | None, float | None, str]] = {
    # key: (low, high, which ends are open: "()", "[)", "[]", "(]")
    "lr": (0.0, None, "()"),
    "lr_gamma": (0.0, None, "[)"),
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
    "grl_max_iters": (0.0, None, "()"),
    "disc_hidden": (1, None, "[)"),
    "threshold": (0.0, 1.0, "()"),
}


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the trial stops instead of reporting garbage."""


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in and every key checked, before any data or model is built.

    Raises ``ValueError`` naming the key for an unknown key, a wrong type or an out-of-range value,
    and for an unknown task or method or a method that does not fit the task's setting.
    """
    for key in ("method", "task"):
        if not config.get(key):
            raise ValueError(f"config needs {key!r}")
    recipe = get_method(config["method"], task_spec(config["task"]).setting)
    defaults = {**LOOP_DEFAULTS, **COMMON_DEFAULTS, **recipe.defaults}
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for method {recipe.name!r}; accepted: {sorted(defaults)}"
        )
    resolved = {**defaults, **config}
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
        if key in RANGES:
            _check_range(key, value, *RANGES[key])
    return resolved


def _check_range(key: str, value: float, low: float | None, high: float | None, ends: str) -> None:
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


def run_trial(config: dict[str, Any], report: Report | None = None) -> dict[str, Any]:
    """Train ``config["method"]`` on ``config["task"]`` for ``steps`` iterations.

    Every ``eval_every`` steps (and at the end) ``report(metrics)`` is called with: ``step``,
    ``train_loss`` (mean since the last report) and the recipe's statistics (e.g. ``disc_acc``),
    ``grl_coeff`` where there is one, ``source_val_acc``, the setting's target metrics on
    target-val and target-test (``target_val_acc``, ``target_test_h_score``, ...), ``time_s``
    (wall time so far, evaluations included) and ``samples_per_s`` (training samples per second of
    training time). Returns the last metrics.
    """
    cfg = resolve_config(config)
    device = resolve_device(cfg["device"])
    task = get_task(cfg["task"], cfg["root"], seed=cfg["data_seed"])
    torch.manual_seed(cfg["seed"])
    recipe: Recipe = get_method(cfg["method"])(task, cfg, device)
    optimizer = torch.optim.SGD(
        recipe.parameter_groups(), cfg["lr"], momentum=cfg["momentum"],
        weight_decay=cfg["weight_decay"], nesterov=cfg["nesterov"] and cfg["momentum"] > 0,
    )  # fmt: skip
    lr, gamma, decay = cfg["lr"], cfg["lr_gamma"], cfg["lr_decay"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda x: lr * (1 + gamma * x) ** (-decay)
    )

    generator = torch.Generator().manual_seed(cfg["seed"])
    batch_size, workers = cfg["batch_size"], cfg["num_workers"]
    source = InfiniteBatches(task.split("source_train"), batch_size, generator, device, workers)
    target = None
    if recipe.needs_target:
        adapt = task.split("target_adapt", labelled=recipe.uses_target_labels)
        target = InfiniteBatches(adapt, batch_size, generator, device, workers)

    report = report or (lambda metrics: None)
    metrics: dict[str, Any] = {}
    sums: dict[str, torch.Tensor] = {}
    set_train_mode(recipe, True)
    since, samples, eval_s, start = 0, 0, 0.0, time.perf_counter()
    for step in range(1, cfg["steps"] + 1):
        x_s, y_s = next(source)
        x_t = y_t = None
        if target is not None:
            t = next(target)
            x_t, y_t = t if recipe.uses_target_labels else (t, None)
        loss, stats = recipe.loss(Batch(x_s, y_s, x_t, y_t))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        for key, value in {"train_loss": loss.detach(), **stats}.items():
            sums[key] = sums.get(key, 0.0) + value.float()
        since += 1
        samples += len(x_s) + (0 if x_t is None else len(x_t))

        if step % cfg["eval_every"] == 0 or step == cfg["steps"]:
            train_stats = {key: float(total) / since for key, total in sums.items()}
            if not math.isfinite(train_stats["train_loss"]):
                raise NonFiniteLossError(
                    f"the training loss became {train_stats['train_loss']} before step {step} "
                    f"(method {cfg['method']!r}, task {cfg['task']!r}); lower lr or trade_off"
                )
            metrics = {"step": step, **train_stats}
            coefficient = recipe.grl_coefficient()
            if coefficient is not None:
                metrics["grl_coeff"] = coefficient
            train_s = time.perf_counter() - start - eval_s
            eval_start = time.perf_counter()
            metrics.update(evaluate(recipe, task, cfg["eval_batch_size"], device, workers))
            set_train_mode(recipe, True)
            eval_s += time.perf_counter() - eval_start
            metrics.update({"time_s": train_s + eval_s, "samples_per_s": samples / train_s})
            report(metrics)
            sums, since = {}, 0
    return metrics


def set_train_mode(recipe: Recipe, mode: bool) -> None:
    """Put every module of the recipe in training (``True``) or evaluation mode."""
    for module in recipe.modules().values():
        module.train(mode)


def evaluate(
    recipe: Recipe, task: Task, batch_size: int, device: torch.device, workers: int = 0
) -> dict[str, float]:
    """Source-val accuracy and the setting's metrics on target-val and target-test."""
    set_train_mode(recipe, False)
    results: dict[str, float] = {}
    for split in ("source_val", "target_val", "target_test"):
        predictions, labels = [], []
        for x, y in eval_batches(task.split(split), batch_size, device, workers):
            predictions.append(recipe.predict(x).argmax(dim=1))
            labels.append(y)
        pred, target = torch.cat(predictions), torch.cat(labels)
        if task.setting == "segmentation":
            seg = m.segmentation_metrics(pred, target, task.num_classes, ignore_index=IGNORE_INDEX)
            results[f"{split}_miou"] = float(seg["miou"])
            results[f"{split}_pixel_acc"] = float(seg["pixel_acc"])
        elif task.setting == "open_set" and split != "source_val":
            for key, value in m.open_set_metrics(pred, target, task.num_classes).items():
                results[f"{split}_{key}"] = float(value)
        else:
            results[f"{split}_acc"] = float((pred == target).float().mean() * 100)
    return results
