"""Shared fixtures — one private Ray cluster, one wheel installed outside the checkout and one
tiny sweep run from it, each made once per test session, on one xdist worker, and only if a test
asks (see :data:`GROUPS`) — and the two lanes: ``pytest -m "not slow"`` runs
every test that starts no Ray cluster, server or browser; the full suite (CI) runs them all."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from install_helpers import ROOT, build_wheel, install, run_installed
from mlflow.tracking import MlflowClient

from dabench.records import schema

# Throwaway local clusters need no token (set before any ray.init; subprocess tests that talk
# to a `ray start` head remove it again).
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

GROUPS = {"ray_local": "ray_local", "installed_dabench": "installed", "tiny_sweep": "installed"}
"""The session fixtures a test may share, and the xdist group of the tests that use each: the
suite runs on pytest-xdist's workers (``-n auto --dist loadgroup``), and a group's tests all run
on one worker, so each fixture is made once (one Ray cluster, one wheel and its tiny sweep) while
the other tests spread over the other workers. (More clusters made the suite slower on 2 cores:
one per module's Ray tests 912 s against 814 and 873 s; one per worker, every Ray test spread
like the rest, 1,233 s against 1,049 s: four trials and two clusters on two cores.) A test that
uses one of them starts Ray or builds a wheel: slow, whether or not it says so."""


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = [GROUPS[f] for f in getattr(item, "fixturenames", ()) if f in GROUPS]
        if used:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group(used[0]))


class GroupCheck:
    """Fail at once where xdist's ``loadgroup`` does not group (pytest 9.2 broke it:
    pytest-dev/pytest-xdist#1386); each worker would then make every shared fixture again."""

    @pytest.hookimpl(trylast=True)  # after xdist has marked the grouped tests' ids
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
                raise pytest.UsageError(
                    f"pytest-xdist's --dist loadgroup does not group {item.nodeid} with this "
                    f"pytest ({pytest.__version__}); install pytest<9.2 (pyproject.toml's test "
                    "extra) or run with -n 0"
                )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(GroupCheck(), "dabench-group-check")


@pytest.fixture(autouse=True)
def _fast_tests_start_no_ray(request, monkeypatch):
    """A test outside the slow lane that starts Ray in this process fails, naming the fix, so
    the fast lane stays fast (a subprocess it starts is its author's to mark)."""
    if request.node.get_closest_marker("slow") is not None:
        return
    import ray

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} starts Ray: mark it @pytest.mark.slow")

    monkeypatch.setattr(ray, "init", refuse)


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray cluster with 2 CPUs, private to this session (``address="local"``
    never attaches to another process's head)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def installed_dabench(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh environment holding only a wheel built from this checkout
    (:mod:`install_helpers`)."""
    if not (ROOT / ".git").exists():
        pytest.fail("the install fixture builds from the git checkout's tracked files")
    base = tmp_path_factory.mktemp("install")
    return install(build_wheel(base), base / "venv")


@dataclass(frozen=True)
class TinySweep:
    folder: Path  # where it ran: not the checkout
    uri: str
    parent: object  # the sweep's MLflow run
    console: str  # what it printed (stdout and stderr)


@pytest.fixture(scope="session")
def tiny_sweep(installed_dabench, tmp_path_factory) -> TinySweep:
    """The sweep every test that only reads one shares: ``dabench sweep`` of 2 DANN trials on
    moons/rot40 (40 steps), named ``tiny``, run by the installed wheel in a folder of its own
    with the default storage (``./ray_results``) and an sqlite store there."""
    folder = tmp_path_factory.mktemp("tiny-sweep")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = run_installed(installed_dabench, folder, "sweep", "--method", "dann", "--task",
                         "moons/rot40", "--num-samples", "2", "--steps", "40", "--eval-every",
                         "20", "--name", "tiny", "--tracking-uri", uri)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("dabench").experiment_id
    (parent,) = client.search_runs([experiment], schema.where(**{schema.KIND: schema.SWEEP_KIND}))
    return TinySweep(folder, uri, parent, done.stdout + done.stderr)
