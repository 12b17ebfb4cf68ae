"""``dabench benchmark``: a whole leaderboard — tasks × methods, each searched by a sweep, its
picks re-trained with fresh seeds — as one resumable command that keeps the cluster busy.

**What runs.** A spec (``benchmark_specs/*.yaml``, see :data:`KEYS`) or flags name the tasks
(default: every bundled task), the methods (default: every method that applies to each task,
source-only and the target oracle included: :func:`dabench.leaderboard.methods_for`), the trials
per sweep, the steps and evaluation interval per task, the fresh seeds and the criteria whose
picks get them. Every sweep is an ordinary ``dabench sweep`` (named ``<method>-<task>``), every
seeds group an ordinary ``dabench rerun`` group; both are tagged ``dabench.benchmark=<name>`` in
MLflow, so ``dabench leaderboard``, ``validators`` and ``rerun`` work on them unchanged.

**How it runs.** All of them in one Ray Tune run on one cluster (local, or ``--address``):
:mod:`dabench.multiplex` routes each trial to its sweep's Optuna searcher and ASHA, and starts a
sweep's seeds groups as soon as the sweep finishes, so trials of the next sweeps fill the cores a
sweep's tail leaves idle, and trial actors (and their imports) are started once, not per sweep.
Then the leaderboard is written (``--out``).

**Resuming.** The same command continues an interrupted benchmark (Ctrl-C, SIGTERM, SIGKILL of
the driver, a crash): Ray's state under ``--storage``/``<name>`` (a shared folder or a
filesystem URI, so any node can resume a multi-node run) brings back the searchers and the
unfinished trials, which continue from their last checkpoint; finished sweeps and groups are not
run again. The plan is saved there too, and a different plan under the same name is refused.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from dabench import logs, storage, tracking
from dabench.data import list_tasks
from dabench.data.registry import task_spec
from dabench.selection import criteria
from dabench.spaces import SpaceLoader
from dabench.sweep import SCHEDULERS, SEARCHERS, SweepOptions, objective_key, validate

SPECS_DIR = Path(__file__).resolve().parent.parent / "benchmark_specs"
STATE_FILE = "dabench_benchmark.json"


@dataclass
class BenchmarkSpec:
    """What a benchmark runs (the keys of a spec file; flags override them)."""

    experiment: str | None = None
    """MLflow experiment (default: the benchmark's name)."""
    tasks: list[str] | None = None
    """Task names (default: every bundled task)."""
    methods: list[str] | None = None
    """Method names; each task gets those that apply to its setting (default: all of them)."""
    trials: int = 12
    trials_by_method: dict[str, int] = field(default_factory=dict)
    steps: int = 1000
    eval_every: int = 250
    budgets: dict[str, dict[str, int]] = field(default_factory=dict)
    """Task → ``{steps, eval_every, trials}`` (any of them), for tasks that differ from
    ``steps``/``eval_every``/``trials``; a task's ``trials`` applies to each of its sweeps,
    ``trials_by_method`` included (an expensive task searched less, every method alike)."""
    seeds: int = 3
    select: list[str] = field(default_factory=list)
    """Criteria whose picks get the fresh seeds (default: each sweep's objective and oracle)."""
    max_concurrent: int = 2
    metric: str | None = None
    scheduler: str = "asha"
    searcher: str = "tpe"
    grace_period: int | None = None
    """ASHA's first rung in evaluations (default: the setting's, as ``dabench sweep``)."""
    reduction_factor: int = 2
    seed: int = 0
    max_failures: int = 0
    set: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    leaderboard: dict[str, str] = field(default_factory=dict)
    """``select`` (the leaderboard's ``--select``), ``out`` (markdown file), ``plots``, ``runs``
    (a folder: each finished benchmark's runs as ``<name>.csv``, which the leaderboard reads)."""
    chunks: dict[str, list[str]] = field(default_factory=dict)
    """Chunk name → its tasks: parts of the spec that run as benchmarks of their own
    (``--chunk``, named ``<spec>-<chunk>``), one at a time, on one machine or several."""


KEYS: dict[str, str] = {
    "experiment": "an MLflow experiment name",
    "tasks": "a list of task names (see `dabench tasks`)",
    "methods": "a list of method names (see `dabench methods`)",
    "trials": "an integer ≥ 1 (trials per sweep)",
    "trials_by_method": "a mapping method → trials (integer ≥ 1)",
    "steps": "an integer ≥ 1 (training steps per trial)",
    "eval_every": "an integer ≥ 1 (steps between evaluations)",
    "budgets": "a mapping task → {steps: N, eval_every: N, trials: N} (any of them)",
    "seeds": "an integer ≥ 0 (fresh seeds per pick; 0: no re-training)",
    "select": "a list of criteria (source_val, a validator, oracle)",
    "max_concurrent": "an integer ≥ 1 (trials of one sweep at a time)",
    "metric": "a sweep objective (as `dabench sweep --metric`)",
    "scheduler": f"one of {', '.join(SCHEDULERS)}",
    "searcher": f"one of {', '.join(SEARCHERS)}",
    "grace_period": "an integer ≥ 1 (evaluations)",
    "reduction_factor": "an integer ≥ 2",
    "seed": "an integer (training and TPE seed of the sweeps)",
    "max_failures": "an integer ≥ 0 (retries per trial)",
    "set": "a mapping hyperparameter → value (fixed in every trial)",
    "root": "a dataset folder (real-data tasks)",
    "cpus_per_trial": "a number > 0",
    "gpus_per_trial": "a number ≥ 0 (fractions share a GPU)",
    "leaderboard": "a mapping with select, out, plots, runs",
    "chunks": "a mapping chunk name → a list of task names",
}
"""Every key a spec file may hold, and what it accepts."""

LEADERBOARD_KEYS = ("select", "out", "plots", "runs")
BUDGET_KEYS = ("steps", "eval_every", "trials")


def spec_path(name: str) -> Path:
    """A spec file: a path, or the name of one in ``benchmark_specs/``."""
    path = Path(name).expanduser()
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        return path
    return SPECS_DIR / f"{name}.yaml"


def load_spec(name: str) -> BenchmarkSpec:
    """Read and type-check a spec file (safe YAML); raises ``ValueError`` naming the file, the
    key and what it accepts."""
    path = spec_path(name)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SPECS_DIR.glob("*.yaml")))
        raise ValueError(f"no benchmark spec {str(path)!r}; bundled specs: {known}")
    try:
        data = yaml.load(path.read_text(), Loader=SpaceLoader)  # a safe loader
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of keys ({', '.join(KEYS)})")
    return from_mapping(data, str(path))


