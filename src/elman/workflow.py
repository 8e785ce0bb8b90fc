"""The forecasting workflow behind ``elman train``: load, split, scale, window, train,
measure, save, plot. One function, :func:`train_series`, that the CLI calls."""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import datasets, metrics
from .data import MinMaxScaler, split, windows
from ._outdir import RunFolder
from .errors import DataError, DivergenceWarning, InputTypeError, NonFiniteError, ParameterError, as_path
from .model import ElmanRNN
from .train import ENGINES as FIT_ENGINES, fit
from .validation import _count

__all__ = ["TrainConfig", "load_series", "train_series", "ENGINES"]

BUILTIN = ("sine", "sunspots", "memory-sum")

#: How a run trains: one of elman.fit's engines ("auto", "numpy", "blas", "c"), or "keras"
#: (Keras trains the same model from the same initial weights).
ENGINES = (*FIT_ENGINES, "keras")


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


def load_series(data: str, column: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(labels, values, description) for a built-in name or a CSV path."""
    if data in BUILTIN and column is not None:
        raise ParameterError(
            f"column={column!r} was given, but {data!r} is a built-in series with one column; "
            "column applies to CSV files only"
        )
    if data == "sine":
        t, x = datasets.sine()
        return t, x, "sin(t), 500 points on [0, 50]"
    if data == "sunspots":
        months, x = datasets.sunspots()
        return months, x, "monthly sunspots 1749-1983"
    if data == "memory-sum":
        x = datasets.memory_sum(200, weight=1, bias=1, mem_len=0)
        return np.arange(len(x)), x, "memory_sum(200)"
    labels, x = datasets.load_csv(data, column)
    return labels, x, f"{Path(data).name}" + (f" [{column}]" if column else "")


def _check(cfg: TrainConfig) -> None:
    if not isinstance(cfg, TrainConfig):
        raise InputTypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    for name in ("steps", "stride", "horizon", "hidden", "epochs", "batch_size"):
        _count(getattr(cfg, name), name)
    if cfg.engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {cfg.engine!r}")
    if cfg.scale_on not in ("train", "all"):
        raise ParameterError(f"scale_on must be 'train' or 'all', got {cfg.scale_on!r}")
    if not (isinstance(cfg.learning_rate, float) and np.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        raise ParameterError(f"learning_rate must be a positive number, got {cfg.learning_rate!r}")
    if not (isinstance(cfg.train_fraction, float) and 0 < cfg.train_fraction < 1):
        raise ParameterError(f"train_fraction must be a number in (0, 1), got {cfg.train_fraction!r}")
    _count(cfg.seed, "seed", low=0)
    if cfg.engine == "keras" and cfg.seed >= 2**32:  # keras.utils.set_random_seed's range
        raise ParameterError(f"seed must be below 2**32 = {2**32} with engine 'keras', got {cfg.seed}")


def _train_keras(rnn: ElmanRNN, X, y, cfg: TrainConfig, verbose: int):
    from .keras import from_keras, import_keras, to_keras

    keras = import_keras()
    keras.utils.set_random_seed(cfg.seed)
    model = to_keras(rnn.astype(np.float32))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="mse")
    # A batch larger than the data is the whole data (what elman.fit does); Keras would
    # try to make a C long of a huge number first.
    h = model.fit(X.astype(np.float32), y.astype(np.float32), epochs=cfg.epochs, batch_size=min(cfg.batch_size, len(X)),
                  verbose=2 if verbose else 0)
    losses = [float(v) for v in h.history["loss"]]
    weights = model.get_weights()
    if not all(np.all(np.isfinite(w)) for w in weights) or not np.all(np.isfinite(losses)):
        # Keras has no NaN guard: its weights are already lost; say what happened.
        bad = next((i + 1 for i, v in enumerate(losses) if not np.isfinite(v)), len(losses))
        raise NonFiniteError(
            f"Keras training diverged: the loss or the weights became NaN or inf by epoch {bad} "
            f"(learning rate {cfg.learning_rate:g}); try a smaller --learning-rate or an elman engine "
            "(--engine auto), which keeps the last finite model"
        )
    return from_keras(model), {"loss": losses}


def train_series(cfg: TrainConfig, out: str | os.PathLike | None = None, *, verbose: int = 1, plots: bool = True) -> dict:
    """Train a one-layer Elman network to forecast a series one step (``horizon``) ahead.

    The series is split chronologically (``train_fraction``), scaled to [0, 1] by a
    MinMaxScaler fitted on the training part (``scale_on="all"``: on everything, as the
    sunspots tutorial does), cut into windows of ``steps`` values ``stride`` apart, and
    fitted with Adam. Returns the figures; with ``out``, also writes model.npz,
    metrics.json (deterministic: no times), history.json, forecast.png and loss.png.
    """
    _check(cfg)
    out = as_path(out) if out is not None else None
    labels, x, description = load_series(cfg.data, cfg.column)
    need = cfg.steps + cfg.horizon
    if len(x) < 2 * need:
        raise DataError(
            f"{description}: {len(x)} values, fewer than a training and a test window need "
            f"(2 x (steps + horizon) = {2 * need}); give more rows or a smaller --steps"
        )
    train_x, test_x = split(x, cfg.train_fraction)
    for part, arr in (("training", train_x), ("test", test_x)):
        if len(arr) < need:
            raise DataError(
                f"{description}: the {part} part has {len(arr)} rows, fewer than one window needs "
                f"(steps + horizon = {need}); give more rows or a smaller --steps"
            )
    fit_on = x if cfg.scale_on == "all" else train_x
    if np.min(fit_on) == np.max(fit_on):
        raise DataError(
            f"{description}: the {'series' if cfg.scale_on == 'all' else 'training part'} is constant "
            f"({float(fit_on[0]):g}), so there is nothing to learn and no range to scale by"
        )
    scaler = MinMaxScaler().fit(fit_on)
    s_train, s_test = scaler.transform(train_x), scaler.transform(test_x)
    Xtr, ytr = windows(s_train, cfg.steps, horizon=cfg.horizon, stride=cfg.stride)
    Xte, yte = windows(s_test, cfg.steps, horizon=cfg.horizon, stride=cfg.stride)

    rnn = ElmanRNN.init(1, cfg.hidden, 1, activation=cfg.activation, output_activation=cfg.output_activation,
                        seed=cfg.seed)
    with contextlib.ExitStack() as stack:
        # The output folder is checked and staged before training: an unwritable place
        # fails now, not after the work; the files appear all together at the end.
        stage = stack.enter_context(RunFolder(out, RUN_FILES)) if out is not None else None
        result = _train_and_measure(cfg, rnn, description, scaler, Xtr, ytr, Xte, yte, verbose)
        if stage is not None:
            result["plots"] = _write_run(stage, out, cfg, result, plots)
    del result["_curves"]
    return result


#: The files ``elman train --out DIR`` writes (DIR holds these and nothing else).
RUN_FILES = ("model.npz", "metrics.json", "history.json", "forecast.png", "loss.png")


def _train_and_measure(cfg, rnn, description, scaler, Xtr, ytr, Xte, yte, verbose) -> dict:
    t0 = time.perf_counter()
    diverged = ""
    if cfg.engine == "keras":
        model, history = _train_keras(rnn, Xtr, ytr, cfg, verbose)
        engine = "keras"
    else:
        with warnings.catch_warnings():
            # fit stops at NaN/inf and keeps the last finite model; the run reports it below.
            warnings.simplefilter("ignore", DivergenceWarning)
            res = fit(rnn, Xtr, ytr, epochs=cfg.epochs, batch_size=cfg.batch_size,
                      learning_rate=cfg.learning_rate, seed=cfg.seed, engine=cfg.engine, verbose=verbose)
        model, history, engine = res.model, res.history, res.engine  # the engine that ran ("auto" chose it)
        if res.message.startswith("training stopped"):
            diverged = res.message
    seconds = time.perf_counter() - t0

    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        p_train, p_test = model.predict(Xtr), model.predict(Xte)
    if not (np.all(np.isfinite(p_train)) and np.all(np.isfinite(p_test))):
        raise NonFiniteError(
            "the trained model's predictions overflow to NaN or inf"
            + (f" ({diverged})" if diverged else "") + "; try a smaller --learning-rate or fewer --epochs"
        )
    unit = lambda v: scaler.inverse_transform(np.asarray(v, np.float64).reshape(-1))  # noqa: E731
    with np.errstate(over="ignore", invalid="ignore"):
        beyond = not (np.all(np.isfinite(unit(p_train))) and np.all(np.isfinite(unit(p_test))))
    if beyond:
        raise NonFiniteError(
            "the model's predictions, brought back to the series' units, exceed the float64 range "
            f"(|x| > {np.finfo(np.float64).max:.3g}); the series lies too close to the limit: divide it by a "
            "power of ten first"
        )
    # nrmse divides by the test targets' range: undefined (null) when they are constant.
    spread = float(np.ptp(yte)) > 0
    figures = {
        "train_rmse": metrics.rmse(ytr, p_train),
        "test_rmse": metrics.rmse(yte, p_test),
        "train_rmse_units": metrics.rmse(unit(ytr), unit(p_train)),
        "test_rmse_units": metrics.rmse(unit(yte), unit(p_test)),
        "test_mae_units": metrics.mae(unit(yte), unit(p_test)),
        "test_nrmse": metrics.nrmse(yte, p_test) if spread else None,
        "n_train_windows": int(len(Xtr)),
        "n_test_windows": int(len(Xte)),
    }
    if diverged:
        figures["diverged"] = diverged
    return {"config": asdict(cfg), "engine": engine, "data": description, "metrics": figures, "history": history,
            "seconds": seconds, "model": model, "scaler": scaler, "diverged": diverged,
            "_curves": (ytr, yte, p_train, p_test, unit)}


def _json(obj) -> str:
    """Strict JSON (no NaN or Infinity, which JSON does not have): a figure that is not
    finite is written as null, and the run says so in ``non_finite``."""
    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), indent=2, sort_keys=True, allow_nan=False)


def _write_run(stage: Path, out: Path, cfg, result: dict, plots: bool) -> list[str]:
    """The run's files into the staging folder ``stage``; returns the plot paths as they
    will be once published in ``out``."""
    figures, history, model = result["metrics"], result["history"], result["model"]
    extra = {"scaler": result["scaler"].to_dict(), "steps": cfg.steps, "stride": cfg.stride,
             "horizon": cfg.horizon, "data": cfg.data, "column": cfg.column, "engine": result["engine"]}
    model.save(stage / "model.npz", extra=extra)
    record = {"config": asdict(cfg), "engine": result["engine"], **figures}
    bad = sorted(k for k, v in figures.items() if isinstance(v, float) and not np.isfinite(v))
    if bad:
        record["non_finite"] = bad
    (stage / "metrics.json").write_text(_json(record))
    (stage / "history.json").write_text(_json(history))
    if not plots:
        return []
    _plots(stage, cfg, result["data"], *result["_curves"], history, result["engine"])
    return [str(out / "forecast.png"), str(out / "loss.png")]


def _plots(out: Path, cfg, description, ytr, yte, p_train, p_test, unit, history, engine: str) -> list[str]:
    from . import plot

    actual = np.concatenate([unit(ytr), unit(yte)])
    predicted = np.concatenate([unit(p_train), unit(p_test)])
    rmse = metrics.rmse(unit(yte), unit(p_test))
    with plot.figure_file(out / "forecast.png", figsize=(10, 4)) as ax:
        # (values near the float64 limit are drawn in units of a power of ten: see elman.plot)
        plot.actual_vs_predicted(actual, predicted, split=len(ytr), ax=ax,
                                 title=f"{description}: one-step predictions (test RMSE {rmse:.3g})")
        ax.set_xlabel(f"window (stride {cfg.stride})")
    with plot.figure_file(out / "loss.png", figsize=(6, 4)) as ax:
        plot.loss_curves(history, ax=ax)
        ax.set_title(f"training loss ({engine})")
    return [str(out / "forecast.png"), str(out / "loss.png")]
