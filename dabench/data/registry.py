"""The task registry: every task, bundled or on disk, is built by name through :func:`get_task`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dabench.data.task import SETTINGS, Task
from dabench.names import did_you_mean

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


def list_tasks() -> list[TaskSpec]:
    """All registered tasks, bundled ones first, each group sorted by name."""
    _load_builtin_tasks()
    return sorted(
        _REGISTRY.values(), key=lambda s: (s.needs_root, SETTINGS.index(s.setting), s.name)
    )


def task_spec(name: str) -> TaskSpec:
    """The registration of task ``name`` (its setting is known without building the task).
    An unknown name raises ``ValueError`` listing what is accepted."""
    _load_builtin_tasks()
    spec = _REGISTRY.get(name)
    if spec is None:
        bundled = ", ".join(s.name for s in list_tasks() if not s.needs_root)
        datasets = sorted({s.name.split("/")[0] for s in list_tasks() if s.needs_root})
        raise ValueError(
            f"unknown task {name!r}{did_you_mean(name, _REGISTRY)}. Bundled tasks: {bundled}. "
            "Real-data tasks (need --root): "
            f"{', '.join(datasets)} (see `dabench tasks`)"
        )
    return spec


def get_task(name: str, root: str | Path | None = None, seed: int = 0) -> Task:
    """Build the task ``name`` (its splits fixed by ``seed``); ``root`` is the dataset folder of a
    real-data task. Unknown names and missing roots raise ``ValueError`` listing what is accepted."""
    spec = task_spec(name)
    if spec.needs_root and root is None:
        raise ValueError(f"task {name!r} reads a dataset from disk: give its root folder (--root)")
    return spec.factory(None if root is None else Path(root).expanduser().resolve(), seed)


def _load_builtin_tasks() -> None:
    """Import the modules that register the built-in tasks (once)."""
    from dabench.data import bundled, real  # noqa: F401
