"""The leaderboard as one markdown document (or CSV or LaTeX, :mod:`.tables`): provenance, the
chunks it was built from, the claims, the published numbers beside dabench's, per setting the
main table, realistic vs oracle and the plots, then cost, the picked hyperparameters, the
commands that made the runs and what was left out. Rendering is a pure function of the board and
what is passed in (the :class:`Stamp` says who made it, when), so a leaderboard rebuilt from
committed runs files differs only there.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from dabench.reports import claims
from dabench.reports.leaderboard import CONFIDENCE, DECISIONS, Leaderboard, tasks_of
from dabench.reports.plots import write_plots
from dabench.reports.published import Published, section
from dabench.reports.tables import (
    MISSING,
    NEGATIVE,
    PRICE_GOAL,
    SETTING_TITLES,
    SINGLE,
    cost_table,
    hyperparameter_table,
    main_table,
    price_of_selection,
    realistic_vs_oracle,
    selection_line,
    settings_of,
    to_csv,
    to_latex,
)

FORMATS = ("md", "csv", "latex")


@dataclass(frozen=True)
class Stamp:
    """Who rendered a document and when: the time, dabench's version and its commit."""

    generated: datetime
    version: str
    commit: str


def markdown(board: Leaderboard, source: str, command: str, stamp: Stamp, plots: dict[str, list[Path]],
             relative_to: Path | None = None, reading: str = "",
             published: Sequence[Published] = ()) -> str:  # fmt: skip
    """The whole leaderboard as one markdown document: provenance, the claims, the
    ``published`` numbers beside dabench's, per setting the main table, realistic vs oracle and
    the plots, then cost, best hyperparameters, the commands that made the runs, what was left
    out and ``reading`` (a hand-written section kept across regenerations)."""

    def table(frame: pd.DataFrame, index: bool = False) -> str:
        return frame.to_markdown(index=index, disable_numparse=True)

    def rel(path: Path) -> str:
        return os.path.relpath(path, relative_to) if relative_to else str(path)

    def link(path: Path) -> str:
        return f"![{path.stem}]({rel(path)})"

    lines = [
        "# dabench leaderboard", "",
        f"Generated {stamp.generated:%Y-%m-%d %H:%M} UTC by `{command}`, dabench "
        f"{stamp.version} (commit {_short_commit(stamp.commit)}), "
        f"from {source}.", "",
        *provenance_lines(board), "",
        "**How to read it.** A cell is the target-test metric of the configuration a selection "
        "criterion picked from the (method, task) sweep, re-trained with fresh seeds "
        f"(`dabench rerun`): mean ± half-width of the {CONFIDENCE:.0%} Student-t interval "
        f"(t · s/√n). `{SINGLE}`: not re-trained, the picked trial's own single-seed value "
        "(flattered: it won among many seeds). **Bold**: the best adaptation method of the column. "
        f"`{NEGATIVE}`: below source-only under the same selection (negative transfer). `–`: no "
        "finished sweep. Main tables use label-free selection (each sweep's own objective); the "
        "oracle (target-val labels) appears only beside it, in the realistic-vs-oracle tables, "
        "with the gap oracle − label-free. The target oracle trains on target labels and is "
        "picked by the oracle: an upper reference, not an adaptation result.", "",
    ]  # fmt: skip
    if not board.chunks.empty:
        chunks = pd.DataFrame({
            "benchmark": board.chunks["benchmark"],
            "wall (h)": (board.chunks["wall_s"] / 3600).map("{:.2f}".format),
            "finished": board.chunks["finished"], "machine": board.chunks["machine"],
            "commit": board.chunks["git_commit"].map(
                lambda c: ", ".join(_short_commit(x) for x in c.split(", "))),
            "tasks read": [", ".join(used) + "".join(f" (not {t}: a later chunk re-ran it)"
                                                     for t in old)
                           for used, old in zip(board.chunks["tasks"], board.chunks["superseded"],
                                                strict=True)],
            "command": board.chunks["command"].map("`{}`".format),
        })  # fmt: skip
        lines += ["Chunks (each a `dabench benchmark` of its own; wall time over all its "
                  "sessions):", "", table(chunks), ""]  # fmt: skip
    if reading:  # after every generated line above: it runs up to the next "## " heading
        lines += [reading.rstrip(), ""]
    lines += claims_section(board)
    lines += price_section(board)
    lines += section(board, published)
    for setting in settings_of(board):
        lines += [f"## {SETTING_TITLES[setting]}", "", selection_line(board, setting), "",
                  table(main_table(board, setting), index=True), "",
                  "Realistic vs oracle selection:", "",
                  table(realistic_vs_oracle(board, setting)), ""]  # fmt: skip
        for task in tasks_of(board, setting):
            if plots.get(task):
                first, *sweeps = plots[task]
                lines += [link(first), ""]
                if sweeps:
                    lines += [f"Parallel coordinates of the {task} sweeps (each trial's searched "
                              "values and last objective): " + ", ".join(
                                  f"[{p.stem.removeprefix('sweep-')}]({rel(p)})" for p in sweeps),
                              ""]  # fmt: skip
    lines += ["## Cost", "", "Everything run for each (method, task): its sweep's trials and the "
              "seed runs of its picks; CPU/GPU seconds = run time × resources per trial.", "",
              table(cost_table(board)), "",
              "## Best hyperparameters", "", table(hyperparameter_table(board)), "",
              "## Commands", "", "The runs were made by (wall time as each recorded it):", "",
              "```", *command_lines(board), "```", ""]  # fmt: skip
    if board.left_out:
        lines += ["## Left out", "", *[f"- {item}" for item in board.left_out], ""]
    return "\n".join(line for line in lines) + "\n"


