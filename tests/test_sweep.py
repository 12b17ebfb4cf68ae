"""``dabench sweep``: what is checked before Ray starts (the end-to-end tests with a real Ray
cluster, Optuna and MLflow are in ``test_sweep_ray.py``)."""

import os
import socket
import time

import pytest

from dabench.cli import main
from dabench.sweep import SweepOptions, objective_key, validate


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
    assert main([*argv, "--set", "lr=0.1"]) == 2
    assert "fixes searched parameter(s)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--searcher must be tpe or random; got 'grid'"):
        validate(SweepOptions(method="dann", task="moons/rot40", searcher="grid"))
    with pytest.raises(ValueError, match="--num-samples must be ≥ 1; got 0"):
        validate(SweepOptions(method="dann", task="moons/rot40", num_samples=0))


def test_the_objective_is_label_free_unless_the_oracle_is_asked_for():
    assert objective_key("source_val", "closed") == "source_val_acc"
    assert objective_key("source_val", "segmentation") == "source_val_miou"
    assert objective_key("oracle", "open_set") == "target_val_h_score"
    space, base = validate(SweepOptions(method="cdan", task="moons/rot40", steps=40))
    assert "lr" in space.names() and base["steps"] == 40 and base["device"] == "cpu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_tracking_server_or_cluster_fails_fast(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "--method", "dann", "--task", "moons/rot40", "--storage", str(tmp_path)]
    start = time.monotonic()
    assert main([*argv, "--tracking-uri", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "no MLflow server answers there" in " ".join(capsys.readouterr().err.split())
    assert main([*argv, "--address", f"127.0.0.1:{free_port()}"]) == 2
    assert "no Ray cluster answers there" in " ".join(capsys.readouterr().err.split())
    assert main([*argv, "--tracking-uri", f"sqlite:///{tmp_path}/missing/mlflow.db"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert time.monotonic() - start < 30 and list(tmp_path.iterdir()) == []  # nothing made


def test_a_storage_folder_that_cannot_be_written_is_refused(tmp_path, capsys):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        if os.access(read_only, os.W_OK):  # root ignores permissions: use a path under a file
            read_only = tmp_path / "a-file" / "storage"
            read_only.parent.write_text("")
        argv = ["sweep", "--method", "dann", "--task", "moons/rot40", "--storage", str(read_only)]
        assert main(argv) == 2
        assert f"--storage {read_only}: cannot write there" in " ".join(
            capsys.readouterr().err.split()
        )
    finally:
        (tmp_path / "read-only").chmod(0o755)
