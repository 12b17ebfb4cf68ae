"""The listing commands: ``dabench tasks``, ``dabench methods``, ``dabench space`` and
``dabench demo``."""

from __future__ import annotations

import argparse

import torch

from dabench import models
from dabench.cli.console import error
from dabench.data import list_tasks
from dabench.data.registry import task_spec
from dabench.demo import run
from dabench.methods import METHODS, get_method
from dabench.methods.base import COMMON_DEFAULTS, FAMILY_DEFAULTS
from dabench.spaces import space_path
from dabench.trainable import LOOP_DEFAULTS, default_config


def run_methods(args: argparse.Namespace) -> None:
    """``dabench methods``: every method, its settings and defaults (``--task``: resolved)."""
    if args.task:
        spec = task_spec(args.task)
        family = models.family(spec.model)
        print(f"{spec.name}: {spec.setting}, model {spec.model}, {family} defaults")
        for name, recipe in sorted(METHODS.items()):
            if spec.setting in recipe.settings:
                config = default_config(name, spec.name)
                shown = {k: v for k, v in config.items() if k not in LOOP_DEFAULTS}
                print(f"{name:14s} {format_defaults(shown)}")
        return
    print("Defaults by model family (the task's model decides; --task NAME resolves them):")
    by_family: dict[str, list[str]] = {family: [] for family in models.FAMILIES}
    for spec in list_tasks():
        group = f"{spec.name.split('/')[0]}/* (real)" if spec.needs_root else spec.name
        if group not in by_family[models.family(spec.model)]:
            by_family[models.family(spec.model)].append(group)
    for family, tasks in by_family.items():
        print(f"  {family:9s} tasks: {', '.join(tasks)}")
    print(f"common: {format_defaults(COMMON_DEFAULTS)}")
    for family, by_setting in FAMILY_DEFAULTS.items():
        for setting, overrides in by_setting.items():
            print(f"  {family}, {setting}: {format_defaults(overrides)}")
    for name, recipe in sorted(METHODS.items()):
        print(f"{name:14s} {', '.join(recipe.settings)}")
        if recipe.defaults:
            print(f"{'':14s} {format_defaults(recipe.defaults)}")
        for setting, overrides in recipe.setting_defaults.items():
            if setting not in recipe.settings:
                continue  # inherited from a parent recipe of other settings
            print(f"{'':14s} {setting}: {format_defaults(overrides)}")
        for family, overrides in recipe.family_defaults.items():
            print(f"{'':14s} {family}: {format_defaults(overrides)}")


def format_defaults(defaults: dict) -> str:
    """``lr=0.01, trade_off=1``."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in defaults.items()
    )


def run_tasks(args: argparse.Namespace) -> None:
    """``dabench tasks``: the bundled and the real-data tasks."""
    specs = [s for s in list_tasks() if args.setting in (None, s.setting)]
    width = max((len(s.name) for s in specs), default=0)
    for needs_root, title in ((False, "Bundled (no download)"), (True, "Real data (--root DIR)")):
        group = [s for s in specs if s.needs_root == needs_root]
        if group:
            print(f"{title}:")
            for spec in group:
                print(f"  {spec.name.ljust(width)}  {spec.setting:<12}  {spec.description}")


def run_space(args: argparse.Namespace) -> int:
    """``dabench space METHOD``: the shipped search space of a method, to copy and edit."""
    try:
        get_method(args.method)
    except ValueError as failure:
        error("space", failure)
        return 2
    path = space_path(args.method)
    print(f"# {path}: dabench's search space for {args.method}. Save it (dabench space "
          f"{args.method} > my.yaml), edit it and pass it with --space my.yaml.")  # fmt: skip
    print(path.read_text(), end="")
    return 0


def run_demo(args: argparse.Namespace) -> None:
    """``dabench demo``: source-only and DANN on two moons → moons rotated 40°."""
    threads = args.threads or torch.get_num_threads()
    print(f"two moons → moons rotated 40°, {args.steps} steps, seed {args.seed}, {threads} "
          f"thread{'s' if threads > 1 else ''}")  # fmt: skip
    result = run(steps=args.steps, seed=args.seed, threads=args.threads)
    print(f"target accuracy  source-only: {result.source_only:5.1f} %")
    print(f"target accuracy  DANN:        {result.dann:5.1f} %")
    print(f"({result.seconds:.1f} s)")
