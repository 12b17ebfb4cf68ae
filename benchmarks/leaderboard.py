"""The committed leaderboard: every applicable method on every bundled task → reports/leaderboard.md.

Run:  python benchmarks/leaderboard.py [--work /work/dabench-leaderboard] [--tasks NAME ...]
          [--methods NAME ...] [--report-only]

For each bundled task and each method registered for its setting (source-only and the target
oracle included), one real ``dabench sweep`` — Optuna TPE, ASHA, ``TRIALS`` trials (the target
oracle ``REFERENCE_TRIALS``), two at a time — followed by ``--seeds 3``: the label-free pick and
the oracle pick are re-trained with three fresh seeds. All of it goes to one MLflow store under
``--work``; then ``dabench leaderboard --select all`` writes ``reports/leaderboard.md`` and its
plots from that store (the hand-written "## Reading" section of the previous report is kept).

A sweep that finished is not run again, and ``dabench rerun`` skips seeds groups that finished,
so an interrupted run loses at most the sweep or group in progress.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIALS, SEEDS = 12, 3
BUDGET = {"moons/rot40": (600, 150), "shapes/flat2textured": (60, 30)}
"""(steps, eval_every) per task; the digits tasks get DEFAULT_BUDGET. Small, to fit the whole
leaderboard (36 sweeps and their seeds) into about 2 h of the 2-core machine."""
DEFAULT_BUDGET = (300, 100)
REFERENCE_TRIALS = 6
"""The target oracle is an upper reference, not a contender: a smaller search."""
EXPERIMENT = "leaderboard"


def sweep_name(method: str, task: str) -> str:
    return f"{method}-{task.replace('/', '-')}"


def sweep_command(method: str, task: str, work: Path) -> list[str]:
    steps, eval_every = BUDGET.get(task, DEFAULT_BUDGET)
    return [
        "dabench", "sweep", "--method", method, "--task", task, "--num-samples",
        str(REFERENCE_TRIALS if method == "target_oracle" else TRIALS),
        "--steps", str(steps), "--eval-every", str(eval_every), "--seeds", str(SEEDS),
        *store(work), "--storage", f"{work}/ray_results", "--name", sweep_name(method, task),
    ]  # fmt: skip


def store(work: Path) -> list[str]:
    return ["--tracking-uri", f"sqlite:///{work}/mlflow.db", "--experiment", EXPERIMENT]


def status(work: Path, name: str) -> str | None:
    """The MLflow status of sweep ``name`` (``FINISHED``, ``KILLED``, ...), ``None`` if absent."""
    from mlflow.tracking import MlflowClient

    from dabench.selection import sweep_status

    return sweep_status(MlflowClient(f"sqlite:///{work}/mlflow.db"), EXPERIMENT, name)


def run(command: list[str]) -> bool:
    print("$", shlex.join(command), flush=True)
    return subprocess.run(command).returncode == 0


def main() -> int:
    from dabench.data import list_tasks
    from dabench.leaderboard import methods_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/work/dabench-leaderboard"))
    parser.add_argument("--tasks", nargs="*", help="default: every bundled task")
    parser.add_argument("--methods", nargs="*", help="default: every method of each setting")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    failed = []
    tasks = [
        s for s in list_tasks() if not s.needs_root and (not args.tasks or s.name in args.tasks)
    ]
    for spec in [] if args.report_only else tasks:
        for method in methods_for(spec.setting):
            if args.methods and method not in args.methods:
                continue
            name = sweep_name(method, spec.name)
            state = status(work, name)
            if state == "FINISHED":  # its seeds may still be missing: rerun skips finished ones
                ok = run(["dabench", "rerun", "--sweep", name, "--seeds", str(SEEDS), *store(work),
                     "--storage", f"{work}/ray_results"])  # fmt: skip
            elif state is not None:  # interrupted: finish it
                ok = run(["dabench", "sweep", "--resume", f"{work}/ray_results/{name}",
                     "--seeds", str(SEEDS)])  # fmt: skip
            else:
                ok = run(sweep_command(method, spec.name, work))
            if not ok:  # go on with the others; the leaderboard shows what is missing
                failed.append(name)
    run(["dabench", "leaderboard", *store(work), "--select", "all",
         "--out", str(ROOT / "reports" / "leaderboard.md"),
         "--plots", str(ROOT / "reports" / "leaderboard")])  # fmt: skip
    if failed:
        print(f"failed (run again to retry): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
