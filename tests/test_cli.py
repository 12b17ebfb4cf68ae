import shutil
import subprocess
import sys

import pytest

from dabench import __version__
from dabench.cli import main
from dabench.demo import run


@pytest.mark.slow  # 2 × 2,000 steps
def test_demo_dann_beats_source_only_on_rotated_moons():
    result = run(steps=2000, seed=1, threads=1)
    assert result.dann > result.source_only + 10


def test_demo_command_prints_both_accuracies_and_gives_the_thread_count_back(capsys):
    import torch

    before = torch.get_num_threads()
    assert main(["demo", "--steps", "20", "--threads", str(before + 1)]) == 0
    out = capsys.readouterr().out
    assert "source-only" in out and "DANN" in out and f"{before + 1} threads" in out
    assert torch.get_num_threads() == before
    assert main(["demo", "--steps", "20"]) == 0  # one thread unless told: a sweep trial's count
    assert "seed 0, 1 thread\n" in capsys.readouterr().out


def test_bad_steps_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--steps", "0"])
    assert exit_info.value.code == 2
    assert "--steps: must be an integer ≥ 1; got '0'" in capsys.readouterr().err


def test_console_script_reports_version():
    assert shutil.which("dabench"), (
        "install the package (pip install -e .) to get the dabench command"
    )
    out = subprocess.run(
        ["dabench", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"dabench {__version__}"


def test_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "dabench", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in out.stdout
