"""``dabench sweep``, ``rerun``, ``benchmark``, ``validators``, ``analyze``, ``leaderboard``
and ``export`` on the command line."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dabench.spaces import SearchSpaceError
from dabench.train import parse_assignments


def run(args: argparse.Namespace) -> int:
    from dabench.sweep import SweepOptions, load_state, run_sweep

    err = Console(stderr=True, soft_wrap=True)
    try:
        if args.resume:
            summary = run_sweep(resume=args.resume, resume_under=args.storage, verbose=args.verbose)
        else:
            if not args.method or not args.task:
                raise ValueError("--method and --task are required (or --resume SWEEP)")
            options = SweepOptions(
                method=args.method, task=args.task, num_samples=args.num_samples,
                max_concurrent=args.max_concurrent, cpus_per_trial=args.cpus_per_trial,
                gpus_per_trial=args.gpus_per_trial, steps=args.steps, eval_every=args.eval_every,
                seed=args.seed, metric=args.metric, scheduler=args.scheduler, searcher=args.searcher,
                grace_period=args.grace_period, reduction_factor=args.reduction_factor,
                max_failures=args.max_failures, space=args.space,
                overrides=parse_assignments(args.set or []), root=args.root, address=args.address,
                tracking_uri=args.tracking_uri, experiment=args.experiment, storage=args.storage,
                name=args.name,
            )  # fmt: skip
            summary = run_sweep(options, verbose=args.verbose)
    except (ValueError, SearchSpaceError) as error:
        err.print(f"[red]dabench sweep: error:[/red] {error}")
        return 2
    Console().print(summary_table(summary))
    if summary.interrupted:
        err.print(f"interrupted; finish it with: dabench sweep --resume {summary.path}")
        return 130
    if args.seeds:
        from dabench.seeds import RerunOptions

        state = load_state(summary.path, "")["options"]
        return rerun_and_print(RerunOptions(
            sweep=summary.name, seeds=args.seeds, max_concurrent=state["max_concurrent"],
            cpus_per_trial=state["cpus_per_trial"], gpus_per_trial=state["gpus_per_trial"],
            max_failures=state["max_failures"], address=state["address"],
            tracking_uri=summary.tracking_uri, experiment=summary.experiment,
            storage=state["storage"], verbose=args.verbose,
        ))  # fmt: skip
    return 0


def run_rerun(args: argparse.Namespace) -> int:
    """``dabench rerun``: re-train a finished sweep's picks with fresh seeds."""
    from dabench.seeds import RerunOptions

    return rerun_and_print(RerunOptions(
        sweep=args.sweep, seeds=args.seeds, select=tuple(args.select or ()),
        max_concurrent=args.max_concurrent, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, max_failures=args.max_failures,
        address=args.address, tracking_uri=args.tracking_uri, experiment=args.experiment,
        storage=args.storage, verbose=args.verbose,
    ))  # fmt: skip


def rerun_and_print(options: Any) -> int:
    from dabench.leaderboard import mean_ci
    from dabench.seeds import rerun

    err = Console(stderr=True, soft_wrap=True)
    try:
        groups = rerun(options)
    except (ValueError, RuntimeError) as error:
        err.print(f"[red]dabench rerun: error:[/red] {error}")
        return 2
    table = Table(title=f"sweep {options.sweep}: picks re-trained with fresh seeds")
    for column in ("picked by", "trial", "in the sweep (1 seed)", "seeds", "per seed",
                   "mean ± 95 % CI (t)"):  # fmt: skip
        table.add_column(column)
    for group in groups:
        mean, half = mean_ci(group.values)
        table.add_row(
            ", ".join(group.selected_by), group.trial, f"{group.sweep_value:.2f}",
            " ".join(map(str, group.seeds)) + (" (already run)" if group.reused else ""),
            ", ".join(f"{v:.2f}" for v in group.values), f"{mean:.2f} ± {half:.2f}",
        )  # fmt: skip
    Console().print(table)
    return 0


