"""The leaderboard's tables: per setting, methods × tasks (the main table), realistic vs oracle
selection, cost and the picked hyperparameters; and the long form as CSV, the main tables as
LaTeX.

**Marks.** Bold: the best mean of its column among the adaptation methods (source-only and the
target oracle are references, not contenders). ``↓``: below source-only under the same selection
on the same task — negative transfer. ``*``: a single-seed value (not re-trained). ``–``:
nothing to show.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from dabench.reports.leaderboard import (
    CONFIDENCE,
    REFERENCE,
    Leaderboard,
    label,
    methods_of,
    tasks_of,
)

SETTING_TITLES = {
    "closed": "Closed-set: target-test accuracy (%)",
    "partial": "Partial: target-test accuracy (%)",
    "open_set": "Open-set: target-test H-score (%)",
    "segmentation": "Segmentation: target-test mIoU (%)",
}
NEGATIVE, SINGLE, MISSING = "↓", "*", "–"
LEGEND = (f"mean ± half-width of the {CONFIDENCE:.0%} CI over fresh seeds; {SINGLE}: one trial's "
          f"own value (not re-trained); {NEGATIVE}: below source-only; bold: the best adaptation "
          f"method of the column; {MISSING}: no finished sweep")  # fmt: skip
"""The marks of a main table, in one line (the markdown document explains them at length)."""


def settings_of(board: Leaderboard) -> list[str]:
    """The settings on the board, in ``SETTING_TITLES`` order."""
    present = set(board.cells["setting"])
    return [setting for setting in SETTING_TITLES if setting in present]


def selection_line(board: Leaderboard, setting: str) -> str:
    """What picked the main table's cells of ``setting`` (the target oracle's aside), in words."""
    cells = board.cells
    mine = cells[(cells["setting"] == setting) & cells["primary"]
                 & (cells["method"] != "target_oracle")]  # fmt: skip
    used = list(dict.fromkeys(mine["criterion"]))
    if used == ["oracle"]:
        return "Selected by the oracle (target-val labels): not a realistic result."
    return f"Selected by {', '.join(used)} (label-free)."


def format_cell(row: pd.Series | dict) -> str:
    """``mean ± half`` (1 decimal) for a re-trained pick, ``mean*`` for a single-seed one, ``–``
    for none; ``↓`` appended for negative transfer, ``[collapsed 2/3]`` (or ``never rejects``)
    for runs a label-free failure mode flags."""
    if not row["n"]:
        return MISSING
    text = f"{row['mean']:.1f}"
    if row["rerun"]:
        text += f" ± {row['half']:.1f}" if row["n"] > 1 else " (1 seed)"
    else:
        text += SINGLE
    text += f" {NEGATIVE}" if row["negative_transfer"] else ""
    failures = pd.Series(row.get("failures") or [], dtype=object).value_counts()
    return text + "".join(f" [{mode} {k}/{row['n']}]" for mode, k in failures.items())


def main_table(board: Leaderboard, setting: str) -> pd.DataFrame:
    """Rows: methods; columns: the setting's tasks, and their average when there are several
    (the mean of the cell means; ``–`` unless the method has every task). Each cell under its
    sweep's primary criterion; the best adaptation method per column in bold."""
    cells = board.cells[(board.cells["setting"] == setting) & board.cells["primary"]]
    tasks, methods = tasks_of(board, setting), methods_of(board, setting)
    means = cells.pivot_table(index="method", columns="task", values="mean", aggfunc="first")
    means = means.reindex(index=methods, columns=tasks)
    text = pd.DataFrame(MISSING, index=methods, columns=tasks, dtype=object)
    for _, row in cells.iterrows():
        text.loc[row["method"], row["task"]] = format_cell(row)
    if len(tasks) > 1:
        means["average"] = means[tasks].mean(axis=1, skipna=False)
        text["average"] = [MISSING if pd.isna(v) else f"{v:.1f}" for v in means["average"]]
    contenders = [m for m in methods if m not in REFERENCE]
    for column in text.columns:
        best = means.loc[contenders, column].max() if contenders else math.nan
        for method in contenders:
            if not pd.isna(best) and means.loc[method, column] == best:
                text.loc[method, column] = f"**{text.loc[method, column]}**"
    text.index = [label(m) for m in methods]
    text.index.name = "method"
    return text


