"""``dabench sweep`` end to end on real engines: a local Ray cluster, Optuna's TPE, ASHA, MLflow
(local sqlite store and a tracking server), resume after SIGTERM (Ctrl-C's path) and SIGKILL,
failing trials, and a ``ray start`` head reached with ``--address``. Nothing is mocked."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from rich.console import Console
from sweep_helpers import (
    assert_sweeps_apart,
    children,
    free_port,
    kill_all,
    mlflow_server,
    processes_matching,
    runs_of,
    searched,
    stop_session,
    sweep_command,
    wait_until,
    with_descendants,
)

from dabench.cli.sweeps import summary_table
from dabench.engine.options import SweepOptions
from dabench.engine.sweep import run_sweep
from dabench.records import naming, schema
from dabench.reports import leaderboard
from dabench.reports.quality import quality_report
from dabench.runtime import cpu_model

SMALL = {"task": "moons/rot40", "steps": 60, "eval_every": 20, "seed": 0}


def options(tmp_path: Path, **changes) -> SweepOptions:
    return SweepOptions(**{
        "method": "dann", **SMALL, "num_samples": 4, "max_concurrent": 1,
        "storage": str(tmp_path / "ray"),
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", **changes,
    })  # fmt: skip


def space(tmp_path: Path, text: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def test_a_small_sweep_records_every_trial_in_mlflow(ray_local, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="dabench")
    conditional = space(tmp_path, """
method: cdan
parameters:
  lr: {type: loguniform, low: 1.0e-3, high: 5.0e-2}
  randomized: {type: categorical, choices: [false, true]}
  randomized_dim: {type: int, low: 64, high: 512, log: true, when: {randomized: true}}
