"""``dabench benchmark``: a whole leaderboard — tasks × methods, each searched by a sweep, its
picks re-trained with fresh seeds — as one resumable command that keeps the cluster busy.

**What runs.** A spec (a YAML file, or one shipped in ``dabench/benchmark_specs/``;
:mod:`dabench.engine.spec`) or flags name the tasks (default: every bundled task), the methods
(default: every method that applies to each task, source-only and the target oracle included:
:func:`dabench.methods.registry.methods_for`), the trials per sweep, the steps and evaluation
interval per task, the fresh seeds and the criteria whose picks get them. Every sweep is an
ordinary ``dabench sweep`` (named ``<method>-<task>``), every seeds group an ordinary
``dabench rerun`` group; both are tagged ``dabench.benchmark=<name>`` in MLflow, so
``dabench leaderboard``, ``validators`` and ``rerun`` work on them unchanged.

**How it runs.** All of them in one Ray Tune run on one cluster (local, or ``--address``):
:mod:`dabench.engine.multiplex` routes each trial to its sweep's Optuna searcher and ASHA, and starts a
sweep's seeds groups as soon as the sweep finishes, so trials of the next sweeps fill the cores a
sweep's tail leaves idle, and trial actors (and their imports) are started once, not per sweep.
Then the leaderboard is written (``out``; the command line's default is
``./leaderboard-<name>.md``).

**Resuming.** The same command continues an interrupted benchmark (Ctrl-C, SIGTERM, SIGKILL of
the driver, a crash): Ray's state under ``--storage``/``<name>`` (a shared folder or a
filesystem URI, so any node can resume a multi-node run) brings back the searchers and the
unfinished trials, which continue from their last checkpoint; finished sweeps and groups are not
run again. The plan is saved there too, and a different plan under the same name is refused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from ray import tune

from dabench import storage
from dabench.engine import events, logs, state
from dabench.engine.cluster import (
    check_address,
    check_resources,
    init_ray,
    slots,
    tune_run,
)
from dabench.engine.multiplex import MultiSweepSearcher, PerSweepScheduler, SweepJob
from dabench.engine.provenance import machine, stamp
from dabench.engine.rerun import picks
from dabench.engine.spec import Plan, published_numbers
from dabench.engine.sweep import validate
from dabench.engine.trial import TrialName, trial_dirname, tune_trial
from dabench.records import readers, runs_files, store, writers
from dabench.records import schema as s
from dabench.reports import document
from dabench.reports import leaderboard as boards
from dabench.reports.leaderboard import Leaderboard

log = logging.getLogger(__name__)


def progress_of(plan: Plan, tracking_uri: str) -> dict[str, str]:
    """Sweep name → how far it got in MLflow: ``finished``, ``under way`` (started, or stopped
    and waiting to be resumed) or ``waiting`` (not started)."""
    found: dict[str, str] = {}
    folder = store.sqlite_folder(tracking_uri)
    if folder is None or Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        client = store.reading_client(tracking_uri)
        experiment = client.get_experiment_by_name(plan.sweeps[0].experiment)
        for options in plan.sweeps if experiment else []:
            run = readers.find_sweep(client, experiment.experiment_id, options.name or "",
                                     plan.name)  # fmt: skip
            if run is not None:
                found[options.name or ""] = (
                    "finished" if run.info.status == "FINISHED" else "under way"
                )
    return {options.name or "": found.get(options.name or "", "waiting") for options in plan.sweeps}


@dataclass
class Outcome:
    """How a ``dabench benchmark`` session ended."""

    name: str
    experiment: str
    tracking_uri: str
    storage: str
    """Where Ray keeps the benchmark's state (``--storage``/``<name>``)."""
    finished: bool
    wall_s: float
    """Wall time of every session of the benchmark so far."""
    leaderboard: Path | None = None
    """The leaderboard file written, if any."""
    board: Leaderboard | None = None
    """The leaderboard written there (for a display to show without reading it back)."""


def run_benchmark(plan: Plan, tracking_uri: str, storage_root: str, address: str | None = None,
                  out: Path | None = None, plots: Path | None = None, board_select: str = "auto",
                  command: str = "", runs_dir: Path | None = None,
                  verbose: bool = False) -> Outcome:  # fmt: skip
    """Run (or continue) the benchmark ``plan``, then write its runs to ``runs_dir``/``<name>
    .csv`` and its leaderboard to ``out`` — from every runs file in ``runs_dir`` when given (the
    chunks run so far, on any machine), else from the MLflow experiment; see the module doc.
    Everything that can be checked is checked before Ray starts. Ray's, Tune's and MLflow's
    logs go to ``engines.log`` in the benchmark's folder unless ``verbose``."""
    boards.check_select(board_select)
    root = storage.resolve(storage_root)
    where = storage.join(root, plan.name)
    storage.check_writable(root)
    if not state.ours(where, state.BENCHMARK_STATE):
        raise ValueError(f"{where} exists and is not a dabench benchmark: choose another --name "
                         "or --storage (dabench never writes into a folder it did not make)")  # fmt: skip
    with state.hold(where, f"benchmark {plan.name}"):
        return run_held(plan, tracking_uri, where, root, address, out, plots, board_select,
                        command, runs_dir, verbose)  # fmt: skip


