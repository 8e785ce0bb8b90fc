"""benchmarks/predict.py runs and its two outputs agree (times are printed, never asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_predict_benchmark_quick(keras, capsys):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "predict.py"
    spec = importlib.util.spec_from_file_location("bench_predict", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.main(quick=True)
    assert len(results) == 2
    for r in results:
        assert r["max_abs_diff"] <= 1e-5 and r["ratio"] > 0
    assert "ratio" in capsys.readouterr().out
