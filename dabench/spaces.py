"""Search spaces declared in YAML (``dabench/search_spaces/<method>.yaml``, shipped inside the
package; ``dabench space METHOD`` prints one), validated before any trial.

A file::

    method: cdan
    parameters:                      # sampled in this order
      lr: {type: loguniform, low: 1.0e-3, high: 3.0e-2}
      trade_off: {type: loguniform, low: 0.1, high: 3.0}
      randomized: {type: categorical, choices: [false, true]}
      randomized_dim: {type: int, low: 256, high: 4096, log: true, when: {randomized: true}}
    fixed:                           # the same in every trial
      bottleneck_dim: 256

Distributions: ``uniform`` and ``loguniform`` (floats in ``[low, high]``), ``int`` (integers in
``[low, high]``, optional ``log: true`` and ``step``) and ``categorical`` (``choices``). ``when``
makes a parameter conditional on earlier categorical ones (``{name: value}`` or
``{name: [values]}``): it is sampled only when every condition holds, and otherwise left at the
method's default. Every name must be a hyperparameter of the method (see ``dabench methods``); the
bounds, choices and fixed values must be accepted by the trainable's checks. Errors name the file,
the key and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dabench.catalog.defaults import COMMON_DEFAULTS, SETTING_DEFAULTS
from dabench.methods import get_method
from dabench.trainable import CHOICES, RANGES, check_range

if TYPE_CHECKING:
    import optuna

SPACES_DIR: Traversable = resources.files("dabench") / "search_spaces"
"""The shipped search spaces, read as package resources (a checkout, a wheel or an sdist alike)."""
DISTRIBUTIONS = ("uniform", "loguniform", "int", "categorical")
FIELDS = {
    "uniform": {"type", "low", "high", "when"},
    "loguniform": {"type", "low", "high", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
}


class SpaceLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but reading ``1e30`` and ``1.0e30`` as floats as YAML 1.2 does
    (YAML 1.1 wants a sign in the exponent and would otherwise give the string ``"1e30"``), and
    refusing more than :data:`MAX_ALIASES` aliases (``*name``): a few hundred bytes of nested
    aliases expand to gigabytes ("billion laughs"); a search space or spec needs none."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (*name): refused")
        return super().compose_node(parent, index)


MAX_ALIASES = 32
"""The most aliases a search space or benchmark spec may use."""
MAX_BYTES = 1 << 20
"""A search space or benchmark spec file is at most 1 MiB."""


def read_yaml(path: Path | Traversable, error: type[ValueError] = ValueError) -> Any:
    """The YAML document in ``path`` (a user's file or a shipped resource), read safely
    (:class:`SpaceLoader`); ``error`` naming the file for a file too large, not valid YAML or with
    too many aliases."""
    if isinstance(path, Path) and path.stat().st_size > MAX_BYTES:
        raise error(f"{path}: larger than {MAX_BYTES >> 20} MiB; not a search space or spec")
    try:
        return yaml.load(path.read_text(), Loader=SpaceLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as failure:
        raise error(f"{path}: not valid YAML: {failure}") from None


SpaceLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


class SearchSpaceError(ValueError):
    """A search-space file that cannot be used; the message names the file, key and reason."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int = 1
    choices: tuple[Any, ...] = ()
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def active(self, values: dict[str, Any]) -> bool:
        """Whether every ``when`` condition holds for the values sampled so far."""
        return all(
            name in values and values[name] in allowed for name, allowed in self.when.items()
        )

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution ``suggest`` samples from (to rebuild a study from runs)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.type == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.type == "int":
            return IntDistribution(int(self.low), int(self.high), step=self.step, log=self.log)
        return FloatDistribution(self.low, self.high, log=self.type == "loguniform")

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=self.step, log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, log=self.type == "loguniform")


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space of one method."""

    method: str
    parameters: tuple[Parameter, ...]
    fixed: dict[str, Any]
    source: str

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Define-by-run sampling for Optuna: the active parameters, in file order, plus ``fixed``.
        (Optuna records only the sampled parameters; the fixed ones come back in the config.)"""
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            if parameter.active(values):
                values[parameter.name] = parameter.suggest(trial)
        return values

    def names(self) -> list[str]:
        return [p.name for p in self.parameters]


def space_path(method: str) -> Traversable:
    """The shipped search space of ``method``."""
    return SPACES_DIR / f"{method}.yaml"


def load_space(path: str | Path | Traversable | None = None,
               method: str | None = None) -> SearchSpace:  # fmt: skip
    """Read and validate a space: ``path`` (a user's file), or the shipped file of ``method``.
    With both, the file's ``method`` must be ``method``."""
    if path is None:
        if method is None:
            raise ValueError("load_space needs a path or a method")
        path = space_path(method)
    if isinstance(path, str):
        path = Path(path)
    if not path.is_file():
        raise SearchSpaceError(f"{path}: no such search-space file")
    return parse_space(read_yaml(path, SearchSpaceError), str(path), method)


