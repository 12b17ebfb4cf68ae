"""``dabench benchmark``: what is checked before anything runs, the committed leaderboard's spec,
and one benchmark end to end on a real local Ray cluster with MLflow on sqlite — a second copy
refused, its driver killed with SIGKILL mid-run, the same command continuing it, and its runs
exported to a file that rebuilds the same leaderboard. Nothing is mocked."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import runs_of, stop_session, wait_until

from dabench.cli import build_parser, main
from dabench.data import list_tasks
from dabench.engine import spec as benchmark
from dabench.engine import state
from dabench.engine.multiplex import MultiSweepSearcher, SweepJob
from dabench.engine.options import RerunOptions
from dabench.engine.rerun import rerun
from dabench.engine.sweep import validate
from dabench.records import naming, runs_files, schema
from dabench.records.schema import BENCHMARK
from dabench.reports import leaderboard, tables
from dabench.reports.quality import quality_report

ROOT = Path(__file__).resolve().parents[1]


def test_the_leaderboard_spec_runs_every_bundled_task_in_chunks_and_its_runs_are_committed(
    tmp_path,
):
    spec = benchmark.load_spec("leaderboard")
    plan = benchmark.make_plan(spec, "leaderboard", "sqlite:///x.db", str(tmp_path), None)
    sweeps = {options.name: options for options in plan.sweeps}
    chunked = [task for tasks in spec.chunks.values() for task in tasks]
    bundled = {t.name for t in list_tasks() if not t.needs_root}
    assert set(chunked) == bundled  # every bundled task (one re-run by a later chunk: twice)
    assert len(chunked) - len(bundled) == 1
    assert spec.seeds == 3 and {o.experiment for o in plan.sweeps} == {"leaderboard"}
    budget = {name: (o.num_samples, o.steps, o.eval_every) for name, o in sweeps.items()}
    assert budget["dann-digits-mnist2uci"] == (10, 1500, 250)
    assert budget["target_oracle-digits-uci2mnist"] == (6, 1500, 250)
    assert budget["cdan-moons-rot40"] == (10, 2000, 400)
    assert budget["advent-shapes-flat2textured"] == (6, 1000, 200)
    assert all(o.scheduler == "asha" and o.max_concurrent == 2 for o in plan.sweeps)
    closed = benchmark.make_plan(benchmark.chunk_of(spec, "closed-mnist"), "leaderboard-closed-mnist",
                                 "sqlite:///x.db", str(tmp_path), None)  # fmt: skip
    assert {o.task for o in closed.sweeps} == {"digits/mnist2uci", "digits/uci2mnist"}
    # the committed runs files are the spec's chunks, each made by a benchmark of that name
    runs_dir = ROOT / spec.leaderboard["runs"]
    for path in sorted(runs_dir.glob("*.csv")):
        runs = runs_files.read_runs(path)
        made = runs[runs[f"tags.{schema.KIND}"] == "sweep"]
        chunk = path.stem.removeprefix("leaderboard-")
        assert chunk in spec.chunks, path
        assert set(made[f"tags.{schema.BENCHMARK}"]) == {path.stem}
        assert set(made[f"tags.{schema.SWEEP}"]) <= set(sweeps)
        assert set(made["tags.task"]) <= set(spec.chunks[chunk])


def test_bad_specs_and_options_are_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        "dabench.engine.benchmark.init_ray", lambda *a: pytest.fail("Ray was started")
    )

    def refused(text: str | None, *flags: str) -> str:
        spec = tmp_path / "spec.yaml"
        if text is not None:
            spec.write_text(text)
        argv = ["benchmark", "--spec", str(spec), "--storage", str(tmp_path / "ray"),
                "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", *flags]  # fmt: skip
        assert main(argv) == 2
        return " ".join(capsys.readouterr().err.split())

    assert f"{tmp_path / 'spec.yaml'}: unknown key 'trails'; accepted: experiment, tasks" in (
        refused("trails: 3\n")
    )
    assert "trials must be an integer ≥ 1 (trials per sweep); got 'x'" in refused("trials: x\n")
    assert (
        "scheduler must be one of asha, none (asha: stop poor trials early; none: every "
        "trial to the end); got 'hyperband'" in refused("scheduler: hyperband")
    )
    assert "not valid YAML" in refused("tasks: [moons/rot40\n")
    assert "expected a mapping of keys" in refused("- moons/rot40\n")
    assert "unknown task 'nope'" in refused("tasks: [nope]\n")
    assert "methods: 'osbp' applies to none of the tasks" in refused(
        "tasks: [moons/rot40]\nmethods: [osbp]\n"
    )
    assert "budgets: unknown task 'digits/nope'" in refused(
        "tasks: [moons/rot40]\nbudgets: {digits/nope: {steps: 10}}\n"
    )
    assert "trials_by_method: unknown method(s) ['dan']" in refused("trials_by_method: {dan: 3}")
    assert (
        "budgets must be a mapping task → {steps: N, eval_every: N, trials: N} (any of them, "
        "integers ≥ 1)" in refused("budgets: {moons/rot40: {steps: 0}}\n")
    )
    assert "got {'moons/rot40': {'seeds': 2}}" in refused("budgets: {moons/rot40: {seeds: 2}}\n")
    assert (
        "select: 'snd' does not apply to open_set tasks; their validators: source_val, "
        "class_ami, dev, known_im, h_proxy (or oracle) (task digits-openset/synth2blend)"
        in refused("tasks: [digits-openset/synth2blend]\nselect: [snd]\n")
    )
    assert (
        "select: 'target_test_acc' reads target-test labels, which only report and never "
        "select" in refused("tasks: [moons/rot40]\nselect: [target_test_acc]\n")
    )
    assert "leaderboard must be a mapping with any of select, out, plots, runs" in refused(
        "leaderboard: {format: csv}\n"
    )
    assert (
        "chunks must be a mapping chunk name → a list of task names (parts of the spec that "
        "run as benchmarks of their own); got" in refused("chunks: {a: moons/rot40}\n")
    )
    assert "unknown task 'nope'" in refused(
        "chunks: {a: [moons/rot40], b: [nope]}\n", "--chunk", "a"
    )
    assert "--chunk 'c': no such chunk; the spec's chunks: a" in refused(
        "chunks: {a: [moons/rot40]}\n", "--chunk", "c"
    )
    assert "--chunk names the tasks already; leave out --tasks" in refused(
        "chunks: {a: [moons/rot40]}\n", "--chunk", "a", "--tasks", "moons/rot40"
    )
    assert "sweep dann-moons-rot40: --set ['lr'] fixes searched parameter(s)" in refused(
        "tasks: [moons/rot40]\nmethods: [dann]\nset: {lr: 0.1}\n"
    )
    tiny = "tasks: [moons/rot40]\nmethods: [dann]\n"
    assert "--storage foo://bucket/x: Unrecognized filesystem type" in refused(
        tiny, "--storage", "foo://bucket/x"
    )
    # a benchmark continues only with the plan it started with
    spec = benchmark.load_spec(str(tmp_path / "spec.yaml"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    plan = benchmark.make_plan(spec, "spec", uri, str(tmp_path / "ray"), None)
    state.save_benchmark(str(tmp_path / "ray" / "spec"), plan.as_dict(), 0.0)
    assert "was started with another plan (dann-moons-rot40: num_samples changed)" in refused(
        tiny, "--trials", "5"
    )
    assert not (tmp_path / "mlflow.db").exists()  # nothing was recorded


def test_flags_override_the_spec_and_each_sweep_is_the_dabench_sweep_it_replaces(tmp_path):
    spec = benchmark.with_flags(benchmark.load_spec("leaderboard"),
                                {"tasks": ["moons/rot40"], "steps": 50, "trials": None})  # fmt: skip
    only = benchmark.with_flags(benchmark.load_spec("leaderboard"),
                                {"tasks": ["digits/hand2synth"], "methods": ["dann"]})  # fmt: skip
    (alone,) = benchmark.make_plan(only, "x", "sqlite:///x.db", str(tmp_path), None).sweeps
    assert (alone.name, alone.steps, alone.eval_every) == ("dann-digits-hand2synth", 1500, 250)
    plan = benchmark.make_plan(spec, "x", "sqlite:///x.db", str(tmp_path), None)
    assert [o.name for o in plan.sweeps] == [
        "source_only-moons-rot40", "dann-moons-rot40", "cdan-moons-rot40", "adda-moons-rot40",
        "bsp-moons-rot40", "target_oracle-moons-rot40",
    ]  # fmt: skip
    assert {(o.steps, o.eval_every) for o in plan.sweeps} == {(50, 250)}  # flags: every task
    assert [o.num_samples for o in plan.sweeps] == [10] * 5 + [6]
    # a task's trials apply to each of its sweeps; --trials applies to every task
    shapes = {"tasks": ["shapes/flat2textured"], "steps": None, "trials": None}
    for flags, expected in (({}, [6, 6, 6]), ({"trials": 4}, [4, 4, 6])):
        flagged = benchmark.with_flags(benchmark.load_spec("leaderboard"), {**shapes, **flags})
        sweeps = benchmark.make_plan(flagged, "x", "sqlite:///x.db", str(tmp_path), None).sweeps
        assert [(o.method, o.num_samples) for o in sweeps] == list(
            zip(["source_only", "advent", "target_oracle"], expected, strict=True))  # fmt: skip
    options = plan.sweeps[1]
    options.overrides = {"precision": "bf16"}
    argv = benchmark.sweep_argv(options, spec.seeds)
    args = build_parser().parse_args(argv[1:])
    assert (args.method, args.task, args.num_samples, args.steps, args.seeds) == (
        "dann", "moons/rot40", 10, 50, 3,
    )  # fmt: skip
    assert (args.storage, args.name, args.set) == (str(tmp_path), "dann-moons-rot40",
                                                   ['precision="bf16"'])  # fmt: skip


def benchmark_runs(uri: str, name: str = "tiny") -> tuple[MlflowClient, str, list]:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name).experiment_id
    return client, experiment, client.search_runs([experiment], "", max_results=5000)


@pytest.mark.slow
def test_a_benchmark_refuses_a_second_copy_and_killed_with_sigkill_continues_without_rerunning(
    ray_local, tmp_path, capsys, monkeypatch
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    board = tmp_path / "board.md"
    argv = ["benchmark", "--spec", "tiny", "--steps", "60", "--tracking-uri", uri,
            "--storage", f"file://{tmp_path}/ray", "--out", str(board)]  # fmt: skip
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen([sys.executable, "-m", "dabench", *argv], start_new_session=True,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def first_finished_second_started() -> bool:
        try:
            _, _, runs = benchmark_runs(uri)
        except Exception:  # the store or the experiment does not exist yet
            return False
        kinds = {(r.data.tags.get(schema.SWEEP), r.data.tags[schema.KIND], r.info.status)
                 for r in runs}  # fmt: skip
        return ("source_only-moons-rot40", "sweep", "FINISHED") in kinds and any(
            sweep == "dann-moons-rot40" and kind == "trial" for sweep, kind, _ in kinds
        )

    try:
        lock = tmp_path / "ray" / "tiny" / "dabench.lock"
        wait_until(lambda: lock.is_file() and lock.read_text(), 120, "the driver's lock", driver)
        # a second copy of the same command is refused, and the first goes on unharmed (on main
        # once, both "finished", a seeds group had 4 runs instead of 2 and n was 4)
        second = subprocess.run([sys.executable, "-m", "dabench", *argv], capture_output=True,
                                text=True, timeout=300)  # fmt: skip
        assert second.returncode == 2, second.stderr
        err = " ".join(second.stderr.split())
        assert f"benchmark tiny is being run by another driver (pid {driver.pid}" in err
        wait_until(first_finished_second_started, 300, "the second sweep's first trial", driver)
        os.kill(driver.pid, signal.SIGKILL)
        assert driver.wait(timeout=60) == -signal.SIGKILL
    finally:
        stop_session(driver)  # Ray's processes of the killed driver
    _, _, before = benchmark_runs(uri)
    first = [r for r in before if r.data.tags.get(schema.SWEEP) == "source_only-moons-rot40"
             and r.data.tags[schema.KIND] == "sweep"]  # fmt: skip
    first_trials = {r.info.run_id: r.data.metrics for r in before
                    if r.data.tags.get(schema.PARENT) == first[0].info.run_id}  # fmt: skip

    capsys.readouterr()
    assert main(argv) == 0  # the same command continues it (on this process's cluster)
    err = capsys.readouterr().err
    assert "sweep dann-moons-rot40 finished" in err and "sweep source_only" not in err
    assert "benchmark tiny finished" in err

    client, _, runs = benchmark_runs(uri)
    parents = {r.info.run_id: r for r in runs if r.data.tags[schema.KIND] in ("sweep", "seeds")}
    assert all(r.data.tags[BENCHMARK] == "tiny" for r in parents.values())
    sweeps = [r for r in parents.values() if r.data.tags[schema.KIND] == "sweep"]
    assert sorted(r.data.tags[schema.SWEEP] for r in sweeps) == [
        "dann-moons-rot40", "source_only-moons-rot40",
    ]  # fmt: skip
    assert all(r.info.status == "FINISHED" for r in parents.values())
    folders = {p.name for p in (tmp_path / "ray" / "tiny").iterdir() if p.is_dir()}
    for parent in parents.values():
        children = [r for r in runs if r.data.tags.get(schema.PARENT) == parent.info.run_id]
        kept = [r for r in children if r.data.tags[schema.STATUS] != "superseded"]
        assert all(r.info.status == "KILLED" for r in children if r not in kept)
        expected = 3 if parent.data.tags[schema.KIND] == "sweep" else 2
        assert len(kept) == expected and all(r.info.status == "FINISHED" for r in kept)
        assert len({r.data.tags[schema.TRIAL_ID] for r in kept}) == expected
        # one naming scheme: a sweep's trials numbered in the sweep (Tune's own count runs over
        # all sweeps), a group's runs by seed, each run named after its label and its sweep or
        # group, each folder (the sweeps share the benchmark's) after its label and trial id
        if parent.data.tags[schema.KIND] == "sweep":
            labels = [naming.label(naming.TRIAL, n) for n in range(1, expected + 1)]
        else:
            seeds = json.loads(parent.data.tags[schema.SEEDS])
            labels = [naming.label(naming.SEED, n) for n in seeds]
        assert sorted(r.info.run_name for r in kept) == [
            naming.run_name(label, parent.data.tags[schema.SWEEP]) for label in labels
        ]  # fmt: skip
        assert {naming.folder(naming.label_of(r.info.run_name), r.data.tags[schema.TRIAL_ID])
                for r in kept} <= folders  # fmt: skip
    # the sweep that had finished was not run again
    assert {r.info.run_id: r.data.metrics for r in runs
            if r.data.tags.get(schema.PARENT) == first[0].info.run_id} == first_trials  # fmt: skip
    # one seeds group per pick, each with the fresh seeds, none duplicated
    groups = [r for r in parents.values() if r.data.tags[schema.KIND] == "seeds"]
    picked = [g.data.tags[schema.SELECTED_TRIAL] for g in groups]
    assert len(picked) == len(set(picked)) and 2 <= len(groups) <= 4
    assert all(json.loads(g.data.tags[schema.SEEDS]) == [1, 2] for g in groups)
    assert set(leaderboard.build(runs_of(uri, ["tiny"])).cells["n"]) == {2}  # exactly 2 seeds

    # the leaderboard, and `dabench rerun` and `validators` work on the benchmark's sweeps as-is
    text = board.read_text()
    assert "| source_only" in text and "| dann" in text and "moons/rot40" in text
    assert all(g.reused for g in rerun(RerunOptions(
        sweep="dann-moons-rot40", seeds=2, tracking_uri=uri, experiment="tiny")))  # fmt: skip
    assert "3 trials" in quality_report(client, "tiny", "dann-moons-rot40")
    # a finished benchmark: nothing runs again; without --out its leaderboard goes to the working
    # directory, named on the console after its main table, and the default leaderboard finds it
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert argv[-2:] == ["--out", str(board)] and main(argv[:-2]) == 0
    assert len(benchmark_runs(uri)[2]) == len(runs)
    shown = capsys.readouterr()
    assert "Closed-set: target-test accuracy (%)" in shown.out and "source_only" in shown.out
    assert "Selected by bnm (label-free)." in " ".join(shown.out.split())
    assert "the whole leaderboard (realistic vs oracle, cost, best hyperparameters, plots): " \
        "leaderboard-tiny.md" in " ".join(shown.err.split())  # fmt: skip
    assert "| dann" in (tmp_path / "leaderboard-tiny.md").read_text()
    assert (tmp_path / "leaderboard-tiny" / "moons-rot40.png").is_file()
    assert main(["leaderboard", "--tracking-uri", uri]) == 0
    assert f"from MLflow {uri}, experiment tiny." in capsys.readouterr().out

    # portable: the runs exported to a CSV file build the same tables with no store
    exported = tmp_path / "runs.csv"
    assert main(["export", "--tracking-uri", uri, "--experiment", "tiny", "--out",
                 str(exported)]) == 0  # fmt: skip
    from_store = leaderboard.build(runs_of(uri, ["tiny"]), "all")
    from_file = leaderboard.build(runs_files.read_runs(exported), "all")
    assert tables.to_csv(from_file) == tables.to_csv(from_store)
    for table in (tables.main_table, tables.realistic_vs_oracle):
        pd.testing.assert_frame_equal(table(from_file, "closed"), table(from_store, "closed"))
    pd.testing.assert_frame_equal(tables.cost_table(from_file),
                                  tables.cost_table(from_store))  # fmt: skip
    out = tmp_path / "from-file.md"
    assert main(["leaderboard", "--runs", str(exported), "--select", "all", "--out",
                 str(out)]) == 0  # fmt: skip
    assert "| dann" in out.read_text() and (tmp_path / "from-file" / "moons-rot40.png").is_file()


def job(options) -> SweepJob:
    """The benchmark's job of one planned sweep, as the benchmark makes it."""
    checked = validate(options)
    return SweepJob(options, checked.space, checked.base, checked.objective)


