"""Selection criteria: one type carries the key, the direction and the label use, so that a sweep,
its rerun and its leaderboard cell pick the same trial; test labels never select. Fixture stores
are written by the production writers to a real sqlite MLflow store."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import runs_of

from dabench.cli import main
from dabench.data.registry import task_spec
from dabench.engine import rerun
from dabench.engine.options import RerunOptions, SweepOptions
from dabench.engine.sweep import run_sweep
from dabench.records import criteria, naming, readers, schema, selection, writers
from dabench.records.criteria import criterion, from_key
from dabench.records.store import experiment_id
from dabench.reports import leaderboard
from dabench.task_settings import SETTINGS


def test_every_criterion_survives_the_round_trip_through_its_key():
    for setting in SETTINGS:
        for found in criteria.every(setting):
            assert from_key(found.key, setting) == found
            assert criterion(found.name, setting) == found
    pixel = criterion("source_val_pixel_acc", "segmentation")
    assert (pixel.name, pixel.key) == ("source_val_pixel_acc", "source_val_pixel_acc")
    assert from_key("source_val_miou", "segmentation").name == "source_val"  # not pixel accuracy


def test_each_criterion_says_its_direction_and_whether_it_reads_target_labels():
    assert criterion("train_loss", "closed").mode == "min"
    assert criterion("bnm", "closed").mode == "max"
    assert criterion("oracle", "open_set").uses_target_labels
    assert criterion("target_val_os", "open_set").uses_target_labels
    assert criterion("target_val_os", "open_set").test_key == "target_test_os"
    assert not criterion("h_proxy", "open_set").uses_target_labels
    assert criterion("h_proxy", "open_set").test_key == "target_test_h_score"
    assert criterion("train_loss", "closed").better(0.1, 0.2)


@pytest.mark.parametrize("name", ["target_test_acc", "target_test_h_score", "target_test_miou"])
def test_test_labels_can_never_select(name):
    setting = {"acc": "closed", "h_score": "open_set", "miou": "segmentation"}[
        name.split("_", 2)[2]
    ]
    with pytest.raises(ValueError, match=r"reads target-test labels, which only report and never "
                       r"select; for .* use a label-free criterion \(source_val, "):  # fmt: skip
        criterion(name, setting)


def test_a_sweep_on_the_test_labels_is_refused_before_ray_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("dabench.engine.sweep.init_ray", lambda *a: pytest.fail("Ray started"))
    argv = ["sweep", "--method", "dann", "--task", "moons/rot40", "--storage", str(tmp_path),
            "--metric", "target_test_acc"]  # fmt: skip
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--metric 'target_test_acc' reads target-test labels, which only report and never " \
        "select" in err and "source_val, entropy, im, bnm" in err and "oracle" in err  # fmt: skip
    assert main(["leaderboard", "--select", "target_test_acc"]) == 2
    assert "target-test labels only report, they never select" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def sweep_store(tmp_path, task: str, objective: str, trials: dict[str, dict]):
    """A finished sweep (``objective`` by name) of ``task`` whose trials end with the given
    metrics, written by the production writers; the client and the sweep's parent run."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = experiment_id(client, "dabench")
    found = criterion(objective, task_spec(task).setting)
    parent = writers.open_sweep(client, experiment, "s", "dann", task, found, {"sweep.seed": 0})
    for name, metrics in trials.items():
        config = {"method": "dann", "task": task, "lr": metrics.pop("lr")}
        run = writers.open_trial(client, experiment, parent, "s", name, name,
                                 {"lr": config["lr"]}, config)  # fmt: skip
        writers.log_metrics(client, run, {"step": 100, "cpu_s": 1.0, **metrics}, step=100)
        writers.end_trial(client, run, "completed")
    client.set_terminated(parent, "FINISHED")
    return client, client.get_run(parent)


