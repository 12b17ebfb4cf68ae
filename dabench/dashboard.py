"""The MLflow dashboard of a sweep, with no configuration: the first screen shows its trials.

Two things decide what MLflow's UI (3.17) shows first, both verified in its JS bundle
(``mlflow/server/js/build/static/js``) and in headless Chromium:

* **The workflow type.** The UI opens either its "GenAI" or its "Model training" view, from the
  URL parameter ``workflowType`` (``genai`` | ``machine_learning``), else the browser's saved
  choice, else ``genai`` — whose experiment page is an empty traces overview. dabench's URL says
  ``workflowType=machine_learning``, and every experiment dabench records into is tagged
  :data:`EXPERIMENT_KIND` = :data:`MODEL_TRAINING` (the kind MLflow's experiment settings
  write; clients and UIs that read the tag rather than the toggle see a model-training
  experiment).
* **A shared view.** The runs page opened with ``?viewStateShareKey=<key>`` applies the JSON in
  the experiment tag ``mlflow.sharedViewState.<key>``: the search facets (``searchFilter``,
  ``orderByKey``, ``orderByAsc``, ...) and the table state (``selectedColumns``,
  ``columnWidths``, ...; ``runsExpanded`` is ignored there). Each sweep publishes one
  (:func:`publish_view`): its trial runs, best objective first, with the objective, the oracle,
  target-test and the trial status as columns. A filter that leaves the parent run out shows its
  nested trial runs flat, i.e. expanded, with no click.

Column keys are ``<metrics|params|tags|attributes>.`<name>```, as the UI writes them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dabench import tracking
from dabench.suggest import did_you_mean

EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
VIEW_PREFIX = "mlflow.sharedViewState."
WORKFLOW = "machine_learning"
NOTE = "mlflow.note.content"  # a run's description (markdown) in MLflow's UI


def mark_model_training(client: Any, experiment_id: str) -> None:
    """Tag the experiment as a model-training one (see the module doc)."""
    experiment = client.get_experiment(experiment_id)
    if experiment.tags.get(EXPERIMENT_KIND) != MODEL_TRAINING:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)


def view_key(sweep: str) -> str:
    """The share key of a sweep's view (letters, digits, ``-``, ``_`` and ``.`` only)."""
    return "dabench-" + re.sub(r"[^A-Za-z0-9_.-]", "-", sweep)


def view_state(sweep: str, objective: str, oracle: str) -> dict[str, Any]:
    """The shared view state of a sweep: its trial runs, best objective first, with the
    objective, the oracle, the trial status and target-test as columns, in that order, next to
    the run name (``columnOrder``: the grid's column ids, the two pinned ones first)."""
    from dabench.sweep import objective_mode

    test = oracle.replace("target_val", "target_test")
    metrics = [f"metrics.`{m}`" for m in dict.fromkeys([objective, oracle])]
    status, test_column = f"tags.`{tracking.STATUS}`", f"metrics.`{test}`"
    columns = [*metrics, status, test_column]
    return {
        "searchFilter": f"tags.`{tracking.SWEEP}` = '{sweep}' and tags.`{tracking.KIND}` = 'trial'",
        "orderByKey": f"metrics.`{objective}`",
        "orderByAsc": objective_mode(objective) == "min",
        "selectedColumns": columns,
        "columnOrder": ["attributes.`Run Name`", "runDateAndNestInfo", *columns],
        "columnWidths": {column: 130 for column in columns} | {status: 110},
    }


def publish_view(client: Any, experiment_id: str, sweep: str, objective: str, oracle: str) -> str:
    """Save the sweep's view as an experiment tag; return its share key."""
    key = view_key(sweep)
    state = json.dumps(view_state(sweep, objective, oracle))
    client.set_experiment_tag(experiment_id, VIEW_PREFIX + key, state)
    return key


def runs_url(base: str, experiment_id: str, key: str | None = None) -> str:
    """The UI's runs page of an experiment in the model-training view, with the shared view
    ``key`` applied when given."""
    url = f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType={WORKFLOW}"
    return url + (f"&viewStateShareKey={key}" if key else "")


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
    where = f"tags.`{tracking.KIND}` = 'sweep'"
    if sweep is not None:
        where += f" and tags.`{tracking.SWEEP}` = '{sweep}'"
    runs = client.search_runs(experiments, where, order_by=["attributes.start_time DESC"],
                              max_results=1)  # fmt: skip
    if not runs:
        if sweep is not None:
            every = client.search_runs(experiments, f"tags.`{tracking.KIND}` = 'sweep'")
            names = [r.data.tags.get(tracking.SWEEP, "") for r in every]
            raise ValueError(f"no sweep named {sweep!r} in the store"
                             + did_you_mean(sweep, names))  # fmt: skip
        return None
    run = runs[0]
    experiment_id, name = run.info.experiment_id, run.data.tags[tracking.SWEEP]
    key = view_key(name)
    if VIEW_PREFIX + key not in client.get_experiment(experiment_id).tags:
        objective = run.data.tags.get("objective", "")
        oracle = run.data.tags.get("oracle", "target_val_acc")
        publish_view(client, experiment_id, name, objective, oracle)
    return experiment_id, key