def test_a_sweep_closed_after_rays_last_snapshot_gets_no_new_trials(ray_local, tmp_path):
    """A driver killed after a sweep's last trial was suggested, run and closed in MLflow, but
    before Ray's next state snapshot: the restored searcher thinks the sweep still lacks that
    trial. It must not run another one (the sweep would end with one trial too many)."""
    from dabench.engine.search import searcher
    from dabench.engine.sweep import open_sweep_run
    from dabench.engine.trial import INTERNAL, trial_internal

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("tiny")
    plan = benchmark.make_plan(benchmark.load_spec("tiny"), "tiny", uri, str(tmp_path), None)
    jobs = [job(o) for o in plan.sweeps]
    first, second = jobs
    first.parent = open_sweep_run(client, experiment, first.options, first.space,
                                  first.objective, {BENCHMARK: "tiny"})  # fmt: skip
    client.set_terminated(first.parent, "FINISHED")  # closed by the killed session
    first.search = searcher(first.options, first.space, first.objective)
    first.search.set_search_properties(first.objective.key, first.objective.mode, {})
    first.trials = {"a": "completed", "b": "completed"}  # Ray's snapshot: 2 of its 3 trials
    multi = MultiSweepSearcher(jobs, 2, (), "tiny", experiment, uri, str(tmp_path))
    snapshot = tmp_path / "searcher.pkl"
    multi.save(str(snapshot))
    restored = MultiSweepSearcher([], 0, (), "", "", "", "")
    restored.restore(str(snapshot))

    config = restored.suggest("c")
    assert config[INTERNAL]["sweep"] == second.name
    assert restored.sweeps[0].done and restored.sweeps[0].closed
    assert len(restored.sweeps[0].trials) == 2

    # the same, with the snapshot's second trial still running: Ray restarts it, it reports its
    # final result again (its run says completed), and then the sweep is done
    first.trials = {"a": "completed", "b": None}
    first.search.suggest("b")
    internal = trial_internal(first.options, experiment, first.parent, first.name,
                              first.objective, [*first.base])  # fmt: skip
    first.configs = {"b": {**first.base, INTERNAL: internal}}
    multi.owner = {"b": first.name}
    multi.save(str(snapshot))
    restored = MultiSweepSearcher([], 0, (), "", "", "", "")
    restored.restore(str(snapshot))
    assert restored.suggest("d")[INTERNAL]["sweep"] == second.name
    assert restored.sweeps[0].closed and not restored.sweeps[0].done
    restored.on_trial_complete("b", {"step": 40, "validator_bnm": 0.5})
    assert restored.sweeps[0].done and len(restored.sweeps[0].trials) == 2


