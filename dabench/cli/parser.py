"""The command line's parsers: ``dabench demo | tasks | methods | space | train | sweep | rerun |
benchmark | validators | analyze | leaderboard | export | ui``.

The flags of ``sweep``, ``rerun`` and ``benchmark`` are made from the options' declarations
(:mod:`dabench.engine.options`: default, help, check), so a flag, a spec key and the check of a
value before Ray starts cannot disagree. Imports nothing heavy: ``--help`` needs no torch.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from dabench import __version__
from dabench.catalog.defaults import LOOP_DEFAULTS
from dabench.engine.options import (
    BENCHMARK_DEFAULTS,
    BenchmarkSpec,
    Check,
    RerunOptions,
    SweepOptions,
    at_least,
    declarations,
    default_of,
    shipped_specs,
)
from dabench.task_settings import SETTINGS


class Formatter(argparse.HelpFormatter):
    """Help at 100 columns, one line per flag where it fits, and every flag's default shown: a
    flag whose help does not state its default gets `` (default: VALUE)`` (:func:`shows_default`)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        """The help of ``action``, with its default added where it has one to show."""
        text = action.help
        if action.option_strings and has_default(action) and not shows_default(text):
            text = f"{text or ''} (default: %(default)s)".lstrip()
        return text


def has_default(action: argparse.Action) -> bool:
    """Whether ``action`` has a default worth stating: not ``None``, ``False`` or suppressed (a
    flag that is off, or not given, unless one gives it)."""
    return not (action.default is None or action.default is False
                or action.default is argparse.SUPPRESS)  # fmt: skip


def shows_default(text: str | None) -> bool:
    """Whether a help ``text`` states a default already: ``default: ...`` (a value, or in words:
    ``default: the shipped one``) or argparse's ``%(default)s``."""
    return text is not None and ("default:" in text or "%(default)" in text)


def flag_type(check: Check) -> Any:
    """An argparse ``type`` from a check: the value read and checked, or argparse's error with
    the flag's name and what it accepts."""

    def parse(text: str) -> Any:
        try:
            return check.flag_value(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = check.accepts  # argparse names it in "invalid <type> value"
    return parse


def add_declared(parser: argparse.ArgumentParser, cls: type, *, spec_names: bool = False,
                 only: tuple[str, ...] | None = None, given_only: bool = False,
                 defaults: dict[str, Any] | None = None,
                 required: tuple[str, ...] = ()) -> None:  # fmt: skip
    """A flag for each declared option of ``cls`` that has one (``only``: just these), named by
    its spec key with ``spec_names``; those in ``required`` must be given. With ``given_only``
    every flag defaults to ``None`` (a flag that overrides a spec only when given) and its help
    states the default that applies (``defaults``, else the declaration's)."""
    for name, declared in declarations(cls).items():
        meta = declared.metadata
        if not meta.get("flag") or (only is not None and name not in only):
            continue
        key = (meta["spec"] if spec_names and meta["spec"] else name).replace("_", "-")
        default = (defaults or {}).get(name, default_of(declared))
        unset = default is MISSING or default in (None, {}, [], ())
        shown = meta["shown_default"] or (None if unset else default)
        text = meta["help"] + (f" (default: {shown})" if shown is not None else "")
        kwargs: dict[str, Any] = {"help": text.replace("%", "%%"), "required": name in required}
        if name == "overrides":
            parser.add_argument("--set", action="append", metavar="KEY=VALUE", **kwargs)
            continue
        if meta["repeated"]:
            kwargs |= {"action": "append", "metavar": "CRITERION"}
        elif meta["check"].accepts == "a list of names":
            kwargs |= {"nargs": "+"}
        else:
            kwargs["type"] = flag_type(meta["check"])
        if not given_only and declared.default is not MISSING and not meta["repeated"]:
            kwargs["default"] = declared.default
        parser.add_argument(f"--{key}", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dabench", description="Tune and benchmark domain-adversarial domain adaptation.",
        formatter_class=Formatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"dabench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = command(commands, "demo", "train source-only and DANN on two moons → rotated moons",
                   "Train on labelled two moons and adapt to unlabelled moons rotated by 40°, "
                   "with and without the DANN loss (task moons/rot40); print target-test "
                   "accuracy.")  # fmt: skip
    demo.add_argument("--steps", type=flag_type(at_least(1)), default=2000, help="SGD steps")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    add_threads(demo)
    tasks = command(commands, "tasks", "list the registered tasks", "List every task: bundled "
                    "ones (generated, no download) and real-data ones (need --root pointing at "
                    "the dataset folder).")  # fmt: skip
    tasks.add_argument("--setting", choices=SETTINGS, help="only tasks of this setting")
    methods = command(commands, "methods", "list the methods, their settings and defaults per "
                      "model family", "List every registered method, the settings it supports "
                      "and its hyperparameters with their defaults: the reference's fine-tuning "
                      "defaults, and the from-scratch ones that replace them for small networks. "
                      "The task's model decides which apply; --task shows them resolved for one "
                      "task.")  # fmt: skip
    methods.add_argument("--task", help="show every method's defaults as resolved for this task")
    space = command(commands, "space", "print a method's shipped search space", "Print the "
                    "search space `dabench sweep` uses for METHOD by default (it ships inside "
                    "the package). Save it, edit it and pass it with --space FILE.")  # fmt: skip
    space.add_argument("method", metavar="METHOD", help="e.g. dann, cdan (see `dabench methods`)")
    add_train_parser(commands)
    add_sweep_parser(commands)
    add_rerun_parser(commands)
    add_benchmark_parser(commands)
    add_validators_parser(commands)
    add_analyze_parser(commands)
    add_leaderboard_parser(commands)
    add_export_parser(commands)
    add_ui_parser(commands)
    return parser


def command(commands: argparse._SubParsersAction, name: str, help: str,
            description: str) -> argparse.ArgumentParser:  # fmt: skip
    return commands.add_parser(name, help=help.replace("%", "%%"), description=description,
                               formatter_class=Formatter)  # fmt: skip


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show Ray's, Tune's and MLflow's "
                        "logs (default: only in engines.log in the sweep's or benchmark's "
                        "folder)")  # fmt: skip


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    add_declared(parser, SweepOptions, only=("tracking_uri",))


