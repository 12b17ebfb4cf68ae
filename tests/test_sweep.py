"""``dabench sweep``: what is checked before Ray starts. (The end-to-end tests with a real Ray
cluster, Optuna and MLflow, resume and the cluster test come with the rest of the sweep issue.)"""

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


def test_the_objective_is_label_free_unless_the_oracle_is_asked_for():
    assert objective_key("source_val", "closed") == "source_val_acc"
    assert objective_key("source_val", "segmentation") == "source_val_miou"
    assert objective_key("oracle", "open_set") == "target_val_h_score"
    space, base = validate(SweepOptions(method="cdan", task="moons/rot40", steps=40))
    assert "lr" in space.names() and base["steps"] == 40 and base["device"] == "cpu"
