"""The data of real-data tasks, checked on disk before anything runs.

For each task, the lists it reads — its source domain's (training) list and every list of its
target domain (:data:`~dabench.catalog.datasets.DATASETS`) — must exist under the root, parse
(``<relative/path> <label>`` lines, labels in the class list), hold as many images as the
reference's lists (:data:`~dabench.catalog.datasets.LIST_SIZES`, where known) and every image
they list must exist. :func:`check_data` reads each list once for all the tasks, and raises one
error that names every missing or incomplete piece, the expected layout and where to get the
dataset — instead of the first missing file, found by a trial after the cluster has started.

Images are looked up by listing their folders (one ``os.listdir`` per class folder, not one
``stat`` per image: VisDA-2017's 207,785 images sit in 24 folders).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dabench.catalog.datasets import DATASETS, REAL_TASKS, DatasetSpec
from dabench.data.image_list import DatasetNotFoundError, parse_image_list

SHOWN = 3
"""Missing images named per list (the rest are counted)."""


def lists_of(tasks: Iterable[str]) -> dict[str, dict[str, int | None]]:
    """Dataset key → {list file: the reference's number of images (``None``: not known)} of every
    list the real-data ``tasks`` read (other task names are skipped), in dataset order."""
    needed: dict[str, dict[str, int | None]] = {}
    for name in tasks:
        task = REAL_TASKS.get(name)
        if task is None:
            continue
        spec = DATASETS[task.dataset]
        source, target = spec.domain(task.source), spec.domain(task.target)
        lists = needed.setdefault(task.dataset, {})
        lists[source.lists[0]] = source.sizes[0]
        lists.update(zip(target.lists, target.sizes, strict=True))
    return {key: dict(sorted(needed[key].items())) for key in DATASETS if key in needed}


def check_data(tasks: Iterable[str], root: str | os.PathLike[str] | None) -> None:
    """Check every list and image the real-data ``tasks`` read under ``root`` (see the module
    doc); :class:`~dabench.data.image_list.DatasetNotFoundError` (a ``ValueError``) naming every
    problem, per dataset with its tasks, layout and where to get it. Nothing else is read."""
    tasks = list(tasks)
    needed = lists_of(tasks)
    if not needed:
        return
    if root is None:
        raise DatasetNotFoundError(
            "the tasks read their datasets from disk: give the dataset folder with --root.\n"
            + "\n".join(_where(DATASETS[key], _tasks_of(tasks, key)) for key in needed)
        )
    folder = Path(root).expanduser().resolve()
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"dataset root {folder} does not exist or is not a folder.\n"
            + "\n".join(_where(DATASETS[key], _tasks_of(tasks, key)) for key in needed)
        )
    reports = []
    for key, lists in needed.items():
        spec = DATASETS[key]
        problems = [p for f, n in lists.items() if (p := _check_list(folder, f, n, spec))]
        if problems:
            reports.append(_where(spec, _tasks_of(tasks, key), problems))
    if reports:
        raise DatasetNotFoundError(
            f"the data under {folder} is missing or incomplete (checked before anything runs; "
            "nothing was started):\n" + "\n".join(reports)
        )


def _check_list(root: Path, list_file: str, size: int | None, spec: DatasetSpec) -> str:
    """What is wrong with one list and its images (``""``: nothing)."""
    path = root / list_file
    if not path.is_file():
        return f"{list_file}: not found"
    try:
        samples = parse_image_list(path, root, len(spec.classes))
    except ValueError as error:
        return str(error).replace(f"{root}{os.sep}", "")
    wrong = []
    if size is not None and len(samples) != size:
        wrong.append(f"lists {len(samples):,} images where the reference's list has {size:,}")
    missing = _missing([p for p, _ in samples])
    if missing:
        shown = ", ".join(os.path.relpath(p, root) for p in missing[:SHOWN])
        more = f" and {len(missing) - SHOWN:,} more" if len(missing) > SHOWN else ""
        wrong.append(
            f"{len(missing):,} of its {len(samples):,} listed images not found ({shown}{more})"
        )
    return f"{list_file}: {'; '.join(wrong)}" if wrong else ""


def _missing(paths: list[str]) -> list[str]:
    """The ``paths`` that name no entry of their folder (each folder listed once)."""
    folders: dict[str, set[str]] = {}
    missing = []
    for path in paths:
        folder, name = os.path.split(path)
        if folder not in folders:
            try:
                folders[folder] = set(os.listdir(folder))
            except OSError:  # no such folder (or not a folder)
                folders[folder] = set()
        if name not in folders[folder]:
            missing.append(path)
    return missing


def _tasks_of(tasks: list[str], dataset: str) -> list[str]:
    return [t for t in tasks if t in REAL_TASKS and REAL_TASKS[t].dataset == dataset]


def _where(spec: DatasetSpec, tasks: list[str], problems: list[str] = ()) -> str:
    """A dataset's part of the report: its tasks, its problems, its layout and where to get it."""
    shown = ", ".join(tasks[:4]) + (f" and {len(tasks) - 4} more" if len(tasks) > 4 else "")
    lines = [f"  {spec.title} (tasks {shown}):", *(f"    - {p}" for p in problems),
             f"    Expected layout: {spec.layout.rstrip('.')}.", f"    {spec.hint}"]  # fmt: skip
    return "\n".join(lines)
