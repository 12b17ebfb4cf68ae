"""MLflow tracking: one parent run per sweep, one nested child run per trial.

Everything goes through an explicit ``MlflowClient(tracking_uri)`` — no global active run — so the
same calls work in the driver and inside Ray workers, with a local store or a tracking server.
The default store is ``sqlite:///<cwd>/mlflow.db`` (MLflow's own default; a file store is refused
by MLflow 3).
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

PARENT_TAG = "mlflow.parentRunId"
KIND, SWEEP, TRIAL_ID = "dabench.kind", "dabench.sweep", "dabench.trial_id"
BENCHMARK = "dabench.benchmark"  # of the sweeps and seeds groups a `dabench benchmark` made
STATUS = "dabench.status"  # running|completed|pruned|failed|interrupted|superseded
STARTS = "dabench.starts"  # how often the trial started: 1 + resumes + retries
CONFIG = "dabench.config"  # a trial's whole config as JSON, exact types (what a rerun trains)


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/mlflow.db`` (absolute, so Ray
    workers with another working directory write to the same store)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def check_reachable(uri: str) -> None:
    """Fail fast, before any training, on a store that cannot work: a tracking server that does
    not answer (MLflow's client would retry for minutes) or an sqlite file in a missing folder."""
    if uri.startswith(("http://", "https://")):
        import urllib.request

        try:
            urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=10).read()
        except OSError as error:
            raise ValueError(
                f"--tracking-uri {uri}: no MLflow server answers there ({error}); start one "
                "(`mlflow server --host 127.0.0.1 --port 5000`) or leave --tracking-uri out for "
                "the local store sqlite:///./mlflow.db"
            ) from None
    elif (folder := sqlite_folder(uri)) is not None:
        if not folder.is_dir():
            raise ValueError(f"--tracking-uri {uri}: the folder {folder} does not exist")


def require_store(uri: str) -> None:
    """Refuse a local sqlite store that does not exist, before MLflow creates an empty one (for
    the commands that only read: ``leaderboard``, ``export``, ``validators``, ``ui``)."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ValueError(
            f"no MLflow store at {uri}: run a sweep first (`dabench sweep ...`, which records "
            "to ./mlflow.db), or pass --tracking-uri"
        )


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment of a local sqlite store keeps its artifacts: beside the database,
    in ``<its folder>/mlruns/<experiment>`` (MLflow's default is ``./mlruns`` of whatever the
    working directory is); ``None`` (the server's choice) for other stores."""
    folder = sqlite_folder(uri)
    if folder is None:
        return None
    return str(folder / "mlruns" / re.sub(r"[^A-Za-z0-9_.-]", "-", experiment))


def sqlite_folder(uri: str) -> Path | None:
    """The folder of a local sqlite store's database file; ``None`` for other stores."""
    return Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else None


def prepare_store(uri: str) -> None:
    """Create or upgrade a local sqlite store under an exclusive lock on its folder. MLflow creates
    and migrates the database the first time a process opens it; two sweeps starting at once on a
    new store would otherwise race in that migration (alembic: "Online migration expected to
    match one row ... 0 found")."""
    folder_path = sqlite_folder(uri)
    if folder_path is None:
        return
    import fcntl

    folder = os.open(folder_path, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        MlflowClient(uri).search_experiments(max_results=1)
    finally:
        os.close(folder)  # releases the lock


def experiment_id(client: MlflowClient, name: str) -> str:
    """The id of experiment ``name``, created if it does not exist (if another sweep creates it
    at the same moment, that one is used; its artifacts kept at :func:`artifact_location`),
    tagged as a model-training experiment (:func:`dabench.dashboard.mark_model_training`)."""
    from mlflow.exceptions import MlflowException

    from dabench.dashboard import mark_model_training

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        found = experiment.experiment_id
    else:
        try:
            found = client.create_experiment(name, artifact_location(client.tracking_uri, name))
        except MlflowException:  # created meanwhile by a concurrent sweep
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            found = experiment.experiment_id
    mark_model_training(client, found)
    return found


def start_run(
    client: MlflowClient,
    experiment: str,
    name: str,
    tags: dict[str, str],
    params: dict[str, Any] | None = None,
) -> str:
    run = client.create_run(experiment, run_name=name, tags=tags)
    if params:
        log_params(client, run.info.run_id, params)
    return run.info.run_id


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    """Log ``params`` (``None`` values are left out: a param records a value used)."""
    items = [Param(key, str(value)[:6000]) for key, value in sorted(params.items())
             if value is not None]  # fmt: skip
    for start in range(0, len(items), 100):  # MLflow's batch limit
        client.log_batch(run_id, params=items[start : start + 100])


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, Any], step: int) -> None:
    """Every finite numeric value of ``metrics`` at ``step`` (strings and NaN are skipped)."""
    now = int(time.time() * 1000)
    items = [
        Metric(key, float(value), now, step)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ]
    for start in range(0, len(items), 1000):
        client.log_batch(run_id, metrics=items[start : start + 1000])


def set_tags(client: MlflowClient, run_id: str, tags: dict[str, str]) -> None:
    client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def find_child(client: MlflowClient, experiment: str, parent: str, trial_id: str) -> str | None:
    """The child run of ``parent`` for ``trial_id``, if one was started (a resumed trial reuses
    it rather than creating a duplicate)."""
    runs = client.search_runs(
        [experiment],
        filter_string=f"tags.`{PARENT_TAG}` = '{parent}' and tags.`{TRIAL_ID}` = '{trial_id}'",
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def children(client: MlflowClient, experiment: str, parent: str) -> list[Any]:
    """Every child run of ``parent`` (one per trial that started)."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment], filter_string=f"tags.`{PARENT_TAG}` = '{parent}'",
            max_results=1000, page_token=token,
        )  # fmt: skip
        runs.extend(page)
        token = page.token
        if not token:
            return runs
