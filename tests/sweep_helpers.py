"""What the sweep tests need besides dabench: MLflow queries, subprocess drivers, and a Ray
head and an MLflow server started and stopped by PID."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mlflow.tracking import MlflowClient

from dabench.records import readers, schema


def children(uri: str, experiment: str = "dabench") -> list:
    """The trial runs of the only sweep in ``experiment``."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    parents = client.search_runs([exp.experiment_id], f"tags.`{schema.KIND}` = 'sweep'")
    assert len(parents) == 1, [p.info.run_name for p in parents]
    return readers.children(client, exp.experiment_id, parents[0].info.run_id)


def searched(run) -> dict:
    return json.loads(run.data.tags["searched"])


def sweep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dabench", "sweep", *args]


def free_port() -> int:
    """A port free on 127.0.0.1, drawn below the kernel's ephemeral range (32768–60999 on
    Linux) and above Ray's worker ports (10002–19999). A port the kernel hands out for
    ``bind(0)`` is one it will hand out again to the next process that asks — under xdist a Ray
    cluster on the other worker asks hundreds of times a minute, and once took an MLflow
    server's port between this check and the server's own bind."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32768)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000–32767 on 127.0.0.1")


def wait_until(predicate, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def processes_matching(text: str) -> list[int]:
    """PIDs whose command line contains ``text``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


def own_processes_matching(text: str) -> list[int]:
    """PIDs below this process (its Ray cluster's workers, say) whose command line contains
    ``text`` — never another session's processes of the same name."""
    mine = set(with_descendants([os.getpid()]))
    return [pid for pid in processes_matching(text) if pid in mine]


def kill_all(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is left after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.2)


def healthy(url: str) -> bool:
    """Whether the MLflow server at ``url`` answers its health check."""
    try:
        return urllib.request.urlopen(f"{url}/health", timeout=1).read() == b"OK"
    except (OSError, http.client.HTTPException):  # not up yet, or not an MLflow server
        return False


def mlflow_server(directory: Path, attempts: int = 3) -> tuple[subprocess.Popen, str]:
    """``mlflow server`` on 127.0.0.1 with an sqlite backend (1 worker, no job runner); on a
    fresh port again when the server exits at once because another process took its port
    between the check and the bind."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{directory / 'server.db'}",
         "--artifacts-destination", str(directory / "artifacts")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url), 120, "the MLflow server", process)
    except AssertionError:
        exited = process.poll() is not None  # rather than timed out
        stop_session(process)
        if not exited or attempts <= 1:
            raise
        return mlflow_server(directory, attempts - 1)
    return process, url


def stop_session(process: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its group."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def with_descendants(pids: list[int]) -> list[int]:
    """``pids`` and every process below them (Ray renames its agents and workers, so they are
    found by parentage, not by command line)."""
    parent_of = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(pids), set(pids)
    while frontier:
        frontier = {p for p, parent in parent_of.items() if parent in frontier} - found
        found |= frontier
    return sorted(found)


def assert_sweeps_apart(uri: str, experiment: str, names: list[str], trials: int) -> None:
    """Each sweep's parent finished with exactly its own ``trials`` trial runs, all finished and
    tagged with its name, and the experiment holds nothing else."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment).experiment_id
    searched_by = {}
    for name in names:
        parent = readers.require_sweep(client, experiment, name)
        assert parent.info.status == "FINISHED", name
        runs = readers.children(client, exp, parent.info.run_id)
        assert len(runs) == trials and all(r.info.status == "FINISHED" for r in runs), name
        assert {r.data.tags[schema.SWEEP] for r in runs} == {name}  # none mixed
        searched_by[name] = {r.data.tags["searched"] for r in runs}
    assert len(client.search_runs([exp], "")) == len(names) * (1 + trials)  # nothing else
    assert len({frozenset(s) for s in searched_by.values()}) == len(names)  # seeds differ


def runs_of(uri: str, names: list[str]):
    """Every run of the named experiments of the store at ``uri``, as the leaderboard reads
    them."""
    from dabench.records.store import experiment_ids

    client = MlflowClient(uri)
    return readers.load_runs(client, experiment_ids(client, names))
