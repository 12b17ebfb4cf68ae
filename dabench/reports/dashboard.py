"""The MLflow dashboard of a sweep, with no configuration: the first screen shows its trials; and
the summary a finished sweep leaves on its parent run.

What the UI shows first is decided by its ``workflowType`` URL parameter and a shared view
(:mod:`dabench.compat` says how both work). dabench's URLs open the model-training view, and
every experiment dabench records into is tagged as a model-training experiment
(:func:`dabench.records.store.mark_model_training`). Each sweep publishes one shared view
(:func:`publish_view`): its trial runs, best objective first, with the objective, the oracle,
target-test and the trial status as columns. A filter that leaves the parent run out shows its
nested trial runs flat, i.e. expanded, with no click.

Column keys are ``<metrics|params|tags|attributes>.`<name>```, as the UI writes them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from dabench.compat import UI_VIEW_TAG_PREFIX
from dabench.names import did_you_mean
from dabench.records import readers
from dabench.records import schema as s
from dabench.records.criteria import Criterion, from_key, oracle
from dabench.reports.plots import close, metrics_vs_step, parallel_coordinates


def view_key(sweep: str) -> str:
    """The share key of a sweep's view (letters, digits, ``-``, ``_`` and ``.`` only)."""
    return "dabench-" + re.sub(r"[^A-Za-z0-9_.-]", "-", sweep)


def view_state(sweep: str, objective: Criterion) -> dict[str, Any]:
    """The shared view state of a sweep: its trial runs, best objective first, with the
    objective, the oracle, the trial status and target-test as columns, in that order, next to
    the run name (``columnOrder``: the grid's column ids, the two pinned ones first)."""
    keys = dict.fromkeys([objective.key, oracle(objective.setting).key])
    metrics = [f"metrics.`{m}`" for m in keys]
    status, test_column = f"tags.`{s.STATUS}`", f"metrics.`{objective.test_key}`"
    columns = [*metrics, status, test_column]
    return {
        "searchFilter": s.where(**{s.SWEEP: sweep, s.KIND: s.TRIAL_KIND}),
        "orderByKey": f"metrics.`{objective.key}`",
        "orderByAsc": objective.mode == "min",
        "selectedColumns": columns,
        "columnOrder": ["attributes.`Run Name`", "runDateAndNestInfo", *columns],
        "columnWidths": {column: 130 for column in columns} | {status: 110},
    }


def publish_view(client: Any, experiment_id: str, sweep: str, objective: Criterion) -> str:
    """Save the sweep's view as an experiment tag; return its share key."""
    key = view_key(sweep)
    client.set_experiment_tag(experiment_id, UI_VIEW_TAG_PREFIX + key,
                              json.dumps(view_state(sweep, objective)))  # fmt: skip
    return key


def latest_sweep(client: Any, experiment: str | None, sweep: str | None) -> tuple[str, str] | None:
    """``(experiment id, share key)`` of sweep ``sweep`` (default: the latest sweep) in
    ``experiment`` (default: every experiment); ``None`` when the store has no sweep. Sweeps
    recorded before views existed get theirs now. Raises ``ValueError`` for an unknown sweep or
    experiment."""
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            names = [e.name for e in client.search_experiments()]
            raise ValueError(f"no experiment {experiment!r} in the store"
                             + did_you_mean(experiment, names))  # fmt: skip
        experiments = [found.experiment_id]
    else:
        experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return None
    run = readers.first(client, experiments, s.where(**{s.KIND: s.SWEEP_KIND, s.SWEEP: sweep}))
    if run is None:
        if sweep is not None:
            every = readers.search(client, experiments, s.where(**{s.KIND: s.SWEEP_KIND}))
            names = [r.data.tags.get(s.SWEEP, "") for r in every]
            raise ValueError(f"no sweep named {sweep!r} in the store"
                             + did_you_mean(sweep, names))  # fmt: skip
        return None
    experiment_id, name = run.info.experiment_id, run.data.tags[s.SWEEP]
    key = view_key(name)
    if UI_VIEW_TAG_PREFIX + key not in client.get_experiment(experiment_id).tags:
        publish_view(client, experiment_id, name,
                     from_key(run.data.tags[s.OBJECTIVE], readers.setting_of(run)))  # fmt: skip
    return experiment_id, key


