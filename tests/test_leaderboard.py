"""``dabench leaderboard`` and ``dabench rerun``: exact tables from runs logged by hand to a real
sqlite MLflow store (CI arithmetic, failed/pruned trials, a missing method, replaced and unfinished
sweeps), and the whole path on a tiny real sweep (Ray Tune, MLflow, fresh seeds)."""

from __future__ import annotations

import json
import math
import re
from io import StringIO

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from dabench import cli
from dabench.data.registry import task_spec
from dabench.engine.options import RerunOptions, SweepOptions
from dabench.engine.rerun import rerun
from dabench.engine.sweep import run_sweep
from dabench.records import criteria, readers, schema, selection, writers
from dabench.records.store import experiment_id, experiment_ids
from dabench.reports import leaderboard, tables

T_975_2 = 4.302652729749464  # Student t, 97.5 % quantile, 2 degrees of freedom (tables)


def runs_of(uri: str, names: list[str]):
    """Every run of the named experiments, as the leaderboard reads them."""
    client = MlflowClient(uri)
    return readers.load_runs(client, experiment_ids(client, names))


def test_mean_ci_is_the_student_t_interval_of_the_mean():
    mean, half = leaderboard.mean_ci([80.0, 82.0, 84.0])  # s = 2, n = 3
    assert mean == 82.0 and half == pytest.approx(T_975_2 * 2 / math.sqrt(3))
    mean, half = leaderboard.mean_ci([90.0, 91.0, 92.0, 93.0])  # s = √(5/3), t(0.975, 3)
    assert half == pytest.approx(3.182446305284263 * math.sqrt(5 / 3) / 2)
    assert leaderboard.mean_ci([7.0])[0] == 7.0 and math.isnan(leaderboard.mean_ci([7.0])[1])
    assert all(math.isnan(v) for v in leaderboard.mean_ci([]))


def log_sweep(client, experiment: str, name: str, method: str, task: str,
              trials: dict[str, dict], status: str = "FINISHED",
              objective: str = "bnm") -> dict[str, str]:  # fmt: skip
    """A sweep written by the production writers; ``trials``: name → final metrics plus
    ``status`` (default completed) and ``searched``. Returns trial name → run id."""
    setting = task_spec(task).setting
    parent = writers.open_sweep(
        client, experiment, name, method, task, criteria.criterion(objective, setting),
        {"command": f"dabench sweep --method {method} --task {task} --name {name}",
         "git_commit": "abc123", "machine": "test box"},
    )  # fmt: skip
    ids = {}
    for trial, spec in trials.items():
        spec = dict(spec)
        state = spec.pop("status", "completed")
        searched = spec.pop("searched", {"lr": 0.01})
        config = {"method": method, "task": task, **searched}
        ids[trial] = writers.open_trial(client, experiment, parent, name, f"id-{trial}", trial,
                                        searched, config)  # fmt: skip
        writers.log_metrics(client, ids[trial], {"cpu_s": 10.0, "step": 100, **spec}, step=100)
        writers.end_trial(client, ids[trial], state)
    writers.log_metrics(client, parent, {"wall_s": 60.0}, step=0)
    client.set_terminated(parent, status)
    return ids


RUNTIME = {"cpu": "Test CPU", "device": "cpu", "threads": "1", "torch": "2.0", "numpy": "2.0"}
"""What the seed runs of :func:`log_seeds` ran on (the sweeps' trials record none: older runs)."""


def log_seeds(client, experiment: str, trial_id: str, values: list[float],
              status: str = "FINISHED") -> None:  # fmt: skip
    """A ``dabench rerun`` group re-training trial ``trial_id``, written by the production
    writers: one completed run per value."""
    trial = client.get_run(trial_id)
    sweep = client.get_run(trial.data.tags[schema.PARENT])
    seeds = list(range(1, len(values) + 1))
    name = f"{sweep.data.tags[schema.SWEEP]}-seeds-{len(values)}-{status}-{trial_id[:6]}"
    group = writers.open_group(client, sweep, name, {"run_id": trial_id, "trial": "t"}, ["bnm"],
                               seeds, {})  # fmt: skip
    for seed, value in zip(seeds, values, strict=True):
        run = writers.open_trial(client, experiment, group, name, f"{group}-{seed}",
                                 f"seed{seed}", {"seed": seed},
                                 {"method": "m", "task": "t", "seed": seed},
                                 runtime=RUNTIME)  # fmt: skip
        writers.log_metrics(client, run, {"target_test_acc": value, "cpu_s": 5.0}, step=100)
        writers.end_trial(client, run, "completed")
    writers.log_metrics(client, group, {"wall_s": 30.0}, step=0)
    client.set_terminated(group, status)


