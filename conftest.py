"""Pytest configuration shared by the test suite and the doctests in ``dabench/``."""

import os

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    """On pytest-xdist's workers (one per core), torch computes on one thread in each, and so do
    the processes the tests start (``OMP_NUM_THREADS``; a user's own value wins): two workers of
    torch's default two threads on 2 cores made the fast lane twice as slow
    (``benchmarks/threads.py``: oversubscribed threads wait for each other)."""
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    """Docstring examples may use ``torch`` without importing it, and start from a fixed seed."""
    doctest_namespace["torch"] = torch
    torch.manual_seed(0)