def test_a_minimised_objective_is_minimised_by_the_rerun_and_the_leaderboard(tmp_path):
    """A sweep on ``train_loss``: the summary's pick (the lowest loss) is the trial the rerun
    re-trains and the leaderboard's cell; on main the rerun took the highest loss, and the
    leaderboard raised ``KeyError`` for a criterion that is a reported metric."""
    client, parent = sweep_store(tmp_path, "moons/rot40", "train_loss", {
        "low": {"lr": 0.01, "train_loss": 0.1, "target_val_acc": 70.0, "target_test_acc": 71.0},
        "high": {"lr": 0.02, "train_loss": 0.9, "target_val_acc": 90.0, "target_test_acc": 91.0},
    })  # fmt: skip
    objective = from_key(parent.data.tags["objective"], "closed")
    summary_pick = selection.pick(readers.trials(client, parent), objective)
    assert summary_pick["trial"] == "low"
    _, picked, seeds = rerun.picks(client, parent, (), 2)
    by_name = {client.get_run(run_id).info.run_name: names for run_id, names in picked.items()}
    assert by_name == {"low": ["train_loss"], "high": ["oracle"]} and seeds == [1, 2]
    board = leaderboard.build(runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", ["dabench"]))
    cells = board.cells.set_index("criterion")
    assert cells.loc["train_loss", "trial"] == "low" and cells.loc["train_loss", "primary"]
    assert cells.loc["train_loss", "mean"] == 71.0 and cells.loc["oracle", "trial"] == "high"


def test_the_segmentation_pixel_accuracy_criterion_picks_on_pixel_accuracy(tmp_path):
    """On main, ``source_val_pixel_acc`` came back from the records as ``source_val`` and the
    rerun and the leaderboard picked on ``source_val_miou`` instead."""
    client, parent = sweep_store(tmp_path, "shapes/flat2textured", "source_val_pixel_acc", {
        "pixels": {"lr": 0.01, "source_val_pixel_acc": 90.0, "source_val_miou": 40.0,
                   "target_val_miou": 30.0, "target_test_miou": 31.0},
        "miou": {"lr": 0.02, "source_val_pixel_acc": 80.0, "source_val_miou": 60.0,
                 "target_val_miou": 20.0, "target_test_miou": 21.0},
    })  # fmt: skip
    _, picked, _ = rerun.picks(client, parent, (), 1)
    by_name = {client.get_run(run_id).info.run_name: names for run_id, names in picked.items()}
    assert by_name == {"pixels": ["source_val_pixel_acc", "oracle"]}
    board = leaderboard.build(runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", ["dabench"]))
    cells = board.cells.set_index("criterion")
    assert list(cells.index) == ["source_val_pixel_acc", "oracle"]
    assert cells.loc["source_val_pixel_acc", "trial"] == "pixels"
    with pytest.raises(ValueError, match="--select 'target_test_miou' reads target-test labels"):
        rerun.picks(client, parent, ("target_test_miou",), 1)


@pytest.mark.slow
def test_a_real_sweep_on_a_loss_is_rerun_on_the_trial_its_summary_names(ray_local, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = {"tracking_uri": uri, "storage": str(tmp_path / "ray"), "max_concurrent": 1}
    summary = run_sweep(SweepOptions(method="dann", task="moons/rot40", num_samples=3, steps=40,
                                     eval_every=20, scheduler="none", metric="train_loss",
                                     name="loss", **common))  # fmt: skip
    assert summary.objective.mode == "min"
    client = MlflowClient(uri)
    losses = {t: m for t, m in readers.trials(client, client.get_run(summary.parent_run_id))
              .set_index("trial")["train_loss"].items()}  # fmt: skip
    assert summary.best_trial == min(losses, key=losses.get)  # the lowest loss
    groups = rerun.rerun(RerunOptions(sweep="loss", seeds=1, select=("train_loss",), **common))
    assert [(g.trial, g.selected_by) for g in groups] == [(summary.best_trial, ["train_loss"])]
    # its group named after the trial it re-trains, its run by seed, as a sweep's trials
    (group,) = groups
    assert group.name.startswith(f"loss-seeds-{naming.label_of(summary.best_trial)}-")
    experiment = client.get_run(summary.parent_run_id).info.experiment_id
    (run,) = client.search_runs([experiment], schema.where(**{schema.SWEEP: group.name,
                                                              schema.KIND: schema.TRIAL_KIND}))  # fmt: skip
    label = naming.label(naming.SEED, group.seeds[0])
    assert run.info.run_name == naming.run_name(label, group.name)
    folder = naming.folder(label, run.data.tags[schema.TRIAL_ID])
    assert (tmp_path / "ray" / group.name / folder).is_dir()
