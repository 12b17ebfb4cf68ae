"""The private Ray APIs dabench relies on, each behind one function with a fallback, so that a
Ray release that moves them degrades one feature instead of breaking a sweep (tested in
``tests/test_compat.py``)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def enable_token_auth_if_available() -> bool:
    """Do what ``ray start`` does for an explicit ``--address``: use Ray's token authentication
    if a token is available (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``; ``RAY_AUTH_MODE``, when set, decides), else connect without. Ray never
    turns it on by itself for an explicit address. Returns whether Ray's (private) helper ran;
    without it (a Ray that moved it) the connection goes ahead as Ray's defaults say."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:
        log.warning("this Ray has no token-auth helper where dabench looks for it; connecting "
                    "with Ray's defaults")  # fmt: skip
        return False
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    return True


def asha_tracks(scheduler: Any, trial_id: str) -> bool:
    """Whether an ``ASHAScheduler`` still tracks trial ``trial_id`` (it forgets a trial once it
    finished it; its private ``_trial_info`` says which it knows). A scheduler without that
    attribute is assumed to track the trial, as Tune's own callers do."""
    known = getattr(scheduler, "_trial_info", None)
    return True if known is None else trial_id in known