def summary_table(summary: Any) -> Table:
    table = Table(title=f"sweep {summary.name}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items() if v)
    table.add_row("trials", counts)
    table.add_row("wall time", f"{summary.wall_s:.0f} s")
    table.add_row("selected by", f"{summary.objective} (label-free)" if "target" not in
                  summary.objective else f"{summary.objective} (uses target labels: oracle)")  # fmt: skip
    best = summary.best_metrics
    test = summary.oracle.replace("target_val", "target_test")
    if best:
        table.add_row("trial-level pick", f"{summary.best_trial}: "
                      + _pick(best, summary.objective, summary.oracle, test))  # fmt: skip
    if summary.checkpoint:
        checkpoint = summary.checkpoint
        where = (
            f"{checkpoint.get('name') or 'trial ' + checkpoint['trial']} step {checkpoint['step']}"
        )
        if checkpoint["path"]:
            where += f", {checkpoint['path']}"
        table.add_row("checkpoint-level pick",
                      f"{_pick(checkpoint['metrics'], summary.objective, summary.oracle, test)}\n"
                      f"({where})")  # fmt: skip
    best_task = summary.best_config.get("task", "TASK")
    if best and summary.baseline is None:
        table.add_row("source-only", "no source_only sweep of this task in the experiment: "
                      f"`dabench sweep --method source_only --task {best_task}` tells negative "
                      "transfer")  # fmt: skip
    elif best:
        value, sweep = summary.baseline
        verdict = ("[red]NEGATIVE TRANSFER[/red]: the pick is below it"
                   if summary.negative_transfer else "the pick is not below it")  # fmt: skip
        table.add_row("source-only", f"{test} {value:.2f} (sweep {sweep}): {verdict}")
    if best:
        searched = {k: v for k, v in summary.best_config.items()
                    if k not in ("method", "task", "steps", "eval_every", "seed", "device")}  # fmt: skip
        table.add_row("best config", ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in searched.items()))  # fmt: skip
    table.add_row("MLflow", f"{summary.tracking_uri}, experiment {summary.experiment!r}, "
                  f"run {summary.parent_run_id} (`dabench ui`)")  # fmt: skip
    table.add_row("Ray state", summary.path)
    return table


def _pick(metrics: dict[str, Any], objective: str, oracle: str, test: str) -> str:
    nan = float("nan")
    shown = f"{objective} {metrics.get(objective, nan):.3f}"
    if oracle != objective:
        shown += f", {oracle} {metrics.get(oracle, nan):.2f} (oracle)"
    return shown + f", {test} {metrics.get(test, nan):.2f}"


def run_validators(args: argparse.Namespace) -> int:
    """``dabench validators``: the validator-quality report of one or more sweeps."""
    from mlflow.tracking import MlflowClient

    from dabench.selection import quality_report
    from dabench.tracking import default_tracking_uri

    err = Console(stderr=True, soft_wrap=True)
    client = MlflowClient(args.tracking_uri or default_tracking_uri())
    try:
        report = "\n".join(quality_report(client, args.experiment, name) for name in args.sweep)
    except ValueError as error:
        err.print(f"[red]dabench validators: error:[/red] {error}")
        return 2
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    """``dabench analyze``: A-distance and t-SNE of a pick (or a checkpoint) and its source-only
    baseline."""
    from dabench.analyze import AnalyzeOptions, analyze

    err = Console(stderr=True, soft_wrap=True)
    options = AnalyzeOptions(
        sweep=args.sweep, checkpoint=args.checkpoint, select=args.select,
        tracking_uri=args.tracking_uri, experiment=args.experiment, storage=args.storage,
        target_split=args.target_split, samples=args.samples, seed=args.seed, device=args.device,
        root=args.root, out=str(args.out) if args.out else None,
    )  # fmt: skip
    try:
        result = analyze(options)
    except ValueError as error:
        err.print(f"[red]dabench analyze: error:[/red] {error}")
        return 2
    first = result.results[0]
    table = Table(title=f"features: source_val vs {options.target_split} ("
                  f"{first.per_domain} per domain for the A-distance)")  # fmt: skip
    for column in ("model", "sweep / trial"):
        table.add_column(column, overflow="fold")
    for column in ("step", "weights", first.target_metric, "A-distance", "ε"):
        table.add_column(column, no_wrap=True)
    for r in result.results:
        m = r.model
        trial = f"{m.sweep} / {m.trial}" if m.sweep else "-"
        table.add_row(m.label, trial, str(m.step), m.origin, f"{r.target_value:.2f}",
                      f"{r.a_distance:.3f}", f"{r.domain_error:.3f}")  # fmt: skip
    Console().print(table)
    for r in result.results:
        err.print(f"{r.model.label}: weights from {r.model.location}")
    for note in result.notes:
        err.print(f"note: {note}")
    if result.parent_run_id:
        err.print(f"logged to MLflow run {result.parent_run_id} (metrics a_distance.*, artifacts "
                  f"analysis/{result.criterion}/)")  # fmt: skip
    if result.files:
        err.print("wrote " + ", ".join(str(p) for p in result.files))
    return 0


