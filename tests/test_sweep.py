"""``dabench sweep`` with the real engines: a local Ray cluster, Optuna's TPE, ASHA, MLflow (a local
sqlite store and a tracking server on 127.0.0.1). Slow: marked, and run in CI."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from dabench.cli import main
from dabench.sweep import STATE_FILE, SweepOptions, run_sweep

pytestmark = pytest.mark.slow
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def options(tmp_path: Path, **overrides) -> SweepOptions:
    values = {"method": "dann", "task": "moons/rot40", "num_samples": 4, "steps": 40,
              "eval_every": 20, "storage": str(tmp_path / "ray"),
              "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "test"}  # fmt: skip
    return SweepOptions(**{**values, **overrides})


def runs(uri: str, experiment: str = "test"):
    mlflow.set_tracking_uri(uri)
    frame = mlflow.search_runs(experiment_names=[experiment])
    parents = frame[frame["tags.dabench.kind"] == "sweep"]
    children = frame[frame["tags.dabench.kind"] == "trial"]
    return parents, children


def test_a_small_sweep_end_to_end(ray_cluster, tmp_path):
    summary = run_sweep(options(tmp_path))
    assert sum(summary.counts.values()) == 4 and summary.counts["failed"] == 0
    assert summary.counts["completed"] >= 1 and not summary.interrupted
    assert summary.objective == "source_val_acc" and summary.oracle == "target_val_acc"
    assert "lr" in summary.best_config and 0 <= summary.best_metrics["target_test_acc"] <= 100
    parents, children = runs(summary.tracking_uri)
    assert len(parents) == 1 and len(children) == 4
    parent = parents.iloc[0]
    assert parent["status"] == "FINISHED" and parent["params.sweep.method"] == "dann"
    assert parent["params.version.ray"] and parent["metrics.trials_completed"] >= 1
    assert set(children["tags.mlflow.parentRunId"]) == {parent["run_id"]}
    assert set(children["status"]) <= {"FINISHED", "KILLED"}
    assert set(children["tags.dabench.status"]) <= {"completed", "pruned"}
    client = MlflowClient(summary.tracking_uri)
    finished = children[children["tags.dabench.status"] == "completed"].iloc[0]
    history = client.get_metric_history(finished["run_id"], "source_val_acc")
    assert [m.step for m in history] == [20, 40]
    assert (
        float(finished["params.lr"]) > 0
        and "cpu_s" in client.get_run(finished["run_id"]).data.metrics
    )
    assert (Path(summary.path) / STATE_FILE).is_file()


def test_conditional_space_and_failing_trials(ray_cluster, tmp_path):
    space = tmp_path / "cdan.yaml"
    space.write_text(yaml.safe_dump({"method": "cdan", "parameters": {
        "randomized": {"type": "categorical", "choices": [False, True]},
        "randomized_dim": {"type": "int", "low": 16, "high": 64, "when": {"randomized": True}},
        "lr": {"type": "loguniform", "low": 1e25, "high": 1e30},  # every trial diverges
    }}))  # fmt: skip
    summary = run_sweep(options(tmp_path, method="cdan", space=str(space), num_samples=6,
                                steps=20, eval_every=10, scheduler="none"))  # fmt: skip
    assert summary.counts["failed"] == 6 and not summary.best_config
    _, children = runs(summary.tracking_uri)
    assert len(children) == 6 and set(children["status"]) == {"FAILED"}
    assert all("NonFiniteLossError" in e for e in children["tags.error"])
    searched = [json.loads(s) for s in children["tags.searched"]]
    for values in searched:
        assert ("randomized_dim" in values) == values["randomized"]


def test_bad_input_is_refused_before_ray_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("dabench.sweep.init_ray", lambda *a: pytest.fail("Ray was started"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: dann\nparameters:\n  lr: {type: loguniform, low: 0.1, high: 0.01}\n")
    argv = ["sweep", "--method", "dann", "--task", "moons/rot40", "--storage", str(tmp_path)]
    assert main([*argv, "--space", str(bad)]) == 2
    assert "parameters.lr: low must be below high" in capsys.readouterr().err
    assert main([*argv, "--metric", "target_test_accuracy"]) == 2
    assert "--metric 'target_test_accuracy'" in " ".join(capsys.readouterr().err.split())
    assert main(["sweep", "--method", "osbp", "--task", "moons/rot40"]) == 2
    assert "does not support the 'closed' setting" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sweep_command(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dabench", "sweep", "--method", "dann", "--task", "moons/rot40",
            "--storage", str(tmp_path / "ray"), "--experiment", "test", *extra]  # fmt: skip


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_resume_after_the_driver_is_stopped(tmp_path, stop):
    """Stop the driver after two trials finished; --resume finishes the sweep with no lost or
    duplicated trial and with the seeded search continuing (a cold restart would propose the
    first configurations again)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = sweep_command(tmp_path, "--num-samples", "6", "--max-concurrent", "1",
                            "--steps", "300", "--eval-every", "100", "--scheduler", "none",
                            "--name", "interrupted", "--tracking-uri", uri)  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env,
                              start_new_session=True)  # fmt: skip
    finished = 0
    for line in driver.stdout:
        finished += line.startswith("[")
        if finished == 2:
            break
    os.killpg(driver.pid, stop) if stop == signal.SIGKILL else driver.send_signal(stop)
    driver.wait(timeout=120)
    if stop != signal.SIGKILL:  # let Ray's own daemons of that session exit
        time.sleep(2)
    try:
        os.killpg(driver.pid, signal.SIGKILL)  # whatever the stopped driver left behind
    except ProcessLookupError:
        pass
    resumed = subprocess.run(
        [sys.executable, "-m", "dabench", "sweep", "--resume", str(tmp_path / "ray" / "interrupted")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, children = runs(uri)
    assert len(children) == 6 and children["tags.dabench.trial_id"].is_unique
    assert set(children["status"]) == {"FINISHED"}
    configs = {c for c in children["tags.searched"]}
    assert len(configs) == 6, "the restored search proposed a configuration again"
