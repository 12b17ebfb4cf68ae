"""A newcomer's first hour, for real: README's commands in README's order, in a fresh folder, each
timed, with everything it printed — the run that README, docs/getting-started.md and
docs/dashboard.md quote (a test checks that every console line they show is in this report).

Run:  python benchmarks/first_hour.py [--out reports/first_hour.md] [--work /tmp/first-hour]
                                      [--screenshot docs/_static/dashboard-runs.png]

The commands run as a user runs them (``python -m dabench ...`` in a subprocess, the working
directory a new folder, the console 80 columns wide, no store or Ray state there before): the
quick start's sweep and ``dabench ui`` (whose printed URL headless Chromium renders into
``--screenshot``, then the server is stopped by its PID), ``dabench demo``, ``dabench benchmark
--spec tiny`` and the ``dabench leaderboard`` that reads it. ``--work`` (an empty or new folder,
kept: its store is the screenshot's) is printed as it is, so the console's tables keep their
80-column layout; a short path keeps its lines whole. The report and the screenshot are written
at the end, so the runs record a clean checkout's commit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dabench.engine.provenance import machine, stamp

COMMANDS = (
    ("sweep", "--method", "cdan", "--task", "moons/rot40", "--num-samples", "8"),
    ("ui",),
    ("demo",),
    ("benchmark", "--spec", "tiny"),
    ("leaderboard",),
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
URL = re.compile(r"http://127\.0\.0\.1:\d+/\S+")


def environment() -> dict[str, str]:
    """What a user's terminal would give: 80 columns, no colour codes, no inherited store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**env, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def run(folder: Path, argv: tuple[str, ...]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dabench", *argv], cwd=folder, env=environment(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"`dabench {' '.join(argv)}` exited {done.returncode}:\n{done.stdout}")
    return time.perf_counter() - start, done.stdout


def ui(folder: Path, screenshot: Path) -> tuple[float, str]:
    """``dabench ui`` until it prints its URL; the page rendered into ``screenshot``; stopped."""
    start = time.perf_counter()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "dabench", "ui", "--port", str(port)],
                               cwd=folder, env=environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if URL.search(line):
                break
        else:
            raise SystemExit(f"`dabench ui` exited {process.wait()}:\n{''.join(lines)}")
        seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            f"--user-data-dir={profile}", "--virtual-time-budget=30000",
                            "--hide-scrollbars", "--window-size=1400,800",
                            f"--screenshot={screenshot.resolve()}", URL.search(lines[-1]).group(0)],
                           capture_output=True, timeout=300, check=True)  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)  # its own PID: it stops its server's whole group
        process.wait(timeout=60)
    return seconds, "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/first_hour.md"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-hour"),
                        help="run here (empty or new) and keep it")  # fmt: skip
    parser.add_argument("--screenshot", type=Path, default=Path("docs/_static/dashboard-runs.png"))
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("no chromium for the picture of `dabench ui` (apt-get install chromium)")
    folder = args.work.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise SystemExit(f"--work {folder} is not empty: the first hour starts in an empty folder")
    sections = []
    picture = folder / "dashboard-runs.png"
    for argv in COMMANDS:
        command = " ".join(("dabench", *argv))
        seconds, output = ui(folder, picture) if argv == ("ui",) else run(folder, argv)
        took = f"{seconds:.0f} s" + (" until it printed its URL" if argv == ("ui",) else "")
        sections.append(f"## `{command}`\n\n{took}:\n\n```text\n{output.rstrip()}\n```\n")
        print(f"{command}: {took}", flush=True)
    made = stamp()
    command = " ".join(["python benchmarks/first_hour.py", *sys.argv[1:]])
    args.out.write_text(
        "# A newcomer's first hour\n\n"
        f"README's commands in README's order, in the empty folder `{folder}`, on an 80-column "
        f"console. Made {made.generated:%Y-%m-%d %H:%M} UTC by `{command}` with dabench "
        f"{made.version} ({made.commit[:12]}) on {machine()}. README, docs/getting-started.md and "
        "docs/dashboard.md quote these lines (`tests/test_first_hour.py` checks it); the screenshot in "
        f"docs/dashboard.md is the `dabench ui` page.\n\n" + "\n".join(sections)
    )
    shutil.copyfile(picture, args.screenshot)


if __name__ == "__main__":
    main()
