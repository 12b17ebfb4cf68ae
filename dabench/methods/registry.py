"""Methods by name."""

from __future__ import annotations

from dabench.methods.base import Recipe
from dabench.suggest import did_you_mean

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
    import dabench.methods  # noqa: F401  (registers the built-in recipes)

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
