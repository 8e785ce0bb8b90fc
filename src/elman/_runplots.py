"""The two plots of an ``elman train`` run: forecast.png (the history in the series'
units, the test predictions at their true positions, the forecast past the end, the
intervals) and loss.png (training and validation loss)."""

from __future__ import annotations

import numpy as np

from . import timeindex

__all__ = ["draw", "title"]


def title(cfg, description: str, test_rmse: float) -> str:
    """What was predicted, said plainly: one step ahead, h steps ahead, and the recursive
    forecast past the end when there is one."""
    what = "one-step-ahead predictions" if cfg.horizon == 1 else f"{cfg.horizon}-step-ahead predictions"
    text = f"{description}: {what} (test RMSE {test_rmse:.3g})"
    if cfg.forecast:
        text += f", then a recursive forecast of {cfg.forecast} steps"
    return text


def draw(folder, cfg, s, result: dict) -> None:
    from . import plot

    pos, pred = result["_curves"]
    x_axis = s.times if s.times is not None else np.arange(len(s.x))
    test_x, test_p = x_axis[pos["test"]], pred["test"][1]
    lower = upper = None
    interval = result["metrics"].get("interval")
    if interval is not None and np.isfinite(interval["one_step"]):
        lower, upper = result["run"].band(test_p, interval["one_step"])
    fut = result.get("forecast")
    future_x = future = f_lower = f_upper = None
    if fut is not None:
        n = len(fut["values"])
        future_x = (timeindex.continue_times(s.times, n, s.step) if s.times is not None
                    else np.arange(len(s.x), len(s.x) + n))
        future = fut["values"]
        if fut["lower"] is not None:  # a lead too far for the validation part has no bound: drawn open
            f_lower, f_upper = (np.where(np.isfinite(b), b, np.nan) for b in (fut["lower"], fut["upper"]))
    rmse = result["metrics"]["test_rmse_units"]
    with plot.figure_file(folder / "forecast.png", figsize=(11, 4)) as ax:
        plot.forecast_plot(x_axis, s.x, test_x, test_p, future_x, future, lower=lower, upper=upper,
                           future_lower=f_lower, future_upper=f_upper, ax=ax,
                           title=title(cfg, result["data"], rmse))
        ax.set_xlabel(s.time_name or "row")
    with plot.figure_file(folder / "loss.png", figsize=(6, 4)) as ax:
        plot.loss_curves(result["history"], ax=ax)
        ax.set_title(f"training loss ({result['engine']})")
