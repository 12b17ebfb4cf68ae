"""Which step budget lets the methods separate? Target-val against the budget, per bundled task.

Run:  python benchmarks/convergence.py [--tasks NAME ...] [--seeds 2] [--jobs 2]
      python benchmarks/convergence.py --report-only   # reports/convergence.md from the raw runs

For each bundled task, source-only and the setting's reference adaptation method (DANN for
closed-set and partial tasks, OSBP for open-set, ADVENT for segmentation) train at their defaults
with three step budgets (``BUDGETS``), training seeds 0..n-1, one CPU thread each. dabench's
schedules are budget-relative (``lr_anneal``, ``grl_warmup``: ``dabench methods``), so a run of
budget *S* is not the first *S* steps of a longer run: each budget is its own run, and the table
compares their final **target-val** metric (the leaderboard's oracle; target-test is shown
beside it). The longest budget evaluates ten times, and its curve is plotted beside the
budget points. A budget is enough for a task when both methods' seed-mean target-val lies within
``TOLERANCE`` points of their value at the longest budget; the report names the smallest such
budget per task.

Runs are appended at once to ``reports/convergence.jsonl`` with their curves; a rerun skips the
ones already there (and reads the runs ``benchmarks/methods.py`` made at the same budget from
``reports/methods.jsonl``), so the study runs in chunks and continues on another machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from methods import DEFAULT_STEPS as METHODS_STEPS
from methods import STEPS as METHODS_BUDGETS
from recipes import METHODS_RAW, ROOT, load_runs, run_pending

RAW = ROOT / "reports" / "convergence.jsonl"
OUT = ROOT / "reports" / "convergence.md"
PLOT = ROOT / "reports" / "convergence.png"
READING = "## Reading"
BUDGETS = {"moons/rot40": (600, 2000, 4000), "shapes/flat2textured": (60, 250, 1000)}
DEFAULT_BUDGETS = (300, 1500, 3000)
ADAPTATION = {"closed": "dann", "partial": "dann", "open_set": "osbp", "segmentation": "advent"}
TOLERANCE = 2.0
"""Points of target-val metric within which a budget counts as converged."""


def budgets(task: str) -> tuple[int, ...]:
    return BUDGETS.get(task, DEFAULT_BUDGETS)


def configs(tasks: list[str], seeds: int) -> list[dict[str, Any]]:
    """Seeds outermost, then the shortest budgets first: a partial run already says something."""
    from dabench.data.registry import task_spec

    out = []
    for seed in range(seeds):
        for index in range(3):
            for task in tasks:
                steps = budgets(task)[index]
                # the longest budget evaluates ten times, unless methods.py ran it (evaluating
                # once, at the end): its runs are read instead of trained again
                ran = steps == METHODS_BUDGETS.get(task, METHODS_STEPS)
                every = steps // 10 if index == 2 and not ran else steps
                for method in ("source_only", ADAPTATION[task_spec(task).setting]):
                    out.append({"method": method, "task": task, "seed": seed, "steps": steps,
                                "eval_every": every})  # fmt: skip
    return out


def metric(task: str) -> str:
    from dabench.data.registry import task_spec
    from dabench.trainable import MAIN_METRIC

    return MAIN_METRIC[task_spec(task).setting]


def runs_of(runs: list[dict[str, Any]], task: str, method: str, steps: int) -> list[dict]:
    """The runs of ``method`` on ``task`` at a budget of ``steps``."""
    return [r for r in runs if (r["config"]["task"], r["config"]["method"],
                                r["config"]["steps"]) == (task, method, steps)]  # fmt: skip


def table(runs: list[dict[str, Any]], tasks: list[str]) -> tuple[list[str], dict[str, int]]:
    """Markdown rows (task, method, per budget: target-val mean ± std [target-test]) and, per
    task, the smallest budget within :data:`TOLERANCE` of the longest for both methods."""
    from dabench.data.registry import task_spec

    rows = ["| task | method | " + " | ".join(f"budget {i + 1}" for i in range(3))
            + " | s / run (longest) |", "|---|---|---|---|---|---|"]  # fmt: skip
    enough: dict[str, int] = {}
    for task in tasks:
        key = metric(task)
        methods = ("source_only", ADAPTATION[task_spec(task).setting])
        means: dict[tuple[str, int], float] = {}
        for method in methods:
            cells = []
            for steps in budgets(task):
                done = runs_of(runs, task, method, steps)
                if not done:
                    cells.append(f"{steps}: –")
                    continue
                val = [r["final"][f"target_val_{key}"] for r in done]
                test = [r["final"][f"target_test_{key}"] for r in done]
                means[method, steps] = statistics.mean(val)
                spread = f" ± {statistics.stdev(val):.1f}" if len(val) > 1 else ""
                cells.append(f"{steps}: **{statistics.mean(val):.1f}**{spread} "
                             f"[{statistics.mean(test):.1f}] ({len(val)})")  # fmt: skip
            longest = [r["wall_s"] for r in runs_of(runs, task, method, budgets(task)[-1])]
            wall = f"{statistics.median(longest):.0f}" if longest else "–"
            rows.append(f"| {task} | {method} | " + " | ".join(cells) + f" | {wall} |")
        last = budgets(task)[-1]
        if all((m, last) in means for m in methods):
            enough[task] = next(
                s
                for s in budgets(task)
                if all(
                    (m, s) in means and means[m, s] >= means[m, last] - TOLERANCE for m in methods
                )
            )
    return rows, enough


def plot(runs: list[dict[str, Any]], tasks: list[str]) -> None:
    """One panel per task: final target-val against the budget (points, seed mean) and the
    longest budget's evaluation curve (line, seed mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 3
    rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis, task in zip(axes.flat, tasks, strict=False):
        key = f"target_val_{metric(task)}"
        for method, colour in (("source_only", "tab:grey"), (None, "tab:blue")):
            chosen = [r for r in runs if r["config"]["task"] == task and
                      (r["config"]["method"] == method if method else
                       r["config"]["method"] != "source_only")]  # fmt: skip
            if not chosen:
                continue
            name = chosen[0]["config"]["method"]
            points = sorted({r["config"]["steps"] for r in chosen})
            axis.plot(points, [statistics.mean(r["final"][key] for r in chosen
                                               if r["config"]["steps"] == s) for s in points],
                      "o", color=colour, label=f"{name}: final, per budget")  # fmt: skip
            long = [r["curve"] for r in chosen if r["config"]["steps"] == budgets(task)[-1]]
            if long:
                steps = [p["step"] for p in long[0]]
                curve = [statistics.mean(c[i][key] for c in long) for i in range(len(steps))]
                axis.plot(steps, curve, "-", color=colour, alpha=0.6,
                          label=f"{name}: curve of the longest budget")  # fmt: skip
        axis.set_title(task, fontsize=9)
        axis.set_xlabel("step")
        axis.set_ylabel(key.replace("target_val_", "target-val "))
        axis.legend(fontsize=6)
    for axis in list(axes.flat)[len(tasks) :]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=80)
    plt.close(figure)


