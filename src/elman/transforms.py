"""Transforms of a series before it is scaled and windowed, inverted exactly afterwards:
``log``, ``diff`` and ``seasonal-diff``, composable in the order given ("log,seasonal-diff").

    log            x'_t = log x_t                 x_t = exp x'_t
    diff           x'_t = x_t - x_{t-1}           x_t = x'_t + x_{t-1}
    seasonal-diff  x'_t = x_t - x_{t-P}           x_t = x'_t + x_{t-P}      (P the season)

Every transform is causal (x'_t reads x_t and the past only) and has no fitted
parameters, so transforming the whole series leaks nothing from the test part into
training; the scaler that follows is what is fitted on the training part. A chain keeps
every level of the series (``levels``): level 0 the series, level k the series after k
transforms, each aligned with the series' positions (NaN where a difference is not yet
defined). Inverting a prediction of the top level at position t needs the level below at
t - lag: the true value for a prediction made with the data up to t - h (allowed when
lag >= h), or the reconstructed value along a recursive forecast.

>>> chain = Transforms.parse("log,diff")
>>> x = np.array([1.0, 2.0, 4.0, 8.0])
>>> levels = chain.levels(x)
>>> levels[-1]                       # log 2 per step
array([       nan, 0.69314718, 0.69314718, 0.69314718])
>>> chain.forecast_path(levels, np.log([2.0, 2.0]), start=4)   # two more doublings
array([16., 32.])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError, InputTypeError, ParameterError

__all__ = ["Transform", "Transforms", "NAMES"]

#: The transforms by name.
NAMES = ("log", "diff", "seasonal-diff")


@dataclass(frozen=True)
class Transform:
    """One transform: ``name`` (one of NAMES) and ``lag`` (0 for log, 1 for diff, P for
    seasonal-diff): x'_t depends on x_t and x_{t - lag}."""

    name: str
    lag: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x' of the whole series (L,), NaN at the first ``lag`` positions."""
        if self.name == "log":
            return np.log(x)
        out = np.full_like(x, np.nan)
        out[self.lag:] = x[self.lag:] - x[:-self.lag]
        return out

    def inverse(self, x_prime, below):
        """x_t from x'_t and ``below`` = x_{t - lag} (ignored by log)."""
        if self.name == "log":
            with np.errstate(over="ignore"):  # an overflowing forecast is reported by the caller
                return np.exp(x_prime)
        return x_prime + below


class Transforms:
    """A chain of transforms applied in order; the empty chain is the identity."""

    def __init__(self, chain: tuple[Transform, ...] = ()):
        self.chain = tuple(chain)

    @classmethod
    def parse(cls, spec: str | None, season: int | None = None) -> "Transforms":
        """From the option's text: "log", "diff", "seasonal-diff" joined by commas, or
        None / "" / "none" for no transform. seasonal-diff needs the season P >= 2."""
        if spec is None:
            return cls()
        if not isinstance(spec, str):
            raise InputTypeError(f"transform must be a text like 'log,seasonal-diff', got {type(spec).__name__}")
        names = [s.strip().lower() for s in spec.split(",") if s.strip()]
        if names in ([], ["none"]):
            return cls()
        chain = []
        for name in names:
            if name not in NAMES:
                raise ParameterError(f"transform {name!r} is not known; expected one of {', '.join(NAMES)}, "
                                     "joined by commas in the order to apply them (e.g. 'log,seasonal-diff')")
            if name == "seasonal-diff" and (season is None or season < 2):
                raise ParameterError(f"transform 'seasonal-diff' needs a season of at least 2, got {season!r}; "
                                     "give the season (--season P)")
            chain.append(Transform(name, {"log": 0, "diff": 1}.get(name, season or 0)))
        if [t.name for t in chain].count("log") > 1:
            raise ParameterError(f"transform {spec!r} takes the log twice; the log of a log is not meant")
        return cls(tuple(chain))

    @property
    def spec(self) -> str:
        """The chain as the option's text ("" for none)."""
        return ",".join(t.name for t in self.chain)

    @property
    def lost(self) -> int:
        """How many positions at the start have no top-level value (the sum of the lags)."""
        return sum(t.lag for t in self.chain)

    @property
    def differences(self) -> bool:
        return any(t.lag > 0 for t in self.chain)

    def to_dict(self) -> dict:
        return {"transforms": [{"name": t.name, "lag": t.lag} for t in self.chain]}

    @classmethod
    def from_dict(cls, d: dict) -> "Transforms":
        return cls(tuple(Transform(str(t["name"]), int(t["lag"])) for t in d["transforms"]))

    def check(self, x: np.ndarray, horizon: int, what: str) -> None:
        """Refuse what the chain cannot do with this series and horizon, in one line."""
        level = np.asarray(x, dtype=np.float64)
        for k, t in enumerate(self.chain):  # the log acts on the level it is applied to
            if t.name == "log" and np.any(level[~np.isnan(level)] <= 0):
                i = int(np.argmax(np.nan_to_num(level, nan=1.0) <= 0))
                after = f" after {','.join(c.name for c in self.chain[:k])}" if k else ""
                raise DataError(f"--transform log needs positive values, but {what}{after} has {level[i]:g} at row "
                                f"{i} (its minimum is {np.nanmin(level):g}); "
                                + ("take the log first (log,diff)" if k else "drop 'log' or shift the series above zero"))
            with np.errstate(invalid="ignore"):
                level = t.forward(level)
        for t in self.chain:
            if 0 < t.lag < horizon:
                raise ParameterError(
                    f"--transform {t.name} (lag {t.lag}) cannot be inverted for --horizon {horizon}: the value "
                    f"{t.lag} step(s) back is not known {horizon} steps ahead; use --horizon {t.lag} or less, "
                    "or --horizon 1 with --forecast (recursive)")

    def levels(self, x: np.ndarray) -> list[np.ndarray]:
        """[x, T1(x), T2(T1(x)), ...], each (L,) aligned with x."""
        out = [np.asarray(x, dtype=np.float64)]
        for t in self.chain:
            with np.errstate(invalid="ignore"):  # NaN in, NaN out (the undefined start)
                out.append(t.forward(out[-1]))
        return out

    def at(self, levels: list[np.ndarray], top, positions) -> np.ndarray:
        """The series' values at ``positions`` from predictions ``top`` of the top level
        there, each level below read at its true value lag steps back (the value that is
        known when the prediction is made, since every lag is at least the horizon)."""
        v = np.asarray(top, dtype=np.float64)
        positions = np.asarray(positions)
        for k in range(len(self.chain) - 1, -1, -1):
            t = self.chain[k]
            v = t.inverse(v, levels[k][positions - t.lag] if t.lag else None)
        return v

    def forecast_path(self, levels: list[np.ndarray], top, start: int) -> np.ndarray:
        """The series' values at start, start+1, ... from a recursive forecast ``top`` of
        the top level there: each level is rebuilt from the one above, reading the true
        values before ``start`` and the rebuilt ones from ``start`` on."""
        v = np.asarray(top, dtype=np.float64)
        n = len(v)
        for k in range(len(self.chain) - 1, -1, -1):
            t = self.chain[k]
            if t.lag == 0:
                v = t.inverse(v, None)
                continue
            known = levels[k][:start]
            full = np.concatenate([known, np.empty(n)])
            for i in range(n):  # x_t = x'_t + x_{t-lag}, the latter perhaps rebuilt just now
                full[start + i] = t.inverse(v[i], full[start + i - t.lag])
            v = full[start:]
        return v