def test_the_progress_shows_each_sweep_its_pick_so_far_and_the_time_left(tmp_path):
    from rich.console import Console

    from dabench.cli.progress import BenchmarkProgress, work_left

    plan = benchmark.make_plan(benchmark.load_spec("tiny"), "tiny", "sqlite:///x.db",
                               str(tmp_path), None)  # fmt: skip
    jobs = [job(o) for o in plan.sweeps]
    searcher = MultiSweepSearcher(jobs, 2, (), "tiny", "0", "sqlite:///x.db", str(tmp_path))
    assert work_left(searcher) is None  # nothing measured yet
    first = jobs[0]
    first.started = 0.0
    first.trials = {"a": "completed", "b": "pruned", "c": None}
    first.results = {
        "a": {"step": 40, "time_s": 4.0, "validator_bnm": 0.5, "target_test_acc": 80.0},
        "b": {"step": 20, "time_s": 2.0, "validator_bnm": 0.9, "target_test_acc": 60.0},
        "c": {"step": 20, "time_s": 2.0, "validator_bnm": 0.7, "target_test_acc": 70.0},
    }
    # 0.1 s a step measured. Left: c's rest (3 − 2 s: the sweep's trials took 3 s on average),
    # the second sweep's 3 trials of 40 steps, and for each sweep 2 seeds × 2 groups (one per
    # criterion) of 40 steps
    assert work_left(searcher) == pytest.approx(1.0 + 3 * 4.0 + 2 * (2 * 2 * 4.0))
    console = Console(record=True, width=160, force_terminal=False)
    display = BenchmarkProgress("tiny", console=console)
    state = display.state(searcher)
    assert "sweeps 0 done, 1 running, 1 waiting" in state["line"]
    assert "trials 2 done, 1 running" in state["line"]
    console.print(display.render(searcher, state))
    text = console.export_text()
    assert "bnm 0.5" in text and "80.00" in text  # the completed trial is the pick, not b
    assert "waiting" in text and "running" in text