def claims_section(board: Leaderboard) -> list[str]:
    """The "## Claims" section: :data:`dabench.reports.claims.CLAIMS` tested on the main tables and
    the per-task tests."""
    per_task, summary = claims.check_claims(board.cells)
    if per_task.empty:
        return []

    def p_value(p: float) -> str:
        return MISSING if pd.isna(p) else f"{p:.3f}" if p >= 0.001 else "< 0.001"

    def effects(frame: pd.DataFrame) -> list[str]:
        """Each row's mean difference with its interval, in points."""
        return [MISSING if pd.isna(diff) else f"{diff:+.1f}" + (
                    "" if pd.isna(low) else f" ({low:+.1f} to {high:+.1f})")
                for diff, (low, high) in zip(frame["diff"], frame["ci"], strict=True)]  # fmt: skip

    summary = pd.DataFrame({
        "claim": summary["claim"], "source": summary["source"], "tasks": summary["tasks"],
        "per task (raw)": summary["per task"],
        "difference (95% CI)": effects(summary),
        "test": summary["test"], "p": summary["p"].map(p_value),
        "p (Holm)": summary["p (Holm)"].map(p_value), "verdict": summary["verdict"],
    })  # fmt: skip
    per_task_raw, per_task = per_task, pd.DataFrame({
        "claim": per_task["claim"], "task": per_task["task"],
        "better": per_task["better"].map("{:.1f}".format),
        "worse": per_task["worse"].map("{:.1f}".format),
        "difference (95% CI)": effects(per_task),
        "seeds": per_task["n"], "p (paired t, one-sided)": per_task["p"].map(p_value),
        "raw verdict": per_task["verdict"],
    })  # fmt: skip
    lines = [
        "## Claims", "",
        "The orderings the methods' papers report, tested on the main tables (label-free "
        "selection). Each claim is one one-sided test: across 5 or more tasks the Wilcoxon "
        "signed-rank test of the per-task mean differences (with k tasks its p cannot go below "
        "2^-k); with fewer, \"every task reproduces it\" (the largest per-task p of a paired "
        "t-test over the fresh seeds, both picks having run with the same seeds). Holm's "
        "correction over all the claims holds the chance of any false verdict at "
        f"{claims.ALPHA}: a claim is reproduced when its Holm-adjusted p is below {claims.ALPHA}, "
        "contradicted when the opposite ordering's is. Differences are in points, with 95 % "
        "t-intervals (across tasks for a claim, across seeds for a task); per-task verdicts "
        "are the uncorrected tests. Method: `dabench.reports.claims`.", "",
        summary.to_markdown(index=False, disable_numparse=True), "",
        "Per task:", "", per_task.to_markdown(index=False, disable_numparse=True), "",
    ]  # fmt: skip
    verdicts = dict(zip(summary["claim"], summary["verdict"], strict=True))
    failed = [(row["task"], row["methods"], verdicts[row["claim"]])
              for _, row in per_task_raw.iterrows()
              if verdicts[row["claim"]] != claims.REPRODUCED]  # fmt: skip
    if failed:
        lines += [
            "### The runs behind the orderings that did not reproduce", "",
            "Per claim not reproduced at the adjusted level, and per task of it, each method's "
            "label-free pick and its oracle pick, re-trained: "
            "the target-test value of every fresh seed and the label-free share of target-val "
            "decisions that shows how a model fails (open-set: rejected as unknown; else: in the "
            "most predicted class). Where the oracle pick does no better, the ordering fails in "
            "training, not in selection.", "",
            diagnosis_table(board, failed).to_markdown(index=False, disable_numparse=True), "",
        ]  # fmt: skip
    return lines


