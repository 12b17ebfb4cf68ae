r"""The literature's claims about the methods, tested on a leaderboard rather than assumed.

**A claim** is an ordering a paper reports: ``better`` above ``worse`` on the tasks of a setting
(optionally only the tasks whose name contains ``tasks``), each method under the leaderboard's
main-table selection (label-free; the oracle is never used here).

**Per task**, the two methods' re-trained picks ran with the same fresh seeds (``dabench rerun``
gives every sweep's picks the seeds ``s+1 … s+n``), so their values pair by seed. With
differences :math:`d_i = x^{better}_i - x^{worse}_i` over :math:`n \ge 2` seeds, the paired
t-test's statistic is :math:`t = \bar d / (s_d / \sqrt n)` with :math:`n-1` degrees of freedom;
``p`` is its one-sided p-value for :math:`\bar d > 0`. The task's verdict at level
:data:`ALPHA`: *reproduced* when ``p < ALPHA``; *contradicted* when the opposite one-sided test
rejects (:math:`\bar d < 0` significantly); otherwise *not resolved*.

Its **effect size** is :math:`\bar d` with the two-sided :math:`1-\alpha` t-interval
:math:`\bar d \pm t_{1-\alpha/2,\,n-1}\, s_d/\sqrt n`.

**Per claim**, one one-sided p-value for "better > worse": across :math:`k \ge 5` tasks the
Wilcoxon signed-rank test of the per-task mean differences (exact null distribution; with
:math:`k` tasks its smallest attainable p-value is :math:`2^{-k}`, so it can reject at 0.05 from
:math:`k = 5` on); with fewer tasks the intersection–union test of "every task reproduces it",
whose p-value is the largest per-task p (no task may be unpaired). Its effect size: the mean of
the per-task differences, with the t-interval across tasks (one task: that task's interval).

**The family.** Every claim the report tests is one test of one family, and Holm's step-down
correction (statsmodels' ``multipletests``) holds the family-wise error rate
at :data:`ALPHA`: the claim is *reproduced* when its Holm-adjusted p-value is below
:data:`ALPHA`; *contradicted* when the same test of the opposite ordering ("worse > better",
every task contradicting it below 5 tasks), Holm-adjusted over its own family, is; otherwise
*not resolved*. The per-task verdicts are the raw tests, shown for reading, not for deciding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05
"""The level of every test of a claim."""
REPRODUCED, CONTRADICTED, UNRESOLVED = "reproduced", "contradicted", "not resolved"


@dataclass(frozen=True)
class Claim:
    """``better`` above ``worse`` on the ``setting``'s tasks (those containing ``tasks``)."""

    better: str
    worse: str
    setting: str
    source: str
    tasks: str = ""

    @property
    def text(self) -> str:
        where = f"{self.setting} tasks" + (
            f" with {self.tasks!r} in the name" if self.tasks else ""
        )
        return f"{self.better} > {self.worse} ({where})"


CLAIMS: tuple[Claim, ...] = (
    Claim("dann", "source_only", "closed", "Ganin et al. 2016 (DANN)"),
    Claim("cdan", "source_only", "closed", "Long et al. 2018 (CDAN)"),
    Claim("cdan", "dann", "closed", "Long et al. 2018 (CDAN): CDAN ≥ DANN"),
    Claim("adda", "source_only", "closed", "Tzeng et al. 2017 (ADDA), MNIST↔USPS", tasks="mnist"),
    Claim("bsp", "source_only", "closed", "Chen et al. 2019 (BSP)"),
    Claim("source_only", "dann", "partial", "Cao et al. 2018 (PADA): DANN transfers negatively"),
    Claim("pada", "dann", "partial", "Cao et al. 2018 (PADA)"),
    Claim("iwan", "dann", "partial", "Zhang et al. 2018 (IWAN)"),
    Claim("osbp", "source_only", "open_set", "Saito et al. 2018 (OSBP), H-score"),
    Claim("osbp", "dann", "open_set", "Saito et al. 2018 (OSBP), H-score"),
    Claim("advent", "source_only", "segmentation", "Vu et al. 2019 (ADVENT), mIoU"),
)
"""The orderings the reference's papers report, as the leaderboard can test them."""


def paired_test(better: list[float], worse: list[float]) -> dict[str, Any]:
    """The per-task test of the module doc on two seed-ordered value lists of equal length:
    ``n``, ``diff`` (the mean difference), ``ci`` (its interval), ``p`` (one-sided, better >
    worse), ``p_less`` (the opposite) and the raw ``verdict``."""
    d = np.asarray(better, float) - np.asarray(worse, float)
    n = len(d)
    result: dict[str, Any] = {"n": n, "diff": float(d.mean()) if n else math.nan,
                              "ci": (math.nan, math.nan), "p": math.nan, "p_less": math.nan,
                              "verdict": UNRESOLVED}  # fmt: skip
    if n < 2:
        return result
    if np.allclose(d, d[0]):  # no spread: the t statistic is undefined
        result["p"] = 0.0 if d[0] > 0 else 1.0
        result["p_less"] = 0.0 if d[0] < 0 else 1.0
        result["ci"] = (float(d[0]), float(d[0]))
    else:
        result["p"] = float(stats.ttest_rel(better, worse, alternative="greater").pvalue)
        result["p_less"] = float(stats.ttest_rel(better, worse, alternative="less").pvalue)
        interval = stats.ttest_rel(better, worse).confidence_interval(1 - ALPHA)
        result["ci"] = (float(interval.low), float(interval.high))
    result["verdict"] = (REPRODUCED if result["p"] < ALPHA else
                         CONTRADICTED if result["p_less"] < ALPHA else UNRESOLVED)  # fmt: skip
    return result


