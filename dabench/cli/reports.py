"""The reading commands on the command line: ``dabench leaderboard``, ``export``, ``validators``
and ``analyze``."""

from __future__ import annotations

import argparse
import shlex

from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dabench.cli import console
from dabench.engine import spec as specs
from dabench.engine.provenance import stamp
from dabench.records import readers, runs_files, store
from dabench.reports import document
from dabench.reports import leaderboard as boards
from dabench.reports.features import Analysis, AnalyzeOptions, analyze
from dabench.reports.quality import quality_report


def run_leaderboard(args: argparse.Namespace) -> int:
    """``dabench leaderboard``: the tables (and plots) of the tracked sweeps."""
    uri = store.tracking_uri(args.tracking_uri)
    plots = args.plots
    if plots is None and args.out is not None and args.format == "md":
        plots = args.out.with_suffix("")
    try:
        boards.check_select(args.select)
        if args.runs:
            files = runs_files.RunsFiles(args.runs)
            board = boards.build(files.runs(), args.select)
            board.chunks = files.records()
            source = "the `dabench export` files " + ", ".join(str(p) for p in files.paths)
        else:
            client = store.reading_client(uri)
            experiments = chosen_experiments(args, client)
            read = "experiment " + ", ".join(experiments) if experiments else "every experiment"
            source = f"MLflow {store.redact(uri)}, {read}"
            board = boards.build(readers.load_runs(client, store.experiment_ids(client,
                                                                                experiments)),
                                 args.select)  # fmt: skip
        numbers = specs.published_numbers(specs.load_spec(args.spec)) if args.spec else []
        command = shlex.join(["dabench", *args.argv])
        text = document.render(board, args.format, source, command, stamp(), args.out, plots,
                               numbers)  # fmt: skip
    except ValueError as error:
        console.error("leaderboard", error)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        Console(stderr=True).print(Text(f"wrote {args.out}" + (f" and plots in {plots}"
                                                                if plots else "")))  # fmt: skip
    else:
        print(text)
    return 0


def chosen_experiments(args: argparse.Namespace, client: MlflowClient) -> list[str] | None:
    """The experiments ``leaderboard`` and ``export`` read: ``--experiment``'s; every one with
    ``--all`` (``None``); by default every one that holds a dabench sweep
    (:data:`~dabench.cli.parser.DEFAULT_EXPERIMENTS`), or ``ValueError`` when none does."""
    if args.all:
        return None
    if args.experiment:
        return list(args.experiment)
    found = readers.sweep_experiments(client)
    if not found:
        there = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise ValueError(f"no experiment of {store.redact(client.tracking_uri)} holds a dabench "
                         f"sweep (its experiments: {there}); run `dabench sweep` or `dabench "
                         "benchmark` first, or name an experiment with --experiment")  # fmt: skip
    return found


def run_export(args: argparse.Namespace) -> int:
    """``dabench export``: the runs the leaderboard reads, as a CSV file."""
    try:
        client = store.reading_client(args.tracking_uri)
        runs = readers.load_runs(client, store.experiment_ids(client,
                                                              chosen_experiments(args, client)))  # fmt: skip
    except ValueError as error:
        console.error("export", error)
        return 2
    runs_files.save_runs(runs, args.out)
    Console(stderr=True).print(Text(f"wrote {len(runs)} runs to {args.out}"))
    return 0


def run_validators(args: argparse.Namespace) -> int:
    """``dabench validators``: the validator-quality report of one or more sweeps."""
    try:
        client = store.reading_client(args.tracking_uri)
        report = "\n".join(quality_report(client, args.experiment, name) for name in args.sweep)
    except ValueError as error:
        console.error("validators", error)
        return 2
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    """``dabench analyze``: A-distance and t-SNE of a pick (or a checkpoint) and its source-only
    baseline."""
    err = Console(stderr=True, soft_wrap=True)
    options = AnalyzeOptions(
        sweep=args.sweep, checkpoint=args.checkpoint, select=args.select,
        tracking_uri=args.tracking_uri, experiment=args.experiment, storage=args.storage,
        target_split=args.target_split, samples=args.samples, seed=args.seed, device=args.device,
        root=args.root, out=str(args.out) if args.out else None,
    )  # fmt: skip
    try:
        with console.attached():
            result = analyze(options)
    except ValueError as error:
        console.error("analyze", error)
        return 2
    Console().print(features_table(result, options.target_split))
    for r in result.results:
        m = r.model
        trial = f"trial {m.trial} of sweep {m.sweep}, " if m.sweep else ""
        err.print(Text(f"{m.label}: {trial}step {m.step}, weights {m.origin}: {m.location}"))
    for note in result.notes:
        err.print(Text(f"note: {note}"))
    for path in result.files:
        err.print(Text(f"wrote {path}"))
    if result.parent_run_id:
        err.print(Text(f"logged to MLflow run {result.parent_run_id} (metrics a_distance.*):"))
        for uri in result.logged:
            err.print(Text(f"  {uri}"))
    if not result.files and not result.logged:
        err.print(Text("the t-SNE picture was not kept (a checkpoint has no sweep run to log it "
                       "to): add --out DIR to write tsne.png and analysis.json there"))  # fmt: skip
    return 0


def features_table(result: Analysis, target_split: str) -> Table:
    """``dabench analyze``'s table, narrow enough for 80 columns: per model its label, step,
    target metric, A-distance and domain-classifier error (where each model came from is
    printed below it)."""
    first = result.results[0]
    metric = first.target_metric.removeprefix(f"{target_split}_")
    table = Table(title=Text(f"features of source_val vs {target_split}"), caption_justify="left",
                  caption=Text(f"ε: the domain classifier's error; {first.per_domain} samples "
                               "per domain"))  # fmt: skip
    table.add_column("model", overflow="fold")
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column(f"{target_split}\n{metric}", justify="right", no_wrap=True)
    table.add_column("A-distance", justify="right", no_wrap=True)
    table.add_column("ε", justify="right", no_wrap=True)
    for r in result.results:
        table.add_row(Text(r.model.label), str(r.model.step), f"{r.target_value:.2f}",
                      f"{r.a_distance:.3f}", f"{r.domain_error:.3f}")  # fmt: skip
    return table
