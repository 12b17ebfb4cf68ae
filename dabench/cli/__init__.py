"""The command line: ``dabench <command>``. Each command's handler is imported only when it
runs, so that ``dabench --help`` and ``dabench tasks`` need no torch (the one place dabench
defers imports of its own modules)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from dabench.cli.parser import build_parser

HANDLERS = {
    "demo": "train:run_demo", "tasks": "listings:run_tasks", "methods": "listings:run_methods",
    "space": "sweeps:run_space", "train": "train:run", "sweep": "sweeps:run",
    "rerun": "sweeps:run_rerun",
    "benchmark": "benchmark:run", "leaderboard": "reports:run_leaderboard",
    "export": "reports:run_export", "validators": "reports:run_validators",
    "analyze": "reports:run_analyze", "ui": "ui:run",
}  # fmt: skip
"""Command → ``module:function`` in this package (the ``ui`` module's imports are light: a busy
port is refused at once)."""


def handler(command: str) -> Callable[..., int | None]:
    module, function = HANDLERS[command].split(":")
    return getattr(import_module(f"dabench.cli.{module}"), function)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in reports
    return handler(args.command)(args) or 0


__all__ = ["build_parser", "main"]