def log_summary(client: Any, parent: Any, frame: pd.DataFrame, objective: Criterion) -> None:
    """Log a finished sweep's summary on its parent run: the picks as the run's description
    (:func:`description`) and, as artifacts under ``summary/``, ``trials.md`` (one row per
    trial: name, status, objective, oracle, target-test, last step and the searched
    hyperparameters, best first), ``parallel_coordinates.png``
    (:func:`dabench.reports.plots.parallel_coordinates`, as in the leaderboard) and
    ``metrics_vs_step.png`` (the objective and the oracle of every trial at each evaluation).
    ``frame``: the sweep's trials (:func:`dabench.records.readers.trials`)."""
    run_id, tags = parent.info.run_id, parent.data.tags
    table = summary_table(frame, objective).to_markdown(index=False, floatfmt=".4g")
    client.log_text(run_id, table + "\n", "summary/trials.md")
    client.set_tag(run_id, s.NOTE, description(parent, objective))
    keys = list(dict.fromkeys([objective.key, oracle(objective.setting).key]))
    figures = {
        "parallel_coordinates.png": parallel_coordinates(
            frame, objective, tags[s.METHOD], parent.data.params.get("space_file"),
            f"sweep {tags[s.SWEEP]}"),
        "metrics_vs_step.png": metrics_vs_step(client, frame, keys),
    }  # fmt: skip
    for name, figure in figures.items():
        if figure is not None:  # (no parallel coordinates for a single scored trial)
            client.log_figure(run_id, figure, f"summary/{name}")
            close(figure)


def description(parent: Any, objective: Criterion) -> str:
    """The sweep's story in a few lines of markdown, from its closed parent run (trial counts,
    ``pick.*`` tags, ``best.*`` and ``best_checkpoint.*`` metrics): what ran and what was
    picked, with the pick's objective, oracle and target-test."""
    tags, metrics = parent.data.tags, parent.data.metrics
    keys = list(dict.fromkeys([objective.key, oracle(objective.setting).key, objective.test_key]))
    counts = ", ".join(f"{int(metrics[f'trials_{k}'])} {k}" for k in
                       (s.COMPLETED, s.PRUNED, s.FAILED) if metrics.get(f"trials_{k}"))  # fmt: skip
    lines = [f"**{tags.get(s.METHOD)}** on **{tags.get(s.TASK)}**: trials {counts}; "
             f"objective `{objective.key}` ({objective.label_use})."]  # fmt: skip

    def scores(prefix: str) -> str:
        shown = [f"`{k}` {metrics[f'{prefix}.{k}']:.4g}" for k in keys
                 if f"{prefix}.{k}" in metrics]  # fmt: skip
        return ", ".join(shown)

    if s.PICK_TRIAL_NAME in tags:
        lines.append(f"- trial-level pick: **{tags[s.PICK_TRIAL_NAME]}** — {scores('best')}")
    if s.PICK_CHECKPOINT_NAME in tags:
        lines.append(f"- checkpoint-level pick: **{tags[s.PICK_CHECKPOINT_NAME]}** at step "
                     f"{tags.get(s.PICK_CHECKPOINT_STEP)} — {scores('best_checkpoint')}")  # fmt: skip
    lines.append("\nEvery trial and the plots: artifacts `summary/` (trials.md, "
                 "parallel_coordinates.png, metrics_vs_step.png).")  # fmt: skip
    return "\n".join(lines)


def summary_table(frame: pd.DataFrame, objective: Criterion) -> pd.DataFrame:
    """The trials of ``frame`` best first: name, status, objective, oracle, target-test, step
    and the searched hyperparameters."""
    wanted = [objective.key, oracle(objective.setting).key, objective.test_key, "step"]
    keys = [k for k in dict.fromkeys(wanted) if k in frame]
    searched = pd.DataFrame(list(frame["searched"]), index=frame.index)
    table = pd.concat([frame[["trial", "status", *keys]], searched], axis=1)
    return table.sort_values(objective.key, ascending=objective.mode == "min",
                             na_position="last")  # fmt: skip
