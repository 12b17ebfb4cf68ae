"""The MLflow tracking store: which one, whether it can work, and its experiments.

Everything goes through an explicit ``MlflowClient(tracking_uri)`` — no global active run and
no global tracking URI — so the same calls work in the driver and inside Ray workers, with a
local store or a tracking server, and a library user can call dabench twice in one process.
The default store is ``sqlite:///<cwd>/mlflow.db`` (MLflow's own default; a file store is
refused by MLflow 3).
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import sqlite3
import urllib.parse
import urllib.request
from pathlib import Path

import sqlalchemy
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from dabench.records.schema import EXPERIMENT_KIND, MODEL_TRAINING


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def tracking_uri(uri: str | None) -> str:
    """The store every process of a run must use: ``uri`` or the default, a relative sqlite path
    made absolute here, once, in the driver (``sqlite:///mlflow.db`` is relative to the working
    directory, and each Ray worker has another)."""
    uri = uri or default_tracking_uri()
    path = uri.removeprefix("sqlite:///")
    if uri.startswith("sqlite:///") and path and not path.startswith("/") and path != ":memory:":
        uri = f"sqlite:///{Path(path).expanduser().resolve()}"
    return uri


def redact(text: str) -> str:
    """``text`` with the credentials of every URI in it hidden: ``scheme://user:password@host``
    → ``scheme://***@host`` (for params, tags, exported files and messages)."""
    return USERINFO.sub(r"\1***@", text)


USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql")
"""The tracking stores dabench works with: a local sqlite file, an MLflow server, or a database
(``postgresql://``, ``mysql://``, ``mssql://``, with SQLAlchemy's ``+driver`` suffix if wanted)."""
ACCEPTED = ("sqlite:///path/to/mlflow.db, http(s)://host:port (an MLflow server) or a database "
            "(postgresql://..., mysql://..., mssql://...)")  # fmt: skip


def check_store(uri: str) -> None:
    """Refuse, before any training, a store that cannot work, in one line naming the store (its
    credentials hidden) and what is wrong: not a URI, an unknown scheme, MLflow's retired file
    store, a tracking server that does not answer (MLflow's client would retry for minutes), an
    sqlite file in a missing or read-only folder or one that is not an SQLite database, a
    database whose driver is not installed or that does not answer."""
    shown = f"--tracking-uri {redact(uri)}"
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if scheme == "file":
        raise ValueError(f"{shown}: MLflow's file store is not supported (MLflow 3 retired it); "
                         f"use {ACCEPTED}")  # fmt: skip
    if scheme not in SCHEMES:
        what = f"scheme {scheme!r} is no tracking store" if scheme else "not a URI"
        raise ValueError(f"{shown}: {what}; use {ACCEPTED}")
    if scheme in ("http", "https"):
        parts = urllib.parse.urlsplit(uri)
        request = urllib.request.Request(parts._replace(
            netloc=parts.netloc.rsplit("@", 1)[-1], path=parts.path.rstrip("/") + "/health",
        ).geturl())  # fmt: skip
        if parts.username:  # sent as a header, so that no error message can show it
            token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            urllib.request.urlopen(request, timeout=10).read()
        except (OSError, ValueError) as error:
            raise ValueError(f"{shown}: no MLflow server answers there ({redact(str(error))}); "
                             "start one (`mlflow server --host 127.0.0.1 --port 5000`) or leave "
                             "--tracking-uri out for the local store sqlite:///./mlflow.db"
                             ) from None  # fmt: skip
    elif scheme == "sqlite":
        check_sqlite(uri, shown)
    else:
        check_database(uri, shown)


def check_sqlite(uri: str, shown: str) -> None:
    """An sqlite store: its folder exists and can be written; an existing file is a database."""
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.parent.is_dir():
        raise ValueError(f"{shown}: the folder {path.parent} does not exist")
    probe = path.parent / f".dabench-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"{shown}: cannot write in {path.parent} ({error.strerror})") from None
    if path.exists():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                db.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as error:
            raise ValueError(f"{shown}: {path} is not an SQLite database ({error}); give "
                             "another file, or move this one away") from None  # fmt: skip


def check_database(uri: str, shown: str) -> None:
    """A database store: SQLAlchemy has its driver and the database answers."""
    try:
        engine = sqlalchemy.create_engine(uri)
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as error:
        raise ValueError(f"{shown}: its database driver is not installed ({error}); install it "
                         "(e.g. `pip install psycopg2-binary` for postgresql)") from None  # fmt: skip
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = redact(str(error.orig if getattr(error, "orig", None) else error)).strip()
        raise ValueError(
            f"{shown}: the database does not answer ({reason.splitlines()[0]})"
        ) from None
    finally:
        engine.dispose()


def open_store(uri: str, experiment: str) -> tuple[MlflowClient, str]:
    """A client on the store ``uri`` (already checked, :func:`check_store`; a new local store
    created) and the id of ``experiment`` in it, written to once — before anything is trained,
    so that a store that cannot be written (read-only, full) is refused in one line."""
    try:
        prepare_store(uri)
        client = MlflowClient(uri)
        return client, experiment_id(client, experiment)
    except (MlflowException, OSError, sqlalchemy.exc.SQLAlchemyError) as error:
        reason = redact(str(error)).strip().splitlines()[0]
        raise ValueError(
            f"--tracking-uri {redact(uri)}: cannot write to the store ({reason})"
        ) from None


def require_store(uri: str) -> None:
    """Refuse a local sqlite store that does not exist, before MLflow creates an empty one (for
    the commands that only read: ``leaderboard``, ``export``, ``validators``, ``ui``)."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ValueError(
            f"no MLflow store at {uri}: run a sweep first (`dabench sweep ...`, which records "
            "to ./mlflow.db), or pass --tracking-uri"
        )


def reading_client(uri: str | None) -> MlflowClient:
    """A client on an existing store (``uri`` or the default; :func:`require_store`,
    :func:`check_store`)."""
    uri = tracking_uri(uri)
    require_store(uri)
    check_store(uri)
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
    """Tag the experiment as a model-training one, the view MLflow's UI opens it in (the tag
    ``mlflow.experimentKind``); written every time, so that opening a store proves it can be
    written."""
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)  # a write, always


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
