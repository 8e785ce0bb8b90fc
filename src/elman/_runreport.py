"""The measuring half of ``elman train`` (see elman.workflow): train one model or several
(chosen on validation), predict every part, compare with the baselines on the same test
targets, calibrate the intervals, forecast past the end, and write the run's files."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict

import numpy as np

from . import baselines, metrics
from .errors import DivergenceWarning, NonFiniteError
from .model import ElmanRNN
from .train import fit

__all__ = ["train_and_measure", "future_forecast", "write_run"]


def _train_keras(rnn: ElmanRNN, X, y, val, cfg, verbose: int):
    from .keras import from_keras, import_keras, to_keras

    keras = import_keras()
    keras.utils.set_random_seed(cfg.seed)
    model = to_keras(rnn.astype(np.float32))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="mse")
    callbacks = []
    if cfg.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True))
    # A batch larger than the data is the whole data (what elman.fit does); Keras would
    # try to make a C long of a huge number first.
    h = model.fit(X.astype(np.float32), y.astype(np.float32), epochs=cfg.epochs, batch_size=min(cfg.batch_size, len(X)),
                  verbose=2 if verbose else 0, callbacks=callbacks,
                  validation_data=None if val is None else tuple(a.astype(np.float32) for a in val))
    history = {k: [float(v) for v in h.history[k]] for k in ("loss", "val_loss") if k in h.history}
    weights = model.get_weights()
    if not all(np.all(np.isfinite(w)) for w in weights) or not np.all(np.isfinite(history["loss"])):
        # Keras has no NaN guard: its weights are already lost; say what happened.
        bad = next((i + 1 for i, v in enumerate(history["loss"]) if not np.isfinite(v)), len(history["loss"]))
        raise NonFiniteError(
            f"Keras training diverged: the loss or the weights became NaN or inf by epoch {bad} "
            f"(learning rate {cfg.learning_rate:g}); try a smaller --learning-rate or an elman engine "
            "(--engine auto), which keeps the last finite model"
        )
    return from_keras(model), history, "keras", ""


def _train_one(cfg, seed: int, D: int, data, verbose: int):
    """(model, history, engine that ran, divergence message) of one training from seed."""
    Xtr, ytr, val = data
    rnn = ElmanRNN.init(D, cfg.hidden, 1, activation=cfg.activation, output_activation=cfg.output_activation,
                        seed=seed)
    if cfg.engine == "keras":
        from dataclasses import replace

        return _train_keras(rnn, Xtr, ytr, val, replace(cfg, seed=seed), verbose)
    with warnings.catch_warnings():
        # fit stops at NaN/inf and keeps the last finite model; the run reports it.
        warnings.simplefilter("ignore", DivergenceWarning)
        res = fit(rnn, Xtr, ytr, epochs=cfg.epochs, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                  seed=seed, engine=cfg.engine, verbose=verbose, validation_data=val, patience=cfg.patience,
                  restore_best_weights=cfg.patience is not None)
    diverged = res.message if res.message.startswith("training stopped") else ""
    return res.model, res.history, res.engine, diverged


def _choose(cfg, run, F, pos: dict, verbose: int) -> tuple[dict, list[dict]]:
    """Train cfg.repeats models (seeds seed, seed + 1, ...); keep the one with the lowest
    validation MSE (the only one without validation). Returns it and every run's row."""
    data = {k: (run.windows(F, p), F[p, 0:1]) for k, p in pos.items() if p is not None}
    val = data.get("val")
    rows, best = [], None
    for r in range(cfg.repeats):
        model, history, engine, diverged = _train_one(cfg, cfg.seed + r, F.shape[1], (*data["fit"], val), verbose)
        with np.errstate(over="ignore", invalid="ignore"):
            score = float(np.mean((model.predict(val[0]) - val[1]) ** 2)) if val is not None else 0.0
        row = {"seed": cfg.seed + r, "model": model, "history": history, "engine": engine, "diverged": diverged,
               "val_mse": score if np.isfinite(score) else np.inf}
        rows.append(row)
        if best is None or row["val_mse"] < best["val_mse"]:
            best = row
    return best, rows


