"""``dabench rerun`` (and ``dabench sweep --seeds N``): train a sweep's selected configurations
again with fresh seeds.

A sweep's pick is the best of many single-seed trials, so its own score flatters it (the winner's
curse: part of why it won is the luck of its seed). A leaderboard cell therefore reports the picked
configuration re-trained with ``N`` seeds the search never used — the sweep's seed ``s`` gives
``s+1 … s+N`` — and averages them.

One configuration is picked per selection criterion (trial level: each trial's last evaluation
point, the same rule as the sweep's summary; see :mod:`dabench.selection`): by default the
sweep's own label-free objective and the oracle, so the leaderboard can show both. Each distinct
picked configuration runs once per seed under one MLflow parent run of kind ``seeds``, tagged with
the sweep it came from and the criteria that picked it (when the objective and the oracle pick the
same trial, its seeds serve both). Ray Tune runs the seeds as a grid — no searcher, no early
stopping — through the sweep's own :func:`~dabench.sweep.tune_trial`, so every seed run is logged
like a trial. A finished group is not run again; an interrupted one (still in MLflow, marked
``KILLED``) is run again whole.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dabench import logs, progress, selection, storage, tracking
from dabench.data.registry import task_spec
from dabench.sweep import (
    INTERNAL,
    TrialMonitor,
    TrialName,
    close_children,
    init_ray,
    objective_key,
    provenance,
    sigterm_as_sigint,
    trial_dirname,
    trial_internal,
    tune_trial,
)

KIND = "seeds"  # the tracking.KIND of a seeds group's parent run
SOURCE_SWEEP = "dabench.source_sweep"  # the sweep whose pick a group re-trains
SELECTED_BY = "dabench.selected_by"  # JSON list of the criteria that picked it
SELECTED_TRIAL = "dabench.selected_trial"  # the picked trial's run id
SEEDS = "dabench.seeds"  # JSON list of the seeds


@dataclass
class RerunOptions:
    sweep: str
    seeds: int = 3
    select: tuple[str, ...] = ()
    """Criterion names (``source_val``, a validator, ``oracle``); empty: the sweep's objective
    and the oracle."""
    max_concurrent: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 0
    address: str | None = None
    tracking_uri: str | None = None
    experiment: str = "dabench"
    storage: str = "ray_results"
    verbose: bool = False
    """Show the engines' logs (default: in a file in the group's folder, :mod:`dabench.logs`)."""


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


def criterion_name(key: str) -> str:
    """A reported metric key back to its criterion name: ``validator_bnm`` → ``bnm``,
    ``source_val_acc`` → ``source_val``, ``target_val_acc`` → ``oracle``."""
    if key.startswith("target_val_"):
        return "oracle"
    if key.startswith("source_val_"):
        return "source_val"
    return key.removeprefix("validator_")


def fresh_seeds(sweep_seed: int, n: int) -> list[int]:
    """``n`` training seeds the sweep never used (all its trials train with ``sweep_seed``)."""
    return list(range(sweep_seed + 1, sweep_seed + 1 + n))


def picked_trials(frame: Any, criteria: dict[str, str]) -> dict[str, list[str]]:
    """Trial run id → the criteria (name → metric key) whose trial-level pick it is, in the
    criteria's order; picks are made among :func:`~dabench.selection.candidates`. A criterion no
    trial reported is refused by name."""
    picked: dict[str, list[str]] = {}
    for name, key in criteria.items():
        best = selection.pick(frame, key)
        if best is None:
            raise ValueError(f"no trial of the sweep reported {key!r}, so --select {name} "
                             "cannot pick one")  # fmt: skip
        picked.setdefault(best["run_id"], []).append(name)
    return picked


def rerun(options: RerunOptions) -> list[Group]:
    """Re-train the sweep's picks with fresh seeds (see the module doc); one :class:`Group` per
    distinct picked configuration."""
    from mlflow.tracking import MlflowClient

    if options.seeds < 1:
        raise ValueError(f"--seeds must be ≥ 1; got {options.seeds}")
    uri = options.tracking_uri or tracking.default_tracking_uri()
    tracking.check_reachable(uri)
    options.tracking_uri = uri
    client = MlflowClient(uri)
    parent = selection.find_sweep(client, options.experiment, options.sweep)
    if parent.info.status != "FINISHED":
        raise ValueError(f"sweep {options.sweep!r} did not finish ({parent.info.status}); finish "
                         "it first (`dabench sweep --resume ...`)")  # fmt: skip
    frame, picked, seeds = picks(client, parent, options.select, options.seeds)
    test = objective_key("oracle", task_spec(parent.data.tags["task"]).setting)
    test = test.replace("target_val", "target_test")
    groups = []
    for run_id, selected_by in picked.items():
        row = frame[frame["run_id"] == run_id].iloc[0]
        group = find_group(client, parent, run_id, seeds)
        reused = group is not None
        if group is None:
            group = run_group(client, parent, row, selected_by, seeds, options)
        else:
            add_criteria(client, group, selected_by)
        runs = selection.trials(client, group)
        if not runs.empty:  # in seed order, as the leaderboard lists them
            runs = runs.sort_values(
                "config", key=lambda c: c.map(lambda d: d["seed"]), kind="stable"
            )
        values = [] if runs.empty or test not in runs else runs[test].dropna().tolist()
        groups.append(Group(
            group.data.tags[tracking.SWEEP], selected_by, row["trial"],
            row["searched"], seeds,
            float(row.get(test, float("nan"))), values, reused,
        ))  # fmt: skip
    return groups


def picks(client: Any, parent: Any, select: Sequence[str], n: int) -> tuple[Any, dict, list[int]]:
    """What re-training the finished sweep ``parent`` involves: its trials (rows of
    :func:`~dabench.selection.trials`), the picked trials (run id → the criteria that picked
    it; ``select`` empty: the sweep's objective and the oracle) and the ``n`` fresh seeds."""
    tags = parent.data.tags
    setting = task_spec(tags["task"]).setting
    names = list(dict.fromkeys(select or (criterion_name(tags["objective"]), "oracle")))
    criteria = {name: objective_key(name, setting) for name in names}
    frame = selection.trials(client, parent)
    picked = picked_trials(frame, criteria)
    for run_id in picked:
        row = frame[frame["run_id"] == run_id].iloc[0]
        if not row["config"]:
            raise ValueError(f"trial {row['trial']} of sweep {tags[tracking.SWEEP]!r} has no "
                             "recorded config (made by an older dabench); run the sweep again")  # fmt: skip
    return frame, picked, fresh_seeds(int(parent.data.params.get("sweep.seed", 0)), n)


def find_group(client: Any, parent: Any, run_id: str, seeds: list[int],
               finished: bool = True) -> Any | None:  # fmt: skip
    """The latest seeds group of the sweep ``parent`` for trial ``run_id`` with these seeds —
    a finished one, or with ``finished=False`` one in any state."""
    status = " and attributes.status = 'FINISHED'" if finished else ""
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`{tracking.KIND}` = '{KIND}' and tags.`{SELECTED_TRIAL}` = '{run_id}'"
        f" and tags.`{SEEDS}` = '{json.dumps(seeds)}'{status}",
        order_by=["attributes.start_time DESC"], max_results=1,
    )  # fmt: skip
    return runs[0] if runs else None


def settled(client: Any, group: Any, seeds: int) -> bool:
    """Whether the seeds group ``group`` needs no more running: it finished, or every one of its
    ``seeds`` runs ended (some failed: the group is ``KILLED`` and the leaderboard leaves it out;
    ``dabench rerun`` runs it again)."""
    if group.info.status == "FINISHED":
        return True
    runs = tracking.children(client, group.info.experiment_id, group.info.run_id)
    ended = [r for r in runs if r.data.tags.get(tracking.STATUS) in ("completed", "failed")]
    return len(ended) == seeds


def add_criteria(client: Any, group: Any, selected_by: list[str]) -> None:
    """A group re-used for a pick: record the criteria that picked it now too."""
    union = list(dict.fromkeys([*json.loads(group.data.tags[SELECTED_BY]), *selected_by]))
    tracking.set_tags(client, group.info.run_id, {SELECTED_BY: json.dumps(union)})


def open_group(client: Any, parent: Any, row: Any, selected_by: list[str], seeds: list[int],
               options: Any, tags: dict[str, str] | None = None,
               existing: Any | None = None) -> tuple[str, str, list[dict[str, Any]]]:  # fmt: skip
    """Create the parent run of a seeds group for trial ``row`` of the sweep ``parent`` (tagged
    also with ``tags``), or take over the unfinished group ``existing``; return its run id, its
    name and the config of each seed run (``options``: resources, retries and tracking URI, as
    :class:`RerunOptions` has them)."""
    tags_of, config = parent.data.tags, dict(row["config"])
    sweep, experiment = tags_of[tracking.SWEEP], parent.info.experiment_id
    config["device"] = "cuda" if options.gpus_per_trial > 0 else "cpu"
    if existing is not None:
        group, name = existing.info.run_id, existing.data.tags[tracking.SWEEP]
        add_criteria(client, existing, selected_by)
        client.update_run(group, status="RUNNING")
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        trial = str(row["trial"]).removeprefix(f"{sweep}-").rsplit("_", 1)[-1]  # trial-3
        name = f"{sweep}-seeds-{trial}-{stamp}"
        group = tracking.start_run(
            client, experiment, name,
            {tracking.KIND: KIND, tracking.SWEEP: name, SOURCE_SWEEP: sweep,
             SELECTED_BY: json.dumps(selected_by), SELECTED_TRIAL: row["run_id"],
             SEEDS: json.dumps(seeds), "method": tags_of["method"], "task": tags_of["task"],
             "objective": tags_of["objective"], **(tags or {})},
            {"seeds": json.dumps(seeds), "selected_trial": row["trial"], **provenance()},
        )  # fmt: skip
    base = [k for k in config if k != "seed"]  # what the seed runs "searched": the seed
    internal = trial_internal(options, experiment, group, name, tags_of["objective"], base)
    return group, name, [{**config, "seed": seed, INTERNAL: internal} for seed in seeds]


