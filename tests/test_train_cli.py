"""``dabench train``: progress, table, JSON, errors before compute, resume after SIGKILL."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from dabench.cli import main
from dabench.engine.options import parse_assignments, parse_value
from dabench.trainable import CHECKPOINT_FILE

MOONS = ["--task", "moons/rot40", "--steps", "40", "--eval-every", "20"]


def strip_clock(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("time_s", "samples_per_s")}


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.003", 0.003), ("1e-4", 1e-4), ("500", 500), ("true", True), ("False", False),
     ("cdan", "cdan"), ("'dann'", "dann"), ("none", None)],
)  # fmt: skip
def test_set_values_parse_as_literals_or_words(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_set_needs_key_equals_value():
    assert parse_assignments(["lr=0.1", "adversary=cdan"]) == {"lr": 0.1, "adversary": "cdan"}
    with pytest.raises(ValueError, match="--set expects key=value; got 'lr'"):
        parse_assignments(["lr"])


def test_train_prints_a_table_of_final_metrics(capsys):
    assert main(["train", "--method", "cdan", *MOONS, "--set", "randomized=true"]) == 0
    out = capsys.readouterr().out
    assert "cdan on moons/rot40 (seed 0)" in out
    assert "target_test_acc" in out and "disc_acc" in out


def test_train_json_is_machine_readable(capsys):
    assert main(["train", "--method", "bsp", *MOONS, "--json", "--quiet", "--seed", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["seed"] == 2 and result["config"]["trade_off_bsp"] == 1e-4
    assert result["metrics"]["step"] == 40 and result["metrics"]["stage"] == "adapt"
    assert 0 <= result["metrics"]["target_test_acc"] <= 100


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "osbp", "--task", "moons/rot40"], "does not support the 'closed' setting"),
        (["--method", "dann", "--task", "moons/rot40", "--set", "lr=-1"], "'lr' must be in"),
        (["--method", "dann", "--task", "moons/rot40", "--set", "tradeoff=1"], "['tradeoff']"),
        (["--method", "dann", "--task", "moons/rot40", "--set", "lr"], "--set expects key=value"),
    ],
)
def test_bad_input_is_a_clear_error_before_training(argv, message, capsys, monkeypatch):
    monkeypatch.setattr("dabench.cli.train.run_trial", lambda *a, **k: pytest.fail("trained"))
    assert main(["train", *argv]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err


def test_checkpoint_dir_of_another_config_is_refused(tmp_path, capsys):
    assert (
        main(["train", "--method", "dann", *MOONS, "--quiet", "--checkpoint-dir", str(tmp_path)])
        == 0
    )
    capsys.readouterr()
    argv = ["train", "--method", "dann", *MOONS, "--set", "trade_off=0.5"]
    assert main([*argv, "--checkpoint-dir", str(tmp_path)]) == 2
    assert "['trade_off'] differ" in " ".join(capsys.readouterr().err.split())


@pytest.mark.slow
def test_a_trial_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    argv = [sys.executable, "-m", "dabench", "train", "--method", "dann", "--task", "moons/rot40",
            "--steps", "100", "--eval-every", "20", "--json", "--quiet"]  # fmt: skip
    checkpoints = tmp_path / "trial"
    process = subprocess.Popen([*argv, "--checkpoint-dir", str(checkpoints)])
    deadline = time.monotonic() + 120
    while not (checkpoints / CHECKPOINT_FILE).exists():
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = torch.load(checkpoints / CHECKPOINT_FILE, weights_only=True)["step"]
    assert saved < 100, "the trial finished before it could be killed"

    resumed = subprocess.run([*argv, "--checkpoint-dir", str(checkpoints)], capture_output=True,
                             text=True, check=True)  # fmt: skip
    assert f"resuming {checkpoints} from step {saved}" in resumed.stderr
    uninterrupted = subprocess.run(argv, capture_output=True, text=True, check=True)
    a, b = (json.loads(p.stdout)["metrics"] for p in (resumed, uninterrupted))
    assert strip_clock(a) == strip_clock(b)


def test_the_progress_bar_reads_whole_in_80_columns():
    import io

    from rich.console import Console

    from dabench.cli.train import progress_bar, status_text

    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    progress = progress_bar(console)
    task = progress.add_task("train", total=1000, completed=300,
                             status=status_text(0.1234, 85.25))  # fmt: skip
    console.print(progress.make_tasks_table([progress.tasks[task]]))
    line = console.file.getvalue().strip()
    assert "…" not in line and len(line) <= 80, line
    assert "300/1000" in line and "0:00:00" in line and "loss 0.123  oracle 85.2" in line
