"""How busy a benchmark keeps the machine: ``dabench benchmark`` against sweep by sweep.

Run:  python benchmarks/benchmark_overhead.py [--spec leaderboard] [--tasks digits/hand2synth]
          [--methods ...] [--trials N] [--steps N] [--eval-every N] [--seeds N]
          [--variants sequential benchmark] [--work /work/dabench-benchmark-overhead]
          [--out reports/benchmark_overhead.md]

The same plan (``--spec`` with ``--tasks``: by default the committed leaderboard's sweeps of
``digits/hand2synth``, six sweeps of 12 trials — 6 for the target oracle — with their seeds) runs
once per variant, each with its own MLflow store and Ray storage under ``--work``:

* ``sequential``: one ``dabench sweep ... --seeds N`` process per sweep, one after another — how
  the committed leaderboard was made (by a development script that ``dabench benchmark``
  replaced). Each process starts Ray, its trial actors, and leaves cores idle in its sweep's tail.
* ``one-driver``: the same sweeps and seeds groups one after another in one Python process, one
  ``Tuner`` each on one shared ``ray.init`` (the simpler alternative to one multiplexed Tuner).
* ``benchmark``: one ``dabench benchmark`` process.

For each: the wall time, the trials' CPU seconds (each trial's and seed run's ``time_s`` × CPUs,
as the leaderboard's cost table counts them: training and evaluation, not start-up) and
**machine busy = Σ trial CPU-seconds / (wall × cores)**. The target: ``dabench benchmark`` wall
≤ 1.1 × Σ CPU-s / cores, i.e. busy ≥ 90 %.

Resumable and chunked: a variant that finished is not run again (its numbers are kept in
``--work``); an interrupted one continues where it stopped (finished sweeps are skipped, and
``dabench benchmark`` continues itself), its wall time summed over the sessions. Variants run in
the order given; the report is written after each.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("sequential", "one-driver", "benchmark")
LABELS = {
    "sequential": "sweep by sweep (one `dabench sweep --seeds` process each)",
    "one-driver": "one driver, one Tuner per sweep",
    "benchmark": "`dabench benchmark`",
}


def plan(args: argparse.Namespace, work: Path):
    """The planned sweeps of ``--spec``/``--tasks``, writing under ``work``."""
    from dabench.engine import spec as benchmark

    spec = benchmark.with_flags(benchmark.load_spec(args.spec), flags(args))
    name = benchmark.spec_name(args.spec)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    return benchmark.make_plan(spec, name, uri, str(work / "ray"), None), spec


SPEC_FLAGS = ("tasks", "methods", "trials", "steps", "eval_every", "seeds")
"""What this script passes on to the spec, as ``dabench benchmark`` flags."""


def flags(args: argparse.Namespace) -> dict:
    return {key: getattr(args, key) for key in SPEC_FLAGS}


def flag_argv(args: argparse.Namespace) -> list[str]:
    argv = []
    for key, value in flags(args).items():
        if value is not None:
            values = value if isinstance(value, list) else [value]
            argv += [f"--{key.replace('_', '-')}", *map(str, values)]
    return argv


def benchmark_command(args: argparse.Namespace, work: Path) -> list[str]:
    """``dabench benchmark`` for the plan, its runs under ``work``, writing no leaderboard (the
    other variants write none either; and never the spec's, e.g. ``reports/leaderboard.md``)."""
    return ["dabench", "benchmark", "--spec", args.spec, *flag_argv(args),
            "--tracking-uri", f"sqlite:///{work / 'mlflow.db'}", "--storage", str(work / "ray"),
            "--no-leaderboard"]  # fmt: skip


def timed(command: list[str], log: Path) -> tuple[float, int]:
    """Wall seconds and exit status of ``command`` (output appended to ``log``). Ctrl-C stops
    the command too (it gets the signal as well and saves its state); its wall time counts."""
    print("$", shlex.join(command), flush=True)
    start = time.perf_counter()
    with log.open("a") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            code = process.wait()
            code = code if code != 0 else 130
    return time.perf_counter() - start, code


def run_variant(variant: str, args: argparse.Namespace, work: Path) -> dict:
    """Run (or continue) one variant; its wall time over every session so far and whether it
    finished."""
    work.mkdir(parents=True, exist_ok=True)
    walls_file = work / "walls.json"
    walls: dict[str, float] = json.loads(walls_file.read_text()) if walls_file.is_file() else {}
    the_plan, spec = plan(args, work)
    experiment = the_plan.sweeps[0].experiment
    log = work / "log.txt"
    commands: list[list[str]] = []
    ok = True
    if variant == "sequential":
        for options in the_plan.sweeps:
            command = benchmark_argv(options, spec.seeds)
            commands.append(command)
            state = sweep_status(options.tracking_uri, experiment, options.name)
            if state == "FINISHED":  # its seeds may still be missing: rerun skips finished groups
                command = ["dabench", "rerun", "--sweep", options.name, "--seeds", str(spec.seeds),
                           "--tracking-uri", options.tracking_uri, "--experiment", experiment,
                           "--storage", options.storage]  # fmt: skip
            elif state is not None:  # interrupted: finish it
                command = ["dabench", "sweep", "--resume", f"{options.storage}/{options.name}",
                           "--seeds", str(spec.seeds)]  # fmt: skip
            wall, code = timed(command, log)
            walls[options.name] = walls.get(options.name, 0.0) + wall
            walls_file.write_text(json.dumps(walls, indent=2))
            ok = ok and code == 0
            if code == 130:  # interrupted: the next session continues from here
                break
    elif variant == "one-driver":
        command = [sys.executable, __file__, "--one-driver", str(work), "--spec", args.spec,
                   *flag_argv(args)]  # fmt: skip
        commands.append(command)
        wall, code = timed(command, log)
        walls["all"] = walls.get("all", 0.0) + wall
        walls_file.write_text(json.dumps(walls, indent=2))
        ok = code == 0
    else:
        command = benchmark_command(args, work)
        commands.append(command)
        wall, code = timed(command, log)
        walls["all"] = walls.get("all", 0.0) + wall
        walls_file.write_text(json.dumps(walls, indent=2))
        ok = code == 0
    return {"wall_s": sum(walls.values()), "walls": walls, "finished": ok,
            "commands": [shlex.join(c) for c in commands]}  # fmt: skip


def sweep_status(uri: str, experiment: str, name: str) -> str | None:
    """The MLflow status of sweep ``name`` in experiment ``experiment`` (``None``: not there)."""
    from mlflow.tracking import MlflowClient

    from dabench.records import readers

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    run = readers.find_sweep(client, found.experiment_id, name) if found else None
    return run.info.status if run else None


def benchmark_argv(options, seeds: int) -> list[str]:
    from dabench.engine.spec import sweep_argv

    return sweep_argv(options, seeds)


def one_driver(work: Path, args: argparse.Namespace) -> int:
    """Variant ``one-driver``, in this process: the plan's sweeps and seeds groups one after
    another, each its own Tuner, all on one ``ray.init``."""
    from dabench.engine.options import RerunOptions
    from dabench.engine.rerun import rerun
    from dabench.engine.sweep import run_sweep

    the_plan, spec = plan(args, work)
    for options in the_plan.sweeps:
        state = sweep_status(options.tracking_uri, options.experiment, options.name)
        if state is None:
            run_sweep(options)
        elif state != "FINISHED":
            run_sweep(resume=f"{options.storage}/{options.name}")
        if spec.seeds:
            rerun(RerunOptions(sweep=options.name or "", seeds=spec.seeds,
                               max_concurrent=options.max_concurrent,
                               tracking_uri=options.tracking_uri,
                               experiment=options.experiment or "", storage=options.storage))  # fmt: skip
    return 0


def measure(variant: str, work: Path, result: dict) -> dict:
    """Per (method, task) and in all: trials, seed runs, CPU seconds, wall; busy %."""
    from mlflow.tracking import MlflowClient

    from dabench.records import readers, store
    from dabench.reports import leaderboard

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    board = leaderboard.build(readers.load_runs(client, store.experiment_ids(client, None)))
    cost = board.cost
    cores = os.cpu_count() or 1
    cpu = float(cost["cpu_s"].sum())
    rows = [
        {"task": c["task"], "method": c["method"], "trials": c["completed"] + c["pruned"]
         + c["failed"], "seed_runs": c["seed_runs"], "cpu_s": c["cpu_s"],
         "wall_s": result["walls"].get(f"{c['method']}-{c['task'].replace('/', '-')}")}
        for _, c in cost.iterrows()
    ]  # fmt: skip
    wall = result["wall_s"]
    return {**result, "variant": variant, "cpu_s": cpu, "cores": cores, "rows": rows,
            "busy": cpu / (wall * cores) if wall else float("nan")}  # fmt: skip


def write_report(args: argparse.Namespace, measured: dict[str, dict]) -> None:
    lines = [
        "# How busy a benchmark keeps the machine",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/benchmark_overhead.py {shlex.join(sys.argv[1:])}` on "
        f"{os.cpu_count()} CPU cores. Method: the docstring of `benchmarks/benchmark_overhead.py`"
        " — machine busy = Σ trial CPU-seconds / (wall × cores).",
        "",
    ]
    if "benchmark" in measured:
        m = measured["benchmark"]
        others = "; ".join(f"{LABELS[v]}: {measured[v]['busy']:.0%}".replace("%", " %")
                           for v in measured if v != "benchmark")  # fmt: skip
        lines += [f"machine busy: {m['busy'] * 100:.0f} % (`dabench benchmark`"
                  + (f"; {others})" if others else ")"), ""]  # fmt: skip
    lines += ["| variant | wall (s) | Σ trial CPU-s | Σ CPU-s / cores (s) | wall / (Σ CPU-s / cores) "
              "| machine busy | finished |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for variant, m in measured.items():
        ideal = m["cpu_s"] / m["cores"]
        lines.append(f"| {LABELS[variant]} | {m['wall_s']:.0f} | {m['cpu_s']:.0f} | {ideal:.0f} "
                     f"| {m['wall_s'] / ideal:.2f} | {m['busy']:.0%} | "
                     f"{'yes' if m['finished'] else 'no'} |".replace("%", " %"))  # fmt: skip
    lines += ["", "## Commands", ""]
    for variant, m in measured.items():
        lines += [f"{LABELS[variant]}:", "", "```", *m["commands"], "```", ""]
    lines += ["## Per sweep", "",
              "Trials and seed runs per (method, task), their CPU seconds, and for the sweep-by-"
              "sweep variant the wall time of its command (the other variants run sweeps "
              "together: one wall time for all).", ""]  # fmt: skip
    for variant, m in measured.items():
        lines += [f"{LABELS[variant]}:", "",
                  "| task | method | trials | seed runs | CPU-s | wall (s) |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for row in m["rows"]:
            wall = f"{row['wall_s']:.0f}" if row["wall_s"] is not None else "–"
            lines.append(f"| {row['task']} | {row['method']} | {row['trials']} | "
                         f"{row['seed_runs']} | {row['cpu_s']:.0f} | {wall} |")  # fmt: skip
        lines.append("")
    notes = ""  # a hand-written reading survives a rerun
    if args.out.is_file() and "\n## Reading" in args.out.read_text():
        notes = "\n## Reading" + args.out.read_text().split("\n## Reading", 1)[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + notes)
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="leaderboard")
    parser.add_argument("--tasks", nargs="+", help="default: digits/hand2synth with the "
                        "leaderboard spec, every task of any other spec")  # fmt: skip
    parser.add_argument("--methods", nargs="+", help="default: the spec's")
    parser.add_argument("--trials", type=int, help="default: the spec's")
    parser.add_argument("--steps", type=int, help="default: the spec's")
    parser.add_argument("--eval-every", type=int, help="default: the spec's")
    parser.add_argument("--seeds", type=int, help="default: the spec's")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS,
                        default=["sequential", "benchmark"])  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path("/work/dabench-benchmark-overhead"))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmark_overhead.md")
    parser.add_argument("--one-driver", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tasks is None and args.spec == "leaderboard":
        args.tasks = ["digits/hand2synth"]
    if args.one_driver:
        return one_driver(args.one_driver, args)
    work = args.work.resolve()
    measured: dict[str, dict] = {}
    for variant in args.variants:
        folder = work / variant
        done = folder / "result.json"
        if done.is_file():
            result = json.loads(done.read_text())
        else:
            result = run_variant(variant, args, folder)
            if result["finished"]:
                done.write_text(json.dumps(result, indent=2))
        measured[variant] = measure(variant, folder, result)
        write_report(args, measured)
        if not result["finished"]:
            print(f"{variant} did not finish; run the same command again to continue it",
                  file=sys.stderr)  # fmt: skip
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
