"""A trained forecaster with everything needed to use it on new data: :class:`Run`, and
:func:`load_run` to read one back from the folder ``elman train --out DIR`` wrote.

A run turns a series into the model's inputs in three steps, each fitted on the
training part only and kept with the model:

    x (units)  --transforms-->  x' (levels[-1])  --scaler-->  s in [0, 1] on training
    inputs     --their own scalers-->  features 1 .. D-1 beside s

and a window of ``steps`` rows of these features, ending h = ``horizon`` steps before
the target position t, predicts s_t. Predictions come back the same way in reverse
(:meth:`Run.predict_at` for targets h steps ahead, :meth:`Run.forecast` for a recursive
forecast past the end of the data).

>>> import numpy as np
>>> from elman import ElmanRNN
>>> from elman.data import MinMaxScaler
>>> rnn = ElmanRNN(A=[[0.0]], B=[[1.0]], b=[0.0], C=[[1.0]], d=[0.0], activation="linear")
>>> run = Run(rnn, MinMaxScaler().fit([0.0, 10.0]), steps=1)   # predicts: the last value
>>> run.forecast(np.array([1.0, 2.0, 3.0]), 2)
array([3., 3.])
"""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np

from .data import MinMaxScaler
from .errors import DataError, ModelFileError, NonFiniteError, ParameterError, as_path
from .model import ElmanRNN, StackedRNN
from .transforms import Transforms

__all__ = ["Run", "load_run", "MAX_FORECAST"]

#: The most steps one forecast takes (each is one model evaluation, about 30 us, fed back).
MAX_FORECAST = 100_000


