"""Recipe diagnostics: named variants of a method's configuration, trained over seeds side by side.

Run:  python benchmarks/recipes.py --study NAME [--study NAME ...] [--seeds 3] [--jobs 2]
      python benchmarks/recipes.py --report-only        # rewrite reports/recipes.md from the raw runs

Each study compares variants (config overrides) of one or more (method, task) pairs at one step
budget: e.g. the reference's fine-tuning defaults against the from-scratch defaults, or a frozen
ADDA source encoder with dropout on against off. Every run trains with
:func:`dabench.trainable.run_trial` on one CPU thread (bit-reproducible), evaluates every
``eval_every`` steps and is appended at once, with its whole evaluation curve, to
``reports/recipes.jsonl``; a rerun skips runs already there, so an interrupted study loses at most
the runs in progress. A variant that equals a method's defaults at ``benchmarks/methods.py``'s
budget is read from ``reports/methods.jsonl`` instead of being trained twice. ``--jobs`` runs
that many trials at a time (one per core).

The report, ``reports/recipes.md``, has one section per study: the final target-test metric of each
variant (mean ± sample std over seeds, per-seed values), the source-val accuracy, and for studies
that ask for it the target-val curve at every evaluation. A hand-written "## Reading" section
survives a regeneration.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "reports" / "recipes.jsonl"
METHODS_RAW = ROOT / "reports" / "methods.jsonl"
"""``benchmarks/methods.py``'s runs: a variant equal to a method's defaults at the same budget is
read from there rather than trained again."""
OUT = ROOT / "reports" / "recipes.md"
READING = "## Reading"


@dataclass(frozen=True)
class Study:
    """Variants of ``methods`` on ``tasks`` at ``steps`` steps: every variant is a dict of
    config overrides (``{}`` = the resolved defaults)."""

    title: str
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    variants: dict[str, dict[str, Any]]
    steps: int = 1500
    eval_every: int = 150
    curves: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)
    """More final metrics to show (e.g. ``target_test_unk`` for open-set)."""


STUDIES: dict[str, Study] = {}


def study(name: str, **kwargs: Any) -> None:
    STUDIES[name] = Study(**kwargs)


FINETUNE_SCHEDULE = {"lr_anneal": 20.0}
"""The fine-tuning family's annealing (the reference's γ 0.001 over its 20,000 steps)."""

study(
    "anneal",
    title="how fast to anneal the learning rate of a small network trained from scratch",
    tasks=("digits/synth2hand",),
    methods=("source_only", "dann", "target_oracle"),
    variants={"lr_anneal 20 (fine-tuning default)": FINETUNE_SCHEDULE, "scratch defaults": {}},
    eval_every=300,
    curves=True,
)
study(
    "adda",
    title="ADDA: source pre-training long and fast enough to learn the source; dropout in the "
    "frozen source encoder",
    tasks=("digits/synth2hand",),
    methods=("adda",),
    variants={
        "reference pre-training (lr 0.001, 3/23 of the steps)": {
            "pretrain_lr": 0.001, "pretrain_fraction": 3 / 23, "lr": 0.001, "lr_anneal": 6.9},
        "scratch defaults": {},
        "scratch defaults, adversarial lr 0.01": {"lr": 0.01},
        "scratch defaults, source dropout off": {"source_dropout": False},
    },
    eval_every=1500,
)  # fmt: skip
study(
    "osbp",
    title="OSBP: the fine-tuning learning rate against the scratch one",
    tasks=("digits-openset/synth2blend",),
    methods=("osbp",),
    variants={"reference (lr 0.001, lr_anneal 6)": {"lr": 0.001, "lr_anneal": 6.0},
              "scratch defaults": {}},
    eval_every=1500,
    extra=("target_test_os_star", "target_test_unk"),
)  # fmt: skip
study(
    "pada",
    title="PADA: the fine-tuning recipe against the scratch one, and how often to update the "
    "class weights",
    tasks=("digits-partial/synth2blend",),
    methods=("pada",),
    variants={
        "reference (lr 0.002, lr_anneal 20, 40 updates)": {
            "lr": 0.002, **FINETUNE_SCHEDULE, "class_weight_updates": 40.0},
        "scratch defaults, 40 updates": {"class_weight_updates": 40.0},
        "scratch defaults, 10 updates": {"class_weight_updates": 10.0},
        "scratch defaults (3 updates)": {},
    },
    eval_every=1500,
)  # fmt: skip
study(
    "iwan",
    title="IWAN: the fine-tuning learning rate against the scratch one",
    tasks=("digits-partial/synth2blend",),
    methods=("iwan",),
    variants={"reference (lr 0.001, lr_anneal 20)": {"lr": 0.001, **FINETUNE_SCHEDULE},
              "scratch defaults": {}},
    eval_every=1500,
)  # fmt: skip
study(
    "bsp",
    title="BSP: the fine-tuning recipe against the scratch one",
    tasks=("digits/synth2hand",),
    methods=("bsp",),
    variants={
        "reference (lr 0.003, trade_off_bsp 2e-4, pre-training lr 0.001 for 3/23)": {
            "lr": 0.003, "lr_anneal": 23.0, "trade_off_bsp": 2e-4, "pretrain_lr": 0.001,
            "pretrain_fraction": 3 / 23},
        "scratch defaults": {},
    },
    eval_every=1500,
)  # fmt: skip


def run_one(config: dict[str, Any]) -> dict[str, Any]:
    """Train ``config`` on one thread and return the run record (config, curve, final, seconds)."""
    import torch

    from dabench.trainable import resolve_config, run_trial

    torch.set_num_threads(1)
    curve: list[dict[str, Any]] = []
    start = time.perf_counter()
    final = run_trial(config, curve.append)
    return {"config": config, "resolved": resolve_config(config), "final": final, "curve": curve,
            "wall_s": time.perf_counter() - start}  # fmt: skip


def key_of(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def configs_of(name: str, seeds: int) -> list[dict[str, Any]]:
    s = STUDIES[name]
    return [
        {"method": method, "task": task, "seed": seed, "steps": s.steps,
         "eval_every": s.eval_every, **overrides}
        for seed in range(seeds) for task in s.tasks for method in s.methods
        for overrides in s.variants.values()
    ]  # fmt: skip


def load_runs(raw: Path) -> dict[str, dict[str, Any]]:
    """The runs in ``raw`` whose config still resolves as it did when they ran: a run made under
    other defaults is stale (it would be shown as today's defaults) and is run again. Keys added
    to the config since a run (new options, whose defaults keep the old behaviour) are not
    compared."""
    if not raw.exists():
        return {}
    runs = (json.loads(line) for line in raw.read_text().splitlines() if line.strip())
    return {key_of(r["config"]): r for r in runs if current(r)}


def current(record: dict[str, Any]) -> bool:
    """Whether ``record``'s config resolves today as it did when it ran."""
    from dabench.trainable import resolve_config

    then = record.get("resolved")
    now = json.loads(json.dumps(resolve_config(record["config"])))
    return then is not None and all(key in now and now[key] == value for key, value in then.items())


def run_pending(
    configs: list[dict[str, Any]], raw: Path, jobs: int, runs: dict[str, dict[str, Any]]
) -> None:
    """Train the ``configs`` not yet in ``runs`` (see :func:`load_runs`), ``jobs`` at a time on
    one thread each, appending each record to ``raw`` (JSON lines) as soon as it ends and adding
    it to ``runs``. A run that fails (e.g. diverges) is recorded with its error."""
    from dabench.trainable import resolve_config

    todo = list({key_of(c): c for c in configs if key_of(c) not in runs}.values())
    if not todo:
        return
    print(f"{len(todo)} runs to do ({len(runs)} already in {raw})", flush=True)
    raw.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs) as pool, raw.open("a") as out:
        futures = {pool.submit(run_one, c): c for c in todo}
        for future in as_completed(futures):
            config = futures[future]
            try:
                record = future.result()
            except Exception as error:  # a diverged variant is a result, not a crash
                record = {"config": config, "resolved": resolve_config(config),
                          "error": repr(error)[:500]}  # fmt: skip
            out.write(json.dumps(record) + "\n")
            out.flush()
            runs[key_of(config)] = record
            print(summary_line(record), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", action="append", default=[], choices=sorted(STUDIES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--raw", type=Path, default=RAW, help=f"raw runs (default {RAW.name})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"report (default {OUT.name})")
    args = parser.parse_args()
    runs = {**load_runs(METHODS_RAW), **load_runs(args.raw)}
    if not args.report_only:
        configs = [c for name in args.study for c in configs_of(name, args.seeds)]
        run_pending(configs, args.raw, args.jobs, runs)
    write_report(runs, args.out)
    return 0


def main_metric(task: str) -> str:
    from dabench.data.registry import task_spec
    from dabench.trainable import MAIN_METRIC

    return MAIN_METRIC[task_spec(task).setting]


def summary_line(record: dict[str, Any]) -> str:
    c = record["config"]
    head = f"{c['task']:28s} {c['method']:13s} seed {c['seed']}"
    overrides = {k: v for k, v in c.items()
                 if k not in ("method", "task", "seed", "steps", "eval_every")}  # fmt: skip
    if "error" in record:
        return f"{head} {overrides} ERROR {record['error'][:80]}"
    metric = f"target_test_{main_metric(c['task'])}"
    return f"{head} {overrides} {metric} {record['final'][metric]:.1f} ({record['wall_s']:.0f} s)"


def mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.1f}{spread}"


