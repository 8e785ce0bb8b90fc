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
