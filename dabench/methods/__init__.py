"""Training recipes, one small file per method, registered by name (see :mod:`.registry`)."""

from dabench.methods import (  # noqa: F401  (registration)
    adda,
    advent,
    bsp,
    cdan,
    dann,
    iwan,
    osbp,
    pada,
    source_only,
    target_oracle,
)
from dabench.methods.base import Batch, Recipe, Stage
from dabench.methods.registry import METHODS, get_method, methods_for, register_method

__all__ = ["METHODS", "Batch", "Recipe", "Stage", "get_method", "methods_for", "register_method"]
