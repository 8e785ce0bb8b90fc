"""``elman train`` and ``elman forecast``: their options and what they print (the
command line only parses and calls elman.workflow and elman.runs)."""

from __future__ import annotations

import argparse
import sys

from .runs import MAX_FORECAST

__all__ = ["add_train", "add_forecast", "cmd_train", "cmd_forecast", "natural"]


def natural(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high], ASCII digits only (Python's int()
    also reads '1_0' and other scripts' digits), refused in argparse's one-line way."""
    def parse(text: str) -> int:
        t = text.strip()
        if not (t.isascii() and t.lstrip("+-").isdigit()):
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
        v = int(t)
        if v < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low}; expected an integer >= {low}")
        if high is not None and v > high:
            raise argparse.ArgumentTypeError(f"{text} is above {high}; expected an integer <= {high}")
        return v

    parse.__name__ = "integer"
    return parse


def _columns(text: str) -> tuple[str, ...]:
    names = tuple(c.strip() for c in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty column name; expected names joined by commas")
    return names


def add_train(sub, engines) -> None:
    t = sub.add_parser("train", help="train a forecaster on a series and write the model, figures and plots")
    t.add_argument("--data", default="sunspots", help="sine, sunspots, memory-sum or a CSV file (header row)")
    t.add_argument("--column", help="the CSV column to forecast (default: the only or last numeric one)")
    t.add_argument("--time-column", help="the CSV column of dates/times (default: the first that parses as dates)")
    t.add_argument("--inputs", type=_columns, default=(), help="CSV columns read beside the target, e.g. temp,rain")
    t.add_argument("--steps", type=natural(1), default=12, help="window length T (default 12)")
    t.add_argument("--stride", type=natural(1), default=1, help="distance between windows (default 1; = steps: no overlap)")
    t.add_argument("--horizon", type=natural(1), default=1, help="predict the value this many steps ahead (default 1)")
    t.add_argument("--transform", default="",
                   help="log, diff, seasonal-diff, joined by commas in order (e.g. log,seasonal-diff); inverted exactly")
    t.add_argument("--season", type=natural(2), help="the season P (default: 12 for monthly data, 4 quarterly, "
                   "7 daily, 24 hourly; else from the autocorrelation)")
    t.add_argument("--forecast", type=natural(0, MAX_FORECAST), default=0, help="forecast this many steps past the end (forecast.csv)")
    t.add_argument("--future", help="CSV with the future values of the --inputs columns (needed with --forecast)")
    t.add_argument("--hidden", type=natural(1), default=3, help="state size M (default 3)")
    t.add_argument("--activation", default="tanh")
    t.add_argument("--output-activation", default="linear")
    t.add_argument("--epochs", type=natural(1), default=20)
    t.add_argument("--batch-size", type=natural(1), default=32)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--train-fraction", type=float, default=0.8)
    t.add_argument("--validation-fraction", type=float, default=0.0,
                   help="a slice of the series just before the test part for early stopping, choosing among "
                        "--repeats and calibrating --interval (default 0: none)")
    t.add_argument("--patience", type=natural(1), help="stop when the validation loss has not improved for this many epochs")
    t.add_argument("--repeats", type=natural(1), default=1, help="train this many seeds, keep the best on validation")
    t.add_argument("--interval", type=float, help="prediction intervals at this level, e.g. 0.9 (split-conformal)")
    t.add_argument("--scale-on", choices=["train", "all"], default="train",
                   help="fit the [0, 1] scaler on the training part (default) or on everything (the tutorial)")
    t.add_argument("--engine", choices=engines, default="auto",
                   help="how to train: auto (default: the fastest for the model), numpy (the plain NumPy "
                        "reference), blas (fast batched NumPy), c (the compiled kernel, one layer), keras "
                        "(Keras itself); model.npz and metrics.json record the engine that ran")
    t.add_argument("--seed", type=natural(0, 2**32 - 1), default=0)
    t.add_argument("--out", default="out", help="output folder (default out)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)


def add_forecast(sub) -> None:
    f = sub.add_parser("forecast", help="forecast new data with a trained run (its scaler, transforms, windows)")
    f.add_argument("run", help="the folder elman train --out wrote")
    f.add_argument("--data", required=True, help="a CSV with the run's columns, up to the forecast's start")
    f.add_argument("--steps", type=natural(1, MAX_FORECAST), required=True, help="how many steps to forecast past the end")
    f.add_argument("--future", help="CSV with the future values of the run's input columns")
    f.add_argument("--out", help="write the forecast here (CSV); default: print it")
    f.set_defaults(func=cmd_forecast)


def _num(v: float) -> str:
    """A figure in a 12-character column: fixed point, or exponent form when large."""
    return f"{v:12.4f}" if abs(v) < 1e7 else f"{v:12.4g}"


def _baseline_table(m: dict) -> None:
    b = m["baselines"]
    print(f"\ntest part, in the series' units (season {b['season']}):")
    print(f"{'':16s}{'RMSE':>12s}{'MAE':>12s}")
    for name, key in (("model", "model"), ("naive", "naive"), ("seasonal naive", "seasonal_naive")):
        print(f"{name:16s}{_num(b[key]['rmse'])}{_num(b[key]['mae'])}")
    mase = b["model"]["mase"]
    print(f"MASE (model MAE / seasonal naive MAE) {mase:.3f}" if mase is not None else "MASE undefined")
    losers = [n for n, won in m["beats"].items() if not won]
    if losers:
        print(f"the model LOSES to {' and '.join(losers)} on the test RMSE")


def cmd_train(args) -> int:
    from .workflow import TrainConfig, train_series

    cfg = TrainConfig(
        data=args.data, column=args.column, steps=args.steps, stride=args.stride, horizon=args.horizon,
        hidden=args.hidden, activation=args.activation, output_activation=args.output_activation,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        train_fraction=args.train_fraction, scale_on=args.scale_on, engine=args.engine, seed=args.seed,
        time_column=args.time_column, inputs=args.inputs, transform=args.transform, season=args.season,
        forecast=args.forecast, future=args.future, validation_fraction=args.validation_fraction,
        patience=args.patience, repeats=args.repeats, interval=args.interval,
    )
    r = train_series(cfg, args.out, verbose=0 if args.quiet else 1)
    if r["diverged"]:
        print(f"elman train: warning: {r['diverged']}; try a smaller --learning-rate", file=sys.stderr)
    for note in r["warnings"]:
        print(f"elman train: warning: {note}", file=sys.stderr)
    m = r["metrics"]
    print(f"\n{r['data']}: SimpleRNN({cfg.hidden}, {cfg.activation}) + Dense(1, {cfg.output_activation}), "
          f"windows of {cfg.steps} (stride {cfg.stride}), {cfg.epochs} epochs, engine {r['engine']}")
    print(f"{'':14s}{'train':>12s}{'test':>12s}")
    print(f"{'RMSE (scaled)':14s}{_num(m['train_rmse'])}{_num(m['test_rmse'])}")
    print(f"{'RMSE (units)':14s}{_num(m['train_rmse_units'])}{_num(m['test_rmse_units'])}")
    print(f"{'windows':14s}{m['n_train_windows']:12d}{m['n_test_windows']:12d}")
    _baseline_table(m)
    if "repeats" in m:
        rp = m["repeats"]
        print(f"{len(rp['seeds'])} seeds, seed {rp['chosen_seed']} chosen on validation; test RMSE over the seeds "
              f"{rp['test_rmse_units_min']:.4g} .. {rp['test_rmse_units_max']:.4g}")
    if "interval" in m:
        print(f"{m['interval']['level']:.0%} interval: coverage of the test targets {m['interval']['coverage_test']:.2f}")
    files = "model.npz, metrics.json, history.json, forecast.png, loss.png" + (", forecast.csv" if cfg.forecast else "")
    print(f"time {r['seconds']:.2f} s; written to {args.out}/ ({files})")
    return 0


def cmd_forecast(args) -> int:
    from .runs import load_run
    from .workflow import future_inputs, load_series

    from .errors import ParameterError
    from .workflow import BUILTIN

    run = load_run(args.run)
    if args.future is not None and not run.inputs:
        raise ParameterError(f"--future gives the future values of a run's input columns; the run in {args.run!r} "
                             "reads none (it was trained without --inputs)")
    if args.data in BUILTIN:  # a built-in series has its one column and its own dates
        s = load_series(args.data)
    else:
        s = load_series(args.data, run.target, inputs=run.inputs, time_column=(run.time or {}).get("name"))
    future = future_inputs(args.future, s.input_names, args.steps)
    text = run.forecast_csv(s.x, args.steps, times=s.times, inputs=s.inputs if run.inputs else None, future=future,
                            example=str(s.labels[-1]) if s.times is not None else None)
    if args.out is None:
        sys.stdout.write(text)
    else:
        from .io import write_text

        write_text(args.out, text)
        print(f"{args.steps} steps forecast after {s.description} -> {args.out}")
    return 0