def from_mapping(data: dict[str, Any], source: str) -> BenchmarkSpec:
    """A spec from a mapping (a spec file's, or flags'), type-checked; ``source`` names it in
    errors."""
    for key, value in data.items():
        if key not in KEYS:
            raise ValueError(f"{source}: unknown key {key!r}; accepted: {', '.join(KEYS)}")
        if not _valid(key, value):
            raise ValueError(f"{source}: {key} must be {KEYS[key]}; got {value!r}")
    unknown = set(data.get("leaderboard") or {}) - set(LEADERBOARD_KEYS)
    if unknown:
        raise ValueError(f"{source}: leaderboard: unknown key(s) {sorted(unknown)}; accepted: "
                         f"{', '.join(LEADERBOARD_KEYS)}")  # fmt: skip
    for task, budget in (data.get("budgets") or {}).items():
        if set(budget) - set(BUDGET_KEYS) or not all(_positive(v) for v in budget.values()):
            raise ValueError(f"{source}: budgets: {task}: must be a mapping with any of "
                             f"{', '.join(BUDGET_KEYS)}, integers ≥ 1; got {budget!r}")  # fmt: skip
    return BenchmarkSpec(**{k: v for k, v in data.items() if v is not None})


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _valid(key: str, value: Any) -> bool:
    """Whether ``value`` has the type :data:`KEYS` says (ranges of numbers included)."""

    def integer(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def names(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    if value is None:
        return key in ("experiment", "tasks", "methods", "metric", "root", "grace_period")
    checks = {
        "experiment": lambda v: isinstance(v, str) and v != "",
        "tasks": names, "methods": names, "select": names,
        "trials": _positive, "steps": _positive, "eval_every": _positive,
        "max_concurrent": _positive, "grace_period": _positive,
        "trials_by_method": lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and _positive(x) for k, x in v.items()),
        "budgets": lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
        "seeds": lambda v: integer(v) and v >= 0, "max_failures": lambda v: integer(v) and v >= 0,
        "reduction_factor": lambda v: integer(v) and v >= 2, "seed": integer,
        "metric": lambda v: isinstance(v, str), "root": lambda v: isinstance(v, str),
        "scheduler": lambda v: v in SCHEDULERS, "searcher": lambda v: v in SEARCHERS,
        "set": lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
        "cpus_per_trial": lambda v: number(v) and v > 0,
        "gpus_per_trial": lambda v: number(v) and v >= 0,
        "leaderboard": lambda v: isinstance(v, dict) and all(isinstance(x, str)
                                                             for x in v.values()),
        "chunks": lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and names(x) and x for k, x in v.items()),
    }  # fmt: skip
    return bool(checks[key](value))