def close_group(client: Any, experiment: str, group: str, seeds: int, wall: float,
                known: set[str] | None = None) -> int:  # fmt: skip
    """End a seeds group's parent run: ``FINISHED`` when all ``seeds`` runs completed, else
    ``KILLED`` (its runs closed as :func:`~dabench.sweep.close_children` says); the number of
    completed runs."""
    completed = close_children(client, experiment, group, known)["completed"]
    tracking.log_metrics(client, group, {"wall_s": wall, "runs_completed": completed}, step=0)
    client.set_terminated(group, "FINISHED" if completed == seeds else "KILLED")
    return completed


def run_group(client: Any, parent: Any, row: Any, selected_by: list[str], seeds: list[int],
              options: RerunOptions) -> Any:  # fmt: skip
    """Train the config of trial ``row`` once per seed (a Ray Tune grid) under a new parent run;
    return that run."""
    from ray import tune

    experiment = parent.info.experiment_id
    group, name, configs = open_group(client, parent, row, selected_by, seeds, options)
    internal, config = configs[0][INTERNAL], configs[0]
    oracle = objective_key("oracle", task_spec(config["task"]).setting)
    monitor = TrialMonitor(internal, config["steps"], internal["objective"], oracle, len(seeds))
    folder = storage.join(storage.resolve(options.storage), name)
    print(f"{parent.data.tags[tracking.SWEEP]}: re-training trial {row['trial']} (picked by "
          f"{', '.join(selected_by)}) with seeds {seeds}; Ray's and MLflow's logs: "
          f"{logs.log_path(folder)}", flush=True)  # fmt: skip
    with logs.engine_logs(logs.log_path(folder), options.verbose) as engines:
        init_ray(options.address)
        engines.apply()
        resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
        tuner = tune.Tuner(
            tune.with_resources(tune_trial, resources),
            param_space={**config, "seed": tune.grid_search(seeds)},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=options.max_concurrent,
                reuse_actors=True,
                trial_dirname_creator=trial_dirname,
                trial_name_creator=TrialName(name, key="seed"),
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=storage.resolve(options.storage),
                verbose=0,
                callbacks=[monitor],
                failure_config=tune.FailureConfig(max_failures=options.max_failures),
            ),
        )
        start = time.perf_counter()
        with progress.SweepProgress(f"seeds group {name}"), sigterm_as_sigint():
            tuner.fit()
    completed = close_group(client, experiment, group, len(seeds), time.perf_counter() - start)
    if completed != len(seeds):
        raise RuntimeError(f"seeds group {name}: {completed} of {len(seeds)} runs completed; "
                           "run `dabench rerun` again to retry it")  # fmt: skip
    return client.get_run(group)