def add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = command(commands, "sweep", "search a method's hyperparameters on a task (Ray Tune + "
                    "Optuna TPE + ASHA + MLflow)", "Search a method's hyperparameters on a task: "
                    "Ray Tune schedules the trials, Optuna's TPE proposes them from the "
                    "method's search space (`dabench space METHOD`), ASHA stops poor ones early, "
                    "MLflow records every trial as a child run of the sweep's run.")  # fmt: skip
    add_declared(sweep, SweepOptions, given_only=True)  # --resume refuses what contradicts
    sweep.add_argument("--resume", metavar="SWEEP", help="finish an interrupted sweep (its name "
                       "or folder)")  # fmt: skip
    sweep.add_argument("--seeds", type=flag_type(at_least(0)), default=0, metavar="N",
                       help="then re-train the label-free and the oracle pick with N fresh seeds "
                       "(as `dabench rerun`; default: 0, none)")  # fmt: skip
    add_verbose(sweep)


def add_rerun_parser(commands: argparse._SubParsersAction) -> None:
    rerun = command(commands, "rerun", "re-train a finished sweep's picks with fresh seeds (for "
                    "the leaderboard)", "Pick a configuration per selection criterion from a "
                    "finished sweep (default: its label-free objective and the oracle), and train "
                    "each again with N seeds the search never used, as a Ray Tune grid logged to "
                    "MLflow; the leaderboard averages them.")  # fmt: skip
    add_declared(rerun, RerunOptions, required=("sweep",))
    add_verbose(rerun)


def add_benchmark_parser(commands: argparse._SubParsersAction) -> None:
    bench = command(commands, "benchmark", "a whole leaderboard: every sweep and its fresh seeds "
                    "on one Ray cluster, resumable", "Search every method on every task (a sweep "
                    "each, as `dabench sweep`), re-train each sweep's picks with fresh seeds (as "
                    "`dabench rerun`) and write the leaderboard — all in one Ray Tune run that "
                    "keeps the cluster's CPUs and GPUs busy until the last trial. From a spec "
                    f"(a YAML file, or a shipped one: {', '.join(shipped_specs())}) and/or "
                    "flags (flags win). Run the same command again to continue an interrupted "
                    "benchmark.")  # fmt: skip
    bench.add_argument("--spec", help="a spec file, or the name of a shipped one "
                       f"({', '.join(shipped_specs())})")  # fmt: skip
    bench.add_argument("--chunk", help="run only this chunk of the spec (its `chunks:`), as a "
                       "benchmark of its own named <spec>-<chunk>")  # fmt: skip
    add_declared(bench, BenchmarkSpec, given_only=True)
    spec_options = tuple(n for n, f in declarations(SweepOptions).items() if f.metadata["spec"])
    add_declared(bench, SweepOptions, spec_names=True, only=spec_options, given_only=True,
                 defaults={**BENCHMARK_DEFAULTS, "experiment": "the benchmark's name"})  # fmt: skip
    add_declared(bench, SweepOptions, only=("tracking_uri", "storage", "address"))
    bench.add_argument("--name", help="the benchmark's name (default: the spec's, or benchmark)")
    bench.add_argument("--out", type=Path, help="write the leaderboard here (markdown; its main "
                       "tables are printed too) (default: the spec's leaderboard: out, else "
                       "leaderboard-<name>.md in the working directory)")  # fmt: skip
    bench.add_argument("--plots", type=Path, help="folder for the plots (default: the spec's "
                       "leaderboard: plots, else next to the leaderboard, named after it)")  # fmt: skip
    bench.add_argument("--no-leaderboard", action="store_true", help="write no leaderboard "
                       "and no runs file (not even the spec's)")  # fmt: skip
    bench.add_argument("--leaderboard-select", metavar="CRITERION", help="the leaderboard's "
                       "--select (default: auto)")  # fmt: skip
    bench.add_argument("--plan", action="store_true", help="print the sweeps and how far each "
                       "got, then stop")  # fmt: skip
    add_verbose(bench)


