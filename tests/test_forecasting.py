"""Forecasting a practitioner can trust (issue 12): transforms inverted exactly, the
baselines on the same test targets, forecasts past the end with time labels, intervals
with measured coverage, inputs beside the target, runs read back from disk, and the
scaler and transforms fitted on the training part only."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import elman
from elman import cli

# 12 years of monthly data: train 10, test 2.
TEN_OF_TWELVE = str(10 / 12)


def monthly_csv(path, *, years=12, seed=0, start=2010):
    """Linear trend x multiplicative season x log-normal noise, monthly from January."""
    rng = np.random.default_rng(seed)
    t = np.arange(12 * years)
    x = (100 + 1.5 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(0.02 * rng.standard_normal(len(t)))
    months = [f"{start + k // 12}-{k % 12 + 1:02d}" for k in t]
    path.write_text("month,sales\n" + "".join(f"{m},{float(v)!r}\n" for m, v in zip(months, x)))
    return path, x


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


SEASONAL = ["--transform", "log,seasonal-diff", "--season", "12", "--forecast", "24", "--train-fraction", TEN_OF_TWELVE,
            "--validation-fraction", "0.25", "--interval", "0.9", "--steps", "6", "--hidden", "3", "--epochs", "100",
            "--learning-rate", "0.01", "--patience", "10", "--quiet"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trend_and_season_beat_seasonal_naive_with_calibrated_intervals(tmp_path, seed, capsys):
    data, x = monthly_csv(tmp_path / "sales.csv", seed=seed)
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(data), "--seed", str(seed), "--out", str(out)] + SEASONAL) == 0
    m = json.loads((out / "metrics.json").read_text())
    b = m["baselines"]
    assert b["season"] == 12
    assert b["model"]["mase"] < 1 and b["model"]["rmse"] < b["seasonal_naive"]["rmse"], b
    assert 0.75 <= m["interval"]["coverage_test"] <= 1.0, m["interval"]
    printed = capsys.readouterr().out
    assert "seasonal naive" in printed and "MASE" in printed
    # forecast.csv: 24 months after 2021-12, in the series' units, with bounds
    rows = read_csv(out / "forecast.csv")
    assert rows[0] == ["month", "sales", "lower", "upper"]
    assert [r[0] for r in rows[1:4]] == ["2022-01", "2022-02", "2022-03"] and rows[-1][0] == "2023-12"
    values = np.array([float(r[1]) for r in rows[1:]])
    assert len(values) == 24 and 0.5 * x[-24:].mean() < values.mean() < 2 * x[-12:].mean()
    lo = np.array([float(r[2]) if r[2] else -np.inf for r in rows[1:]])
    assert np.all(lo <= values)


def test_sunspots_tutorial_carries_the_baselines(tmp_path):
    out = tmp_path / "s"
    args = ["train", "--data", "sunspots", "--steps", "12", "--stride", "12", "--hidden", "3", "--activation", "tanh",
            "--output-activation", "tanh", "--epochs", "20", "--batch-size", "1", "--seed", "0", "--quiet",
            "--out", str(out)]
    assert cli.main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_rmse"] <= 0.10
    b = m["baselines"]
    assert b["season"] == 12 and {"rmse", "mae"} <= set(b["naive"]) and "mase" in b["model"]
    # The baselines are computed on exactly the model's test targets: recompute them.
    _, x = elman.datasets.sunspots()
    n_train = int(len(x) * 0.8)
    t = np.arange(n_train + 12, len(x), 12)  # the test windows' targets (stride 12)
    assert len(t) == m["n_test_windows"]
    np.testing.assert_allclose(b["naive"]["rmse"], elman.metrics.rmse(x[t], x[t - 1]), rtol=1e-12)
    np.testing.assert_allclose(b["seasonal_naive"]["mae"], elman.metrics.mae(x[t], x[t - 12]), rtol=1e-12)


def test_forecast_past_the_end_and_the_plot(tmp_path):
    from test_cli_train import assert_png_not_blank

    data, x = monthly_csv(tmp_path / "sales.csv", years=6)
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(data), "--forecast", "7", "--epochs", "3", "--quiet",
                     "--out", str(out)]) == 0
    rows = read_csv(out / "forecast.csv")
    assert rows[0] == ["month", "sales"] and len(rows) == 8
    assert [r[0] for r in rows[1:]] == ["2016-01", "2016-02", "2016-03", "2016-04", "2016-05", "2016-06", "2016-07"]
    assert_png_not_blank(out / "forecast.png")
    # the forecast goes in the series' units: the same order of magnitude as the data
    v = np.array([float(r[1]) for r in rows[1:]])
    assert np.all(np.isfinite(v)) and 10 < v.mean() < 1000


def test_forecast_plot_draws_test_at_true_positions(tmp_path):
    """The test predictions start after the test part's warm-up window, at their dates."""
    import matplotlib

    matplotlib.use("Agg")
    cfg = elman.workflow.TrainConfig(data=str(monthly_csv(tmp_path / "s.csv", years=8)[0]), epochs=2, forecast=5)
    r = elman.workflow.train_series(cfg, None, verbose=0)
    run = r["run"]
    s = elman.workflow.load_series(cfg.data)
    n_train = int(len(s.x) * cfg.train_fraction)
    first = run.positions(n_train, len(s.x))[0]
    assert first == n_train + cfg.steps  # the warm-up: steps + horizon - 1 positions
    assert str(s.times[first]) == "2017-05"  # 2010-01 + 76 + 12 months