def realistic_vs_oracle(board: Leaderboard, setting: str) -> pd.DataFrame:
    """Rows: (task, method); columns: the cell under each label-free criterion made (the primary
    one first), under the oracle, and the gap: oracle mean − primary mean. The target oracle is
    left out: it is picked by the oracle in any case."""
    cells = board.cells[(board.cells["setting"] == setting)
                        & (board.cells["method"] != "target_oracle")]  # fmt: skip
    gaps = selection_gaps(board).set_index(["task", "method", "criterion"])["gap"]
    names = list(dict.fromkeys([
        *cells.loc[cells["primary"], "criterion"], *cells["criterion"]]))  # fmt: skip
    names = [n for n in names if n != "oracle"]
    rows = []
    for task in tasks_of(board, setting):
        for method in [m for m in methods_of(board, setting) if m != "target_oracle"]:
            mine = cells[(cells["task"] == task) & (cells["method"] == method)]
            if mine.empty:
                continue
            by = {r["criterion"]: r for _, r in mine.iterrows()}
            primary = mine[mine["primary"]].iloc[0]
            row = {"task": task, "method": label(method)}
            for name in names:
                header = f"{name} (main table)" if name == primary["criterion"] else name
                row[header] = format_cell(by[name]) if name in by else MISSING
            oracle = by.get("oracle")
            row["oracle"] = format_cell(oracle) if oracle is not None else MISSING
            gap = gaps.get((task, method, primary["criterion"]), math.nan)
            row["gap"] = MISSING if pd.isna(gap) else f"{round(gap, 1) + 0.0:+.1f}"  # no -0.0
            rows.append(row)
    return pd.DataFrame(rows)


def selection_gaps(board: Leaderboard) -> pd.DataFrame:
    """One row per label-free cell that has an oracle cell beside it (the target oracle aside):
    ``setting``, ``task``, ``method``, ``criterion``, ``primary`` and ``gap`` = oracle mean −
    the cell's mean, in points — what selecting without target labels cost there."""
    cells = board.cells[board.cells["method"] != "target_oracle"]
    oracle = cells[cells["criterion"] == "oracle"].set_index(["task", "method"])["mean"]
    free = cells[cells["criterion"] != "oracle"]
    keys = pd.MultiIndex.from_frame(free[["task", "method"]])
    free = free[keys.isin(oracle.index)]
    gap = oracle.reindex(pd.MultiIndex.from_frame(free[["task", "method"]])).to_numpy()
    return free[["setting", "task", "method", "criterion", "primary"]].assign(
        gap=gap - free["mean"].to_numpy()
    )


PUBLISHED_PRICE = {"entropy": 2.8, "dev": 12.2, "snd": 15.8}
"""Points of target accuracy lost by selecting with a label-free scorer instead of target labels,
mean over SKADA-Bench's deep results (Lalou et al. 2024, arXiv 2407.11676; published as regrets
−2.8 for prediction entropy, −3.1 for importance weighting, −12.2 for DEV, −15.8 for SND), by the
name of the dabench criterion of the same kind."""
PRICE_GOAL = (1.5, 5.0)
"""What a setting's default criterion should cost at most: on average and at worst (points)."""


def price_of_selection(board: Leaderboard) -> pd.DataFrame:
    """Per setting and label-free criterion, over every (method, task) whose pick by it and whose
    oracle pick were both re-trained with fresh seeds (the target oracle aside): the price of
    selecting without target labels, ``oracle mean − criterion mean`` in points — its mean, its
    worst and where the worst is — beside :data:`PUBLISHED_PRICE`."""
    rows = []
    for (setting, criterion), mine in selection_gaps(board).groupby(
        ["setting", "criterion"], sort=False
    ):
        price = mine.set_index(["task", "method"])["gap"]
        worst = price.idxmax()
        rows.append({
            "setting": setting, "criterion": criterion,
            "default": "yes" if bool(mine["primary"].all()) else "",
            "cells": len(price), "mean price": f"{price.mean() + 0.0:.1f}",
            "worst price": f"{price.max() + 0.0:.1f} ({label(worst[1])}, {worst[0]})",
            "published mean (SKADA-Bench)": (f"{PUBLISHED_PRICE[criterion]:.1f}"
                                             if criterion in PUBLISHED_PRICE else MISSING),
        })  # fmt: skip
    return pd.DataFrame(rows)


