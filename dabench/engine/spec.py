"""Benchmark specs: what ``dabench benchmark`` runs, read from a YAML file (a user's, or one
shipped in ``dabench/benchmark_specs/``) and flags, checked, and turned into a plan of sweeps.

A spec is **shared sweep options** — any :class:`~dabench.engine.options.SweepOptions` option
with a spec key (``trials``, ``steps``, ``eval_every``, ``scheduler``, ``set``, ...: the same
declaration, default and check as ``dabench sweep``'s flag) — plus what only a benchmark has:
its ``tasks`` and ``methods``, per-method trials and per-task budgets, the fresh ``seeds`` and
the criteria that ``select`` the picks that get them, the ``leaderboard`` it writes and its
``chunks``. Every sweep of the plan is the ``dabench sweep`` those options describe, named
``<method>-<task>``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from dabench import models
from dabench.data import list_tasks
from dabench.data.check import check_data
from dabench.data.registry import task_spec
from dabench.engine.options import (
    NAME_CHECK,
    SPECS_DIR,
    BenchmarkSpec,
    SweepOptions,
    declarations,
    default_of,
    shipped_specs,
    spec_keys,
)
from dabench.engine.sweep import validate
from dabench.methods import METHODS, methods_for
from dabench.records import criteria
from dabench.reports import published
from dabench.reports.published import Published
from dabench.spaces import SPACES_DIR, read_yaml
from dabench.trainable import resolve_config


def keys() -> dict[str, tuple[str, Any]]:
    """Every key a spec accepts → (``sweep`` or ``benchmark``, its declaration), in the order
    the error messages list them."""
    sweep = {key: ("sweep", declarations(SweepOptions)[name]) for key, name in spec_keys().items()}
    own = {name: ("benchmark", f) for name, f in declarations(BenchmarkSpec).items()
           if name != "sweep"}  # fmt: skip
    return {"experiment": sweep.pop("experiment"), "tasks": own.pop("tasks"),
            "methods": own.pop("methods"), **sweep, **own}  # fmt: skip


def accepts(declared: Any) -> str:
    """What a spec key accepts, in words."""
    return f"{declared.metadata['check'].accepts} ({declared.metadata['help']})"


def spec_path(name: str) -> Path | Traversable:
    """A spec file: a path, or the name of a shipped one
    (:data:`~dabench.engine.options.SPECS_DIR`)."""
    path = Path(name).expanduser()
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        return path
    return SPECS_DIR / f"{name}.yaml"


def spec_name(name: str) -> str:
    """The benchmark's default name for spec ``name``: the file's stem (``tiny`` for ``tiny``
    and for ``specs/tiny.yaml``)."""
    return Path(name).stem


def load_spec(name: str) -> BenchmarkSpec:
    """Read and type-check a spec file (safe YAML); raises ``ValueError`` naming the file, the
    key and what it accepts."""
    path = spec_path(name)
    if not path.is_file():
        known = ", ".join(shipped_specs())
        raise ValueError(f"no benchmark spec {str(path)!r}; shipped specs: {known}")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of keys ({', '.join(keys())})")
    return from_mapping(data, str(path))


def from_mapping(data: dict[str, Any], source: str) -> BenchmarkSpec:
    """A spec from a mapping of spec keys (a spec file's, or flags'), every value checked against
    its declaration; ``source`` names it in errors."""
    accepted = keys()
    sweep, own = {}, {}
    for key, value in data.items():
        if key not in accepted:
            raise ValueError(f"{source}: unknown key {key!r}; accepted: {', '.join(accepted)}")
        kind, declared = accepted[key]
        if value is None and declared.default is None:
            continue
        if not declared.metadata["check"].test(value):
            raise ValueError(f"{source}: {key} must be {accepts(declared)}; got {value!r}")
        if kind == "sweep":
            sweep[declared.name] = value
        else:
            own[key] = value
    return BenchmarkSpec(sweep=sweep, **own)


def chunk_of(spec: BenchmarkSpec, chunk: str) -> BenchmarkSpec:
    """The part of ``spec`` that chunk ``chunk`` runs: the same spec with the chunk's tasks."""
    if chunk not in spec.chunks:
        known = ", ".join(spec.chunks) or "none (the spec has no chunks)"
        raise ValueError(f"--chunk {chunk!r}: no such chunk; the spec's chunks: {known}")
    return replace(spec, tasks=list(spec.chunks[chunk]))


