"""``dabench ui``: MLflow's UI on the tracking store, opened on the latest sweep's trials.

The server is ``mlflow server`` with one worker and no job runner (2 processes, ~0.4 GiB, instead
of 15 and ~2 GiB: ``shared/stack.md``), bound to 127.0.0.1 unless ``--host`` says otherwise. It
runs in its own process group: SIGINT (Ctrl-C) or SIGTERM to ``dabench ui`` stops the whole group
— the server, uvicorn and its workers — and waits until the port is free. A port already in use
is refused before anything starts. The URL printed (and opened with ``--open``) is the sweep's
view (:mod:`dabench.dashboard`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from dabench import dashboard, tracking

STARTUP_S = 120.0  # the server answers /health after ~6 s on an idle 2-core machine
STOP_S = 15.0


@dataclass
class UiOptions:
    tracking_uri: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    experiment: str | None = None
    sweep: str | None = None
    open: bool = False


class StopSignalError(Exception):
    """SIGINT or SIGTERM arrived: stop the server."""


def check_port_free(host: str, port: int) -> None:
    """Raise ``ValueError`` when something already listens on ``host:port`` (binding there
    fails), naming the port and what to do."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ValueError(
                f"port {port} on {host} is in use ({error.strerror}): another program (perhaps "
                f"another `dabench ui` or `mlflow server`) listens there; stop it or choose "
                f"another port with --port"
            ) from None


def check_store(uri: str) -> None:
    """Refuse a local sqlite store that does not exist (the server would create an empty one)."""
    folder = tracking.sqlite_folder(uri)
    if folder is not None and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ValueError(
            f"no MLflow store at {uri}: run a sweep here first (`dabench sweep ...`), or pass "
            "--tracking-uri"
        )


def target_url(options: UiOptions, uri: str) -> str:
    """The URL to open: the chosen (default: latest) sweep's view, else the experiment list."""
    from mlflow.tracking import MlflowClient

    base = f"http://{options.host}:{options.port}"
    if uri.startswith(("http://", "https://")):
        return base
    found = dashboard.latest_sweep(MlflowClient(uri), options.experiment, options.sweep)
    if found is None:
        return f"{base}/#/experiments?workflowType={dashboard.WORKFLOW}"
    experiment, key = found
    return dashboard.runs_url(base, experiment, key)


def server_command(uri: str, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
            "--host", host, "--port", str(port), "--workers", "1"]  # fmt: skip


def serve(options: UiOptions) -> int:
    """Check, start the server in its own process group, print (and open) the URL once it
    answers, and run until the server exits or a signal stops it; the server's exit code (0
    when stopped by a signal)."""
    uri = options.tracking_uri or tracking.default_tracking_uri()
    check_port_free(options.host, options.port)
    check_store(uri)
    url = target_url(options, uri)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    print(f"starting the MLflow UI for {uri} …", flush=True)
    process = subprocess.Popen(server_command(uri, options.host, options.port), env=env,
                               start_new_session=True)  # fmt: skip
    previous = {s: signal.signal(s, _raise_stopped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not wait_healthy(process, options.host, options.port):
            return process.returncode or 1
        print(f"MLflow UI: {url}\n(Ctrl-C stops it)", flush=True)
        if options.open:
            webbrowser.open(url)
        return process.wait()
    except StopSignalError:
        return 0
    finally:
        stop_group(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise_stopped(signum: int, frame: object) -> None:
    raise StopSignalError


def wait_healthy(process: subprocess.Popen, host: str, port: int) -> bool:
    """Wait until the server answers ``/health``; ``False`` if it exits first."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL to what is left after
    :data:`STOP_S`; returns when no process of the group is left."""
    group = process.pid  # start_new_session: the leader's pid is the group id
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_S
    while _group_alive(group, process) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(group, process):
        _signal_group(group, signal.SIGKILL)
        deadline = time.monotonic() + STOP_S  # (unreaped zombies would count as alive)
        while _group_alive(group, process) and time.monotonic() < deadline:
            time.sleep(0.1)


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _group_alive(group: int, process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader once it exits
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
