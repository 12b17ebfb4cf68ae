"""The literature's claims about the methods, tested on a leaderboard rather than assumed.

**A claim** is an ordering a paper reports: ``better`` above ``worse`` on the tasks of a setting
(optionally only the tasks whose name contains ``tasks``), each method under the leaderboard's
main-table selection (label-free; the oracle is never used here).

**Per task**, the two methods' re-trained picks ran with the same fresh seeds (``dabench rerun``
gives every sweep's picks the seeds ``s+1 … s+n``), so their values pair by seed. With
differences :math:`d_i = x^{better}_i - x^{worse}_i` over :math:`n \\ge 2` seeds, the paired
t-test's statistic is :math:`t = \\bar d / (s_d / \\sqrt n)` with :math:`n-1` degrees of freedom;
``p`` is its one-sided p-value for :math:`\\bar d > 0`. The task's verdict at level
:data:`ALPHA`: *reproduced* when ``p < ALPHA``; *contradicted* when the opposite one-sided test
rejects (:math:`\\bar d < 0` significantly); otherwise *not resolved*.

**Across tasks** (a claim that covers several), the Wilcoxon signed-rank test of the per-task
mean differences, one-sided for "better > worse" (exact null distribution). With :math:`k`
tasks its smallest attainable p-value is :math:`2^{-k}`, so it can reject at 0.05 from
:math:`k = 5` on. The claim's verdict: the Wilcoxon test's when it can resolve; with fewer
tasks, *reproduced* when every task reproduces it, *contradicted* when some task contradicts it
and none reproduces it, otherwise *not resolved*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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


def paired_test(better: list[float], worse: list[float]) -> dict[str, float | str | int]:
    """The per-task test of the module doc on two seed-ordered value lists of equal length."""
    d = np.asarray(better, float) - np.asarray(worse, float)
    n = len(d)
    result: dict[str, float | str | int] = {"n": n, "diff": float(d.mean()) if n else math.nan,
                                            "p": math.nan, "verdict": UNRESOLVED}  # fmt: skip
    if n < 2:
        return result
    if np.allclose(d, d[0]):  # no spread: the t statistic is undefined
        p_greater = 0.0 if d[0] > 0 else 1.0
        p_less = 0.0 if d[0] < 0 else 1.0
    else:
        p_greater = float(stats.ttest_rel(better, worse, alternative="greater").pvalue)
        p_less = float(stats.ttest_rel(better, worse, alternative="less").pvalue)
    result["p"] = p_greater
    result["verdict"] = (REPRODUCED if p_greater < ALPHA else
                         CONTRADICTED if p_less < ALPHA else UNRESOLVED)  # fmt: skip
    return result


def across_tasks(diffs: list[float]) -> tuple[float, str]:
    """Wilcoxon signed-rank p (one-sided, better > worse) of per-task mean differences, and its
    verdict (``""`` when ``k`` tasks cannot reach :data:`ALPHA`: :math:`2^{-k} \\ge` ALPHA)."""
    k = len(diffs)
    if k < 2 or all(d == 0 for d in diffs):
        return math.nan, ""
    p_greater = float(stats.wilcoxon(diffs, alternative="greater", method="exact").pvalue)
    p_less = float(stats.wilcoxon(diffs, alternative="less", method="exact").pvalue)
    if 2.0**-k >= ALPHA:
        return p_greater, ""
    return p_greater, (REPRODUCED if p_greater < ALPHA else
                       CONTRADICTED if p_less < ALPHA else UNRESOLVED)  # fmt: skip


def check_claims(cells: pd.DataFrame, claims: tuple[Claim, ...] = CLAIMS
                ) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every claim on the leaderboard's ``cells`` (:class:`dabench.reports.leaderboard.Leaderboard`;
    main-table rows, seed-ordered ``values``): the per-task tests (with the claim's two
    ``methods``) and the per-claim summary."""
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
                result = {"n": 0, "diff": math.nan, "p": math.nan, "verdict": unpaired}
            else:
                result = paired_test(better, worse)
            tested.append(result)
            per_task.append({"claim": claim.text, "task": task, "better": _mean(better),
                             "worse": _mean(worse), **result,
                             "methods": (claim.better, claim.worse)})  # fmt: skip
        if not tested:
            summary.append({"claim": claim.text, "source": claim.source, "tasks": 0,
                            "per task": "–", "wilcoxon p": math.nan, "verdict": "not run"})  # fmt: skip
            continue
        verdicts = [str(r["verdict"]) for r in tested]
        diffs = [float(r["diff"]) for r in tested if not math.isnan(float(r["diff"]))]
        p, verdict = across_tasks(diffs)
        if not verdict:
            reproduced = sum(v == REPRODUCED for v in verdicts)
            contradicted = sum(v == CONTRADICTED for v in verdicts)
            verdict = (REPRODUCED if reproduced == len(verdicts) else
                       CONTRADICTED if contradicted and not reproduced else UNRESOLVED)  # fmt: skip
        counts = pd.Series([v.split(" (")[0] for v in verdicts]).value_counts()
        summary.append({"claim": claim.text, "source": claim.source, "tasks": len(tested),
                        "per task": ", ".join(f"{n} {v}" for v, n in counts.items()),
                        "wilcoxon p": p, "verdict": verdict})  # fmt: skip
    return pd.DataFrame(per_task), pd.DataFrame(summary)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan
