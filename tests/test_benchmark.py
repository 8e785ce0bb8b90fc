"""The benchmarks run and what they compare agrees (times are printed, never asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _load(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_predict_benchmark_quick(keras, capsys, monkeypatch):
    """Every tool's output agrees with the reference (Keras's for the whole batches, elman's
    float64 step for the stateful step), and the step's ratios divide by Keras's
    predict_on_batch (one call of the stateful model), not by predict's fixed overhead."""
    calls = []
    original = keras.Model.predict_on_batch

    def counting(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counting)
    results = _load("predict").main(quick=True)
    assert len(results) == 3
    for r in results[:2]:
        assert r["max_abs_diff"] <= 1e-5 and r["ratio"] > 0
        for other in ("onnxruntime", "torch"):  # the dev extra installs both
            assert r[f"{other}_max_abs_diff"] <= 1e-5, (other, r)
    step = results[2]
    for tool in ("keras", "torch", "onnxruntime", "c"):  # each step's y (and z' where returned) vs elman's
        assert step[f"{tool}_max_abs_diff"] <= 1e-5, (tool, step)
    assert step["keras_call"] == "predict_on_batch" and step["ratio"] == step["keras_s"] / step["elman_s"]
    assert len(calls) >= 5 * 10 and len({id(m) for m in calls}) == 1  # the timed calls, on the stateful model
    assert step["keras_predict_s"] > 0 and "c_step_s" in step
    out = capsys.readouterr().out
    assert "ratio" in out and "keras predict_on_batch" in out and "keras predict (not used)" in out
    assert "onnxruntime y from z" in out and "torch step" in out


def test_train_benchmark_same_batches_are_elmans(keras, capsys):
    """The benchmark's accuracy comparison rests on its Keras twin seeing exactly the
    batches elman.fit draws. If it did not (elman.fit's shuffling changed, or the pipeline
    reordered), two epochs from the same start would already end apart."""
    mod = _load("train")
    for name in ("sine", "sunspots"):
        r = mod.run_setup(name, [3], epochs=2 if name == "sine" else 1)
        row = r["rows"][0]
        assert abs(row["elman_rmse"] - row["same_rmse"]) <= 1e-3 * row["same_rmse"], row
        assert r["ratio"] > 0 and r["ratio_same"] > 0
    assert "same batches" in capsys.readouterr().out


def _tiny_lines(mod):
    # One line on the compiled kernel's side of engine="auto" (small M), one on the matrix-product side.
    return [mod.Line("tiny", 4, 6, 40, 8, 1, D=3), mod.Line("tiny_tanh", 30, 5, 33, 16, 1, D=1, out="tanh")]


def test_train_grid_quick(keras, capsys):
    """The size grid on tiny lines, one epoch: Keras and elman start from the same weights
    and see the same batches, so their final losses agree; the table prints."""
    mod = _load("train")
    results = mod.run_grid(_tiny_lines(mod), torch=False, cold=False)
    assert [r["name"] for r in results] == ["tiny", "tiny_tanh"]
    for r in results:
        assert r["loss_rel"] <= 1e-4, r
        assert r["ratio"] > 0 and r["torch_s"] is None
    out = capsys.readouterr().out
    assert "| line | M | T | N | batch | epochs | Keras s | elman s |" in out
    assert "| tiny | 4 | 6 | 40 | 8 | 1 |" in out and "| tiny_tanh | 30 | 5 | 33 | 16 | 1 |" in out
    assert "targets:" in out


def test_train_grid_cold_start_matches(keras):
    """The cold-start subprocess trains the same model on the same batches as this process."""
    mod = _load("train")
    import elman

    line = _tiny_lines(mod)[0]
    X, y = mod.line_data(line)
    start = elman.ElmanRNN.init(line.D, line.M, 1, seed=0, dtype="float32")
    c = mod.cold_start(start, X, y, epochs=2, batch=line.batch, seed=1)
    here = elman.fit(start, X, y, epochs=2, batch_size=line.batch, seed=1, verbose=0)
    assert c["cold_s"] > 0 and c["warm_s"] > 0
    assert c["loss"] == c["warm_loss"] == here.history["loss"][-1]


