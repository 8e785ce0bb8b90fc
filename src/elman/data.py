"""Turning a series into the (N, T, D) windows a recurrent network reads."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError, ShapeError
from .model import _count, _finite, _numeric

__all__ = ["windows", "split", "MinMaxScaler"]


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
    steps, horizon, stride = _count(steps, "steps"), _count(horizon, "horizon"), _count(stride, "stride")
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


def split(series, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Chronological split: the first ``int(L * train_fraction)`` values, then the rest.

    >>> split(np.arange(10.0), 0.8)
    (array([0., 1., 2., 3., 4., 5., 6., 7.]), array([8., 9.]))
    """
    s = _numeric(series, "series")
    if not isinstance(train_fraction, (int, float)) or not 0 < train_fraction < 1:
        raise ParameterError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    n = int(len(s) * train_fraction)
    if n < 1 or n >= len(s):
        raise ShapeError(f"series has {len(s)} values: train_fraction={train_fraction} leaves an empty part")
    return s[:n], s[n:]


class MinMaxScaler:
    """Scale each feature to [lo, hi] (default [0, 1]) from the min and max seen by ``fit``.

    Fit it on the training part only (what a forecaster must do: the test part is the
    future); fitting on the whole series, as the sunspots tutorial does, is
    ``MinMaxScaler().fit(whole_series)``. ``inverse_transform`` brings predictions back
    to the series' own units.

    >>> sc = MinMaxScaler().fit([2.0, 4.0, 6.0])
    >>> sc.transform([4.0, 8.0]).tolist(), sc.inverse_transform([0.5]).tolist()
    ([0.5, 1.5], [4.0])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)):
        lo, hi = feature_range
        if not lo < hi:
            raise ParameterError(f"feature_range must be (lo, hi) with lo < hi, got {feature_range!r}")
        self.feature_range = (float(lo), float(hi))
        self.min_ = self.max_ = None

    def fit(self, x) -> "MinMaxScaler":
        a = _numeric(x, "x").astype(np.float64)
        _finite(a, "x")
        if a.size == 0:
            raise ShapeError("x is empty; expected values to fit the scaler on")
        self.min_, self.max_ = a.min(axis=0), a.max(axis=0)
        if np.any(self.max_ == self.min_):
            raise ParameterError("x is constant (max == min), so it cannot be scaled to a range")
        return self

    def _check(self):
        if self.min_ is None:
            raise ParameterError("this MinMaxScaler is not fitted yet; call fit(x) first")

    # Both directions work on halves, (x/2 - min/2) / (max/2 - min/2): the range of a
    # series near the float64 limit (max - min > 1.8e308) would overflow to inf and give
    # NaN. Halving is exact in binary, so ordinary series get the same bits as before.

    def transform(self, x) -> np.ndarray:
        self._check()
        lo, hi = self.feature_range
        a = _numeric(x, "x").astype(np.float64)
        return lo + (a / 2 - self.min_ / 2) * (hi - lo) / (self.max_ / 2 - self.min_ / 2)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        self._check()
        lo, hi = self.feature_range
        a = _numeric(x, "x").astype(np.float64)
        return 2 * (self.min_ / 2 + (a - lo) * (self.max_ / 2 - self.min_ / 2) / (hi - lo))

    def to_dict(self) -> dict:
        """JSON-able settings (saved beside a model)."""
        self._check()
        return {"feature_range": list(self.feature_range), "min": np.atleast_1d(self.min_).tolist(),
                "max": np.atleast_1d(self.max_).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "MinMaxScaler":
        sc = cls(tuple(d["feature_range"]))
        mn, mx = np.asarray(d["min"], float), np.asarray(d["max"], float)
        sc.min_, sc.max_ = (mn[0], mx[0]) if mn.size == 1 else (mn, mx)
        return sc
