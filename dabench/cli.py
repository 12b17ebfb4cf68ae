"""Command line: ``dabench demo | tasks`` (later issues add sweep, train, leaderboard, ui, ...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dabench import __version__
from dabench.data.task import SETTINGS


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dabench", description="Tune and benchmark domain-adversarial domain adaptation."
    )
    parser.add_argument("--version", action="version", version=f"dabench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = commands.add_parser(
        "demo",
        help="train source-only and DANN on two moons → rotated moons (about 15 s on a CPU)",
        description="Train on labelled two moons and adapt to unlabelled moons rotated by 40°, "
        "with and without the DANN loss (task moons/rot40); print target-test accuracy.",
    )
    demo.add_argument("--steps", type=positive_int, default=2000, help="SGD steps (default 2000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tasks = commands.add_parser(
        "tasks",
        help="list the registered tasks",
        description="List every task: bundled ones (generated, no download) and real-data ones "
        "(need --root pointing at the dataset folder).",
    )
    tasks.add_argument("--setting", choices=SETTINGS, help="only tasks of this setting")
    return parser


def run_tasks(args: argparse.Namespace) -> None:
    from dabench.data import list_tasks

    specs = [s for s in list_tasks() if args.setting in (None, s.setting)]
    width = max((len(s.name) for s in specs), default=0)
    for needs_root, title in ((False, "Bundled (no download)"), (True, "Real data (--root DIR)")):
        group = [s for s in specs if s.needs_root == needs_root]
        if group:
            print(f"{title}:")
            for spec in group:
                print(f"  {spec.name.ljust(width)}  {spec.setting:<12}  {spec.description}")


def run_demo(args: argparse.Namespace) -> None:
    from dabench.demo import run

    print(f"two moons → moons rotated 40°, {args.steps} steps, seed {args.seed}")
    result = run(steps=args.steps, seed=args.seed)
    print(f"target accuracy  source-only: {result.source_only:5.1f} %")
    print(f"target accuracy  DANN:        {result.dann:5.1f} %")
    print(f"({result.seconds:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    {"demo": run_demo, "tasks": run_tasks}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