def _lagged_input_csv(path, n=600, seed=0):
    """y_t = 0.9 u_{t-1} + 0.1 y_{t-1} + noise, u an AR(1) input the target cannot know."""
    rng = np.random.default_rng(seed)
    u = np.zeros(n)
    y = np.zeros(n)
    for t in range(1, n):
        u[t] = 0.5 * u[t - 1] + rng.standard_normal()
        y[t] = 0.9 * u[t - 1] + 0.1 * y[t - 1] + 0.05 * rng.standard_normal()
    path.write_text("t,u,y\n" + "".join(f"{t},{float(u[t])!r},{float(y[t])!r}\n" for t in range(n)))
    return path


def test_an_input_column_that_drives_the_target_helps(tmp_path):
    data = _lagged_input_csv(tmp_path / "xy.csv")
    common = ["train", "--data", str(data), "--column", "y", "--steps", "4", "--hidden", "8", "--epochs", "40",
              "--learning-rate", "0.01", "--quiet"]
    assert cli.main(common + ["--out", str(tmp_path / "alone")]) == 0
    assert cli.main(common + ["--inputs", "u", "--out", str(tmp_path / "with")]) == 0
    alone = json.loads((tmp_path / "alone" / "metrics.json").read_text())["test_rmse_units"]
    with_u = json.loads((tmp_path / "with" / "metrics.json").read_text())["test_rmse_units"]
    assert with_u <= 0.7 * alone, (with_u, alone)


