"""Published numbers beside dabench's: a benchmark spec's ``published:`` block and the
leaderboard's table of them.

The block says where its numbers come from (``source``), how that protocol differs from
dabench's (``protocol``: printed above the table, since a number means little without it), the
numbers per task and method (``tasks``: the setting's headline metric in %, as the leaderboard's
cells) and, where the source reports one, its average over those tasks (``average``)::

    published:
      source: Transfer-Learning-Library, image_classification/README.md (ResNet-50)
      protocol: The reference picks each run's epoch on the target test set; ...
      tasks:
        office31/A2W: {source_only: 75.8, dann: 91.4}
      average: {source_only: 79.5, dann: 86.1}

The table has a row per task of the block that the leaderboard has, and one for the average
(where the block has several tasks); a column per method of the block that the leaderboard has;
each cell is dabench's main-table cell (label-free pick, mean ± CI over fresh seeds;
:func:`~dabench.reports.tables.format_cell`) / the published number. dabench's average is the
mean of its cell means over the block's tasks, shown only when it has them all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dabench.catalog.methods import METHODS
from dabench.reports.leaderboard import Leaderboard, label
from dabench.reports.tables import MISSING, format_cell


@dataclass(frozen=True)
class Published:
    """A spec's published numbers (see the module doc)."""

    source: str
    protocol: str
    tasks: dict[str, dict[str, float]]
    average: dict[str, float]

    @property
    def methods(self) -> list[str]:
        """The block's methods, in the registry's order."""
        named = {m for numbers in self.tasks.values() for m in numbers} | set(self.average)
        return [m for m in METHODS if m in named]


def from_mapping(data: dict[str, Any]) -> Published:
    """A :class:`Published` from a spec's ``published:`` mapping, whose shape the spec's check
    accepted (:data:`dabench.engine.options.PUBLISHED`); ``ValueError`` naming an unknown
    method."""
    block = Published(
        data["source"],
        data["protocol"],
        {t: {m: float(v) for m, v in n.items()} for t, n in data["tasks"].items()},
        {m: float(v) for m, v in data.get("average", {}).items()},
    )
    named = {m for n in block.tasks.values() for m in n} | set(block.average)
    unknown = sorted(named - set(METHODS))
    if unknown:
        raise ValueError(f"published: unknown method(s) {unknown}; known: {', '.join(METHODS)}")
    return block


def table(board: Leaderboard, published: Published) -> pd.DataFrame:
    """The block's tasks and methods that ``board`` has, and the average: dabench / published
    per method (see the module doc). Empty when the board has none of the tasks or methods."""
    main = board.cells[board.cells["primary"]].set_index(["task", "method"])
    tasks = [t for t in published.tasks if t in set(main.index.get_level_values("task"))]
    methods = [m for m in published.methods if m in set(main.index.get_level_values("method"))]
    if not tasks or not methods:
        return pd.DataFrame()
    rows = []
    for task in tasks:
        row = {"task": task}
        for method in methods:
            mine = (
                format_cell(main.loc[(task, method)]) if (task, method) in main.index else MISSING
            )
            theirs = published.tasks[task].get(method)
            row[label(method)] = f"{mine} / {MISSING if theirs is None else f'{theirs:.1f}'}"
        rows.append(row)
    every = list(published.tasks)
    if len(every) == 1:
        return pd.DataFrame(rows)
    average = {"task": f"average ({len(every)} tasks)"}
    for method in methods:
        means = [main.loc[(t, method), "mean"] for t in every if (t, method) in main.index]
        done = [m for m in means if not math.isnan(m)]
        mine = (f"{sum(done) / len(done):.1f}" if len(done) == len(every)
                else f"{MISSING} ({len(done)} of {len(every)} tasks)")  # fmt: skip
        theirs = published.average.get(method)
        average[label(method)] = f"{mine} / {MISSING if theirs is None else f'{theirs:.1f}'}"
    return pd.DataFrame([*rows, average])


def section(board: Leaderboard, blocks: Sequence[Published]) -> list[str]:
    """The leaderboard's "## Published numbers" section: a table per block (source) that has
    tasks on the board (markdown lines; none when no block has)."""
    lines = []
    for block in blocks:
        frame = table(board, block)
        if not frame.empty:
            lines += [f"Published: {block.source}.", "", f"**Protocol.** {block.protocol}", "",
                      frame.to_markdown(index=False, disable_numparse=True), ""]  # fmt: skip
    if not lines:
        return []
    return [
        "## Published numbers", "",
        "dabench / published, per task and method. dabench: the main table's cell (label-free "
        "selection, never target labels).", "", *lines,
    ]  # fmt: skip
