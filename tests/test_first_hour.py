"""A newcomer's first hour, in one process: README's quick start in a folder, then the commands
that read the store of the working directory, then the same commands in a folder with no store.
Each must leave the process as it found it (environment, torch's threads and random state), or a
later call reads the wrong store — as ``dabench leaderboard`` once did after a leaderboard call
had written MLflow's default URI into ``MLFLOW_TRACKING_URI`` (``mlflow.set_tracking_uri`` sets
that variable)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sklearn  # noqa: F401  (imported first: its import sets KMP_* for the process, on purpose)
import torch

from dabench.cli import main


def process_state() -> dict:
    return {
        "environ": dict(os.environ),
        "threads": torch.get_num_threads(),
        "rng": torch.random.get_rng_state().tolist(),
    }


@pytest.mark.slow
def test_the_quick_start_then_every_store_command_in_one_process(ray_local, tmp_path, monkeypatch,
                                                                  capsys):  # fmt: skip
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    monkeypatch.chdir(here)
    before = process_state()

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        shown = capsys.readouterr()
        after = process_state()
        changed = {k for k in before if after[k] != before[k]}
        env = {k: (before["environ"].get(k), after["environ"].get(k))
               for k in set(before["environ"]) | set(after["environ"])
               if before["environ"].get(k) != after["environ"].get(k)}  # fmt: skip
        values = {k: (before[k], after[k]) for k in changed - {"environ", "rng"}}
        assert not changed, f"`dabench {' '.join(argv)}` changed {changed}: {values}, {env}"
        return code, shown.out + shown.err

    # README's quick start, smaller: the store and Ray's state land in the working directory
    code, out = run("sweep", "--method", "cdan", "--task", "moons/rot40", "--num-samples", "2",
                    "--steps", "40", "--eval-every", "20", "--max-concurrent", "1", "--name",
                    "quick")  # fmt: skip
    assert code == 0 and "trial-level pick" in out, out[-2000:]
    assert (here / "mlflow.db").is_file() and (here / "ray_results" / "quick").is_dir()
    code, out = run("leaderboard")
    assert code == 0 and "moons/rot40" in out and "cdan" in out, out[-2000:]
    code, out = run("validators", "--sweep", "quick")
    assert code == 0 and "2 trials" in out, out[-2000:]
    code, out = run("export", "--out", str(tmp_path / "runs.csv"))
    assert code == 0 and (tmp_path / "runs.csv").is_file(), out[-2000:]
    code, out = run("leaderboard", "--runs", str(tmp_path / "runs.csv"))
    assert code == 0 and "moons/rot40" in out, out[-2000:]
    code, out = run("analyze", "--sweep", "quick", "--samples", "40", "--out", str(tmp_path / "a"))
    assert code == 0 and "A-distance" in out, out[-2000:]

    # in a folder with no store, the same process still reads the working directory's
    monkeypatch.chdir(elsewhere)
    for argv in (["leaderboard"], ["validators", "--sweep", "quick"], ["analyze", "--sweep",
                                                                       "quick"]):  # fmt: skip
        code, out = run(*argv)
        assert code == 2 and f"no MLflow store at sqlite:///{elsewhere}" in out, (argv, out)
    assert not (elsewhere / "mlflow.db").exists()


ROOT = Path(__file__).resolve().parents[1]
QUOTING = ("README.md", "docs/getting-started.md", "docs/dashboard.md")  # pages showing output


def console_lines(page: Path) -> list[str]:
    """The lines of a page's ```text blocks (what it shows a command printing)."""
    blocks = re.findall(r"^```text\n(.*?)^```", page.read_text(), flags=re.DOTALL | re.MULTILINE)
    return [line.rstrip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_console_line_the_docs_show_comes_from_the_first_hour_report():
    """README and getting-started quote ``benchmarks/first_hour.py``'s run, so what they show is
    what one real run printed; a line may be cut short with a final ``…``."""
    report = (ROOT / "reports" / "first_hour.md").read_text()
    shown = 0
    for page in QUOTING:
        for line in console_lines(ROOT / page):
            if line.strip() == "…":
                continue
            quoted = line[:-1].rstrip() if line.endswith("…") else line
            assert quoted in report, (
                f"{page} shows a line the first-hour run did not print: {line!r}"
            )
            shown += 1
    assert shown >= 10  # the sweep's lines and summary, the demo
