"""Keras model.predict time over elman predict time, in one run.

    .venv/bin/python benchmarks/predict.py

Two cases: the sine model of the universal-approximation notebook (495 windows of
5 steps, SimpleRNN(50) + Dense(1)) and a large batch (N=10000, T=50, D=4, M=128).
Both are timed warm (after one call each) as the median of several repeats; the
max abs difference of the two outputs is printed beside each ratio.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

import elman  # noqa: E402
from elman.demo import sine_model  # noqa: E402


def median_time(fn, repeats: int) -> float:
    fn()  # warm: Keras traces its predict function on the first call
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def case(name: str, model, X, repeats: int) -> dict:
    rnn = elman.from_keras(model)
    t_keras = median_time(lambda: model.predict(X, verbose=0), repeats)
    t_elman = median_time(lambda: rnn.predict(X), repeats)
    err = float(np.max(np.abs(model.predict(X, verbose=0) - rnn.predict(X))))
    ratio = t_keras / t_elman
    print(f"{name:<34s} keras {t_keras * 1e3:9.2f} ms   elman {t_elman * 1e3:9.2f} ms   "
          f"ratio {ratio:7.1f}x   max abs diff {err:.2e}")
    return {"name": name, "keras_s": t_keras, "elman_s": t_elman, "ratio": ratio, "max_abs_diff": err}


def main(quick: bool = False) -> list[dict]:
    import keras

    results = []
    model, X, _ = sine_model(epochs=2 if quick else 100)
    results.append(case("sine (N=495, T=5, D=1, M=50)", model, X, repeats=5 if quick else 30))

    rng = np.random.default_rng(0)
    N, T, D, M = (2000 if quick else 10000), 50, 4, 128
    keras.utils.set_random_seed(1)
    # Keras's default initialisers (orthogonal A, glorot B and C) plus a random bias.
    big = keras.Sequential([keras.Input((T, D)), keras.layers.SimpleRNN(M), keras.layers.Dense(3)])
    weights = big.get_weights()
    weights[2] = (0.1 * rng.standard_normal(M)).astype(np.float32)
    big.set_weights(weights)
    Xb = rng.standard_normal((N, T, D)).astype(np.float32)
    results.append(case(f"large (N={N}, T={T}, D={D}, M={M})", big, Xb, repeats=2 if quick else 5))
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