@pytest.mark.slow
def test_chunks_run_on_separate_stores_and_the_leaderboard_reads_their_runs_files(
    ray_local, tmp_path, capsys
):
    """Two chunks of one spec, each with an MLflow store of its own (two machines, say): each
    writes its runs file and record, and the leaderboard is built from both files."""
    runs_dir, board = tmp_path / "runs", tmp_path / "board.md"
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "chunks: {toy: [moons/rot40], digits: [digits/synth2hand]}\n"
        "methods: [source_only]\ntrials: 2\nsteps: 20\neval_every: 10\nseeds: 2\n"
        "scheduler: none\nmax_concurrent: 1\n"
        f"leaderboard: {{out: {board}, runs: {runs_dir}}}\n"
    )
    for chunk in ("toy", "digits"):
        uri = f"sqlite:///{tmp_path / chunk / 'mlflow.db'}"
        assert main(["benchmark", "--spec", str(spec), "--chunk", chunk, "--tracking-uri", uri,
                     "--storage", str(tmp_path / chunk / "ray")]) == 0  # fmt: skip
        shown = capsys.readouterr()
        assert f"benchmark two-{chunk} finished" in shown.err
        err = shown.out + shown.err  # dabench's log lines on stdout, the outcome on stderr
        log = tmp_path / chunk / "ray" / f"two-{chunk}" / "engines.log"
        assert f"benchmark two-{chunk}: Ray's and MLflow's logs: {log}" in err
        assert " ray.tune" in log.read_text() and "ray.tune" not in err  # Tune's lines
    assert sorted(p.name for p in runs_dir.iterdir()) == [
        "two-digits.csv", "two-digits.json", "two-toy.csv", "two-toy.json",
    ]  # fmt: skip
    toy = runs_files.read_runs(runs_dir / "two-toy.csv")
    assert set(toy[f"tags.{BENCHMARK}"].dropna()) == {"two-toy"}
    assert set(toy["tags.task"].dropna()) == {"moons/rot40"}
    kinds = toy[f"tags.{schema.KIND}"].value_counts()
    groups = kinds["seeds"]  # the label-free pick's and the oracle's (one if the same trial)
    assert (kinds["sweep"], groups in (1, 2)) == (1, True)
    assert kinds["trial"] == 2 + 2 * groups and len(toy) == 1 + groups + kinds["trial"]
    record = json.loads((runs_dir / "two-toy.json").read_text())
    assert record["benchmark"] == "two-toy" and record["wall_s"] > 0
    assert "--chunk toy" in record["command"]
    text = board.read_text()  # written after the second chunk, from both files
    assert "moons/rot40" in text and "digits/synth2hand" in text
    assert "`two-toy` (1 sweep)" in text and "`two-digits` (1 sweep)" in text
    assert re.search(r"\| two-toy\s+\| \d+\.\d\d", text)  # the chunks' wall time
    # by hand, from the files alone
    again = tmp_path / "again.md"
    assert main(["leaderboard", "--runs", *map(str, sorted(runs_dir.glob("*.csv"))),
                 "--out", str(again)]) == 0  # fmt: skip
    assert "digits/synth2hand" in again.read_text() and "two-digits" in again.read_text()


