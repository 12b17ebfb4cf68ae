"""Methods by name. (Importing this module runs ``dabench/methods/__init__.py`` first, which
registers every built-in recipe.)"""

from __future__ import annotations

from dabench.methods.base import Recipe
from dabench.names import did_you_mean

METHODS: dict[str, type[Recipe]] = {}
"""Every recipe class by method name, filled by :func:`register_method`."""


def register_method(recipe: type[Recipe]) -> type[Recipe]:
    """Class decorator: make ``recipe`` available under ``recipe.name``."""
    if recipe.name in METHODS:
        raise ValueError(f"method {recipe.name!r} is registered twice")
    METHODS[recipe.name] = recipe
    return recipe


def get_method(name: str, setting: str | None = None) -> type[Recipe]:
    """The recipe called ``name``; with ``setting``, check that it supports it."""
    if name not in METHODS:
        raise ValueError(
            f"unknown method {name!r}{did_you_mean(name, METHODS)}; known methods: "
            f"{', '.join(sorted(METHODS))}"
        )
    recipe = METHODS[name]
    if setting is not None and setting not in recipe.settings:
        fitting = sorted(n for n, r in METHODS.items() if setting in r.settings)
        raise ValueError(
            f"method {name!r} does not support the {setting!r} setting (it supports "
            f"{', '.join(recipe.settings)}); methods for {setting!r}: {', '.join(fitting)}"
        )
    return recipe


METHOD_ORDER = ("source_only", "dann", "cdan", "adda", "bsp", "osbp", "pada", "iwan", "advent")
"""The order of methods in tables: the baseline first, then the reference library's methods."""


def methods_for(setting: str) -> list[str]:
    """The registered methods of ``setting`` in table order: source-only, the adversarial methods
    (in :data:`METHOD_ORDER`, then any other registered one by name), the target oracle last."""
    names = [m for m in METHODS if setting in METHODS[m].settings]
    known = [m for m in METHOD_ORDER if m in names]
    others = sorted(set(names) - set(known) - {"target_oracle"})
    return [*known, *others, *(["target_oracle"] if "target_oracle" in names else [])]