def add_validators_parser(commands: argparse._SubParsersAction) -> None:
    validators = command(commands, "validators", "how well each label-free validator picked in a "
                         "sweep (vs the oracle)", "For every checkpoint (evaluation point) of a "
                         "sweep's trials: each label-free criterion's Spearman and weighted "
                         "Spearman correlation with the oracle (target-val metric) and the "
                         "target-test metric of the checkpoint it picks (top-1, mean of top-5), "
                         "next to the oracle's pick and the best target-test checkpoint; at "
                         "checkpoint and trial level. Markdown.")  # fmt: skip
    validators.add_argument("--sweep", required=True, action="append", help="a sweep's name "
                            "(repeatable)")  # fmt: skip
    validators.add_argument("--experiment", default="dabench", help="MLflow experiment")
    add_tracking_uri(validators)
    validators.add_argument("--out", type=Path, help="also write the report to this file")


def add_analyze_parser(commands: argparse._SubParsersAction) -> None:
    analyze = command(commands, "analyze", "A-distance and t-SNE of a pick's features, beside the "
                      "task's source-only pick", "For a sweep's pick (or a checkpoint) and the "
                      "same task's source-only pick when the experiment has one: the features of "
                      "source-val and target inputs, their proxy A-distance (a linear domain "
                      "classifier's held-out error) and t-SNE plots coloured by domain and by "
                      "class; printed, logged to the sweep's MLflow run, written to --out. A pick "
                      "whose checkpoint the sweep did not keep is trained again from its config "
                      "and seed.")  # fmt: skip
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
                         default="target_val", help="the target inputs")  # fmt: skip
    analyze.add_argument("--samples", type=flag_type(at_least(2)), default=500, help="t-SNE "
                         "samples per domain")  # fmt: skip
    analyze.add_argument("--seed", type=int, default=0, help="sampling and t-SNE seed")
    analyze.add_argument("--device", help="cpu, cuda, ... (default: the trial's)")
    analyze.add_argument("--root", help="dataset folder (real-data tasks)")
    analyze.add_argument("--out", type=Path, help="also write tsne.png and analysis.json here")


DEFAULT_EXPERIMENTS = ("every experiment of the store that holds a dabench sweep: dabench, where "
                       "`dabench sweep` records, and each benchmark's own")  # fmt: skip
"""What ``leaderboard`` and ``export`` read without ``--experiment`` (or ``--all``), in words."""