def test_a_benchmarks_runs_include_later_reruns_of_its_picks_and_nothing_else():
    kind, parent, bench = (f"tags.{k}" for k in (schema.KIND, schema.PARENT, BENCHMARK))
    selected = f"tags.{schema.SELECTED_TRIAL}"
    rows = [  # run_id, kind, parent, benchmark, selected trial
        ("sweep", "sweep", None, "b", None), ("t1", "trial", "sweep", None, None),
        ("g1", "seeds", None, "b", "t1"), ("g1s1", "trial", "g1", None, None),
        ("g2", "seeds", None, None, "t1"), ("g2s1", "trial", "g2", None, None),  # dabench rerun
        ("other", "sweep", None, "c", None), ("o1", "trial", "other", None, None),
        ("g3", "seeds", None, None, "o1"), ("g3s1", "trial", "g3", None, None),
    ]  # fmt: skip
    runs = pd.DataFrame(rows, columns=["run_id", kind, parent, bench, selected])
    assert runs_files.of_benchmark(runs, "b")["run_id"].tolist() == [
        "sweep", "t1", "g1", "g1s1", "g2", "g2s1",
    ]  # fmt: skip


def test_a_task_a_later_chunk_re_ran_is_read_from_the_newest_runs_file_only(tmp_path):
    """A chunk re-run after a fix (here `b`, finished later) supersedes the task's runs in an
    older file; the older file's other tasks are still read, and the chunk records say which
    file gave which task."""

    def runs_file(name: str, rows: list[tuple[str, str]], finished: str | None) -> Path:
        path = tmp_path / f"{name}.csv"
        pd.DataFrame({"run_id": [r for r, _ in rows], "status": "FINISHED",
                      "start_time": "2026-12-01T20:00:00+00:00",
                      f"tags.{schema.KIND}": "trial", "tags.task": [t for _, t in rows]},
                     ).to_csv(path, index=False)  # fmt: skip
        if finished:
            record = {"benchmark": name, "wall_s": 60.0, "finished": finished}
            path.with_suffix(".json").write_text(json.dumps(record))
        return path

    a = runs_file("a", [("a1", "open"), ("a2", "partial")], "2026-12-01T22:00:00+00:00")
    b = runs_file("b", [("b1", "open")], "2026-12-01T23:30:00+00:00")
    unrecorded = runs_file("c", [("c1", "open"), ("c2", "closed")], None)
    for order in ([a, b, unrecorded], [unrecorded, b, a]):
        assert sorted(runs_files.read_runs(order)["run_id"]) == ["a2", "b1", "c2"]
    records = runs_files.RunsFiles([a, b, unrecorded]).records().set_index("benchmark")
    assert records.loc["a", "tasks"] == ["partial"] and records.loc["a", "superseded"] == ["open"]
    assert records.loc["b", "tasks"] == ["open"] and "c" not in records.index


