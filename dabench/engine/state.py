"""What a sweep or a benchmark keeps beside Ray's own state in its folder, so that the same
command (or ``--resume``) continues it: the options or the plan, the MLflow runs it opened and
the wall time of the sessions that ended (written whole: a temporary file and a rename); the
lock that lets one driver at a time run it (:func:`hold`); and the repair of Tune's own state
files that a killed driver left cut short (:func:`repair_tune_state`)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dabench import storage
from dabench.compat import ray_temp_dir
from dabench.engine.options import SweepOptions
from dabench.records.store import redact

log = logging.getLogger(__name__)

SWEEP_STATE = "dabench_sweep.json"
BENCHMARK_STATE = "dabench_benchmark.json"
LOCK_FILE = "dabench.lock"
OURS = {SWEEP_STATE, BENCHMARK_STATE, LOCK_FILE, "engines.log"}
"""The files dabench puts in a folder of its own before Ray does."""


@contextmanager
def hold(folder: str, what: str) -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` (a sweep's or a benchmark's, under ``--storage``)
    while the block runs: a second driver of the same sweep or benchmark is refused with who
    holds it and how to wait or stop it. The lock is the operating system's (``flock`` on
    ``<folder>/dabench.lock``), so a driver that dies — even by SIGKILL — releases it, and the
    next one takes it over. Local folders (and ``file://``) only: an object store has no locks,
    and there the user keeps to one driver."""
    if storage.is_uri(folder) and not folder.startswith("file://"):
        yield
        return
    path = Path(folder.removeprefix("file://")) / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ValueError(f"{folder}: cannot write there ({error.strerror})") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_of(path)
            raise ValueError(
                f"{what} is being run by another driver ({holder.get('text', 'unknown')}); wait "
                f"for it to finish, or stop it with `kill -INT {holder.get('pid', '<its pid>')}` "
                "(it saves its state), then run the same command again"
            ) from None
        os.ftruncate(handle, 0)
        os.write(handle, json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
            "command": redact(" ".join(["dabench", *sys.argv[1:]])),
        }).encode())  # fmt: skip
        yield
    finally:
        os.close(handle)  # releases the lock


def holder_of(path: Path) -> dict[str, Any]:
    """Who holds a lock, from what it wrote in the lock file: ``pid``, and ``text`` saying it."""
    try:
        holder = json.loads(path.read_text())
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(holder["since"]))
        holder["text"] = (
            f"pid {holder['pid']} on {holder['host']} since {since}: `{holder['command']}`"
        )
        return holder
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def ours(folder: str, state_file: str) -> bool:
    """Whether ``folder`` is dabench's: it holds ``state_file``, or only files dabench writes
    first. A folder that is not is never adopted (nor anything in it deleted)."""
    if not storage.exists(folder):
        return True
    if storage.exists(storage.join(folder, state_file)):
        return True
    if storage.is_uri(folder) and not folder.startswith("file://"):
        return False
    return {p.name for p in Path(folder.removeprefix("file://")).iterdir()} <= OURS


def save_sweep(directory: str, options: SweepOptions, parent: str, experiment: str,
               wall_s: float = 0.0) -> None:  # fmt: skip
    """What ``--resume`` needs besides Ray's own state: the options, the parent MLflow run, and
    the wall time of the sessions that ended (``directory``: a path or a storage URI)."""
    state = {"options": asdict(options), "parent_run_id": parent, "experiment_id": experiment,
             "wall_s": wall_s}  # fmt: skip
    storage.write_text(storage.join(directory, SWEEP_STATE), json.dumps(state, indent=2))


