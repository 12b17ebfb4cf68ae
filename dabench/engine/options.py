"""The options of sweeps, reruns and benchmarks, declared once: each field of
:class:`SweepOptions`, :class:`RerunOptions` and :class:`BenchmarkSpec` carries its default, its
help text, its check and, for a sweep option a benchmark spec may set, its key there. From these
declarations come the command line's flags (``dabench/cli/parser.py``), the keys a benchmark spec
accepts and their validation (:mod:`dabench.engine.spec`), and the check of every value before
Ray starts (:func:`check`).

A light module (no torch, no Ray), so that ``dabench --help`` stays fast.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from dabench.names import NAME, slug


@dataclass(frozen=True)
class Check:
    """What a value accepts: ``accepts`` in words, the ``test``, and how a flag's text becomes a
    value (``parse``)."""

    accepts: str
    test: Callable[[Any], bool]
    parse: Callable[[str], Any] = str
    hint: Callable[[Any], str] = lambda value: ""
    """What to say after a refusal (e.g. an acceptable name like the one given)."""

    def refusal(self, value: Any) -> str:
        """``must be <what it accepts>; got <value>``, and the hint."""
        return f"must be {self.accepts}; got {value!r}{self.hint(value)}"

    def flag_value(self, text: str) -> Any:
        """A flag's ``text`` read and checked (for argparse: ``ValueError`` names what is
        accepted, and argparse reports it with the flag's name)."""
        try:
            value = self.parse(text)
        except (ValueError, SyntaxError):
            value = text
        if not self.test(value):
            raise ValueError(self.refusal(text))
        return value


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _names(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(x, str) and x for x in value)


def at_least(low: int) -> Check:
    return Check(f"an integer ≥ {low}", lambda v: _integer(v) and v >= low, int)


def one_of(*values: str) -> Check:
    return Check(f"one of {', '.join(values)}", lambda v: v in values)


INTEGER = Check("an integer", _integer, int)
POSITIVE = Check("a finite number > 0", lambda v: _number(v) and v > 0, float)
NON_NEGATIVE = Check("a finite number ≥ 0", lambda v: _number(v) and v >= 0, float)
TEXT = Check("a non-empty string", lambda v: isinstance(v, str) and v != "")
NAMES = Check("a list of names", _names)
NAME_CHECK = Check(
    "a name of letters, digits and . _ + = - (a letter or digit first; no path separator, '..', "
    "quote, space or markup)",
    lambda v: isinstance(v, str) and NAME.fullmatch(v) is not None and ".." not in v,
    hint=lambda v: f" (e.g. {slug(str(v))!r})" if slug(str(v)) else "",
)  # fmt: skip
MAPPING = Check("a mapping of names to values",
                lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v))  # fmt: skip


def option(default: Any, help: str, check: Check, *, spec: str | None = None, flag: bool = True,
           shown_default: str | None = None, repeated: bool = False) -> Any:  # fmt: skip
    """A field of an options dataclass and all that declares it: ``default``, ``help``,
    ``check``; ``spec``: its key in a benchmark spec (``None``: not a spec key); ``flag``:
    whether the command line has it (``--name-with-dashes``); ``shown_default``: how ``--help``
    states the default when it is not the value itself; ``repeated``: a flag given once per
    item."""
    metadata = {"help": help, "check": check, "spec": spec, "flag": flag,
                "shown_default": shown_default, "repeated": repeated}  # fmt: skip
    if isinstance(default, dict | list):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def declarations(cls: type) -> dict[str, Any]:
    """Field name → its dataclass field (``metadata``: help, check, spec key, ...)."""
    return {f.name: f for f in fields(cls)}


def default_of(declared: Any) -> Any:
    """The default value of a declared field (a fresh one when it has a factory)."""
    if declared.default_factory is not MISSING:
        return declared.default_factory()
    return declared.default


