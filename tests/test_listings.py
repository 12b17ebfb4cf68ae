"""``dabench tasks``, ``dabench methods`` and every ``--help`` import nothing heavy (no torch,
torchvision, Ray, MLflow, scikit-learn or pandas): they read :mod:`dabench.catalog`."""

import argparse
import subprocess
import sys

import pytest

from dabench.cli import main
from dabench.cli.parser import build_parser

HEAVY = ("torch", "torchvision", "ray", "mlflow", "sklearn", "pandas")


def imported_by(*argv: str) -> set[str]:
    """The top-level packages ``python -X importtime -m dabench ARGV`` imports (its stderr)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "dabench", *argv],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 50, done.stderr[-2000:]  # -X importtime did report
    return {line.split("|")[-1].strip().split(".")[0] for line in lines}


@pytest.mark.parametrize("argv", [["tasks"], ["methods"], ["methods", "--task", "office31/A2W"],
                                  ["--help"], ["sweep", "--help"]])  # fmt: skip
def test_listings_and_help_import_no_heavy_package(argv):
    imported = imported_by(*argv)
    assert "dabench" in imported and "argparse" in imported
    assert not imported & set(HEAVY), f"dabench {' '.join(argv)} imported {imported & set(HEAVY)}"


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Command → its parser."""
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def test_no_command_help_imports_a_heavy_package():
    """Every subcommand's ``--help`` in one process, then its ``sys.modules``."""
    commands = sorted(subparsers(build_parser()))
    script = (
        "import sys\nfrom dabench.cli import main\n"
        f"for command in {commands!r}:\n"
        "    try:\n        main([command, '--help'])\n    except SystemExit as stop:\n"
        "        assert stop.code == 0, command\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: dabench ui" in done.stdout and done.stdout.splitlines()[-1] == "[]"


def test_methods_for_an_unknown_task_is_a_clear_error(capsys):
    assert main(["methods", "--task", "digits/synth2hnad"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'digits/synth2hnad' (did you mean 'digits/synth2hand'" in err
    assert "Bundled tasks: digits/hand2synth, " in err and "office31" in err
