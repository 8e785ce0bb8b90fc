"""Error figures for forecasts: mse, rmse, mae, and the range-normalised nrmse.

Each takes y_true and y_pred of the same shape (any shape) and returns a float.

>>> rmse([0.0, 0.0], [3.0, 4.0])
3.5355339059327378
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .model import _finite, _numeric

__all__ = ["mse", "rmse", "mae", "nrmse"]


def _pair(y_true, y_pred):
    a = _numeric(y_true, "y_true").astype(np.float64, copy=False)
    b = _numeric(y_pred, "y_pred").astype(np.float64, copy=False)
    if a.shape != b.shape:
        # (N,) against (N, 1) is the usual Keras-shaped mismatch: accept it, nothing else.
        if a.size == b.size and a.squeeze().shape == b.squeeze().shape and a.squeeze().ndim <= 1:
            a, b = a.reshape(-1), b.reshape(-1)
        else:
            raise ShapeError(f"y_true has shape {a.shape} but y_pred has shape {b.shape}; expected the same")
    if a.size == 0:
        raise ShapeError("y_true is empty; expected at least one value")
    _finite(a, "y_true")
    _finite(b, "y_pred")
    return a, b


def mse(y_true, y_pred) -> float:
    """Mean of (y_pred - y_true)^2."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean((b - a) ** 2))


def rmse(y_true, y_pred) -> float:
    """sqrt(mse): in the units of the series."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred) -> float:
    """Mean of |y_pred - y_true|."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(b - a)))


def nrmse(y_true, y_pred) -> float:
    """rmse / (max(y_true) - min(y_true)): comparable across series of different scale.

    >>> nrmse([0.0, 10.0], [1.0, 9.0])
    0.1
    """
    a, b = _pair(y_true, y_pred)
    span = float(np.max(a) - np.min(a))
    if span == 0:
        raise ShapeError("y_true is constant, so its range is 0 and nrmse is undefined; use rmse")
    return rmse(a, b) / span
