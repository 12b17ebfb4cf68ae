"""The real-data path end to end, in miniature: the shipped ``office31`` spec run by
``dabench benchmark`` on a tree in Office-31's layout (dslr and webcam, the reference's 498 and
795 images, 8×8 JPEGs), its data checked, its trials training a ResNet through the real loaders
and transforms on a real local Ray cluster with MLflow on sqlite, and its leaderboard written
with the published numbers beside dabench's. Small by its flags: one trial of 2 steps a sweep
(no fresh seeds), ResNet-18 on 32×32 crops, batch 4, no GPU, random initial weights (no
download)."""

from __future__ import annotations

import re

import pytest
from real_data_helpers import write_office31
from sweep_helpers import runs_of

from dabench.cli import main
from dabench.records import schema
from dabench.reports import leaderboard


@pytest.mark.slow
def test_the_office31_spec_runs_end_to_end_in_miniature(ray_local, tmp_path, capsys):
    root = write_office31(tmp_path / "office31")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    board = tmp_path / "office31.md"
    argv = ["benchmark", "--spec", "office31", "--root", str(root), "--tasks", "office31/D2W",
            "--methods", "source_only", "dann", "--trials", "1", "--steps", "2",
            "--eval-every", "2", "--seeds", "0", "--scheduler", "none",
            "--gpus-per-trial", "0", "--cpus-per-trial", "1", "--set", "pretrained=false",
            "--set", "backbone=resnet18", "--set", "image_size=32", "--set", "batch_size=4",
            "--set", "num_workers=0",
            "--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--out", str(board)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err[-3000:]
    shown = capsys.readouterr()
    assert "benchmark office31 finished" in shown.err

    runs = runs_of(uri, ["office31"])
    trials = runs[runs[f"tags.{schema.KIND}"] == schema.TRIAL_KIND]
    assert len(trials) == 2  # a trial per sweep
    assert set(trials["params.image_size"]) == {"32"} and set(trials["params.steps"]) == {"2"}
    assert set(trials["params.backbone"]) == {"resnet18"}
    assert set(trials["params.lr_anneal"]) == {"6.0", "20.0"}  # γ × 20,000 of erm.py, dann.py
    assert trials["metrics.target_test_acc"].between(0, 100).all()
    cells = leaderboard.build(runs).cells
    assert set(cells["task"]) == {"office31/D2W"} and set(cells["n"]) == {1}

    text = board.read_text()
    assert "## Published numbers" in text and "examples/domain_adaptation/image_classification" in (
        text
    )
    assert "reports the best epoch's accuracy on the target test set" in " ".join(text.split())
    assert re.search(r"\| office31/D2W +\| [^|]+ / 95\.5 +\| [^|]+ / 97\.9 +\|\n", text)
    average = next(line for line in text.splitlines() if line.startswith("| average (6 tasks)"))
    assert "– (1 of 6 tasks) / 79.5" in average and "– (1 of 6 tasks) / 86.1" in average

    # rebuilt later from the store, the leaderboard prints the spec's numbers beside dabench's
    again = tmp_path / "again.md"
    assert main(["leaderboard", "--tracking-uri", uri, "--spec", "office31", "--out",
                 str(again)]) == 0  # fmt: skip
    assert "## Published numbers" in again.read_text() and "/ 97.9" in again.read_text()
    assert main(["leaderboard", "--tracking-uri", uri, "--out", str(again)]) == 0
    assert "## Published numbers" not in again.read_text()  # no spec, no published numbers
