"""Training recipes, one small file per method, registered by name (see :mod:`.registry`)."""

from dabench.methods import dann, source_only, target_oracle  # noqa: F401  (registration)
from dabench.methods.base import Batch, Recipe
from dabench.methods.registry import METHODS, get_method, register_method

__all__ = ["METHODS", "Batch", "Recipe", "get_method", "register_method"]
