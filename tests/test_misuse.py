"""Nothing a user can type corrupts a result: relative store paths, two drivers on one sweep or
benchmark, names that would leave their folder or break a filter or the console, stores that
cannot work, damaged runs files, foreign checkpoints and state files, YAML bombs, credentials in
URIs, and `dabench ui` bound beyond loopback or left behind by its parent. Real stores, real
processes, a real Ray cluster where one runs; nothing mocked. The catalogue is
``reports/reliability.md`` (section 6)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient
from sweep_helpers import free_port, healthy, kill_all, wait_until, with_descendants

from dabench.cli import main
from dabench.engine import state
from dabench.engine.options import SweepOptions
from dabench.engine.provenance import provenance
from dabench.engine.sweep import options_used, validate
from dabench.records import readers, runs_files, schema, store

RAY = "dabench.engine.sweep.init_ray"
SWEEP = ["sweep", "--method", "dann", "--task", "moons/rot40"]


def refused(argv: list[str], capsys) -> str:
    """Run ``dabench argv``: it must be refused with exit 2; its error output, on one line."""
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own refusal
        code = exit.code
    assert code == 2, argv
    return " ".join(capsys.readouterr().err.split())


# --- the tracking store -------------------------------------------------------------------------


def test_a_relative_sqlite_uri_is_made_absolute_once_in_the_driver(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store.tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert store.tracking_uri("sqlite:///sub/m.db") == f"sqlite:///{tmp_path / 'sub' / 'm.db'}"
    assert store.tracking_uri(f"sqlite:///{tmp_path}/x.db") == f"sqlite:///{tmp_path}/x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")  # MLflow's documented form
    assert store.tracking_uri(None) == f"sqlite:///{tmp_path / 'env.db'}"
    assert store.tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


@pytest.mark.slow
def test_a_sweep_on_a_relative_sqlite_uri_records_its_trials(ray_local, tmp_path, monkeypatch):
    """On main every trial failed (`No Experiment with id=1 exists`: each Ray worker resolved the
    path in its own working folder) and the sweep exited 0."""
    monkeypatch.chdir(tmp_path)
    argv = [*SWEEP, "--num-samples", "2", "--steps", "20", "--eval-every", "10", "--scheduler",
            "none", "--tracking-uri", "sqlite:///mlflow.db", "--name", "relative"]  # fmt: skip
    assert main(argv) == 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = readers.require_sweep(client, "dabench", "relative")
    runs = readers.children(client, parent.info.experiment_id, parent.info.run_id)
    assert [r.data.tags[schema.STATUS] for r in runs] == ["completed", "completed"]


@pytest.mark.slow
def test_a_sweep_whose_every_trial_failed_exits_non_zero(ray_local, tmp_path, capsys):
    from test_data_real import digits_tree

    root = digits_tree(tmp_path / "digits")
    (root / "mnist_test_image" / "7_3.png").write_bytes(b"not a png")  # read mid-trial
    argv = ["sweep", "--method", "source_only", "--task", "digits/USPS2MNIST", "--root",
            str(root), "--num-samples", "1", "--steps", "2", "--eval-every", "1", "--set",
            "batch_size=4", "--storage", str(tmp_path / "ray"),
            "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]  # fmt: skip
    assert main(argv) == 1
    assert "every trial failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://example.org/store", "scheme 'ftp' is no tracking store; use sqlite:///"),
        ("file:///tmp/mlruns", "MLflow's file store is not supported"),
        ("mlruns", "not a URI; use sqlite:///path/to/mlflow.db"),
        ("postgresql://dabench:s3cret@127.0.0.1:1/runs", "postgresql://***@127.0.0.1:1/runs"),
        ("http://dabench:s3cret@127.0.0.1:1", "no MLflow server answers there"),
    ],
)  # fmt: skip
def test_a_store_that_cannot_work_is_refused_in_one_line_before_ray(uri, message, tmp_path,
                                                                    capsys, monkeypatch):  # fmt: skip
    monkeypatch.setattr(RAY, lambda *a: pytest.fail("Ray was started"))
    monkeypatch.chdir(tmp_path)
    err = refused([*SWEEP, "--storage", str(tmp_path / "ray"), "--tracking-uri", uri], capsys)
    assert message in err and "s3cret" not in err and "Traceback" not in err
    assert not (tmp_path / "ray").exists() and not (tmp_path / "mlruns").exists()


def test_a_corrupt_or_unwritable_sqlite_store_is_refused_before_ray(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(RAY, lambda *a: pytest.fail("Ray was started"))
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    argv = [*SWEEP, "--storage", str(tmp_path / "ray")]
    err = refused([*argv, "--tracking-uri", f"sqlite:///{corrupt}"], capsys)
    assert f"{corrupt} is not an SQLite database" in err
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: a folder under a file
            locked = tmp_path / "a-file" / "store"
            locked.parent.write_text("")
        err = refused([*argv, "--tracking-uri", f"sqlite:///{locked}/mlflow.db"], capsys)
        assert ("cannot write in" in err or "does not exist" in err) and "Traceback" not in err
    finally:
        (tmp_path / "read-only").chmod(0o755)
    assert not (tmp_path / "ray").exists()


def test_resources_and_counts_that_make_no_sense_are_refused_by_the_flags(tmp_path, capsys):
    for flag, value, accepts in (("--cpus-per-trial", "nan", "a finite number > 0"),
                                 ("--gpus-per-trial", "-1", "a finite number ≥ 0"),
                                 ("--max-failures", "-5", "an integer ≥ 0"),
                                 ("--seeds", "-1", "an integer ≥ 0")):  # fmt: skip
        err = refused([*SWEEP, "--storage", str(tmp_path), flag, value], capsys)
        assert f"argument {flag}: must be {accepts}; got '{value}'" in err
    with pytest.raises(ValueError, match="--cpus-per-trial must be a finite number > 0; got nan"):
        validate(SweepOptions(method="dann", task="moons/rot40", cpus_per_trial=float("nan")))


# --- one driver at a time -----------------------------------------------------------------------


def test_one_driver_holds_a_folder_and_a_dead_ones_lock_is_taken_over(tmp_path):
    folder = str(tmp_path / "sweep")
    with state.hold(folder, "sweep s"):
        with pytest.raises(ValueError, match=rf"sweep s is being run by another driver \(pid "
                           rf"{os.getpid()} on .*, or stop it with `kill -INT {os.getpid()}`"):  # fmt: skip
            with state.hold(folder, "sweep s"):
                pass
    with state.hold(folder, "sweep s"):  # released at the end of the block
        pass
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from dabench.engine.state import hold\n"
        f"with hold({folder!r}, 'sweep s'):\n    print('held', flush=True); time.sleep(600)"
    )], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ValueError, match=f"pid {holder.pid}"):
        with state.hold(folder, "sweep s"):
            pass
    holder.send_signal(signal.SIGKILL)  # a driver killed outright: its lock goes with it
    holder.wait()
    with state.hold(folder, "sweep s"):
        assert json.loads((tmp_path / "sweep" / "dabench.lock").read_text())["pid"] == os.getpid()


def test_resume_refuses_flags_that_contradict_the_saved_sweep(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(RAY, lambda *a: pytest.fail("Ray was started"))
    options = SweepOptions(method="dann", task="moons/rot40", name="s", storage=str(tmp_path),
                           tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")  # fmt: skip
    state.save_sweep(str(tmp_path / "s"), options, "parent", "0")
    err = refused(["sweep", "--resume", "s", "--storage", str(tmp_path), "--num-samples", "5",
                   "--method", "cdan"], capsys)  # fmt: skip
    assert "a resumed sweep keeps its options; these contradict them: --method 'cdan' (the " \
        "sweep has 'dann'); --num-samples 5 (the sweep has 8)" in err  # fmt: skip


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escaped", "a/b", "it's", 'say"hi', "x[/bold]", "a..b", " "])
def test_a_name_that_would_leave_its_folder_or_break_a_filter_is_refused(name, tmp_path, capsys,
                                                                         monkeypatch):  # fmt: skip
    monkeypatch.setattr(RAY, lambda *a: pytest.fail("Ray was started"))
    monkeypatch.chdir(tmp_path)
    err = refused([*SWEEP, "--storage", str(tmp_path / "ray"), "--name", name], capsys)
    assert "must be a name of letters, digits and . _ + = -" in err
    err = refused(["benchmark", "--spec", "tiny", "--storage", str(tmp_path / "ray"), "--name",
                   name], capsys)  # fmt: skip
    assert "--name" in err and "must be a name of letters, digits" in err
    assert refused(["rerun", "--sweep", name], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing made, nothing escaped


def test_a_refused_name_suggests_one_that_would_do(tmp_path, capsys):
    err = refused([*SWEEP, "--storage", str(tmp_path), "--name", "../my run"], capsys)
    assert "(e.g. 'my-run')" in err


def test_filters_quote_every_value_and_a_quote_in_a_name_cannot_inject(tmp_path, capsys):
    assert schema.where(**{schema.SWEEP: "a'b"}) == 'tags.`dabench.sweep` = "a\'b"'
    with pytest.raises(ValueError, match="holds both kinds of quote"):
        schema.where(**{schema.SWEEP: "a'b\"c"})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = store.experiment_id(client, "dabench")
    assert readers.find_sweep(client, experiment, "x' or tags.`dabench.kind` = 'trial") is None
    for argv in (["validators", "--sweep", "it's"], ["ui", "--sweep", "it's", "--port",
                                                     str(free_port())]):  # fmt: skip
        err = refused([*argv, "--tracking-uri", uri], capsys)
        assert "no sweep" in err and "Traceback" not in err


def test_markup_in_user_text_is_printed_as_text(tmp_path, capsys):
    err = refused(["sweep", "--method", "da[/x]nn", "--task", "moons/rot40", "--storage",
                   str(tmp_path)], capsys)  # fmt: skip
    assert "unknown method 'da[/x]nn'" in err


def test_a_folder_dabench_did_not_make_is_never_adopted(tmp_path, capsys, monkeypatch):
    """On main, `dabench benchmark --name important` adopted a user's folder and deleted its
    `checkpoints/`."""
    monkeypatch.setattr("dabench.engine.benchmark.init_ray", lambda *a: pytest.fail("Ray"))
    mine = tmp_path / "ray" / "important" / "checkpoints" / "thesis.tex"
    mine.parent.mkdir(parents=True)
    mine.write_text("years of work")
    err = refused(["benchmark", "--spec", "tiny", "--name", "important", "--storage",
                   str(tmp_path / "ray"), "--tracking-uri",
                   f"sqlite:///{tmp_path / 'mlflow.db'}"], capsys)  # fmt: skip
    assert "exists and is not a dabench benchmark" in err
    err = refused([*SWEEP, "--name", "important", "--storage", str(tmp_path / "ray")], capsys)
    assert "exists and is not a dabench sweep" in err
    assert mine.read_text() == "years of work"
    assert sorted(p.name for p in mine.parents[1].iterdir()) == ["checkpoints"]


# --- files ---------------------------------------------------------------------------------------


def test_a_damaged_runs_file_is_refused_naming_the_line_and_the_column(tmp_path):
    """On main one row cut short was accepted and a cell changed (66.2 from 1 seed instead of
    75.6 from 2)."""
    good = tmp_path / "good.csv"
    now = pd.Timestamp("2026-12-01T10:00:00", tz="UTC")
    runs_files.save_runs(pd.DataFrame([
        {"run_id": f"r{k}", "experiment_id": "1", "status": "FINISHED", "start_time": now,
         f"tags.{schema.KIND}": kind, "tags.task": "moons/rot40",
         "metrics.target_test_acc": 70.0 + k}
        for k, kind in enumerate(("sweep", "trial", "trial", "seeds"))
    ]), good)  # fmt: skip
    assert len(runs_files.read_runs(good)) == 4
    lines = good.read_text().splitlines(keepends=True)
    i = 2  # the second run's row: line 3

    def damaged(name: str, row: str) -> Path:
        path = tmp_path / name
        path.write_text("".join([*lines[:i], row, *lines[i + 1 :]]))
        return path

    cut = damaged("cut.csv", lines[i][: len(lines[i]) // 2] + "\n")
    with pytest.raises(ValueError, match=rf"--runs {cut}, line {i + 1}: \d+ fields where the "
                       r"header has \d+"):  # fmt: skip
        runs_files.read_runs(cut)
    header = lines[0].rstrip("\n").split(",")
    fields = lines[i].rstrip("\n").split(",")
    metric = next(j for j, c in enumerate(header) if c.startswith("metrics."))
    typed = damaged("typed.csv", ",".join([*fields[:metric], "lots", *fields[metric + 1 :]]) + "\n")
    with pytest.raises(ValueError, match=f"line {i + 1}, column {header[metric]}: 'lots' is not"):
        runs_files.read_runs(typed)
    empty = damaged("empty-id.csv", "," + lines[i].split(",", 1)[1])
    with pytest.raises(ValueError, match=f"line {i + 1}, column run_id: empty"):
        runs_files.read_runs(empty)


def test_tune_state_a_killed_driver_cut_short_is_put_back_from_its_staging_copy(tmp_path,
                                                                                monkeypatch):  # fmt: skip
    """Measured on main: a benchmark killed with SIGKILL while Tune copied its state left an
    empty ``search_gen_state-*.json`` in --storage, and the same command then started the
    whole run again ("Failed to restore the run state")."""
    import pickle

    from dabench.engine import state

    ray_tmp = tmp_path / "ray-tmp"
    monkeypatch.setattr(state, "ray_temp_dir", lambda: ray_tmp)
    run = tmp_path / "storage" / "tiny"
    run.mkdir(parents=True)
    files = {"search_gen_state-2026-12-03_07-58-05.json": pickle.dumps({"counter": 3}),
             "searcher-state-2026-12-03_07-58-05.pkl": pickle.dumps({"sweeps": [1, 2]}),
             "experiment_state-2026-12-03_07-58-05.json": b'{"trial_data": []}'}  # fmt: skip
    cut = {name: data[: len(data) // 2] for name, data in files.items()}
    cut["search_gen_state-2026-12-03_07-58-05.json"] = b""
    for name, data in cut.items():
        (run / name).write_bytes(data)
    killed = ray_tmp / "session_a" / "artifacts" / "t1" / "tiny" / "driver_artifacts"
    resumed = ray_tmp / "session_b" / "artifacts" / "t1" / "tiny" / "driver_artifacts"
    for folder, contents in ((killed, files), (resumed, cut)):  # the resumed one copied the cut
        folder.mkdir(parents=True)
        for name, data in contents.items():
            (folder / name).write_bytes(data)
    assert sorted(p.name for p in state.repair_tune_state(f"file://{run}")) == sorted(files)
    assert {name: (run / name).read_bytes() for name in files} == files
    assert state.repair_tune_state(str(run)) == []  # whole files are left alone
    (run / "searcher-state-2026-12-03_07-58-05.pkl").write_bytes(b"")
    shutil.rmtree(killed)
    with pytest.raises(ValueError, match=r"searcher-state-.*\.pkl: Ray Tune's state file was cut "
                                         "short when its driver was killed"):  # fmt: skip
        state.repair_tune_state(str(run))


def test_foreign_checkpoints_and_state_files_are_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "trial.pt").write_bytes(b"\x00garbage" * 64)
    err = refused(["train", "--method", "dann", "--task", "moons/rot40", "--checkpoint-dir",
                   str(folder)], capsys)  # fmt: skip
    assert f"{folder / 'trial.pt'}: not a dabench checkpoint" in err and "Traceback" not in err
    torch.save({"weights": torch.zeros(2)}, folder / "other.pt")  # a tensor file, not ours
    err = refused(["analyze", "--checkpoint", str(folder / "other.pt")], capsys)
    assert "other.pt: not a dabench checkpoint (no config, modules, step)" in err
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "dabench_sweep.json").write_text("{not json")
    err = refused(["sweep", "--resume", "s", "--storage", str(tmp_path)], capsys)
    assert f"{tmp_path / 's' / 'dabench_sweep.json'}: not a dabench state file" in err


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    bomb = ["method: dann", 'a: &a ["x","x","x","x","x","x","x","x","x"]']
    bomb += [
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    space = tmp_path / "bomb.yaml"
    space.write_text("\n".join(bomb) + "\nparameters: {lr: {type: loguniform, low: 0.001, "
                     "high: 0.1}}\n")  # fmt: skip
    assert space.stat().st_size < 1000
    start = time.perf_counter()
    err = refused([*SWEEP, "--storage", str(tmp_path), "--space", str(space)], capsys)
    assert "more than 32 aliases" in err and time.perf_counter() - start < 10
    spec = tmp_path / "bomb-spec.yaml"
    spec.write_text(space.read_text())
    assert "more than 32 aliases" in refused(["benchmark", "--spec", str(spec)], capsys)


# --- credentials -------------------------------------------------------------------------------


def test_credentials_in_uris_are_never_written(tmp_path, monkeypatch):
    secret = "postgresql://dabench:s3cret@db.example.org:5432/runs"
    assert store.redact(f"--tracking-uri {secret} x") == (
        "--tracking-uri postgresql://***@db.example.org:5432/runs x"
    )
    options = SweepOptions(method="dann", task="moons/rot40", tracking_uri=secret,
                           storage="s3://key:hidden@bucket/ray")  # fmt: skip
    checked = validate(options)
    used = json.dumps(options_used(options, checked.space, checked.objective))
    assert "s3cret" not in used and "hidden" not in used and "***@db.example.org" in used
    monkeypatch.setattr(sys, "argv", ["dabench", "sweep", "--tracking-uri", secret])
    assert "s3cret" not in provenance()["command"]
    runs = pd.DataFrame([{
        "run_id": "r", "experiment_id": "0", "status": "FINISHED",
        "start_time": pd.Timestamp.now(tz="UTC"), f"tags.{schema.KIND}": "sweep",
        "params.command": f"dabench sweep --tracking-uri {secret}",
    }])  # fmt: skip
    runs_files.save_runs(runs, tmp_path / "runs.csv")
    assert "s3cret" not in (tmp_path / "runs.csv").read_text()


# --- dabench ui ----------------------------------------------------------------------------------


def test_the_ui_log_is_beside_the_store_and_never_follows_a_link(tmp_path, capsys):
    db = tmp_path / "mlflow.db"
    sqlite3.connect(db).close()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "mlflow-ui.log").symlink_to(victim)
    err = refused(["ui", "--tracking-uri", f"sqlite:///{db}", "--port", str(free_port())],
                  capsys)  # fmt: skip
    assert "cannot write the UI's log" in err
    assert victim.read_text() == "keep me"


def launch_ui(uri: str, *args: str) -> tuple[subprocess.Popen, int]:
    """``dabench ui`` on ``uri`` and a free port, not yet waited for."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "dabench", "ui", "--tracking-uri", uri,
                                "--port", str(port), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    return process, port


