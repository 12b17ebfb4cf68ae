"""The one trial naming scheme (:mod:`dabench.records.naming`) and the names Ray Tune gives trials
through it (:class:`dabench.engine.trial.TrialName`, :func:`dabench.engine.trial.trial_dirname`),
on Ray's own ``Trial`` objects, which call them as a Tuner does."""

from __future__ import annotations

import pytest
from ray.tune.experiment import Trial

from dabench.engine.trial import INTERNAL, TrialName, trial_dirname, trial_label
from dabench.records import naming


def tune_trial(config: dict, experiment_tag: str, trial_id: str) -> Trial:
    """A Ray Tune trial made with dabench's name and folder creators (``stub``: no trainable is
    looked up, nothing runs)."""
    return Trial("tune_trial", stub=True, config=config, experiment_tag=experiment_tag,
                 trial_id=trial_id, trial_name_creator=TrialName(),
                 trial_dirname_creator=trial_dirname)  # fmt: skip


def test_a_trial_is_named_by_its_number_first_everywhere():
    label = naming.label(naming.TRIAL, 7)
    sweep = "cdan-moons-rot40-20261203-120000"
    name, folder = naming.run_name(label, sweep), naming.folder(label, "dc0220b8")
    assert (label, name, folder) == ("trial-7", f"trial-7 · {sweep}", "trial-7_dc0220b8")
    assert naming.label_of(name, sweep) == label and naming.trial_id_of(folder) == "dc0220b8"
    assert naming.run_name("seed-3", "") == "seed-3"


def test_seed_runs_grid_trial_ids_and_seeds_groups_follow_the_same_scheme():
    label = naming.label(naming.SEED, 4)
    folder = naming.folder(label, "5f1a2_00001")  # a grid's trial ids hold "_" themselves
    assert (label, folder, naming.trial_id_of(folder)) == ("seed-4", "seed-4_5f1a2_00001",
                                                           "5f1a2_00001")  # fmt: skip
    group = naming.group_name("s", naming.run_name("trial-3", "s"), "20261203-120000")
    assert group == "s-seeds-trial-3-20261203-120000"
    assert naming.label_of(naming.run_name(label, group), group) == "seed-4"


def test_names_and_folders_of_earlier_versions_are_read_back():
    assert naming.label_of("cdan-moons-trial-7", "cdan-moons") == "trial-7"
    assert naming.label_of("s-seeds-trial-3-20261203-120000-seed-4",
                           "s-seeds-trial-3-20261203-120000") == "seed-4"  # fmt: skip
    assert naming.label_of("tune_trial_dc0220b8", "s") == "dc0220b8"  # a benchmark's, by Tune
    assert naming.trial_id_of("trial_dc0220b8") == "dc0220b8"
    assert naming.trial_id_of("trial_5f1a2_00001") == "5f1a2_00001"
    assert naming.group_name("s", "s-trial-3", "x") == "s-seeds-trial-3-x"


def test_the_folder_of_a_trial_is_found_among_a_sweeps_entries():
    entries = ["engines.log", "trial-1_aa11", "trial_bb22", "checkpoints", "seed-2_cc_00001"]
    assert naming.folder_of(entries, "aa11") == "trial-1_aa11"
    assert naming.folder_of(entries, "bb22") == "trial_bb22"  # an earlier version's
    assert naming.folder_of(entries, "cc_00001") == "seed-2_cc_00001"
    assert naming.folder_of(entries, "dd33") is None
    assert naming.folder_of(["other_aa11"], "aa11") is None  # not a trial folder


def test_bad_names_are_refused_naming_what_is_accepted():
    with pytest.raises(ValueError, match=r"a label counts one of trial, seed; got 'trail'"):
        naming.label("trail", 7)
    with pytest.raises(ValueError, match=r"a trial label needs a number or id without '_'"):
        naming.label(naming.TRIAL, "5f1a2_00001")
    with pytest.raises(ValueError, match=r"a seed label needs a number .*; got ''"):
        naming.label(naming.SEED, "")
    with pytest.raises(ValueError, match=r"a trial's label \(trial-7, seed-3\); got ''"):
        naming.run_name("", "s")
    with pytest.raises(ValueError, match=r"a trial folder needs Ray's trial id \(no '/'\); got ''"):
        naming.folder("trial-7", "")
    with pytest.raises(ValueError, match=r"no '_' or '/'\); got 'tune_trial_x'"):
        naming.folder("tune_trial_x", "dc0220b8")
    with pytest.raises(ValueError, match=r"'checkpoints' is not a trial folder \(<label>_<Ray "
                                         r"trial id>, e.g. trial-7_dc0220b8"):  # fmt: skip
        naming.trial_id_of("checkpoints")
    with pytest.raises(ValueError, match=r"'other_dc0220b8' is not a trial folder"):
        naming.trial_id_of("other_dc0220b8")


def test_tune_names_a_sweeps_trials_by_its_own_count_and_their_folders_after_them():
    trial = tune_trial({"lr": 0.01}, "7_lr=0.01", "dc0220b8")  # Tune's 7th trial of the sweep
    assert str(trial) == "trial-7" and trial.custom_dirname == "trial-7_dc0220b8"
    assert naming.trial_id_of(trial.custom_dirname) == trial.trial_id


def test_a_benchmarks_label_and_a_seeds_groups_seed_come_from_the_config():
    # a benchmark's searcher numbers each sweep's trials (Tune's count runs over all its sweeps)
    benchmark = tune_trial({"lr": 0.01, INTERNAL: {"label": "trial-2"}}, "9_lr=0.01", "ab12cd34")
    assert str(benchmark) == "trial-2" and benchmark.custom_dirname == "trial-2_ab12cd34"
    # a seeds group's runs are a grid over the seed: each is labelled by its seed
    seeded = tune_trial({"seed": 4, INTERNAL: {"labelled_by": "seed"}}, "1_seed=4", "5f1a2_00001")
    assert str(seeded) == "seed-4" and seeded.custom_dirname == "seed-4_5f1a2_00001"
    assert trial_label({"seed": 5, INTERNAL: {"labelled_by": "seed"}}, "x") == "seed-5"
    assert trial_label({INTERNAL: {}}, "3") == "trial-3"
