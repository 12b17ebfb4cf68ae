"""Does the search machinery pay for itself? Random search vs TPE vs TPE + ASHA at equal compute,
on the leaderboard's protocol, picked as a user without target labels would pick.

Run:  python benchmarks/search_efficiency.py [--task digits/mnist2uci] [--method dann]
          [--steps 1500] [--eval-every 250] [--repeats 3] [--budgets 10 20 40]
          [--asha-samples 80] [--reports reports] [--work DIR] [--report-only]

Each strategy is a real ``dabench`` sweep (Ray Tune + Optuna + MLflow, 2 trials at a time, one CPU
and one torch thread each, as a leaderboard sweep) of ``--method`` on ``--task`` over its shipped
search space, optimising the setting's **label-free** default criterion (``--metric`` to change
it), repeated with seeds 0, 1, 2, … (the seed drives both the sampler and training):

* random: Optuna's RandomSampler, every trial trained to the end;
* TPE: multivariate TPE (its first 10 trials are random), every trial trained to the end;
* TPE + ASHA: the same TPE, with ASHA at dabench's defaults (the setting's first rung,
  reduction factor 2).

Compute is counted in training steps (deterministic, unlike seconds on a shared machine): a
budget of B means the steps of B full trials. One sweep per (strategy, repeat) runs to the
largest budget; a smaller budget is the prefix of its trials, in the order they finished, whose
cumulative steps fit in it (random and TPE: the first B trials; TPE + ASHA: more, pruned trials
being cheap) — what a sweep stopped there would have had, up to the order of the two trials
running at the moment. CPU seconds (the trials' own ``cpu_s``) are given beside.

What each budget reaches, by the rule of every dabench pick
(:func:`dabench.records.selection.pick`: among the completed trials, the best last value):

* **label-free pick** — the trial the sweep's own objective picks, reported by its target-test
  metric: what a user without target labels gets;
* **oracle pick** — the trial with the best target-*val* metric among the same trials: the
  search's ceiling, for comparison only.

Every trial's evaluation points are kept (the objective, every validator and the target
metrics at each evaluation), so that ASHA's other settings can be replayed offline over the
random sweeps' full learning curves (random proposals do not depend on results, so the replay
is exact up to the order of reports): :func:`replay_asha` and the report's second table.

Every finished sweep is appended to ``<reports>/search_efficiency.jsonl`` at once with its wall
time; a rerun skips the (strategy, repeat) pairs already there and resumes the sweep that was
stopped (its finished trials kept, its unfinished ones continued from their checkpoints, its wall
time summed over the sessions), so an interrupted run loses nothing. Sweeps run in ``--work``
(kept: its MLflow store and Ray folder).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

STRATEGIES = {
    "random": {"searcher": "random", "scheduler": "none"},
    "TPE": {"searcher": "tpe", "scheduler": "none"},
    "TPE + ASHA": {"searcher": "tpe", "scheduler": "asha"},
}
KEPT = ("source_val", "target_val", "target_test", "validator_")
"""The metrics kept of each evaluation point (the label-free ones and the target ones)."""


def run_one(args: argparse.Namespace, strategy: str, repeat: int, work: Path) -> dict:
    """One sweep to the largest budget; its trials in the order they finished, with their
    evaluation points."""
    from mlflow.tracking import MlflowClient

    from dabench.engine.options import SweepOptions
    from dabench.engine.sweep import run_sweep
    from dabench.records import readers, schema

    name = f"{strategy.replace(' + ', '-')}-{repeat}".lower()
    samples = args.asha_samples if "ASHA" in strategy else max(args.budgets)
    options = SweepOptions(
        method=args.method, task=args.task, steps=args.steps, eval_every=args.eval_every,
        seed=repeat, metric=args.metric, num_samples=samples, max_concurrent=2,
        storage=str(work / "ray"), tracking_uri=f"sqlite:///{work / 'mlflow.db'}",
        experiment=name, name=name, **STRATEGIES[strategy],
    )  # fmt: skip
    folder, spent = work / "ray" / name, work / f"{name}.wall_s"
    start = time.perf_counter()
    # a sweep stopped before it finished (Ctrl-C, SIGTERM, a session's end) continues where it was
    summary = run_sweep(resume=str(folder)) if folder.exists() else run_sweep(options)
    wall = time.perf_counter() - start + (float(spent.read_text()) if spent.exists() else 0.0)
    if summary.interrupted:  # not a finished sweep: nothing recorded, its time kept for the resume
        spent.write_text(str(wall))
        raise SystemExit(f"{name}: interrupted; run the same command again to continue it")
    client = MlflowClient(options.tracking_uri)
    parent = client.get_run(summary.parent_run_id)
    points = readers.checkpoints(client, parent)
    runs = sorted(readers.children(client, parent.info.experiment_id, parent.info.run_id),
                  key=lambda r: r.info.end_time or 0)  # fmt: skip
    trials = []
    for run in runs:
        mine = points[points["run_id"] == run.info.run_id] if not points.empty else points
        curve = [{k: v for k, v in row.items() if k == "step" or (k.startswith(KEPT)
                  and isinstance(v, float) and math.isfinite(v))}
                 for row in mine.to_dict("records")]  # fmt: skip
        trials.append({"status": run.data.tags[schema.STATUS],
                       "steps": int(run.data.metrics.get("step", 0)),
                       "cpu_s": run.data.metrics.get("cpu_s", 0.0),
                       "config": json.loads(run.data.tags["searched"]), "curve": curve})  # fmt: skip
    return {"strategy": strategy, "repeat": repeat, "task": args.task, "method": args.method,
            "steps": args.steps, "eval_every": args.eval_every,
            "objective": objective_of(args.task, args.metric),
            "wall_s": wall, "counts": summary.counts, "trials": trials,
            "finished": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"}  # fmt: skip


def within_budget(trials: list[dict], steps: int, budget: float) -> list[dict] | None:
    """The trials (in finishing order) whose cumulative steps fit in ``budget`` full trials;
    ``None`` when the sweep ended before spending that budget (its trials do not reach it)."""
    limit, spent, chosen = budget * steps, 0, []
    for trial in trials:
        spent += trial["steps"]
        if spent > limit:
            return chosen
        if trial["curve"]:
            chosen.append(trial)
    return chosen if spent >= limit else None


def last(trial: dict, key: str) -> float:
    values = [p[key] for p in trial["curve"] if key in p]
    return values[-1] if values else -math.inf


def pick(trials: list[dict], key: str, sign: int) -> dict:
    """dabench's trial-level pick: among the completed trials (all, if none completed), the best
    last value of ``key`` (``sign`` -1 for a minimised key), ties to the earlier trial."""
    completed = [t for t in trials if t["status"] == "completed"] or trials
    return max(completed, key=lambda t: sign * last(t, key))


def picks(trials: list[dict], objective: dict) -> dict:
    """Target-test metric of the label-free pick and of the oracle pick among ``trials``."""
    test, val = objective["test_key"], objective["oracle_key"]
    free = pick(trials, objective["key"], objective["sign"])
    oracle = pick(trials, val, 1)
    return {"label_free": last(free, test), "oracle": last(oracle, test), "trials": len(trials),
            "cpu_s": sum(t["cpu_s"] for t in trials)}  # fmt: skip


def replay_asha(
    trials: list[dict], key: str, sign: int, grace: int, rf: int, concurrent: int = 2
) -> list[dict]:
    """ASHA (Ray Tune's asynchronous successive halving, one bracket) replayed over full
    learning curves taken in order, ``concurrent`` at a time, every evaluation interval costing
    the same time: a trial is stopped at the first rung (``grace · rf^k`` evaluations, below the
    last) where its value is under the ``1 - 1/rf`` quantile of the values recorded there before
    it, and the next trial starts in its place. Returns the trials as ASHA would have left them
    (status, steps and curve cut at the stop), in the order they finished."""
    import heapq

    import numpy as np

    evaluations = max(len(t["curve"]) for t in trials)
    every = trials[0]["steps"] // max(1, len(trials[0]["curve"]))
    rungs: dict[int, dict[int, float]] = {}
    k = 0
    while grace * rf**k < evaluations:
        rungs[grace * rf**k] = {}
        k += 1
    events: list[tuple[int, int, int]] = []  # (time in evaluations, trial, evaluations done)

    def start(index: int, now: int) -> None:
        for n in range(1, len(trials[index]["curve"]) + 1):
            heapq.heappush(events, (now + n, index, n))

    following = min(concurrent, len(trials))
    for index in range(following):
        start(index, 0)
    ended: dict[int, int] = {}  # trial -> evaluations run, in the order they finished
    while events:
        now, index, n = heapq.heappop(events)
        if index in ended:
            continue
        stop = False
        if n in rungs:
            value = sign * trials[index]["curve"][n - 1].get(key, -math.inf)
            recorded = rungs[n]
            cutoff = (
                np.nanpercentile(list(recorded.values()), (1 - 1 / rf) * 100) if recorded else None
            )
            stop = cutoff is not None and value < cutoff
            recorded[index] = value
        if stop or n == len(trials[index]["curve"]):
            ended[index] = n if stop else -n
            if following < len(trials):
                start(following, now)
                following += 1
    out = []
    for index, n in ended.items():
        trial = trials[index]
        out.append({**trial, "status": "pruned" if n > 0 else trial["status"],
                    "steps": abs(n) * every, "curve": trial["curve"][: abs(n)]})  # fmt: skip
    return out


def objective_of(task: str, metric: str | None) -> dict:
    """The sweep objective's name, key and direction, and the oracle's and the test's keys."""
    from dabench.data.registry import task_spec
    from dabench.records import criteria

    setting = task_spec(task).setting
    chosen, oracle = criteria.criterion(metric, setting), criteria.oracle(setting)
    return {"name": chosen.name, "key": chosen.key, "sign": chosen.sign,
            "test_key": oracle.test_key, "oracle_key": oracle.key}  # fmt: skip


def cell(runs: list[dict], budget: float, strategy_trials) -> str:
    """``label-free | oracle | trials | CPU s`` cells of one budget over the repeats."""
    chosen = [within_budget(strategy_trials(r), r["steps"], budget) for r in runs]
    if any(c is None or not c for c in chosen):
        return "| – | – | – | – |"
    got = [picks(c, r["objective"]) for c, r in zip(chosen, runs, strict=True)]
    free, oracle = [g["label_free"] for g in got], [g["oracle"] for g in got]
    mean = statistics.mean
    return (f"| {mean(free):.1f} ({min(free):.1f}–{max(free):.1f}) "
            f"| {mean(oracle):.1f} ({min(oracle):.1f}–{max(oracle):.1f}) "
            f"| {mean(g['trials'] for g in got):.1f} | {mean(g['cpu_s'] for g in got):,.0f} |")  # fmt: skip


def write_report(args: argparse.Namespace, records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = sorted({(r["strategy"], r["repeat"]) for r in records})
    expected = [(s, k) for k in range(args.repeats) for s in args.strategies]
    missing = [f"{s} {k}" for s, k in expected if (s, k) not in done]
    if not records:  # started, nothing finished yet: say what runs and how
        report = args.reports / "search_efficiency.md"
        report.write_text(
            "# Search efficiency: random vs TPE vs TPE + ASHA at equal compute\n\n"
            f"**In progress**: 0 of {len(expected)} sweeps ran. "
            + (
                "Not started: "
                if args.report_only
                else f"Running since {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
            )
            + f"`python {' '.join(a for a in sys.argv if a != '--report-only')}` — "
            f"{args.method} on `{args.task}`, {args.steps:,} steps per trial, budgets of "
            f"{', '.join(map(str, args.budgets))} full trials, {args.repeats} repeats; the "
            "method is the docstring of `benchmarks/search_efficiency.py`. This page is rewritten "
            "after every finished sweep.\n"
        )
        return
    first = records[0]
    objective = first["objective"]
    repeats = sorted({r["repeat"] for r in records})
    lines = [
        "# Search efficiency: random vs TPE vs TPE + ASHA at equal compute",
        "",
        *(
            [
                f"**In progress**: {len(done)} of {len(expected)} sweeps ran; not yet: "
                + ", ".join(missing)
                + ". Each finished sweep's time is in the jsonl file.",
                "",
            ]
            if missing
            else []
        ),
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python {' '.join(sys.argv)}` "
        f"({os.cpu_count()} CPUs, {platform.machine()}); raw trials and their evaluation points: "
        "`search_efficiency.jsonl`. Method: the docstring of `benchmarks/search_efficiency.py`.",
        "",
        f"`{first['method']}` on `{first['task']}`, {first['steps']:,} steps per full trial, an "
        f"evaluation every {first['eval_every']}, `dabench/search_spaces/{first['method']}.yaml`, "
        f"2 trials at a time, objective `{objective['name']}` (`{objective['key']}`, label-free), "
        f"{len(repeats)} repeats (seeds {', '.join(map(str, repeats))}). Budget B = the training "
        "steps of B full trials. Cells: target-test accuracy % of the picked trial, mean over "
        "the repeats (min–max); trials and CPU s: what the budget bought (means).",
        "",
        "| strategy | budget (full trials) | label-free pick | oracle pick | trials | CPU s |",
        "|---|---:|---|---|---:|---:|",
    ]
    by_strategy = {s: sorted((r for r in records if r["strategy"] == s), key=lambda r: r["repeat"])
                   for s in STRATEGIES}  # fmt: skip
    for strategy, runs in by_strategy.items():
        for budget in args.budgets:
            if runs:
                lines.append(
                    f"| {strategy} | {budget} " + cell(runs, budget, lambda r: r["trials"])
                )
    walls = {s: statistics.median(r["wall_s"] for r in runs) for s, runs in by_strategy.items()
             if runs}  # fmt: skip
    lines += ["", "Wall time per sweep to the largest budget (median over repeats; the machine "
              "was shared with other work): " + ", ".join(f"{k} {v / 60:.0f} min"
                                                         for k, v in walls.items()) + ".", ""]  # fmt: skip
    randoms = by_strategy["random"]
    if randoms:
        lines += [
            "## ASHA's settings, replayed over the random sweeps",
            "",
            "Random proposals do not depend on results, so ASHA over a random sweep can be "
            "replayed exactly from its trials' full learning curves (`replay_asha`: Ray's rule, "
            "2 trials at a time, equal cost per evaluation). First rung in evaluations (of "
            f"{first['steps'] // first['eval_every']}); `–`: the sweep's "
            f"{max(args.budgets)} trials do not fill that budget once pruned.",
            "",
            "| random + ASHA | budget (full trials) | label-free pick | oracle pick | trials | CPU s |",
            "|---|---:|---|---|---:|---:|",
        ]
        for grace in (1, 2, 3):
            for rf in (2, 3):

                def replayed(r, grace=grace, rf=rf):
                    o = r["objective"]
                    return replay_asha(r["trials"], o["key"], o["sign"], grace, rf)

                for budget in args.budgets:
                    lines.append(f"| first rung {grace}, factor {rf} | {budget} "
                                 + cell(randoms, budget, replayed))  # fmt: skip
        lines.append("")
    figure, axis = plt.subplots(figsize=(7, 4.2))
    grid = [b / 2 for b in range(2, 2 * max(args.budgets) + 1)]
    for strategy, runs in by_strategy.items():
        if not runs:
            continue
        xs, ys = [], []
        for budget in grid:
            chosen = [within_budget(r["trials"], r["steps"], budget) for r in runs]
            if any(not c for c in chosen):
                continue
            values = [
                picks(c, r["objective"])["label_free"] for c, r in zip(chosen, runs, strict=True)
            ]
            xs.append(budget)
            ys.append(statistics.mean(values))
        axis.plot(xs, ys, label=strategy, linewidth=2)
    axis.set_xscale("log", base=2)
    axis.set_xlabel("compute spent (training steps, in full trials)")
    axis.set_ylabel("target-test accuracy of the label-free pick (%)")
    axis.set_title(f"{first['method']} on {first['task']}: mean over {len(repeats)} repeats")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.reports / "search_efficiency.png", dpi=120)
    report = args.reports / "search_efficiency.md"
    notes = ""
    if report.exists() and "\n## Reading the results" in report.read_text():
        notes = report.read_text().split("\n## Reading the results", 1)[1]
    report.write_text("\n".join(lines) + ("\n## Reading the results" + notes if notes else "\n"))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits/mnist2uci")
    parser.add_argument("--method", default="dann")
    parser.add_argument("--metric", default=None, help="the objective (default: the setting's)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--asha-samples", type=int, default=80)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument("--work", type=Path, default=Path("search-efficiency-work"),
                        help="the sweeps' MLflow store and Ray folder (kept)")  # fmt: skip
    args = parser.parse_args()
    raw = args.reports / "search_efficiency.jsonl"
    records = [json.loads(line) for line in raw.read_text().splitlines()] if raw.exists() else []
    done = {(r["strategy"], r["repeat"]) for r in records}
    if not args.report_only:
        args.work.mkdir(parents=True, exist_ok=True)
        write_report(args, records)  # what runs, before the first sweep ends
        for repeat in range(args.repeats):
            for strategy in args.strategies:
                if (strategy, repeat) in done:
                    continue
                record = run_one(args, strategy, repeat, args.work.resolve())
                records.append(record)
                with raw.open("a") as file:
                    file.write(json.dumps(record) + "\n")
                print(f"{strategy} repeat {repeat}: {record['counts']} "
                      f"in {record['wall_s'] / 60:.1f} min", flush=True)  # fmt: skip
                write_report(args, records)  # after every sweep: a stopped run leaves its report
    write_report(args, records)


if __name__ == "__main__":
    main()