def printed_until_url(process: subprocess.Popen) -> list[str]:
    """What a launched ``dabench ui`` printed, up to and including its URL line."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("MLflow UI: "):
            return lines
    raise AssertionError(f"no URL: {lines} {process.stderr.read()}")


@pytest.mark.slow
def test_the_ui_serves_its_store_and_goes_with_its_parent_on_sighup_and_on_sigkill(tmp_path):
    """Two ``dabench ui`` at once, each on a store of its own with no sweep yet: each prints the
    experiments' URL once the server answers and serves its store. On main SIGHUP (a closed
    terminal) or SIGKILL left the MLflow server holding the port."""
    launched = {}
    for stop in (signal.SIGHUP, signal.SIGKILL):  # both start at once: one server start's wait
        (tmp_path / stop.name).mkdir()
        uri = f"sqlite:///{tmp_path / stop.name / 'mlflow.db'}"
        store.open_store(uri, "seen-in-the-ui")
        args = ("--host", "0.0.0.0") if stop == signal.SIGHUP else ()  # beyond loopback
        launched[stop] = (uri, *launch_ui(uri, *args))
    try:
        for stop, (uri, process, port) in launched.items():
            lines = printed_until_url(process)
            assert lines[0].startswith(f"starting the MLflow UI for {uri}")
            url = lines[-1].strip().removeprefix("MLflow UI: ")
            assert url.endswith(f":{port}/#/experiments?workflowType=machine_learning")  # no sweep
            if stop == signal.SIGHUP:  # beyond loopback: a loud warning, a URL naming this host
                warning = process.stderr.readline()
                assert warning.startswith("WARNING: --host 0.0.0.0 opens the MLflow store") and \
                    "with no password" in warning  # fmt: skip
                assert "0.0.0.0" not in url
            else:
                assert url.startswith("http://127.0.0.1:")
            assert (tmp_path / stop.name / "mlflow-ui.log").is_file()  # beside the store
            assert healthy(f"http://127.0.0.1:{port}")  # the URL is printed once it answers
            assert MlflowClient(f"http://127.0.0.1:{port}").get_experiment_by_name("seen-in-the-ui")
        for stop, (_, process, port) in launched.items():
            group = with_descendants([process.pid])
            process.send_signal(stop)
            process.wait(timeout=60)
            wait_until(lambda: not healthy(f"http://127.0.0.1:{port}"), 60,  # noqa: B023
                       f"the server to stop on {stop.name}")  # fmt: skip
            wait_until(lambda: not [p for p in group if Path(f"/proc/{p}").exists()  # noqa: B023
                                    and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"],
                       60, f"every server process to exit on {stop.name}")  # fmt: skip
    finally:  # a failed assertion leaves no server behind
        kill_all(with_descendants([p.pid for _, p, _ in launched.values() if p.poll() is None]))
