"""Command line: ``dabench demo`` (later issues add sweep, train, leaderboard, ui, ...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dabench import __version__


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
        help="train source-only and DANN on two moons → rotated moons (about 10 s on a CPU)",
        description="Train an MLP on labelled two moons and adapt it to moons rotated by "
        "--rotation degrees, with and without the DANN loss; print target-test accuracy.",
    )
    demo.add_argument("--steps", type=positive_int, default=3000, help="SGD steps (default 3000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--rotation", type=float, default=40.0, help="target rotation in degrees")
    return parser


def run_demo(args: argparse.Namespace) -> None:
    from dabench.demo import run

    print(f"two moons → moons rotated {args.rotation:g}°, {args.steps} steps, seed {args.seed}")
    result = run(steps=args.steps, seed=args.seed, rotation=args.rotation)
    print(f"target accuracy  source-only: {result.source_only:5.1f} %")
    print(f"target accuracy  DANN:        {result.dann:5.1f} %")
    print(f"({result.seconds:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        run_demo(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
