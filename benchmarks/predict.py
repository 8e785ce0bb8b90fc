"""Keras model.predict time over elman predict time, in one run, with onnxruntime,
PyTorch and the exported C beside them where they are installed.

    .venv/bin/python benchmarks/predict.py [--quick]

Three cases:
- the sine model of the universal-approximation notebook (495 windows of 5 steps,
  SimpleRNN(50) + Dense(1)), the whole batch;
- a large batch (N=10000, T=50, D=4, M=128, K=3);
- one sample, batch 1, one stateful step of the sine model: Keras's stateful model,
  elman's ``rnn.step`` + ``rnn.output``, onnxruntime and torch with the state fed in,
  and the exported C's ``step`` called through ctypes (what a control loop or a
  simulation written in C would run; C's own time per step is printed too).
Times are warm (after one call each), the median of several repeats. Each line gives
the time, the ratio Keras time / that time, and the max abs difference of its output
from Keras's.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def _line(label: str, t: float, t_keras: float, err: float | None) -> None:
    diff = "" if err is None else f"   max abs diff {err:.2e}"
    print(f"    {label:<24s} {t * 1e3:10.3f} ms   ratio {t_keras / t:9.1f}x{diff}")


def _others(rnn, X, folder: str, z0=None) -> dict:
    """Predict functions of onnxruntime and torch, where installed: name -> fn(X); with
    ``z0`` (1, M) each is also given the initial state (what a stateful step needs)."""
    out = {}
    try:
        import onnxruntime as ort

        path = elman.to_onnx(rnn, os.path.join(folder, "m.onnx"))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the optional z0 inputs make it say so at load
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {} if z0 is None else {"z0_1": z0}
        out["onnxruntime"] = lambda X: session.run(None, {"U": X, **feeds})[0]
    except ImportError:
        print("    (onnxruntime not installed: pip install 'elman[onnx]')")
    try:
        import torch

        module = elman.to_torch(rnn)
        h0 = None if z0 is None else torch.from_numpy(z0[None])  # (num_layers, N, M)

        def run_torch(X):
            with torch.no_grad():
                return module(torch.from_numpy(X), h0).numpy()

        out["torch"] = run_torch
    except ImportError:
        print("    (torch not installed: pip install 'elman[torch]')")
    return out


def case(name: str, model, X, repeats: int) -> dict:
    print(name)
    rnn = elman.from_keras(model)
    y_keras = model.predict(X, verbose=0)
    t_keras = median_time(lambda: model.predict(X, verbose=0), repeats)
    t_elman = median_time(lambda: rnn.predict(X), repeats)
    err = float(np.max(np.abs(y_keras - rnn.predict(X))))
    print(f"    {'keras':<24s} {t_keras * 1e3:10.3f} ms")
    _line("elman", t_elman, t_keras, err)
    row = {"name": name, "keras_s": t_keras, "elman_s": t_elman, "ratio": t_keras / t_elman, "max_abs_diff": err}
    with tempfile.TemporaryDirectory() as folder:
        for label, fn in _others(rnn, X, folder).items():
            t = median_time(lambda: fn(X), repeats)
            e = float(np.max(np.abs(y_keras - fn(X))))
            _line(label, t, t_keras, e)
            row[f"{label}_s"], row[f"{label}_max_abs_diff"] = t, e
    return row


def _c_library(rnn, folder: str):
    """The exported C compiled as a shared library (None without a C compiler)."""
    cc = shutil.which("cc")
    if cc is None:
        print("    (no C compiler: the exported C is not timed)")
        return None
    elman.export(rnn, os.path.join(folder, "net.c"), language="c")
    lib = os.path.join(folder, "libnet.so")
    subprocess.run([cc, "-std=c99", "-O2", "-shared", "-fPIC", os.path.join(folder, "net.c"), "-o", lib, "-lm"],
                   check=True)
    return ctypes.CDLL(lib)


def step_case(model, X, repeats: int) -> dict:
    """One sample, batch 1: the time of one stateful step, each tool fed the state."""
    import keras

    print("one sample, batch 1, one stateful step (sine model)")
    rnn = elman.from_keras(model).astype(np.float64)
    M, D = rnn.state_dim, rnn.input_dim
    stateful = keras.Sequential([keras.Input(batch_shape=(1, 1, D)),
                                 keras.layers.SimpleRNN(M, stateful=True), keras.layers.Dense(1)])
    stateful.set_weights(model.get_weights())
    u = X[:1, :1]  # (1, 1, D)
    t_keras = median_time(lambda: stateful.predict(u, verbose=0), repeats)
    print(f"    {'keras (stateful)':<24s} {t_keras * 1e3:10.3f} ms")
    z = np.zeros(M)
    u64 = u[0, 0].astype(np.float64)
    t_elman = median_time(lambda: rnn.output(rnn.step(z, u64)), repeats * 10)
    y_ref = rnn.output(rnn.step(z, u64))
    _line("elman step", t_elman, t_keras, 0.0)
    row = {"name": "step", "keras_s": t_keras, "elman_s": t_elman, "ratio": t_keras / t_elman}
    with tempfile.TemporaryDirectory() as folder:
        u32, z32 = u.astype(np.float32), np.zeros((1, M), np.float32)
        for label, fn in _others(rnn.astype(np.float32), u32, folder, z32).items():
            t = median_time(lambda: fn(u32), repeats * 10)
            _line(f"{label} (state fed)", t, t_keras, float(np.max(np.abs(fn(u32) - y_ref))))
            row[f"{label}_s"] = t
        lib = _c_library(rnn, folder)
        if lib is not None:
            state = (ctypes.c_double * M)()
            uc, yc = (ctypes.c_double * D)(*u64), (ctypes.c_double * 1)()

            def c_step():
                lib.net_reset(state)
                lib.net_step(state, uc, yc)

            t_c = median_time(c_step, repeats * 10)
            _line("exported C (ctypes)", t_c, t_keras, abs(yc[0] - y_ref[0]))
            # C's own time per step, without the ctypes call: predict over a long sequence.
            T = 10000
            U = (ctypes.c_double * (T * D))(*np.resize(u64, T * D))
            t_seq = median_time(lambda: lib.net_predict(U, T, yc), repeats)
            _line("exported C (per step)", t_seq / T, t_keras, None)
            row["c_s"], row["c_step_s"] = t_c, t_seq / T
    return row


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
    results.append(step_case(model, X, repeats=5 if quick else 50))
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
