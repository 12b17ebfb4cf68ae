"""Batches for the training loop and for evaluation.

In-memory datasets (the bundled tasks) are batched by indexing their tensors — no DataLoader, no
per-sample Python; on a GPU they are copied to it once, so a training step copies nothing from
the host. Other datasets (real images on disk) go through a ``DataLoader``: ``num_workers``
processes decode images while the model trains (kept alive across epochs), into pinned memory on
a GPU, whence batches are copied without blocking the host.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from dabench.data.task import InMemoryDataset, Unlabelled, batchable


def _to(batch: Tensor | tuple | list, device: torch.device) -> Tensor | tuple:
    """``batch`` on ``device``; from pinned memory the copy does not block the host (CUDA
    orders it before any kernel that reads it)."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    return tuple(b.to(device, non_blocking=True) for b in batch)


def resident(dataset: Dataset, device: torch.device) -> Dataset:
    """An in-memory dataset (or an unlabelled view of one) with its tensors on ``device``,
    copied once (bundled tasks are a few MB); any other dataset unchanged."""
    if device.type == "cpu":
        return dataset
    if isinstance(dataset, InMemoryDataset):
        return InMemoryDataset(dataset.inputs.to(device), dataset.labels.to(device))
    if isinstance(dataset, Unlabelled) and isinstance(dataset.dataset, InMemoryDataset):
        return Unlabelled(resident(dataset.dataset, device))
    return dataset


class _RestOfEpoch(Sampler[int]):
    """The indices an :class:`InfiniteBatches` still has to yield in its current epoch, read
    when its ``DataLoader`` starts iterating (so one loader, and its workers, serve every
    epoch)."""

    def __init__(self, batches: InfiniteBatches) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[int]:
        return iter(self.batches._order[self.batches._loader_start :].tolist())

    def __len__(self) -> int:
        return len(self.batches._order) - self.batches._loader_start


class InfiniteBatches:
    """Endless shuffled batches of ``batch_size`` samples, epoch after epoch, dropping the last
    incomplete batch of each epoch (the reference's ``ForeverDataIterator`` over a
    ``shuffle=True, drop_last=True`` loader). Deterministic for the ``generator``'s seed, and
    resumable: :meth:`state_dict` holds the epoch's order and position (the generator's own state
    is the caller's to save, as several iterators may share it).

    In-memory datasets are batched by indexing (on a GPU, from a copy of the dataset on it);
    others through one ``DataLoader`` over each epoch's remaining order, whose ``num_workers``
    processes persist across epochs.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        num_workers: int = 0,
    ) -> None:
        n = len(dataset)  # type: ignore[arg-type]
        if n < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({n} samples)")
        self._in_memory = batchable(dataset)
        if self._in_memory:
            dataset = resident(dataset, device)
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator
        self.device, self.num_workers = device, num_workers
        self._loader: DataLoader | None = None
        self._loader_start = 0  # where in the epoch's order the loader's iterator began
        self._order: Tensor = torch.empty(0, dtype=torch.long)
        self._position = 0
        self._iterator: Iterator | None = None

    def __iter__(self) -> InfiniteBatches:
        return self

    def __next__(self) -> Tensor | tuple:
        if self._position + self.batch_size > len(self._order):  # a new epoch, newly shuffled
            self._order = torch.randperm(len(self.dataset), generator=self.generator)  # type: ignore[arg-type]
            self._position, self._iterator = 0, None
        start = self._position
        self._position += self.batch_size
        if self._in_memory:
            index = self._order[start : self._position]
            return _to(self.dataset.batch(index), self.device)  # type: ignore[attr-defined]
        if self._iterator is None:
            if self._loader is None:
                self._loader = DataLoader(
                    self.dataset, self.batch_size, sampler=_RestOfEpoch(self), drop_last=True,
                    num_workers=self.num_workers, pin_memory=self.device.type == "cuda",
                    persistent_workers=self.num_workers > 0,
                )  # fmt: skip
            self._loader_start = start
            self._iterator = iter(self._loader)
        return _to(next(self._iterator), self.device)

    def state_dict(self) -> dict[str, Any]:
        """Where the iterator is: the current epoch's order and the next position in it."""
        return {"order": self._order.clone(), "position": self._position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._order, self._position, self._iterator = state["order"], state["position"], None


class EvalBatches:
    """Every sample of ``dataset`` once, in order, on ``device``: ``(inputs, labels)`` batches,
    or input batches for an unlabelled dataset. Iterable any number of times."""

    def __init__(
        self, dataset: Dataset, batch_size: int, device: torch.device, num_workers: int = 0
    ) -> None:
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.num_workers = num_workers

    def __iter__(self) -> Iterator:
        dataset, size = self.dataset, self.batch_size
        if batchable(dataset):
            n = len(dataset)  # type: ignore[arg-type]
            for start in range(0, n, size):
                index = torch.arange(start, min(start + size, n))
                yield _to(dataset.batch(index), self.device)  # type: ignore[attr-defined]
            return
        loader = DataLoader(dataset, size, num_workers=self.num_workers,
                            pin_memory=self.device.type == "cuda")  # fmt: skip
        for batch in loader:
            yield _to(batch, self.device)


def eval_batches(
    dataset: Dataset, batch_size: int, device: torch.device, num_workers: int = 0
) -> Iterator[tuple[Tensor, Tensor]]:
    """Every sample once, in order, as ``(inputs, labels)`` batches on ``device``."""
    return iter(EvalBatches(dataset, batch_size, device, num_workers))