def price_section(board: Leaderboard) -> list[str]:
    """The "## The price of label-free selection" section
    (:func:`~dabench.reports.tables.price_of_selection`)."""
    prices = price_of_selection(board)
    if prices.empty:
        return []
    mean, worst = PRICE_GOAL
    return [
        "## The price of label-free selection", "",
        "Per setting and criterion, over every (method, task) whose label-free pick and oracle "
        "pick were both re-trained with the fresh seeds: the oracle pick's mean target-test "
        "score minus the label-free pick's, in points (what selecting without target labels "
        "cost; negative: the label-free pick did better on fresh seeds). The goal for a "
        f"setting's default criterion: at most {mean} points on average and {worst} at worst. "
        "Beside it, the mean over SKADA-Bench's deep results (Lalou et al. 2024, published as "
        "regrets against the supervised scorer; also importance weighting: 3.1) for the "
        "criterion of the same kind: other methods, datasets and grids, so a yardstick, not a "
        "comparison of numbers.", "",
        prices.to_markdown(index=False, disable_numparse=True), "",
    ]  # fmt: skip


def diagnosis_table(board: Leaderboard, failed: list[tuple[str, tuple[str, str], str]]
                    ) -> pd.DataFrame:  # fmt: skip
    """One row per (claim, task, method) of ``failed``: the label-free (main-table) pick's and
    the oracle pick's trial, per-seed target-test values and per-seed decision share
    (:data:`~dabench.reports.leaderboard.DECISIONS`)."""
    cells = board.cells.set_index(["task", "method", "criterion"])
    main = board.cells[board.cells["primary"]].set_index(["task", "method"])["criterion"]
    rows = []
    for task, methods, verdict in failed:
        for method in methods:
            if (task, method) not in main.index:
                continue
            label_free = cells.loc[(task, method, main[(task, method)])]
            setting = label_free["setting"]
            key = (task, method, "oracle")
            oracle = cells.loc[key] if key in cells.index else None
            rows.append({
                "claim": f"{methods[0]} > {methods[1]}: {verdict}", "task": task,
                "method": method,
                "label-free pick": _trial_name(label_free["trial"]),
                "seeds": _per_seed(label_free["values"]),
                "its decisions": _per_seed(label_free["decisions"], "{:.0f}")
                + (f" % {DECISIONS[setting][1]}" if label_free["decisions"] else ""),
                "oracle pick": MISSING if oracle is None else (
                    "same" if oracle["trial"] == label_free["trial"]
                    else _trial_name(oracle["trial"])),
                "oracle seeds": MISSING if oracle is None else _per_seed(oracle["values"]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _trial_name(trial: Any) -> str:
    return MISSING if trial is None or pd.isna(trial) else str(trial)


def _per_seed(values: list[float], fmt: str = "{:.1f}") -> str:
    return " / ".join(fmt.format(v) for v in values) if len(values) else MISSING


def provenance_lines(board: Leaderboard) -> list[str]:
    """Where and with what the runs were made, from the sweeps' own records."""
    sweeps = board.sweeps
    if sweeps.empty:
        return ["No finished sweep."]
    commits = sweeps["git_commit"].fillna("unknown").map(_short_commit).value_counts()
    machines = sweeps["machine"].dropna().unique()
    wall = board.cost["wall_s"].sum()
    made_with = ", ".join(f"{c} ({_count(n, 'sweep')})" for c, n in commits.items())
    where = f", on {'; '.join(machines)}." if len(machines) else "."
    lines = [
        f"Runs: {_count(len(sweeps), 'sweep')} and "
        f"{_count(int(sweeps['groups'].sum()), 'seeds group')}, {_hours(wall)} of wall time in "
        "all (each sweep's and group's own; a benchmark runs them side by side); made with "
        f"dabench commit(s) {made_with}{where}"
    ]
    if len(board.runtimes):
        lines += ["", "Trials and seed runs ran on (what their numbers depend on besides config and "
                  "seed; `dabench.runtime`): " + "; ".join(
                      f"{text} ({_count(int(n), 'run')})" for text, n in board.runtimes.items()
                  ) + "."]  # fmt: skip
    benchmarks = sweeps["benchmark"].dropna()
    if len(benchmarks):
        lines += ["", "Made by `dabench benchmark` (a spec's chunk is the benchmark "
                  "`<spec>-<chunk>`): " + ", ".join(
                      f"`{name}` ({_count(n, 'sweep')})"
                      for name, n in benchmarks.value_counts(sort=False).items()) + "."]  # fmt: skip
    return lines


def _count(n: int, noun: str) -> str:
    """``1 sweep``, ``2 sweeps``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _hours(seconds: float) -> str:
    """A wall time in hours, or in minutes or seconds when under an hour or a minute."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _short_commit(commit: str) -> str:
    dirty = commit.endswith("-dirty")
    return commit.removesuffix("-dirty")[:12] + ("-dirty" if dirty else "")


def command_lines(board: Leaderboard) -> list[str]:
    lines = []
    for _, sweep in board.sweeps.iterrows():
        cost = board.cost[(board.cost["task"] == sweep["task"])
                          & (board.cost["method"] == sweep["method"])]["wall_s"]  # fmt: skip
        lines.append(f"{sweep['command'] or '(command not recorded)'}   "
                     f"# {cost.sum() / 60:.1f} min")  # fmt: skip
    return lines


def reading_section(previous: Path) -> str:
    """The hand-written "## Reading" section of a previous markdown leaderboard (up to the next
    "## " heading), kept when it is regenerated."""
    if not previous.is_file():
        return ""
    text = previous.read_text()
    start = text.find("\n## Reading\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start + 1 : end if end > 0 else None]


def render(board: Leaderboard, fmt: str, source: str, command: str, stamp: Stamp,
           out: Path | None = None, plots_dir: Path | None = None,
           published: Sequence[Published] = ()) -> str:  # fmt: skip
    """The leaderboard in ``fmt`` (md, csv, latex); plots written to ``plots_dir`` (markdown);
    the ``published`` numbers of a benchmark spec beside dabench's (markdown)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if board.cells.empty:
        raise ValueError("no finished sweep in the chosen experiment(s): run `dabench sweep` "
                         "(with --seeds 3) first")  # fmt: skip
    if fmt == "csv":
        return to_csv(board)
    if fmt == "latex":
        return to_latex(board)
    plots = write_plots(board, plots_dir) if plots_dir else {}
    reading = reading_section(out) if out else ""
    return markdown(
        board, source, command, stamp, plots, out.parent if out else None, reading, published
    )
