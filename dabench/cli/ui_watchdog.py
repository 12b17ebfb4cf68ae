"""``python -m dabench.cli.ui_watchdog PARENT COMMAND...``: run the MLflow server ``COMMAND`` in
this process's group and stop the whole group when ``dabench ui`` (process ``PARENT``) is gone,
however it died (SIGKILL included, which no handler sees). ``dabench ui`` starts this in a
session of its own; stopping that group stops the server and this watchdog alike. Exits with the
server's exit code when the server ends by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def watch(parent: int, command: list[str], interval: float = 0.5, grace: float = 10.0) -> int:
    server = subprocess.Popen(command)  # same group, same output
    while os.getppid() == parent:
        if server.poll() is not None:
            return server.returncode
        time.sleep(interval)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's SIGTERM is for the server
    os.killpg(os.getpgrp(), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while server.poll() is None and time.monotonic() < deadline:
        time.sleep(interval)
    os.killpg(os.getpgrp(), signal.SIGKILL)  # what is left, this process included
    return 1


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), sys.argv[2:]))