def cost_table(board: Leaderboard) -> pd.DataFrame:
    """Per (task, method): trials by status, seed runs, wall minutes, CPU and GPU seconds; a
    total."""
    cost = board.cost.copy()
    table = pd.DataFrame({
        "task": cost["task"], "method": cost["method"].map(label),
        "trials (completed / pruned / failed)": [
            f"{c} / {p} / {f}" for c, p, f in cost[["completed", "pruned", "failed"]].values],
        "seed runs": cost["seed_runs"],
        "wall (min)": (cost["wall_s"] / 60).round(1),
        "CPU (s)": cost["cpu_s"].round().astype(int),
        "GPU (s)": cost["gpu_s"].round().astype(int),
    })  # fmt: skip
    total = {"task": "**total**", "method": "",
             "trials (completed / pruned / failed)": " / ".join(
                 str(int(cost[k].sum())) for k in ("completed", "pruned", "failed")),
             "seed runs": int(cost["seed_runs"].sum()),
             "wall (min)": round(cost["wall_s"].sum() / 60, 1),
             "CPU (s)": round(cost["cpu_s"].sum()),
             "GPU (s)": round(cost["gpu_s"].sum())}  # fmt: skip
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def hyperparameter_table(board: Leaderboard) -> pd.DataFrame:
    """Per (task, method): the searched hyperparameters of the main table's pick and of the
    oracle's pick ("same" when it is the same trial)."""
    rows = []
    for (task, method), cells in board.cells.groupby(["task", "method"], sort=False):
        primary = cells[cells["primary"]].iloc[0]
        oracle = cells[cells["criterion"] == "oracle"]
        oracle_text = MISSING
        if len(oracle) and oracle["trial"].iloc[0] is not None:
            same = oracle["trial"].iloc[0] == primary["trial"]
            oracle_text = "same" if same else _searched(oracle["searched"].iloc[0])
        rows.append({"task": task, "method": label(method),
                     "label-free pick": f"{_searched(primary['searched'])} "
                     f"({primary['criterion']})" if primary["trial"] else MISSING,
                     "oracle pick": oracle_text})  # fmt: skip
    return pd.DataFrame(rows)


def _searched(values: dict[str, Any]) -> str:
    return (
        ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        or "(nothing searched)"
    )


def to_csv(board: Leaderboard) -> str:
    """The long form: one row per (task, method, criterion) with the values, joined with cost."""
    cells = board.cells.drop(columns=["searched"]).assign(
        values=board.cells["values"].map(lambda v: " ".join(f"{x:.4g}" for x in v)),
        searched=board.cells["searched"].map(lambda d: json.dumps(d, sort_keys=True)),
    )
    cost = board.cost.drop(columns=["setting"])
    return cells.merge(cost, on=["task", "method"], how="left").to_csv(index=False)


def to_latex(board: Leaderboard) -> str:
    """The main tables as LaTeX ``tabular`` environments (booktabs), one per setting."""
    parts = []
    for setting in settings_of(board):
        frame = main_table(board, setting)
        frame = frame.replace(r"\*\*(.*)\*\*", r"\\textbf{\1}", regex=True)
        frame = frame.replace({"±": r"$\\pm$", "↓": r"$\\downarrow$", "–": "--"}, regex=True)
        latex = frame.to_latex(escape=False, column_format="l" + "c" * len(frame.columns))
        parts.append(f"% {SETTING_TITLES[setting]}\n{latex.replace('_', chr(92) + '_')}")
    return "\n".join(parts)