def run_leaderboard(args: argparse.Namespace) -> int:
    """``dabench leaderboard``: the tables (and plots) of the tracked sweeps."""
    from dabench import leaderboard
    from dabench.tracking import default_tracking_uri

    err = Console(stderr=True, soft_wrap=True)
    uri = args.tracking_uri or default_tracking_uri()
    experiments = None if args.all else (args.experiment or ["dabench"])
    plots = args.plots
    if plots is None and args.out is not None and args.format == "md":
        plots = args.out.with_suffix("")
    source = f"MLflow {uri}, " + ("every experiment" if experiments is None else
                                  "experiment " + ", ".join(experiments))  # fmt: skip
    try:
        leaderboard.check_select(args.select)
        if args.runs:
            board, source = leaderboard.build_from_files(args.runs, args.select)
        else:
            board = leaderboard.build(leaderboard.load_runs(uri, experiments), args.select)
        command = shlex.join(["dabench", *args.argv])
        text = leaderboard.render(board, args.format, source, command, args.out, plots)
    except ValueError as error:
        err.print(f"[red]dabench leaderboard: error:[/red] {error}")
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        err.print(f"wrote {args.out}" + (f" and plots in {plots}" if plots else ""))
    else:
        print(text)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``dabench export``: the runs the leaderboard reads, as a CSV file."""
    from dabench import leaderboard
    from dabench.tracking import default_tracking_uri

    err = Console(stderr=True, soft_wrap=True)
    uri = args.tracking_uri or default_tracking_uri()
    try:
        runs = leaderboard.load_runs(uri, None if args.all else (args.experiment or ["dabench"]))
    except ValueError as error:
        err.print(f"[red]dabench export: error:[/red] {error}")
        return 2
    leaderboard.save_runs(runs, args.out)
    err.print(f"wrote {len(runs)} runs to {args.out}")
    return 0


def run_benchmark(args: argparse.Namespace) -> int:
    """``dabench benchmark``: the plan from the spec and flags, checked; then run it (or, with
    ``--plan``, show it)."""
    from dabench import benchmark
    from dabench.tracking import default_tracking_uri

    err = Console(stderr=True, soft_wrap=True)
    flags = {
        "tasks": args.tasks, "methods": args.methods, "trials": args.trials, "seeds": args.seeds,
        "steps": args.steps, "eval_every": args.eval_every, "select": args.select,
        "max_concurrent": args.max_concurrent, "metric": args.metric,
        "scheduler": args.scheduler, "searcher": args.searcher,
        "grace_period": args.grace_period, "reduction_factor": args.reduction_factor,
        "seed": args.seed, "max_failures": args.max_failures, "root": args.root,
        "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
        "experiment": args.experiment,
    }  # fmt: skip
    uri = args.tracking_uri or default_tracking_uri()
    try:
        spec = benchmark.load_spec(args.spec) if args.spec else benchmark.BenchmarkSpec()
        name = args.name or (benchmark.spec_path(args.spec).stem if args.spec else "benchmark")
        if args.chunk:
            if args.tasks:
                raise ValueError("--chunk names the tasks already; leave out --tasks")
            spec = benchmark.chunk_of(spec, args.chunk)
            name = args.name or f"{name}-{args.chunk}"
        if args.set:
            flags["set"] = {**spec.set, **parse_assignments(args.set)}
        spec = benchmark.with_flags(spec, flags)
        plan = benchmark.make_plan(spec, name, uri, args.storage, args.address)
        if args.plan:
            Console().print(plan_table(plan, spec, benchmark.progress_of(plan, uri)))
            return 0
        board = spec.leaderboard
        out, plots = args.out, args.plots
        if out is None and "out" in board:  # the spec's leaderboard, with the spec's plots
            out = Path(board["out"])
            plots = plots or (Path(board["plots"]) if "plots" in board else None)
        if plots is None and out is not None:
            plots = out.with_suffix("")  # next to --out, as `dabench leaderboard` does
        runs_dir = Path(board["runs"]) if "runs" in board else None
        if args.no_leaderboard:
            out = runs_dir = None
        select = args.leaderboard_select or board.get("select", "auto")
        command = shlex.join(["dabench", *args.argv])
        outcome = benchmark.run_benchmark(plan, uri, args.storage, args.address, out, plots,
                                          select, command, runs_dir, args.verbose)  # fmt: skip
    except (ValueError, SearchSpaceError) as error:
        err.print(f"[red]dabench benchmark: error:[/red] {error}")
        return 2
    minutes = outcome.wall_s / 60
    if not outcome.finished:
        err.print(f"benchmark {outcome.name} stopped after {minutes:.1f} min of wall time; run "
                  "the same command again to continue it")  # fmt: skip
        return 130
    err.print(f"benchmark {outcome.name} finished ({minutes:.1f} min of wall time); runs in "
              f"{outcome.tracking_uri}, experiment {outcome.experiment!r}"
              + (f"; leaderboard: {outcome.leaderboard}" if outcome.leaderboard else ""))  # fmt: skip
    return 0


def plan_table(plan: Any, spec: Any, status: dict[str, str]) -> Table:
    """The sweeps of a benchmark plan, one row each, with how far each got."""
    from dabench.data.registry import task_spec
    from dabench.sweep import objective_key

    table = Table(title=f"benchmark {plan.name}: {len(plan.sweeps)} sweeps, each pick re-trained "
                  f"with {spec.seeds} fresh seeds")  # fmt: skip
    for column in ("sweep", "trials", "steps", "eval every", "objective", "status"):
        table.add_column(column)
    for options in plan.sweeps:
        table.add_row(options.name, str(options.num_samples), str(options.steps),
                      str(options.eval_every),
                      objective_key(options.metric, task_spec(options.task).setting),
                      status[options.name])  # fmt: skip
    return table