def _predictions(run, levels, F, pos: dict, description: str, diverged: str) -> dict:
    """Scaled and unit predictions of every part, checked finite."""
    out = {}
    for k, p in pos.items():
        if p is None:
            continue
        scaled = run.predict_scaled(F, p)
        if not np.all(np.isfinite(scaled)):
            raise NonFiniteError("the trained model's predictions overflow to NaN or inf"
                                 + (f" ({diverged})" if diverged else "") + "; try a smaller --learning-rate or fewer --epochs")
        with np.errstate(over="ignore", invalid="ignore"):
            units = run.transforms.at(levels, run.scaler.inverse_transform(scaled), p)
        if not np.all(np.isfinite(units)):
            raise NonFiniteError(
                f"{description}: the model's predictions, brought back to the series' units, exceed the float64 "
                f"range (|x| > {np.finfo(np.float64).max:.3g}); the series lies too close to the limit "
                "(divide it by a power of ten first) or the inverse transform overflows")
        out[k] = (scaled, units)
    return out


def _figures(s, F, pos, pred, parts, cfg, run) -> dict:
    ytr, yte = F[pos["fit"], 0], F[pos["test"], 0]
    u_tr, u_te = s.x[pos["fit"]], s.x[pos["test"]]
    spread = float(np.ptp(yte)) > 0  # nrmse divides by the test targets' range
    fig = {
        "train_rmse": metrics.rmse(ytr, pred["fit"][0]),
        "test_rmse": metrics.rmse(yte, pred["test"][0]),
        "train_rmse_units": metrics.rmse(u_tr, pred["fit"][1]),
        "test_rmse_units": metrics.rmse(u_te, pred["test"][1]),
        "test_mae_units": metrics.mae(u_te, pred["test"][1]),
        "test_nrmse": metrics.nrmse(yte, pred["test"][0]) if spread else None,
        "n_train_windows": int(len(pos["fit"])),
        "n_test_windows": int(len(pos["test"])),
    }
    if "val" in pred:
        fig["validation_rmse"] = metrics.rmse(F[pos["val"], 0], pred["val"][0])
        fig["validation_rmse_units"] = metrics.rmse(s.x[pos["val"]], pred["val"][1])
        fig["n_validation_windows"] = int(len(pos["val"]))
    P, h = run.season, cfg.horizon
    naive = baselines.naive(s.x, pos["test"], horizon=h)
    snaive = baselines.seasonal_naive(s.x, pos["test"], horizon=h, period=P)
    sc = baselines.scores(u_te, {"model": pred["test"][1], "naive": naive, "seasonal naive": snaive})
    fig["baselines"] = {"season": P, "model": sc["model"], "naive": sc["naive"], "seasonal_naive": sc["seasonal naive"]}
    fig["beats"] = {name: sc["model"]["rmse"] < sc[name]["rmse"] for name in ("naive", "seasonal naive")}
    return fig


def _intervals(cfg, s, run, levels, F, pos, pred, parts, lost: int) -> dict | None:
    """Split-conformal radii from the validation errors (one per horizon step of the
    forecast) and their coverage of the test targets."""
    if cfg.interval is None:
        return None
    level = cfg.interval
    q1 = baselines.conformal_radius(run.to_scale(s.x[pos["val"]]) - run.to_scale(pred["val"][1]), level)
    y = s.x[pos["test"]]
    info = {"level": level, "scale": run.interval_scale, "one_step": q1,
            "coverage_test": baselines.coverage(y, *run.band(pred["test"][1], q1)),
            "n_calibration": int(len(pos["val"]))}
    if cfg.forecast:
        info["by_lead"] = _lead_radii(run, levels, F, s.x, (max(parts.n_fit, lost + cfg.steps), parts.n_train), cfg.forecast, level)
        info["coverage_by_lead_test"] = _lead_coverage(run, levels, F, s.x, (parts.n_train, parts.L), info["by_lead"])
    return info


def _lead_errors(run, levels, F, x, span, n):
    """errors[j] = the errors of recursive forecasts at lead j + 1 from every origin in
    span = [a, b) whose target o + j lies before b (the part's own values only)."""
    a, b = span
    origins = np.arange(a, b)
    n = min(n, b - a)
    if len(origins) == 0 or n == 0:
        return []
    paths = run.forecast_paths(levels, F, origins, n)
    return [run.to_scale(x[origins[: b - a - j] + j]) - run.to_scale(paths[: b - a - j, j]) for j in range(n)]


def _lead_radii(run, levels, F, x, span, n: int, level: float) -> list:
    errs = _lead_errors(run, levels, F, x, span, n)
    radii = [baselines.conformal_radius(e, level) for e in errs] + [np.inf] * (n - len(errs))
    return [float(r) if np.isfinite(r) else None for r in radii]  # None: too few to calibrate


