"""Argument checks shared by the loss library.

Every check raises a ``ValueError`` (or ``TypeError`` for a non-tensor) whose message names the
argument, says what it got and what is accepted, so that a user mistake is reported where it was
made instead of deep inside a matrix multiplication. The checks only read shapes and Python values:
they never synchronise with an accelerator.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import Tensor


def check_choice(name: str, value: object, accepted: Collection[object]) -> None:
    """Raise if ``value`` is not one of ``accepted``."""
    if value not in accepted:
        choices = ", ".join(repr(a) for a in accepted)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")


def check_tensor(name: str, x: object, ndim: int | tuple[int, ...]) -> Tensor:
    """Raise unless ``x`` is a tensor with ``ndim`` dimensions (an int or a tuple of ints)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.dim() not in allowed:
        expected = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {expected}; got shape {tuple(x.shape)}")
    return x


def check_matrix(name: str, x: object, cols: int | None = None, what: str = "features") -> Tensor:
    """Raise unless ``x`` is a 2-D ``(N, cols)`` tensor (``cols=None`` accepts any width)."""
    check_tensor(name, x, 2)
    assert isinstance(x, Tensor)
    if cols is not None and x.shape[1] != cols:
        raise ValueError(
            f"{name} must have shape (N, {cols}) ({cols} {what}); got shape {tuple(x.shape)}"
        )
    return x


def check_same_width(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Raise unless two 2-D tensors have the same number of columns."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of columns; "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_same_rows(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Raise unless two tensors have the same batch size (first dimension)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same batch size; "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def sample_weights(name: str, w: Tensor | None, n: int, like: Tensor) -> Tensor:
    """Return per-sample weights as an ``(n, 1)`` tensor; ``None`` means all ones.

    Accepts ``(n,)`` or ``(n, 1)`` weights, as the reference does.
    """
    if w is None:
        return torch.ones(n, 1, dtype=like.dtype, device=like.device)
    if not isinstance(w, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None; got {type(w).__name__}")
    if tuple(w.shape) not in ((n,), (n, 1)):
        raise ValueError(f"{name} must have shape ({n},) or ({n}, 1); got shape {tuple(w.shape)}")
    return w.reshape(n, 1)


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is a positive ``int`` (not a ``bool``), else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise unless ``value`` is a finite number greater than (or equal to) zero."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and value == value and value != float("inf")  # not NaN, not inf
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
