"""``dabench leaderboard``: MLflow runs → pandas → markdown, CSV or LaTeX tables, and plots."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import t as student_t

CONFIDENCE = 0.95
METHOD_ORDER = ("source_only", "dann", "cdan", "adda", "bsp", "osbp", "pada", "iwan", "advent")
REFERENCE = ("source_only", "target_oracle")  # baseline and upper bound: rows, not contenders


def methods_for(setting: str) -> list[str]:
    """The registered methods of ``setting`` in table order: source-only, the adversarial methods
    (in :data:`METHOD_ORDER`, then any other registered one by name), the target oracle last."""
    from dabench.methods import METHODS

    names = [m for m in METHODS if setting in METHODS[m].settings]
    known = [m for m in METHOD_ORDER if m in names]
    others = sorted(set(names) - set(known) - {"target_oracle"})
    return [*known, *others, *(["target_oracle"] if "target_oracle" in names else [])]


def mean_ci(values: Sequence[float], level: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean:
    ``t_{(1+level)/2, n-1} · s / √n`` with ``s`` the sample standard deviation. The half-width
    is NaN for fewer than two values (no spread to estimate); both are NaN for none."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), math.nan
    half = student_t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)