def chunk_of(spec: BenchmarkSpec, chunk: str) -> BenchmarkSpec:
    """The part of ``spec`` that chunk ``chunk`` runs: the same spec with the chunk's tasks."""
    if chunk not in spec.chunks:
        known = ", ".join(spec.chunks) or "none (the spec has no chunks)"
        raise ValueError(f"--chunk {chunk!r}: no such chunk; the spec's chunks: {known}")
    return replace(spec, tasks=list(spec.chunks[chunk]))


def with_flags(spec: BenchmarkSpec, flags: dict[str, Any]) -> BenchmarkSpec:
    """``spec`` with the values given on the command line (``None``: not given), checked as a
    spec file's are. ``steps``/``eval_every``/``trials`` from flags apply to every task."""
    given = {k: v for k, v in flags.items() if v is not None}
    from_mapping(given, "command line")
    budgets = spec.budgets
    if "steps" in given or "eval_every" in given:  # a step budget and its cadence go together
        budgets = {t: {k: v for k, v in b.items() if k == "trials"} for t, b in budgets.items()}
    if "trials" in given:
        budgets = {t: {k: v for k, v in b.items() if k != "trials"} for t, b in budgets.items()}
    return replace(spec, **given, budgets={t: b for t, b in budgets.items() if b})


@dataclass
class Plan:
    """A validated benchmark: the sweeps in the order they run, and the rest of the spec."""

    name: str
    spec: BenchmarkSpec
    sweeps: list[SweepOptions]

    def as_dict(self) -> dict[str, Any]:
        """What must not change when a benchmark resumes (``address`` may: another node)."""
        return {
            "sweeps": [{k: v for k, v in asdict(o).items() if k != "address"} for o in self.sweeps],
            "seeds": self.spec.seeds,
            "select": self.spec.select,
        }


def sweep_name(method: str, task: str) -> str:
    return f"{method}-{task.replace('/', '-')}"


def make_plan(spec: BenchmarkSpec, name: str, tracking_uri: str, storage_path: str,
              address: str | None) -> Plan:  # fmt: skip
    """Every sweep of ``spec``, each checked as ``dabench sweep`` checks it (task, method,
    space, values, objective), before anything runs; raises ``ValueError`` naming what is
    wrong."""
    from dabench.leaderboard import methods_for
    from dabench.methods import METHODS

    in_chunks = list(dict.fromkeys(t for tasks in spec.chunks.values() for t in tasks))
    tasks = spec.tasks or in_chunks or [t.name for t in list_tasks() if not t.needs_root]
    for task in [*tasks, *in_chunks]:
        task_spec(task)  # an unknown task: ValueError listing the tasks
    for method in spec.methods or []:
        if method not in METHODS:
            raise ValueError(f"methods: unknown method {method!r}; known: {', '.join(METHODS)}")
    pairs = [
        (task, method)
        for task in tasks
        for method in methods_for(task_spec(task).setting)
        if spec.methods is None or method in spec.methods
    ]
    for method in spec.methods or []:
        if not any(m == method for _, m in pairs):
            raise ValueError(f"methods: {method!r} applies to none of the tasks {tasks}")
    # (entries for methods or tasks a flag left out of this run are fine: they are not used)
    unknown = sorted(set(spec.trials_by_method) - set(METHODS))
    if unknown:
        raise ValueError(f"trials_by_method: unknown method(s) {unknown}; known: "
                         f"{', '.join(METHODS)}")  # fmt: skip
    for task in spec.budgets:
        try:
            task_spec(task)
        except ValueError as error:
            raise ValueError(f"budgets: {error}") from None
    for task in tasks:
        setting = task_spec(task).setting
        accepted = ["source_val", *criteria(setting), "oracle"]
        for criterion in spec.select:
            if criterion not in accepted:
                raise ValueError(f"select: {criterion!r} is no criterion for {task} "
                                 f"({setting}); accepted: {', '.join(dict.fromkeys(accepted))}")  # fmt: skip
    sweeps = []
    for task, method in pairs:
        budget = {"steps": spec.steps, "eval_every": spec.eval_every, **spec.budgets.get(task, {})}
        trials = budget.pop("trials", None) or spec.trials_by_method.get(method, spec.trials)
        options = SweepOptions(
            method=method, task=task, num_samples=trials,
            max_concurrent=spec.max_concurrent, cpus_per_trial=spec.cpus_per_trial,
            gpus_per_trial=spec.gpus_per_trial, **budget, seed=spec.seed, metric=spec.metric,
            scheduler=spec.scheduler, searcher=spec.searcher, grace_period=spec.grace_period,
            reduction_factor=spec.reduction_factor, max_failures=spec.max_failures,
            overrides=dict(spec.set), root=spec.root, address=address,
            tracking_uri=tracking_uri, experiment=spec.experiment or name,
            storage=storage_path, name=sweep_name(method, task),
        )  # fmt: skip
        try:
            validate(options)
        except ValueError as error:
            raise ValueError(f"sweep {options.name}: {error}") from None
        sweeps.append(options)
    return Plan(name, spec, sweeps)