SCHEDULERS = ("asha", "none")  # ASHA early stopping, or every trial to the end
SEARCHERS = ("tpe", "random")  # Optuna's TPE, or uniform random search as a baseline
METRIC_HELP = (
    "the objective: source_val, a validator (entropy, im, bnm, snd, class_ami, dev; "
    "guarded_source_val (partial); known_im, h_proxy (open-set); pixel_entropy, pixel_im "
    "(segmentation)), oracle (target-val labels: only when asked for), or a reported metric "
    "with a direction (train_loss, dev_ess, ...)"
)


@dataclass
class SweepOptions:
    """Everything a sweep is defined by (saved next to Ray's state, so that ``--resume`` needs
    only the sweep's name)."""

    method: str = option(MISSING, "e.g. cdan (see `dabench methods`)", TEXT)
    task: str = option(MISSING, "e.g. digits/synth2hand (see `dabench tasks`)", TEXT)
    num_samples: int = option(8, "trials per sweep", at_least(1), spec="trials")
    max_concurrent: int = option(2, "trials of one sweep at a time", at_least(1),
                                 spec="max_concurrent")  # fmt: skip
    cpus_per_trial: float = option(1.0, "CPUs per trial", POSITIVE, spec="cpus_per_trial")
    gpus_per_trial: float = option(0.0, "GPUs per trial (fractions share a GPU)", NON_NEGATIVE,
                                   spec="gpus_per_trial")  # fmt: skip
    steps: int = option(1000, "training steps per trial", at_least(1), spec="steps")
    eval_every: int = option(250, "steps between evaluations", at_least(1), spec="eval_every")
    seed: int = option(0, "the trials' training seed and the searcher's seed", INTEGER,
                       spec="seed")  # fmt: skip
    metric: str | None = option(None, METRIC_HELP, TEXT, spec="metric",
                                shown_default="the setting's: bnm (closed), guarded_source_val "
                                "(partial), h_proxy (open-set), source_val (segmentation); "
                                "reports/selection.md says why")  # fmt: skip
    scheduler: str = option("asha", "asha: stop poor trials early; none: every trial to the end",
                            one_of(*SCHEDULERS), spec="scheduler")  # fmt: skip
    searcher: str = option("tpe", "tpe: Optuna's TPE; random: a baseline", one_of(*SEARCHERS),
                           spec="searcher")  # fmt: skip
    grace_period: int | None = option(None, "ASHA's first rung, in evaluations", at_least(1),
                                      spec="grace_period", shown_default="the setting's share "
                                      "of the evaluations, reports/selection.md")  # fmt: skip
    reduction_factor: int = option(2, "ASHA's reduction factor", at_least(2),
                                   spec="reduction_factor")  # fmt: skip
    max_failures: int = option(0, "retries per trial", at_least(0), spec="max_failures")
    space: str | None = option(None, "a search-space YAML file", TEXT,
                               shown_default="the shipped one: dabench space METHOD")  # fmt: skip
    overrides: dict[str, Any] = option({}, "a hyperparameter fixed in every trial (KEY=VALUE, "
                                       "repeatable; e.g. precision=bf16)", MAPPING, spec="set")  # fmt: skip
    root: str | None = option(None, "the dataset folder (real-data tasks)", TEXT, spec="root")
    address: str | None = option(None, "an existing Ray cluster", TEXT,
                                 shown_default="a local one")  # fmt: skip
    tracking_uri: str | None = option(None, "the MLflow store or server", TEXT,
                                      shown_default="$MLFLOW_TRACKING_URI or "
                                      "sqlite:///./mlflow.db")  # fmt: skip
    experiment: str = option("dabench", "the MLflow experiment", TEXT, spec="experiment")
    storage: str = option("ray_results", "where Ray keeps the state: a folder or a URI "
                          "(file://, s3://, ...) every node can reach", TEXT)  # fmt: skip
    name: str | None = option(None, "the sweep's name", NAME_CHECK,
                              shown_default="method-task-time")  # fmt: skip


def shared(name: str) -> Any:
    """The declaration of :class:`SweepOptions` field ``name`` (default, help, check), for another
    options class that has the same option."""
    declared = declarations(SweepOptions)[name]
    metadata = {**declared.metadata, "spec": None}
    if declared.default_factory is not MISSING:
        return field(default_factory=declared.default_factory, metadata=metadata)
    return field(default=declared.default, metadata=metadata)


