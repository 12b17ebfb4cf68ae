"""``dabench.reports.claims``: the literature's orderings tested on leaderboard cells — the paired t-test
against its formula, the Wilcoxon signed-rank test's exact small-sample values, and the verdict
rules on a hand-made table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from dabench.reports import claims, document
from dabench.reports.leaderboard import Leaderboard


def test_the_paired_test_is_the_one_sided_t_test_on_seed_differences():
    better, worse = [90.0, 92.0, 95.0], [80.0, 85.0, 84.0]
    d = np.subtract(better, worse)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    result = claims.paired_test(better, worse)
    assert result["p"] == pytest.approx(student_t.sf(t, df=2))
    assert result["diff"] == pytest.approx(d.mean()) and result["verdict"] == claims.REPRODUCED
    reverse = claims.paired_test(worse, better)
    assert reverse["p"] == pytest.approx(1 - student_t.sf(t, df=2))
    assert reverse["verdict"] == claims.CONTRADICTED
    noisy = claims.paired_test([90.0, 70.0, 85.0], [80.0, 85.0, 84.0])  # +10, −15, +1
    assert noisy["verdict"] == claims.UNRESOLVED and noisy["p"] > 0.05
    assert claims.paired_test([1.0, 2.0], [0.0, 1.0])["verdict"] == claims.REPRODUCED  # d ≡ 1
    assert claims.paired_test([1.0], [0.0])["verdict"] == claims.UNRESOLVED  # one seed: no test


def test_wilcoxon_across_tasks_decides_only_where_it_can():
    assert claims.across_tasks([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx((1 / 32, 1.0))
    assert claims.across_tasks([-1.0, -2.0, -3.0, -4.0, -5.0]) == pytest.approx((1.0, 1 / 32))
    assert [claims.wilcoxon_decides(k) for k in (1, 2, 3, 4, 5, 6)] == [False] * 4 + [True] * 2
    assert claims.claim_test([paired(d) for d in (1.0, 2.0, 3.0, 4.0, 5.0)])["test"] == (
        "Wilcoxon over 5 tasks"
    )


def paired(diff: float, spread: float = 1.0) -> dict:
    """A task's paired test whose three seeds differ by ``diff`` ± ``spread``."""
    return claims.paired_test([diff + spread, diff, diff - spread + 0.5], [0.0, 0.0, 0.0])


def test_effect_sizes_come_with_their_t_intervals():
    better, worse = [90.0, 92.0, 95.0], [80.0, 85.0, 84.0]
    d = np.subtract(better, worse)
    half = student_t.ppf(0.975, df=2) * d.std(ddof=1) / math.sqrt(3)
    assert claims.paired_test(better, worse)["ci"] == pytest.approx((d.mean() - half,
                                                                     d.mean() + half))  # fmt: skip
    tasks = [paired(2.0), paired(6.0), paired(7.0)]  # a claim over three tasks
    diffs = [r["diff"] for r in tasks]
    half = student_t.ppf(0.975, df=2) * np.std(diffs, ddof=1) / math.sqrt(3)
    result = claims.claim_test(tasks)
    assert result["diff"] == pytest.approx(np.mean(diffs))
    assert result["ci"] == pytest.approx((np.mean(diffs) - half, np.mean(diffs) + half))
    assert claims.claim_test(tasks[:1])["ci"] == tasks[0]["ci"]  # one task: its own interval


def test_below_five_tasks_a_claim_needs_every_task_and_holm_corrects_the_family():
    """Below 5 tasks the claim's p is the largest per-task p (intersection–union); Holm's
    step-down multiplies the smallest of m p-values by m, the next by m − 1, ... (monotone)."""
    strong, weak = paired(10.0), paired(2.0, spread=2.0)
    both = claims.claim_test([strong, weak])
    assert both["test"] == "every task" and both["p"] == max(strong["p"], weak["p"])
    assert math.isnan(claims.claim_test([strong, claims.paired_test([1.0], [0.0])])["p"])
    p = [0.01, 0.04, math.nan, 0.03]
    # sorted 0.01, 0.03, 0.04: × 3, × 2, × 1 = 0.03, 0.06, 0.04, the last raised to 0.06
    assert claims.holm(p)[:2] == pytest.approx([0.03, 0.06]) and math.isnan(claims.holm(p)[2])
    assert claims.holm(p)[3] == pytest.approx(0.06)


def cells(rows: list[tuple[str, str, str, list[float]]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"setting": setting, "task": task, "method": method, "criterion": "bnm", "primary": True,
         "values": values, "mean": float(np.mean(values))}
        for setting, task, method, values in rows
    ] + [  # an oracle cell: never read
        {"setting": "closed", "task": "digits/mnist2uci", "method": "dann", "criterion": "oracle",
         "primary": False, "values": [0.0, 0.0, 0.0], "mean": 0.0},
    ])  # fmt: skip


