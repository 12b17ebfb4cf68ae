"""Pytest configuration shared by the test suite and the doctests in ``dabench/``."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    """Docstring examples may use ``torch`` without importing it, and start from a fixed seed."""
    doctest_namespace["torch"] = torch
    torch.manual_seed(0)