@dataclass
class RerunOptions:
    """What ``dabench rerun`` re-trains (a finished sweep's picks) and how."""

    sweep: str = option(MISSING, "the sweep's name", NAME_CHECK)
    seeds: int = option(3, "fresh seeds per pick", at_least(1))
    select: tuple[str, ...] = option((), "a criterion whose pick is re-trained: source_val, a "
                                     "validator (bnm, im, ...) or oracle (repeatable)", NAMES,
                                     repeated=True, shown_default="the sweep's objective and "
                                     "the oracle")  # fmt: skip
    max_concurrent: int = shared("max_concurrent")
    cpus_per_trial: float = shared("cpus_per_trial")
    gpus_per_trial: float = shared("gpus_per_trial")
    max_failures: int = shared("max_failures")
    address: str | None = shared("address")
    tracking_uri: str | None = shared("tracking_uri")
    experiment: str = shared("experiment")
    storage: str = shared("storage")


BENCHMARK_DEFAULTS = {"num_samples": 12}
"""Where a benchmark's sweeps default otherwise than ``dabench sweep``: 12 trials a sweep."""
BUDGET_KEYS = ("steps", "eval_every", "trials")
LEADERBOARD_KEYS = ("select", "out", "plots", "runs")


def _positive(value: Any) -> bool:
    return at_least(1).test(value)


BUDGETS = Check(
    f"a mapping task → {{{', '.join(f'{k}: N' for k in BUDGET_KEYS)}}} (any of them, integers ≥ 1)",
    lambda v: isinstance(v, dict) and all(
        isinstance(b, dict) and not set(b) - set(BUDGET_KEYS) and all(map(_positive, b.values()))
        for b in v.values()),
)  # fmt: skip
TRIALS_BY_METHOD = Check("a mapping method → trials (an integer ≥ 1)", lambda v: isinstance(
    v, dict) and all(isinstance(k, str) and _positive(x) for k, x in v.items()))  # fmt: skip
LEADERBOARD = Check(f"a mapping with any of {', '.join(LEADERBOARD_KEYS)} (strings)",
                    lambda v: isinstance(v, dict) and not set(v) - set(LEADERBOARD_KEYS)
                    and all(isinstance(x, str) for x in v.values()))  # fmt: skip


def _scores(value: Any) -> bool:
    """A mapping name → a number in [0, 100] (a metric in %)."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and _number(v) and 0 <= v <= 100 for k, v in value.items()
    )


def _published_block(v: Any) -> bool:
    return (isinstance(v, dict) and not set(v) - {"source", "protocol", "tasks", "average"}
            and all(isinstance(v.get(k), str) and v[k] for k in ("source", "protocol"))
            and isinstance(v.get("tasks"), dict) and bool(v["tasks"])
            and all(isinstance(t, str) and _scores(n) for t, n in v["tasks"].items())
            and _scores(v.get("average", {})))  # fmt: skip


PUBLISHED = Check(
    "a mapping with source and protocol (text), tasks (task → method → a number in [0, 100]) "
    "and optionally average (method → number), or a list of such mappings (one per source)",
    lambda v: _published_block(v) or (isinstance(v, list) and bool(v)
                                      and all(_published_block(b) for b in v)),
)  # fmt: skip
"""The shape of a spec's ``published:`` block, or list of blocks (:mod:`dabench.reports.published`)."""
SET_BY_METHOD = Check("a mapping method → {key: value} (fixed in that method's trials)",
                      lambda v: isinstance(v, dict) and all(
                          isinstance(k, str) and MAPPING.test(x) for k, x in v.items()))  # fmt: skip
SPACES = Check("a mapping method → a search-space file, or the name of a shipped one (e.g. "
               "digits/dann)", lambda v: isinstance(v, dict) and all(
                   isinstance(k, str) and TEXT.test(x) for k, x in v.items()))  # fmt: skip
