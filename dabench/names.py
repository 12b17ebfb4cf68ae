"""Names users type: *did you mean ...?* for mistyped ones (methods, tasks, metrics, experiments,
sweeps)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'dann'?)"`` for the closest of ``choices`` to ``word``
    (:func:`difflib.get_close_matches`), or ``""`` when none is close; to append to an error
    message."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
