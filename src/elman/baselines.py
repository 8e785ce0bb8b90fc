"""The yardsticks a forecast is measured against, and its prediction intervals.

- :func:`naive` and :func:`seasonal_naive`: the forecasts that need no model, on exactly
  the targets the model predicted (positions t, each predicted h steps ahead);
- :func:`season`: the season P to compare with (from the time step when the data has
  dates, else the autocorrelation of the training part);
- :func:`scores`: RMSE and MAE of each, and MASE = the model's MAE over the seasonal
  naive MAE on the same targets (below 1: the model beats seasonal naive);
- :func:`conformal_radius` and :func:`coverage`: split-conformal intervals, y_hat +- q,
  with q from the absolute errors on a calibration (validation) part that training never
  saw; the finite-sample quantile ceil((n + 1) level) / n makes P(y in interval) >= level
  when the errors are exchangeable.

>>> x = np.array([1.0, 2, 3, 4, 5, 6])
>>> naive(x, [4, 5], horizon=1), seasonal_naive(x, [4, 5], horizon=1, period=3)
(array([4., 5.]), array([2., 3.]))
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics
from .errors import DataError

__all__ = ["naive", "seasonal_naive", "season", "scores", "conformal_radius", "coverage"]


def naive(x: np.ndarray, positions, *, horizon: int = 1) -> np.ndarray:
    """x_{t-h} for each target position t: the last value known h steps before."""
    return np.asarray(x, dtype=np.float64)[np.asarray(positions) - horizon]


def seasonal_naive(x: np.ndarray, positions, *, horizon: int = 1, period: int) -> np.ndarray:
    """x_{t - P ceil(h / P)}: the value one (or more) seasons back that is known h steps
    before t."""
    back = period * math.ceil(horizon / period)
    return np.asarray(x, dtype=np.float64)[np.asarray(positions) - back]


def season(train: np.ndarray, default: int | None = None, *, max_period: int = 400) -> int:
    """The season P: ``default`` (from the time step, e.g. 12 for monthly data) when given,
    else the lag in [2, n/3] where the autocorrelation of the differenced training part
    peaks, or 1 (no season) when no lag's correlation reaches 0.3."""
    if default is not None:
        return int(default)
    x = np.asarray(train, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    d = np.diff(x / peak if peak > 0 else x)  # scaled first: near the float64 limit a difference overflows
    n = len(d)
    top = min(max_period, n // 3)
    if top < 2 or np.ptp(d) == 0:
        return 1
    d = d - d.mean()
    denom = float(d @ d)
    acf = np.array([float(d[k:] @ d[:-k]) / denom for k in range(1, top + 1)])  # lags 1 .. top
    # Neighbouring values of a smooth series correlate: the season is the highest peak
    # after the correlation first falls below zero, not lag 2.
    below = np.flatnonzero(acf < 0)
    if len(below) == 0:
        return 1
    k = int(below[0]) + int(np.argmax(acf[below[0]:]))
    return k + 1 if acf[k] >= 0.3 and k + 1 >= 2 else 1


def check_season(period: int, n_train: int, origin: str | None = None) -> None:
    """A season that the training part holds at least twice (else nothing to learn it
    from); ``origin`` says where a season the user did not give came from."""
    if period > n_train // 2:
        what = origin or f"--season {period}"
        raise DataError(f"{what} is longer than half the training part ({n_train} values): "
                        "the training part must hold at least two seasons; give a shorter --season or more data")


def scores(y: np.ndarray, predictions: dict[str, np.ndarray], *, model: str = "model",
           reference: str = "seasonal naive") -> dict:
    """{name: {"rmse", "mae"}} for each prediction of the targets ``y`` (in units), and
    ``mase`` under ``model``: its MAE over ``reference``'s MAE (None when that is 0)."""
    out = {name: {"rmse": metrics.rmse(y, p), "mae": metrics.mae(y, p)} for name, p in predictions.items()}
    ref = out[reference]["mae"]
    out[model]["mase"] = out[model]["mae"] / ref if ref > 0 else None
    return out


def conformal_radius(errors: np.ndarray, level: float) -> float:
    """q such that |y - y_hat| <= q with probability >= level for a new exchangeable error:
    the ceil((n + 1) level)-th smallest of the n absolute ``errors``; inf when n is too
    small for the level (fewer than level / (1 - level) errors)."""
    e = np.sort(np.abs(np.asarray(errors, dtype=np.float64)))
    n = len(e)
    r = math.ceil((n + 1) * level)
    return float(e[r - 1]) if 1 <= r <= n else math.inf


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The fraction of ``y`` inside [lower, upper]."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0:
        raise DataError("coverage of no targets: the test part has no predictions")
    return float(np.mean((y >= lower) & (y <= upper)))
