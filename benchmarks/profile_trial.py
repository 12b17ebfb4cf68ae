"""Where a leaderboard trial's time goes: py-spy over whole trials, torch's profiler over the ops.

Run:  python benchmarks/profile_trial.py --label LABEL [--methods source_only dann cdan]
          [--task digits/mnist2uci] [--steps 1500] [--eval-every 250] [--threads 1]
          [--set KEY=VALUE ...] [--report-only]
      (py-spy comes with the dev extra: ``pip install -e ".[dev]"``)

Each method trains one trial of the leaderboard's protocol (``run_trial`` at the method's
defaults, ``--steps`` steps with an evaluation every ``--eval-every``, a checkpoint written at
each evaluation as a sweep's trial does, ``--threads`` torch threads: a sweep's trial gets one per
CPU it was given) in a fresh process, twice:

* under ``py-spy record`` (sampling at 100 Hz, the child's own Python stacks, idle time
  excluded), whose samples are sorted into the phases below by the innermost frame that names
  one — the whole process, interpreter start and imports included;
* under ``torch.profiler`` for ``--op-steps`` steps and one evaluation, whose operators are
  ranked by self CPU time.

Phases (innermost frame first): *validators* (``dabench/validators.py``), *evaluation:
forward* (``trainable._predictions``: the model over source-val, target-val, target-test),
*evaluation: metrics* (the rest of ``evaluate`` and ``_evaluation``), *checkpoint*,
*batches* (``InfiniteBatches.__next__``), *backward* (autograd), *optimizer + schedule*
(``torch/optim``), *forward + loss* (a recipe's ``loss``), *loop bookkeeping* (whatever else
runs in ``_train``'s own lines: statistics, hooks), *set-up* (the task's data and the modules
built), *imports* (a module's first import, wherever it happens: torch's optimiser imports
``torch._dynamo`` when the first one is built, the validators import scikit-learn), *start-up*
(the interpreter and anything else outside the trial).

Every run appends one JSON line per method to ``reports/profile.jsonl`` under ``--label``, so that
code before and after a change can be profiled by the same script and shown side by side; the
report ``reports/profile.md`` is written from every line there (``--report-only`` rewrites it
without running anything).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPORTS = Path(__file__).resolve().parent.parent / "reports"
RAW = REPORTS / "profile.jsonl"
PY_SPY = shutil.which(
    "py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
)
OUT = REPORTS / "profile.md"

# (phase, function name or None for any, a substring of the frame's file)
RULES: list[tuple[str, str | None, str]] = [
    ("imports", "_find_and_load", "<frozen importlib._bootstrap>"),
    ("validators", None, "dabench/validators.py"),
    ("validators", "a_distance", "dabench/analysis.py"),
    ("evaluation: forward", "_predictions", "dabench/trainable.py"),
    ("evaluation: metrics", "evaluate", "dabench/trainable.py"),
    ("evaluation: metrics", "_evaluation", "dabench/trainable.py"),
    ("checkpoint", "save_checkpoint", "dabench/trainable.py"),
    ("batches", "__next__", "dabench/data/loading.py"),
    ("backward", None, "torch/autograd/"),
    ("backward", "backward", "torch/_tensor.py"),
    ("optimizer + schedule", None, "torch/optim/"),
    ("optimizer + schedule", None, "torch/amp/grad_scaler.py"),
    ("forward + loss", "loss", "dabench/methods/"),
    ("set-up", "get_task", "dabench/data/"),
    ("set-up", "__init__", "dabench/methods/"),
    ("set-up", "prepare", "dabench/precision.py"),
    ("loop bookkeeping", "_train", "dabench/trainable.py"),
    ("set-up", "run_trial", "dabench/trainable.py"),
]
PHASES = [
    "forward + loss", "backward", "optimizer + schedule", "batches", "loop bookkeeping",
    "evaluation: forward", "evaluation: metrics", "validators", "checkpoint", "set-up", "imports",
    "start-up",
]  # fmt: skip


def phase_of(stack: str) -> str:
    """The phase of one collapsed py-spy stack (``func (file:line);...``, outermost first)."""
    for frame in reversed(stack.split(";")):
        qualified, _, where = frame.partition(" (")
        name = qualified.rpartition(".")[2]  # DANN.loss -> loss
        for phase, function, path in RULES:
            if path in where and (function is None or name == function):
                return phase
    return "start-up"


def config(args: argparse.Namespace, method: str, steps: int, eval_every: int) -> dict:
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = json.loads(value) if value not in ("true", "false") else value == "true"
    return {"method": method, "task": args.task, "steps": steps, "eval_every": eval_every,
            **extra}  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """In a fresh process: one trial (``--one``), or its ops under torch's profiler (``--ops``)."""
    import torch

    from dabench.trainable import run_trial

    with tempfile.TemporaryDirectory() as checkpoints:
        if args.one:
            start = time.perf_counter()
            cfg = config(args, args.one, args.steps, args.eval_every)
            final = run_trial(cfg, checkpoint_dir=checkpoints, threads=args.threads)
            print(json.dumps({"wall_s": time.perf_counter() - start,
                              **{k: final[k] for k in ("time_s", "samples_per_s", "step")},
                              "target_test_acc": final.get("target_test_acc")}))  # fmt: skip
            return
        cfg = config(args, args.ops, args.op_steps, args.op_steps)
        activities = [torch.profiler.ProfilerActivity.CPU]
        with torch.profiler.profile(activities=activities) as profile:
            run_trial(cfg, checkpoint_dir=checkpoints, threads=args.threads)
    events = profile.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    print(json.dumps([{"op": e.key, "calls": e.count, "self_ms": e.self_cpu_time_total / 1e3,
                       "share": e.self_cpu_time_total / total} for e in top]))  # fmt: skip


