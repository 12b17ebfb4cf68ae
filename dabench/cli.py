"""Command line: ``dabench demo | tasks | methods | train | sweep | rerun | benchmark |
validators | analyze | leaderboard | export | ui``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dabench import __version__
from dabench.settings import SETTINGS


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
    methods = commands.add_parser(
        "methods",
        help="list the methods, their settings and defaults per model family",
        description="List every registered method, the settings it supports and its "
        "hyperparameters with their defaults: the reference's fine-tuning defaults, and the "
        "from-scratch ones that replace them for small networks. The task's model decides "
        "which apply; --task shows them resolved for one task.",
    )
    methods.add_argument("--task", help="show every method's defaults as resolved for this task")
    add_train_parser(commands)
    add_sweep_parser(commands)
    add_rerun_parser(commands)
    add_benchmark_parser(commands)
    validators = commands.add_parser(
        "validators",
        help="how well each label-free validator picked in a sweep (vs the oracle)",
        description="For every checkpoint (evaluation point) of a sweep's trials: each label-free "
        "criterion's Spearman and weighted Spearman correlation with the oracle (target-val "
        "metric) and the target-test metric of the checkpoint it picks (top-1, mean of top-5), "
        "next to the oracle's pick and the best target-test checkpoint; at checkpoint and trial "
        "level. Markdown.",
    )
    validators.add_argument("--sweep", required=True, action="append", help="a sweep's name "
                            "(repeatable)")  # fmt: skip
    validators.add_argument("--experiment", default="dabench", help="MLflow experiment")
    add_tracking_uri(validators)
    validators.add_argument("--out", type=Path, help="also write the report to this file")
    add_analyze_parser(commands)
    add_leaderboard_parser(commands)
    export = commands.add_parser(
        "export",
        help="write the runs the leaderboard reads to a CSV file (portable, committable)",
        description="Write the runs of MLflow experiments that the leaderboard reads (sweeps, "
        "trials, seeds groups: their tags, metrics and provenance) to a CSV file; "
        "`dabench leaderboard --runs FILE` builds the same tables from it, with no MLflow store.",
    )
    where = export.add_mutually_exclusive_group()
    where.add_argument("--experiment", action="append", help="MLflow experiment (repeatable; "
                       "default dabench)")  # fmt: skip
    where.add_argument("--all", action="store_true", help="every experiment of the store")
    add_tracking_uri(export)
    export.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    ui = commands.add_parser(
        "ui",
        help="open the MLflow UI on the tracking store, on the latest sweep's trials",
        description="Start the MLflow UI (mlflow server) on 127.0.0.1 for the tracking store the "
        "sweeps wrote to, and print the URL of a sweep's trials (objective, oracle and status "
        "as columns; docs/dashboard.md). Ctrl-C or SIGTERM stops the whole server.",
    )
    add_tracking_uri(ui)
    ui.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    ui.add_argument("--port", type=positive_int, default=5000, help="default 5000")
    ui.add_argument("--sweep", help="the sweep to show (default: the latest)")
    ui.add_argument("--experiment", help="look for the sweep in this experiment only")
    ui.add_argument("--open", action="store_true", help="also open the URL in a web browser")
    return parser


def add_leaderboard_parser(commands: argparse._SubParsersAction) -> None:
    board = commands.add_parser(
        "leaderboard",
        help="tables from the tracked sweeps: method × task, mean ± 95 %% CI over seeds",
        description="Read the finished sweeps (and their `dabench rerun` seeds) of MLflow "
        "experiments and write the leaderboard: per setting, methods × tasks (mean ± 95 % "
        "Student-t CI over fresh seeds) under label-free selection, realistic vs oracle with the "
        "gap, negative transfer marked, cost, best hyperparameters, plots and the commands.",
    )
    where = board.add_mutually_exclusive_group()
    where.add_argument("--experiment", action="append", help="MLflow experiment (repeatable; "
                       "default dabench)")  # fmt: skip
    where.add_argument("--all", action="store_true", help="every experiment of the store")
    where.add_argument("--runs", type=Path, nargs="+", metavar="FILE", help="read the runs from "
                       "files of `dabench export` instead of an MLflow store")  # fmt: skip
    add_tracking_uri(board)
    board.add_argument("--select", default="auto", metavar="CRITERION", help="auto (default: "
                       "each sweep's label-free objective), source_val, a validator (bnm, im, ...), "
                       "oracle, or all (every criterion beside the oracle)")  # fmt: skip
    board.add_argument("--format", choices=("md", "csv", "latex"), default="md")
    board.add_argument("--out", type=Path, help="write here (default: print)")
    board.add_argument("--plots", type=Path, help="folder for the PNG plots (markdown; default: "
                       "next to --out, named after it)")  # fmt: skip


def add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="search a method's hyperparameters on a task (Ray Tune + Optuna TPE + ASHA + MLflow)",
        description="Search a method's hyperparameters on a task: Ray Tune schedules the trials, "
        "Optuna's TPE proposes them from search_spaces/<method>.yaml, ASHA stops poor ones early, "
        "MLflow records every trial as a child run of the sweep's run.",
    )
    sweep.add_argument("--method", help="e.g. cdan (see `dabench methods`)")
    sweep.add_argument("--task", help="e.g. digits/synth2hand (see `dabench tasks`)")
    sweep.add_argument("--num-samples", type=positive_int, default=8, help="trials (default 8)")
    sweep.add_argument("--max-concurrent", type=positive_int, default=2, help="default 2")
    sweep.add_argument("--cpus-per-trial", type=float, default=1.0, help="default 1")
    sweep.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractions allowed")
    sweep.add_argument("--steps", type=positive_int, default=1000, help="per trial (default 1000)")
    sweep.add_argument("--eval-every", type=positive_int, default=250, help="default 250")
    sweep.add_argument("--seed", type=int, default=0, help="training and TPE seed (default 0)")
    sweep.add_argument(
        "--metric",
        help="objective (label-free): source_val, entropy, im, bnm, snd, class_ami, dev, "
        "guarded_source_val (partial), known_im, h_proxy (open-set), pixel_entropy, pixel_im "
        "(segmentation); default bnm (closed-set), guarded_source_val (partial), h_proxy "
        "(open-set), source_val (segmentation): reports/selection.md says why. oracle = "
        "target-val labels (only when asked for); or any reported metric name",
    )
    sweep.add_argument("--scheduler", choices=("asha", "none"), default="asha")
    sweep.add_argument(
        "--searcher", choices=("tpe", "random"), default="tpe", help="random: a baseline"
    )
    sweep.add_argument(
        "--grace-period", type=positive_int,
        help="ASHA's first rung, in evaluations (default: the setting's; reports/selection.md)",
    )  # fmt: skip
    sweep.add_argument("--reduction-factor", type=int, default=2)
    sweep.add_argument("--max-failures", type=int, default=0, help="retries per trial")
    sweep.add_argument("--space", help="a search-space YAML (default search_spaces/<method>.yaml)")
    sweep.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed hyperparameter")
    sweep.add_argument("--root", help="dataset folder (real-data tasks)")
    sweep.add_argument("--address", help="an existing Ray cluster (default: a local one)")
    add_tracking_uri(sweep)
    sweep.add_argument("--experiment", help="MLflow experiment (default dabench)")
    sweep.add_argument("--storage", default="ray_results", help="where Ray keeps sweep state")
    sweep.add_argument("--name", help="the sweep's name (default method-task-time)")
    sweep.add_argument("--resume", metavar="SWEEP", help="finish an interrupted sweep")
    sweep.add_argument("--seeds", type=int, default=0, metavar="N", help="then re-train the "
                       "label-free and the oracle pick with N fresh seeds (as `dabench rerun`)")  # fmt: skip
    add_verbose(sweep)


def add_benchmark_parser(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "benchmark",
        help="a whole leaderboard: every sweep and its fresh seeds on one Ray cluster, resumable",
        description="Search every method on every task (a sweep each, as `dabench sweep`), "
        "re-train each sweep's picks with fresh seeds (as `dabench rerun`) and write the "
        "leaderboard — all in one Ray Tune run that keeps the cluster's CPUs and GPUs busy until "
        "the last trial. From a spec (benchmark_specs/*.yaml) and/or flags (flags win). Run the "
        "same command again to continue an interrupted benchmark.",
    )
    bench.add_argument("--spec", help="a spec file, or the name of one in benchmark_specs/ "
                       "(e.g. leaderboard, tiny)")  # fmt: skip
    bench.add_argument("--chunk", help="run only this chunk of the spec (its `chunks:`), as a "
                       "benchmark of its own named <spec>-<chunk>")  # fmt: skip
    bench.add_argument("--tasks", nargs="+", help="default: every bundled task")
    bench.add_argument("--methods", nargs="+", help="default: every method that applies")
    bench.add_argument("--trials", type=positive_int, help="trials per sweep (default 12)")
    bench.add_argument("--seeds", type=int, help="fresh seeds per pick (default 3; 0: none)")
    bench.add_argument("--steps", type=positive_int, help="per trial, every task")
    bench.add_argument("--eval-every", type=positive_int, help="every task")
    bench.add_argument("--select", action="append", metavar="CRITERION", help="criteria whose "
                       "picks get the seeds (default: each sweep's objective and the oracle)")  # fmt: skip
    bench.add_argument("--max-concurrent", type=positive_int, help="trials of one sweep at a "
                       "time (default 2)")  # fmt: skip
    bench.add_argument("--metric", help="the sweeps' objective (as `dabench sweep --metric`)")
    bench.add_argument("--scheduler", choices=("asha", "none"))
    bench.add_argument("--searcher", choices=("tpe", "random"))
    bench.add_argument(
        "--grace-period",
        type=positive_int,
        help="ASHA's first rung, in evaluations (default: the setting's)",
    )
    bench.add_argument("--reduction-factor", type=int)
    bench.add_argument("--seed", type=int, help="the sweeps' training and TPE seed (default 0)")
    bench.add_argument("--max-failures", type=int, help="retries per trial")
    bench.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed "
                       "hyperparameter of every trial (e.g. precision=bf16)")  # fmt: skip
    bench.add_argument("--root", help="dataset folder (real-data tasks)")
    bench.add_argument("--cpus-per-trial", type=float, help="default 1")
    bench.add_argument("--gpus-per-trial", type=float, help="fractions allowed")
    bench.add_argument("--name", help="the benchmark's name (default: the spec's, or benchmark)")
    bench.add_argument("--experiment", help="MLflow experiment (default: the benchmark's name)")
    add_tracking_uri(bench)
    bench.add_argument("--storage", default="ray_results", help="where Ray keeps the state: a "
                       "folder or a URI (file://, s3://, ...) every node can reach")  # fmt: skip
    bench.add_argument("--address", help="an existing Ray cluster (default: a local one)")
    bench.add_argument("--out", type=Path, help="write the leaderboard here (markdown; plots "
                       "next to it)")  # fmt: skip
    bench.add_argument("--plots", type=Path, help="folder for the plots")
    bench.add_argument("--no-leaderboard", action="store_true", help="write no leaderboard "
                       "and no runs file (not even the spec's)")  # fmt: skip
    bench.add_argument("--leaderboard-select", metavar="CRITERION", help="the leaderboard's "
                       "--select (default auto)")  # fmt: skip
    bench.add_argument("--plan", action="store_true", help="print the sweeps and how far each "
                       "got, then stop")  # fmt: skip
    add_verbose(bench)


def add_analyze_parser(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="A-distance and t-SNE of a pick's features, beside the task's source-only pick",
        description="For a sweep's pick (or a checkpoint) and the same task's source-only pick "
        "when the experiment has one: the features of source-val and target inputs, their proxy "
        "A-distance (a linear domain classifier's held-out error) and t-SNE plots coloured by "
        "domain and by class; printed, logged to the sweep's MLflow run, written to --out. A "
        "pick whose checkpoint the sweep did not keep is trained again from its config and seed.",
    )
    which = analyze.add_mutually_exclusive_group(required=True)
    which.add_argument("--sweep", help="a sweep's name: analyse its pick")
    which.add_argument("--checkpoint", help="a trial.pt (or a folder holding one), e.g. from "
                       "`dabench train --checkpoint-dir`")  # fmt: skip
    analyze.add_argument("--select", metavar="CRITERION", help="source_val, a validator (bnm, "
                         "im, ...) or oracle (default: the sweep's objective)")  # fmt: skip
    analyze.add_argument("--experiment", default="dabench", help="MLflow experiment")
    add_tracking_uri(analyze)
    analyze.add_argument("--storage", help="where the sweep's Ray state is (default: the "
                         "--storage it was run with)")  # fmt: skip
    analyze.add_argument("--target-split", choices=("target_val", "target_test"),
                         default="target_val", help="the target inputs (default target_val)")  # fmt: skip
    analyze.add_argument("--samples", type=positive_int, default=500, help="t-SNE samples per "
                         "domain (default 500)")  # fmt: skip
    analyze.add_argument("--seed", type=int, default=0, help="sampling and t-SNE seed")
    analyze.add_argument("--device", help="cpu, cuda, ... (default: the trial's)")
    analyze.add_argument("--root", help="dataset folder (real-data tasks)")
    analyze.add_argument("--out", type=Path, help="also write tsne.png and analysis.json here")


def add_rerun_parser(commands: argparse._SubParsersAction) -> None:
    rerun = commands.add_parser(
        "rerun",
        help="re-train a finished sweep's picks with fresh seeds (for the leaderboard)",
        description="Pick a configuration per selection criterion from a finished sweep (default: "
        "its label-free objective and the oracle), and train each again with N seeds the search "
        "never used, as a Ray Tune grid logged to MLflow; the leaderboard averages them.",
    )
    rerun.add_argument("--sweep", required=True, help="the sweep's name")
    rerun.add_argument("--seeds", type=positive_int, default=3, help="fresh seeds (default 3)")
    rerun.add_argument("--select", action="append", metavar="CRITERION", help="source_val, a "
                       "validator (bnm, im, ...) or oracle; repeatable (default: the sweep's "
                       "objective and oracle)")  # fmt: skip
    rerun.add_argument("--experiment", default="dabench", help="MLflow experiment")
    add_tracking_uri(rerun)
    rerun.add_argument("--max-concurrent", type=positive_int, default=2, help="default 2")
    rerun.add_argument("--cpus-per-trial", type=float, default=1.0, help="default 1")
    rerun.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractions allowed")
    rerun.add_argument("--max-failures", type=int, default=0, help="retries per run")
    rerun.add_argument("--address", help="an existing Ray cluster (default: a local one)")
    rerun.add_argument("--storage", default="ray_results", help="where Ray keeps its state")
    add_verbose(rerun)


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show Ray's, Tune's and MLflow's "
                        "logs (default: only in engines.log in the sweep's or benchmark's "
                        "folder)")  # fmt: skip


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", help="MLflow store or server (default: "
                        "$MLFLOW_TRACKING_URI or sqlite:///./mlflow.db)")  # fmt: skip


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train one method on one task (one trial) and print its metrics",
        description="Train one method on one task with a progress bar; print the final metrics "
        "as a table (or JSON). Hyperparameters: --set key=value (see `dabench methods`).",
    )
    train.add_argument("--method", required=True, help="e.g. dann, cdan (see `dabench methods`)")
    train.add_argument("--task", required=True, help="e.g. digits/synth2hand (see `dabench tasks`)")
    train.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a hyperparameter (repeatable)"
    )
    train.add_argument("--seed", type=int, help="training seed (default 0)")
    train.add_argument("--steps", type=positive_int, help="training steps (default 1000)")
    train.add_argument("--eval-every", type=positive_int, help="steps between evaluations")
    train.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    train.add_argument("--root", type=Path, help="dataset folder (real-data tasks)")
    train.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="save the training state here at every evaluation; if it already holds this "
        "trial's checkpoint, resume from it",
    )
    train.add_argument("--json", action="store_true", help="print config and metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def run_methods(args: argparse.Namespace) -> None:
    from dabench import models
    from dabench.data import list_tasks
    from dabench.data.registry import task_spec
    from dabench.methods import METHODS
    from dabench.methods.base import COMMON_DEFAULTS, FAMILY_DEFAULTS

    if args.task:
        from dabench.trainable import LOOP_DEFAULTS, default_config

        spec = task_spec(args.task)
        family = models.family(spec.model)
        print(f"{spec.name}: {spec.setting}, model {spec.model}, {family} defaults")
        for name, recipe in sorted(METHODS.items()):
            if spec.setting in recipe.settings:
                config = default_config(name, spec.name)
                shown = {k: v for k, v in config.items() if k not in LOOP_DEFAULTS}
                print(f"{name:14s} {_format_defaults(shown)}")
        return
    print("Defaults by model family (the task's model decides; --task NAME resolves them):")
    by_family: dict[str, list[str]] = {family: [] for family in models.FAMILIES}
    for spec in list_tasks():
        group = f"{spec.name.split('/')[0]}/* (real)" if spec.needs_root else spec.name
        if group not in by_family[models.family(spec.model)]:
            by_family[models.family(spec.model)].append(group)
    for family, tasks in by_family.items():
        print(f"  {family:9s} tasks: {', '.join(tasks)}")
    print(f"common: {_format_defaults(COMMON_DEFAULTS)}")
    for family, by_setting in FAMILY_DEFAULTS.items():
        for setting, overrides in by_setting.items():
            print(f"  {family}, {setting}: {_format_defaults(overrides)}")
    for name, recipe in sorted(METHODS.items()):
        print(f"{name:14s} {', '.join(recipe.settings)}")
        if recipe.defaults:
            print(f"{'':14s} {_format_defaults(recipe.defaults)}")
        for setting, overrides in recipe.setting_defaults.items():
            if setting not in recipe.settings:
                continue  # inherited from a parent recipe of other settings
            print(f"{'':14s} {setting}: {_format_defaults(overrides)}")
        for family, overrides in recipe.family_defaults.items():
            print(f"{'':14s} {family}: {_format_defaults(overrides)}")


def _format_defaults(defaults: dict) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in defaults.items()
    )


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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in reports
    if args.command == "train":
        from dabench.train import run as run_train

        return run_train(args)
    if args.command == "sweep":
        from dabench.sweep_cli import run as run_sweep

        return run_sweep(args)
    if args.command == "ui":
        from dabench.ui import run as run_ui  # light imports: a busy port is refused at once

        return run_ui(args)
    if args.command == "rerun":
        from dabench.sweep_cli import run_rerun

        return run_rerun(args)
    if args.command == "leaderboard":
        from dabench.sweep_cli import run_leaderboard

        return run_leaderboard(args)
    if args.command == "benchmark":
        from dabench.sweep_cli import run_benchmark

        return run_benchmark(args)
    if args.command == "export":
        from dabench.sweep_cli import run_export

        return run_export(args)
    if args.command == "validators":
        from dabench.sweep_cli import run_validators

        return run_validators(args)
    if args.command == "analyze":
        from dabench.sweep_cli import run_analyze

        return run_analyze(args)
    {"demo": run_demo, "tasks": run_tasks, "methods": run_methods}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