def write_report(runs: dict[str, dict[str, Any]], out: Path) -> None:
    sections = []
    for name, s in STUDIES.items():
        rows = []
        curve_rows = []
        for task in s.tasks:
            metric = main_metric(task)
            for method in s.methods:
                for variant, overrides in s.variants.items():
                    chosen = [r for r in runs.values() if _matches(r["config"], s, task, method,
                                                                      overrides)]  # fmt: skip
                    if not chosen:
                        continue
                    chosen.sort(key=lambda r: r["config"]["seed"])
                    ok = [r for r in chosen if "error" not in r]
                    finals = [r["final"][f"target_test_{metric}"] for r in ok]
                    row = {
                        "task": task, "method": method, "variant": variant,
                        f"target-test {metric}": mean_std(finals),
                        "per seed": ", ".join(
                            f"{r['final'][f'target_test_{metric}']:.1f}" if "error" not in r
                            else "diverged" for r in chosen),
                        "source-val": mean_std([r["final"].get("source_val_acc", float("nan"))
                                                for r in ok]),
                        **{k: mean_std([r["final"][k] for r in ok]) for k in s.extra},
                        "s / run": f"{statistics.median(r['wall_s'] for r in ok):.0f}" if ok else "–",
                    }  # fmt: skip
                    rows.append(row)
                    if s.curves and ok:
                        steps = [p["step"] for p in ok[0]["curve"]]
                        means = [
                            statistics.mean(r["curve"][i][f"target_val_{metric}"] for r in ok)
                            for i in range(len(steps))
                        ]
                        curve_rows.append(
                            {
                                "task": task,
                                "method": method,
                                "variant": variant,
                                **{str(st): f"{v:.1f}" for st, v in zip(steps, means, strict=True)},
                            }
                        )
        if not rows:
            continue
        import pandas as pd

        text = f"## {name}: {s.title}\n\n{s.steps} steps, evaluated every {s.eval_every}.\n\n"
        text += "Variants:\n\n" + "\n".join(
            f"* `{v}`: " + (", ".join(f"`{k}={val}`" for k, val in o.items()) or "the defaults")
            for v, o in s.variants.items()
        )
        text += "\n\n" + pd.DataFrame(rows).to_markdown(index=False)
        if curve_rows:
            text += "\n\nTarget-val metric at each evaluation (mean over seeds):\n\n"
            text += pd.DataFrame(curve_rows).to_markdown(index=False)
        sections.append(text)
    reading = ""
    if out.exists() and READING in (previous := out.read_text()):
        reading = previous[previous.index(READING) :]
    import torch

    from dabench import __version__

    out.write_text(
        "# Recipe diagnostics: variants of the methods' configurations, side by side\n\n"
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python benchmarks/recipes.py "
        f"--report-only` from the raw runs in `reports/recipes.jsonl` and `reports/methods.jsonl` "
        f"(each study was run with "
        f"`python benchmarks/recipes.py --study NAME`; dabench {__version__}, torch "
        f"{torch.__version__}, one CPU thread per run, {platform.machine()}).\n\n"
        "Each cell: the target-**test** metric after the last step, mean ± sample std over the "
        "training seeds (data and splits fixed by `data_seed=0`). Nothing is selected on target "
        "labels: every variant is a fixed configuration.\n\n"
        + "\n\n".join(sections)
        + ("\n\n" + reading if reading else "\n")
    )
    print(f"wrote {out}")


def _matches(config: dict[str, Any], s: Study, task: str, method: str,
             overrides: dict[str, Any]) -> bool:  # fmt: skip
    wanted = {"method": method, "task": task, "steps": s.steps, "eval_every": s.eval_every,
              **overrides}  # fmt: skip
    return {k: v for k, v in config.items() if k != "seed"} == wanted


if __name__ == "__main__":
    sys.exit(main())