def test_claims_on_a_table_give_per_task_tests_and_a_verdict_each():
    table = cells([
        ("closed", "digits/mnist2uci", "source_only", [70.0, 72.0, 71.0]),
        ("closed", "digits/mnist2uci", "dann", [90.0, 93.0, 91.0]),
        ("closed", "digits/mnist2uci", "adda", [60.0, 61.0, 59.0]),
        ("closed", "digits/uci2mnist", "source_only", [55.0, 58.0, 57.0]),
        ("closed", "digits/uci2mnist", "dann", [75.0, 79.0, 74.0]),
        ("closed", "moons/rot40", "source_only", [70.0, 80.0, 75.0]),
        ("closed", "moons/rot40", "dann", [90.0, 70.0]),  # a seed missing: not paired
        ("closed", "moons/rot40", "adda", [95.0, 96.0, 97.0]),  # not an mnist task: not in ADDA's
        ("partial", "digits-partial/uci2mnist", "dann", [50.0, 52.0, 51.0]),
        ("partial", "digits-partial/uci2mnist", "pada", [50.0, 53.0, 50.5]),
    ])  # fmt: skip
    per_task, summary = claims.check_claims(table)
    summary = summary.set_index("claim")
    dann = summary.loc["dann > source_only (closed tasks)"]
    assert (
        dann["tasks"] == 3 and dann["per task"] == "2 reproduced, 1 not resolved"
    )  # moons: unpaired
    assert dann["verdict"] == claims.UNRESOLVED  # 3 tasks: every one must reproduce it
    adda = summary.loc["adda > source_only (closed tasks with 'mnist' in the name)"]
    assert (adda["tasks"], adda["verdict"]) == (1, claims.CONTRADICTED)
    assert summary.loc["pada > dann (partial tasks)", "verdict"] == claims.UNRESOLVED
    assert summary.loc["advent > source_only (segmentation tasks)", "verdict"] == "not run"
    moons = per_task[(per_task["task"] == "moons/rot40") & per_task["claim"].str.startswith("dann")]
    assert moons["verdict"].iloc[0].startswith("not resolved (unpaired: 2 vs 3 seeds)")


def test_an_ordering_that_did_not_reproduce_is_shown_with_its_runs():
    """The claims section lists, for a failed ordering, each method's label-free and oracle
    picks with their per-seed values and decision shares: here the oracle's OSBP pick is the
    same trial, so the failure is OSBP's training (one seed barely rejects), not selection."""

    def row(method, criterion, trial, values, decisions):
        return {"setting": "open_set", "task": "digits-openset/mnist2uci", "method": method,
                "criterion": criterion, "primary": criterion != "oracle", "trial": trial,
                "values": values, "mean": float(np.mean(values)), "n": len(values),
                "decisions": decisions}  # fmt: skip

    board = Leaderboard(pd.DataFrame([
        row("source_only", "h_proxy", "so-3", [74.2, 75.6, 70.9], [51.0, 50.0, 43.0]),
        row("source_only", "oracle", "so-1", [76.0, 77.0, 75.0], [40.0, 41.0, 39.0]),
        row("osbp", "h_proxy", "osbp-6", [69.5, 79.8, 33.8], [56.0, 49.0, 16.0]),
        row("osbp", "oracle", "osbp-6", [69.5, 79.8, 33.8], [56.0, 49.0, 16.0]),
    ]), pd.DataFrame(), pd.DataFrame())  # fmt: skip
    per_task, _ = claims.check_claims(board.cells)
    osbp = per_task[per_task["claim"] == "osbp > source_only (open_set tasks)"].iloc[0]
    assert osbp["methods"] == ("osbp", "source_only") and osbp["verdict"] == claims.UNRESOLVED
    table = document.diagnosis_table(board, [(osbp["task"], osbp["methods"], osbp["verdict"])])
    assert table.to_dict("records") == [
        {"claim": "osbp > source_only: not resolved", "task": "digits-openset/mnist2uci",
         "method": "osbp", "label-free pick": "osbp-6", "seeds": "69.5 / 79.8 / 33.8",
         "its decisions": "56 / 49 / 16 % rejected", "oracle pick": "same",
         "oracle seeds": "69.5 / 79.8 / 33.8"},
        {"claim": "osbp > source_only: not resolved", "task": "digits-openset/mnist2uci",
         "method": "source_only", "label-free pick": "so-3", "seeds": "74.2 / 75.6 / 70.9",
         "its decisions": "51 / 50 / 43 % rejected", "oracle pick": "so-1",
         "oracle seeds": "76.0 / 77.0 / 75.0"},
    ]  # fmt: skip
    section = "\n".join(document.claims_section(board))
    assert "### The runs behind the orderings that did not reproduce" in section
    assert "| osbp > source_only: not resolved | digits-openset/mnist2uci | osbp " in section
