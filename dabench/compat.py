"""What dabench relies on that Ray and MLflow do not promise: Ray's private APIs and the URL and
tag conventions of MLflow's UI. Each sits here, behind one name with a fallback, so that a
release that moves it degrades one feature instead of breaking a sweep; ``tests/test_compat.py``
checks each against the installed versions (and ``pyproject.toml`` caps both below their next
major).

MLflow's UI reads two things dabench uses for its dashboard (:mod:`dabench.reports.dashboard`),
both found in its JS bundle (``mlflow/server/js/build/static/js``) and checked in headless
Chromium. The bundles of 3.5.1, 3.8.1 and 3.9.0 lack ``workflowType``; on 3.10.1 and 3.14.0
the runs page opened at a sweep's view did not list its trials (the browser test of
``tests/test_dashboard.py``); on 3.17.2 it does (hence ``mlflow>=3.17``):

* the URL parameter ``workflowType`` (``genai`` | ``machine_learning``) picks the UI's "GenAI"
  or "Model training" view; without it the UI falls back to the browser's saved choice, else
  ``genai``;
* ``viewStateShareKey=<key>`` on a runs page applies the JSON saved in the experiment tag
  ``mlflow.sharedViewState.<key>``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

UI_WORKFLOW = "machine_learning"
"""The ``workflowType`` of the UI's model-training view."""
UI_VIEW_TAG_PREFIX = "mlflow.sharedViewState."
"""The experiment-tag prefix of a shared view's state."""


def ui_experiments_url(base: str) -> str:
    """The UI's experiment list (model-training view) on the server at ``base``."""
    return f"{base.rstrip('/')}/#/experiments?workflowType={UI_WORKFLOW}"


def ui_runs_url(base: str, experiment_id: str, view_key: str | None = None) -> str:
    """The UI's runs page of an experiment in the model-training view, with the shared view
    ``view_key`` applied when given."""
    url = f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType={UI_WORKFLOW}"
    return url + (f"&viewStateShareKey={view_key}" if view_key else "")


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


def ray_temp_dir() -> Path:
    """Ray's default temporary folder on this machine (its session folders, each with the
    drivers' staging copies of Tune's state), from Ray's private helper; else ``/tmp/ray``, or
    ``$RAY_TMPDIR/ray``, as Ray chooses it."""
    try:
        from ray._common.utils import get_default_ray_temp_dir

        return Path(get_default_ray_temp_dir())
    except Exception as error:  # moved or renamed in a later Ray
        log.debug("Ray's temp-dir helper is unavailable (%s); using the default", error)
        return Path(os.environ.get("RAY_TMPDIR", "/tmp"), "ray")
