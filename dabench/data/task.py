"""What a task is: five disjoint splits of a source and a target domain, plus what a model needs."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.utils.data import Dataset

from dabench.task_settings import SETTINGS  # re-exported: dabench.data.SETTINGS

SPLITS = ("source_train", "source_val", "target_adapt", "target_val", "target_test")
"""``target_adapt`` is the unlabelled target data training may use; ``target_val`` and
``target_test`` are labelled and only ever evaluated on."""

IGNORE_INDEX = 255
"""Label of pixels that no loss or metric counts (segmentation), as in the reference."""


class InMemoryDataset(Dataset):
    """Inputs and labels held as two tensors (bundled tasks): indexing a batch of indices is one
    tensor operation, so the training loop never does per-sample Python work.

    ``uint8`` inputs are images stored compactly; they come out as float32 scaled to [-1, 1]
    (:math:`x / 127.5 - 1`, the reference's ``Normalize(0.5, 0.5)`` for digits); labels come out
    as int64 whatever their stored type (segmentation masks are stored as ``uint8``).

    Example::

        >>> ds = InMemoryDataset(torch.zeros(5, 2), torch.arange(5))
        >>> len(ds), ds[3][1].item(), ds.batch(torch.tensor([0, 4]))[0].shape
        (5, 3, torch.Size([2, 2]))
    """

    def __init__(self, inputs: Tensor, labels: Tensor) -> None:
        if len(inputs) != len(labels):
            raise ValueError(f"inputs and labels differ in length: {len(inputs)} vs {len(labels)}")
        self.inputs = inputs
        self.labels = labels

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return _as_float(self.inputs[index]), self.labels[index].long()

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """Inputs and labels of the samples at ``index`` (a 1-D index tensor)."""
        return _as_float(self.inputs[index]), self.labels[index].long()

    def subset(self, index: Tensor) -> InMemoryDataset:
        return InMemoryDataset(self.inputs[index], self.labels[index])


def _as_float(x: Tensor) -> Tensor:
    return x.float().div_(127.5).sub_(1.0) if x.dtype == torch.uint8 else x


class Unlabelled(Dataset):
    """A view of a dataset that yields inputs only: what training code gets for ``target_adapt``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Tensor:
        return self.dataset[index][0]

    def batch(self, index: Tensor) -> Tensor:
        return self.dataset.batch(index)[0]  # type: ignore[attr-defined]


def batchable(dataset: Dataset) -> bool:
    """Whether ``dataset.batch(index)`` serves a whole batch by tensor indexing: in-memory datasets
    and unlabelled views of them (not datasets read from disk)."""
    inner = dataset.dataset if isinstance(dataset, Unlabelled) else dataset
    return isinstance(inner, InMemoryDataset)


@dataclass(frozen=True)
class Task:
    """A domain-adaptation task.

    Attributes:
        name: registry name, e.g. ``"moons/rot40"`` or ``"office31/A2W"``.
        description: one line for ``dabench tasks``.
        setting: one of :data:`~dabench.task_settings.SETTINGS`.
        class_names: the model's output classes, in label order (open-set: the known classes, then
            ``"unknown"``).
        input_shape: shape of one input, e.g. ``(2,)`` or ``(3, 32, 32)``.
        model: name of the backbone family that suits the task (see :mod:`dabench.models`).
        splits: the five labelled splits of :data:`SPLITS`, disjoint, fixed by the seed.
        shared_classes: partial set: the source classes the target really has.
        seed: the seed the splits (and generated data) were made with.
    """

    name: str
    description: str
    setting: str
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    model: str
    splits: Mapping[str, Dataset] = field(repr=False)
    shared_classes: Sequence[int] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"setting must be one of {SETTINGS}; got {self.setting!r}")
        missing = set(SPLITS) - set(self.splits)
        if missing:
            raise ValueError(f"task {self.name!r} lacks splits {sorted(missing)}")

    @property
    def num_classes(self) -> int:
        """Number of model outputs (open-set: known classes + 1)."""
        return len(self.class_names)

    def split(self, name: str, labelled: bool | None = None) -> Dataset:
        """One split. ``target_adapt`` comes without labels unless ``labelled=True`` is asked for
        explicitly (only the target-supervised oracle baseline does that)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {name!r}")
        dataset = self.splits[name]
        if name == "target_adapt" and not labelled:
            return Unlabelled(dataset)
        return dataset

    def sizes(self) -> dict[str, int]:
        return {name: len(self.splits[name]) for name in SPLITS}  # type: ignore[arg-type]


SOURCE_FRACTIONS = (0.9, 0.1)
"""``source_train`` / ``source_val`` shares of the source domain."""
TARGET_FRACTIONS = (0.6, 0.2, 0.2)
"""``target_adapt`` / ``target_val`` / ``target_test`` shares of a target domain with one list."""


def source_splits(n: int, seed: int) -> list[Tensor]:
    """Indices of ``source_train`` and ``source_val`` (:data:`SOURCE_FRACTIONS`, seeded by ``seed``)."""
    return split_indices(n, SOURCE_FRACTIONS, seed)


def target_splits(n: int, seed: int, fractions: Sequence[float] = TARGET_FRACTIONS) -> list[Tensor]:
    """Indices of the target splits (seeded by ``seed + 1``, so they do not mirror the source's)."""
    return split_indices(n, fractions, seed + 1)


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[Tensor]:
    """A seeded random partition of ``range(n)`` into parts of the given fractions (summing to 1;
    the last part takes the rounding remainder).

    Example::

        >>> [len(p) for p in split_indices(10, [0.6, 0.2, 0.2], seed=0)]
        [6, 2, 2]
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or any(f < 0 for f in fractions):
        raise ValueError(f"fractions must be non-negative and sum to 1; got {list(fractions)}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    bounds = [round(n * sum(fractions[:i])) for i in range(len(fractions))] + [n]
    return [order[a:b] for a, b in itertools.pairwise(bounds)]
