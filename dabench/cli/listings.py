"""The listing commands, ``dabench tasks`` and ``dabench methods``: read from the declarations of
:mod:`dabench.catalog`, so a listing imports no torch (nor Ray, MLflow, scikit-learn or pandas)
and takes a fraction of a second."""

from __future__ import annotations

import argparse

from dabench.catalog.defaults import (
    COMMON_DEFAULTS,
    FAMILY_DEFAULTS,
    LOOP_DEFAULTS,
    config_defaults,
)
from dabench.catalog.methods import METHODS
from dabench.catalog.models import FAMILIES, family
from dabench.catalog.tasks import list_tasks, task_info
from dabench.cli.console import error


def run_methods(args: argparse.Namespace) -> int:
    """``dabench methods``: every method, its settings and defaults (``--task``: resolved)."""
    if args.task:
        try:
            spec = task_info(args.task)
        except ValueError as failure:
            error("methods", failure)
            return 2
        print(f"{spec.name}: {spec.setting}, model {spec.model}, {family(spec.model)} defaults")
        for name, info in sorted(METHODS.items()):
            if spec.setting in info.settings:
                config = config_defaults(info, spec.setting, spec.model)
                shown = {k: v for k, v in config.items() if k not in LOOP_DEFAULTS}
                print(f"{name:14s} {format_defaults(shown)}")
        return 0
    print("Defaults by model family (the task's model decides; --task NAME resolves them):")
    by_family: dict[str, list[str]] = {kind: [] for kind in FAMILIES}
    for spec in list_tasks():
        group = f"{spec.name.split('/')[0]}/* (real)" if spec.needs_root else spec.name
        if group not in by_family[family(spec.model)]:
            by_family[family(spec.model)].append(group)
    for kind, tasks in by_family.items():
        print(f"  {kind:9s} tasks: {', '.join(tasks)}")
    print(f"common: {format_defaults(COMMON_DEFAULTS)}")
    for kind, by_setting in FAMILY_DEFAULTS.items():
        for setting, overrides in by_setting.items():
            print(f"  {kind}, {setting}: {format_defaults(overrides)}")
    for name, info in sorted(METHODS.items()):
        print(f"{name:14s} {', '.join(info.settings)}")
        if info.defaults:
            print(f"{'':14s} {format_defaults(info.defaults)}")
        for setting, overrides in info.setting_defaults.items():
            if setting not in info.settings:
                continue  # shared with a method of other settings
            print(f"{'':14s} {setting}: {format_defaults(overrides)}")
        for kind, overrides in info.family_defaults.items():
            print(f"{'':14s} {kind}: {format_defaults(overrides)}")
    return 0


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
