"""Bundled tasks: generated on the fly from data that installed packages ship, cached per seed.

Each task is built from a source and a target domain held in memory (:class:`InMemoryDataset`):
the source is split 90/10 into ``source_train``/``source_val``, the target 60/20/20 into
``target_adapt``/``target_val``/``target_test`` (seeded). Generated data are cached in memory and on
disk (``$DABENCH_CACHE``, default ``~/.cache/dabench``), so the trials of a sweep — also in other
processes — do not generate them again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dabench.data import generators as gen
from dabench.data.registry import register_task
from dabench.data.task import IGNORE_INDEX, InMemoryDataset, Task, source_splits, target_splits

CACHE_VERSION = 2
"""Bump when a generator changes, so stale cache files are not reused."""

DIGITS = tuple(str(d) for d in range(10))
DIGIT_SAMPLES = 10_000
"""Generated images per domain for the digit tasks: adversarial alignment needs thousands."""


def cache_dir() -> Path:
    return Path(os.environ.get("DABENCH_CACHE", Path.home() / ".cache" / "dabench"))


def _cached(key: str, seed: int, build: Callable[[np.random.Generator], dict[str, np.ndarray]]):
    """Arrays from ``build(rng)``, stored as ``<cache>/<key>-seed<seed>-v<N>.pt`` (loaded with
    ``weights_only=True``); a cache that cannot be written is skipped, not an error."""
    path = cache_dir() / f"{key.replace('/', '_')}-seed{seed}-v{CACHE_VERSION}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    arrays = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in build(np.random.default_rng(seed)).items()
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
    description: str,
    setting: str,
    class_names: tuple[str, ...],
    model: str,
    seed: int,
    source: tuple[Tensor, Tensor],
    target: tuple[Tensor, Tensor],
    shared_classes: tuple[int, ...] | None = None,
) -> Task:
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
        name, description, setting, class_names, input_shape, model, splits, shared_classes, seed
    )


# --- two moons ----------------------------------------------------------------------------------

MOONS = "moons/rot40"


@register_task(MOONS, "two moons → two moons rotated 40° (2-D toy, MLP)", "closed", "mlp")
def moons_task(root: Path | None, seed: int) -> Task:
    data = _moons(seed)
    return _make_task(
        MOONS, "two moons → rotated two moons", "closed", ("upper", "lower"), "mlp", seed,
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


def _digits(seed: int, domain: str, rgb: bool, classes: tuple[int, ...] | None = None):
    data = _digit_domains(seed)
    x, y = data[domain], data[f"{domain}_y"]
    if rgb and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        x, y = x[keep], y[keep]
    return x.contiguous(), y


DIGIT_TASKS = {
    # name: (description, source domain, target domain, rgb)
    "digits/synth2hand": (
        "font-rendered digits → real handwritten digits (SynDigits→MNIST-like, 28×28 grey, LeNet)",
        "synth", "hand", False,
    ),
    "digits/synth2blend": (
        "font-rendered digits → digits blended with photos (MNIST→MNIST-M-like, 28×28 RGB, LeNet)",
        "synth", "blend", True,
    ),
    "digits/hand2synth": (
        "1,797 real handwritten digits → font-rendered digits (USPS→MNIST-like, 28×28 grey, LeNet)",
        "hand", "synth2", False,
    ),
}  # fmt: skip


def _register_digit_task(name: str, description: str, source: str, target: str, rgb: bool) -> None:
    @register_task(name, description, "closed", "lenet")
    def factory(root: Path | None, seed: int) -> Task:
        return _make_task(
            name, description, "closed", DIGITS, "lenet", seed,
            _digits(seed, source, rgb), _digits(seed, target, rgb),
        )  # fmt: skip


for _name, (_description, _source, _target, _rgb) in DIGIT_TASKS.items():
    _register_digit_task(_name, _description, _source, _target, _rgb)

OPEN_SET_KNOWN = 6
"""Open-set digits: classes 0–5 are known (in both domains); 6–9 appear only in the target, all
labelled "unknown" (label 6) — the reference's convention (first classes public, rest private)."""

PARTIAL_SHARED = (0, 1, 2, 3, 4)
"""Partial digits: the source has all 10 classes, the target only 0–4 (labels not renumbered)."""


@register_task(
    "digits-openset/synth2blend",
    "open-set: rendered digits 0–5 → blended digits 0–9, 6–9 unknown (28×28 RGB, LeNet)",
    "open_set",
    "lenet",
)
def digits_openset(root: Path | None, seed: int) -> Task:
    known = tuple(range(OPEN_SET_KNOWN))
    source = _digits(seed, "synth", True, known)
    x, y = _digits(seed, "blend", True)
    target = (x, torch.clamp(y, max=OPEN_SET_KNOWN))
    return _make_task(
        "digits-openset/synth2blend", "open-set rendered → blended digits", "open_set",
        (*DIGITS[:OPEN_SET_KNOWN], "unknown"), "lenet", seed, source, target,
    )  # fmt: skip


@register_task(
    "digits-partial/synth2blend",
    "partial: rendered digits 0–9 → blended digits 0–4 only (28×28 RGB, LeNet)",
    "partial",
    "lenet",
)
def digits_partial(root: Path | None, seed: int) -> Task:
    return _make_task(
        "digits-partial/synth2blend", "partial rendered → blended digits", "partial", DIGITS,
        "lenet", seed, _digits(seed, "synth", True), _digits(seed, "blend", True, PARTIAL_SHARED),
        shared_classes=PARTIAL_SHARED,
    )  # fmt: skip


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


@register_task(
    SHAPES,
    "segmentation: flat-coloured shapes → photo-textured, relit, noisy shapes (64×64, small FCN)",
    "segmentation",
    "small_fcn",
)
def shapes_task(root: Path | None, seed: int) -> Task:
    data = _scenes(seed)
    return _make_task(
        SHAPES, "flat → textured shape scenes", "segmentation", SHAPE_CLASSES, "small_fcn", seed,
        (data["xs"], data["ys"]), (data["xt"], data["yt"]),
    )  # fmt: skip
