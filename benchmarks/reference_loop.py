"""dabench's training step against the reference library's own DANN loop, side by side.

Run:  python benchmarks/reference_loop.py --reference DIR [--deps DIR] [--steps 1500]
          [--rounds 3] [--out reports/reference_loop.md]

``--reference``: a checkout of the reference library (Transfer-Learning-Library, whose
``examples/domain_adaptation/image_classification/dann.py`` is the loop measured); ``--deps``:
a folder with the packages its example imports and dabench does not need (``timm``, ``numba``,
``webcolors``, ``opencv-python-headless``: ``pip install --target DIR ...``), appended to its
``sys.path``. Nothing of the reference is part of dabench; the run needs three shims for today's
torch and torchvision, applied in the reference's process before it imports its package: the
type variable ``T_co`` its ``ImageList`` imports from ``torch.utils.data.dataset`` (removed from
torch), the ``model_urls`` its ResNets import from torchvision (removed; unused here), and
NumPy's ``np.float`` alias (removed in NumPy 1.24), which its GRL calls once per step as the
builtin ``float``.

**Same images.** The splits of dabench's ``digits/mnist2uci`` are written as 8-bit PNG files in
the reference's digit layout (``MNIST/image_list/mnist_train.txt`` and ``mnist_train_image/``,
the UCI target as ``USPS/``): the source-train split as MNIST's train list, target-adapt as
USPS's train list, target-test as its test list. Both sides read the same pixels, scaled to
[-1, 1] (the reference's ``Normalize(0.5, 0.5)`` and dabench's bundled form).

**Same configuration.** The reference's digit command (``dann.sh``: ``-d Digits -a lenet
--no-pool --scratch --resize-size 28 --norm-mean 0.5 --norm-std 0.5``) at dabench's batch size
(32 + 32) and ``--steps`` iterations of one epoch; SGD with lr 0.01, momentum 0.9, weight decay
1e-3, Nesterov; bottleneck 256; discriminator 1024 wide; trade-off 1 — dabench's DANN defaults.

**Measured.** Each side trains ``--steps`` steps in a fresh process on one torch thread (as a
sweep's trial on one CPU): the reference's own ``train()`` function of ``dann.py`` (its data
loading, forward, backward, optimiser and scheduler steps, meters and progress lines), timed
around the call; dabench's ``run_trial`` with one evaluation at the end, whose training time
(``samples / samples_per_s``) excludes that evaluation. The reference runs with ``-j 0`` (its
images decoded in the training process, the one CPU a trial has) and with ``-j 2`` (its default:
two loader processes beside it, i.e. more CPUs). The sides alternate in each round; the report
gives per-round times, medians and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

TASK = "digits/mnist2uci"
BATCH = 32
REFERENCE_LISTS = {  # dabench split: (reference domain folder, its list file, its image folder)
    "source_train": ("MNIST", "mnist_train.txt", "mnist_train_image"),
    "target_adapt": ("USPS", "usps_train.txt", "usps_train_image"),
    "target_test": ("USPS", "usps_test.txt", "usps_train_image"),
}


def export(root: Path) -> None:
    """The task's splits as PNG files in the reference's digit layout under ``root``."""
    import numpy as np
    from PIL import Image

    from dabench.data import get_task

    task = get_task(TASK, None, seed=0)
    for split, (domain, listed, folder) in REFERENCE_LISTS.items():
        data = task.split(split, labelled=True)  # its list format needs labels; unused to train
        (root / domain / "image_list").mkdir(parents=True, exist_ok=True)
        (root / domain / folder).mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(len(data)):
            x, y = data[i]
            pixels = ((x[0].numpy() + 1) / 2 * 255).round().clip(0, 255).astype(np.uint8)
            name = f"{folder}/{split}_{i}.png"
            Image.fromarray(pixels, mode="L").save(root / domain / name)
            lines.append(f"{name} {int(y)}")
        (root / domain / "image_list" / listed).write_text("\n".join(lines) + "\n")


def reference_side(args: argparse.Namespace) -> dict:
    """In a fresh process: the reference's ``train()`` for ``--steps`` iterations."""
    import typing

    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    examples = Path(args.reference) / "examples/domain_adaptation/image_classification"
    sys.path[:0] = [str(Path(args.reference)), str(examples)]
    if args.deps:
        sys.path.append(args.deps)
    import torch.utils.data.dataset as dataset_module
    import torchvision.models.resnet as resnet_module

    dataset_module.T_co = typing.TypeVar("T_co", covariant=True)  # type: ignore[attr-defined]
    resnet_module.model_urls = {}  # type: ignore[attr-defined]
    np.float = float  # type: ignore[attr-defined]  # its GRL's coefficient is np.float(...)
    os.chdir(examples)
    import dann as reference  # the example script; its training loop is its train()
    import utils
    from tllib.alignment.dann import DomainAdversarialLoss, ImageClassifier
    from tllib.modules.domain_discriminator import DomainDiscriminator
    from tllib.utils.data import ForeverDataIterator
    from torch import nn
    from torch.utils.data import DataLoader

    norm = {"resize_size": 28, "norm_mean": (0.5,), "norm_std": (0.5,)}
    train_t = utils.get_train_transform("res.", random_horizontal_flip=False,
                                        random_color_jitter=False, **norm)  # fmt: skip
    val_t = utils.get_val_transform("res.", **norm)
    source, target, _, _, classes, _ = utils.get_dataset(
        "Digits", args.data, ["MNIST"], ["USPS"], train_t, val_t
    )
    loaders = [ForeverDataIterator(DataLoader(d, batch_size=BATCH, shuffle=True, drop_last=True,
                                              num_workers=args.workers))
               for d in (source, target)]  # fmt: skip
    backbone = utils.get_model("lenet", pretrain=False)
    classifier = ImageClassifier(backbone, classes, bottleneck_dim=256, pool_layer=nn.Identity(),
                                 finetune=False)  # fmt: skip
    discriminator = DomainDiscriminator(in_feature=classifier.features_dim, hidden_size=1024)
    parameters = classifier.get_parameters() + discriminator.get_parameters()
    optimizer = torch.optim.SGD(parameters, 0.01, momentum=0.9, weight_decay=1e-3, nesterov=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                 lambda x: 0.01 * (1 + 0.001 * x) ** -0.75)  # fmt: skip
    adversarial = DomainAdversarialLoss(discriminator)
    options = argparse.Namespace(iters_per_epoch=args.steps, print_freq=500, trade_off=1.0)
    start = time.perf_counter()
    reference.train(*loaders, classifier, adversarial, optimizer, schedule, 0, options)
    return {"step_s": (time.perf_counter() - start) / args.steps}


