"""Turning a series into the (N, T, D) windows a recurrent network reads."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError, ShapeError
from .model import _finite, _numeric

__all__ = ["windows"]


def windows(series, steps: int, *, horizon: int = 1, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Input windows and the value ``horizon`` steps after each.

    series : (L,) or (L, D) array, oldest first.
    steps  : T, the length of each window.
    horizon: how far past the window the target lies (1 = the next value).
    stride : how far one window starts after the previous (1 = sliding windows;
             ``stride=steps`` gives non-overlapping windows).
    Returns X (N, T, D) and y (N, D): window n is series[n*stride : n*stride + T] and
    its target series[n*stride + T + horizon - 1].

    >>> X, y = windows(np.arange(8.0), 2, stride=2)
    >>> X[:, :, 0].tolist(), y[:, 0].tolist()
    ([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], [2.0, 4.0, 6.0])
    """
    s = _numeric(series, "series").astype(np.float64, copy=False)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ShapeError(f"series has shape {s.shape} but should be (L,) or (L, D)")
    _finite(s, "series")
    for name, v in (("steps", steps), ("horizon", horizon), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{name} must be a positive integer, got {v!r}")
    L = s.shape[0]
    n = (L - steps - horizon) // stride + 1
    if n < 1:
        raise ShapeError(
            f"series has {L} values, fewer than one window needs (steps + horizon = {steps + horizon})"
        )
    starts = np.arange(n) * stride
    X = s[starts[:, None] + np.arange(steps)]  # (N, T, D)
    y = s[starts + steps + horizon - 1]  # (N, D)
    return X, y
