"""Runs files: the records a leaderboard is built from, as plain CSV files to commit or to carry
to another machine (``dabench export``; a finished benchmark writes its own), with a chunk record
beside each (how long the benchmark took, where, with which commits).

A runs file holds the :data:`EXPORTED` columns of :func:`dabench.records.readers.load_runs` and
every metric, one row per run; :func:`read_runs` gives back the same table.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from dabench.records import schema as s
from dabench.records.readers import column, tag
from dabench.records.store import redact

EXPORTED = [
    "run_id", "experiment_id", "status", "start_time",
    *(tag(t) for t in (s.KIND, s.SWEEP, s.METHOD, s.TASK, s.OBJECTIVE, s.STATUS, s.PARENT,
                       s.RUN_NAME, s.SEARCHED, s.SELECTED_TRIAL, s.BENCHMARK, s.RUNTIME)),
    *(f"params.{p}" for p in ("command", "git_commit", "space_file", "machine")),
]  # fmt: skip
"""The columns of a runs table the leaderboard reads (besides every ``metrics.*``)."""


def save_runs(runs: pd.DataFrame, path: Path) -> None:
    """Write what the leaderboard reads of ``runs`` to a CSV file: the :data:`EXPORTED` columns
    and every metric, one row per run, in the table's order."""
    columns = [c for c in EXPORTED if c in runs] + sorted(
        c for c in runs if c.startswith("metrics.")
    )
    frame = runs[columns].copy()
    if "params.command" in frame:  # credentials never reach a committed file
        frame["params.command"] = frame["params.command"].map(
            lambda c: redact(c) if isinstance(c, str) else c)  # fmt: skip
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True).map(lambda t: t.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def of_benchmark(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    """The runs ``dabench benchmark`` ``name`` made — its sweeps and seeds groups (tagged with
    its name) and their trials and seed runs — and the seeds groups a later ``dabench rerun``
    made for its sweeps' trials (a group whose seed runs failed is re-run that way)."""
    parent = column(runs, tag(s.PARENT))
    own = column(runs, tag(s.BENCHMARK)) == name
    trials = runs.loc[parent.isin(runs.loc[own, "run_id"]), "run_id"]
    later = (column(runs, tag(s.KIND)) == s.SEEDS_KIND) & column(
        runs, tag(s.SELECTED_TRIAL)).isin(trials)  # fmt: skip
    groups = own | later
    return runs[groups | parent.isin(runs.loc[groups, "run_id"])]


def read_runs(paths: Path | Sequence[Path]) -> pd.DataFrame:
    """The runs of :func:`save_runs` files, as :func:`~dabench.records.readers.load_runs` gives
    them (tags and params as strings, metrics as floats, ``start_time`` as UTC timestamps); a run
    in several files once. A task whose runs are in several files — a later chunk re-ran it,
    e.g. after a fix — is read from the newest file only (:func:`newest_per_task`)."""
    return RunsFiles([paths] if isinstance(paths, Path) else paths).runs()


class RunsFiles:
    """Several runs files, each read once, and the chunk records beside them."""

    def __init__(self, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError("--runs: no file given")
        self.paths = list(paths)
        self.frames = {path: _read_file(path) for path in self.paths}
        self.used = newest_per_task(self.frames)

    def runs(self) -> pd.DataFrame:
        """The runs the leaderboard reads: each task from the newest file that has it."""
        kept = [frame[column(frame, tag(s.TASK)).isin(self.used[path])]
                for path, frame in self.frames.items()]  # fmt: skip
        return pd.concat(kept, ignore_index=True).drop_duplicates("run_id", keep="last")

    def records(self) -> pd.DataFrame:
        """The chunk records beside the files (those that have one), with the tasks read from
        each file (``tasks``) and those a newer file re-ran (``superseded``)."""
        records = []
        for path, frame in self.frames.items():
            record = chunk_record(path)
            if record is not None:
                superseded = [t for t in _tasks(frame) if t not in self.used[path]]
                records.append({**record, "tasks": self.used[path], "superseded": superseded})
        return pd.DataFrame(records)


def chunk_record(runs_path: Path) -> dict[str, Any] | None:
    """The :func:`save_chunk_record` record beside ``runs_path``, if there is one."""
    record = runs_path.with_suffix(".json")
    return json.loads(record.read_text()) if record.is_file() else None


def _tasks(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(column(frame, tag(s.TASK)).dropna()))


def newest_per_task(frames: dict[Path, pd.DataFrame]) -> dict[Path, list[str]]:
    """Runs file → the tasks read from it: each task from the newest file that has it, by the
    ``finished`` time of the chunk record beside the file (:func:`save_chunk_record`); a file
    without a record counts as older than every recorded one, in the order given."""
    finished = {path: (chunk_record(path) or {}).get("finished", "") for path in frames}
    taken: set[str] = set()
    used: dict[Path, list[str]] = {}
    for path in sorted(frames, key=finished.__getitem__, reverse=True):  # stable among equals
        used[path] = [t for t in _tasks(frames[path]) if t not in taken]
        taken.update(_tasks(frames[path]))
    return {path: used[path] for path in frames}


def save_chunk_record(runs_path: Path, runs: pd.DataFrame, benchmark: str, wall_s: float,
                      command: str, machine: str) -> None:  # fmt: skip
    """Beside a finished benchmark's runs file (:func:`save_runs` of ``runs``), ``<name>.json``:
    how long it took (wall time over all its sessions), when the record was written, on which
    ``machine``, the dabench commits its sweeps ran with, and the command."""
    sweeps = runs[column(runs, tag(s.KIND)) == s.SWEEP_KIND]
    commits = sorted(set(column(sweeps, "params.git_commit").dropna()))
    record = {"benchmark": benchmark, "wall_s": round(wall_s, 1), "command": redact(command),
              "finished": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine,
              "git_commit": ", ".join(commits) or "unknown"}  # fmt: skip
    runs_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


REQUIRED = ("run_id", "status", "start_time", tag(s.KIND))
"""The columns every row of a runs file fills."""
RUN_STATUSES = ("FINISHED", "KILLED", "FAILED", "RUNNING", "SCHEDULED")
KINDS = (s.SWEEP_KIND, s.TRIAL_KIND, s.SEEDS_KIND)


def _read_file(path: Path) -> pd.DataFrame:
    """A runs file, read strictly: the header's columns, then every row checked — as many fields
    as the header, the :data:`REQUIRED` ones filled, a known status and kind, an ISO start time,
    numbers in the metric columns — so that a damaged file (a row cut short in a merge, say) is
    refused naming the file, the line and the column, instead of changing a table."""
    if not path.is_file():
        raise ValueError(f"--runs {path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = csv.reader(file)
            header = next(rows, None)
            if not header:
                raise ValueError(f"--runs {path}: empty; not a file of `dabench export`")
            missing = set(REQUIRED) - set(header)
            if missing:
                raise ValueError(f"--runs {path}: not a file of `dabench export` (no "
                                 f"{sorted(missing)})")  # fmt: skip
            body = []
            for row in rows:
                check_row(path, rows.line_num, header, row)
                body.append(row)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"--runs {path}: not a CSV file of `dabench export` ({error})") from None
    frame = pd.DataFrame(body, columns=header, dtype=object).replace("", None)  # empty: missing
    metrics = [c for c in header if c.startswith("metrics.")]
    frame[metrics] = frame[metrics].astype(float)
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True, format="ISO8601")
    return frame


def check_row(path: Path, line: int, header: list[str], row: list[str]) -> None:
    """One row of a runs file against its header; ``ValueError`` naming the line and column."""
    where = f"--runs {path}, line {line}"
    if len(row) != len(header):
        raise ValueError(f"{where}: {len(row)} fields where the header has {len(header)} (a row "
                         "cut short or two rows merged?)")  # fmt: skip
    values = dict(zip(header, row, strict=True))
    for column_name in REQUIRED:
        if not values[column_name]:
            raise ValueError(f"{where}, column {column_name}: empty")
    for column_name, allowed in (("status", RUN_STATUSES), (tag(s.KIND), KINDS)):
        if values[column_name] not in allowed:
            raise ValueError(f"{where}, column {column_name}: {values[column_name]!r} is none of "
                             f"{', '.join(allowed)}")  # fmt: skip
    try:
        datetime.fromisoformat(values["start_time"])
    except ValueError:
        raise ValueError(f"{where}, column start_time: {values['start_time']!r} is not an ISO "
                         "time") from None  # fmt: skip
    for column_name, value in values.items():
        if column_name.startswith("metrics.") and value:
            try:
                float(value)
            except ValueError:
                raise ValueError(f"{where}, column {column_name}: {value!r} is not a "
                                 "number") from None  # fmt: skip