def metrics(bnm: float, val: float, test: float, **extra) -> dict:
    return {"validator_bnm": bnm, "source_val_acc": 50.0, "target_val_acc": val,
            "target_test_acc": test, **extra}  # fmt: skip


@pytest.fixture
def store(tmp_path) -> str:
    """Two closed-set tasks; source-only on moons only; CDAN's digits sweep never finished."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = experiment_id(client, "bench")
    log_sweep(client, exp, "so-old", "source_only", "moons/rot40", {"x": metrics(1, 1, 99)})
    so = log_sweep(client, exp, "so", "source_only", "moons/rot40", {
        "a": metrics(0.5, 70, 71),
        "b": {**metrics(0.9, 95, 50), "status": "pruned"},  # higher, but stopped early
        "c": {**metrics(1.0, 99, 99), "status": "failed"},
    })  # fmt: skip
    log_seeds(client, exp, so["a"], [70.0, 72.0, 74.0])
    dann = log_sweep(client, exp, "dann", "dann", "moons/rot40", {
        "d": {**metrics(0.8, 80, 81), "searched": {"lr": 0.02, "trade_off": 0.5}},
        "e": {**metrics(0.7, 90, 91), "searched": {"lr": 0.001, "trade_off": 2.0}},
    })  # fmt: skip
    log_seeds(client, exp, dann["d"], [80.0, 82.0, 84.0])
    log_seeds(client, exp, dann["e"], [90.0, 91.0, 92.0])
    log_seeds(client, exp, dann["e"], [1.0, 2.0], status="KILLED")  # interrupted: ignored
    log_sweep(client, exp, "cdan", "cdan", "moons/rot40", {"g": metrics(0.9, 60, 65)})
    log_sweep(client, exp, "oracle", "target_oracle", "moons/rot40", {
        "o1": metrics(0.9, 95, 96), "o2": metrics(0.1, 99, 99)})  # fmt: skip
    log_sweep(client, exp, "dann-digits", "dann", "digits/synth2hand", {"f": metrics(0.3, 60, 60)})
    log_sweep(client, exp, "cdan-digits", "cdan", "digits/synth2hand", {"h": metrics(1, 1, 1)},
              status="KILLED")  # fmt: skip
    return uri


def test_the_main_table_is_exact(store):
    board = leaderboard.build(runs_of(store, ["bench"]))
    table = tables.main_table(board, "closed")
    assert table.to_dict("index") == {
        "source_only": {"digits/synth2hand": "–", "moons/rot40": "72.0 ± 5.0", "average": "–"},
        "dann": {"digits/synth2hand": "**60.0***", "moons/rot40": "**82.0 ± 5.0**",
                 "average": "**71.0**"},
        "cdan": {"digits/synth2hand": "–", "moons/rot40": "65.0* ↓", "average": "–"},
        "target_oracle (target labels, oracle pick)": {  # a reference: picked by the oracle
            "digits/synth2hand": "–", "moons/rot40": "99.0*", "average": "–"},
    }  # fmt: skip
    cell = board.cells.set_index(["method", "task", "criterion"]).loc[
        ("dann", "moons/rot40", "bnm")]  # fmt: skip
    assert cell["values"] == [80.0, 82.0, 84.0] and cell["n"] == 3 and cell["trial"] == "d"
    assert cell["half"] == pytest.approx(T_975_2 * 2 / math.sqrt(3))
    assert board.left_out == [
        "`so-old` (source_only on moons/rot40): a later sweep replaced it",
        "`cdan-digits` (cdan on digits/synth2hand): did not finish (KILLED)",
    ]


def test_realistic_vs_oracle_cost_and_hyperparameters_are_exact(store):
    board = leaderboard.build(runs_of(store, ["bench"]))
    rows = tables.realistic_vs_oracle(board, "closed").set_index(["task", "method"])
    # the pruned and the failed trial score higher but are not candidates
    assert rows.loc[("moons/rot40", "source_only")].to_dict() == {
        "bnm (main table)": "72.0 ± 5.0", "oracle": "72.0 ± 5.0", "gap": "+0.0"}  # fmt: skip
    assert rows.loc[("moons/rot40", "dann")].to_dict() == {
        "bnm (main table)": "82.0 ± 5.0", "oracle": "91.0 ± 2.5", "gap": "+9.0"}  # fmt: skip
    assert rows.loc[("moons/rot40", "cdan")]["oracle"] == "65.0* ↓"
    assert ("digits/synth2hand", "cdan") not in rows.index  # its sweep never finished

    cost = tables.cost_table(board).set_index(["task", "method"])
    assert cost.loc[("moons/rot40", "source_only")].to_dict() == {
        "trials (completed / pruned / failed)": "1 / 1 / 1", "seed runs": 3,
        "wall (min)": 1.5, "CPU (s)": 3 * 10 + 3 * 5, "GPU (s)": 0}  # fmt: skip
    assert cost.loc[("moons/rot40", "dann"), "seed runs"] == 8  # the killed group's runs count
    assert cost.loc[("**total**", ""), "trials (completed / pruned / failed)"] == "7 / 1 / 1"

    params = tables.hyperparameter_table(board).set_index(["task", "method"])
    assert params.loc[("moons/rot40", "dann")].to_dict() == {
        "label-free pick": "lr=0.02, trade_off=0.5 (bnm)",
        "oracle pick": "lr=0.001, trade_off=2",
    }
    assert params.loc[("moons/rot40", "source_only"), "oracle pick"] == "same"


def test_every_criterion_and_the_other_formats(store, tmp_path, capsys):
    board = leaderboard.build(runs_of(store, ["bench"]), select="all")
    rows = tables.realistic_vs_oracle(board, "closed").set_index(["task", "method"])
    assert list(rows.columns) == ["bnm (main table)", "source_val", "entropy", "im", "snd",
                                  "class_ami", "dev", "oracle", "gap"]  # fmt: skip
    assert rows.loc[("moons/rot40", "dann"), "entropy"] == "–"  # no trial reported it
    assert rows.loc[("moons/rot40", "dann"), "source_val"] == "82.0 ± 5.0"  # tie: earlier trial

    out = tmp_path / "board.md"
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "bench",
                     "--out", str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert re.search(r"\| dann +\| \*\*60\.0\*\*\* +\| \*\*82\.0 ± 5\.0\*\* ", text)
    assert "dabench sweep --method dann --task moons/rot40 --name dann   # 2.5 min" in text
    assert "by `dabench leaderboard --tracking-uri sqlite:///" in text
    assert "commit(s) abc123 (5 sweeps), on test box" in text
    assert (tmp_path / "board" / "moons-rot40.png").stat().st_size > 10_000
    assert (tmp_path / "board" / "sweep-dann.png").stat().st_size > 10_000  # parallel coords
    out.write_text(text + "\n## Reading\n\nWritten by hand.\n")
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "bench",
                     "--out", str(out)]) == 0  # fmt: skip
    assert "## Reading\n\nWritten by hand." in out.read_text()  # kept when regenerated

    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "bench",
                     "--format", "csv"]) == 0  # fmt: skip
    frame = pd.read_csv(StringIO(capsys.readouterr().out))
    dann = frame[(frame["method"] == "dann") & (frame["task"] == "moons/rot40")]
    assert dann.set_index("criterion")["values"].to_dict() == {
        "bnm": "80 82 84",
        "oracle": "90 91 92",
    }
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "bench",
                     "--format", "latex"]) == 0  # fmt: skip
    assert r"\textbf{82.0 $\pm$ 5.0}" in capsys.readouterr().out
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "bench",
                     "--select", "oracle"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "Selected by the oracle (target-val labels): not a realistic result." in text
    assert re.search(r"\| dann +\| \*\*60\.0\*\*\* +\| \*\*91\.0 ± 2\.5\*\* ", text)


def test_bad_input_is_named(store, capsys, tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no store here: refused, and none created
    assert cli.main(["leaderboard"]) == 2
    assert "no MLflow store at sqlite:///" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere" / "mlflow.db").exists()
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "nope"]) == 2
    assert "no MLflow experiment 'nope'" in capsys.readouterr().err
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "bench",
                     "--select", "bmn"]) == 2  # fmt: skip
    assert "--select 'bmn' (did you mean 'bnm'?): use one of auto, all, oracle, source_val, " \
        "entropy" in " ".join(capsys.readouterr().err.split())  # fmt: skip
    client = MlflowClient(store)
    experiment_id(client, "empty")
    assert cli.main(["leaderboard", "--tracking-uri", store, "--experiment", "empty"]) == 2
    assert "no finished sweep" in capsys.readouterr().err


def test_by_default_every_experiment_that_holds_a_sweep_is_read(store, tmp_path, capsys):
    """A benchmark records in an experiment of its own: the default reads it beside the others
    (and the newer sweep of a (method, task) replaces the older), but no experiment without
    sweeps; ``export`` reads the same; with none at all, the error names the store's experiments."""
    client = MlflowClient(store)
    experiment_id(client, "empty")
    tiny = experiment_id(client, "tiny")  # as `dabench benchmark --spec tiny` names it
    log_sweep(client, tiny, "dann-digits-b", "dann", "digits/synth2hand",
              {"f": metrics(0.3, 60, 77)})  # fmt: skip
    assert readers.sweep_experiments(client) == ["bench", "tiny"]
    out = tmp_path / "board.md"
    assert cli.main(["leaderboard", "--tracking-uri", store, "--out", str(out)]) == 0
    text = out.read_text()
    assert f"from MLflow {store}, experiment bench, tiny." in text
    assert re.search(r"\| dann +\| \*\*77\.0\*\*\* +\| \*\*82\.0 ± 5\.0\*\* ", text)
    assert "`dann-digits` (dann on digits/synth2hand): a later sweep replaced it" in text
    runs = tmp_path / "runs.csv"
    assert cli.main(["export", "--tracking-uri", store, "--out", str(runs)]) == 0
    exported = pd.read_csv(runs)
    assert set(exported["experiment_id"].astype(str)) == set(experiment_ids(client,
                                                                          ["bench", "tiny"]))  # fmt: skip
    with pytest.raises(SystemExit):
        cli.main(["leaderboard", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "default: every experiment of the store that holds a dabench sweep: dabench, where " \
        "`dabench sweep` records, and each benchmark's own" in shown  # fmt: skip

    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    experiment_id(MlflowClient(bare), "empty")
    for argv in (["leaderboard"], ["export", "--out", str(runs)]):
        assert cli.main([*argv, "--tracking-uri", bare]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert (f"no experiment of {bare} holds a dabench sweep (its experiments: " in err
                and "empty" in err and "Default" in err)  # fmt: skip
        assert ("run `dabench sweep` or `dabench benchmark` first, or name an experiment with "
                "--experiment") in err  # fmt: skip


def test_a_benchmark_shows_the_main_tables_on_80_columns(store):
    from rich.console import Console

    from dabench.cli.benchmark import board_tables, cell_text

    board = leaderboard.build(runs_of(store, ["bench"]))
    console = Console(width=80, record=True)
    for table in board_tables(board):
        console.print(table)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Closed-set: target-test accuracy (%)" in text
    assert "Selected by bnm (label-free)." in text
    assert "82.0 ± 5.0" in text and "65.0* ↓" in text and "**" not in text
    assert "mean ± half-width of the 95% CI over fresh seeds" in " ".join(text.split())
    assert cell_text("**82.0 ± 5.0**").style == "bold" and cell_text("65.0* ↓").style == ""
    assert cell_text("**60.0***").plain == "60.0*"


@pytest.mark.slow
def test_a_tiny_real_sweep_rerun_with_fresh_seeds_makes_the_leaderboard(ray_local, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = {"tracking_uri": uri, "storage": str(tmp_path / "ray"), "experiment": "tiny",
              "max_concurrent": 1}  # fmt: skip
    summary = run_sweep(SweepOptions(method="dann", task="moons/rot40", num_samples=3, steps=40,
                                     eval_every=20, name="tiny", **common))  # fmt: skip
    groups = rerun(RerunOptions(sweep="tiny", seeds=2, **common))
    client = MlflowClient(uri)
    parent = readers.require_sweep(client, "tiny", "tiny")
    trials = selection.candidates(readers.trials(client, parent))
    label_free = selection.picks(trials, criteria.criterion("bnm", "closed"), 1).iloc[0]
    oracle = selection.picks(trials, criteria.oracle("closed"), 1).iloc[0]
    assert [g.selected_by for g in groups] == (
        [["bnm", "oracle"]] if label_free["run_id"] == oracle["run_id"] else [["bnm"], ["oracle"]]
    )
    assert summary.best_metrics["validator_bnm"] == label_free["validator_bnm"]  # one rule
    assert all(g.seeds == [1, 2] and len(g.values) == 2 and not g.reused for g in groups)
    assert rerun(RerunOptions(sweep="tiny", seeds=2, **common))[0].reused

    board = leaderboard.build(runs_of(uri, ["tiny"]))
    cell = board.cells.set_index("criterion").loc["bnm"]
    assert cell["trial"] == label_free["trial"] and cell["rerun"] and cell["n"] == 2
    assert cell["values"] == groups[0].values  # the seed runs' target-test accuracy
    assert board.cost["completed"].iloc[0] + board.cost["pruned"].iloc[0] == 3
    assert board.cost["seed_runs"].iloc[0] == 2 * len(groups)
    group = client.search_runs([parent.info.experiment_id], f"tags.`{schema.SELECTED_TRIAL}` = "
                               f"'{label_free['run_id']}'")[0]  # fmt: skip
    group_runs = readers.children(client, parent.info.experiment_id, group.info.run_id)
    configs = [json.loads(run.data.tags[schema.CONFIG]) for run in group_runs]
    assert sorted(json.loads(r.data.tags["searched"])["seed"] for r in group_runs) == [1, 2]
    assert sorted(configs, key=lambda c: c["seed"]) == [
        {**label_free["config"], "seed": seed} for seed in (1, 2)
    ]  # the picked config exactly


def test_the_price_of_label_free_selection_is_the_oracle_minus_the_pick_per_criterion():
    """Over the (method, task) pairs that have both cells: the mean and the worst of oracle −
    criterion, named; the target oracle and a pick without an oracle cell are left out."""

    def cell(setting, task, method, criterion, mean, primary=None):
        return {"setting": setting, "task": task, "method": method, "criterion": criterion,
                "primary": criterion != "oracle" if primary is None else primary, "mean": mean,
                "values": [mean]}  # fmt: skip

    board = leaderboard.Leaderboard(pd.DataFrame([
        cell("closed", "a", "dann", "bnm", 90.0), cell("closed", "a", "dann", "oracle", 91.0),
        cell("closed", "b", "dann", "bnm", 80.0), cell("closed", "b", "dann", "oracle", 84.0),
        cell("closed", "a", "cdan", "bnm", 92.0), cell("closed", "a", "cdan", "oracle", 91.0),
        cell("closed", "b", "cdan", "bnm", 70.0),  # no oracle cell: left out
        cell("closed", "a", "dann", "snd", 85.0, primary=False),
        cell("closed", "a", "target_oracle", "oracle", 99.0),
        cell("closed", "a", "target_oracle", "bnm", 10.0),  # the target oracle: left out
    ]), pd.DataFrame(), pd.DataFrame())  # fmt: skip
    prices = tables.price_of_selection(board).set_index("criterion")
    assert prices.loc["bnm", "cells"] == 3 and prices.loc["bnm", "default"] == "yes"
    assert prices.loc["bnm", "mean price"] == "1.3"  # (1 + 4 − 1) / 3
    assert prices.loc["bnm", "worst price"] == "4.0 (dann, b)"
    assert prices.loc["snd", "default"] == "" and prices.loc["snd", "mean price"] == "6.0"
    assert prices.loc["snd", "published mean (SKADA-Bench)"] == "15.8"


def test_the_runs_say_what_their_numbers_depend_on(store):
    """Each trial and seed run records its runtime (``dabench.runtime``) at every start it made on
    another; the leaderboard counts the runs per runtime, older runs as not recorded."""
    board = leaderboard.build(runs_of(store, ["bench"]))
    described = "Test CPU, 1 torch thread, cpu, torch 2.0, numpy 2.0"
    # the chosen sweeps' 3 + 2 + 1 + 2 + 1 trials; the seeds groups' 3 + 3 + 3 + 2 runs
    assert board.runtimes.to_dict() == {"not recorded": 9, described: 11}
    client = MlflowClient(store)
    run = client.get_run(client.search_runs(experiment_ids(client, ["bench"]),
                                            f"tags.`{schema.KIND}` = 'trial'")[0].info.run_id)  # fmt: skip
    gpu = {**RUNTIME, "device": "NVIDIA H100", "threads": "4"}
    for facts in (RUNTIME, RUNTIME, gpu):  # resumed on the same machine, then on a GPU
        writers.restart_trial(client, run, facts)
        run = client.get_run(run.info.run_id)
    assert json.loads(run.data.tags[schema.RUNTIME]) == [RUNTIME, gpu]
    assert run.data.tags[schema.STARTS] == "4"
    assert leaderboard.runtime_text(run.data.tags[schema.RUNTIME]) == (
        f"{described} then Test CPU, 4 torch threads, NVIDIA H100, torch 2.0, numpy 2.0"
    )
