"""Feature diagnostics, measured: how the A-distance moves with its domain classifier's strength,
what the optional trial metric (config ``a_distance: true``) costs per evaluation, and whether
openTSNE is materially faster than scikit-learn's TSNE at the sizes ``dabench analyze`` embeds.

Run:  python benchmarks/analysis.py --checkpoint DIR [--checkpoint DIR ...] [--rounds 3]
          [--out reports/analysis.md]

Each ``--checkpoint`` is a trained trial (``dabench train ... --checkpoint-dir DIR``). For each:

* **strength**: the proxy A-distance of its source-val and target-val features (the rows a
  trial's evaluation keeps: the first 2,000 of each split) with the domain classifier at inverse
  L2 strengths C = 0.1, 1, 10, 100, and with C chosen inside each fold by 3-fold
  cross-validation over 0.01–100 (``LogisticRegressionCV``); mean and spread over sampling seeds
  0, 1, 2, and the time of one estimate;
* **cost**: ``dabench.trainable.evaluate`` without and with ``a_distance``, alternating, for
  ``--rounds`` rounds; the extra milliseconds per evaluation are the median of the per-round
  differences;
* **t-SNE**: scikit-learn's ``TSNE`` against ``openTSNE.TSNE`` (if importable; it is not a
  dabench dependency) on the balanced sample ``dabench analyze`` embeds (up to 500 per domain),
  both on one thread, alternating, ``--rounds`` rounds; the median of the per-round ratios.

Everything runs single-threaded for BLAS and OpenMP (``threadpoolctl``), as dabench.analysis
does. The machine may be shared: compare rows of one run rather than runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dabench import __version__, analysis
from dabench.reports.features import features
from dabench.trainable import VALIDATOR_ROWS, evaluate, read_checkpoint, restore

STRENGTHS = (0.1, 1.0, 10.0, 100.0)
CV_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


def cross_validated_error(f_s: np.ndarray, f_t: np.ndarray, seed: int) -> float:
    """:func:`dabench.analysis.domain_error` with C chosen by 3-fold CV inside each fold."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    s, t = analysis.balanced_sample(len(f_s), len(f_t), analysis.A_DISTANCE_SAMPLES, seed)
    x = np.concatenate((f_s[s], f_t[t]))
    domain = np.r_[np.zeros(len(s)), np.ones(len(t))]
    folds = StratifiedKFold(analysis.A_DISTANCE_FOLDS, shuffle=True, random_state=seed)
    wrong = 0
    for fit, held_out in folds.split(x, domain):
        classifier = make_pipeline(StandardScaler(), LogisticRegressionCV(
            Cs=list(CV_GRID), cv=3, solver="newton-cholesky", max_iter=100, l1_ratios=(0.0,),
            scoring="accuracy", use_legacy_attributes=False,
        ))  # fmt: skip
        classifier.fit(x[fit], domain[fit])
        wrong += int((classifier.predict(x[held_out]) != domain[held_out]).sum())
    return wrong / len(x)


def strength_rows(name: str, f_s: np.ndarray, f_t: np.ndarray) -> list[str]:
    rows = []
    variants = {f"C = {c:g}": (lambda seed, c=c: analysis.domain_error(f_s, f_t, c=c, seed=seed))
                for c in STRENGTHS}  # fmt: skip
    variants["C by 3-fold CV"] = lambda seed: cross_validated_error(f_s, f_t, seed)
    for label, error in variants.items():
        distances, seconds = [], []
        for seed in range(3):
            start = time.perf_counter()
            distances.append(analysis.proxy_distance(error(seed)))
            seconds.append(time.perf_counter() - start)
        rows.append(f"| {name} | {label} | {np.mean(distances):.3f} | "
                    f"{np.max(distances) - np.min(distances):.3f} | "
                    f"{statistics.median(seconds) * 1000:.0f} |")  # fmt: skip
    return rows


def cost_rows(name: str, recipe, task, rounds: int) -> list[str]:
    rows, extra = [], []
    device = torch.device("cpu")
    for round_ in range(rounds):
        start = time.perf_counter()
        evaluate(recipe, task, 512, device)
        without = time.perf_counter() - start
        start = time.perf_counter()
        metrics = evaluate(recipe, task, 512, device, a_distance=True)
        with_ = time.perf_counter() - start
        extra.append(with_ - without)
        rows.append(f"| {name} | {round_ + 1} | {without * 1000:.0f} | {with_ * 1000:.0f} | "
                    f"{(with_ - without) * 1000:.0f} | {metrics['a_distance']:.3f} |")  # fmt: skip
    rows.append(f"| {name} | **median** | | | **{statistics.median(extra) * 1000:.0f}** | |")
    return rows


