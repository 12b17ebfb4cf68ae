"""The command line's console: dabench's library code logs to the ``dabench`` logger and prints
nothing; a command attaches this console to it (:func:`attached`), and prints its errors with
:func:`error`. User text (names, methods, messages) is printed as text, never as rich markup."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

LOGGER = "dabench"


class StdoutHandler(logging.Handler):
    """Writes each record's message to the standard output of the moment (a live display may
    have replaced it with one that prints above itself)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


@contextmanager
def attached(level: int = logging.INFO) -> Iterator[None]:
    """Inside the block, dabench's log lines at ``level`` and above go to the standard output
    as plain lines; the logger is given back as it was."""
    logger = logging.getLogger(LOGGER)
    handler = StdoutHandler(level)
    handler.setFormatter(logging.Formatter("%(message)s"))
    previous = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.level) if logger.level else level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]


def error(command: str, message: object) -> None:
    """``dabench <command>: error: <message>`` on the standard error, in red, the message as
    plain text."""
    text = Text(f"dabench {command}: error: ", style="red")
    text.append(str(message))
    Console(stderr=True, soft_wrap=True).print(text)