def log_summary(client: Any, parent: Any, frame: Any, objective: str, oracle: str) -> None:
    """Log a finished sweep's summary on its parent run: the picks as the run's description
    (:func:`description`) and, as artifacts under ``summary/``, ``trials.md`` (one row per
    trial: name, status, objective, oracle, target-test, last step and the searched
    hyperparameters, best first), ``parallel_coordinates.png``
    (:func:`dabench.leaderboard.parallel_coordinates`, as in the leaderboard) and
    ``metrics_vs_step.png`` (the objective and the oracle of every trial at each evaluation).
    ``frame``: the sweep's trials (:func:`dabench.selection.trials`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dabench.leaderboard import parallel_coordinates

    run_id, tags = parent.info.run_id, parent.data.tags
    table = summary_table(frame, objective, oracle).to_markdown(index=False, floatfmt=".4g")
    client.log_text(run_id, table + "\n", "summary/trials.md")
    client.set_tag(run_id, NOTE, description(parent, objective, oracle))
    figures = {
        "parallel_coordinates.png": parallel_coordinates(
            frame, objective, tags["method"], parent.data.params.get("space_file"),
            f"sweep {tags[tracking.SWEEP]}"),
        "metrics_vs_step.png": metrics_vs_step(client, frame, objective, oracle),
    }  # fmt: skip
    for name, figure in figures.items():
        if figure is not None:  # (no parallel coordinates for a single scored trial)
            client.log_figure(run_id, figure, f"summary/{name}")
            plt.close(figure)


def description(parent: Any, objective: str, oracle: str) -> str:
    """The sweep's story in a few lines of markdown, from its closed parent run (trial counts,
    ``pick.*`` tags, ``best.*`` and ``best_checkpoint.*`` metrics): what ran and what was
    picked, with the pick's objective, oracle and target-test."""
    tags, metrics = parent.data.tags, parent.data.metrics
    test = oracle.replace("target_val", "target_test")
    counts = ", ".join(f"{int(metrics[f'trials_{k}'])} {k}" for k in
                       ("completed", "pruned", "failed") if metrics.get(f"trials_{k}"))  # fmt: skip
    lines = [f"**{tags.get('method')}** on **{tags.get('task')}**: trials {counts}; "
             f"objective `{objective}` (label-free unless it is the oracle)."]  # fmt: skip

    def scores(prefix: str) -> str:
        shown = [f"`{k}` {metrics[f'{prefix}.{k}']:.4g}" for k in dict.fromkeys(
            [objective, oracle, test]) if f"{prefix}.{k}" in metrics]  # fmt: skip
        return ", ".join(shown)

    if "pick.trial.name" in tags:
        lines.append(f"- trial-level pick: **{tags['pick.trial.name']}** — {scores('best')}")
    if "pick.checkpoint.name" in tags:
        lines.append(f"- checkpoint-level pick: **{tags['pick.checkpoint.name']}** at step "
                     f"{tags.get('pick.checkpoint.step')} — {scores('best_checkpoint')}")  # fmt: skip
    lines.append("\nEvery trial and the plots: artifacts `summary/` (trials.md, "
                 "parallel_coordinates.png, metrics_vs_step.png).")  # fmt: skip
    return "\n".join(lines)


def summary_table(frame: Any, objective: str, oracle: str) -> Any:
    """The trials of ``frame`` best first: name, status, objective, oracle, target-test, step
    and the searched hyperparameters."""
    import pandas as pd

    from dabench.sweep import objective_mode

    test = oracle.replace("target_val", "target_test")
    keys = [k for k in dict.fromkeys([objective, oracle, test, "step"]) if k in frame]
    searched = pd.DataFrame(list(frame["searched"]), index=frame.index)
    table = pd.concat([frame[["trial", "status", *keys]], searched], axis=1)
    ascending = objective_mode(objective) == "min"
    return table.sort_values(objective, ascending=ascending, na_position="last")


def metrics_vs_step(client: Any, frame: Any, objective: str, oracle: str) -> Any:
    """The objective (left) and the oracle (right) of every trial at each evaluation, from the
    trials' MLflow metric histories; one line per trial (dashed: pruned)."""
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys([objective, oracle]))
    figure, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 3.8), squeeze=False,
                                layout="constrained")  # fmt: skip
    for ax, key in zip(axes[0], keys, strict=True):
        for _, row in frame.iterrows():
            history = sorted((m.step, m.value) for m in
                             client.get_metric_history(row["run_id"], key))  # fmt: skip
            if history:
                steps, values = zip(*history, strict=True)
                style = "--" if row["status"] == "pruned" else "-"
                ax.plot(steps, values, style, marker=".", label=row["trial"])
        ax.set_xlabel("step")
        ax.set_title(key)
    axes[0][0].legend(fontsize=7)
    return figure