def parse_space(document: Any, source: str = "<space>", method: str | None = None) -> SearchSpace:
    """Validate a parsed YAML document (see the module docstring for the format)."""

    def fail(key: str, reason: str) -> SearchSpaceError:
        return SearchSpaceError(f"{source}: {key}: {reason}")

    if not isinstance(document, dict):
        raise fail("(top level)", "must be a mapping with 'method' and 'parameters'")
    unknown = sorted(set(document) - {"method", "parameters", "fixed"})
    if unknown:
        raise fail(str(unknown), "unknown top-level key(s); accepted: method, parameters, fixed")
    name = document.get("method")
    if not isinstance(name, str):
        raise fail("method", f"must name a method; got {name!r}")
    if method is not None and name != method:
        raise fail("method", f"the file is for {name!r}, but the sweep is for {method!r}")
    try:
        recipe = get_method(name)
    except ValueError as error:
        raise fail("method", str(error)) from None
    defaults = hyperparameters(recipe)
    ranges, choices = {**RANGES, **recipe.ranges}, {**CHOICES, **recipe.choices}

    def check_value(key: str, hp: str, value: Any) -> None:
        default = defaults[hp]
        expected = float if isinstance(default, float) else type(default)
        if expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not ok:
            raise fail(key, f"{hp} takes {expected.__name__} values; got {value!r}")
        if hp in ranges:
            try:
                check_range(hp, value, *ranges[hp])
            except ValueError as error:
                raise fail(key, str(error).removeprefix("config key ")) from None
        if hp in choices and value not in choices[hp]:
            raise fail(key, f"{hp} must be one of {choices[hp]}; got {value!r}")

    def known(key: str, hp: str) -> None:
        if hp not in defaults:
            raise fail(key, f"{hp!r} is not a hyperparameter of {name!r}; its hyperparameters: "
                       f"{', '.join(sorted(defaults))}")  # fmt: skip

    raw = document.get("parameters") or {}
    if not isinstance(raw, dict) or not raw:
        raise fail("parameters", "must be a non-empty mapping of hyperparameter → distribution")
    parameters: list[Parameter] = []
    for hp, spec in raw.items():
        key = f"parameters.{hp}"
        known(key, hp)
        if not isinstance(spec, dict) or spec.get("type") not in DISTRIBUTIONS:
            raise fail(key, f"needs 'type', one of {', '.join(DISTRIBUTIONS)}; got {spec!r}")
        kind = spec["type"]
        extra = sorted(set(spec) - FIELDS[kind])
        if extra:
            raise fail(
                key, f"unknown field(s) {extra} for {kind}; accepted: {sorted(FIELDS[kind])}"
            )
        when = parse_when(key, spec.get("when"), parameters, fail)
        if kind == "categorical":
            options = spec.get("choices")
            if not isinstance(options, list) or not options:
                raise fail(key, "categorical needs a non-empty list 'choices'")
            for option in options:
                check_value(f"{key}.choices", hp, option)
            parameters.append(Parameter(hp, kind, choices=tuple(options), when=when))
            continue
        low, high = spec.get("low"), spec.get("high")
        for bound, value in (("low", low), ("high", high)):
            if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
                raise fail(f"{key}.{bound}", f"int needs an integer; got {value!r}")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise fail(f"{key}.{bound}", f"needs a number; got {value!r}")
            check_value(f"{key}.{bound}", hp, float(value) if kind != "int" else value)
        if not low < high:
            raise fail(key, f"low must be below high; got low={low}, high={high}")
        log = kind == "loguniform" or bool(spec.get("log", False))
        if log and low <= 0:
            raise fail(f"{key}.low", f"a log range needs low > 0; got {low}")
        step = spec.get("step", 1)
        if kind == "int" and (not isinstance(step, int) or step < 1 or (log and step != 1)):
            raise fail(f"{key}.step", f"needs a positive integer (1 with log); got {step!r}")
        parameters.append(
            Parameter(hp, kind, float(low) if kind != "int" else low,
                      float(high) if kind != "int" else high, log, step, when=when)
        )  # fmt: skip

    fixed = document.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise fail("fixed", "must be a mapping of hyperparameter → value")
    for hp, value in fixed.items():
        known(f"fixed.{hp}", hp)
        if hp in raw:
            raise fail(f"fixed.{hp}", "is also a searched parameter")
        check_value(f"fixed.{hp}", hp, value)
    return SearchSpace(name, tuple(parameters), dict(fixed), source)


def parse_when(key: str, when: Any, earlier: list[Parameter], fail: Any) -> dict[str, tuple]:
    if when is None:
        return {}
    if not isinstance(when, dict) or not when:
        raise fail(
            f"{key}.when", f"must map earlier categorical parameters to values; got {when!r}"
        )
    conditions = {}
    categorical = {p.name: p for p in earlier if p.type == "categorical"}
    for name, value in when.items():
        if name not in categorical:
            raise fail(
                f"{key}.when.{name}",
                "conditions may only refer to categorical parameters defined above; "
                f"those are: {', '.join(categorical) or 'none'}",
            )
        allowed = tuple(value) if isinstance(value, list) else (value,)
        bad = [v for v in allowed if v not in categorical[name].choices]
        if bad:
            raise fail(
                f"{key}.when.{name}", f"{bad} not among its choices {categorical[name].choices}"
            )
        conditions[name] = allowed
    return conditions


def hyperparameters(recipe: type) -> dict[str, Any]:
    """Every searchable key of a recipe with its default (any setting's)."""
    merged: dict[str, Any] = dict(COMMON_DEFAULTS)
    for values in SETTING_DEFAULTS.values():
        merged.update(values)
    merged.update(recipe.defaults)
    for values in recipe.setting_defaults.values():
        merged.update(values)
    return merged
