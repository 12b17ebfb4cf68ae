"""Overhead of the shared training loop: ``run_trial`` vs a bare hand-written DANN loop.

Run:  python benchmarks/loop_overhead.py [--task digits/synth2hand] [--steps 300] [--rounds 7]
                                         [--out reports/loop_overhead.md]

Both train DANN at its defaults on the same task from the same seed: the bare loop builds the same
classifier, discriminator and DANN loss, draws the same shuffled batches by indexing the in-memory
splits, and does forward, backward, SGD step and scheduler step — nothing else (no statistics, no
checks, no stages, no reporting). ``run_trial`` is timed on its training time alone (its own
``samples_per_s``; the one evaluation at the end is excluded, as the bare loop has none). The two
alternate, ``--rounds`` times each, in one process; the report gives the medians and the median of
the per-round ratios.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from dabench import __version__
from dabench.adaptation.dann import DomainAdversarialLoss
from dabench.data import get_task
from dabench.methods.base import build_model
from dabench.modules.domain_discriminator import DomainDiscriminator
from dabench.modules.grl import WarmStartGradientReverseLayer
from dabench.trainable import resolve_config, run_trial


def bare_loop(task_name: str, steps: int, seed: int) -> float:
    """Samples per second of a minimal DANN loop (training only)."""
    config = resolve_config({"method": "dann", "task": task_name, "seed": seed})
    task = get_task(task_name, seed=0)
    torch.manual_seed(seed)
    model = build_model(task, config)
    grl = WarmStartGradientReverseLayer(1.0, 0.0, 1.0, 1000, auto_step=True)
    dann = DomainAdversarialLoss(DomainDiscriminator(model.features_dim, 1024), grl=grl)
    groups = model.get_parameters() + dann.domain_discriminator.get_parameters()
    optimizer = torch.optim.SGD(groups, 0.01, momentum=0.9, weight_decay=1e-3, nesterov=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda x: 0.01 * (1 + 0.001 * x) ** -0.75
    )
    source, target = task.split("source_train"), task.split("target_adapt")
    generator = torch.Generator().manual_seed(seed)
    order_s = torch.randperm(len(source), generator=generator)
    order_t = torch.randperm(len(target), generator=generator)
    batch = config["batch_size"]
    model.train(), dann.train()
    start = time.perf_counter()
    for step in range(steps):
        i_s = order_s[(step * batch) % (len(order_s) - batch) :][:batch]
        i_t = order_t[(step * batch) % (len(order_t) - batch) :][:batch]
        x_s, y_s = source.batch(i_s)
        x_t = target.batch(i_t)
        y, f = model(torch.cat((x_s, x_t)))
        loss = torch.nn.functional.cross_entropy(y[:batch], y_s) + dann(f[:batch], f[batch:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return 2 * batch * steps / (time.perf_counter() - start)


def shared_loop(task_name: str, steps: int, seed: int) -> float:
    """Samples per second of ``run_trial`` (its training time, evaluation excluded)."""
    config = {"method": "dann", "task": task_name, "seed": seed, "steps": steps}
    return run_trial({**config, "eval_every": steps})["samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits/synth2hand")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("reports/loop_overhead.md"))
    args = parser.parse_args()

    get_task(args.task, seed=0)  # build (and cache) the data before timing
    bare_loop(args.task, 20, 0), shared_loop(args.task, 20, 0)  # warm-up
    bare, shared = [], []
    for round_ in range(args.rounds):
        bare.append(bare_loop(args.task, args.steps, round_))
        shared.append(shared_loop(args.task, args.steps, round_))
        print(f"round {round_}: bare {bare[-1]:.0f}, run_trial {shared[-1]:.0f} samples/s")
    ratios = [b / s for b, s in zip(bare, shared, strict=True)]
    overhead = statistics.median(ratios) - 1
    command = "python " + " ".join([sys.argv[0], *sys.argv[1:]])
    rows = "\n".join(
        f"| {i} | {b:.0f} | {s:.0f} | {r:.3f} |"
        for i, (b, s, r) in enumerate(zip(bare, shared, ratios, strict=True))
    )
    args.out.write_text(f"""# Overhead of the shared training loop

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`
(dabench {__version__}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads,
{platform.machine()}, CPU).

DANN at its defaults on `{args.task}`, {args.steps} steps per run, batch 32 + 32. The bare loop
does only forward, backward, SGD step and scheduler step on batches indexed from the in-memory
splits; `run_trial` adds everything the product needs (config checks, stages, statistics kept on
the device, the per-step hooks, the NaN check and reporting at evaluation points). Both alternate in
one process; training time only (the final evaluation of `run_trial` is excluded).

| round | bare loop, samples/s | `run_trial`, samples/s | bare / run_trial |
|---|---|---|---|
{rows}

**Median: bare {statistics.median(bare):.0f} samples/s, `run_trial` {statistics.median(shared):.0f}
samples/s; the shared loop costs {100 * overhead:+.1f} % (median of the per-round ratios; goal
≤ 5 %).**
""")
    print(f"overhead {100 * overhead:+.1f} %; wrote {args.out}")


if __name__ == "__main__":
    main()
