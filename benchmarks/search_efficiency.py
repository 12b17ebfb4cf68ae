"""Does the search machinery pay for itself? Random search vs TPE vs TPE + ASHA at equal compute.

Run:  python benchmarks/search_efficiency.py [--task moons/rot40] [--method dann] [--steps 300]
          [--repeats 3] [--budgets 8 16 32] [--asha-samples 72] [--report-only]

Each strategy is a real ``dabench`` sweep (Ray Tune + Optuna + MLflow, 2 trials at a time) of
``--method`` on ``--task`` over ``dabench/search_spaces/<method>.yaml``, repeated with seeds 0, 1, 2, …
(the seed drives both the sampler and training):

* random: Optuna's RandomSampler, every trial trained to the end;
* TPE: multivariate TPE (its first 10 trials are random), every trial trained to the end;
* TPE + ASHA: the same TPE, with ASHA stopping poor trials at 1/4 and 1/2 of the steps.

Compute is counted in training steps (deterministic, unlike seconds on a shared machine): a
budget of B means the steps of B full trials. Trials are taken in the order they finished; at
budget B a strategy has the trials whose cumulative steps fit in B (random and TPE: the first B
trials; TPE + ASHA: more, as pruned trials are cheap). CPU seconds are reported beside.

The sweeps optimise the **oracle** objective (target-val accuracy), so that the comparison
measures the searchers, not a label-free criterion; what each strategy reaches is the
target-**test** accuracy of its best trial by target-val ("oracle pick"). The "label-free pick"
column gives the target-test accuracy of the trial with the best source-val accuracy among the
same trials — shown because it is what a user without target labels would get, but the trials
were proposed by an oracle-guided searcher, and source-val accuracy saturates near 100 % on easy
tasks, which makes it a weak selector (issue "honest model selection" adds better validators).

Every finished sweep's trials are appended to ``<reports>/search_efficiency.jsonl`` at once; a rerun
skips the (strategy, repeat) pairs already there, so an interrupted run loses at most one sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

STRATEGIES = {
    "random": {"searcher": "random", "scheduler": "none"},
    "TPE": {"searcher": "tpe", "scheduler": "none"},
    "TPE + ASHA": {"searcher": "tpe", "scheduler": "asha"},
}


def run_one(args, strategy: str, repeat: int, directory: Path) -> dict:
    """One sweep; its trials in the order they finished."""
    from mlflow.tracking import MlflowClient

    from dabench.engine.options import SweepOptions
    from dabench.engine.sweep import run_sweep
    from dabench.records import readers, schema

    budget = max(args.budgets)
    name = f"{strategy.replace(' + ', '-')}-{repeat}".lower()
    options = SweepOptions(
        method=args.method, task=args.task, steps=args.steps, eval_every=args.steps // 4,
        seed=repeat, metric="oracle", num_samples=args.asha_samples if "ASHA" in strategy
        else budget, max_concurrent=2, storage=str(directory / "ray"),
        tracking_uri=f"sqlite:///{directory / 'mlflow.db'}", experiment=name, name=name,
        **STRATEGIES[strategy],
    )  # fmt: skip
    start = time.perf_counter()
    summary = run_sweep(options)
    wall = time.perf_counter() - start
    client = MlflowClient(options.tracking_uri)
    experiment = client.get_experiment_by_name(name).experiment_id
    runs = sorted(readers.children(client, experiment, summary.parent_run_id),
                  key=lambda r: r.info.end_time or 0)  # fmt: skip
    trials = [{
        "status": r.data.tags[schema.STATUS], "steps": r.data.metrics.get("step", 0),
        "cpu_s": r.data.metrics.get("cpu_s", 0.0),
        **{k: r.data.metrics.get(k) for k in ("source_val_acc", "target_val_acc",
                                               "target_test_acc")},
        "config": json.loads(r.data.tags["searched"]),
    } for r in runs]  # fmt: skip
    return {"strategy": strategy, "repeat": repeat, "task": args.task, "method": args.method,
            "steps": args.steps, "wall_s": wall, "counts": summary.counts, "trials": trials}  # fmt: skip


def within_budget(record: dict, budget: int) -> list[dict]:
    """The trials (in finishing order) whose cumulative steps fit in ``budget`` full trials."""
    limit, spent, chosen = budget * record["steps"], 0, []
    for trial in record["trials"]:
        spent += trial["steps"]
        if spent > limit:
            break
        if trial["status"] != "failed" and trial["target_val_acc"] is not None:
            chosen.append(trial)
    return chosen


def picks(trials: list[dict]) -> dict:
    """Target-test accuracy of the best trial by target-val (oracle) and by source-val."""
    by_oracle = max(trials, key=lambda t: t["target_val_acc"])
    by_source = max(trials, key=lambda t: t["source_val_acc"])  # first of ties, as Tune does
    return {"oracle": by_oracle["target_test_acc"], "label_free": by_source["target_test_acc"],
            "trials": len(trials), "cpu_s": sum(t["cpu_s"] for t in trials)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="moons/rot40")
    parser.add_argument("--method", default="dann")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--asha-samples", type=int, default=72)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="output folder")
    args = parser.parse_args()
    raw = args.reports / "search_efficiency.jsonl"
    records = [json.loads(line) for line in raw.read_text().splitlines()] if raw.exists() else []
    done = {(r["strategy"], r["repeat"]) for r in records}
    if not args.report_only:
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeats):
                for strategy in STRATEGIES:
                    if (strategy, repeat) in done:
                        continue
                    record = run_one(args, strategy, repeat, Path(tmp))
                    records.append(record)
                    with raw.open("a") as file:
                        file.write(json.dumps(record) + "\n")
                    print(f"{strategy} repeat {repeat}: {record['counts']} "
                          f"in {record['wall_s']:.0f} s", flush=True)  # fmt: skip
    write_report(args, records)


def write_report(args, records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    median, mean = statistics.median, statistics.mean
    lines = [
        "# Search efficiency: random vs TPE vs TPE + ASHA at equal compute",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python {' '.join(sys.argv)}` "
        f"({os.cpu_count()} CPUs, {platform.machine()}); raw trials: `search_efficiency.jsonl`. "
        "Method: the "
        "docstring of `benchmarks/search_efficiency.py`.",
        "",
        f"`{args.method}` on `{args.task}`, {args.steps} steps per full trial, "
        f"`dabench/search_spaces/{args.method}.yaml`, 2 trials at a time, {args.repeats} repeats (seeds "
        f"0–{args.repeats - 1}). Budget B = the training steps of B full trials. Each cell: "
        "target-test accuracy % of the picked trial, mean over repeats (min–max).",
        "",
        "| strategy | budget (full trials) | trials run | CPU s | oracle pick | label-free pick |",
        "|---|---|---|---|---|---|",
    ]
    curves, walls = {}, {}
    for strategy in STRATEGIES:
        runs = sorted((r for r in records if r["strategy"] == strategy),
                      key=lambda r: r["repeat"])  # fmt: skip
        if not runs:
            continue
        for budget in args.budgets:
            cells = [picks(within_budget(r, budget)) for r in runs]
            oracle, free = [c["oracle"] for c in cells], [c["label_free"] for c in cells]
            lines.append(
                f"| {strategy} | {budget} | {mean(c['trials'] for c in cells):.0f} | "
                f"{mean(c['cpu_s'] for c in cells):.0f} | {mean(oracle):.1f} "
                f"({min(oracle):.1f}–{max(oracle):.1f}) | {mean(free):.1f} "
                f"({min(free):.1f}–{max(free):.1f}) |"
            )
        grid = [b / 4 for b in range(4, 4 * max(args.budgets) + 1)]
        curves[strategy] = (grid, [[picks(within_budget(r, b))["oracle"] for b in grid]
                                   for r in runs])  # fmt: skip
        walls[strategy] = median(r["wall_s"] for r in runs)
    lines += [
        "",
        "Wall time per sweep (median over repeats): "
        + ", ".join(f"{k} {v:.0f} s" for k, v in walls.items())
        + ".",
        "",
        "![best target-test accuracy vs compute](search_efficiency.png)",
        "",
    ]
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for strategy, (grid, values) in curves.items():
        per_budget = list(zip(*values, strict=True))
        axis.plot(grid, [mean(v) for v in per_budget], label=strategy, linewidth=2)
        axis.fill_between(grid, [min(v) for v in per_budget], [max(v) for v in per_budget],
                          alpha=0.15)  # fmt: skip
    axis.set_xscale("log", base=2)
    axis.set_xlabel("compute spent (training steps, in full trials)")
    axis.set_ylabel("target-test accuracy of the oracle pick (%)")
    axis.set_title(
        f"{args.method} on {args.task}: mean over {args.repeats} repeats (band: min–max)"
    )
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.reports / "search_efficiency.png", dpi=120)
    report = args.reports / "search_efficiency.md"
    notes = ""
    if report.exists() and "\n## Reading the results" in report.read_text():
        notes = report.read_text().split("\n## Reading the results", 1)[1]
    report.write_text("\n".join(lines) + ("\n## Reading the results" + notes if notes else ""))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
