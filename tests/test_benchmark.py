"""The benchmarks run and what they compare agrees (times are printed, never asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_predict_benchmark_quick(keras, capsys):
    results = _load("predict").main(quick=True)
    assert len(results) == 2
    for r in results:
        assert r["max_abs_diff"] <= 1e-5 and r["ratio"] > 0
    assert "ratio" in capsys.readouterr().out


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
