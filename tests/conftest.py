"""Shared fixtures: one private Ray cluster per test session (started only if a test asks)."""

import os

import pytest

# Throwaway local clusters need no token (set before any ray.init; subprocess tests that talk
# to a `ray start` head remove it again).
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray cluster with 2 CPUs, private to this session (``address="local"``
    never attaches to another process's head)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