def run_held(plan: Plan, tracking_uri: str, where: str, root: str, address: str | None,
             out: Path | None, plots: Path | None, board_select: str, command: str,
             runs_dir: Path | None, verbose: bool) -> Outcome:  # fmt: skip
    """:func:`run_benchmark` once its folder's lock is held."""
    saved = state.load_benchmark(where)
    if saved is not None and saved["plan"] != plan.as_dict():
        changed = differences(saved["plan"], plan.as_dict())
        raise ValueError(
            f"benchmark {plan.name!r} in {root} was started with another plan ({changed}); run "
            "it with the same spec and flags, or give this one another --name"
        )
    experiment_name = plan.sweeps[0].experiment
    store.check_store(tracking_uri)
    client, experiment = store.open_store(tracking_uri, experiment_name)
    if address:
        check_address(address)
    if out is not None:
        check_output(out)
    if runs_dir is not None:
        check_output(runs_file(runs_dir, plan))
    log_file = logs.log_path(where)
    log.info("benchmark %s: Ray's and MLflow's logs: %s", plan.name, log_file)
    with logs.engine_logs(log_file, verbose) as engines:
        check_foreign(client, experiment, experiment_name, plan)
        previous = saved["wall_s"] if saved else 0.0
        state.save_benchmark(where, plan.as_dict(), previous)
        start = time.perf_counter()
        if not complete(client, experiment, plan):
            init_ray(address)
            engines.apply()  # ray.init may have added its handlers again
            check_resources(plan.sweeps[0].cpus_per_trial, plan.sweeps[0].gpus_per_trial)
            tuner = make_tuner(plan, experiment, where, root)
            seen = [0]

            def record(event: str, details: dict[str, Any]) -> None:
                """At each sweep or group that ends, the wall time so far: a SIGKILL then loses
                no more than since the last one."""
                if event == "benchmark" and len(details["searcher"].events) > seen[0]:
                    seen[0] = len(details["searcher"].events)
                    state.save_benchmark(where, plan.as_dict(),
                                         previous + time.perf_counter() - start)  # fmt: skip

            events.publish("started", title=f"benchmark {plan.name}", previous_s=previous)
            first = plan.sweeps[0]  # see cluster.slots: Tune keeps that many trials pending
            pending = slots(first.cpus_per_trial, first.gpus_per_trial)
            with events.listening(record), tune_run(pending_trials=pending):
                tuner.fit()
        wall = previous + time.perf_counter() - start
        state.save_benchmark(where, plan.as_dict(), wall)
        finished = complete(client, experiment, plan)
        if finished:  # what is left are checkpoints of runs a resumed session superseded
            storage.delete_tree(storage.join(where, "checkpoints"))
        else:
            close_interrupted(client, experiment, plan.name)
        outcome = Outcome(plan.name, experiment_name, tracking_uri, where, finished, wall)
        if finished:
            write_results(plan, outcome, runs_dir, out, plots, board_select, command)
        return outcome


def write_results(plan: Plan, outcome: Outcome, runs_dir: Path | None, out: Path | None,
                  plots: Path | None, board_select: str, command: str) -> None:  # fmt: skip
    """After a finished benchmark: its runs file and chunk record in ``runs_dir``, and the
    leaderboard in ``out`` — from every runs file in ``runs_dir`` when given, else from the
    MLflow experiment — kept in ``outcome`` too."""
    uri, experiment = outcome.tracking_uri, outcome.experiment
    client = MlflowClient(uri)
    if runs_dir is not None:
        runs = readers.load_runs(client, store.experiment_ids(client, [experiment]))
        path, own = runs_file(runs_dir, plan), runs_files.of_benchmark(runs, plan.name)
        runs_files.save_runs(own, path)
        runs_files.save_chunk_record(path, own, plan.name, outcome.wall_s, command, machine())
    if out is None:
        return
    if runs_dir is not None:
        files = runs_files.RunsFiles(sorted(runs_dir.glob("*.csv")))
        board = boards.build(files.runs(), board_select)
        board.chunks = files.records()
        source = "the `dabench export` files " + ", ".join(str(p) for p in files.paths)
    else:
        board = boards.build(readers.load_runs(client, store.experiment_ids(client, [experiment])),
                             board_select)  # fmt: skip
        source = f"MLflow {uri}, experiment {experiment}"
    out.parent.mkdir(parents=True, exist_ok=True)
    numbers = published_numbers(plan.spec)
    out.write_text(document.render(board, "md", source, command, stamp(), out, plots, numbers))
    outcome.leaderboard, outcome.board = out, board


def runs_file(runs_dir: Path, plan: Plan) -> Path:
    """Where a finished benchmark's runs go: ``runs_dir/<name>.csv``."""
    return runs_dir / f"{plan.name}.csv"


