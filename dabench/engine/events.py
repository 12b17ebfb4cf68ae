"""What the engine tells whoever shows its progress, without knowing who that is.

The engine publishes an event whenever its state changes — ``"trials"`` from a sweep's monitor
(its trials, and the one ending now), ``"benchmark"`` from a benchmark's searcher — and every
listener that is subscribed gets it (the command line's live displays). Lines meant for people go
to the ``dabench`` logger instead; the command line attaches its console to it. Listeners live in
this process: Ray Tune unpickles the searcher when a benchmark resumes, so a display cannot be
handed to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]
_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Inside the block, ``listener(event, details)`` gets every event published."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def publish(event: str, **details: Any) -> None:
    """Tell every listener that ``event`` happened."""
    for listener in list(_listeners):
        listener(event, details)
