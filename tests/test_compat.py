"""The private Ray APIs behind ``dabench.engine.compat``: each works on the installed Ray, and
falls back when it is gone."""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler

from dabench.engine import compat


def test_token_auth_helper_is_where_dabench_looks_on_this_ray():
    assert compat.enable_token_auth_if_available() is True


def test_asha_tracking_reads_its_trial_table_or_assumes_it_tracks():
    scheduler = ASHAScheduler(time_attr="evaluation", max_t=4, grace_period=1)
    assert compat.asha_tracks(scheduler, "t1") is False  # a trial it never saw
    scheduler._trial_info["t1"] = object()
    assert compat.asha_tracks(scheduler, "t1") is True
    assert compat.asha_tracks(object(), "t1") is True  # a Ray without the table: Tune's default
