"""The Ray cluster a sweep or benchmark runs on: connecting (or starting a private local one),
failing fast on an address nobody answers at or resources it lacks, and stopping cleanly on
SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

from dabench.compat import enable_token_auth_if_available


def init_ray(address: str | None) -> None:
    """Connect to the cluster at ``address``, or start a private local one (never attach to
    another session's head by accident)."""
    if ray.is_initialized():
        return
    if address:
        enable_token_auth_if_available()
        ray.init(address=address, log_to_driver=False)
    else:  # Ray's default token auth stays on: the local cluster listens on all interfaces
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                 log_to_driver=False)  # fmt: skip


def check_address(address: str) -> None:
    """Fail fast when nothing listens at a ``host:port`` cluster address (``ray.init`` would
    retry for about a minute and then fail with a long traceback)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms: leave them to Ray
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise ValueError(
            f"--address {address}: no Ray cluster answers there ({error}); start one with "
            "`ray start --head --port=6379`, or leave --address out for a local cluster"
        ) from None


def check_resources(cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Refuse what Ray would otherwise leave PENDING for ever (e.g. GPUs the cluster lacks)."""
    available = ray.cluster_resources()
    for kind, asked in (("CPU", cpus_per_trial), ("GPU", gpus_per_trial)):
        if asked > available.get(kind, 0):
            raise ValueError(
                f"--{kind.lower()}s-per-trial {asked} but the Ray cluster has "
                f"{available.get(kind, 0):g} {kind}s"
            )


def slots(cpus_per_trial: float, gpus_per_trial: float) -> int:
    """How many trials the Ray cluster runs at once, by its CPUs and GPUs.

    The benchmark's searcher offers that many trials and Tune must keep that many pending
    (``TUNE_MAX_PENDING_TRIALS_PG``; Tune's default for a custom searcher is 1): with a single
    pending trial, a trial that finishes hands its reused actor to the pending one, Tune cancels
    the actor it was starting for it, and short trials then never run side by side."""
    available = ray.cluster_resources()
    fits = available.get("CPU", 0) / cpus_per_trial
    if gpus_per_trial > 0:
        fits = min(fits, available.get("GPU", 0) / gpus_per_trial)
    return max(1, int(fits + 1e-9))


TUNE_DEFAULTS = {
    # Save Ray's experiment state every 2 s rather than every >= 10 s: after a SIGKILL, less
    # work is lost and fewer started trials are unknown to the restored sweep.
    "TUNE_GLOBAL_CHECKPOINT_S": "2",
    # Saving that often is meant: no warning that it is slow.
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}
"""Tune's settings (read from the environment while a run goes on) that dabench changes; a
value the user set in the environment wins."""


@contextmanager
def tune_run(pending_trials: int | None = None) -> Iterator[None]:
    """What one ``Tuner.fit`` runs under, all of it undone afterwards, exactly:

    * Tune's environment settings :data:`TUNE_DEFAULTS`, and with ``pending_trials``
      ``TUNE_MAX_PENDING_TRIALS_PG`` (see :func:`slots`);
    * SIGTERM stops the run as Ctrl-C does: Tune then saves its state one last time and
      returns. (Ray's own handler would abort the driver and lose what ran since the last
      snapshot.)

    The whole environment is put back as it was, including what the libraries set while the run
    went on (tensorboardX, which Tune's default loggers import, sets ``CRC32C_SW_MODE``): a
    process that runs several sweeps sees the same environment before each."""
    settings = {k: os.environ.get(k, v) for k, v in TUNE_DEFAULTS.items()}
    if pending_trials is not None:
        settings["TUNE_MAX_PENDING_TRIALS_PG"] = str(pending_trials)
    saved = dict(os.environ)

    def interrupt(signum: int, frame: Any) -> None:
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, interrupt)
    os.environ.update(settings)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)