@dataclass
class Run:
    """A model with its scaler, transforms, window settings and column names.

    model : many-to-one, D = 1 + len(inputs) features per step, K = 1.
    scaler : MinMaxScaler of the transformed target, fitted on the training part.
    input_scalers : one MinMaxScaler per input column (fitted on the training part).
    interval : None, or {"level", "one_step" (radius q for predict_at), "by_lead" [q_1 ..
        q_n] (radius for step j of a forecast)}, in the series' units.
    time : None, or {"name", "unit", "n", "last"}: the time column, its step and its last label.
    """

    model: ElmanRNN | StackedRNN
    scaler: MinMaxScaler
    transforms: Transforms = field(default_factory=Transforms)
    steps: int = 12
    stride: int = 1
    horizon: int = 1
    target: str | None = None
    inputs: tuple[str, ...] = ()
    input_scalers: tuple[MinMaxScaler, ...] = ()
    season: int | None = None
    interval: dict | None = None
    time: dict | None = None
    notes: dict = field(default_factory=dict)

    # -- the features
    def levels(self, x) -> list[np.ndarray]:
        """The target's transform levels, [x, T1(x), ...] (see elman.transforms)."""
        x = np.asarray(x, dtype=np.float64)
        self.transforms.check(x, self.horizon, "the series")
        return self.transforms.levels(x)

    def features(self, levels: list[np.ndarray], inputs=None) -> np.ndarray:
        """(L, D): the scaled top level (NaN where a difference is not yet defined) and
        the scaled inputs (L, E) beside it."""
        top = levels[-1]
        lost = self.transforms.lost
        F = np.full((len(top), 1 + len(self.inputs)), np.nan)
        F[lost:, 0] = self.scaler.transform(top[lost:])
        if self.inputs:
            inputs = self._inputs(inputs, len(top))
            for j, sc in enumerate(self.input_scalers):
                F[:, 1 + j] = sc.transform(inputs[:, j])
        return F

    def _inputs(self, inputs, L: int) -> np.ndarray:
        X = np.asarray(inputs, dtype=np.float64) if inputs is not None else None
        if X is None or X.ndim != 2 or X.shape != (L, len(self.inputs)):
            got = "none" if X is None else f"shape {X.shape}"
            raise DataError(f"the model reads the input columns {', '.join(self.inputs)} beside the target: "
                            f"expected inputs of shape ({L}, {len(self.inputs)}), got {got}")
        return X

    def positions(self, start: int, stop: int, *, warm_up: bool = True) -> np.ndarray:
        """The target positions t in [start, stop), ``stride`` apart (as data.windows):
        with ``warm_up``, those whose whole window lies in [start, stop) too; without, every
        t whose window (the data before it, known at prediction time) is defined."""
        first = max(start, self.transforms.lost) + self.steps + self.horizon - 1
        if not warm_up:
            first = max(start, self.transforms.lost + self.steps + self.horizon - 1)
        return np.arange(first, stop, self.stride)

    def windows(self, F: np.ndarray, positions) -> np.ndarray:
        """(n, steps, D): the rows t - h - steps + 1 .. t - h for each target position t."""
        offsets = np.arange(-self.horizon - self.steps + 1, -self.horizon + 1)
        return F[np.asarray(positions)[:, None] + offsets]

    # -- predictions
    def predict_scaled(self, F: np.ndarray, positions) -> np.ndarray:
        """The model's predictions of the scaled top level at ``positions``."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.model.predict(self.windows(F, positions))[:, 0].astype(np.float64)

    def predict_at(self, levels: list[np.ndarray], F: np.ndarray, positions) -> np.ndarray:
        """Predictions in the series' units of the values at ``positions``, each made h
        steps before from the data known then."""
        top = self.scaler.inverse_transform(self.predict_scaled(F, positions))
        return self.transforms.at(levels, top, positions)

    def forecast_scaled(self, F: np.ndarray, origins, n: int, future=None) -> np.ndarray:
        """(len(origins), n): recursive forecasts of the scaled top level from each origin
        o (the first forecast position): each prediction becomes the next window's last
        target feature; the input features come from ``future`` (len(origins), n, E),
        scaled, or, for origins inside the data, from F itself."""
        if self.horizon != 1:
            raise ParameterError(f"a recursive forecast feeds each prediction back as the next input, so the model "
                                 f"must predict one step ahead (--horizon 1), not {self.horizon}")
        origins = np.asarray(origins)
        window = F[origins[:, None] + np.arange(-self.steps, 0)].copy()  # (n_o, steps, D)
        out = np.empty((len(origins), n))
        for i in range(n):
            with np.errstate(over="ignore", invalid="ignore"):
                out[:, i] = self.model.predict(window)[:, 0]
            row = np.empty((len(origins), F.shape[1]))
            row[:, 0] = out[:, i]
            if self.inputs:
                # past the data's end (origins near it) the row only feeds predictions that
                # lie beyond the data and are not used: any finite row will do there
                row[:, 1:] = future[:, i] if future is not None else F[np.minimum(origins + i, len(F) - 1), 1:]
            window = np.concatenate([window[:, 1:], row[:, None]], axis=1)
        return out

    def forecast_paths(self, levels, F, origins, n: int, future=None) -> np.ndarray:
        """(len(origins), n): the recursive forecasts in the series' units."""
        scaled = self.forecast_scaled(F, origins, n, future)
        top = self.scaler.inverse_transform(scaled.reshape(-1)).reshape(scaled.shape)
        return np.stack([self.transforms.forecast_path(levels, top[k], int(o)) for k, o in enumerate(origins)])

    def forecast(self, x, n: int, *, inputs=None, future=None) -> np.ndarray:
        """The next ``n`` values after the series ``x`` (L,), in its units; with input
        columns, ``inputs`` (L, E) beside x and their future values ``future`` (n, E)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_FORECAST:
            raise ParameterError(f"the number of steps to forecast must be an integer in [1, {MAX_FORECAST:,}], got "
                                 f"{n!r}: each step is one evaluation of the model, fed back")
        levels = self.levels(x)
        L = len(levels[0])
        if L < self.transforms.lost + self.steps:
            raise DataError(f"the series has {L} values; a forecast needs at least {self.transforms.lost + self.steps} "
                            f"(steps {self.steps} after the transforms' first {self.transforms.lost})")
        F = self.features(levels, inputs)
        fut = None
        if self.inputs:
            fut_raw = np.asarray(future, dtype=np.float64) if future is not None else None
            if fut_raw is None or fut_raw.ndim != 2 or fut_raw.shape[0] < n or fut_raw.shape[1] != len(self.inputs):
                raise DataError(f"a forecast of {n} steps needs the future values of the input columns "
                                f"{', '.join(self.inputs)}: (at least {n}, {len(self.inputs)}) values, got "
                                f"{'none' if fut_raw is None else fut_raw.shape}")
            fut = np.stack([sc.transform(fut_raw[:n, j]) for j, sc in enumerate(self.input_scalers)], axis=1)[None]
        path = self.forecast_paths(levels, F, np.array([L]), n, fut)[0]
        if not np.all(np.isfinite(path)):
            raise NonFiniteError(f"the forecast overflowed (step {int(np.argmin(np.isfinite(path))) + 1} of {n}); "
                                 "forecast fewer steps or check the model")
        return path

    # -- intervals: calibrated on the scale where the errors are alike across the series
    def _pointwise(self) -> tuple:
        """The leading transforms that act value by value (log): errors are measured after
        them, so that a series whose noise grows with its level (multiplicative) gets
        intervals that grow with it. They are increasing, so a bound maps to a bound."""
        k = 0
        while k < len(self.transforms.chain) and self.transforms.chain[k].lag == 0:
            k += 1
        return self.transforms.chain[:k]

    @property
    def interval_scale(self) -> str:
        """The scale the intervals are calibrated on: "log" or "units"."""
        return "log" if self._pointwise() else "units"

    def to_scale(self, values) -> np.ndarray:
        """Values in units -> the scale the intervals are calibrated on (log x with log)."""
        v = np.asarray(values, dtype=np.float64)
        for t in self._pointwise():
            with np.errstate(invalid="ignore", divide="ignore"):
                v = t.forward(v)
        return v

    def from_scale(self, v) -> np.ndarray:
        for t in reversed(self._pointwise()):
            v = t.inverse(v, None)
        return np.asarray(v, dtype=np.float64)

    def band(self, values, radius) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) = values -+ radius on the calibration scale, back in units."""
        v = self.to_scale(values)
        return self.from_scale(v - radius), self.from_scale(v + radius)

    def bounds(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(lower, upper) of a forecast's values from the interval radii by lead, or None.
        A lead the validation part was too short to calibrate is unbounded (-inf, inf)."""
        if not self.interval or not self.interval.get("by_lead"):
            return None
        q = np.array([np.inf if r is None else r for r in self.interval["by_lead"]], dtype=np.float64)
        n = len(values)
        q = q[:n] if len(q) >= n else np.concatenate([q, np.full(n - len(q), np.inf)])
        lower, upper = self.band(values, q)
        return np.where(np.isfinite(q), lower, -np.inf), np.where(np.isfinite(q), upper, np.inf)

    def forecast_csv(self, x, n: int, *, times=None, inputs=None, future=None, example: str | None = None,
                     values=None) -> str:
        """The forecast of the next ``n`` values as CSV text: a time column (the labels
        continuing ``times`` at their step, else the row numbers past the data), the
        forecast in the series' units, and lower/upper where the run has intervals.
        Numbers are written with repr(): reading them back gives the same floats; the
        labels are written like ``example`` (the series' last label), when given."""
        from . import timeindex

        if values is None:  # (the caller may pass the forecast it already made)
            values = self.forecast(x, n, inputs=inputs, future=future)
        if times is not None:
            step = timeindex.infer_step(times)
            after = timeindex.continue_times(times, n, step)
            labels = timeindex.format_like(after, example) if example else timeindex.format_times(after)
        else:
            labels = [str(i) for i in range(len(x), len(x) + n)]
        bounds = self.bounds(values)
        time_name = (self.time or {}).get("name") or "step"
        head = [time_name, self.target or "forecast"] + (["lower", "upper"] if bounds else [])
        rows = [",".join(_cell(h) for h in head)]
        for i in range(n):
            cells = [labels[i], repr(float(values[i]))]
            if bounds:
                cells += [_number(bounds[0][i]), _number(bounds[1][i])]
            rows.append(",".join(_cell(c) for c in cells))
        return "\n".join(rows) + "\n"

    # -- to and from disk
    def meta(self) -> dict:
        """JSON-able settings (kept in model.npz beside the matrices)."""
        return {"run": 1, "scaler": self.scaler.to_dict(), **self.transforms.to_dict(), "steps": self.steps,
                "stride": self.stride, "horizon": self.horizon, "target": self.target, "inputs": list(self.inputs),
                "input_scalers": [s.to_dict() for s in self.input_scalers], "season": self.season,
                "interval": self.interval, "time": self.time, **self.notes}

    @classmethod
    def from_meta(cls, model, meta: dict) -> "Run":
        """The run of the settings ``meta`` (as :meth:`meta` wrote them; a run saved before
        transforms, inputs and intervals existed has none of them), each checked."""
        try:
            m = _checked_meta(meta)
            return cls(model, MinMaxScaler.from_dict(m["scaler"]), Transforms.from_dict(m), m["steps"], m["stride"],
                       m["horizon"], m.get("target"), tuple(m.get("inputs", ())),
                       tuple(MinMaxScaler.from_dict(sc) for sc in m.get("input_scalers", ())), m.get("season"),
                       m.get("interval"), m.get("time"),
                       {k: m[k] for k in ("data", "column", "engine", "scale_on") if k in m})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"the run's settings in model.npz are damaged ({exc}); train the run again") from None


def _checked_meta(meta: dict) -> dict:
    """``meta`` with the defaults of older runs filled in, or a ValueError naming the
    first setting that is not what a run writes."""
    from .timeindex import Step

    m = dict(meta)
    m.setdefault("transforms", [])
    for key in ("steps", "stride", "horizon"):
        if isinstance(m[key], bool) or not isinstance(m[key], int) or m[key] < 1:
            raise ValueError(f"{key} is {m[key]!r}, not a positive integer")
    lags = {"log": lambda lag: lag == 0, "diff": lambda lag: lag == 1, "seasonal-diff": lambda lag: lag >= 2}
    for t in m["transforms"]:
        if not (isinstance(t, dict) and t.get("name") in lags and isinstance(t.get("lag"), int)
                and lags[t["name"]](t["lag"])):
            raise ValueError(f"transform {t!r} is not one of log (lag 0), diff (lag 1), seasonal-diff (lag >= 2)")
    inputs = m.get("inputs", [])
    if not (isinstance(inputs, list) and all(isinstance(c, str) for c in inputs)
            and len(m.get("input_scalers", [])) == len(inputs)):
        raise ValueError(f"inputs {inputs!r} are not column names with one scaler each")
    iv = m.get("interval")
    if iv is not None:
        radii = [iv["one_step"]] + list(iv.get("by_lead") or [])
        if not (0 < float(iv["level"]) < 1 and all(r is None or isinstance(r, (int, float)) for r in radii)):
            raise ValueError(f"interval {iv!r} is not a level in (0, 1) with numeric radii")
    tm = m.get("time")
    if tm is not None:
        Step(str(tm["unit"]), int(tm["n"]))  # refuses a unit that is not one
    return m


def load_run(folder) -> Run:
    """The :class:`Run` that ``elman train --out folder`` wrote (folder/model.npz: the
    model, and beside its matrices the scaler, transforms, window settings, columns)."""
    from .io import load, load_metadata

    p = as_path(folder)
    path = p / "model.npz" if p.is_dir() else p
    if not path.is_file():
        raise ModelFileError(f"{str(p)!r} holds no model.npz; expected the folder that elman train --out wrote")
    meta = load_metadata(path).get("extra") or {}
    if "scaler" not in meta or "steps" not in meta:
        raise ModelFileError(f"{str(path)!r} is a model without a run's settings (no scaler, no window length); "
                             "expected the model.npz of an elman train run")
    return Run.from_meta(load(path), meta)


def _number(v: float) -> str:
    """A bound as CSV text: repr of the float, empty where it is unbounded (too little
    validation data to calibrate that lead)."""
    return repr(float(v)) if np.isfinite(v) else ""


def _cell(text: str) -> str:
    """A CSV cell, quoted when it holds a comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text
