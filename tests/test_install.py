"""dabench as a user installs it: a wheel built from this checkout, installed into a fresh
virtual environment outside it (``installed_dabench``), runs ``dabench sweep`` (the shared
``tiny_sweep``), ``dabench benchmark --spec tiny`` and ``dabench demo`` from a folder that is not
the checkout: the search spaces and benchmark specs come from the package, not the source tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

from install_helpers import ROOT, run_installed, without_pythonpath
from mlflow.tracking import MlflowClient

from dabench import __version__
from dabench.records import schema


def test_the_installed_wheel_is_the_one_that_runs(installed_dabench, tmp_path):
    where = subprocess.run([str(installed_dabench / "python"), "-c",
                            "import dabench; print(dabench.__file__)"], cwd=tmp_path,
                           env=without_pythonpath(), capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    assert not Path(where.strip()).is_relative_to(ROOT), where  # the wheel, not the checkout
    version = run_installed(installed_dabench, tmp_path, "--version")
    assert version.stdout.strip() == f"dabench {__version__}", version.stderr
    space = run_installed(installed_dabench, tmp_path, "space", "cdan")
    assert space.returncode == 0 and "\nmethod: cdan\n" in space.stdout, space.stderr
    assert "site-packages/dabench/search_spaces/cdan.yaml" in space.stdout.splitlines()[0]


def test_a_sweep_from_the_wheel_records_its_trials_where_it_ran(tiny_sweep):
    client = MlflowClient(tiny_sweep.uri)
    experiment = client.get_experiment_by_name("dabench").experiment_id
    trials = client.search_runs(
        [experiment], schema.where(**{schema.SWEEP: "tiny", schema.KIND: schema.TRIAL_KIND})
    )
    assert len(trials) == 2 and all(t.info.status == "FINISHED" for t in trials)
    assert tiny_sweep.parent.info.status == "FINISHED"
    assert "site-packages/dabench/search_spaces/dann.yaml" in tiny_sweep.parent.data.params[
        "space_file"]  # fmt: skip
    assert (tiny_sweep.folder / "ray_results" / "tiny" / "dabench_sweep.json").is_file()
    assert "git_commit" not in tiny_sweep.parent.data.params  # an installed package has none


def test_the_tiny_benchmark_and_the_demo_run_from_the_wheel(installed_dabench, tmp_path):
    board = tmp_path / "tiny.md"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bench = run_installed(installed_dabench, tmp_path, "benchmark", "--spec", "tiny", "--trials",
                          "2", "--seeds", "1", "--tracking-uri", uri, "--out", str(board))  # fmt: skip
    assert bench.returncode == 0, (bench.stdout + bench.stderr)[-3000:]
    text = board.read_text()
    assert "moons/rot40" in text and "| dann" in text and "source_only" in text, text
    demo = run_installed(installed_dabench, tmp_path, "demo", "--steps", "50")
    assert demo.returncode == 0 and "target accuracy  DANN:" in demo.stdout, demo.stderr