def with_flags(spec: BenchmarkSpec, flags: dict[str, Any]) -> BenchmarkSpec:
    """``spec`` with the values given on the command line (spec keys; ``None``: not given),
    checked as a spec file's are. ``steps``/``eval_every``/``trials`` from flags apply to every
    task; ``set``'s values join the spec's and win over its ``set`` and ``set_by_method``."""
    flags = {k: v for k, v in flags.items() if v is not None}
    given = from_mapping(flags, "command line")
    by_method = spec.set_by_method
    if "overrides" in given.sweep:
        fixed = given.sweep["overrides"]
        given.sweep["overrides"] = {**spec.sweep.get("overrides", {}), **fixed}
        by_method = {m: {k: v for k, v in values.items() if k not in fixed}
                     for m, values in by_method.items()}  # fmt: skip
    budgets = spec.budgets
    if {"steps", "eval_every"} & set(given.sweep):  # a step budget and its cadence go together
        budgets = {t: {k: v for k, v in b.items() if k == "trials"} for t, b in budgets.items()}
    if "num_samples" in given.sweep:
        budgets = {t: {k: v for k, v in b.items() if k != "trials"} for t, b in budgets.items()}
    own = {f: getattr(given, f) for f in ("tasks", "methods", "seeds", "select") if f in flags}
    return replace(spec, sweep={**spec.sweep, **given.sweep}, **own, set_by_method=by_method,
                   budgets={t: b for t, b in budgets.items() if b})  # fmt: skip


@dataclass
class Plan:
    """A validated benchmark: the sweeps in the order they run, and the rest of the spec."""

    name: str
    spec: BenchmarkSpec
    sweeps: list[SweepOptions]

    def as_dict(self) -> dict[str, Any]:
        """What must not change when a benchmark resumes (``address`` may: another node)."""
        return {
            "sweeps": [{k: v for k, v in asdict(o).items() if k != "address"} for o in self.sweeps],
            "seeds": self.spec.seeds,
            "select": self.spec.select,
        }


def sweep_name(method: str, task: str) -> str:
    return f"{method}-{task.replace('/', '-')}"


def make_plan(spec: BenchmarkSpec, name: str, tracking_uri: str, storage_path: str,
              address: str | None) -> Plan:  # fmt: skip
    """Every sweep of ``spec``, each checked as ``dabench sweep`` checks it (task, method,
    space, values, objective), and what they read — every list and image of the real-data
    tasks (:func:`~dabench.data.check.check_data`) and the pretrained weights the trials load
    (:func:`fetch_weights`) — before anything runs; raises ``ValueError`` naming what is
    wrong."""
    if not NAME_CHECK.test(name):
        raise ValueError(f"--name {NAME_CHECK.refusal(name)}")
    in_chunks = list(dict.fromkeys(t for tasks in spec.chunks.values() for t in tasks))
    tasks = spec.tasks or in_chunks or [t.name for t in list_tasks() if not t.needs_root]
    for task in [*tasks, *in_chunks]:
        task_spec(task)  # an unknown task: ValueError listing the tasks
    for method in spec.methods or []:
        if method not in METHODS:
            raise ValueError(f"methods: unknown method {method!r}; known: {', '.join(METHODS)}")
    pairs = [(task, method) for task in tasks for method in methods_for(task_spec(task).setting)
             if spec.methods is None or method in spec.methods]  # fmt: skip
    for method in spec.methods or []:
        if not any(m == method for _, m in pairs):
            raise ValueError(f"methods: {method!r} applies to none of the tasks {tasks}")
    space_files = check_keys(spec, tasks)
    shared = {key: spec.value(key) for key in spec_keys().values()}
    check_data([t for t in tasks if task_spec(t).needs_root], shared["root"])
    sweeps, weights = [], set()
    for task, method in pairs:
        budget = {"steps": shared["steps"], "eval_every": shared["eval_every"],
                  **spec.budgets.get(task, {})}  # fmt: skip
        trials = budget.pop("trials", None) or spec.trials_by_method.get(method,
                                                                          shared["num_samples"])  # fmt: skip
        options = SweepOptions(**{
            **shared, **budget, "method": method, "task": task, "num_samples": trials,
            "overrides": {**shared["overrides"], **spec.set_by_method.get(method, {})},
            "space": space_files.get(method), "address": address,
            "tracking_uri": tracking_uri, "experiment": spec.sweep.get("experiment") or name,
            "storage": storage_path, "name": sweep_name(method, task),
        })  # fmt: skip
        try:
            config = resolve_config(validate(options).base)
        except ValueError as error:
            raise ValueError(f"sweep {options.name}: {error}") from None
        if config["pretrained"]:
            weights.add(models.imagenet_resnet(config["backbone"] or task_spec(task).model))
        sweeps.append(options)
    fetch_weights(weights - {None})
    return Plan(name, spec, sweeps)


