"""Error figures for forecasts: mse, rmse, mae, and the range-normalised nrmse.

Each takes y_true and y_pred of the same shape (any shape) and returns a float.

>>> rmse([0.0, 0.0], [3.0, 4.0])
3.5355339059327378
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .validation import _finite, _numeric

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


def _half_errors(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(rms, mean absolute value) of (b - a) / 2, for finite values whose plain formulas
    overflow (series near the float64 limit, 1.7e308): the halved errors cannot, and
    dividing them by their largest entry keeps the squares in range."""
    return _scaled(b / 2 - a / 2)


def _scaled(e: np.ndarray) -> tuple[float, float]:
    """(rms, mean absolute value) of the errors ``e``, computed on e / max|e| so that
    neither the squares of large errors overflow nor those of tiny ones underflow."""
    s = float(np.max(np.abs(e)))
    if s == 0:
        return 0.0, 0.0
    return s * float(np.sqrt(np.mean((e / s) ** 2))), s * float(np.mean(np.abs(e / s)))


# Below this largest error the squares (< 1e-200) are computed on scaled errors: squares
# of errors under 1.5e-154 fall below the float64 normal range (2.2e-308), lose their
# digits and then reach 0 (rmse([0], [1e-170]) would be 0, not 1e-170). Above it every
# square that underflows is negligible next to the largest, so ordinary values keep
# the plain formula and its bits.
_TINY = 1e-100


def _errors(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, bool]:
    """b - a (inf where it overflows, handled by the callers) and whether the errors are
    all tiny but not all zero."""
    with np.errstate(over="ignore"):
        e = b - a
    top = float(np.max(np.abs(e)))
    return e, 0 < top < _TINY


def _doubled(x: float) -> float:
    with np.errstate(over="ignore"):  # a figure above 1.8e308 is inf, honestly
        return float(np.float64(x) * 2)


def mse(y_true, y_pred) -> float:
    """Mean of (y_pred - y_true)^2."""
    a, b = _pair(y_true, y_pred)
    e, tiny = _errors(a, b)
    if tiny:
        return _scaled(e)[0] ** 2  # 0 only when the mean square itself is below 5e-324
    with np.errstate(over="ignore"):
        value = float(np.mean(e ** 2))
        if not np.isfinite(value):
            value = float(np.float64(_doubled(_half_errors(a, b)[0])) ** 2)  # inf above 1.8e308
    return value


def rmse(y_true, y_pred) -> float:
    """sqrt(mse): in the units of the series (finite whenever it is below 1.8e308,
    and not 0 for tiny nonzero errors).

    >>> rmse([0.0, 0.0], [3e-200, 4e-200])
    3.5355339059327375e-200
    """
    a, b = _pair(y_true, y_pred)
    e, tiny = _errors(a, b)
    if tiny:
        return _scaled(e)[0]
    with np.errstate(over="ignore"):
        value = float(np.sqrt(np.mean(e ** 2)))
    return value if np.isfinite(value) else _doubled(_half_errors(a, b)[0])


def mae(y_true, y_pred) -> float:
    """Mean of |y_pred - y_true|."""
    a, b = _pair(y_true, y_pred)  # no squares: tiny errors need no scaling
    with np.errstate(over="ignore"):
        value = float(np.mean(np.abs(b - a)))
    return value if np.isfinite(value) else _doubled(_half_errors(a, b)[1])


def nrmse(y_true, y_pred) -> float:
    """rmse / (max(y_true) - min(y_true)): comparable across series of different scale.

    >>> nrmse([0.0, 10.0], [1.0, 9.0])
    0.1
    """
    a, b = _pair(y_true, y_pred)
    with np.errstate(over="ignore"):
        span = float(np.max(a) - np.min(a))  # inf when the range exceeds 1.8e308
    if span == 0:
        raise ShapeError("y_true is constant, so its range is 0 and nrmse is undefined; use rmse")
    r = rmse(a, b)  # inf only when the rmse itself exceeds 1.8e308
    if np.isfinite(span) and np.isfinite(r):
        return r / span  # a Python division: inf or 0 when the quotient itself leaves the range
    return _half_errors(a, b)[0] / float(np.max(a) / 2 - np.min(a) / 2)  # halves cannot overflow