def write_report(runs: list[dict[str, Any]], tasks: list[str], command: str) -> None:
    from dabench import __version__

    done = [t for t in tasks if any(r["config"]["task"] == t for r in runs)]
    rows, enough = table(runs, done)
    reading = ""
    if OUT.exists() and READING in (previous := OUT.read_text()):
        reading = previous[previous.index(READING) :]
    hours = sum(r["wall_s"] for r in runs) / 3600
    verdict = "\n".join(f"* `{t}`: {s} steps" for t, s in enough.items()) or "* (none complete)"
    plot(runs, done)
    OUT.write_text(f"""# Step budgets: where do the methods stop improving?

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}` (dabench {__version__},
{platform.machine()}, one CPU thread per run). Raw runs with their curves:
`reports/convergence.jsonl` ({len(runs)} runs, {hours:.1f} CPU-hours; runs at a budget
`benchmarks/methods.py` already made are read from `reports/methods.jsonl`). Method: this
script's docstring.

Each cell: `budget: **target-val mean** ± std [target-test mean] (seeds)` — the final metric of a
run with that many steps (accuracy %, H-score % open-set, mIoU % segmentation), at the defaults of
the scratch family. Budget-relative schedules stretch with the budget, so each budget is its own
run; the plot adds the longest run's curve.

{chr(10).join(rows)}

Smallest budget within {TOLERANCE:g} points of the longest, for both methods:

{verdict}

![target-val against the budget](convergence.png)

{reading}""")
    print(f"wrote {OUT}")


def main() -> int:
    from dabench.data import list_tasks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", help="default: every bundled task")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    tasks = args.tasks or [s.name for s in list_tasks() if not s.needs_root]
    runs = {**load_runs(METHODS_RAW), **load_runs(RAW)}
    wanted = configs(tasks, args.seeds)
    if not args.report_only:
        start = time.perf_counter()
        run_pending(wanted, RAW, args.jobs, runs)
        print(f"chunk took {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    keys = {(c["method"], c["task"], c["seed"], c["steps"]) for c in wanted}
    chosen = [r for r in runs.values() if "error" not in r and (
        r["config"]["method"], r["config"]["task"], r["config"]["seed"], r["config"]["steps"]
    ) in keys and len(r["config"]) == 5]  # fmt: skip
    write_report(chosen, tasks, "python " + " ".join(["benchmarks/convergence.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