def test_load_run_and_forecast_in_a_fresh_process_reproduce_forecast_csv(tmp_path):
    data = _lagged_input_csv(tmp_path / "xy.csv", n=300)
    future = tmp_path / "future.csv"
    future.write_text("u\n" + "".join(f"{0.1 * k!r}\n" for k in range(10)))
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(data), "--column", "y", "--inputs", "u", "--transform", "diff",
                     "--validation-fraction", "0.2", "--interval", "0.8", "--forecast", "6", "--future", str(future),
                     "--epochs", "5", "--quiet", "--out", str(out)]) == 0
    env = {**os.environ, "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, "-m", "elman", "forecast", str(out), "--data", str(data), "--steps", "6",
                        "--future", str(future)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (out / "forecast.csv").read_text()
    run = elman.load_run(out)
    assert run.inputs == ("u",) and run.target == "y" and run.transforms.spec == "diff"
    assert cli.main(["inspect", str(out / "model.npz")]) == 0


@pytest.mark.parametrize("scale_on", ["train", "all"])
def test_scaler_and_transforms_are_fitted_on_the_training_part(tmp_path, scale_on):
    data, x = monthly_csv(tmp_path / "sales.csv", years=8)
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(data), "--transform", "log,diff", "--validation-fraction", "0.1",
                     "--scale-on", scale_on, "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    run = elman.load_run(out)
    top = np.diff(np.log(x))  # the transformed series, from position 1
    n_fit = int(len(x) * 0.8) - int(len(x) * 0.1)
    part = top if scale_on == "all" else top[: n_fit - 1]
    assert float(run.scaler.min_) == part.min() and float(run.scaler.max_) == part.max()
    if scale_on == "train":  # the test part reaches beyond what the scaler saw, as it should
        assert top.max() > part.max() or top.min() < part.min()


@pytest.mark.parametrize("extra,words", [
    (["--transform", "cube"], "transform 'cube' is not known"),
    (["--transform", "log"], "--transform log needs positive values"),
    (["--season", "90", "--transform", "seasonal-diff"], "--season 90 is longer than half the training part"),
    (["--inputs", "rain"], "no column 'rain'"),
    (["--inputs", "u", "--forecast", "5"], "needs the inputs' future values"),
    (["--inputs", "u", "--forecast", "5", "--future", "{d}/short.csv"], "--future short.csv has 3 rows"),
    (["--repeats", "3"], "--repeats 3 needs --validation-fraction"),
    (["--interval", "0.9"], "--interval needs --validation-fraction"),
    (["--interval", "1.5", "--validation-fraction", "0.2"], "--interval must be a level in (0, 1)"),
    (["--horizon", "3", "--transform", "diff"], "cannot be inverted for --horizon 3"),
    (["--horizon", "2", "--forecast", "4"], "--forecast needs --horizon 1"),
    (["--validation-fraction", "0.9"], "must be below --train-fraction"),
])
def test_bad_forecasting_options_exit_2_naming_the_option(tmp_path, capsys, extra, words):
    rng = np.random.default_rng(0)
    y = np.concatenate([[-1.0], rng.standard_normal(199)])  # one value <= 0 for the log case
    (tmp_path / "d.csv").write_text("t,u,y\n" + "".join(f"{t},{float(rng.standard_normal())!r},{float(v)!r}\n"
                                                          for t, v in enumerate(y)))
    (tmp_path / "short.csv").write_text("u\n1\n2\n3\n")
    args = ["train", "--data", str(tmp_path / "d.csv"), "--column", "y", "--epochs", "1", "--quiet",
            "--out", str(tmp_path / "o")] + [a.format(d=tmp_path) for a in extra]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err, err


# --------------------------------------------------------------------------- no peeking


def _spy_fit(monkeypatch):
    """Record the validation data every training is given."""
    from elman import _runreport

    calls = []
    real = _runreport.fit

    def spy(rnn, U, Y, **kw):
        calls.append({"U": U, "Y": Y, "val": kw.get("validation_data")})
        return real(rnn, U, Y, **kw)

    monkeypatch.setattr(_runreport, "fit", spy)
    return calls


def test_early_stopping_repeats_and_intervals_read_the_validation_part_only(tmp_path, monkeypatch):
    """Training sees the training windows, stops and is chosen on the validation windows,
    and the intervals are calibrated on the validation errors: each recomputed here from
    the positions of the parts, never the test part."""
    calls = _spy_fit(monkeypatch)
    data, x = monthly_csv(tmp_path / "sales.csv", years=10)
    cfg = elman.workflow.TrainConfig(data=str(data), transform="log,seasonal-diff", season=12, steps=6, epochs=30,
                                     learning_rate=0.01, validation_fraction=0.2, patience=3, repeats=3,
                                     interval=0.8, forecast=6)
    r = elman.workflow.train_series(cfg, None, verbose=0)
    run, m = r["run"], r["metrics"]
    L = len(x)
    n_train = int(L * 0.8)
    n_fit = n_train - int(L * 0.2)
    levels = run.levels(x)
    F = run.features(levels)
    p_fit, p_val = run.positions(0, n_fit), run.positions(n_fit, n_train, warm_up=False)
    assert len(calls) == 3
    for c in calls:
        np.testing.assert_array_equal(c["Y"][:, 0], F[p_fit, 0])
        np.testing.assert_array_equal(c["val"][1][:, 0], F[p_val, 0])
        assert p_val.max() < n_train
    rp = m["repeats"]
    assert rp["chosen_seed"] == rp["seeds"][int(np.argmin(rp["validation_mse"]))]
    errors = run.to_scale(x[p_val]) - run.to_scale(run.predict_at(levels, F, p_val))
    assert m["interval"]["one_step"] == elman.baselines.conformal_radius(errors, 0.8)
    p_test = run.positions(n_train, L)
    lo, hi = run.band(run.predict_at(levels, F, p_test), m["interval"]["one_step"])
    assert m["interval"]["coverage_test"] == np.mean((x[p_test] >= lo) & (x[p_test] <= hi))


def test_input_scalers_and_the_season_are_fitted_on_the_training_part(tmp_path):
    """The season is found in the training part: here a period of 7 there and a ten
    times larger period of 13 afterwards, which the whole series' correlation would pick."""
    n = 400
    t = np.arange(n)
    n_fit = int(n * 0.8) - int(n * 0.1)
    y = np.where(t < n_fit, np.sin(2 * np.pi * t / 7), 10 * np.sin(2 * np.pi * t / 13))
    u = np.cos(t / 5.0) * (1 + (t >= n_fit))
    (tmp_path / "d.csv").write_text("u,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(u.tolist(), y.tolist())))
    assert elman.baselines.season(y) == 13 and elman.baselines.season(y[:n_fit]) == 7
    cfg = elman.workflow.TrainConfig(data=str(tmp_path / "d.csv"), column="y", inputs=("u",), steps=4, epochs=1,
                                     validation_fraction=0.1)
    r = elman.workflow.train_series(cfg, None, verbose=0)
    assert r["metrics"]["baselines"]["season"] == 7
    (sc,) = r["run"].input_scalers
    assert float(sc.min_) == u[:n_fit].min() and float(sc.max_) == u[:n_fit].max()


@pytest.mark.parametrize("horizon,back", [(3, 12), (14, 24)])
def test_baselines_for_a_horizon_use_only_what_is_known(tmp_path, horizon, back):
    """Seasonal naive h steps ahead is the value a whole number of seasons back that is
    known h steps before the target: x[t - 12] for h = 3, x[t - 24] for h = 14."""
    data, x = monthly_csv(tmp_path / "s.csv", years=10)
    cfg = elman.workflow.TrainConfig(data=str(data), steps=6, horizon=horizon, stride=2, epochs=1)
    r = elman.workflow.train_series(cfg, None, verbose=0)
    p = r["run"].positions(int(len(x) * 0.8), len(x))
    b = r["metrics"]["baselines"]
    assert b["seasonal_naive"]["rmse"] == elman.metrics.rmse(x[p], x[p - back])
    assert b["naive"]["rmse"] == elman.metrics.rmse(x[p], x[p - horizon])


def test_a_losing_model_is_told_so_and_the_validation_curve_is_kept(tmp_path, capsys):
    data, _ = monthly_csv(tmp_path / "s.csv", years=8)
    assert cli.main(["train", "--data", str(data), "--epochs", "1", "--validation-fraction", "0.2", "--quiet",
                     "--out", str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    out = capsys.readouterr().out
    assert not m["beats"]["seasonal naive"] and "the model LOSES to" in out and "seasonal naive" in out
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert len(history["val_loss"]) == len(history["loss"]) == 1


# --------------------------------------------------------------------------- runs on disk


def test_a_run_saved_before_transforms_existed_still_loads(tmp_path, capsys):
    """model.npz of an elman train run from before issue 12: scaler and windows only."""
    rnn = elman.ElmanRNN.init(1, 3, 1, seed=0)
    folder = tmp_path / "old"
    folder.mkdir()
    extra = {"scaler": elman.data.MinMaxScaler().fit([0.0, 200.0]).to_dict(), "steps": 12, "stride": 12,
             "horizon": 1, "data": "sunspots", "column": None, "engine": "c"}
    rnn.save(folder / "model.npz", extra=extra)
    run = elman.load_run(folder)
    assert run.transforms.spec == "" and run.inputs == () and run.interval is None
    assert len(run.forecast(np.linspace(0, 100, 30), 4)) == 4
    assert cli.main(["inspect", str(folder / "model.npz")]) == 0
    assert "windows of 12 (stride 12)" in capsys.readouterr().out


@pytest.mark.parametrize("change,words", [
    ({"transforms": [{"name": "cube", "lag": 0}]}, "transform"),
    ({"transforms": [{"name": "diff", "lag": -1}]}, "transform"),
    ({"steps": 0}, "steps is 0"),
    ({"time": "monthly"}, "damaged"),
    ({"interval": {"level": 0.9, "one_step": "x"}}, "interval"),
])
def test_damaged_run_settings_are_one_line_errors(tmp_path, capsys, change, words):
    rnn = elman.ElmanRNN.init(1, 3, 1, seed=0)
    folder = tmp_path / "r"
    folder.mkdir()
    extra = {"scaler": elman.data.MinMaxScaler().fit([0.0, 1.0]).to_dict(), "steps": 3, "stride": 1, "horizon": 1,
             **change}
    rnn.save(folder / "model.npz", extra=extra)
    with pytest.raises(elman.errors.ModelFileError, match=words):
        elman.load_run(folder)
    (tmp_path / "d.csv").write_text("y\n" + "".join(f"{v}\n" for v in range(20)))
    assert cli.main(["forecast", str(folder), "--data", str(tmp_path / "d.csv"), "--steps", "2"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_forecast_command_on_the_builtin_sunspots_reproduces_the_run(tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main(["train", "--data", "sunspots", "--forecast", "5", "--epochs", "1", "--quiet",
                     "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["forecast", str(out), "--data", "sunspots", "--steps", "5"]) == 0
    assert capsys.readouterr().out == (out / "forecast.csv").read_text()
    assert cli.main(["forecast", str(out), "--data", "sunspots", "--steps", "5", "--future", str(out)]) == 2
    assert "trained without --inputs" in capsys.readouterr().err


def test_quarterly_labels_continue_as_quarters(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{1990 + k // 4}-Q{k % 4 + 1},{100 + k + 5 * rng.standard_normal()!r}" for k in range(120)]
    (tmp_path / "q.csv").write_text("quarter,gdp\n" + "\n".join(rows) + "\n")
    assert cli.main(["train", "--data", str(tmp_path / "q.csv"), "--steps", "4", "--epochs", "1", "--forecast", "3",
                     "--quiet", "--out", str(tmp_path / "o")]) == 0
    labels = [r[0] for r in read_csv(tmp_path / "o" / "forecast.csv")[1:]]
    assert labels == ["2020-Q1", "2020-Q2", "2020-Q3"]


@pytest.mark.parametrize("extra,words", [
    (["--forecast", "99999999999999999999"], "argument --forecast"),
    (["--transform", "diff,log"], "--transform log needs positive values, but"),
    (["--validation-fraction", "0.02", "--interval", "0.9"], "--interval 0.9 needs at least 9 validation targets"),
    (["--validation-fraction", "nan"], "--validation-fraction"),
])
def test_more_bad_options_exit_2(tmp_path, capsys, extra, words):
    data, _ = monthly_csv(tmp_path / "s.csv", years=10)
    assert cli.main(["train", "--data", str(data), "--epochs", "1", "--quiet", "--out", str(tmp_path / "o")]
                    + extra) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