def check_keys(spec: BenchmarkSpec, tasks: list[str]) -> dict[str, str]:
    """The spec's keys by method and by task, each naming known methods and tasks, its
    published numbers and its ``select`` criteria (for the ``tasks``' settings) checked;
    returns the per-method search-space files. (Entries for methods or tasks a flag left out of
    this run are fine: they are not used.)"""
    for key in ("trials_by_method", "set_by_method", "spaces"):
        unknown = sorted(set(getattr(spec, key)) - set(METHODS))
        if unknown:
            raise ValueError(f"{key}: unknown method(s) {unknown}; known: {', '.join(METHODS)}")
    published_numbers(spec)
    for task in spec.budgets:
        try:
            task_spec(task)
        except ValueError as error:
            raise ValueError(f"budgets: {error}") from None
    for task in tasks:
        setting = task_spec(task).setting
        for name in spec.select:
            try:
                criteria.criterion(name, setting)
            except ValueError as error:
                raise ValueError(f"select: {error} (task {task})") from None
    return {method: space_file(name) for method, name in spec.spaces.items()}


def space_file(name: str) -> str:
    """A spec's search space for a method: a YAML file, or the name of a shipped one relative
    to ``dabench/search_spaces`` (``digits/dann``); ``ValueError`` when there is none."""
    path = Path(name).expanduser()
    if path.suffix not in (".yaml", ".yml"):
        shipped = SPACES_DIR / f"{name}.yaml"
        if shipped.is_file():
            return str(shipped)
    if not path.is_file():
        raise ValueError(f"spaces: no search-space file {name!r} (a YAML file, or the name of a "
                         "shipped one such as digits/dann)")  # fmt: skip
    return str(path)


def published_numbers(spec: BenchmarkSpec) -> list[Published]:
    """The spec's ``published:`` blocks (one per source), their tasks and methods checked."""
    data = spec.published
    blocks = [published.from_mapping(b) for b in (data if isinstance(data, list) else [data])
              if b]  # fmt: skip
    for task in (t for block in blocks for t in block.tasks):
        try:
            task_spec(task)
        except ValueError as error:
            raise ValueError(f"published: {error}") from None
    return blocks


def fetch_weights(names: set[str]) -> None:
    """Make sure the ImageNet weights of the ResNets ``names`` are in the torch hub cache —
    downloaded by torchvision where there is a network — before anything runs; ``ValueError``
    naming the file and the cache folder where they cannot be had."""
    for name in sorted(names):
        try:
            models.fetch_weights(name)
        except RuntimeError as error:
            raise ValueError(f"pretrained: {error}") from None


def sweep_argv(options: SweepOptions, seeds: int) -> list[str]:
    """The ``dabench sweep`` command that runs one planned sweep alone, then its seeds: every
    option that differs from its default, as its flag."""
    argv = ["dabench", "sweep"]
    for name, declared in declarations(SweepOptions).items():
        value = getattr(options, name)
        if value is None or value == default_of(declared):
            continue
        if name == "overrides":
            argv += [f"--set={k}={json.dumps(v)}" for k, v in value.items()]
        else:
            argv += [f"--{name.replace('_', '-')}", f"{value:g}" if isinstance(value, float)
                     else str(value)]  # fmt: skip
    return [*argv, "--seeds", str(seeds)]
