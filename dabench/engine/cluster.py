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
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Save Ray's experiment state every 2 s rather than every ≥ 10 s: after a SIGKILL, less
    # work is lost and fewer started trials are unknown to the restored sweep.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
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


@contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """Make SIGTERM stop the run as Ctrl-C does: Tune then saves its state one last time and
    returns. (Ray's own handler would abort the driver and lose what ran since the last
    snapshot.)"""

    def interrupt(signum: int, frame: Any) -> None:
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
