"""Names users type: *did you mean ...?* for mistyped ones (methods, tasks, metrics, experiments,
sweeps)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'dann'?)"`` for the closest of ``choices`` to ``word``
    (:func:`difflib.get_close_matches`), or ``""`` when none is close; to append to an error
    message."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")
"""What a sweep, benchmark or experiment name may hold: letters, digits and ``. _ + = -``, a letter
or digit first — no path separator, no ``..``, no quote, no space, no rich markup. A name becomes
a folder under ``--storage``, an MLflow tag searched for and text on the console."""


def slug(text: str) -> str:
    """``text`` made into an acceptable name (``"../my run"`` → ``"my-run"``)."""
    return re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._+=-]+", "-", text)).strip("-._+=")