CHUNKS = Check("a mapping chunk name → a list of task names", lambda v: isinstance(v, dict)
               and all(isinstance(k, str) and NAMES.test(x) and x for k, x in v.items()))  # fmt: skip


@dataclass
class BenchmarkSpec:
    """What a benchmark runs (the keys of a spec file; flags override them)."""

    sweep: dict[str, Any] = field(default_factory=dict)
    """The shared sweep options the spec sets, by :class:`SweepOptions` field name."""
    tasks: list[str] | None = option(None, "task names (see `dabench tasks`)", NAMES,
                                     shown_default="every bundled task")  # fmt: skip
    methods: list[str] | None = option(None, "method names; each task gets those that apply",
                                       NAMES, shown_default="every method that applies")  # fmt: skip
    trials_by_method: dict[str, int] = option({}, "per-method trials", TRIALS_BY_METHOD,
                                              flag=False)  # fmt: skip
    budgets: dict[str, dict[str, int]] = option({}, "per-task budgets (a task's trials apply to "
                                                "each of its sweeps)", BUDGETS, flag=False)  # fmt: skip
    seeds: int = option(3, "fresh seeds per pick (0: no re-training)", at_least(0))
    select: list[str] = option([], "a criterion whose pick gets the fresh seeds (repeatable)",
                               NAMES, repeated=True, shown_default="each sweep's objective and "
                               "the oracle")  # fmt: skip
    leaderboard: dict[str, str] = option({}, "the leaderboard's select, out, plots and runs",
                                         LEADERBOARD, flag=False)  # fmt: skip
    chunks: dict[str, list[str]] = option({}, "parts of the spec that run as benchmarks of "
                                          "their own", CHUNKS, flag=False)  # fmt: skip
    set_by_method: dict[str, dict[str, Any]] = option({}, "per-method fixed values, over the "
                                                      "spec's set", SET_BY_METHOD, flag=False)  # fmt: skip
    spaces: dict[str, str] = option({}, "per-method search spaces (default: the method's shipped "
                                    "one)", SPACES, flag=False)  # fmt: skip
    published: dict[str, Any] | list[dict[str, Any]] = option(
        {}, "the published numbers the leaderboard prints beside dabench's (one block per source)",
        PUBLISHED, flag=False)  # fmt: skip

    def value(self, key: str) -> Any:
        """The value of sweep option ``key`` (a field name) for every sweep of the benchmark."""
        if key in self.sweep:
            return self.sweep[key]
        return BENCHMARK_DEFAULTS.get(key, default_of(declarations(SweepOptions)[key]))


SPECS_DIR: Traversable = resources.files("dabench") / "benchmark_specs"
"""The shipped benchmark specs (``tiny``, ``leaderboard``, the real-data ones), read as package
resources."""


def shipped_specs() -> list[str]:
    """The names of the shipped benchmark specs."""
    return sorted(p.name.removesuffix(".yaml") for p in SPECS_DIR.iterdir()
                  if p.name.endswith(".yaml"))  # fmt: skip


def check(options: Any) -> None:
    """Check every value of an options dataclass against its declaration; ``ValueError`` naming
    the option's flag, what it accepts and the value."""
    for name, declared in declarations(type(options)).items():
        value = getattr(options, name)
        if value is None and declared.default is None:
            continue
        if not declared.metadata["check"].test(value):
            refusal = declared.metadata["check"].refusal(value)
            raise ValueError(f"--{name.replace('_', '-')} {refusal}")


def spec_keys() -> dict[str, str]:
    """Benchmark spec key → the :class:`SweepOptions` field it sets."""
    return {f.metadata["spec"]: name for name, f in declarations(SweepOptions).items()
            if f.metadata["spec"]}  # fmt: skip


def parse_value(text: str) -> Any:
    """A value typed on the command line: a Python/JSON literal where it parses as one (numbers,
    ``true``/``false``, quoted strings), a bare word otherwise."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["lr=0.003", "randomized=true", "adversary=cdan"]`` → ``{"lr": 0.003, ...}``; types are
    checked later against the method's keys."""
    config: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value; got {item!r}")
        config[key.strip()] = parse_value(text.strip())
    return config
