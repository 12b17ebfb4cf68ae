"""``dabench ui``: MLflow's UI on the tracking store, opened on the latest sweep's trials.

The server is ``mlflow server`` with one worker and no job runner (2 processes and ~0.4 GiB
instead of the default's 15 and ~2 GiB, measured on MLflow 3.17), bound to 127.0.0.1 unless
``--host`` says otherwise (then it warns: the store is open to the network, read and write). It
runs in its own process group: SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal closed) to
``dabench ui`` stops the whole group — the server, uvicorn and its workers — and waits until the
port is free; the group's leader, a watchdog (:mod:`dabench.cli.ui_watchdog`), stops it when
``dabench ui`` dies without a word (SIGKILL). A port already in use is refused before anything starts.
The server's log is beside the store (``mlflow-ui.log`` in an sqlite store's folder), else a
private temporary file; it is opened without following a symbolic link. The URL printed (and
opened with ``--open``) is the sweep's view (:mod:`dabench.reports.dashboard`). With a tracking
server (``--tracking-uri http://...``) nothing is started: the URL is on that server's own UI.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def run(args: Any) -> int:
    """``dabench ui`` from its parsed arguments: :func:`serve`, or exit 2 with the message of a
    user mistake (a busy port, no store, an unknown sweep or experiment)."""
    options = UiOptions(tracking_uri=args.tracking_uri, host=args.host, port=args.port,
                        experiment=args.experiment, sweep=args.sweep, open=args.open)  # fmt: skip
    try:
        return serve(options)
    except ValueError as error:
        print(f"dabench ui: error: {error}", file=sys.stderr, flush=True)
        return 2


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


def target_url(options: UiOptions, uri: str, base: str) -> str:
    """The URL (on the UI at ``base``) to open: the chosen (default: latest) sweep's view in the
    store ``uri``, else the experiment list."""
    from mlflow.tracking import MlflowClient

    from dabench import compat
    from dabench.reports import dashboard

    found = dashboard.latest_sweep(MlflowClient(uri), options.experiment, options.sweep)
    if found is None:
        return compat.ui_experiments_url(base)
    experiment, key = found
    return compat.ui_runs_url(base, experiment, key)


def server_command(uri: str, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
            "--host", host, "--port", str(port), "--workers", "1"]  # fmt: skip


def serve(options: UiOptions) -> int:
    """Check, start the server in its own process group, print (and open) the URL once it
    answers, and run until the server exits or a signal stops it; the server's exit code (0
    when stopped by a signal). The port is checked first, before anything heavy is imported.
    A tracking server (an ``http(s)://`` store) has its own UI: its URL is shown, nothing
    started."""
    given = options.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")
    if given.startswith(("http://", "https://")):
        return show(target_url(options, given, given.rstrip("/")), options.open)
    check_port_free(options.host, options.port)
    from dabench.records import store

    uri = store.tracking_uri(options.tracking_uri)
    store.require_store(uri)  # the server would create an empty one
    url = target_url(options, uri, f"http://{reachable_host(options.host)}:{options.port}")
    if not loopback(options.host):
        print(f"WARNING: --host {options.host} opens the MLflow store {store.redact(uri)} to "
              "every machine that can reach this one, to read every run and to write to it, "
              "with no password. Use it on a trusted network only; the default, 127.0.0.1, "
              "keeps it on this machine.", file=sys.stderr, flush=True)  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log, output = open_log(uri)
    print(f"starting the MLflow UI for {store.redact(uri)} (its log: {log}) …", flush=True)
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, _raise_stopped) for s in stops}
    process = None
    try:
        with output:
            watched = [sys.executable, "-m", "dabench.cli.ui_watchdog", str(os.getpid()),
                       *server_command(uri, options.host, options.port)]  # fmt: skip
            process = subprocess.Popen(watched, env=env, stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # fmt: skip
        if not wait_healthy(process, options.host, options.port):
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            print("dabench ui: error: the MLflow server did not start:\n" + "\n".join(tail),
                  file=sys.stderr, flush=True)  # fmt: skip
            return process.returncode or 1
        show(url, options.open, "(Ctrl-C stops it)")
        return process.wait()
    except StopSignalError:
        return 0
    finally:
        if process is not None:
            stop_group(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback or host == "::1"
    except (OSError, ValueError):
        return host == "::1"


def reachable_host(host: str) -> str:
    """A host to put in the printed URL: the machine's name for an address that means "every
    interface" (``0.0.0.0``, ``::``), which no browser can open."""
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


def open_log(uri: str) -> tuple[Path, Any]:
    """The server's log, opened for writing: ``mlflow-ui.log`` beside an sqlite store, else a
    private temporary file; never through a symbolic link (another user's link could make it
    overwrite a file)."""
    from dabench.records import store

    folder = store.sqlite_folder(uri)
    if folder is None:
        handle, name = tempfile.mkstemp(prefix="dabench-ui-", suffix=".log")
        return Path(name), os.fdopen(handle, "wb")
    path = folder / "mlflow-ui.log"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    try:
        return path, os.fdopen(os.open(path, flags, 0o600), "wb")
    except OSError as error:
        raise ValueError(f"cannot write the UI's log {path} ({error.strerror})") from None


def show(url: str, open_it: bool, note: str = "") -> int:
    """Print ``url`` (and ``note``) and, with ``open_it``, open it in the web browser (Python's
    :mod:`webbrowser`: the system's default, or ``$BROWSER``)."""
    print(f"MLflow UI: {url}" + (f"\n{note}" if note else ""), flush=True)
    if open_it:
        webbrowser.open(url)
    return 0


def _raise_stopped(signum: int, frame: object) -> None:
    raise StopSignalError


def wait_healthy(process: subprocess.Popen, host: str, port: int) -> bool:
    """Wait until the server answers ``/health`` on a socket it owns (not another program
    that took the port meanwhile); ``False`` if it exits first."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=2) as answer:
                if answer.status == 200 and listens_in_group(port, process.pid):
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def listens_in_group(port: int, group: int) -> bool:
    """Whether a process of process group ``group`` holds the listening TCP socket of ``port``
    (Linux: ``/proc/net/tcp*`` and ``/proc/<pid>/fd``; ``True`` where /proc cannot tell)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return not Path("/proc/net/tcp").exists()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return True
        except OSError:
            continue
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
