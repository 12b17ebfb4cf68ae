"""Every built-in task as ``dabench tasks`` lists it and the registry registers it: its name, a
line that describes it, its setting, the model that suits it and whether it reads a dataset from
disk. ``dabench.data.bundled`` and ``dabench.data.real`` build them;
:func:`dabench.data.registry.register_builtin` registers a factory under its declaration here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from dabench.catalog.datasets import REAL_TASKS
from dabench.catalog.models import BACKBONES, SEGMENTERS
from dabench.names import did_you_mean
from dabench.task_settings import SETTINGS


@dataclass(frozen=True)
class TaskInfo:
    """A task known without building it: its ``model`` (the backbone or segmenter that suits it,
    see :mod:`dabench.catalog.models`) decides which defaults its trials use."""

    name: str
    description: str
    setting: str
    model: str
    needs_root: bool = False

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"task {self.name!r}: setting must be one of {', '.join(SETTINGS)}; "
                             f"got {self.setting!r}")  # fmt: skip
        if self.model not in (*BACKBONES, *SEGMENTERS):
            raise ValueError(f"task {self.name!r}: model must be one of "
                             f"{', '.join((*BACKBONES, *SEGMENTERS))}; got {self.model!r}")  # fmt: skip


BUNDLED: tuple[TaskInfo, ...] = (
    TaskInfo("moons/rot40", "two moons → two moons rotated 40° (2-D toy, MLP)", "closed", "mlp"),
    TaskInfo("digits/synth2hand", "font-rendered digits → real handwritten digits "
             "(SynDigits→MNIST-like, 28×28 grey, LeNet)", "closed", "lenet"),
    TaskInfo("digits/synth2blend", "font-rendered digits → digits blended with photos "
             "(MNIST→MNIST-M-like, 28×28 RGB, LeNet)", "closed", "lenet"),
    TaskInfo("digits/hand2synth", "1,797 real handwritten digits → font-rendered digits "
             "(USPS→MNIST-like, 28×28 grey, LeNet)", "closed", "lenet"),
    TaskInfo("digits/mnist2uci", "5,000 real MNIST digits → 1,797 real UCI handwritten digits "
             "(MNIST→USPS-like, 28×28 grey, LeNet)", "closed", "lenet"),
    TaskInfo("digits/uci2mnist", "1,797 real UCI handwritten digits → 5,000 real MNIST digits "
             "(USPS→MNIST-like, 28×28 grey, LeNet)", "closed", "lenet"),
    TaskInfo("digits-openset/synth2blend", "open-set: rendered digits 0–5 → blended digits 0–9, "
             "6–9 unknown (28×28 RGB, LeNet)", "open_set", "lenet"),
    TaskInfo("digits-openset/mnist2uci", "open-set: real MNIST digits 0–5 → real UCI digits 0–9, "
             "6–9 unknown (28×28 grey, LeNet)", "open_set", "lenet"),
    TaskInfo("digits-partial/synth2blend", "partial: rendered digits 0–9 → blended digits 0–4 "
             "only (28×28 RGB, LeNet)", "partial", "lenet"),
    TaskInfo("digits-partial/uci2mnist", "partial: real UCI digits 0–9 → real MNIST digits 0–4 "
             "only (28×28 grey, LeNet)", "partial", "lenet"),
    TaskInfo("shapes/flat2textured", "segmentation: flat-coloured shapes → photo-textured, "
             "relit, noisy shapes (64×64, small FCN)", "segmentation", "small_fcn"),
)  # fmt: skip
"""The bundled tasks (generated, or read from installed packages: no download), built by
``dabench.data.bundled``."""

TASKS: dict[str, TaskInfo] = {
    **{info.name: info for info in BUNDLED},
    **{name: TaskInfo(name, task.description, task.setting, task.model, needs_root=True)
       for name, task in REAL_TASKS.items()},
}  # fmt: skip
"""Every built-in task by name: the bundled ones, then the real-data ones
(:data:`dabench.catalog.datasets.REAL_TASKS`, built by ``dabench.data.real``)."""


class Listed(Protocol):
    """What listing a task reads of it: a :class:`TaskInfo` or a registered
    :class:`~dabench.data.registry.TaskSpec`."""

    name: str
    setting: str
    needs_root: bool


def ordered(infos: Iterable[Any]) -> list[Any]:
    """``infos`` (anything :class:`Listed`: declarations or registered tasks) in the order tasks
    are listed: bundled ones first, then by setting (:data:`~dabench.task_settings.SETTINGS`'
    order), then by name."""
    return sorted(infos, key=lambda s: (s.needs_root, SETTINGS.index(s.setting), s.name))


def list_tasks() -> list[TaskInfo]:
    """Every built-in task, in :func:`ordered`'s order."""
    return ordered(TASKS.values())


def task_info(name: str) -> TaskInfo:
    """The built-in task ``name``; an unknown name raises ``ValueError`` listing what is
    accepted."""
    if name not in TASKS:
        raise ValueError(unknown_task(name, TASKS.values()))
    return TASKS[name]


def unknown_task(name: str, known: Iterable[Listed]) -> str:
    """What to say of an unknown task ``name``, given the ``known`` ones: the closest names, the
    bundled tasks and the datasets of the real-data ones."""
    known = list(known)
    bundled = ", ".join(s.name for s in ordered(known) if not s.needs_root)
    datasets = sorted({s.name.split("/")[0] for s in known if s.needs_root})
    close = did_you_mean(name, [s.name for s in known])
    return (f"unknown task {name!r}{close}. Bundled tasks: {bundled}. Real-data tasks (need "
            f"--root): {', '.join(datasets)} (see `dabench tasks`)")  # fmt: skip