def run_child(args: argparse.Namespace, flag: str, method: str, py_spy: Path | None) -> str:
    command = [sys.executable, __file__, flag, method, "--task", args.task, "--steps",
               str(args.steps), "--eval-every", str(args.eval_every), "--threads",
               str(args.threads), "--op-steps", str(args.op_steps),
               *[x for item in args.set for x in ("--set", item)]]  # fmt: skip
    if py_spy is not None:
        command = [PY_SPY, "record", "--rate", "100", "--format", "raw", "--output",
                   str(py_spy), "--", *command]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return [line for line in done.stdout.splitlines() if line.startswith(("{", "["))][-1]


def profile(args: argparse.Namespace, method: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stacks = Path(tmp) / "stacks.txt"
        start = time.perf_counter()
        trial = json.loads(run_child(args, "--one", method, stacks))
        process_s = time.perf_counter() - start
        samples: Counter[str] = Counter()
        for line in stacks.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples[phase_of(stack)] += int(count)
    ops = json.loads(run_child(args, "--ops", method, None))
    return {"label": args.label, "method": method, "task": args.task, "steps": args.steps,
            "eval_every": args.eval_every, "threads": args.threads, "set": args.set,
            "process_s": process_s, "trial": trial, "samples": dict(samples), "ops": ops,
            "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "load": os.getloadavg()[0]}  # fmt: skip


def write_report(command: str) -> None:
    rows = [json.loads(line) for line in RAW.read_text().splitlines() if line.strip()]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = [
        "# Where a leaderboard trial's time goes",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}` from "
        f"`profile.jsonl` ({platform.machine()}, {os.cpu_count()} CPU cores). "
        "Method: the docstring of `benchmarks/profile_trial.py`.",
        "",
    ]
    for label in labels:
        runs = [r for r in rows if r["label"] == label]
        first = runs[0]
        out += [f"## {label}", "", f"`{first['task']}`, {first['steps']:,} steps, an evaluation "
                f"every {first['eval_every']} (with a checkpoint), {first['threads']} torch "
                f"thread(s){', ' + ', '.join(first['set']) if first['set'] else ''}; "
                f"profiled {first['when']}.", ""]  # fmt: skip
        out += ["Share of the trial process's py-spy samples (its whole life; idle excluded):", ""]
        out += ["| phase | " + " | ".join(r["method"] for r in runs) + " |",
                "|---|" + "---:|" * len(runs)]  # fmt: skip
        for phase in PHASES:
            cells = []
            for r in runs:
                n = sum(r["samples"].values())
                cells.append(f"{100 * r['samples'].get(phase, 0) / n:.1f} %")
            out.append(f"| {phase} | " + " | ".join(cells) + " |")
        out.append("| **process wall s** | " + " | ".join(f"{r['process_s']:.0f}" for r in runs)
                   + " |")  # fmt: skip
        out.append("| trial's own time s (train + eval) | "
                   + " | ".join(f"{r['trial']['time_s']:.0f}" for r in runs) + " |")  # fmt: skip
        out.append("| training samples/s | "
                   + " | ".join(f"{r['trial']['samples_per_s']:,.0f}" for r in runs) + " |")  # fmt: skip
        out.append("| target-test acc % | "
                   + " | ".join(f"{r['trial']['target_test_acc']:.1f}" for r in runs) + " |")  # fmt: skip
        out.append("| load average at the end | "
                   + " | ".join(f"{r['load']:.1f}" for r in runs) + " |")  # fmt: skip
        out += ["", "Top operators by self CPU time (torch.profiler over one short trial: "
                "its steps and one evaluation):", ""]  # fmt: skip
        for r in runs:
            ops = ", ".join(f"`{o['op']}` {100 * o['share']:.0f} %" for o in r["ops"][:8])
            out.append(f"* {r['method']}: {ops}")
        out.append("")
    OUT.write_text("\n".join(out) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="current")
    parser.add_argument("--methods", nargs="+", default=["source_only", "dann", "cdan"])
    parser.add_argument("--task", default="digits/mnist2uci")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--op-steps", type=int, default=200)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--ops", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one or args.ops:
        child(args)
        return
    command = "python benchmarks/profile_trial.py " + " ".join(sys.argv[1:])
    if not args.report_only:
        for method in args.methods:
            result = profile(args, method)
            with RAW.open("a") as f:
                f.write(json.dumps(result) + "\n")
            print(method, result["process_s"], result["samples"], flush=True)
    write_report(command.strip())
    print(OUT.read_text())


if __name__ == "__main__":
    main()
