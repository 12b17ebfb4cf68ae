"""Forward+backward time of every loss on CPU at realistic sizes, and BSP's σ₁² vs a full SVD.

Run:  python benchmarks/loss_microbench.py [--out reports/loss_microbench.md] [--min-run-time 1.0]

Each row is timed with ``torch.utils.benchmark.Timer.blocked_autorange`` (median and interquartile
range over repeated blocks). The BSP comparison times the three ways of getting σ₁² side by side, in
one process, on the same inputs, and reports the ratio of medians, since absolute times on a shared
machine drift.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch.utils import benchmark

from dabench import __version__
from dabench.adaptation import adda, advent, bsp, cdan, dann, iwan, osbp, pada
from dabench.modules.domain_discriminator import DomainDiscriminator

BATCH, FEATURES, CLASSES = 32, 256, 31


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def leaf(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, requires_grad=True)


def case_dann() -> Callable[[], None]:
    loss = dann.DomainAdversarialLoss(DomainDiscriminator(FEATURES, 1024))
    f_s, f_t = leaf(BATCH, FEATURES), leaf(BATCH, FEATURES)
    return lambda: loss(f_s, f_t).backward()


def case_cdan(randomized: bool) -> Callable[[], None]:
    width = 1024 if randomized else FEATURES * CLASSES
    loss = cdan.ConditionalDomainAdversarialLoss(
        DomainDiscriminator(width, 1024),
        entropy_conditioning=True,
        randomized=randomized,
        num_classes=CLASSES,
        features_dim=FEATURES,
        randomized_dim=1024,
    )
    g_s, f_s, g_t, f_t = (
        leaf(BATCH, CLASSES),
        leaf(BATCH, FEATURES),
        leaf(BATCH, CLASSES),
        leaf(BATCH, FEATURES),
    )
    return lambda: loss(g_s, f_s, g_t, f_t).backward()


def case_adda() -> Callable[[], None]:
    D, loss = DomainDiscriminator(FEATURES, 1024), adda.DomainAdversarialLoss()
    f_s, f_t = leaf(BATCH, FEATURES), leaf(BATCH, FEATURES)
    return lambda: (loss(D(f_s), "source") + loss(D(f_t), "target")).backward()


def case_bsp(n: int) -> Callable[[], None]:
    loss = bsp.BatchSpectralPenalizationLoss()
    f_s, f_t = leaf(n, FEATURES), leaf(n, FEATURES)
    return lambda: loss(f_s, f_t).backward()


def case_osbp() -> Callable[[], None]:
    loss, y = osbp.UnknownClassBinaryCrossEntropy(0.5), leaf(BATCH, CLASSES + 1)
    return lambda: loss(y).backward()


def case_pada() -> Callable[[], None]:
    """One class-weight update from 1,000 target logits plus the weighted DANN loss."""
    weights, loss = (
        pada.ClassWeightModule(0.1),
        dann.DomainAdversarialLoss(DomainDiscriminator(FEATURES, 1024)),
    )
    logits, labels = torch.randn(1000, CLASSES), torch.randint(CLASSES, (BATCH,))
    f_s, f_t = leaf(BATCH, FEATURES), leaf(BATCH, FEATURES)

    def step() -> None:
        w_s = weights(logits)[labels]
        loss(f_s, f_t, w_s, torch.full_like(w_s, float(w_s.mean()))).backward()

    return step


def case_iwan() -> Callable[[], None]:
    D, D0 = (
        DomainDiscriminator(FEATURES, 1024, batch_norm=False),
        DomainDiscriminator(FEATURES, 1024, batch_norm=False),
    )
    weights, adv_D, adv_D0 = (
        iwan.ImportanceWeightModule(D),
        dann.DomainAdversarialLoss(D),
        dann.DomainAdversarialLoss(D0),
    )
    f_s, f_t = leaf(BATCH, FEATURES), leaf(BATCH, FEATURES)

    def step() -> None:
        w_s = weights.get_importance_weight(f_s)
        (adv_D(f_s.detach(), f_t.detach()) + adv_D0(f_s, f_t, w_s)).backward()

    return step


def case_advent() -> Callable[[], None]:
    loss = advent.DomainAdversarialEntropyLoss(advent.Discriminator(19))
    logits = leaf(2, 19, 128, 256)
    return lambda: loss(logits, "source").backward()


def time_it(fn: Callable[[], None], min_run_time: float) -> benchmark.Measurement:
    return benchmark.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(
        min_run_time=min_run_time
    )


SIGMA1_WAYS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "full SVD (reference: torch.svd)": lambda f: torch.linalg.svd(f, full_matrices=False).S[0] ** 2,
    "torch.linalg.svdvals": lambda f: torch.linalg.svdvals(f)[0] ** 2,
    "Gram + eigvalsh (dabench)": bsp.largest_singular_value_squared,
}


def fwd_bwd(way: Callable[[torch.Tensor], torch.Tensor], f: torch.Tensor) -> Callable[[], None]:
    return lambda: way(f).backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/loss_microbench.md"))
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per measurement")
    args = parser.parse_args()
    torch.manual_seed(0)

    cases = {
        f"DANN (D 256→1024, batch {BATCH}+{BATCH})": case_dann(),
        "CDAN multilinear (256×31 = 7936 → 1024), entropy": case_cdan(False),
        "CDAN randomized (1024 → 1024), entropy": case_cdan(True),
        "ADDA (D on source + target)": case_adda(),
        **{f"BSP (256-d, batch {n}+{n})": case_bsp(n) for n in (32, 36, 64)},
        "OSBP (32 classes incl. unknown)": case_osbp(),
        "PADA (weights from 1,000 logits + weighted DANN)": case_pada(),
        "IWAN (weights + two DANN losses, dropout D)": case_iwan(),
        "ADVENT (19 classes, 2×128×256 maps)": case_advent(),
    }
    rows = []
    for name, fn in cases.items():
        m = time_it(fn, args.min_run_time)
        rows.append(f"| {name} | {m.median * 1e3:.3f} | {m.iqr * 1e3:.3f} |")
        print(rows[-1], flush=True)

    bsp_rows = []
    for n in (32, 36, 64):
        f = leaf(n, FEATURES)

        medians = {
            name: time_it(fwd_bwd(way, f), args.min_run_time).median
            for name, way in SIGMA1_WAYS.items()
        }
        ours = medians["Gram + eigvalsh (dabench)"]
        svd = medians["full SVD (reference: torch.svd)"]
        cells = " | ".join(f"{medians[k] * 1e6:.1f}" for k in SIGMA1_WAYS)
        bsp_rows.append(f"| {n}×{FEATURES} | {cells} | {svd / ours:.1f}× |")
        print(bsp_rows[-1], flush=True)

    command = "python " + " ".join([sys.argv[0], *sys.argv[1:]])
    header = " | ".join(SIGMA1_WAYS)
    report = f"""# Loss micro-benchmark (CPU, forward + backward)

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`
(dabench {__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads,
Python {platform.python_version()}, {cpu_name()}).
Times from `torch.utils.benchmark.Timer.blocked_autorange` (min run time {args.min_run_time} s each);
the machine is shared, so compare rows of one run rather than runs.

## Every loss, one forward + backward

| loss (sizes) | median ms | IQR ms |
|---|---|---|
{chr(10).join(rows)}

## BSP: σ₁² of one feature matrix, forward + backward (µs, medians, side by side)

| matrix | {header} | full SVD / dabench |
|---|---|---|---|---|
{chr(10).join(bsp_rows)}

All three give the same value (tests/test_adda_bsp_osbp.py checks value and gradient against the
SVD to 1e-8 in float64).
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