def load_sweep(name: str, where: str) -> tuple[SweepOptions, dict[str, Any]]:
    """The options and the saved state of sweep ``name`` (a path or URI, or a name under the
    storage ``where``); the options' ``storage`` is where it was found."""
    candidates = [storage.resolve(name)]
    if not (storage.is_uri(name) or Path(name).is_absolute()):  # a name: also under the storage
        candidates.append(storage.join(storage.resolve(where or "."), name))
    for directory in candidates:
        location = storage.join(directory, SWEEP_STATE)
        text = storage.read_text(location)
        if text is not None:
            state = parsed(location, text, ("options", "parent_run_id", "experiment_id"))
            saved = state["options"]
            saved["storage"] = storage.parent(directory)
            saved["experiment"] = saved.get("experiment") or "dabench"  # older states: null
            try:
                return SweepOptions(**saved), state
            except TypeError as error:
                raise ValueError(f"{location}: not a dabench sweep state ({error})") from None
    raise ValueError(f"no sweep to resume at {' or '.join(candidates)} (looked for {SWEEP_STATE})")


def load_benchmark(where: str) -> dict[str, Any] | None:
    """The benchmark's saved plan and wall time, if a session ran before."""
    location = storage.join(where, BENCHMARK_STATE)
    text = storage.read_text(location)
    return None if text is None else parsed(location, text, ("plan", "wall_s"))


def parsed(location: str, text: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """A state file's JSON, with its ``keys``; ``ValueError`` naming the file otherwise."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{location}: not a dabench state file (not JSON: {error})") from None
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"{location}: not a dabench state file (no {', '.join(missing)})")
    return state


def save_benchmark(where: str, plan: dict[str, Any], wall_s: float) -> None:
    """Save the benchmark's plan (:meth:`~dabench.engine.spec.Plan.as_dict`) and wall time."""
    storage.write_text(storage.join(where, BENCHMARK_STATE),
                       json.dumps({"plan": plan, "wall_s": wall_s}, indent=2))  # fmt: skip


TUNE_STATE = ("experiment_state-*.json", "search_gen_state-*.json", "searcher-state-*.pkl")
"""Tune's state files in a run's folder: its trials (JSON) and its searcher's (pickles)."""


def whole(path: Path) -> bool:
    """Whether a Tune state file was written to its end: JSON that parses, or a pickle that ends
    with pickle's STOP opcode (``.``)."""
    data = path.read_bytes()
    if path.suffix == ".json" and path.name.startswith("experiment_state-"):
        try:
            json.loads(data)
        except ValueError:
            return False
        return True
    return data.endswith(b".")


def repair_tune_state(where: str) -> list[Path]:
    """Put back the Tune state files that a killed driver left cut short in ``where``; return
    the files repaired.

    Tune writes its state in the driver's staging folder (in Ray's session folder) and copies
    it to the run's storage at each snapshot, not atomically: a driver killed during that copy
    leaves an empty or truncated file there, and ``Tuner.restore`` then silently starts the
    whole run again. The staging copy survives the kill on the driver's machine; each damaged
    file is replaced by the newest whole copy of the same name found there. Raises
    ``ValueError`` naming the file when none is left (e.g. the driver ran on another machine).
    Folders on a URI (``s3://``, ...) are left to Tune."""
    if storage.is_uri(where) and not where.startswith("file://"):
        return []
    folder = Path(where.removeprefix("file://"))
    damaged = [p for pattern in TUNE_STATE for p in folder.glob(pattern) if not whole(p)]
    repaired = []
    for path in damaged:
        staged = ray_temp_dir().glob(f"session_*/artifacts/*/{folder.name}/driver_artifacts/"
                                     f"{path.name}")  # fmt: skip
        copies = sorted((p for p in staged if whole(p)), key=lambda p: p.stat().st_mtime)
        if not copies:
            raise ValueError(
                f"{path}: Ray Tune's state file was cut short when its driver was killed while "
                f"writing it, and no whole copy is left on this machine under {ray_temp_dir()}; "
                "the run cannot continue from it (start it again under another --name)"
            )
        tmp = path.with_name(f".{path.name}.repair")
        tmp.write_bytes(copies[-1].read_bytes())
        os.replace(tmp, path)
        log.info("%s was cut short when its driver was killed: put back from %s", path,
                 copies[-1])  # fmt: skip
        repaired.append(path)
    return repaired