def test_per_method_fixed_values_and_search_spaces_of_a_spec_and_the_flags_over_them(tmp_path):
    space = tmp_path / "dann-wide.yaml"
    space.write_text(
        "method: dann\nparameters:\n  lr: {type: loguniform, low: 1.0e-3, high: 0.3}\n"
    )
    path = tmp_path / "spec.yaml"
    path.write_text(
        "tasks: [moons/rot40]\nmethods: [dann, adda, source_only]\nset: {lr_anneal: 30.0}\n"
        "set_by_method: {adda: {lr_anneal: 9.9, source_dropout: false}}\n"
        f"spaces: {{dann: {space}, adda: adda}}\n"
    )
    spec = benchmark.load_spec(str(path))
    plan = benchmark.make_plan(spec, "x", "sqlite:///x.db", str(tmp_path), None)
    by = {o.method: o for o in plan.sweeps}
    assert by["dann"].overrides == {"lr_anneal": 30.0} and by["dann"].space == str(space)
    assert by["adda"].overrides == {"lr_anneal": 9.9, "source_dropout": False}
    assert by["adda"].space.endswith("search_spaces/adda.yaml")  # a shipped one, by name
    assert by["source_only"].space is None  # the method's own
    assert "--space" in benchmark.sweep_argv(by["dann"], 3)
    # --set joins the spec's and wins over set and set_by_method alike
    flagged = benchmark.with_flags(spec, {"set": {"lr_anneal": 5.0}})
    plan = benchmark.make_plan(flagged, "x", "sqlite:///x.db", str(tmp_path), None)
    assert {o.method: o.overrides for o in plan.sweeps} == {
        "source_only": {"lr_anneal": 5.0}, "dann": {"lr_anneal": 5.0},
        "adda": {"lr_anneal": 5.0, "source_dropout": False},
    }  # fmt: skip
    for text, message in (
        ("set_by_method: {dan: {lr_anneal: 1.0}}", r"set_by_method: unknown method\(s\) \['dan'\]"),
        ("spaces: {dann: digits/none}", "spaces: no search-space file 'digits/none'"),
        ("set_by_method: {dann: {lr: 0.1}}", r"--set \['lr'\] fixes searched parameter"),
        (f"spaces: {{adda: {space}}}", "the file is for 'dann', but the sweep is for 'adda'"),
        ("set_by_method: {dann: 3}", "set_by_method must be a mapping method → {key: value}"),
    ):
        path.write_text(f"tasks: [moons/rot40]\nmethods: [dann, adda]\n{text}\n")
        with pytest.raises(ValueError, match=message):
            benchmark.make_plan(benchmark.load_spec(str(path)), "x", "sqlite:///x.db",
                                str(tmp_path), None)  # fmt: skip
