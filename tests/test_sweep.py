"""``dabench sweep``: what is checked before Ray starts (the end-to-end tests with a real Ray
cluster, Optuna and MLflow are in ``test_sweep_ray.py``)."""

import os
import time

import pytest
from sweep_helpers import free_port

from dabench.cli import main
from dabench.engine.options import SweepOptions
from dabench.engine.search import FIRST_RUNG, grace_period
from dabench.engine.sweep import validate
from dabench.records.criteria import criterion


def test_bad_input_is_refused_before_ray_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("dabench.engine.sweep.init_ray", lambda *a: pytest.fail("Ray was started"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: dann\nparameters:\n  lr: {type: loguniform, low: 0.1, high: 0.01}\n")
    argv = ["sweep", "--method", "dann", "--task", "moons/rot40", "--storage", str(tmp_path)]
    assert main([*argv, "--space", str(bad)]) == 2
    assert "parameters.lr: low must be below high" in capsys.readouterr().err
    assert main([*argv, "--metric", "target_test_accuracy"]) == 2
    assert "--metric 'target_test_accuracy'" in " ".join(capsys.readouterr().err.split())
    segmentation = ["sweep", "--method", "advent", "--task", "shapes/flat2textured"]
    assert main([*segmentation, "--metric", "snd", "--storage", str(tmp_path)]) == 2
    assert "'snd' does not apply to segmentation tasks" in capsys.readouterr().err
    assert main(["sweep", "--method", "osbp", "--task", "moons/rot40"]) == 2
    assert "does not support the 'closed' setting" in capsys.readouterr().err
    assert main([*argv, "--set", "lr=0.1"]) == 2
    assert "fixes searched parameter(s)" in capsys.readouterr().err
    # a sweep resumed by name is looked for under its --storage, not under ./ray_results
    assert main(["sweep", "--resume", "gone", "--storage", str(tmp_path / "sweeps")]) == 2
    assert str(tmp_path / "sweeps" / "gone") in " ".join(capsys.readouterr().err.split())
    with pytest.raises(ValueError, match="--searcher must be one of tpe, random; got 'grid'"):
        validate(SweepOptions(method="dann", task="moons/rot40", searcher="grid"))
    with pytest.raises(ValueError, match="--num-samples must be an integer ≥ 1; got 0"):
        validate(SweepOptions(method="dann", task="moons/rot40", num_samples=0))


def test_the_objective_is_label_free_unless_the_oracle_is_asked_for():
    assert criterion("source_val", "closed").key == "source_val_acc"
    assert criterion("source_val", "segmentation").key == "source_val_miou"
    assert criterion("oracle", "open_set").key == "target_val_h_score"
    # the defaults are label-free, per setting
    assert criterion(None, "closed").key == "validator_bnm"
    assert criterion(None, "partial").key == "validator_guarded_source_val"
    assert criterion(None, "open_set").key == "validator_h_proxy"
    assert criterion(None, "segmentation").key == "source_val_miou"
    assert criterion("im", "closed").key == "validator_im"
    assert criterion("known_im", "open_set").key == "validator_known_im"
    assert not any(criterion(None, s).uses_target_labels
                   for s in ("closed", "partial", "open_set", "segmentation"))  # fmt: skip
    with pytest.raises(ValueError, match="'snd' does not apply to segmentation tasks; their "
                       "validators: source_val, pixel_entropy, pixel_im"):  # fmt: skip
        criterion("snd", "segmentation")
    checked = validate(SweepOptions(method="cdan", task="moons/rot40", steps=40))
    assert "lr" in checked.space.names() and checked.base["steps"] == 40
    assert checked.base["device"] == "cpu" and checked.objective.name == "bnm"


def test_ashas_first_rung_is_a_share_of_the_trials_evaluations_unless_given(monkeypatch):
    closed = SweepOptions(method="dann", task="moons/rot40", steps=1000, eval_every=100)
    open_set = SweepOptions(method="osbp", task="digits-openset/synth2blend", steps=1000,
                            eval_every=100)  # fmt: skip
    monkeypatch.setitem(FIRST_RUNG, "closed", 0.0)
    monkeypatch.setitem(FIRST_RUNG, "open_set", 0.35)
    assert grace_period(closed) == 1  # at least the first evaluation
    assert grace_period(open_set) == 4  # ceil(0.35 × 10 evaluations)
    open_set.grace_period = 2
    assert grace_period(open_set) == 2  # --grace-period wins
    open_set.grace_period = 50
    assert grace_period(open_set) == 10  # at most all of them
    monkeypatch.setitem(FIRST_RUNG, "open_set", 1.0)
    open_set.grace_period, open_set.steps = None, 1050
    assert grace_period(open_set) == 11  # the last, shorter interval counts


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


def test_the_summary_flags_negative_transfer_against_source_only():
    from rich.console import Console

    from dabench.cli.sweeps import summary_table
    from dabench.engine.sweep import SweepSummary

    def summary(baseline, name=None):
        name = {} if name is None else {"name": name}
        return SweepSummary(
            "s", "/tmp/s", "sqlite:///m.db", "dabench", "0" * 32, criterion("class_ami", "closed"),
            {"completed": 2}, 10.0, {"task": "moons/rot40", "lr": 0.01},
            {"validator_class_ami": 0.4, "target_val_acc": 80.0, "target_test_acc": 79.0}, False,
            {"trial": "abc", "step": 40, "path": "/tmp/s/trial-1_abc/checkpoint_000001",
             "metrics": {"validator_class_ami": 0.5, "target_val_acc": 90.0,
                         "target_test_acc": 91.0}, **name},
            baseline, best_trial="trial-2 · s",
        )  # fmt: skip

    def shown(s) -> str:
        console = Console(width=200, record=True)
        console.print(summary_table(s))
        return " ".join(console.export_text().split())

    assert summary((85.0, "so")).negative_transfer is True
    assert "NEGATIVE TRANSFER: the pick is below it" in shown(summary((85.0, "so")))
    assert summary((70.0, "so")).negative_transfer is False
    assert "target_test_acc 70.00 (sweep so): the pick is not below it" in shown(
        summary((70.0, "so"))
    )
    assert summary(None).negative_transfer is None
    text = shown(summary(None))
    assert "`dabench sweep --method source_only --task moons/rot40` tells negative" in text
    assert "checkpoint-level pick" in text and "trial abc step 40" in text  # no run found
    assert "trial-level pick │ trial-2: validator_class_ami 0.400" in text  # the sweep: the title
    text = shown(summary(None, "trial-1 · s"))
    assert "(trial-1 step 40, /tmp/s/trial-1_abc/checkpoint_000001)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "nope", "--task", "moons/rot40"], "unknown method 'nope'; known methods: adda"),
        (["--method", "dann", "--task", "nope"], "unknown task 'nope'. Bundled tasks: digits/"),
        (["--method", "osbp", "--task", "moons/rot40"], "does not support the 'closed' setting"),
        (["--method", "dann", "--task", "moons/rot40", "--set", "momentum=2"],
         "config key 'momentum' must be in [0.0, 1.0); got 2"),
        (["--method", "dann", "--task", "moons/rot40", "--num-samples", "-3"],
         "--num-samples: must be an integer ≥ 1; got '-3'"),
        (["--method", "dann", "--task", "digits/USPS2MNIST"],
         "reads a dataset from disk: give its root folder (--root)"),
        (["--method", "dann", "--task", "digits/USPS2MNIST", "--root", "/no/such/folder"],
         "dataset root /no/such/folder does not exist"),
    ],
)  # fmt: skip
def test_a_mistake_is_named_before_any_trial_starts(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("dabench.engine.sweep.init_ray", lambda *a: pytest.fail("Ray was started"))
    try:
        code = main(["sweep", *argv, "--storage", str(tmp_path)])
    except SystemExit as exit:  # argparse's own refusal
        code = exit.code
    assert code == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_a_missing_image_list_is_named_before_any_trial_starts(tmp_path, capsys, monkeypatch):
    from test_data_real import digits_tree

    monkeypatch.setattr("dabench.engine.sweep.init_ray", lambda *a: pytest.fail("Ray was started"))
    root = digits_tree(tmp_path / "digits")
    (root / "image_list" / "usps_train.txt").unlink()
    argv = ["sweep", "--method", "dann", "--task", "digits/USPS2MNIST", "--root", str(root)]
    assert main([*argv, "--storage", str(tmp_path)]) == 2
    assert "usps_train.txt" in capsys.readouterr().err


def test_a_tune_run_sets_its_settings_and_sigterm_and_gives_all_back_exactly(monkeypatch):
    import signal

    from dabench.engine.cluster import TUNE_DEFAULTS, tune_run

    monkeypatch.delenv("TUNE_GLOBAL_CHECKPOINT_S", raising=False)
    monkeypatch.delenv("TUNE_MAX_PENDING_TRIALS_PG", raising=False)
    monkeypatch.delenv("CRC32C_SW_MODE", raising=False)
    monkeypatch.setenv("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "7")
    before, handler = dict(os.environ), signal.getsignal(signal.SIGTERM)
    with tune_run(pending_trials=3):
        assert os.environ["TUNE_GLOBAL_CHECKPOINT_S"] == TUNE_DEFAULTS["TUNE_GLOBAL_CHECKPOINT_S"]
        assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "3"
        assert os.environ["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"] == "7"
        assert signal.getsignal(signal.SIGTERM) is not handler  # SIGTERM stops as Ctrl-C does
        os.environ["CRC32C_SW_MODE"] = "auto"  # what a library imported meanwhile sets
        os.environ["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"] = "8"
    assert dict(os.environ) == before and signal.getsignal(signal.SIGTERM) is handler
    with pytest.raises(KeyboardInterrupt), tune_run():  # an interrupted run gives back too
        raise KeyboardInterrupt
    assert dict(os.environ) == before and signal.getsignal(signal.SIGTERM) is handler


def test_a_costly_objective_is_scored_at_every_evaluation():
    """ASHA and the checkpoint pick read the objective at every evaluation: a costly validator
    (SND, ClassAMI, DEV) as objective makes the sweep's trials score the costly ones each time."""
    assert "costly_validators" not in validate(SweepOptions(method="dann", task="moons/rot40")).base
    checked = validate(SweepOptions(method="dann", task="moons/rot40", metric="dev"))
    assert checked.base["costly_validators"] == "every"
    with pytest.raises(ValueError, match="--metric snd is scored at every evaluation"):
        validate(SweepOptions(method="dann", task="moons/rot40", metric="snd",
                              overrides={"costly_validators": "last"}))  # fmt: skip
    with pytest.raises(ValueError, match="drop --set costly_validators=never"):
        validate(SweepOptions(method="dann", task="moons/rot40", metric="class_ami",
                              overrides={"costly_validators": "never"}))  # fmt: skip
