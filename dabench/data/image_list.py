"""The reference's image-list format: a text file of ``<relative/path> <integer label>`` lines
(the Transfer-Learning-Library's lists can be used as they are) and the dataset it describes."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import Dataset


class DatasetNotFoundError(FileNotFoundError, ValueError):
    """A dataset root, list file or image is missing. Both a ``FileNotFoundError`` and a
    ``ValueError``, so code that reports bad task arguments (``ValueError``) reports it too."""


MODES = ("RGB", "L")


def parse_image_list(
    list_file: str | os.PathLike[str], root: str | os.PathLike[str], num_classes: int | None = None
) -> list[tuple[str, int]]:
    """Read an image-list file into ``(path, label)`` pairs.

    Each non-blank line is ``<path> <integer label>``: the last whitespace-separated token is the
    label, the tokens before it, joined by single spaces, the path (so paths may contain spaces), as
    in the reference. Relative paths are joined to ``root``; absolute ones are kept.

    Raises:
        ValueError: a line without a path and an integer label, or (given ``num_classes``) a label
            outside ``0..num_classes-1``; the message names the file and the line.

    Example::

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "l.txt").write_text("a/x 1.jpg 3\\n\\nb/y.jpg 0\\n")
        ...     [(Path(p).relative_to(d).as_posix(), y) for p, y in parse_image_list(f"{d}/l.txt", d)]
        [('a/x 1.jpg', 3), ('b/y.jpg', 0)]
    """
    list_file, root = Path(list_file), Path(root)
    samples = []
    with open(list_file, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            where = f"{list_file}, line {number}"
            try:
                label = int(tokens[-1])
            except ValueError:
                label = None
            if len(tokens) < 2 or label is None:
                raise ValueError(
                    f"{where}: expected '<relative/path/to/image> <integer label>', "
                    f"got {line.rstrip()!r}"
                ) from None
            if label < 0 or (num_classes is not None and label >= num_classes):
                accepted = "≥ 0" if num_classes is None else f"in 0..{num_classes - 1}"
                raise ValueError(f"{where}: label {label} is not {accepted}; got {line.rstrip()!r}")
            samples.append((str(root / " ".join(tokens[:-1])), label))
    return samples


class ImageList(Dataset):
    """Images listed in a text file, one ``<path> <label>`` line each (the reference's format).

    The list is read and checked when the dataset is made: a missing root or list file, a
    malformed line, an out-of-range label or a missing first image raise at once (not in the
    middle of training). Images are opened with PIL when a sample is read, converted with
    ``.convert(mode)`` and passed through ``transform``; an unreadable or corrupt image raises an
    ``OSError`` naming its path.

    Args:
        root: folder the list's relative paths start from.
        list_file: the list, relative to ``root`` (or absolute), e.g. ``"image_list/amazon.txt"``.
        transform: applied to the PIL image (e.g. a torchvision pipeline ending in ``ToTensor``).
        target_transform: applied to the integer label.
        mode: PIL mode the images are converted to: ``"RGB"`` (default) or ``"L"`` (grey).
        classes: class names in label order; labels must index them.
        layout: the expected folder layout, quoted in the error messages.
        hint: where to get the data, appended to the messages for missing files.

    Example::

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("RGB", (4, 4)).save(f"{d}/cat.png")
        ...     _ = (Path(d) / "list.txt").write_text("cat.png 1\\n")
        ...     ds = ImageList(d, "list.txt", classes=("dog", "cat"))
        ...     len(ds), ds.targets, ds[0][0].size, ds[0][1]
        (1, [1], (4, 4), 1)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        list_file: str | os.PathLike[str],
        transform: Callable[[Image.Image], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        mode: str = "RGB",
        classes: Sequence[str] | None = None,
        layout: str = "",
        hint: str = "",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}")
        self.root = Path(root)
        self.list_file = self.root / list_file
        self.transform, self.target_transform, self.mode = transform, target_transform, mode
        self.classes = tuple(classes) if classes is not None else None
        expected = f" Expected layout: {layout}." if layout else ""
        more = f" {hint}" if hint else ""
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"dataset root {self.root} does not exist or is not a folder.{expected}{more}"
            )
        if not self.list_file.is_file():
            raise DatasetNotFoundError(
                f"image list {self.list_file} not found (one '<relative/path> <label>' line per "
                f"image, paths relative to {self.root}).{expected}{more}"
            )
        self.samples = parse_image_list(
            self.list_file, self.root, None if classes is None else len(classes)
        )
        if not self.samples:
            raise ValueError(f"image list {self.list_file} lists no images")
        first = Path(self.samples[0][0])
        if not first.is_file():
            raise DatasetNotFoundError(
                f"image {first} (first entry of {self.list_file}) not found: the list's paths are "
                f"relative to {self.root}.{expected}{more}"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, label = self.samples[index]
        img = self.load(path)
        if self.transform is not None:
            img = self.transform(img)
        return img, label if self.target_transform is None else self.target_transform(label)

    def load(self, path: str) -> Image.Image:
        """The image at ``path``, converted to the list's mode; errors name the file."""
        try:
            with Image.open(path) as img:
                return img.convert(self.mode)
        except FileNotFoundError as err:
            raise DatasetNotFoundError(
                f"image {path} (listed in {self.list_file}) not found"
            ) from err
        except OSError as err:  # PIL's UnidentifiedImageError and truncated files are OSErrors
            raise OSError(f"cannot read image {path} (listed in {self.list_file}): {err}") from err

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in order."""
        return [label for _, label in self.samples]

    def with_transform(self, transform: Callable[[Image.Image], Any] | None) -> ImageList:
        """The same samples (shared, not copied) with another ``transform``."""
        view = copy.copy(self)
        view.transform = transform
        return view

    def relabel(self, mapping: Mapping[int, int], classes: Sequence[str]) -> ImageList:
        """Keep the samples whose label is a key of ``mapping``, relabelled to its value, with the
        class names ``classes`` (the open-set and partial subsets)."""
        view = copy.copy(self)
        view.samples = [(p, mapping[y]) for p, y in self.samples if y in mapping]
        view.classes = tuple(classes)
        return view
