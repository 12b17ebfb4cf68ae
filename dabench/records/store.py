"""The MLflow tracking store: which one, whether it can work, and its experiments.

Everything goes through an explicit ``MlflowClient(tracking_uri)`` — no global active run and
no global tracking URI — so the same calls work in the driver and inside Ray workers, with a
local store or a tracking server, and a library user can call dabench twice in one process.
The default store is ``sqlite:///<cwd>/mlflow.db`` (MLflow's own default; a file store is
refused by MLflow 3).
"""

from __future__ import annotations

import fcntl
import os
import re
import urllib.request
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from dabench.records.schema import EXPERIMENT_KIND, MODEL_TRAINING


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/mlflow.db`` (absolute, so Ray
    workers with another working directory write to the same store)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def check_reachable(uri: str) -> None:
    """Fail fast, before any training, on a store that cannot work: a tracking server that does
    not answer (MLflow's client would retry for minutes) or an sqlite file in a missing folder."""
    if uri.startswith(("http://", "https://")):
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


def reading_client(uri: str) -> MlflowClient:
    """A client on an existing store (:func:`require_store`, :func:`check_reachable`)."""
    check_reachable(uri)
    require_store(uri)
    return MlflowClient(uri)


def sqlite_folder(uri: str) -> Path | None:
    """The folder of a local sqlite store's database file; ``None`` for other stores."""
    return Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else None


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment of a local sqlite store keeps its artifacts: beside the database,
    in ``<its folder>/mlruns/<experiment>`` (MLflow's default is ``./mlruns`` of whatever the
    working directory is); ``None`` (the server's choice) for other stores."""
    folder = sqlite_folder(uri)
    if folder is None:
        return None
    return str(folder / "mlruns" / re.sub(r"[^A-Za-z0-9_.-]", "-", experiment))


def prepare_store(uri: str) -> None:
    """Create or upgrade a local sqlite store under an exclusive lock on its folder. MLflow creates
    and migrates the database the first time a process opens it; two sweeps starting at once on a
    new store would otherwise race in that migration (alembic: "Online migration expected to
    match one row ... 0 found")."""
    folder_path = sqlite_folder(uri)
    if folder_path is None:
        return
    folder = os.open(folder_path, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        MlflowClient(uri).search_experiments(max_results=1)
    finally:
        os.close(folder)  # releases the lock


def experiment_id(client: MlflowClient, name: str) -> str:
    """The id of experiment ``name``, created if it does not exist (if another sweep creates it
    at the same moment, that one is used; its artifacts kept at :func:`artifact_location`),
    tagged as a model-training experiment (:func:`mark_model_training`)."""
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


def mark_model_training(client: MlflowClient, experiment_id: str) -> None:
    """Tag the experiment as a model-training one, the view MLflow's UI opens it in
    (the tag ``mlflow.experimentKind``)."""
    experiment = client.get_experiment(experiment_id)
    if experiment.tags.get(EXPERIMENT_KIND) != MODEL_TRAINING:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)


def experiment_ids(client: MlflowClient, names: list[str] | None) -> list[str]:
    """The ids of the experiments ``names`` (every experiment when ``None``); ``ValueError``
    naming the store's experiments for an unknown name."""
    if names is None:
        return [e.experiment_id for e in client.search_experiments()]
    ids = []
    for name in names:
        found = client.get_experiment_by_name(name)
        if found is None:
            known = ", ".join(e.name for e in client.search_experiments()) or "none"
            raise ValueError(f"no MLflow experiment {name!r} in {client.tracking_uri}; there "
                             f"are: {known}")  # fmt: skip
        ids.append(found.experiment_id)
    return ids
