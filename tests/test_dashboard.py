"""The MLflow dashboard: the shared tiny sweep (run from the installed wheel), ``dabench ui`` (a
real ``mlflow server``) and Debian's headless Chromium rendering the printed URL; the port-in-use
refusal and SIGTERM stopping the whole server. Nothing is mocked."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import free_port, processes_matching, wait_until

from dabench import compat
from dabench.names import did_you_mean
from dabench.records import readers, schema
from dabench.records.criteria import criterion
from dabench.reports import dashboard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_sweeps_view_shows_its_trials_with_objective_oracle_and_status():
    state = dashboard.view_state("s1", criterion("bnm", "closed"))
    assert state["searchFilter"] == "tags.`dabench.sweep` = 's1' and tags.`dabench.kind` = 'trial'"
    assert state["selectedColumns"] == [
        "metrics.`validator_bnm`", "metrics.`target_val_acc`", f"tags.`{schema.STATUS}`",
        "metrics.`target_test_acc`"]  # fmt: skip
    assert state["columnOrder"][2:] == state["selectedColumns"]
    assert state["orderByKey"] == "metrics.`validator_bnm`" and state["orderByAsc"] is False
    loss = dashboard.view_state("s1", criterion("train_loss", "closed"))
    assert loss["orderByKey"] == "metrics.`train_loss`" and loss["orderByAsc"] is True
    assert dashboard.view_key("dann-moons/rot40 x") == "dabench-dann-moons-rot40-x"


def test_did_you_mean():
    assert did_you_mean("dan", ["dann", "cdan", "adda"]) == " (did you mean 'dann' or 'cdan'?)"
    assert did_you_mean("zzz", ["dann"]) == ""


def ui(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dabench", "ui", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_ui_refuses_a_port_in_use_before_starting_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = ui("--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}")
        out, err = process.communicate(timeout=60)
    assert process.returncode == 2, (out, err)
    assert f"port {port} on 127.0.0.1 is in use" in " ".join(err.split()) and "--port" in err
    assert "MLflow UI" not in out and "starting" not in out
    assert not (tmp_path / "x.db").exists() and not processes_matching(f"--port {port}")


def test_the_sweep_console_shows_only_dabench_lines_and_progress(tiny_sweep):
    console = tiny_sweep.console
    log = tiny_sweep.folder / "ray_results" / "tiny" / "engines.log"
    assert console.startswith(f"sweep tiny: 2 trials of dann on moons/rot40; Ray's and MLflow's "
                              f"logs: {log}")  # fmt: skip
    assert "Started a local Ray instance" in log.read_text()  # not printed
    for line in console.splitlines():
        assert line.startswith(("sweep tiny", "[1/2] trial-", "[2/2] trial-", "┌", "│",
                                "└", "├", " ")), f"not dabench's: {line!r}"  # fmt: skip
    for foreign in ("Configuration for experiment", "TensorBoard", "View detailed results",
                    "Token authentication", "INFO", "WARNING"):  # fmt: skip
        assert foreign not in console
    assert "sweep tiny: 0 running, " in console and "of 2 · best bnm " in console
    # the best so far is named with its step: a running trial's may match no printed line
    assert re.search(r"of 2 · best bnm [\d.]+ \(oracle [\d.]+\) trial-[12] step \d+ · ", console)


def start_ui(uri: str, folder: Path) -> tuple[subprocess.Popen, int, str]:
    """``dabench ui --open`` on a free port, its "web browser" a script that writes the URL it
    was given to ``folder/opened``; its process, port and the URL it printed."""
    port = free_port()
    browser = folder / "browser.py"
    browser.write_text("import pathlib, sys\n"
                       f"pathlib.Path({str(folder / 'opened')!r}).write_text(sys.argv[1])\n")  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "dabench", "ui", "--port", str(port), "--tracking-uri", uri,
         "--open"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=folder,
        env={**os.environ, "BROWSER": f"{sys.executable} {browser} %s"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    for line in process.stdout:
        if line.startswith("MLflow UI: "):
            return process, port, line.removeprefix("MLflow UI: ").strip()
        assert time.monotonic() < deadline, "no URL printed"
    raise AssertionError(f"dabench ui exited ({process.wait()}) without printing its URL")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_sweep_records_a_model_training_experiment_and_the_picks(tiny_sweep):
    uri, parent = tiny_sweep.uri, tiny_sweep.parent
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("dabench")
    assert experiment.tags[schema.EXPERIMENT_KIND] == schema.MODEL_TRAINING
    view = json.loads(experiment.tags[compat.UI_VIEW_TAG_PREFIX + "dabench-tiny"])
    assert "dabench.sweep` = 'tiny'" in view["searchFilter"]
    assert parent.data.tags["pick.trial.name"] in ("trial-1 · tiny", "trial-2 · tiny")
    assert client.get_run(parent.data.tags["pick.checkpoint.run_id"]).info.run_name in (
        "trial-1 · tiny", "trial-2 · tiny")  # fmt: skip
    assert {"best.validator_bnm", "best.target_val_acc", "best.target_test_acc",
            "best_checkpoint.validator_bnm", "best_checkpoint.target_test_acc"} <= set(
        parent.data.metrics)  # fmt: skip
    assert not [k for k in parent.data.metrics if k.startswith(("best.time", "best.pid"))]
    assert "None" not in parent.data.params.values()
    assert parent.data.params["sweep.metric"] == "bnm"
    assert f"trial-level pick: **{parent.data.tags['pick.trial.name']}**" in parent.data.tags[
        schema.NOTE]  # fmt: skip
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "summary")}
    assert artifacts == {"summary/trials.md", "summary/parallel_coordinates.png",
                         "summary/metrics_vs_step.png"}  # fmt: skip


@pytest.fixture(scope="module")
def ui_server(tiny_sweep, tmp_path_factory):
    """``dabench ui`` on the sweep's store (stopped by the SIGTERM test, else at the end)."""
    folder = tmp_path_factory.mktemp("ui")
    process, port, url = start_ui(tiny_sweep.uri, folder)
    yield process, port, url, folder
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.slow
def test_the_printed_url_shows_the_trials_in_a_real_browser(tiny_sweep, ui_server, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium in CI (.ci/run installs it)")
        pytest.skip("no chromium installed (apt-get install chromium)")
    uri, parent = tiny_sweep.uri, tiny_sweep.parent
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000",
         "--window-size=1400,900", "--dump-dom", ui_server[2]],
        capture_output=True, text=True, timeout=180,
    ).stdout  # fmt: skip
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("dabench").experiment_id
    names = [r.info.run_name for r in readers.children(client, experiment, parent.info.run_id)]
    assert sorted(names) == ["trial-1 · tiny", "trial-2 · tiny"]
    for name in names:
        assert name in dom, f"{name} not on the page"
    for column in ("validator_bnm", "target_val_acc", "dabench.status"):
        assert column in dom, f"column {column} not on the page"
    assert "completed" in dom


def test_ui_opens_its_url_and_stops_its_whole_server_on_sigterm(ui_server):
    process, port, url, folder = ui_server
    assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/") and "viewStateShareKey=" in url
    opened = folder / "opened"
    wait_until(opened.exists, 30, "the browser to be opened")
    assert opened.read_text() == url  # --open: Python's webbrowser, here $BROWSER
    server = processes_matching(f"--port {port}")
    assert server and not port_free(port)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert port_free(port)
    assert not [p for p in server if Path(f"/proc/{p}").exists()], "a server process survived"
