"""Which label-free validator can a user trust? Validator quality on real sweeps of bundled tasks.

Run:  python benchmarks/selection.py [--work /tmp/dabench-selection] [--only NAME ...]
      python benchmarks/selection.py --report-only     # from reports/selection/, no MLflow store

For each study below, two real ``dabench sweep`` commands run (Ray Tune + Optuna + MLflow, 2 trials
at a time, one MLflow store under ``--work``): a ``source_only`` sweep of the task (the baseline
that decides negative transfer) and the method's sweep. Both use **random search without ASHA**,
as Ericsson et al. (AutoML 2023) do for this purpose: every trial runs to the end, so the
checkpoints span good and bad configurations and the correlations mean something. Then
``dabench validators`` scores every validator over all checkpoints (evaluation points) of the
method's sweep; its tables go to ``reports/selection.md`` with the commands and their wall times
(a "## Reading" section written by hand in that file is kept). What the tables are computed from
— every checkpoint of the method's sweep, as CSV, and the study's commands, wall times and
source-only baseline, as JSON — is written to ``reports/selection/``, so the report can be rebuilt
(``--report-only``) on a machine without the MLflow store.

A study whose sweeps finished is not run again (its sweep names are looked up in the store), so
an interrupted sweep is resumed (``dabench sweep --resume``): a rerun repeats no finished trial.
"""

from __future__ import annotations

import argparse
import json
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
    Study("partial", "iwan", "digits-partial/synth2blend", trials=12),
    Study("openset", "osbp", "digits-openset/synth2blend", trials=12),
    Study("segmentation", "advent", "shapes/flat2textured", trials=8, steps=200, eval_every=50),
)
DATA = REPORT.parent / "selection"


def sweep_command(study: Study, method: str, trials: int, work: Path,
                  resume: bool = False) -> list[str]:  # fmt: skip
    """The study's ``dabench sweep`` of ``method``; with ``resume``, the command that finishes it
    after an interruption."""
    name = f"{study.name}-{method}"
    return [
        "dabench", "sweep", "--method", method, "--task", study.task,
        "--num-samples", str(trials), "--steps", str(study.steps),
        "--eval-every", str(study.eval_every), "--searcher", "random", "--scheduler", "none",
        "--set", "costly_validators=every",  # every validator at every checkpoint
        "--tracking-uri", f"sqlite:///{work}/mlflow.db", "--storage", f"{work}/ray_results",
        "--experiment", "selection", "--resume" if resume else "--name", name,
    ]  # fmt: skip


def finished(work: Path, name: str) -> bool:
    from mlflow.tracking import MlflowClient

    from dabench.records import readers

    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    found = client.get_experiment_by_name("selection")
    run = readers.find_sweep(client, found.experiment_id, name) if found else None
    return run is not None and run.info.status == "FINISHED"


def run_study(study: Study, work: Path) -> None:
    for method, trials in (("source_only", study.baseline_trials), (study.method, study.trials)):
        name = f"{study.name}-{method}"
        if finished(work, name):
            print(f"{name}: done before, kept", flush=True)
            continue
        interrupted = (work / "ray_results" / name).exists()  # continue it, lose nothing
        command = sweep_command(study, method, trials, work, resume=interrupted)
        print("$", shlex.join(command), flush=True)
        subprocess.run(command, check=True)


def export(study: Study, work: Path) -> None:
    """Write what the study's tables are computed from to ``reports/selection/``: the method
    sweep's checkpoints (``<study>.csv``) and the commands, wall times and source-only baseline
    (``<study>.json``)."""
    from mlflow.tracking import MlflowClient

    from dabench.records.readers import checkpoints, require_sweep, source_only_baseline

    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    parent = require_sweep(client, "selection", f"{study.name}-{study.method}")
    DATA.mkdir(parents=True, exist_ok=True)
    checkpoints(client, parent).to_csv(DATA / f"{study.name}.csv", index=False)
    sweeps = {}
    for method, trials in (("source_only", study.baseline_trials), (study.method, study.trials)):
        run = require_sweep(client, "selection", f"{study.name}-{method}")
        sweeps[method] = {"command": shlex.join(sweep_command(study, method, trials, Path("WORK"))),
                          "wall_s": run.data.metrics.get("wall_s", 0.0)}  # fmt: skip
    baseline = source_only_baseline(client, parent.info.experiment_id, study.task)
    meta = {"task": study.task, "method": study.method, "sweep": f"{study.name}-{study.method}",
            "baseline": baseline, "sweeps": sweeps}  # fmt: skip
    (DATA / f"{study.name}.json").write_text(json.dumps(meta, indent=2) + "\n")


def write_report(studies: list[Study]) -> None:
    import pandas as pd

    from dabench import __version__
    from dabench.reports.document import reading_section
    from dabench.reports.quality import quality_markdown

    done = [s for s in studies if (DATA / f"{s.name}.json").exists()]
    metas = {s.name: json.loads((DATA / f"{s.name}.json").read_text()) for s in done}
    minutes = sum(w["wall_s"] for m in metas.values() for w in m["sweeps"].values()) / 60
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Honest selection: how good is each label-free validator?",
        "",
        f"Generated {now} by `python benchmarks/selection.py` (dabench {__version__}, "
        f"{platform.machine()}, 2 CPU cores, CPU only). The tables below are the output of "
        "`dabench validators --tracking-uri sqlite:///WORK/mlflow.db --experiment selection "
        "--sweep NAME` on the sweeps made by the commands listed with each study "
        f"({minutes:.0f} min of sweeps in all; WORK = `--work`), rebuilt from the checkpoints "
        "kept in `reports/selection/` (`python benchmarks/selection.py --report-only`).",
        "",
        "How to read them. Each sweep is a random search without early stopping, so its "
        "checkpoints (an evaluation every 100 steps of every trial; every 50 on the segmentation "
        "task) span good and bad "
        "configurations. Validators see source-val outputs and target-val *inputs*; the oracle "
        "is the target-val metric; the picks report target-**test**. `spearman` / "
        "`weighted_spearman` (top-weighted, Musgrave et al. 2022): rank agreement of the criterion "
        "with the oracle over the checkpoints. `top1_test`: target-test metric of the checkpoint "
        "the criterion ranks first; `top5_test`: mean over its five first. The oracle row is what "
        "selection on target-val labels would give; the last row is the best target-test "
        "checkpoint (picked on the numbers it reports: unattainable). Checkpoint level: any "
        "evaluation point; trial level: each trial's last one. `top1_failure`: the pick has "
        "collapsed (≥ 80 % of target-val decisions in one class) or, open-set, never rejects "
        "(< 1 % of target-val inputs rejected) — label-free diagnostics. Early agreement: how "
        "well a criterion at an early step predicts the oracle at the trial's end (what ASHA's "
        "first rung needs).",
        "",
    ]
    kept = reading_section(REPORT)  # the hand-written reading survives a rerun
    lines += [*kept.rstrip().splitlines(), ""] if kept else []
    for study in done:
        meta = metas[study.name]
        lines += [f"## {study.method} on {study.task}", "", "```"]
        for sweep in meta["sweeps"].values():
            lines.append(f"{sweep['command']}   # {sweep['wall_s'] / 60:.1f} min")
        frame = pd.read_csv(DATA / f"{study.name}.csv")
        baseline = tuple(meta["baseline"]) if meta["baseline"] else None
        lines += ["```", "", quality_markdown(frame, meta["task"], meta["method"], meta["sweep"],
                                              baseline)]  # fmt: skip
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
            export(study, work)
    write_report(list(STUDIES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