def progress_of(plan: Plan, tracking_uri: str) -> dict[str, str]:
    """Sweep name → how far it got in MLflow: ``finished``, ``under way`` (started, or stopped
    and waiting to be resumed) or ``waiting`` (not started)."""
    from mlflow.tracking import MlflowClient

    from dabench.multiplex import find_sweep

    found: dict[str, str] = {}
    folder = tracking.sqlite_folder(tracking_uri)
    if folder is None or Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        tracking.check_reachable(tracking_uri)
        client = MlflowClient(tracking_uri)
        experiment = client.get_experiment_by_name(plan.sweeps[0].experiment or plan.name)
        for options in plan.sweeps if experiment else []:
            run = find_sweep(client, experiment.experiment_id, plan.name, options.name or "")
            if run is not None:
                found[options.name or ""] = (
                    "finished" if run.info.status == "FINISHED" else "under way"
                )
    return {options.name or "": found.get(options.name or "", "waiting") for options in plan.sweeps}


def sweep_argv(options: SweepOptions, seeds: int) -> list[str]:
    """The ``dabench sweep`` command that runs one planned sweep alone, then its seeds (what
    the benchmark did sweep by sweep before it ran them together)."""
    argv = [
        "dabench", "sweep", "--method", options.method, "--task", options.task,
        "--num-samples", str(options.num_samples), "--max-concurrent", str(options.max_concurrent),
        "--cpus-per-trial", f"{options.cpus_per_trial:g}",
        "--gpus-per-trial", f"{options.gpus_per_trial:g}", "--steps", str(options.steps),
        "--eval-every", str(options.eval_every), "--seed", str(options.seed),
        "--scheduler", options.scheduler, "--searcher", options.searcher,
        "--reduction-factor", str(options.reduction_factor),
        "--max-failures", str(options.max_failures), "--seeds", str(seeds),
    ]  # fmt: skip
    for key, value in (("--metric", options.metric), ("--root", options.root),
                       ("--grace-period", options.grace_period),
                       ("--address", options.address), ("--tracking-uri", options.tracking_uri),
                       ("--experiment", options.experiment), ("--storage", options.storage),
                       ("--name", options.name)):  # fmt: skip
        if value:
            argv += [key, str(value)]
    for key, value in options.overrides.items():
        argv += ["--set", f"{key}={json.dumps(value)}"]
    return argv


# --- running -----------------------------------------------------------------------------------


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