""")  # fmt: skip
    summary = run_sweep(options(tmp_path, method="cdan", space=conditional, num_samples=6))
    assert summary.counts["completed"] >= 1 and summary.counts["pruned"] >= 1  # ASHA pruned
    assert summary.counts["completed"] + summary.counts["pruned"] == 6 and not summary.interrupted

    client = MlflowClient(options(tmp_path).tracking_uri)
    parent = client.get_run(summary.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["method"] == "cdan"
    assert {"git_commit", "command", "version.ray", "space_file"} <= set(parent.data.params)
    assert parent.data.metrics["trials_completed"] == summary.counts["completed"]
    assert parent.info.artifact_uri.startswith(str(tmp_path / "mlruns" / "dabench"))  # not ./

    runs = children(options(tmp_path).tracking_uri)
    assert len(runs) == 6 and len({r.data.tags[schema.TRIAL_ID] for r in runs}) == 6
    finals, points = [], []
    for run in runs:
        status = run.data.tags[schema.STATUS]
        assert (status, run.info.status) in {("completed", "FINISHED"), ("pruned", "FINISHED")}
        assert run.info.run_name.endswith(f" · {summary.name}")
        assert "lr_now" in run.data.metrics and "lr" not in run.data.metrics  # lr: the param
        history = client.get_metric_history(run.info.run_id, "source_val_acc")
        assert [m.step for m in history] == ([20, 40, 60] if status == "completed" else [20, 40][
            : len(history)]) and history  # fmt: skip
        assert run.data.metrics["cpu_s"] > 0 and "target_test_acc" in run.data.metrics
        (facts,) = json.loads(run.data.tags[schema.RUNTIME])  # what its numbers depend on
        assert (facts["device"], facts["threads"], facts["cpu"]) == ("cpu", "1", cpu_model())
        chosen = searched(run)  # the conditional parameter only where its condition holds
        assert ("randomized_dim" in chosen) == chosen["randomized"]
        assert float(run.data.params["lr"]) == pytest.approx(chosen["lr"])
        steps = [m.step for m in history]
        for key in ("validator_im", "validator_bnm"):  # cheap: every evaluation
            assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == steps
        for key in ("validator_class_ami", "validator_dev"):  # costly: the last evaluation only
            assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == (
                [60] if status == "completed" else [])  # fmt: skip
        if status == "completed":  # the trial-level pick is among ASHA's survivors
            finals.append(run.data.metrics[summary.objective.key])
        points += [
            m.value for m in client.get_metric_history(run.info.run_id, summary.objective.key)
        ]
    assert sorted(r.info.run_name for r in runs) == [
        f"trial-{n} · {summary.name}" for n in "123456"
    ]
    assert {searched(r)["randomized"] for r in runs} == {False, True}
    assert summary.objective.key == "validator_bnm"  # the closed-set default: label-free
    assert summary.best_metrics[summary.objective.key] == max(finals)
    assert summary.best_config["lr"] in [searched(r)["lr"] for r in runs]
    # checkpoint level: the best evaluation point of any trial, whose checkpoint Ray kept
    picked = summary.checkpoint
    assert picked["metrics"][summary.objective.key] == max(points) >= max(finals)
    assert (Path(picked["path"]) / "trial.pt").is_file()
    assert not [
        k
        for k in parent.data.metrics
        if k.startswith(("best_checkpoint.config", "best_checkpoint.timestamp"))
    ]
    assert parent.data.metrics["best_checkpoint.target_test_acc"] == pytest.approx(
        picked["metrics"]["target_test_acc"]
    )
    assert summary.baseline is None and summary.negative_transfer is None  # no source-only sweep
    report = quality_report(client, "dabench", summary.name)  # `dabench validators`
    assert "6 trials" in report and "| class_ami" in report and "| oracle (target-val" in report

    # one naming scheme: the console's lines, the summary, Ray's folders and MLflow's run names
    labels = {r.data.tags[schema.TRIAL_ID]: naming.label_of(r.info.run_name) for r in runs}
    statuses = {labels[r.data.tags[schema.TRIAL_ID]]: r.data.tags[schema.STATUS] for r in runs}
    folders = sorted(p.name for p in (tmp_path / "ray" / summary.name).iterdir() if p.is_dir())
    assert folders == sorted(naming.folder(label, trial_id) for trial_id, label in labels.items())
    lines = [r.getMessage() for r in caplog.records if re.match(r"\[\d/6\] ", r.getMessage())]
    assert {tuple(line.split()[1:3]) for line in lines} == set(statuses.items()) and len(lines) == 6
    run_names = {r.info.run_name for r in runs}
    assert parent.data.tags[schema.PICK_TRIAL_NAME] == summary.best_trial in run_names
    assert picked["name"] in run_names and picked["trial"] in labels
    label = labels[picked["trial"]]
    assert Path(picked["path"]).parent.name == naming.folder(label, picked["trial"])
    console = Console(width=300, record=True)
    console.print(summary_table(summary))
    shown = " ".join(console.export_text().split())
    assert f"trial-level pick │ {naming.label_of(summary.best_trial)}: " in shown
    assert f"({label} step {picked['step']}, {picked['path']})" in shown


def test_failing_trials_are_recorded_and_the_sweep_goes_on(ray_local, tmp_path):
    explode = space(tmp_path, "method: dann\nparameters:\n  lr: {type: categorical, "
                    "choices: [0.01, 1e30]}\n")  # fmt: skip
    summary = run_sweep(options(tmp_path, space=explode, scheduler="none", max_failures=1,
                                steps=20, max_concurrent=2,
                                overrides={"costly_validators": "never"}))  # fmt: skip
    # (two at a time: a failed trial's actor is not reused, so one at a time saves nothing)
    runs = children(options(tmp_path).tracking_uri)
    assert len(runs) == 4  # a retried trial keeps its one run
    failed = [r for r in runs if searched(r)["lr"] == 1e30]
    assert failed and len(failed) < 4 and summary.counts["failed"] == len(failed)
    for run in failed:
        assert run.info.status == "FAILED" and run.data.tags[schema.STATUS] == "failed"
        assert "NonFiniteLossError" in run.data.tags["error"]
        assert run.data.tags[schema.STARTS] == "2"  # --max-failures 1: retried once
    assert summary.counts["completed"] == 4 - len(failed)
    assert summary.best_config["lr"] == 0.01


def test_a_gpu_request_the_cluster_cannot_meet_is_refused(ray_local, tmp_path):
    with pytest.raises(ValueError, match=r"--gpus-per-trial 0.5 but the Ray cluster has 0 GPUs"):
        run_sweep(options(tmp_path, gpus_per_trial=0.5))
    assert not (tmp_path / "mlflow.db").exists()  # refused before anything was recorded
    assert not (tmp_path / "ray").exists()  # and no empty Ray storage is left behind


@pytest.mark.slow
def test_a_sweep_stopped_twice_resumes_and_loses_and_repeats_nothing(ray_local, tmp_path):
    """The driver is stopped with SIGTERM, which is turned into Ctrl-C's SIGINT
    (:func:`dabench.engine.cluster.tune_run`), so that stop covers Ctrl-C's path; the resumed
    driver is then killed with SIGKILL, which gives it no chance at all; a last resume, in this
    process, finishes the sweep."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trials = 5  # at most 2 + 2 finished when the second driver is killed: one left to run
    argv = ["--method", "dann", "--task", "moons/rot40", "--steps", "60", "--eval-every", "20",
            "--num-samples", str(trials), "--scheduler", "none", "--storage", str(tmp_path),
            "--tracking-uri", uri, "--name", "s", "--set", "costly_validators=never"]  # fmt: skip

    def finished() -> list:
        try:
            return [r for r in children(uri) if r.info.status == "FINISHED"]
        except Exception:  # the store or the sweep's parent run does not exist yet
            return []

    done_before: dict[str, dict] = {}
    graceful: set[str] = set()  # finished before the SIGTERM: Ray's state has them all
    for args, sig, returncode in (
        (argv, signal.SIGTERM, 130),
        (["--resume", "s", "--storage", str(tmp_path)], signal.SIGKILL, -signal.SIGKILL),
    ):
        driver = subprocess.Popen(sweep_command(*args), start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wanted = len(done_before) + 1
            wait_until(lambda n=wanted: len(finished()) >= n, 300, f"{wanted} finished trials",
                       driver)  # fmt: skip
            done_before.update({r.info.run_id: r.data.metrics for r in finished()})
            if sig == signal.SIGTERM:
                graceful = set(done_before)
            os.kill(driver.pid, sig)
            assert driver.wait(timeout=120) == returncode
        finally:
            stop_session(driver)  # SIGKILL leaves Ray's agents behind: stop its whole group
        if sig == signal.SIGTERM:  # a graceful stop closes the interrupted trials' runs
            assert all(r.info.status != "RUNNING" for r in children(uri))
        assert len(children(uri)) < trials or any(r.info.status != "FINISHED"
                                                  for r in children(uri))  # fmt: skip

    summary = run_sweep(resume=str(tmp_path / "s"))  # in this process: its Ray cluster is up
    client = MlflowClient(uri)
    assert summary.counts["completed"] == trials and not summary.interrupted
    # SIGKILL can land after a trial opened its run but before Ray's state recorded the trial:
    # the resumed sweep runs that configuration again, and the old run is closed as superseded.
    everything = children(uri)
    runs = [r for r in everything if r.data.tags[schema.STATUS] != "superseded"]
    assert all(r.info.status == "KILLED" for r in everything if r not in runs)
    assert len(runs) == trials and len({r.data.tags[schema.TRIAL_ID] for r in runs}) == trials
    assert all(r.info.status == "FINISHED" for r in runs)
    for run in runs:  # finished trials were not run again
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "source_val_acc")]
        assert steps == [20, 40, 60]  # once each: none logged again after a resume
        if run.info.run_id in done_before:  # its results untouched
            assert run.data.metrics == done_before[run.info.run_id]
        # A trial that finished less than a snapshot (2 s) before the SIGKILL is not finished in
        # Ray's state: it is started again from its last checkpoint and has nothing left to train.
        if run.info.run_id in graceful:
            assert run.data.tags[schema.STARTS] == "1"
    # The restored searcher went on from the trials it had seen: seeded TPE restarted cold
    # would propose the first configurations again.
    configs = [json.dumps(searched(r), sort_keys=True) for r in runs]
    assert len(set(configs)) == trials
    # Tune's trial counter went on too: one number per kept trial (a superseded run's number went
    # to the trial that replaced it), each trial in its folder
    assert sorted(r.info.run_name for r in runs) == [f"trial-{n} · s" for n in range(1, trials + 1)]
    folders = {p.name for p in (tmp_path / "s").iterdir() if p.is_dir()}
    assert {naming.folder(naming.label_of(r.info.run_name), r.data.tags[schema.TRIAL_ID])
            for r in runs} <= folders  # fmt: skip


