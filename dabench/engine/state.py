"""What a sweep or a benchmark keeps beside Ray's own state in its folder, so that the same
command (or ``--resume``) continues it: the options or the plan, the MLflow runs it opened and
the wall time of the sessions that ended. Written whole (a temporary file and a rename)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dabench import storage
from dabench.engine.options import SweepOptions

SWEEP_STATE = "dabench_sweep.json"
BENCHMARK_STATE = "dabench_benchmark.json"


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
        text = storage.read_text(storage.join(directory, SWEEP_STATE))
        if text is not None:
            state = json.loads(text)
            saved = state["options"]
            saved["storage"] = storage.parent(directory)
            saved["experiment"] = saved.get("experiment") or "dabench"  # older states: null
            return SweepOptions(**saved), state
    raise ValueError(f"no sweep to resume at {' or '.join(candidates)} (looked for {SWEEP_STATE})")


def load_benchmark(where: str) -> dict[str, Any] | None:
    """The benchmark's saved plan and wall time, if a session ran before."""
    text = storage.read_text(storage.join(where, BENCHMARK_STATE))
    return None if text is None else json.loads(text)


def save_benchmark(where: str, plan: dict[str, Any], wall_s: float) -> None:
    """Save the benchmark's plan (:meth:`~dabench.engine.spec.Plan.as_dict`) and wall time."""
    storage.write_text(storage.join(where, BENCHMARK_STATE),
                       json.dumps({"plan": plan, "wall_s": wall_s}, indent=2))  # fmt: skip