def add_leaderboard_parser(commands: argparse._SubParsersAction) -> None:
    board = command(commands, "leaderboard", "tables from the tracked sweeps: method × task, "
                    "mean ± 95 % CI over seeds", "Read the finished sweeps (and their `dabench "
                    "rerun` seeds) of MLflow experiments and write the leaderboard: per setting, "
                    "methods × tasks (mean ± 95 % Student-t CI over fresh seeds) under label-free "
                    "selection, realistic vs oracle with the gap, negative transfer marked, cost, "
                    "best hyperparameters, plots and the commands.")  # fmt: skip
    where = board.add_mutually_exclusive_group()
    where.add_argument("--experiment", action="append", help="MLflow experiment (repeatable; "
                       f"default: {DEFAULT_EXPERIMENTS})")  # fmt: skip
    where.add_argument("--all", action="store_true", help="every experiment of the store")
    where.add_argument("--runs", type=Path, nargs="+", metavar="FILE", help="read the runs from "
                       "files of `dabench export` instead of an MLflow store")  # fmt: skip
    add_tracking_uri(board)
    board.add_argument("--select", default="auto", metavar="CRITERION", help="auto: each sweep's "
                       "label-free objective; source_val, a validator (bnm, im, ...), a reported "
                       "metric, oracle, or all: every label-free criterion beside the oracle")  # fmt: skip
    board.add_argument("--format", choices=("md", "csv", "latex"), default="md",
                       help="markdown, CSV or LaTeX")  # fmt: skip
    board.add_argument("--spec", help="a benchmark spec (a file, or a shipped one: "
                       f"{', '.join(shipped_specs())}) whose published numbers are printed beside dabench's "
                       "(markdown)")  # fmt: skip
    board.add_argument("--out", type=Path, help="write here (default: print)")
    board.add_argument("--plots", type=Path, help="folder for the PNG plots (markdown; default: "
                       "next to --out, named after it)")  # fmt: skip


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    export = command(commands, "export", "write the runs the leaderboard reads to a CSV file "
                     "(portable, committable)", "Write the runs of MLflow experiments that the "
                     "leaderboard reads (sweeps, trials, seeds groups: their tags, metrics and "
                     "provenance) to a CSV file; `dabench leaderboard --runs FILE` builds the same "
                     "tables from it, with no MLflow store.")  # fmt: skip
    where = export.add_mutually_exclusive_group()
    where.add_argument("--experiment", action="append", help="MLflow experiment (repeatable; "
                       f"default: {DEFAULT_EXPERIMENTS})")  # fmt: skip
    where.add_argument("--all", action="store_true", help="every experiment of the store")
    add_tracking_uri(export)
    export.add_argument("--out", type=Path, required=True, help="the CSV file to write")


def add_ui_parser(commands: argparse._SubParsersAction) -> None:
    ui = command(commands, "ui", "open the MLflow UI on the tracking store, on the latest "
                 "sweep's trials", "Start the MLflow UI (mlflow server) on 127.0.0.1 for the "
                 "tracking store the sweeps wrote to, and print the URL of a sweep's trials "
                 "(objective, oracle and status as columns; docs/dashboard.md). Ctrl-C or "
                 "SIGTERM stops the whole server.")  # fmt: skip
    add_tracking_uri(ui)
    ui.add_argument("--host", default="127.0.0.1", help="the UI's address (127.0.0.1: this "
                    "machine only)")  # fmt: skip
    ui.add_argument("--port", type=flag_type(at_least(1)), default=5000, help="the UI's port")
    ui.add_argument("--sweep", help="the sweep to show (default: the latest)")
    ui.add_argument("--experiment", help="look for the sweep in this experiment only")
    ui.add_argument("--open", action="store_true", help="also open the URL in a web browser")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=flag_type(at_least(1)), default=1, help="torch "
                        "threads for training, as a sweep's trial has one per CPU it is given "
                        "(one is several times faster on a busy machine, two at most 1.5× on a "
                        "quiet one; results depend on the count: docs/performance.md)")  # fmt: skip


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = command(commands, "train", "train one method on one task (one trial) and print its "
                    "metrics", "Train one method on one task with a progress bar; print the final "
                    "metrics as a table (or JSON). Hyperparameters: --set key=value (see "
                    "`dabench methods`).")  # fmt: skip
    train.add_argument("--method", required=True, help="e.g. dann, cdan (see `dabench methods`)")
    train.add_argument("--task", required=True, help="e.g. digits/synth2hand (see `dabench tasks`)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="a hyperparameter "
                       "(repeatable)")  # fmt: skip
    train.add_argument("--seed", type=int, help=loop_help("training seed", "seed"))
    train.add_argument("--steps", type=flag_type(at_least(1)),
                       help=loop_help("training steps", "steps"))  # fmt: skip
    train.add_argument("--eval-every", type=flag_type(at_least(1)),
                       help=loop_help("steps between evaluations", "eval_every"))  # fmt: skip
    train.add_argument("--device", help=loop_help("auto, cpu, cuda or cuda:N", "device"))
    add_threads(train)
    train.add_argument("--root", type=Path, help="dataset folder (real-data tasks)")
    train.add_argument("--checkpoint-dir", type=Path, help="save the training state here at "
                       "every evaluation; if it already holds this trial's checkpoint, resume "
                       "from it")  # fmt: skip
    train.add_argument("--json", action="store_true", help="print config and metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def loop_help(text: str, key: str) -> str:
    """``text`` and the trial's default of config ``key``
    (:data:`~dabench.catalog.defaults.LOOP_DEFAULTS`), for a ``dabench train`` flag that sets it
    only when given."""
    return f"{text} (default: {LOOP_DEFAULTS[key]})"