@pytest.mark.slow
def test_two_sweeps_and_a_benchmark_at_once_on_a_ray_start_head_log_apart_to_one_server(tmp_path):
    """Two ``dabench sweep`` drivers and a ``dabench benchmark`` at once, on one ``ray start``
    head (``--address``, token auth) and one MLflow server."""
    server, url = mlflow_server(tmp_path)
    temp = Path(f"/tmp/dabench-test-{os.getpid()}")  # short: Ray's socket paths must fit
    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123456789abcdef")
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    env["RAY_AUTH_TOKEN_PATH"] = str(token)
    port = str(free_port())
    try:
        subprocess.run(
            ["ray", "start", "--head", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
            env={**env, "RAY_AUTH_MODE": "token"}, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        common = ["--steps", "40", "--eval-every", "20", "--scheduler", "none",
                  "--cpus-per-trial", "0.5", "--address", f"127.0.0.1:{port}",
                  "--tracking-uri", url, "--storage", str(tmp_path / "ray")]  # fmt: skip
        drivers = [
            subprocess.Popen(
                sweep_command("--method", "dann", "--task", "moons/rot40", "--num-samples", "2",
                              "--seed", str(seed), "--name", name, "--experiment", "cluster",
                              *common),
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            for seed, name in enumerate(("left", "right"))
        ]  # fmt: skip
        drivers.append(subprocess.Popen(
            [sys.executable, "-m", "dabench", "benchmark", "--tasks", "moons/rot40", "--methods",
             "dann", "--trials", "2", "--seeds", "0", "--name", "bench", "--no-leaderboard",
             *common],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
        for driver in drivers:
            _, err = driver.communicate(timeout=600)
            assert driver.returncode == 0, err[-3000:]
        connected = "Connecting to existing Ray cluster at address: "
        for name in ("left", "right", "bench"):  # Ray's lines go to the folder, not the console
            assert connected in (tmp_path / "ray" / name / "engines.log").read_text()
        assert connected not in err  # the benchmark's console
        assert_sweeps_apart(url, "cluster", ["left", "right"], trials=2)
        shown = subprocess.run(  # a tracking server: its own UI, at the sweep's view
            [sys.executable, "-m", "dabench", "ui", "--tracking-uri", url, "--sweep", "left"],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
        assert shown.startswith(f"MLflow UI: {url}/#/experiments/") and shown.rstrip().endswith(
            "/runs?workflowType=machine_learning&viewStateShareKey=dabench-left")  # fmt: skip
        board = leaderboard.build(runs_of(url, ["cluster"]))  # from the server
        assert board.cost[["completed", "pruned", "failed"]].values.tolist() == [[2, 0, 0]]
        assert len(board.left_out) == 1 and "a later sweep replaced it" in board.left_out[0]
        bench = leaderboard.build(runs_of(url, ["bench"]))
        assert bench.cost[["completed", "pruned", "failed"]].values.tolist() == [[2, 0, 0]]
    finally:
        kill_all(with_descendants(processes_matching(str(temp))))  # never `ray stop`
        stop_session(server)
        shutil.rmtree(temp, ignore_errors=True)
    assert not processes_matching(str(temp))


def test_the_same_sweep_twice_gives_the_same_trials(ray_local, tmp_path):
    clock = {"time_s", "samples_per_s", "cpu_s", "gpu_s"}

    def trials(name: str) -> list:
        run_sweep(options(tmp_path, name=name, experiment=name, scheduler="none", num_samples=2))
        return sorted(
            (json.dumps(searched(r), sort_keys=True),
             {k: v for k, v in r.data.metrics.items() if k not in clock})
            for r in children(options(tmp_path).tracking_uri, name)
        )  # fmt: skip

    first, second = trials("first"), trials("second")
    assert first == second and len(first) == 2
