"""Turning a series into the (N, T, D) windows a recurrent network reads."""

from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError, ShapeError
from .validation import _brief, _count, _finite, _float, _is_real, _numeric

__all__ = ["windows", "split", "MinMaxScaler"]


def _series(series, name: str = "series") -> np.ndarray:
    """``series`` as an array of at least one dimension (a scalar has no length)."""
    s = _numeric(series, name)
    if s.ndim == 0:
        raise ShapeError(f"{name} is a single number ({s.item()!r}); expected a series of values, (L,) or (L, D)")
    return s


def windows(series, steps: int, *, horizon: int = 1, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Input windows and the value ``horizon`` steps after each.

    series : (L,) or (L, D) array, oldest first.
    steps  : T, the length of each window.
    horizon: how far past the window the target lies (1 = the next value).
    stride : how far one window starts after the previous (1 = sliding windows;
             ``stride=steps`` gives non-overlapping windows); at most L.
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
    if stride > L:  # a mistake (and beyond int64 it would overflow the index arithmetic)
        raise ShapeError(
            f"stride = {stride} is longer than the series ({L} values): fewer than one window would follow "
            f"the first, so the stride would never apply; expected stride <= {L}"
        )
    starts = np.arange(n) * stride
    try:
        X = s[starts[:, None] + np.arange(steps)]  # (N, T, D)
    except MemoryError:
        raise ParameterError(
            f"steps={steps} with stride={stride} gives {n} windows of {steps} x {s.shape[1]} values "
            f"({n * steps * s.shape[1] * 8 / 1e9:.3g} GB as float64), more than can be allocated here; "
            "use a larger stride or a shorter series"
        ) from None
    y = s[starts + steps + horizon - 1]  # (N, D)
    return X, y


def split(series, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Chronological split: the first ``int(L * train_fraction)`` values, then the rest.

    >>> split(np.arange(10.0), 0.8)
    (array([0., 1., 2., 3., 4., 5., 6., 7.]), array([8., 9.]))
    """
    s = _series(series)
    if not _is_real(train_fraction) or not 0 < train_fraction < 1:
        raise ParameterError(f"train_fraction must be in (0, 1), a number strictly between 0 and 1, "
                             f"got {_brief(train_fraction)}")
    train_fraction = float(train_fraction)
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
        self.feature_range = _feature_range(feature_range)
        self.min_ = self.max_ = None

    def fit(self, x) -> "MinMaxScaler":
        a = _series(x, "x").astype(np.float64)
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

    def _input(self, x) -> np.ndarray:
        """``x`` as float64 values this fitted scaler can map: finite, and with the
        features it was fitted on in its last axes."""
        self._check()
        a = _numeric(x, "x").astype(np.float64)
        shape = np.shape(self.min_)
        if np.size(self.min_) > 1 and (a.ndim < len(shape) or a.shape[a.ndim - len(shape):] != shape):
            raise ShapeError(
                f"x has shape {a.shape} but this scaler was fitted on "
                + (f"{shape[0]} features" if len(shape) == 1 else f"windows of shape (N, {', '.join(map(str, shape))})")
                + f"; expected shape (L, {', '.join(map(str, shape))})"
            )
        _finite(a, "x")
        return a

    # Both directions work on halves, (x/2 - min/2) / (max/2 - min/2): the range of a
    # series near the float64 limit (max - min > 1.8e308) would overflow to inf and give
    # NaN. Halving is exact in binary, so ordinary series get the same bits as before.

    def transform(self, x) -> np.ndarray:
        a = self._input(x)
        lo, hi = self.feature_range
        return lo + (a / 2 - self.min_ / 2) * (hi - lo) / (self.max_ / 2 - self.min_ / 2)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        a = self._input(x)
        lo, hi = self.feature_range
        return 2 * (self.min_ / 2 + (a - lo) * (self.max_ / 2 - self.min_ / 2) / (hi - lo))

    def to_dict(self) -> dict:
        """JSON-able settings (saved beside a model)."""
        self._check()
        return {"feature_range": list(self.feature_range), "min": np.atleast_1d(self.min_).tolist(),
                "max": np.atleast_1d(self.max_).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "MinMaxScaler":
        """The scaler ``to_dict`` described: {"feature_range": [lo, hi], "min": [...],
        "max": [...]}. Each part is checked; a broken one is a ParameterError naming its key."""
        if not isinstance(d, dict):
            raise ParameterError(f"scaler settings must be a dict with keys 'feature_range', 'min' and 'max' "
                                 f"(as to_dict writes), got {type(d).__name__}")
        missing = [k for k in ("feature_range", "min", "max") if k not in d]
        if missing:
            raise ParameterError(f"scaler settings lack the key(s) {missing}; expected 'feature_range', "
                                 f"'min' and 'max' (as to_dict writes), got keys {sorted(map(str, d))}")
        sc = cls(_feature_range(d["feature_range"], "scaler settings 'feature_range'"))
        mn, mx = _bounds(d["min"], "min"), _bounds(d["max"], "max")
        if mn.shape != mx.shape:
            raise ParameterError(f"scaler settings 'min' has shape {mn.shape} but 'max' has {mx.shape}; "
                                 "expected one of each per feature")
        if not np.all(mn < mx):
            k = int(np.argmax(~(mn < mx).reshape(-1)))
            raise ParameterError(f"scaler settings 'min' must be below 'max' for every feature, but feature {k} "
                                 f"has min {float(mn.flat[k])!r} and max {float(mx.flat[k])!r}")
        sc.min_, sc.max_ = (mn[0], mx[0]) if mn.shape == (1,) else (mn, mx)
        return sc


def _feature_range(fr, name: str = "feature_range") -> tuple[float, float]:
    """(lo, hi): two finite real numbers, lo < hi, whose width hi - lo is finite too."""
    want = "(lo, hi), two finite numbers with lo < hi"
    if not isinstance(fr, (tuple, list, np.ndarray)) or len(fr) != 2:
        raise ParameterError(f"{name} must be {want}, got {_brief(fr)}")
    for v in fr:
        if not _is_real(v):
            raise ParameterError(f"{name} must be {want}, got {_brief(tuple(fr))} "
                                 f"({type(v).__name__} {_brief(v)} is not a real number)")
    lo, hi = _float(fr[0]), _float(fr[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(f"{name} must be {want}, got ({lo!r}, {hi!r})")
    if not math.isfinite(hi - lo):
        raise ParameterError(f"{name} ({lo!r}, {hi!r}) has a width hi - lo beyond the float64 range "
                             "(1.8e308); use a narrower range")
    return lo, hi


def _bounds(v, key: str) -> np.ndarray:
    """The 'min' or 'max' of saved scaler settings: a non-empty list of finite numbers
    (nested, for a scaler fitted on windows (N, T, D))."""
    name = f"scaler settings {key!r}"
    if _is_real(v):
        arr = np.array([v], dtype=object)
    elif isinstance(v, (list, tuple, np.ndarray)):
        try:
            arr = np.array(v, dtype=object)
        except ValueError:  # ragged
            raise ParameterError(f"{name} must be a list of numbers, one per feature, got lists of "
                                 "different lengths") from None
    else:
        raise ParameterError(f"{name} must be a list of numbers, one per feature, got {_brief(v)}")
    if arr.size == 0:
        raise ParameterError(f"{name} is empty; expected a list of numbers, one per feature")
    for k, x in enumerate(arr.flat):
        if not _is_real(x):
            raise ParameterError(f"{name} must hold numbers, got {type(x).__name__} {_brief(x)} at index {k}")
    out = np.array([_float(x) for x in arr.flat], dtype=np.float64).reshape(np.atleast_1d(arr).shape)
    if not np.isfinite(out).all():
        k = int(np.argmax(~np.isfinite(out.reshape(-1))))
        raise ParameterError(f"{name} holds {arr.flat[k]!r} at index {k}; expected finite numbers")
    return out