def make_tuner(plan: Plan, experiment: str, where: str, root: str) -> Any:
    """The benchmark's one Ray Tune run: restored from ``where`` when an earlier session left
    Ray's state there, else new — one trainable (:func:`dabench.engine.trial.tune_trial`) for
    every trial, the :mod:`dabench.engine.multiplex` searcher and scheduler, actors reused
    across sweeps."""
    first = plan.sweeps[0]
    trainable = tune.with_resources(
        tune_trial, {"cpu": first.cpus_per_trial, "gpu": first.gpus_per_trial}
    )
    if tune.Tuner.can_restore(where):
        state.repair_tune_state(where)
        return tune.Tuner.restore(where, trainable, resume_errored=False)
    jobs = []
    for options in plan.sweeps:
        checked = validate(options)
        jobs.append(SweepJob(options, checked.space, checked.base, checked.objective))
    search = MultiSweepSearcher(jobs, plan.spec.seeds, tuple(plan.spec.select), plan.name,
                                experiment, first.tracking_uri or "",
                                storage.join(where, "checkpoints"))  # fmt: skip
    scheduler = PerSweepScheduler({job.name: (job.options, job.objective) for job in jobs})
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=search, scheduler=scheduler, num_samples=-1, reuse_actors=True,
            trial_dirname_creator=trial_dirname, trial_name_creator=TrialName(),
        ),
        run_config=tune.RunConfig(
            name=plan.name, storage_path=root, verbose=0,
            failure_config=tune.FailureConfig(max_failures=first.max_failures),
        ),  # no Tune checkpoints: each trial keeps its own (see trial.tune_trial)
    )  # fmt: skip


def complete(client: Any, experiment: str, plan: Plan) -> bool:
    """Whether every sweep of ``plan`` finished and, with seeds, every pick's seeds group has
    nothing left to run (MLflow is the record: what a crash left half-done is not complete)."""
    for options in plan.sweeps:
        parent = readers.find_sweep(client, experiment, options.name or "", plan.name)
        if parent is None or parent.info.status != "FINISHED":
            return False
        if not plan.spec.seeds:
            continue
        try:
            _, picked, seeds = picks(client, parent, plan.spec.select, plan.spec.seeds)
        except ValueError:  # no trial to re-train (every one failed)
            continue
        for run_id in picked:
            group = readers.find_group(client, parent, run_id, seeds)
            if group is None or not readers.settled(client, group, len(seeds)):
                return False
    return True


def close_interrupted(client: Any, experiment: str, benchmark: str) -> None:
    """After a session stopped early: close the sweeps and groups under way, and their running
    trials, as ``KILLED``/``interrupted`` (the next session resumes them)."""
    running = readers.search(client, [experiment], s.where("attributes.status = 'RUNNING'",
                                                           **{s.BENCHMARK: benchmark}))  # fmt: skip
    for run in running:
        writers.close_children(client, experiment, run.info.run_id, known=None)
        client.set_terminated(run.info.run_id, "KILLED")


def check_foreign(client: Any, experiment: str, name: str, plan: Plan) -> None:
    """Refuse an experiment that holds sweeps of the planned names this benchmark did not make
    (the leaderboard would mix them)."""
    planned = {options.name for options in plan.sweeps}
    sweeps = readers.search(client, [experiment], s.where(**{s.KIND: s.SWEEP_KIND}))
    foreign = sorted({r.data.tags.get(s.SWEEP) for r in sweeps
                      if r.data.tags.get(s.BENCHMARK) != plan.name} & planned)  # fmt: skip
    if foreign:
        raise ValueError(
            f"experiment {name!r} already has sweep(s) {', '.join(foreign[:5])} that benchmark "
            f"{plan.name!r} did not make; use another --experiment (or this benchmark's --name)"
        )


def check_output(out: Path) -> None:
    """Refuse a leaderboard file that cannot be written, before anything runs."""
    folder = out.expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".dabench-probe-{out.name}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"leaderboard file {out}: cannot write there ({error}); give another "
                         "with --out (or --no-leaderboard)") from None  # fmt: skip


def differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The first few differences between two plans, in words."""
    if old.get("seeds") != new.get("seeds") or old.get("select") != new.get("select"):
        return (
            f"seeds/select {old.get('seeds')}/{old.get('select')} → {new['seeds']}/{new['select']}"
        )
    before = {sweep["name"]: sweep for sweep in old.get("sweeps", [])}
    after = {sweep["name"]: sweep for sweep in new["sweeps"]}
    notes = [f"{n} added" for n in after if n not in before]
    notes += [f"{n} removed" for n in before if n not in after]
    for name in after.keys() & before.keys():
        changed = [k for k in after[name] if after[name][k] != before[name].get(k)]
        if changed:
            notes.append(f"{name}: {', '.join(changed)} changed")
    return "; ".join(notes[:4]) or "the order of the sweeps changed"
