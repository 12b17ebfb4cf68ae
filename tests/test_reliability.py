"""Faults and load on real engines (a local Ray cluster, MLflow stores and servers): a trial's
worker killed mid-trial, two sweeps at once on one store, a soak of 100+ trials. Nothing is
mocked. The catalogue of every reliability case and its test is ``reports/reliability.md``."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import assert_sweeps_apart, own_processes_matching, runs_of, sweep_command

from dabench.engine.options import SweepOptions
from dabench.engine.sweep import run_sweep
from dabench.records import readers, schema
from dabench.reports import leaderboard
from dabench.validators import COSTLY

TINY = ["--method", "dann", "--task", "moons/rot40", "--scheduler", "none"]


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_retried_from_its_checkpoint(ray_local, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    options = SweepOptions(
        method="dann", task="moons/rot40", steps=120, eval_every=20, num_samples=1,
        max_concurrent=1, scheduler="none", max_failures=1, storage=str(tmp_path / "ray"),
        tracking_uri=uri,
    )  # fmt: skip
    killed: list[int] = []

    def kill_the_trial_after_its_third_evaluation() -> None:
        client = MlflowClient(uri)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            experiment = client.get_experiment_by_name("dabench")
            runs = [] if experiment is None else client.search_runs(
                [experiment.experiment_id], f"tags.`{schema.KIND}` = 'trial'")  # fmt: skip
            if runs and len(client.get_metric_history(runs[0].info.run_id, "train_loss")) >= 3:
                for pid in own_processes_matching("ray::ImplicitFunc"):  # the trial's actor
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_trial_after_its_third_evaluation)
    killer.start()
    summary = run_sweep(options)
    killer.join()
    assert killed, "no trial process was found to kill"
    assert summary.counts["completed"] == 1 and summary.counts["failed"] == 0
    client = MlflowClient(uri)
    runs = sorted(readers.children(client, *parent_ids(client, summary)),
                  key=lambda r: r.info.start_time)  # fmt: skip
    assert len(runs) == 1  # the retried trial kept its run
    first = runs[0]
    assert first.info.status == "FINISHED" and first.data.tags[schema.STARTS] == "2"
    steps = [m.step for m in client.get_metric_history(first.info.run_id, "train_loss")]
    assert sorted(set(steps)) == list(range(20, 121, 20))  # resumed, not restarted: no gap


def parent_ids(client: MlflowClient, summary) -> tuple[str, str]:
    experiment = client.get_experiment_by_name(summary.experiment).experiment_id
    return experiment, summary.parent_run_id


@pytest.mark.slow
def test_four_sweeps_at_once_share_one_sqlite_store_and_lose_no_write(ray_local, tmp_path):
    """Four ``dabench sweep`` drivers on one Ray cluster, a trial of each running at once, all
    writing to one new sqlite store. (The same on one MLflow server and one ``ray start``
    cluster: ``test_sweep_ray.py``.)"""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # new: the four drivers create it at once
    address = ray_local.get_runtime_context().gcs_address
    names = ["a", "b", "c", "d"]
    drivers = {name: start_tiny_sweep(tmp_path, uri, name, seed, address)
               for seed, name in enumerate(names)}  # fmt: skip
    for name, driver in drivers.items():
        _, err = driver.communicate(timeout=600)
        assert driver.returncode == 0, f"{name}: {err[-3000:]}"
        assert "database is locked" not in err
    assert_sweeps_apart(uri, "dabench", names, trials=2)
    client = MlflowClient(uri)
    for name in drivers:  # every evaluation of every trial reads back, every metric of it
        frame = readers.checkpoints(client, readers.require_sweep(client, "dabench", name))
        costly = [f"validator_{v}" for v in COSTLY] + ["dev_ess"]  # at the last evaluation only
        assert len(frame) == 2 * 2 and not frame.drop(columns=costly).isna().any().any()
        assert not frame.loc[frame["last"], costly].isna().any().any()


def start_tiny_sweep(directory: Path, uri: str, name: str, seed: int,
                     address: str) -> subprocess.Popen:  # fmt: skip
    """``dabench sweep`` of 2 DANN trials of 40 steps in a subprocess on the cluster at
    ``address``, a trial on half a CPU (so four sweeps run a trial each at once on 2 CPUs),
    state under ``directory/name``."""
    argv = [*TINY, "--num-samples", "2", "--steps", "40", "--eval-every", "20",
            "--max-concurrent", "1", "--cpus-per-trial", "0.5", "--seed", str(seed),
            "--storage", str(directory / name), "--tracking-uri", uri, "--name", name,
            "--address", address]  # fmt: skip
    return subprocess.Popen(
        sweep_command(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def peak_rss_mib(pid: int) -> float:
    """``VmHWM``: the peak resident set size of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


@pytest.mark.slow
def test_a_soak_of_a_hundred_tiny_trials_completes_with_bounded_driver_memory(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    driver = subprocess.Popen(
        sweep_command(*TINY, "--num-samples", "100", "--steps", "1", "--eval-every", "1",
                      "--searcher", "random", "--storage", str(tmp_path), "--tracking-uri", uri,
                      "--name", "soak", "--set", "costly_validators=never"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    peak = 0.0
    while driver.poll() is None:
        try:
            peak = max(peak, peak_rss_mib(driver.pid))
        except (OSError, AssertionError):  # exiting
            pass
        time.sleep(0.5)
    output = driver.stdout.read()
    assert driver.returncode == 0, output[-3000:]
    assert "[100/100]" in output
    client = MlflowClient(uri)
    parent = readers.require_sweep(client, "dabench", "soak")
    assert parent.data.metrics["trials_completed"] == 100
    frame = readers.checkpoints(client, parent)  # what the validator report reads
    assert frame["run_id"].nunique() == 100 and len(frame) == 100
    board = leaderboard.build(runs_of(uri, ["dabench"]))  # what the leaderboard reads
    assert board.cost[["completed", "pruned", "failed"]].values.tolist() == [[100, 0, 0]]
    print(f"soak: 100 trials, driver peak RSS {peak:.0f} MiB")  # reports/reliability.md
    assert 0 < peak < 2048


def test_an_unreadable_image_fails_the_trial_naming_the_file(tmp_path):
    from test_data_real import digits_tree

    from dabench.trainable import run_trial

    root = digits_tree(tmp_path)
    broken = root / "mnist_test_image" / "7_3.png"  # not the first image: found mid-trial
    broken.write_bytes(b"not a png")
    config = {"method": "dann", "task": "digits/USPS2MNIST", "root": str(root), "steps": 2,
              "eval_every": 1, "batch_size": 4}  # fmt: skip
    with pytest.raises(OSError, match=r"cannot read image .*mnist_test_image/7_3\.png"):
        run_trial(config)