def run_benchmark(plan: Plan, tracking_uri: str, storage_root: str, address: str | None = None,
                  out: Path | None = None, plots: Path | None = None, board_select: str = "auto",
                  command: str = "", runs_dir: Path | None = None,
                  verbose: bool = False) -> Outcome:  # fmt: skip
    """Run (or continue) the benchmark ``plan``, then write its runs to ``runs_dir``/``<name>
    .csv`` and its leaderboard to ``out`` — from every runs file in ``runs_dir`` when given (the
    chunks run so far, on any machine), else from the MLflow experiment; see the module doc.
    Everything that can be checked is checked before Ray starts. Ray's, Tune's and MLflow's
    logs go to ``engines.log`` in the benchmark's folder unless ``verbose``."""
    import optuna
    from mlflow.tracking import MlflowClient

    from dabench import leaderboard
    from dabench.sweep import check_address, check_resources, init_ray, sigterm_as_sigint

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Ray's legacy reporter: silent at verbose=0
    leaderboard.check_select(board_select)
    root = storage.resolve(storage_root)
    where = storage.join(root, plan.name)
    storage.check_writable(root)
    saved = load_state(where)
    if saved is not None and saved["plan"] != plan.as_dict():
        changed = differences(saved["plan"], plan.as_dict())
        raise ValueError(
            f"benchmark {plan.name!r} in {root} was started with another plan ({changed}); run "
            "it with the same spec and flags, or give this one another --name"
        )
    tracking.check_reachable(tracking_uri)
    if address:
        check_address(address)
    if out is not None:
        check_output(out)
    if runs_dir is not None:
        check_output(runs_file(runs_dir, plan))
    log_file = logs.log_path(where)
    print(f"benchmark {plan.name}: Ray's and MLflow's logs: {log_file}", file=sys.stderr,
          flush=True)  # fmt: skip
    with logs.engine_logs(log_file, verbose) as engines:
        tracking.prepare_store(tracking_uri)
        client = MlflowClient(tracking_uri)
        experiment_name = plan.sweeps[0].experiment or plan.name
        experiment = tracking.experiment_id(client, experiment_name)
        check_foreign(client, experiment, experiment_name, plan)
        previous = saved["wall_s"] if saved else 0.0
        save_state(where, plan, previous)
        start = time.perf_counter()
        if not complete(client, experiment, plan):
            from dabench.progress import BenchmarkProgress

            def record(elapsed: float) -> None:  # a SIGKILL loses no more than since the last event
                save_state(where, plan, previous + elapsed)

            init_ray(address)
            engines.apply()  # ray.init may have added its handlers again
            check_resources(plan.sweeps[0])
            tuner = make_tuner(plan, experiment, where, root)
            with BenchmarkProgress(plan.name, previous, on_event=record), sigterm_as_sigint():
                tuner.fit()
        wall = previous + time.perf_counter() - start
        save_state(where, plan, wall)
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
    MLflow experiment."""
    from dabench import leaderboard

    uri, experiment = outcome.tracking_uri, outcome.experiment
    if runs_dir is not None:
        runs = leaderboard.load_runs(uri, [experiment])
        path, own = runs_file(runs_dir, plan), leaderboard.of_benchmark(runs, plan.name)
        leaderboard.save_runs(own, path)
        leaderboard.save_chunk_record(path, own, plan.name, outcome.wall_s, command)
    if out is None:
        return
    if runs_dir is not None:
        board, source = leaderboard.build_from_files(sorted(runs_dir.glob("*.csv")), board_select)
    else:
        board = leaderboard.build(leaderboard.load_runs(uri, [experiment]), board_select)
        source = f"MLflow {uri}, experiment {experiment}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(leaderboard.render(board, "md", source, command, out, plots))
    outcome.leaderboard = out


def runs_file(runs_dir: Path, plan: Plan) -> Path:
    """Where a finished benchmark's runs go: ``runs_dir/<name>.csv``."""
    return runs_dir / f"{plan.name}.csv"


def make_tuner(plan: Plan, experiment: str, where: str, root: str) -> Any:
    """The benchmark's one Ray Tune run: restored from ``where`` when an earlier session left
    Ray's state there, else new — one trainable (:func:`dabench.sweep.tune_trial`) for every
    trial, the :mod:`dabench.multiplex` searcher and scheduler, actors reused across sweeps."""
    from ray import tune

    from dabench.multiplex import MultiSweepSearcher, PerSweepScheduler, SweepJob, slots
    from dabench.sweep import trial_dirname, tune_trial

    first = plan.sweeps[0]
    pending = slots(first.cpus_per_trial, first.gpus_per_trial)
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(pending)  # see multiplex.slots
    trainable = tune.with_resources(
        tune_trial, {"cpu": first.cpus_per_trial, "gpu": first.gpus_per_trial}
    )
    if tune.Tuner.can_restore(where):
        return tune.Tuner.restore(where, trainable, resume_errored=False)
    jobs = []
    for options in plan.sweeps:
        space, base = validate(options)
        setting = task_spec(options.task).setting
        jobs.append(SweepJob(options, space, base, objective_key(options.metric, setting),
                             objective_key("oracle", setting)))  # fmt: skip
    search = MultiSweepSearcher(jobs, plan.spec.seeds, tuple(plan.spec.select), plan.name,
                                experiment, first.tracking_uri or "",
                                storage.join(where, "checkpoints"))  # fmt: skip
    scheduler = PerSweepScheduler({job.name: (job.options, job.objective) for job in jobs})
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=search, scheduler=scheduler, num_samples=-1, reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=plan.name, storage_path=root, verbose=0,
            failure_config=tune.FailureConfig(max_failures=first.max_failures),
        ),  # no Tune checkpoints: each trial keeps its own (see sweep.tune_trial)
    )  # fmt: skip


