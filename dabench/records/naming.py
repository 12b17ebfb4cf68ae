"""How a sweep's trials and a seeds group's runs are named, wherever a person reads the name: the
console's lines, a sweep's summary, MLflow's UI and Ray Tune's trial folders.

A trial's **label** is short and tells it apart from the other trials of its sweep: ``trial-7``
(the seventh trial the searcher proposed) or, in a seeds group, ``seed-3`` (the run trained with
seed 3). The console's lines of a sweep and its summary table name trials by label (the sweep's
name is in their title). Its MLflow run is named ``trial-7 · <sweep>``: the label first, because
MLflow's UI cuts long names in its first column and a sweep's trials would all read alike there,
and the sweep after it, because an experiment lists the runs of many sweeps. Its Ray Tune folder
is ``trial-7_<Ray trial id>``: the id keeps folders apart where labels repeat, as they do in a
benchmark (its sweeps share one Tune run, so one folder) and after a driver was killed (a trial
it had started after Ray's last snapshot is proposed again, with the same label and a new id).
A seeds group is named ``<sweep>-seeds-<label of the trial it re-trains>-<time stamp>``.

Runs and folders made by earlier versions (runs ``<sweep>-trial-7``, folders ``trial_<id>``) are
read back too.
"""

from __future__ import annotations

from collections.abc import Iterable

TRIAL, SEED = "trial", "seed"
KINDS = (TRIAL, SEED)
"""What a label counts: a sweep's trials (in the order the searcher proposed them), or the seeds
of a seeds group's runs."""
SEPARATOR = " · "
"""Between a run name's label and its sweep."""


def label(kind: str, number: int | str) -> str:
    """The label of trial ``number`` (``kind`` ``trial``) or of the seed run with seed ``number``
    (``seed``): ``trial-7``, ``seed-3``.

    >>> label("trial", 7), label("seed", 3)
    ('trial-7', 'seed-3')
    """
    if kind not in KINDS:
        raise ValueError(f"a label counts one of {', '.join(KINDS)}; got {kind!r}")
    text = str(number)
    if not text or any(c in text for c in f"_/{SEPARATOR}"):
        raise ValueError(f"a {kind} label needs a number or id without '_', '/' or "
                         f"{SEPARATOR!r}; got {text!r}")  # fmt: skip
    return f"{kind}-{text}"


def run_name(trial_label: str, sweep: str) -> str:
    """The MLflow run name of the trial ``trial_label`` of the sweep (or seeds group) ``sweep``.

    >>> run_name("trial-7", "cdan-moons-rot40-20261203-120000")
    'trial-7 · cdan-moons-rot40-20261203-120000'
    """
    if not trial_label or SEPARATOR in trial_label:
        raise ValueError(f"a run name starts with a trial's label (trial-7, seed-3); got "
                         f"{trial_label!r}")  # fmt: skip
    return f"{trial_label}{SEPARATOR}{sweep}" if sweep else trial_label


def label_of(name: str, sweep: str = "") -> str:
    """The label in the run name ``name`` (of a trial of ``sweep``), as :func:`run_name` writes it
    or as earlier versions did (``<sweep>-trial-7``; a benchmark's ``tune_trial_<id>``: the id).

    >>> label_of("trial-7 · cdan-moons"), label_of("cdan-moons-trial-7", "cdan-moons")
    ('trial-7', 'trial-7')
    """
    if SEPARATOR in name:
        return name.split(SEPARATOR, 1)[0]
    return name.removeprefix(f"{sweep}-").rsplit("_", 1)[-1]


def folder(trial_label: str, trial_id: str) -> str:
    """The name of a trial's Ray Tune folder.

    >>> folder("trial-7", "dc0220b8")
    'trial-7_dc0220b8'
    """
    if not trial_id or "/" in trial_id:
        raise ValueError(f"a trial folder needs Ray's trial id (no '/'); got {trial_id!r}")
    if not trial_label or "_" in trial_label or "/" in trial_label:
        raise ValueError(f"a trial folder starts with a trial's label (trial-7, seed-3: no '_' "
                         f"or '/'); got {trial_label!r}")  # fmt: skip
    return f"{trial_label}_{trial_id}"


def trial_id_of(folder_name: str) -> str:
    """Ray's trial id in a trial folder's name, as :func:`folder` writes it or as earlier
    versions did (``trial_<id>``). Ray's ids may hold ``_`` themselves (a grid's
    ``5f1a2_00001``): the id is everything after the first ``_``.

    >>> trial_id_of("trial-7_dc0220b8"), trial_id_of("seed-3_5f1a2_00001"), trial_id_of("trial_dc0220b8")
    ('dc0220b8', '5f1a2_00001', 'dc0220b8')
    """
    head, _, trial_id = folder_name.partition("_")
    if not trial_id or not head.startswith(KINDS):
        raise ValueError(f"{folder_name!r} is not a trial folder (<label>_<Ray trial id>, e.g. "
                         "trial-7_dc0220b8 or seed-3_5f1a2_00001)")  # fmt: skip
    return trial_id


def folder_of(names: Iterable[str], trial_id: str) -> str | None:
    """Which of the folder names ``names`` (a sweep folder's) is trial ``trial_id``'s, if one is.

    >>> folder_of(["engines.log", "trial-1_aa11", "trial-2_bb22"], "bb22")
    'trial-2_bb22'
    """
    for name in names:
        head, _, found = name.partition("_")
        if found == trial_id and head.startswith(KINDS):
            return name
    return None


def group_name(sweep: str, trial: str, stamp: str) -> str:
    """The name of a seeds group that re-trains the trial whose run is named ``trial`` (of
    ``sweep``), made at ``stamp``.

    >>> group_name("cdan-moons", "trial-3 · cdan-moons", "20261203-120000")
    'cdan-moons-seeds-trial-3-20261203-120000'
    """
    return f"{sweep}-seeds-{label_of(trial, sweep)}-{stamp}"
