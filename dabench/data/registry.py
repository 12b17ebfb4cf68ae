"""The task registry: every task, bundled or on disk, is built by name through :func:`get_task`.

The built-in tasks are declared in :mod:`dabench.catalog.tasks` (so that ``dabench tasks`` lists
them without torch) and registered here under those declarations (:func:`register_builtin`);
:func:`register_task` registers a task of one's own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dabench.catalog.datasets import resizable
from dabench.catalog.tasks import TASKS, ordered, unknown_task
from dabench.data.task import Task

TaskFactory = Callable[[Path | None, int], Task]
"""Builds a task from ``(root, seed)``."""


@dataclass(frozen=True)
class TaskSpec:
    """A registered task, known without building it: its ``model`` (the backbone or segmenter
    family that suits it, see :mod:`dabench.models`) decides which defaults its trials use."""

    name: str
    description: str
    setting: str
    model: str
    factory: TaskFactory
    needs_root: bool


_REGISTRY: dict[str, TaskSpec] = {}


def register_task(
    name: str, description: str, setting: str, model: str, needs_root: bool = False
) -> Callable[[TaskFactory], TaskFactory]:
    """Decorator: register ``factory(root, seed) -> Task`` under ``name``; ``model`` is the
    ``Task.model`` the factory builds."""

    def decorate(factory: TaskFactory) -> TaskFactory:
        if name in _REGISTRY:
            raise ValueError(f"task {name!r} is registered twice")
        _REGISTRY[name] = TaskSpec(name, description, setting, model, factory, needs_root)
        return factory

    return decorate


def register_builtin(name: str) -> Callable[[TaskFactory], TaskFactory]:
    """Decorator: register the factory of built-in task ``name`` under its declaration in
    :data:`dabench.catalog.tasks.TASKS` (description, setting, model, whether it needs a root)."""
    if name not in TASKS:
        raise ValueError(f"{name!r} is not declared in dabench.catalog.tasks.TASKS; a task of "
                         "one's own is registered with register_task")  # fmt: skip
    info = TASKS[name]
    return register_task(info.name, info.description, info.setting, info.model, info.needs_root)


def list_tasks() -> list[TaskSpec]:
    """All registered tasks, bundled ones first, then by setting, each group sorted by name."""
    _load_builtin_tasks()
    return ordered(_REGISTRY.values())


def task_spec(name: str) -> TaskSpec:
    """The registration of task ``name`` (its setting is known without building the task).
    An unknown name raises ``ValueError`` listing what is accepted."""
    _load_builtin_tasks()
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ValueError(unknown_task(name, _REGISTRY.values()))
    return spec


def get_task(name: str, root: str | Path | None = None, seed: int = 0,
             image_size: int | None = None) -> Task:  # fmt: skip
    """Build the task ``name`` (its splits fixed by ``seed``); ``root`` is the dataset folder of a
    real-data task; ``image_size`` the crop of a real-data ResNet task's images (``None``: its
    224; :func:`~dabench.catalog.datasets.resizable` tasks only). Unknown names, missing roots
    and an ``image_size`` for another task raise ``ValueError`` saying what is accepted."""
    spec = task_spec(name)
    if spec.needs_root and root is None:
        raise ValueError(f"task {name!r} reads a dataset from disk: give its root folder (--root)")
    folder = None if root is None else Path(root).expanduser().resolve()
    if image_size is None:
        return spec.factory(folder, seed)
    if not resizable(name):
        raise ValueError(f"image_size applies to the real-data ResNet tasks (Office-31, "
                         f"Office-Home, VisDA-2017, DomainNet); task {name!r} has fixed inputs")  # fmt: skip
    return spec.factory(folder, seed, image_size)


def _load_builtin_tasks() -> None:
    """Import the modules that register the built-in tasks (once); ``RuntimeError`` when a
    declared built-in task has no factory."""
    from dabench.data import bundled, real  # noqa: F401

    missing = TASKS.keys() - _REGISTRY.keys()
    if missing:
        raise RuntimeError(
            f"built-in tasks declared without a factory: {', '.join(sorted(missing))}"
        )
