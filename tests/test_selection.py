"""Validator-quality arithmetic on constructed sweeps, and reading a sweep back from a real
MLflow store (sqlite, no server; nothing mocked)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy.stats import spearmanr

from dabench.data.registry import task_spec
from dabench.records import criteria, readers, selection, writers
from dabench.records.store import experiment_id
from dabench.reports.quality import quality_markdown, quality_report


def test_weighted_spearman_on_known_rankings():
    x = np.arange(10.0)
    assert selection.weighted_spearman(x, x) == pytest.approx(1.0)
    assert selection.weighted_spearman(x, -x) == pytest.approx(-1.0)
    assert math.isnan(selection.weighted_spearman(x[:2], x[:2]))  # too few points
    assert math.isnan(selection.weighted_spearman(np.ones(5), x[:5]))  # constant ranking
    # agreeing at the top counts more than agreeing at the bottom
    truth = np.arange(6.0)
    top_right = np.array([1.0, 0, 3, 2, 4, 5])  # the bottom pairs swapped
    bottom_right = np.array([0.0, 1, 2, 3, 5, 4])  # the top pair swapped
    assert spearmanr(top_right, truth).statistic < spearmanr(bottom_right, truth).statistic
    assert selection.weighted_spearman(top_right, truth) > selection.weighted_spearman(
        bottom_right, truth
    )


def test_weighted_spearman_matches_its_definition():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=20), rng.normal(size=20)
    rs = pd.Series(s).rank().to_numpy() / 20
    rt = pd.Series(t).rank().to_numpy() / 20
    w = np.maximum(rs, rt) ** 2
    c = np.cov(rs, rt, aweights=w)
    assert selection.weighted_spearman(s, t) == pytest.approx(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]))


def sweep_frame() -> pd.DataFrame:
    """Two trials × three checkpoints with hand-set metrics."""
    rows = []
    values = {  # (trial, step): (source_val_acc, validator_im, target_val_acc, target_test_acc)
        ("a", 1): (90, 0.1, 60, 61), ("a", 2): (95, 0.5, 80, 79), ("a", 3): (99, 0.4, 70, 72),
        ("b", 1): (80, 0.2, 65, 66), ("b", 2): (85, 0.9, 90, 88), ("b", 3): (88, 0.8, 85, 86),
    }  # fmt: skip
    for (trial, step), (src, im, val, test) in values.items():
        rows.append({"run_id": trial, "trial": trial, "status": "completed", "step": step,
                     "source_val_acc": src, "validator_im": im, "target_val_acc": val,
                     "target_test_acc": test, "last": step == 3})  # fmt: skip
    return pd.DataFrame(rows)


def test_validator_quality_picks_and_correlations_on_a_constructed_sweep():
    table = selection.validator_quality(sweep_frame(), "closed").set_index("criterion")
    # source-val accuracy ranks a@3 first (test 72); IM ranks b@2 first (test 88)
    assert table.loc["source_val", "top1_test"] == 72 and table.loc["im", "top1_test"] == 88
    assert table.loc["source_val", "top1_checkpoint"] == "a @ 3"
    assert table.loc["im", "top5_test"] == pytest.approx((88 + 86 + 79 + 72 + 66) / 5)
    oracle = [60, 80, 70, 65, 90, 85]
    assert table.loc["im", "spearman"] == pytest.approx(
        spearmanr([0.1, 0.5, 0.4, 0.2, 0.9, 0.8], oracle).statistic
    )
    assert table.loc["oracle (target-val labels)", "top1_test"] == 88
    assert table.loc["best target-test (unattainable)", "top1_test"] == 88
    assert "entropy" not in table.index  # not reported by this sweep: left out
    trials = selection.validator_quality(sweep_frame(), "closed", "trial").set_index("criterion")
    assert trials.loc["source_val", "top1_test"] == 72  # a@3 (99) over b@3 (88)
    assert trials.loc["im", "top1_test"] == 86 and trials.loc["im", "top5_test"] == (86 + 72) / 2
    with pytest.raises(ValueError, match="level must be one of"):
        selection.validator_quality(sweep_frame(), "closed", "epoch")


def test_ties_go_to_the_later_checkpoint_then_to_the_earlier_trial():
    frame = sweep_frame()
    frame["source_val_acc"] = 100.0  # saturated, as on easy tasks
    source_val = criteria.criterion("source_val", "closed")
    assert selection.picks(frame, source_val, 1)[["trial", "step"]].values.tolist() == [["a", 3]]


def test_a_validator_with_nothing_to_judge_ranks_last():
    frame = sweep_frame()
    frame.loc[frame["validator_im"] == 0.9, "validator_im"] = np.nan  # -inf is not logged
    table = selection.validator_quality(frame, "closed").set_index("criterion")
    assert table.loc["im", "top1_test"] == 86  # b@3 (0.8) is now first
    assert table.loc["im", "scored"] == 5 and table.loc["source_val", "scored"] == 6


def test_a_validator_scored_at_the_last_evaluations_only_is_judged_on_those():
    frame = sweep_frame()
    frame["validator_snd"] = np.where(frame["last"], [0.0, 0.0, 2.0, 0.0, 0.0, 1.0], np.nan)
    table = selection.validator_quality(frame, "closed").set_index("criterion")
    assert (
        table.loc["snd", "scored"] == 2 and table.loc["oracle (target-val labels)", "scored"] == 6
    )
    assert table.loc["snd", "top1_checkpoint"] == "a @ 3"
    quality = quality_markdown(frame, "moons/rot40", "dann", "s", None)
    assert "Scored at fewer checkpoints (`scored`): snd" in quality


def log_sweep(client: MlflowClient, experiment: str, name: str, method: str, task: str,
              trials: dict[str, list[dict]], status: str = "FINISHED", best_test: float = 0.0,
              objective: str = "class_ami") -> str:  # fmt: skip
    """A sweep written by the production writers: each trial's points, then its end (the status
    before the name's ``-``, default completed); a superseded trial is one Ray's state does not
    know when the sweep closes."""
    setting = task_spec(task).setting
    parent = writers.open_sweep(client, experiment, name, method, task,
                                criteria.criterion(objective, setting), {})  # fmt: skip
    known = set()
    for trial, points in trials.items():
        state = trial.split("-")[0] if "-" in trial else "completed"
        run = writers.open_trial(client, experiment, parent, name, trial, trial, {},
                                 {"method": method, "task": task})  # fmt: skip
        for point in points:
            writers.log_metrics(client, run, point, step=point["step"])
        if state != "superseded":
            writers.end_trial(client, run, state)
            known.add(trial)
    writers.close_children(client, experiment, parent, known)
    writers.log_metrics(client, parent, {"best.target_test_acc": best_test}, step=0)
    client.set_terminated(parent, status)
    return parent


def test_a_sweep_is_read_back_from_mlflow_with_its_baseline(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = experiment_id(client, "exp")
    frame = sweep_frame()
    trials = {
        trial: [{k: v for k, v in row.items() if k not in ("run_id", "trial", "status", "last")}
                for row in group.to_dict("records")]
        for trial, group in frame.groupby("trial")
    }  # fmt: skip
    trials["a"][0] |= {"predicted_top_class_pct": 85.0, "dev_ess": 40.0}  # diagnostics too
    for left_out in ("failed-c", "superseded-d"):
        trials[left_out] = [{"step": 1, "source_val_acc": 100, "target_val_acc": 0,
                             "target_test_acc": 0}]  # fmt: skip
    log_sweep(client, experiment, "dann-1", "dann", "moons/rot40", trials)
    read = readers.checkpoints(client, readers.require_sweep(client, "exp", "dann-1"))
    assert len(read) == 6 and set(read["trial"]) == {"a", "b"}  # failed, superseded: left out
    assert read.groupby("trial")["last"].sum().to_dict() == {"a": 1, "b": 1}
    assert read.set_index(["trial", "step"]).loc[("b", 2), "validator_im"] == 0.9
    first = read.set_index(["trial", "step"]).loc[("a", 1)]
    assert first["predicted_top_class_pct"] == 85.0 and first["dev_ess"] == 40.0

    assert readers.source_only_baseline(client, experiment, "moons/rot40") is None
    log_sweep(client, experiment, "so-old", "source_only", "moons/rot40", {}, best_test=75)
    log_sweep(
        client,
        experiment,
        "so-oracle",
        "source_only",
        "moons/rot40",
        {},
        best_test=99,
        objective="oracle",
    )  # picked on target labels: not a baseline
    log_sweep(
        client,
        experiment,
        "so-killed",
        "source_only",
        "moons/rot40",
        {},
        best_test=99,
        status="KILLED",
    )  # interrupted: not a baseline
    assert readers.source_only_baseline(client, experiment, "moons/rot40") == (75, "so-old")

    report = quality_report(client, "exp", "dann-1")
    assert "Source-only baseline: 75.00 (sweep `so-old`)" in report
    assert "| source_val" in report and "72.00 (negative transfer)" in report
    assert "88.00 (negative transfer)" not in report
    with pytest.raises(
        ValueError, match=r"no sweep .nope. in experiment .exp.; recent sweeps: .*dann-1"
    ):
        readers.require_sweep(client, "exp", "nope")
    with pytest.raises(ValueError, match="no MLflow experiment 'other'"):
        readers.require_sweep(client, "other", "dann-1")


def test_early_agreement_and_where_asha_may_start_pruning():
    """Four trials whose final oracle ranks them d > c > b > a; IM ranks them backwards at step
    1, half-right at step 2 and right at step 3."""
    im = {1: [4, 3, 2, 1], 2: [1, 3, 2, 4], 3: [1, 2, 3, 4]}
    oracle = [10, 20, 30, 40]
    rows = [{"run_id": t, "trial": t, "status": "completed", "step": step, "validator_im": im[step][i],
             "source_val_acc": 50.0, "target_val_acc": oracle[i] if step == 3 else 0.0,
             "last": step == 3} for step in im for i, t in enumerate("abcd")]  # fmt: skip
    early = selection.early_agreement(pd.DataFrame(rows), "closed")
    assert early.loc["im"].tolist() == pytest.approx([-1.0, 0.8, 1.0])
    assert math.isnan(early.loc["source_val", 1])  # constant: no correlation, no warning
    assert selection.first_reliable_step(early, "im") == 2
    assert selection.first_reliable_step(early, "source_val") is None
    assert selection.first_reliable_step(early, "bnm") is None  # not in the table
