"""What :mod:`dabench.compat` relies on, checked against the installed Ray and MLflow: each private
API is where dabench looks (and falls back when it is gone), and MLflow's UI still reads the URL
parameters and the view tag the dashboard writes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import mlflow
from ray.tune.schedulers import ASHAScheduler

from dabench import compat

TOKEN_MODULE = "ray._private.authentication.authentication_token_setup"


def test_token_auth_helper_is_where_dabench_looks_on_this_ray():
    """A Ray with token authentication (its ``ray._private.authentication`` package) has the
    helper where dabench looks; an older Ray, without token authentication, has neither."""
    has_token_auth = importlib.util.find_spec("ray._private.authentication") is not None
    assert compat.enable_token_auth_if_available() is has_token_auth


def test_token_auth_falls_back_to_rays_defaults_when_the_helper_is_gone(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, TOKEN_MODULE, None)  # `import` of it raises ImportError
    assert compat.enable_token_auth_if_available() is False
    assert "no token-auth helper" in caplog.text


def test_asha_tracking_reads_its_trial_table_or_assumes_it_tracks():
    scheduler = ASHAScheduler(time_attr="evaluation", max_t=4, grace_period=1)
    assert compat.asha_tracks(scheduler, "t1") is False  # a trial it never saw
    scheduler._trial_info["t1"] = object()
    assert compat.asha_tracks(scheduler, "t1") is True
    assert compat.asha_tracks(object(), "t1") is True  # a Ray without the table: Tune's default


def test_ui_urls():
    assert compat.ui_runs_url("http://127.0.0.1:5000/", "3", "dabench-s1") == (
        "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
        "&viewStateShareKey=dabench-s1")  # fmt: skip
    assert compat.ui_runs_url("http://h:1", "3") == (
        "http://h:1/#/experiments/3/runs?workflowType=machine_learning"
    )
    assert compat.ui_experiments_url("http://h:1/") == (
        "http://h:1/#/experiments?workflowType=machine_learning"
    )


def test_the_installed_mlflow_ui_reads_what_the_dashboard_writes():
    """The UI's bundle still names the URL parameters and the view tag (the browser test in
    tests/test_dashboard.py checks what it then shows)."""
    bundle = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    scripts = [path.read_text(errors="replace") for path in bundle.glob("*.js")]
    assert scripts, f"no UI bundle under {bundle}"
    prefix = compat.UI_VIEW_TAG_PREFIX.rstrip(".")
    for needle in ("workflowType", compat.UI_WORKFLOW, "viewStateShareKey", prefix):
        assert any(needle in script for script in scripts), f"MLflow's UI no longer reads {needle}"


def test_rays_temp_folder_is_found():
    assert compat.ray_temp_dir().name == "ray"
