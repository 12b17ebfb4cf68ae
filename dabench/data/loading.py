"""Batches for the training loop and for evaluation.

In-memory datasets (the bundled tasks) are batched by indexing their tensors — no DataLoader, no
per-sample Python. Other datasets (real images on disk) go through a ``DataLoader``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from dabench.data.task import batchable


def _to(batch: Tensor | tuple | list, device: torch.device) -> Tensor | tuple:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    return tuple(b.to(device, non_blocking=True) for b in batch)


class InfiniteBatches:
    """Endless shuffled batches of ``batch_size`` samples, epoch after epoch, dropping the last
    incomplete batch of each epoch (the reference's ``ForeverDataIterator`` over a
    ``shuffle=True, drop_last=True`` loader). Deterministic for the ``generator``'s seed.
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
        self.dataset, self.batch_size, self.generator, self.device = (
            dataset,
            batch_size,
            generator,
            device,
        )
        self._in_memory = batchable(dataset)
        self._order: Tensor = torch.empty(0, dtype=torch.long)
        self._position = 0
        self._loader: DataLoader | None = None
        self._iterator: Iterator | None = None
        if not self._in_memory:
            self._loader = DataLoader(
                dataset, batch_size, shuffle=True, drop_last=True, generator=generator,
                num_workers=num_workers, pin_memory=device.type == "cuda",
                persistent_workers=num_workers > 0,
            )  # fmt: skip

    def __iter__(self) -> InfiniteBatches:
        return self

    def __next__(self) -> Tensor | tuple:
        if self._loader is not None:
            if self._iterator is None:
                self._iterator = iter(self._loader)
            try:
                batch = next(self._iterator)
            except StopIteration:  # a new epoch, newly shuffled
                self._iterator = iter(self._loader)
                batch = next(self._iterator)
            return _to(batch, self.device)
        if self._position + self.batch_size > len(self._order):
            self._order = torch.randperm(len(self.dataset), generator=self.generator)  # type: ignore[arg-type]
            self._position = 0
        index = self._order[self._position : self._position + self.batch_size]
        self._position += self.batch_size
        return _to(self.dataset.batch(index), self.device)  # type: ignore[attr-defined]


def eval_batches(
    dataset: Dataset, batch_size: int, device: torch.device, num_workers: int = 0
) -> Iterator[tuple[Tensor, Tensor]]:
    """Every sample once, in order, as ``(inputs, labels)`` batches on ``device``."""
    if batchable(dataset):
        n = len(dataset)  # type: ignore[arg-type]
        for start in range(0, n, batch_size):
            yield _to(dataset.batch(torch.arange(start, min(start + batch_size, n))), device)  # type: ignore
        return
    for batch in DataLoader(dataset, batch_size, num_workers=num_workers):
        yield _to(batch, device)  # type: ignore[misc]