def across_tasks(diffs: list[float]) -> tuple[float, float]:
    """The Wilcoxon signed-rank p-values (one-sided: better > worse, and the opposite) of
    per-task mean differences; NaN where there is nothing to rank."""
    if len(diffs) < 2 or all(d == 0 for d in diffs):
        return math.nan, math.nan
    return (float(stats.wilcoxon(diffs, alternative="greater", method="exact").pvalue),
            float(stats.wilcoxon(diffs, alternative="less", method="exact").pvalue))  # fmt: skip


def wilcoxon_decides(tasks: int) -> bool:
    """Whether the Wilcoxon test over ``tasks`` tasks can reach :data:`ALPHA` (:math:`2^{-k}`)."""
    return tasks >= 2 and 2.0**-tasks < ALPHA


def claim_test(tested: list[dict[str, Any]]) -> dict[str, Any]:
    """A claim's own test over its per-task results (module doc): ``test``, ``p``, ``p_less``,
    ``diff`` and ``ci``."""
    diffs = [float(r["diff"]) for r in tested]
    if any(math.isnan(d) for d in diffs):  # an unpaired task: no claim-level test
        return {"test": "–", "p": math.nan, "p_less": math.nan, "diff": math.nan,
                "ci": (math.nan, math.nan)}  # fmt: skip
    if wilcoxon_decides(len(diffs)):
        p, p_less = across_tasks(diffs)
        test = f"Wilcoxon over {len(diffs)} tasks"
    else:
        # the largest per-task p (NaN, a task of one seed, propagates: no test)
        p, p_less = (float(np.max([r[k] for r in tested])) for k in ("p", "p_less"))
        test = "every task" if len(tested) > 1 else "paired t"
    if len(diffs) > 1 and np.ptp(diffs) > 0:
        interval = stats.ttest_1samp(diffs, 0.0).confidence_interval(1 - ALPHA)
        ci = (float(interval.low), float(interval.high))
    else:
        ci = tested[0]["ci"] if len(diffs) == 1 else (diffs[0], diffs[0])
    return {"test": test, "p": p, "p_less": p_less, "diff": float(np.mean(diffs)), "ci": ci}


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values of a family (NaN, a test that did not run, stays NaN and out of
    the family)."""
    kept = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    if kept:
        values = multipletests([p_values[i] for i in kept], alpha=ALPHA, method="holm")[1]
        for i, value in zip(kept, values, strict=True):
            adjusted[i] = float(value)
    return adjusted


def check_claims(cells: pd.DataFrame, claims: tuple[Claim, ...] = CLAIMS
                ) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every claim on the leaderboard's ``cells`` (:class:`dabench.reports.leaderboard.Leaderboard`;
    main-table rows, seed-ordered ``values``): the per-task tests (with the claim's two
    ``methods``) and the per-claim summary, its verdicts Holm-corrected over the claims."""
    main = cells[cells["primary"]]
    values = {(r["task"], r["method"]): list(r["values"]) for _, r in main.iterrows()}
    per_task, summary = [], []
    for claim in claims:
        tasks = sorted({t for t, s in main[["task", "setting"]].values
                        if s == claim.setting and claim.tasks in t})  # fmt: skip
        tested = []
        for task in tasks:
            better, worse = values.get((task, claim.better)), values.get((task, claim.worse))
            if better is None or worse is None:
                continue
            if len(better) != len(worse):
                unpaired = f"{UNRESOLVED} (unpaired: {len(better)} vs {len(worse)} seeds)"
                result = {**paired_test([], []), "verdict": unpaired}
            else:
                result = paired_test(better, worse)
            tested.append(result)
            per_task.append({"claim": claim.text, "task": task, "better": _mean(better),
                             "worse": _mean(worse), **result,
                             "methods": (claim.better, claim.worse)})  # fmt: skip
        row = {"claim": claim.text, "source": claim.source, "tasks": len(tested)}
        if not tested:
            summary.append({**row, "per task": "–", "test": "–", "p": math.nan,
                            "p_less": math.nan, "diff": math.nan, "ci": (math.nan, math.nan)})  # fmt: skip
            continue
        counts = pd.Series([str(r["verdict"]).split(" (")[0] for r in tested]).value_counts()
        summary.append({**row, "per task": ", ".join(f"{n} {v}" for v, n in counts.items()),
                        **claim_test(tested)})  # fmt: skip
    table = pd.DataFrame(summary)
    table["p (Holm)"] = holm(table["p"].tolist())
    p_less = holm(table["p_less"].tolist())
    table["verdict"] = [
        "not run" if not tasks else REPRODUCED if p < ALPHA else
        CONTRADICTED if less < ALPHA else UNRESOLVED
        for tasks, p, less in zip(table["tasks"], table["p (Holm)"], p_less, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(per_task), table


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan
