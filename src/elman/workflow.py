"""The forecasting workflow behind ``elman train``: load, split, transform, scale, window,
train, choose, measure against baselines, forecast past the end, save, plot.

One function, :func:`train_series`, that the CLI calls. The series is cut in time order:

    | training (fit)            | validation (optional) | test                   |
    0                           n_fit                   n_train                  L

Everything fitted (the scaler, the input scalers) sees the training part only
(``scale_on="all"``: the whole series, as the sunspots tutorial does); the validation
part stops training early, chooses among repeats and calibrates the intervals; the test
part is only measured. Each part's windows lie inside it, so its first ``steps +
horizon - 1`` positions (the warm-up) have no prediction.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import baselines, datasets, metrics, timeindex
from ._outdir import RunFolder
from .data import MinMaxScaler
from .errors import DataError, DataFileError, InputTypeError, ParameterError, as_path
from .runs import Run
from .train import ENGINES as FIT_ENGINES
from .transforms import Transforms
from .validation import _count

__all__ = ["TrainConfig", "Series", "load_series", "train_series", "future_inputs", "prepare", "ENGINES", "RUN_FILES"]

BUILTIN = ("sine", "sunspots", "memory-sum")

#: How a run trains: one of elman.fit's engines ("auto", "numpy", "blas", "c"), or "keras"
#: (Keras trains the same model from the same initial weights).
ENGINES = (*FIT_ENGINES, "keras")

#: The files ``elman train --out DIR`` writes (forecast.csv with ``forecast`` only).
RUN_FILES = ("model.npz", "metrics.json", "history.json", "forecast.png", "loss.png", "forecast.csv")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (the options of ``elman train``)."""

    data: str = "sunspots"
    column: str | None = None
    steps: int = 12
    stride: int = 1
    horizon: int = 1
    hidden: int = 3
    activation: str = "tanh"
    output_activation: str = "linear"
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    train_fraction: float = 0.8
    scale_on: str = "train"  # "train" (no peeking at the test part) or "all" (the tutorial)
    engine: str = "auto"  # one of ENGINES: elman.fit's engine, or "keras"; the run records the one that ran
    seed: int = 0
    time_column: str | None = None  # None: the first column that parses as dates, if any
    inputs: tuple[str, ...] = ()  # input columns beside the target (CSV only)
    transform: str = ""  # "log", "diff", "seasonal-diff", joined by commas
    season: int | None = None  # None: from the time step (12 for monthly), else from the data
    forecast: int = 0  # steps to forecast past the end of the data
    future: str | None = None  # CSV with the future values of the input columns
    validation_fraction: float = 0.0  # of the whole series, just before the test part
    patience: int | None = None  # early stopping on the validation loss
    repeats: int = 1  # seeds seed .. seed + repeats - 1, the one best on validation kept
    interval: float | None = None  # prediction-interval level, e.g. 0.9


@dataclass
class Series:
    """A loaded series: the target (L,), the input columns (L, E), labels and times."""

    description: str
    x: np.ndarray
    inputs: np.ndarray
    labels: np.ndarray
    times: np.ndarray | None = None
    target_name: str | None = None
    input_names: tuple[str, ...] = ()
    time_name: str | None = None
    step: object = field(default=None)  # timeindex.Step of the times


def load_series(data: str, column: str | None = None, *, inputs=(), time_column=None) -> Series:
    """The series of a built-in name (sine, sunspots, memory-sum) or a CSV path."""
    if data in BUILTIN:
        for name, value in (("column", column), ("inputs", tuple(inputs) or None), ("time_column", time_column)):
            if value is not None:
                raise ParameterError(f"{name}={value!r} was given, but {data!r} is a built-in series with one "
                                     f"column; {name} applies to CSV files only")
        return _builtin(data)
    table = datasets.load_table(data, column, tuple(inputs), time_column)
    s = Series(f"{Path(data).name}" + (f" [{column}]" if column else ""), table.target, table.inputs, table.labels,
               table.times, table.target_name, tuple(table.input_names), table.time_name)
    if s.times is not None:
        s.step = timeindex.infer_step(s.times, name=f"time column {table.time_name!r}", lines=table.lines)
    return s