def _lead_coverage(run, levels, F, x, span, radii: list) -> list:
    a, b = span
    origins = np.arange(a, b)
    n = min(len(radii), b - a)
    if n == 0:
        return []
    paths = run.forecast_paths(levels, F, origins, n)
    out = []
    for j in range(n):
        q = np.inf if radii[j] is None else radii[j]
        y, p = x[origins[: b - a - j] + j], paths[: b - a - j, j]
        out.append(float(np.mean(np.abs(run.to_scale(y) - run.to_scale(p)) <= q)))
    return out


def train_and_measure(cfg, s, run, levels, F, parts, verbose: int) -> dict:
    """Train, choose, predict, compare and calibrate; ``run.model`` is set to the chosen model."""
    pos = {"fit": run.positions(0, parts.n_fit),
           # every validation target, its window reaching back into the training part (data
           # known before it): the calibration set of the intervals is as large as it can be
           "val": run.positions(parts.n_fit, parts.n_train, warm_up=False) if parts.n_fit < parts.n_train else None,
           "test": run.positions(parts.n_train, parts.L)}
    best, rows = _choose(cfg, run, F, pos, verbose)
    run.model = best["model"]
    pred = _predictions(run, levels, F, pos, s.description, best["diverged"])
    fig = _figures(s, F, pos, pred, parts, cfg, run)
    if cfg.repeats > 1:
        rmses = []
        for row in rows:  # each repeat's test figure: the spread, reported, never used to choose
            run.model = row["model"]
            with np.errstate(over="ignore", invalid="ignore"):
                rmses.append(metrics.rmse(s.x[pos["test"]], run.predict_at(levels, F, pos["test"])))
        run.model = best["model"]
        fig["repeats"] = {"seeds": [r["seed"] for r in rows], "chosen_seed": best["seed"],
                          "validation_mse": [r["val_mse"] for r in rows], "test_rmse_units": rmses,
                          "test_rmse_units_min": float(np.min(rmses)), "test_rmse_units_max": float(np.max(rmses)),
                          "test_rmse_units_std": float(np.std(rmses))}
    run.interval = _intervals(cfg, s, run, levels, F, pos, pred, parts, run.transforms.lost)
    if run.interval is not None:
        fig["interval"] = run.interval
    if best["diverged"]:
        fig["diverged"] = best["diverged"]
    return {"config": asdict(cfg), "engine": best["engine"], "data": s.description, "metrics": fig,
            "history": best["history"], "model": run.model, "scaler": run.scaler, "run": run,
            "diverged": best["diverged"], "_curves": (pos, pred)}


def future_forecast(run, s, n: int, future) -> dict:
    """The forecast past the end of the data: {"csv": text, "values", "lower", "upper"}."""
    values = run.forecast(s.x, n, inputs=s.inputs if s.input_names else None, future=future)
    text = run.forecast_csv(s.x, n, times=s.times, example=str(s.labels[-1]) if s.times is not None else None,
                            values=values)
    b = run.bounds(values)
    return {"csv": text, "values": values, "lower": None if b is None else b[0], "upper": None if b is None else b[1]}


def _json(obj) -> str:
    """Strict JSON (no NaN or Infinity, which JSON does not have): a figure that is not
    finite is written as null, and the run says so in ``non_finite``."""
    def clean(v):
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), indent=2, sort_keys=True, allow_nan=False)


def write_run(stage, out, cfg, s, result: dict, plots: bool) -> list[str]:
    """The run's files into the staging folder ``stage``; returns the plot paths as they
    will be once published in ``out``."""
    from . import _runplots

    figures, history, run = result["metrics"], result["history"], result["run"]
    run.notes["engine"] = result["engine"]
    run.model.save(stage / "model.npz", extra=run.meta())
    record = {"config": asdict(cfg), "engine": result["engine"], **figures}
    bad = sorted(k for k, v in figures.items() if isinstance(v, float) and not np.isfinite(v))
    if bad:
        record["non_finite"] = bad
    (stage / "metrics.json").write_text(_json(record))
    (stage / "history.json").write_text(_json(history))
    if "forecast" in result:
        (stage / "forecast.csv").write_text(result["forecast"]["csv"])
    if not plots:
        return []
    _runplots.draw(stage, cfg, s, result)
    return [str(out / "forecast.png"), str(out / "loss.png")]
