"""Which label-free validator can a user trust? Validator quality on real sweeps of bundled tasks.

Run:  python benchmarks/selection.py [--work /tmp/dabench-selection] [--only NAME ...]
          [--report-only]

For each study below, two real ``dabench sweep`` commands run (Ray Tune + Optuna + MLflow, 2 trials
at a time, one MLflow store under ``--work``): a ``source_only`` sweep of the task (the baseline
that decides negative transfer) and the method's sweep. Both use **random search without ASHA**,
as Ericsson et al. (AutoML 2023) do for this purpose: every trial runs to the end, so the
checkpoints span good and bad configurations and the correlations mean something. Then
``dabench validators`` scores every validator over all checkpoints (evaluation points) of the
method's sweep; its tables go to ``reports/selection.md`` with the commands and their wall times
(a "## Reading" section written by hand in that file is kept).

A study whose sweeps finished is not run again (its sweep names are looked up in the store), so
an interrupted run loses at most the sweep in progress.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "reports" / "selection.md"


@dataclass(frozen=True)
class Study:
    name: str
    method: str
    task: str
    trials: int
    baseline_trials: int = 8
    steps: int = 1000
    eval_every: int = 100


STUDIES = (
    Study("moons", "dann", "moons/rot40", trials=24),
    Study("digits", "cdan", "digits/synth2hand", trials=16),
    Study("partial", "dann", "digits-partial/synth2blend", trials=12),
    Study("openset", "osbp", "digits-openset/synth2blend", trials=12),
)


def sweep_command(study: Study, method: str, trials: int, work: Path) -> list[str]:
    name = f"{study.name}-{method}"
    return [
        "dabench", "sweep", "--method", method, "--task", study.task,
        "--num-samples", str(trials), "--steps", str(study.steps),
        "--eval-every", str(study.eval_every), "--searcher", "random", "--scheduler", "none",
        "--tracking-uri", f"sqlite:///{work}/mlflow.db", "--storage", f"{work}/ray_results",
        "--experiment", "selection", "--name", name,
    ]  # fmt: skip


def finished(work: Path, name: str) -> bool:
    from mlflow.tracking import MlflowClient

    from dabench.selection import sweep_status

    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    return sweep_status(client, "selection", name) == "FINISHED"


def run_study(study: Study, work: Path) -> None:
    for method, trials in (("source_only", study.baseline_trials), (study.method, study.trials)):
        name = f"{study.name}-{method}"
        if finished(work, name):
            print(f"{name}: done before, kept", flush=True)
            continue
        command = sweep_command(study, method, trials, work)
        print("$", shlex.join(command), flush=True)
        subprocess.run(command, check=True)


def wall_times(work: Path) -> dict[str, float]:
    """Each sweep's wall time as its parent run recorded it (``wall_s``)."""
    from mlflow.tracking import MlflowClient

    from dabench.selection import find_sweep

    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    times = {}
    for study in STUDIES:
        for method in ("source_only", study.method):
            name = f"{study.name}-{method}"
            try:
                times[name] = find_sweep(client, "selection", name).data.metrics.get("wall_s", 0.0)
            except ValueError:
                pass
    return times


def write_report(work: Path, studies: list[Study]) -> None:
    from mlflow.tracking import MlflowClient

    from dabench import __version__
    from dabench.leaderboard import reading_section
    from dabench.selection import quality_report

    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    times = wall_times(work)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Honest selection: how good is each label-free validator?",
        "",
        f"Generated {now} by `python benchmarks/selection.py` (dabench {__version__}, "
        f"{platform.machine()}, 2 CPU cores, CPU only). The tables below are the output of "
        "`dabench validators --tracking-uri sqlite:///WORK/mlflow.db --experiment selection "
        "--sweep NAME` on the sweeps made by the commands listed with each study "
        f"({sum(times.values()) / 60:.0f} min of sweeps in all; WORK = `--work`).",
        "",
        "How to read them. Each sweep is a random search without early stopping, so its "
        "checkpoints (an evaluation every 100 steps of every trial) span good and bad "
        "configurations. Validators see source-val outputs and target-val *inputs*; the oracle "
        "is the target-val metric; the picks report target-**test**. `spearman` / "
        "`weighted_spearman` (top-weighted, Musgrave et al. 2022): rank agreement of the criterion "
        "with the oracle over the checkpoints. `top1_test`: target-test metric of the checkpoint "
        "the criterion ranks first; `top5_test`: mean over its five first. The oracle row is what "
        "selection on target-val labels would give; the last row is the best target-test "
        "checkpoint (picked on the numbers it reports: unattainable). Checkpoint level: any "
        "evaluation point; trial level: each trial's last one.",
        "",
    ]
    kept = reading_section(REPORT)  # the hand-written reading survives a rerun
    lines += [*kept.rstrip().splitlines(), ""] if kept else []
    for study in studies:
        name = f"{study.name}-{study.method}"
        if not finished(work, name):
            continue
        lines += [f"## {study.method} on {study.task}", "", "```"]
        for method, trials in (
            ("source_only", study.baseline_trials),
            (study.method, study.trials),
        ):
            command = sweep_command(study, method, trials, Path("WORK"))
            wall = times.get(f"{study.name}-{method}", 0.0)
            lines.append(f"{shlex.join(command)}   # {wall / 60:.1f} min")
        lines += ["```", "", quality_report(client, "selection", name)]
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/dabench-selection"))
    parser.add_argument("--only", nargs="*", help="study names: " +
                        ", ".join(s.name for s in STUDIES))  # fmt: skip
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    studies = [s for s in STUDIES if not args.only or s.name in args.only]
    if not args.report_only:
        for study in studies:
            run_study(study, work)
    write_report(work, list(STUDIES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
