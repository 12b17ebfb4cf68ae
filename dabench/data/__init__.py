"""Tasks: bundled generators that need no download, real-dataset loaders, one registry."""

from dabench.data.registry import get_task, list_tasks, register_task
from dabench.data.task import IGNORE_INDEX, SETTINGS, SPLITS, InMemoryDataset, Task, Unlabelled

__all__ = [
    "IGNORE_INDEX",
    "SETTINGS",
    "SPLITS",
    "InMemoryDataset",
    "Task",
    "Unlabelled",
    "get_task",
    "list_tasks",
    "register_task",
]