def tsne_rows(name: str, f_s: np.ndarray, f_t: np.ndarray, rounds: int) -> list[str]:
    from sklearn.manifold import TSNE

    try:
        import openTSNE
    except ImportError:
        openTSNE = None
    s, t = analysis.balanced_sample(len(f_s), len(f_t), analysis.TSNE_SAMPLES, 0)
    x = np.concatenate((f_s[s], f_t[t])).astype(np.float32)
    rows, ratios = [], []
    for round_ in range(rounds):
        with threadpool_limits(1):
            start = time.perf_counter()
            TSNE(2, perplexity=30, init="pca", random_state=round_, n_jobs=1).fit_transform(x)
            sk = time.perf_counter() - start
            other = float("nan")
            if openTSNE is not None:
                start = time.perf_counter()
                openTSNE.TSNE(perplexity=30, initialization="pca", random_state=round_,
                              n_jobs=1).fit(x)  # fmt: skip
                other = time.perf_counter() - start
        ratios.append(sk / other)
        rows.append(f"| {name} | {len(x)} | {round_ + 1} | {sk:.2f} | {other:.2f} | "
                    f"{sk / other:.2f} |")  # fmt: skip
    rows.append(f"| {name} | {len(x)} | **median** | | | **{statistics.median(ratios):.2f}** |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/analysis.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    strengths, costs, tsnes, made = [], [], [], []
    for path in args.checkpoint:
        state = read_checkpoint(path)
        cfg = state["config"]
        name = f"{cfg['method']} on {cfg['task']} ({cfg['steps']} steps)"
        accuracy = state["metrics"].get("target_test_acc", float("nan"))
        made.append(f"* `{path}`: `dabench train --method {cfg['method']} --task {cfg['task']} "
                    f"--steps {cfg['steps']} --eval-every {cfg['eval_every']} --seed "
                    f"{cfg['seed']} --device {cfg['device']} --checkpoint-dir {path}` "
                    f"(target-test accuracy {accuracy:.1f} %)")  # fmt: skip
        recipe, task = restore(state, device="cpu")
        f_s = features(recipe, task, "source_val")[0][:VALIDATOR_ROWS].double().numpy()
        f_t = features(recipe, task, "target_val")[0][:VALIDATOR_ROWS].double().numpy()
        name += f", {len(f_s)} + {len(f_t)} rows"
        print(name, flush=True)
        strengths += strength_rows(name, f_s, f_t)
        costs += cost_rows(name, recipe, task, args.rounds)
        tsnes += tsne_rows(name, f_s, f_t, args.rounds)
    try:
        import openTSNE

        other = f"openTSNE {openTSNE.__version__}"
    except ImportError:
        other = "openTSNE (not installed)"
    command = (
        "python benchmarks/analysis.py "
        + " ".join(f"--checkpoint {p}" for p in args.checkpoint)
        + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
    )
    import sklearn

    text = "\n".join([
        "# Feature diagnostics: A-distance classifier, trial-metric cost, t-SNE speed", "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`",
        f"(dabench {__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"{other}; Python {platform.python_version()}, {platform.processor() or 'CPU'}; one "
        "thread for torch, BLAS and OpenMP). The machine is shared: compare rows of one run, "
        "not runs.", "",
        "The checkpoints (each the config of the command beside it; defaults elsewhere):", "",
        *made, "",
        "## The A-distance's domain classifier: inverse L2 strength C", "",
        "Proxy A-distance of the source-val and target-val features (mean over sampling seeds "
        "0–2, their range, and the median time of one estimate: 5 folds).", "",
        "| model | classifier | A-distance | range over seeds | ms |", "|---|---|---|---|---|",
        *strengths, "",
        "## Cost of `a_distance: true` per evaluation", "",
        "`dabench.trainable.evaluate` (every split and validator) without and with the "
        "A-distance, alternating.", "",
        "| model | round | without (ms) | with (ms) | extra (ms) | a_distance |",
        "|---|---|---|---|---|---|", *costs, "",
        "## t-SNE: scikit-learn against openTSNE", "",
        "The balanced sample `dabench analyze` embeds (≤ 500 per domain), both on one thread, "
        "alternating; ratio = scikit-learn's time / openTSNE's.", "",
        "| model | points | round | scikit-learn (s) | openTSNE (s) | ratio |",
        "|---|---|---|---|---|---|", *tsnes, "",
    ])  # fmt: skip
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