def _builtin(data: str) -> Series:
    none = np.empty((0,))
    if data == "sine":
        t, x = datasets.sine()
        return Series("sin(t), 500 points on [0, 50]", x, none.reshape(len(x), 0), t, target_name="sin(t)")
    if data == "sunspots":
        months, x = datasets.sunspots()
        times = timeindex.parse_times(months)
        return Series("monthly sunspots 1749-1983", x, none.reshape(len(x), 0), months, times, "Sunspots",
                      time_name="Month", step=timeindex.infer_step(times))
    x = datasets.memory_sum(200, weight=1, bias=1, mem_len=0)
    return Series("memory_sum(200)", x, none.reshape(len(x), 0), np.arange(len(x)), target_name="value")


def _fraction(v, name: str, low_open: bool = True) -> None:
    ok = isinstance(v, float) and (0 < v < 1 if low_open else 0 <= v < 1)
    if not ok:
        raise ParameterError(f"{name} must be a number in {'(0, 1)' if low_open else '[0, 1)'}, got {v!r}")


def _check(cfg: TrainConfig) -> None:
    if not isinstance(cfg, TrainConfig):
        raise InputTypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    for name in ("steps", "stride", "horizon", "hidden", "epochs", "batch_size", "repeats"):
        _count(getattr(cfg, name), name)
    if cfg.engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {cfg.engine!r}")
    if cfg.scale_on not in ("train", "all"):
        raise ParameterError(f"scale_on must be 'train' or 'all', got {cfg.scale_on!r}")
    if not (isinstance(cfg.learning_rate, float) and np.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        raise ParameterError(f"learning_rate must be a positive number, got {cfg.learning_rate!r}")
    _fraction(cfg.train_fraction, "train_fraction")
    _fraction(cfg.validation_fraction, "validation_fraction (--validation-fraction)", low_open=False)
    if cfg.validation_fraction >= cfg.train_fraction:
        raise ParameterError(f"--validation-fraction {cfg.validation_fraction} must be below --train-fraction "
                             f"{cfg.train_fraction}: the validation part is cut from the end of the training part")
    _count(cfg.seed, "seed", low=0)
    if cfg.engine == "keras" and cfg.seed >= 2**32:  # keras.utils.set_random_seed's range
        raise ParameterError(f"seed must be below 2**32 = {2**32} with engine 'keras', got {cfg.seed}")
    _check_forecasting(cfg)


def _check_forecasting(cfg: TrainConfig) -> None:
    """The options of issue 12 that depend on each other."""
    no_val = cfg.validation_fraction == 0
    if cfg.repeats > 1 and no_val:
        raise ParameterError(f"--repeats {cfg.repeats} needs --validation-fraction: the model is chosen on the "
                             "validation part, never on the test part")
    if cfg.patience is not None:
        _count(cfg.patience, "patience")
        if no_val:
            raise ParameterError("--patience needs --validation-fraction: training stops when the validation "
                                 "loss stops improving")
    if cfg.interval is not None:
        if not (isinstance(cfg.interval, float) and 0 < cfg.interval < 1):
            raise ParameterError(f"--interval must be a level in (0, 1), e.g. 0.9, got {cfg.interval!r}")
        if no_val:
            raise ParameterError("--interval needs --validation-fraction: the intervals are calibrated on the "
                                 "validation residuals, which training never saw")
    if cfg.season is not None:
        _count(cfg.season, "season")
    _count(cfg.forecast, "forecast", low=0)
    if cfg.forecast and cfg.horizon != 1:
        raise ParameterError(f"--forecast needs --horizon 1 (a recursive forecast feeds each predicted step "
                             f"back), got --horizon {cfg.horizon}")
    if cfg.future is not None and not cfg.inputs:
        raise ParameterError("--future gives the future values of the --inputs columns; no --inputs were given")


@dataclass
class Parts:
    """The boundaries n_fit <= n_train <= L (see the module docstring)."""

    n_fit: int
    n_train: int
    L: int


def _parts(cfg: TrainConfig, s: Series) -> Parts:
    L = len(s.x)
    need = cfg.steps + cfg.horizon
    if L < 2 * need:
        raise DataError(f"{s.description}: {L} values, fewer than a training and a test window need "
                        f"(2 x (steps + horizon) = {2 * need}); give more rows or a smaller --steps")
    n_train = int(L * cfg.train_fraction)
    n_fit = n_train - int(L * cfg.validation_fraction)
    if not 1 <= n_train < L:
        raise DataError(f"{s.description}: {L} values, train_fraction={cfg.train_fraction} leaves an empty part")
    parts = Parts(n_fit, n_train, L)
    if cfg.validation_fraction and n_train - n_fit < 2:
        raise DataError(f"{s.description}: --validation-fraction {cfg.validation_fraction} of {L} values leaves "
                        f"{n_train - n_fit} validation rows; give a larger fraction (at least 2 rows)")
    if cfg.stride > L:  # a mistake (and beyond int64 it would overflow the index arithmetic)
        raise DataError(f"stride = {cfg.stride} is longer than the series ({L} values): fewer than one window "
                        "would follow the first; give a --stride of at most the series' length")
    # (validation targets read their windows from the data before them: no warm-up there)
    for part, a, b in (("training", 0, n_fit), ("test", n_train, L)):
        if b - a < need:
            raise DataError(f"{s.description}: the {part} part has {b - a} rows, fewer than one window needs "
                            f"(steps + horizon = {need}); give more rows or a smaller --steps")
    return parts


def _season(cfg: TrainConfig, s: Series, parts: Parts) -> int:
    default = cfg.season or (timeindex.default_season(s.step) if s.step is not None else None)
    P = baselines.season(s.x[:parts.n_fit], default)
    if cfg.season is not None or "seasonal-diff" in (cfg.transform or ""):
        found = f"the {s.step.name} times" if s.step is not None else "the data"
        origin = None if cfg.season is not None else f"the season {P} (found from {found}; --season to change)"
        baselines.check_season(P, parts.n_fit, origin)
    elif P > parts.n_fit // 2:  # a default the data cannot carry: fall back to the data's own
        P = baselines.season(s.x[:parts.n_fit])
    return P


def _scalers(cfg: TrainConfig, s: Series, levels, parts: Parts, lost: int) -> tuple[MinMaxScaler, tuple]:
    """The target's scaler (on the top level) and the inputs' scalers, fitted on the
    training part (the whole series with scale_on='all')."""
    stop = parts.L if cfg.scale_on == "all" else parts.n_fit
    top = levels[-1][lost:stop]
    if np.min(top) == np.max(top):
        where = "series" if cfg.scale_on == "all" else "training part"
        raise DataError(f"{s.description}: the {where} is constant ({float(top[0]):g})"
                        + (" after the transforms" if lost or cfg.transform else "")
                        + ", so there is nothing to learn and no range to scale by")
    return MinMaxScaler().fit(top), tuple(MinMaxScaler().fit(s.inputs[:stop, j]) for j in range(s.inputs.shape[1]))


def _range_warning(s: Series, parts: Parts, chain: Transforms) -> list[str]:
    """A note when test values leave the training range and nothing differences them away:
    a network with a bounded activation cannot follow such a trend."""
    lo, hi = np.min(s.x[:parts.n_fit]), np.max(s.x[:parts.n_fit])
    test = s.x[parts.n_train:]
    margin = 0.1 * (hi - lo)  # noise at the edge is not a trend: a tenth of the range beyond it is
    out = int(np.sum((test < lo - margin) | (test > hi + margin)))
    if out and not chain.differences:
        return [f"{out} of {len(test)} test values lie well outside the training range [{lo:g}, {hi:g}] and no "
                "differencing is on; a trend is better taken out with --transform diff (or seasonal-diff)"]
    return []


def prepare(cfg: TrainConfig, s: Series) -> tuple[Run, list, np.ndarray, Parts, list[str]]:
    """The run before training (its scalers and transforms fitted on the training part),
    the series' levels, the features F (L, D), the parts and the warnings."""
    parts = _parts(cfg, s)
    P = _season(cfg, s, parts)
    chain = Transforms.parse(cfg.transform, P)
    chain.check(s.x, cfg.horizon, s.description)
    if chain.lost + cfg.steps + cfg.horizon > parts.n_fit:
        raise DataError(f"{s.description}: the training part has {parts.n_fit} rows, fewer than the transforms "
                        f"({chain.lost} rows) and one window (steps + horizon = {cfg.steps + cfg.horizon}) need")
    levels = chain.levels(s.x)
    scaler, input_scalers = _scalers(cfg, s, levels, parts, chain.lost)
    time_info = None
    if s.times is not None:
        time_info = {"name": s.time_name, "unit": s.step.unit, "n": s.step.n}
    run = Run(None, scaler, chain, cfg.steps, cfg.stride, cfg.horizon, s.target_name, s.input_names,
              input_scalers, P, None, time_info, {"data": cfg.data, "column": cfg.column, "scale_on": cfg.scale_on})
    if cfg.interval is not None:
        _check_calibration(cfg.interval, len(run.positions(parts.n_fit, parts.n_train, warm_up=False)))
    return run, levels, run.features(levels, s.inputs), parts, _range_warning(s, parts, chain)


def _check_calibration(level: float, n: int) -> None:
    """Split-conformal intervals at ``level`` need n >= level / (1 - level) calibration
    errors (else the interval is unbounded, and its 'coverage' says nothing)."""
    need = int(np.ceil(level / (1 - level) - 1e-9))
    if n < need:
        raise DataError(f"--interval {level} needs at least {need} validation targets to calibrate on; the "
                        f"validation part gives {n}: give a larger --validation-fraction or a lower --interval")


def train_series(cfg: TrainConfig, out: str | os.PathLike | None = None, *, verbose: int = 1, plots: bool = True) -> dict:
    """Train an Elman network to forecast a series (see the module docstring) and measure
    it against the naive and seasonal naive forecasts on the same test targets.

    Returns the figures; with ``out``, also writes model.npz (the model with its run
    settings: :func:`elman.load_run` reads them back), metrics.json (deterministic: no
    times), history.json, forecast.png, loss.png and, with ``cfg.forecast``, forecast.csv.
    """
    from . import _runreport

    _check(cfg)
    out = as_path(out) if out is not None else None
    s = load_series(cfg.data, cfg.column, inputs=cfg.inputs, time_column=cfg.time_column)
    if cfg.forecast and s.input_names and cfg.future is None:
        raise ParameterError(f"--forecast {cfg.forecast} with --inputs needs the inputs' future values: give "
                             f"--future FILE.csv with the columns {', '.join(s.input_names)} and at least "
                             f"{cfg.forecast} rows")
    future = future_inputs(cfg.future, s.input_names, cfg.forecast) if cfg.forecast else None
    run, levels, F, parts, notes = prepare(cfg, s)
    with contextlib.ExitStack() as stack:
        # The output folder is checked and staged before training: an unwritable place
        # fails now, not after the work; the files appear all together at the end.
        stage = stack.enter_context(RunFolder(out, RUN_FILES)) if out is not None else None
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a diverging run: reported below
            result = _runreport.train_and_measure(cfg, s, run, levels, F, parts, verbose)
        result["seconds"] = time.perf_counter() - t0
        result["metrics"]["warnings"] = notes + result["metrics"].get("warnings", [])
        result["warnings"] = result["metrics"]["warnings"]
        if cfg.forecast:
            result["forecast"] = _runreport.future_forecast(run, s, cfg.forecast, future)
        if stage is not None:
            result["plots"] = _runreport.write_run(stage, out, cfg, s, result, plots)
    result.pop("_curves", None)
    return result


def future_inputs(path, names: tuple[str, ...], n: int) -> np.ndarray | None:
    """The future values (n, E) of the input columns ``names`` from the CSV ``path`` (its
    first n rows); None when the model reads no inputs."""
    if not names:
        return None
    if path is None:
        raise ParameterError(f"the model reads the input columns {', '.join(names)}: a forecast needs their "
                             f"future values; give --future FILE.csv with those columns and at least {n} rows")
    try:
        table = datasets.load_table(path, None, tuple(names), None, require_target=False)
    except (DataError, DataFileError, ParameterError) as exc:  # say which option the file came from
        raise type(exc)(f"--future: {exc}") from None
    if len(table.inputs) < n:
        raise DataError(f"--future {Path(path).name} has {len(table.inputs)} rows, fewer than the {n} steps "
                        "of the forecast need")
    return table.inputs[:n]
