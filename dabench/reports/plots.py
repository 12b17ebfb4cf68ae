"""The leaderboard's and a sweep's plots (PNG): per task, each method's
target-test metric with its interval; per sweep, Optuna's parallel coordinates of its trials and
its objective and oracle at every evaluation.

Figures are made with matplotlib's object API (``Figure``), not pyplot, so no backend is chosen
and no pyplot state is left behind; Optuna's parallel-coordinate plot, which draws with pyplot,
is closed once it is saved or logged (:func:`close`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure

from dabench.records import schema as s
from dabench.records.criteria import Criterion, from_key
from dabench.records.readers import metric_history
from dabench.reports.leaderboard import REFERENCE, Leaderboard, label, methods_of
from dabench.spaces import load_space, space_path
from dabench.task_settings import HEADLINE_METRIC


def plot_task(board: Leaderboard, task: str, path: Path) -> None:
    """Target-test metric per method with 95 % CI error bars, for the main table's selection and
    the oracle's side by side (hollow markers: single-seed cells), and source-only as a line."""
    cells = board.cells[board.cells["task"] == task]
    setting = cells["setting"].iloc[0]
    methods = methods_of(board, setting)
    fig = Figure(figsize=(max(1.1 * len(methods) + 2.5, 5.0), 3.8))
    ax = fig.subplots()
    oracle = cells[cells["criterion"] == "oracle"]
    series = (("label-free pick", cells[cells["primary"]], "C0", -0.12),
              ("oracle pick (target-val labels)", oracle, "C1", 0.12))  # fmt: skip
    for name, rows, color, shift in series:
        rows = rows.set_index("method").reindex(methods)
        x = np.arange(len(methods)) + shift
        rerun = rows["rerun"].fillna(False).astype(bool).to_numpy()
        yerr = rows["half"].fillna(0).to_numpy()
        for chosen, face, suffix in ((rerun, color, ""), (~rerun, "none", ", 1 seed")):
            if chosen.any():
                ax.errorbar(x[chosen], rows["mean"].to_numpy()[chosen], yerr=yerr[chosen],
                            fmt="o", color=color, mfc=face, capsize=4, label=name + suffix)  # fmt: skip
    baseline = cells[cells["primary"] & (cells["method"] == "source_only")]["mean"]
    if len(baseline) and not pd.isna(baseline.iloc[0]):
        ax.axhline(baseline.iloc[0], color="grey", linestyle="--", linewidth=1,
                   label="source-only (label-free pick)")  # fmt: skip
    ax.set_xticks(np.arange(len(methods)), [label(m).replace(" (", "\n(") for m in methods])
    ax.set_ylabel(f"target-test {HEADLINE_METRIC[setting]} (%)")
    ax.set_title(f"{task}\nmean over fresh seeds ± 95 % CI", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_sweep(board: Leaderboard, sweep: pd.Series, path: Path) -> bool:
    """The parallel-coordinate plot of one sweep (:func:`parallel_coordinates`) as a PNG;
    ``False`` when there is nothing to draw."""
    objective = from_key(sweep["objective"], sweep["setting"])
    figure = parallel_coordinates(board.trials[sweep["sweep"]], objective,
                                  sweep["method"], sweep.get("space_file"),
                                  f"{sweep['method']} on {sweep['task']}")  # fmt: skip
    if figure is None:
        return False
    figure.savefig(path, dpi=100)
    close(figure)
    return True


def parallel_coordinates(trials: pd.DataFrame, objective: Criterion, method: str,
                         space_file: str | None, title: str) -> Any | None:  # fmt: skip
    """Optuna's parallel-coordinate view of a sweep's ``trials`` (rows of
    :func:`dabench.records.readers.trials`): each trial's searched hyperparameters (axes from the
    sweep's search space, ``space_file`` or the method's) and its last value of the objective
    (pruned trials included, at the step they stopped); a matplotlib figure. ``None`` when there
    is nothing to draw (no searched parameter, under two scored trials)."""
    key = objective.key
    scored = trials[~trials["status"].isin(s.UNUSABLE)]
    scored = scored[scored[key].notna()] if key in scored else scored.iloc[:0]
    source = space_file if space_file and Path(space_file).is_file() else space_path(method)
    space = load_space(source, method=method)
    distributions = {p.name: p.distribution() for p in space.parameters}
    if not distributions or len(scored) < 2:
        return None
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line
    try:
        study = optuna.create_study(direction=f"{objective.mode}imize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    for _, row in scored.iterrows():
        params = {k: v for k, v in row["searched"].items() if k in distributions}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: distributions[k] for k in params},
            value=float(row[key])))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        ax = optuna.visualization.matplotlib.plot_parallel_coordinate(study, target_name=key)
    for lines in ax.collections:  # Optuna's white-to-blue map hides the worst trials
        lines.set_cmap("viridis")
    ax.set_title(f"{title}: {len(scored)} trials", fontsize=9)
    ax.figure.set_size_inches(max(8.0, 1.3 * len(distributions) + 3), 4.5)
    ax.figure.tight_layout()
    return ax.figure


def close(figure: Any) -> None:
    """Release a figure pyplot knows of (Optuna's); one made with ``Figure`` needs nothing."""
    if plt.fignum_exists(getattr(figure, "number", -1)):
        plt.close(figure)


def write_plots(board: Leaderboard, folder: Path) -> dict[str, list[Path]]:
    """One PNG per task and one per sweep under ``folder``; their paths, by task."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, list[Path]] = {}
    for task in dict.fromkeys(board.cells["task"]):
        slug = task.replace("/", "-")
        plot_task(board, task, folder / f"{slug}.png")
        paths[task] = [folder / f"{slug}.png"]
    for _, sweep in board.sweeps.iterrows():
        path = folder / f"sweep-{sweep['sweep'].replace('/', '-')}.png"
        if sweep["method"] not in REFERENCE and plot_sweep(board, sweep, path):
            paths[sweep["task"]].append(path)
    return paths


def metrics_vs_step(client: Any, frame: pd.DataFrame, keys: list[str]) -> Any:
    """Each of ``keys`` (the objective, the oracle) of every trial of ``frame`` (rows of
    :func:`dabench.records.readers.trials`) at each evaluation, from the trials' MLflow metric
    histories, side by side; one line per trial (dashed: pruned)."""
    figure = Figure(figsize=(5.5 * len(keys), 3.8), layout="constrained")
    axes = figure.subplots(1, len(keys), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for _, row in frame.iterrows():
            history = metric_history(client, row["run_id"], key)
            if history:
                steps, values = zip(*history, strict=True)
                style = "--" if row["status"] == s.PRUNED else "-"
                ax.plot(steps, values, style, marker=".", label=row["trial"])
        ax.set_xlabel("step")
        ax.set_title(key)
    axes[0][0].legend(fontsize=7)
    return figure