def dabench_side(args: argparse.Namespace) -> dict:
    """In a fresh process: dabench's trial of the same configuration."""
    from dabench.trainable import run_trial

    config = {"method": "dann", "task": TASK, "steps": args.steps, "eval_every": args.steps,
              "batch_size": BATCH, **json.loads(args.config)}  # fmt: skip
    final = run_trial(config, threads=1)
    samples = args.steps * 2 * BATCH
    return {"step_s": samples / final["samples_per_s"] / args.steps}


def measure(args: argparse.Namespace, side: str, workers: int = 0, config: str = "{}") -> float:
    command = [sys.executable, __file__, "--side", side, "--reference", args.reference,
               "--data", str(args.data), "--steps", str(args.steps), "--workers", str(workers),
               "--config", config, *(["--deps", args.deps] if args.deps else [])]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["step_s"]


SIDES = {  # label: (side, reference loader processes, dabench config)
    "reference, -j 0": ("reference", 0, "{}"),
    "reference, -j 2": ("reference", 2, "{}"),
    "dabench (defaults)": ("dabench", 0, "{}"),
    "dabench (fp32 NCHW)": ("dabench", 0, '{"channels_last": false, "precision": "fp32"}'),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="the reference library's checkout")
    parser.add_argument("--deps", help="a folder of the packages its example needs besides ours")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/reference_loop.md"))
    parser.add_argument("--side", choices=["reference", "dabench"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--config", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side = reference_side if args.side == "reference" else dabench_side
        print(json.dumps(side(args)))
        return
    started = time.perf_counter()
    times: dict[str, list[float]] = {label: [] for label in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        args.data = Path(tmp)
        export(args.data)
        for r in range(args.rounds):
            order = list(SIDES) if r % 2 == 0 else list(SIDES)[::-1]
            for label in order:
                side, workers, config = SIDES[label]
                times[label].append(measure(args, side, workers, config))
                print(r, label, f"{times[label][-1] * 1e3:.2f} ms", flush=True)

    import torch

    from dabench import __version__

    base = times["reference, -j 0"]
    rows = []
    for label, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        rows.append(f"| {label} | " + " | ".join(f"{v * 1e3:.2f}" for v in values)
                    + f" | {statistics.median(values) * 1e3:.2f} | {ratio:.2f}× |")  # fmt: skip
    command = "python benchmarks/reference_loop.py " + " ".join(sys.argv[1:])
    args.out.write_text(f"""# dabench's training step against the reference library's DANN loop

Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command.strip()}` in
{time.perf_counter() - started:.0f} s; dabench {__version__}, torch {torch.__version__}, Python
{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; one torch thread per
process. Method, shims and configuration: the docstring of `benchmarks/reference_loop.py`.

DANN on the images of `{TASK}`, batch {BATCH} + {BATCH}, {args.steps:,} steps. Milliseconds per
training step, per round (sides alternating), median, and the median of the per-round ratios to
the reference's loop with `-j 0`:

| loop | {" | ".join(f"round {r}" for r in range(args.rounds))} | median | × reference (-j 0) |
|---|{"---:|" * args.rounds}---:|---:|
{chr(10).join(rows)}
""")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
