"""``dabench rerun`` (and ``dabench sweep --seeds N``): train a sweep's selected configurations
again with fresh seeds.

A sweep's pick is the best of many single-seed trials, so its own score flatters it (the winner's
curse: part of why it won is the luck of its seed). A leaderboard cell therefore reports the picked
configuration re-trained with ``N`` seeds the search never used — the sweep's seed ``s`` gives
``s+1 … s+N`` — and averages them.

One configuration is picked per selection criterion (trial level: each trial's last evaluation
point, the same rule as the sweep's summary; see :mod:`dabench.records.selection`): by default the
sweep's own label-free objective and the oracle, so the leaderboard can show both. Each distinct
picked configuration runs once per seed under one MLflow parent run of kind ``seeds``, tagged with
the sweep it came from and the criteria that picked it (when the objective and the oracle pick the
same trial, its seeds serve both). Ray Tune runs the seeds as a grid — no searcher, no early
stopping — through the sweep's own :func:`~dabench.engine.trial.tune_trial`, so every seed run is logged
like a trial. A finished group is not run again; an interrupted one (still in MLflow, marked
``KILLED``) is run again whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ray import tune

from dabench import storage
from dabench.engine import events, logs
from dabench.engine.cluster import init_ray, tune_run
from dabench.engine.options import RerunOptions, check
from dabench.engine.provenance import provenance
from dabench.engine.state import hold
from dabench.engine.sweep import TrialMonitor
from dabench.engine.trial import INTERNAL, TrialName, trial_dirname, trial_internal, tune_trial
from dabench.records import criteria, naming, readers, selection, store, writers
from dabench.records import schema as s

log = logging.getLogger(__name__)


@dataclass
class Group:
    """One re-trained configuration: the criteria that picked it, its seeds and their runs."""

    name: str
    selected_by: list[str]
    trial: str
    searched: dict[str, Any]
    seeds: list[int]
    sweep_value: float
    """The picked trial's own target-test metric (one seed: the search's)."""
    values: list[float]
    """Target-test metric of each finished seed run, in seed order."""
    reused: bool


def fresh_seeds(sweep_seed: int, n: int) -> list[int]:
    """``n`` training seeds the sweep never used (all its trials train with ``sweep_seed``)."""
    return list(range(sweep_seed + 1, sweep_seed + 1 + n))


def picked_trials(frame: Any, chosen: list[criteria.Criterion]) -> dict[str, list[str]]:
    """Trial run id → the names of the ``chosen`` criteria whose trial-level pick it is, in
    their order; picks are made among :func:`~dabench.records.selection.candidates`. A
    criterion no trial reported is refused by name."""
    picked: dict[str, list[str]] = {}
    for criterion in chosen:
        best = selection.pick(frame, criterion) if not frame.empty else None
        if best is None:
            raise ValueError(f"no trial of the sweep reported {criterion.key!r}, so --select "
                             f"{criterion.name} cannot pick one")  # fmt: skip
        picked.setdefault(best["run_id"], []).append(criterion.name)
    return picked


def rerun(options: RerunOptions, verbose: bool = False) -> list[Group]:
    """Re-train the sweep's picks with fresh seeds (see the module doc); one :class:`Group` per
    distinct picked configuration. The engines' logs go to a file in each group's folder unless
    ``verbose``. One driver at a time re-trains a sweep's picks, and not while the sweep runs
    (:func:`~dabench.engine.state.hold` on the sweep's folder)."""
    check(options)
    options.tracking_uri = store.tracking_uri(options.tracking_uri)
    client = store.reading_client(options.tracking_uri)
    parent = readers.require_sweep(client, options.experiment, options.sweep)
    store.open_store(options.tracking_uri, options.experiment)  # it can be written
    if parent.info.status != "FINISHED":
        raise ValueError(f"sweep {options.sweep!r} did not finish ({parent.info.status}); finish "
                         "it first (`dabench sweep --resume ...`)")  # fmt: skip
    frame, picked, seeds = picks(client, parent, options.select, options.seeds)
    folder = storage.join(storage.resolve(options.storage), options.sweep)
    with hold(folder, f"the rerun of sweep {options.sweep}"):
        return run_groups(client, parent, frame, picked, seeds, options, verbose)


def run_groups(client: Any, parent: Any, frame: Any, picked: dict[str, list[str]],
               seeds: list[int], options: RerunOptions, verbose: bool) -> list[Group]:  # fmt: skip
    """Each picked trial's seeds group: found finished (re-used), or trained now."""
    test = criteria.test_key(readers.setting_of(parent))
    groups = []
    for run_id, selected_by in picked.items():
        row = frame[frame["run_id"] == run_id].iloc[0]
        group = readers.find_group(client, parent, run_id, seeds, finished=True)
        reused = group is not None
        if group is None:
            group = run_group(client, parent, row, selected_by, seeds, options, verbose)
        else:
            writers.add_criteria(client, group, selected_by)
        runs = readers.trials(client, group)
        if not runs.empty:  # in seed order, as the leaderboard lists them
            runs = runs.sort_values(
                "config", key=lambda c: c.map(lambda d: d["seed"]), kind="stable"
            )
        values = [] if runs.empty or test not in runs else runs[test].dropna().tolist()
        groups.append(Group(
            group.data.tags[s.SWEEP], selected_by, row["trial"], row["searched"], seeds,
            float(row.get(test, float("nan"))), values, reused,
        ))  # fmt: skip
    return groups


def chosen_criteria(parent: Any, select: Sequence[str]) -> list[criteria.Criterion]:
    """The criteria whose picks of the sweep ``parent`` are re-trained: ``select`` (names), or
    the sweep's own objective and the oracle."""
    setting = readers.setting_of(parent)
    if not select:
        own = criteria.from_key(parent.data.tags[s.OBJECTIVE], setting)
        chosen = [own, criteria.oracle(setting)]
    else:
        try:
            chosen = [criteria.criterion(name, setting) for name in select]
        except ValueError as error:
            raise ValueError(f"--select {error}") from None
    return list({c.name: c for c in chosen}.values())


def picks(client: Any, parent: Any, select: Sequence[str], n: int) -> tuple[Any, dict, list[int]]:
    """What re-training the finished sweep ``parent`` involves: its trials (rows of
    :func:`~dabench.records.readers.trials`), the picked trials (run id → the criteria that
    picked it; ``select`` empty: the sweep's objective and the oracle) and the ``n`` fresh
    seeds."""
    frame = readers.trials(client, parent)
    picked = picked_trials(frame, chosen_criteria(parent, select))
    for run_id in picked:
        row = frame[frame["run_id"] == run_id].iloc[0]
        if not row["config"]:
            raise ValueError(f"trial {row['trial']} of sweep {parent.data.tags[s.SWEEP]!r} has "
                             "no recorded config (made by an older dabench); run the sweep "
                             "again")  # fmt: skip
    return frame, picked, fresh_seeds(int(parent.data.params.get("sweep.seed", 0)), n)


def open_group(client: Any, parent: Any, row: Any, selected_by: list[str], seeds: list[int],
               options: Any, tags: dict[str, str] | None = None,
               existing: Any | None = None) -> tuple[str, str, list[dict[str, Any]]]:  # fmt: skip
    """Create the parent run of a seeds group for trial ``row`` of the sweep ``parent`` (tagged
    also with ``tags``), or take over the unfinished group ``existing``; return its run id, its
    name and the config of each seed run (``options``: resources, retries and tracking URI, as
    :class:`~dabench.engine.options.RerunOptions` has them)."""
    sweep, config = parent.data.tags[s.SWEEP], dict(row["config"])
    config["device"] = "cuda" if options.gpus_per_trial > 0 else "cpu"
    if existing is not None:
        group, name = existing.info.run_id, existing.data.tags[s.SWEEP]
        writers.add_criteria(client, existing, selected_by)
        client.update_run(group, status="RUNNING")
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        name = naming.group_name(sweep, str(row["trial"]), stamp)
        group = writers.open_group(client, parent, name, row, selected_by, seeds, provenance(),
                                   tags)  # fmt: skip
    objective = criteria.from_key(parent.data.tags[s.OBJECTIVE], readers.setting_of(parent))
    base = [k for k in config if k != "seed"]  # what the seed runs "searched": the seed
    internal = trial_internal(options, parent.info.experiment_id, group, name, objective, base)
    internal["labelled_by"] = "seed"  # its runs are seed-4, seed-5, ... (trial.TrialName)
    return group, name, [{**config, "seed": seed, INTERNAL: internal} for seed in seeds]


def run_group(client: Any, parent: Any, row: Any, selected_by: list[str], seeds: list[int],
              options: RerunOptions, verbose: bool = False) -> Any:  # fmt: skip
    """Train the config of trial ``row`` once per seed (a Ray Tune grid) under a new parent run;
    return that run."""
    experiment = parent.info.experiment_id
    group, name, configs = open_group(client, parent, row, selected_by, seeds, options)
    config = configs[0]
    objective = criteria.from_key(config[INTERNAL]["objective"], readers.setting_of(parent))
    monitor = TrialMonitor(config[INTERNAL], config["steps"], objective, len(seeds))
    folder = storage.join(storage.resolve(options.storage), name)
    sweep = parent.data.tags[s.SWEEP]
    log.info("%s: re-training %s (picked by %s) with seeds %s; Ray's and MLflow's logs: %s",
             sweep, naming.label_of(str(row["trial"]), sweep), ", ".join(selected_by), seeds,
             logs.log_path(folder))  # fmt: skip
    events.publish("started", title=f"seeds group {name}")
    with logs.engine_logs(logs.log_path(folder), verbose) as engines:
        init_ray(options.address)
        engines.apply()
        resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
        tuner = tune.Tuner(
            tune.with_resources(tune_trial, resources),
            param_space={**config, "seed": tune.grid_search(seeds)},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=options.max_concurrent, reuse_actors=True,
                trial_dirname_creator=trial_dirname, trial_name_creator=TrialName(),
            ),
            run_config=tune.RunConfig(
                name=name, storage_path=storage.resolve(options.storage), verbose=0,
                callbacks=[monitor],
                failure_config=tune.FailureConfig(max_failures=options.max_failures),
            ),
        )  # fmt: skip
        start = time.perf_counter()
        with tune_run():
            tuner.fit()
    completed = writers.close_group(client, experiment, group, len(seeds),
                                    time.perf_counter() - start)  # fmt: skip
    if completed != len(seeds):
        raise RuntimeError(f"seeds group {name}: {completed} of {len(seeds)} runs completed; "
                           "run `dabench rerun` again to retry it")  # fmt: skip
    return client.get_run(group)