def complete(client: Any, experiment: str, plan: Plan) -> bool:
    """Whether every sweep of ``plan`` finished and, with seeds, every pick's seeds group has
    nothing left to run (MLflow is the record: what a crash left half-done is not complete)."""
    from dabench import seeds as seeds_lib
    from dabench.multiplex import find_sweep, group_of

    for options in plan.sweeps:
        parent = find_sweep(client, experiment, plan.name, options.name or "")
        if parent is None or parent.info.status != "FINISHED":
            return False
        if not plan.spec.seeds:
            continue
        try:
            _, picked, seeds = seeds_lib.picks(client, parent, plan.spec.select, plan.spec.seeds)
        except ValueError:  # no trial to re-train (every one failed)
            continue
        for run_id in picked:
            group = group_of(client, parent, run_id, seeds)
            if group is None or not seeds_lib.settled(client, group, len(seeds)):
                return False
    return True


def close_interrupted(client: Any, experiment: str, benchmark: str) -> None:
    """After a session stopped early: close the sweeps and groups under way, and their running
    trials, as ``KILLED``/``interrupted`` (the next session resumes them)."""
    from dabench.multiplex import BENCHMARK
    from dabench.sweep import close_children

    runs = client.search_runs(
        [experiment],
        filter_string=f"tags.`{BENCHMARK}` = '{benchmark}' and attributes.status = 'RUNNING'",
        max_results=5000,
    )
    for run in runs:
        close_children(client, experiment, run.info.run_id, known=None)
        client.set_terminated(run.info.run_id, "KILLED")


def check_foreign(client: Any, experiment: str, name: str, plan: Plan) -> None:
    """Refuse an experiment that holds sweeps of the planned names this benchmark did not make
    (the leaderboard would mix them)."""
    planned = {options.name for options in plan.sweeps}
    runs = client.search_runs(
        [experiment], filter_string=f"tags.`{tracking.KIND}` = 'sweep'", max_results=50000
    )
    foreign = sorted(
        {
            r.data.tags.get(tracking.SWEEP)
            for r in runs
            if r.data.tags.get(tracking.BENCHMARK) != plan.name
        }
        & planned
    )
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
        raise ValueError(f"--out {out}: cannot write there ({error})") from None


def differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The first few differences between two plans, in words."""
    if old.get("seeds") != new.get("seeds") or old.get("select") != new.get("select"):
        return (
            f"seeds/select {old.get('seeds')}/{old.get('select')} → {new['seeds']}/{new['select']}"
        )
    before = {s["name"]: s for s in old.get("sweeps", [])}
    after = {s["name"]: s for s in new["sweeps"]}
    notes = [f"{n} added" for n in after if n not in before]
    notes += [f"{n} removed" for n in before if n not in after]
    for name in after.keys() & before.keys():
        changed = [k for k in after[name] if after[name][k] != before[name].get(k)]
        if changed:
            notes.append(f"{name}: {', '.join(changed)} changed")
    return "; ".join(notes[:4]) or "the order of the sweeps changed"


def load_state(where: str) -> dict[str, Any] | None:
    """The benchmark's saved plan and wall time, if a session ran before."""
    text = storage.read_text(storage.join(where, STATE_FILE))
    return None if text is None else json.loads(text)


def save_state(where: str, plan: Plan, wall_s: float) -> None:
    storage.write_text(storage.join(where, STATE_FILE),
                       json.dumps({"plan": plan.as_dict(), "wall_s": wall_s}, indent=2))  # fmt: skip
