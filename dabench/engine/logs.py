"""The console shows dabench's own lines; Ray's, Tune's (its TensorBoard writer's too), Optuna's and
MLflow's logs go to a file.

By default (:func:`engine_logs` with ``verbose=False``) the loggers of the engines write to
``<sweep folder>/engines.log`` instead of the terminal, Python warnings go there too, and Tune's
console reporter is the legacy one, which prints nothing at ``verbose=0`` (the default "AIR"
reporter still prints its "Configuration for experiment" box, the results path and a TensorBoard
hint). ``--verbose`` leaves all of them on the console. Ray's workers never print to the driver
(``ray.init(log_to_driver=False)``; their logs stay in Ray's session folder). Everything is
given back when the block ends.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from dabench import storage

ENGINES = (
    "ray",
    "mlflow",
    "alembic",
    "optuna",
    "py.warnings",
    "filelock",
    "urllib3",
    "tensorboardX",
)
LOG_FILE = "engines.log"


def log_path(sweep_folder: str) -> Path:
    """Where a sweep's engine logs go: in its folder when that is local, else in the working
    directory (a sweep kept in an object store)."""
    if storage.is_uri(sweep_folder) and not sweep_folder.startswith("file://"):
        return Path(f"{sweep_folder.rstrip('/').rsplit('/', 1)[-1]}-{LOG_FILE}").resolve()
    return Path(sweep_folder.removeprefix("file://")) / LOG_FILE


@contextmanager
def engine_logs(path: Path, verbose: bool = False) -> Iterator[EngineLogs]:
    """Inside the block, the engines' logs go to ``path`` (created at the first record), unless
    ``verbose``; :meth:`EngineLogs.apply <dabench.engine.logs.EngineLogs.apply>` again after
    ``ray.init`` (which may add handlers)."""
    logs = EngineLogs(path, verbose)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial, even --verbose
    try:
        logs.apply()
        yield logs
    finally:
        logs.restore()
        optuna.logging.set_verbosity(verbosity)


class EngineLogs:
    """The redirection of :func:`engine_logs`: each engine logger's handlers are replaced by one
    file handler and given back on :meth:`restore`."""

    def __init__(self, path: Path, verbose: bool) -> None:
        self.path, self.verbose = path, verbose
        self.saved: dict[str, tuple[list[logging.Handler], bool]] = {}
        self.handler: logging.Handler | None = None
        self.environ = os.environ.get("RAY_AIR_NEW_OUTPUT")

    def apply(self) -> None:
        """Replace the engine loggers' handlers by the file's (again: idempotent)."""
        if self.verbose:
            return
        import mlflow  # noqa: F401  (each configures its loggers on import: replace them after)
        import ray  # noqa: F401

        if self.handler is None:
            self.handler = _FileHandler(self.path, delay=True)
            self.handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            logging.captureWarnings(True)
            os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
        for name in ENGINES:
            logger = logging.getLogger(name)
            self.saved.setdefault(name, (list(logger.handlers), logger.propagate))
            for handler in list(logger.handlers):
                if handler is not self.handler:
                    logger.removeHandler(handler)
            if self.handler not in logger.handlers:
                logger.addHandler(self.handler)
            logger.propagate = False

    def restore(self) -> None:
        """Give the engine loggers their handlers back and close the file."""
        if self.handler is None:
            return
        for name, (handlers, propagate) in self.saved.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self.handler)
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate
        logging.captureWarnings(False)
        if self.environ is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = self.environ
        self.handler.close()
        self.handler = None


class _FileHandler(logging.FileHandler):
    """A file handler that creates the file, and its folder, at the first record (a sweep refused
    before anything is logged leaves no folder behind)."""

    def _open(self) -> Any:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()