def test_train_grid_torch_agrees(keras, capsys):
    """PyTorch (optional) from the same weights on the same batches ends at the same loss."""
    pytest.importorskip("torch")
    mod = _load("train")
    results = mod.run_grid(_tiny_lines(mod), torch=True, cold=False)
    for r in results:
        assert r["torch_loss_rel"] is not None and r["torch_loss_rel"] <= 1e-4, r
        assert r["loss_rel"] <= 1e-4, r
    assert "torch/elman" in capsys.readouterr().out


def test_forecast_benchmark_quick(keras, capsys):
    """Every method of the forecasting benchmark predicts the same test targets (elman's
    and Keras's runs both measure run.positions(n_train, L), the targets after the test
    part's warm-up window), every figure is finite, and the seasonal naive RMSE it prints
    is the one recomputed here from the raw series at those positions. The ETS column
    needs statsmodels (elman[bench]); without it the benchmark says so and skips it."""
    import importlib.util

    import numpy as np

    import elman

    mod = _load("forecast")
    rows = mod.main(quick=True)
    out = capsys.readouterr().out
    assert [r["name"] for r in rows] == ["sunspots", "trend-season", "nonlinear-ar"]
    have_sm = importlib.util.find_spec("statsmodels") is not None
    printed = [line.split() for line in out.splitlines() if line.strip().startswith("seasonal naive ")]
    assert len(printed) == 3, out
    for r, line in zip(rows, printed):
        _, x = mod.series(r["name"], quick=True)
        if r["name"] == "sunspots":  # the bundled series itself, not the benchmark's copy
            np.testing.assert_array_equal(x, elman.datasets.sunspots()[1][-480:])
        cfg = r["config"]
        L = len(x)
        n_train = int(L * cfg.train_fraction)
        n_fit = n_train - int(L * cfg.validation_fraction)
        t = np.arange(n_train + cfg.steps, L)  # one step ahead: the first target follows a whole window
        np.testing.assert_array_equal(r["positions"], t)
        np.testing.assert_array_equal(r["keras_positions"], t)
        assert r["metrics"]["elman"]["n_test_windows"] == r["metrics"]["keras"]["n_test_windows"] == len(t) == r["n_test"]
        P = 12 if r["name"] != "nonlinear-ar" else elman.baselines.season(x[:n_fit])
        assert r["season"] == P
        snaive = float(np.sqrt(np.mean((x[t] - x[t - P]) ** 2)))
        np.testing.assert_allclose(r["rmse"]["seasonal naive"], snaive, rtol=1e-12)
        np.testing.assert_allclose(float(line[2]), snaive, rtol=1e-3)  # as printed (4 digits)
        np.testing.assert_allclose(r["rmse"]["naive"], float(np.sqrt(np.mean((x[t] - x[t - 1]) ** 2))), rtol=1e-12)
        methods = ["elman", "keras", "naive", "seasonal naive"] + (["ETS"] if have_sm else [])
        assert sorted(r["rmse"]) == sorted(methods) == sorted(r["mase"])
        for k in methods:
            assert np.isfinite(r["rmse"][k]) and r["rmse"][k] > 0 and np.isfinite(r["mase"][k]), (r["name"], k)
            assert r["predictions"][k].shape == t.shape
        assert r["mase"]["seasonal naive"] == 1.0
        assert r["seconds"]["elman"] > 0 and r["seconds"]["keras"] > 0
        if have_sm:
            e = r["ets"]
            assert e["seasonal"] in e["validation_rmse"] and ("mul" in e["validation_rmse"]) == bool(np.all(x > 0))
            assert e["validation_rmse"][e["seasonal"]] == min(e["validation_rmse"].values())
    if have_sm:
        assert "ETS: trend add, season" in out and mod.NO_STATSMODELS not in out
    else:
        assert out.count(mod.NO_STATSMODELS) == 4 and all(r["ets"] is None for r in rows)
    assert "| series | n test | elman RMSE (MASE) |" in out
