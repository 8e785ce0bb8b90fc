"""Keras model.predict time over elman predict time, in one run, with onnxruntime,
PyTorch and the exported C beside them where they are installed.

    .venv/bin/python benchmarks/predict.py [--quick]

Times are warm (after one call each), the median of several repeats. Each line gives
the time of one call, the ratio Keras time / that time, and the max abs difference of
its output from the reference.

Two whole-batch cases, ``predict`` over every sequence (reference: Keras's output):
- the sine model of the universal-approximation notebook (495 windows of 5 steps,
  SimpleRNN(50) + Dense(1));
- a large batch (N=10000, T=50, D=4, M=128, K=3).
Lines: ``keras`` model.predict; ``elman`` rnn.predict; ``onnxruntime`` session.run of
:func:`elman.to_onnx`'s file; ``torch`` the module of :func:`elman.to_torch` (no_grad).

One stateful step of the sine model, one sample, batch 1: from the state z (zero), read
one input u, return the next state z' = s(A z + B u + b) and y = C z' + d (reference:
elman in float64; the difference is the larger of |y - y_ref| and |z' - z'_ref| where a
tool returns z'). The ratios use Keras's ``predict_on_batch``:
- ``keras predict_on_batch``: the stateful Keras model (batch_shape (1, 1, D)), one call;
  it keeps z' inside the model for the next call;
- ``keras predict (not used)``: the same with ``model.predict``, printed for comparison;
  nearly all of it is predict's fixed per-call overhead (building a dataset, callbacks);
- ``elman step``: ``z' = rnn.step(z, u)``, ``y = rnn.output(z')`` (NumPy, float64);
- ``torch step``: the to_torch module's ``.rnn`` (nn.RNN) called with h0 = z, returning
  its h_n = z', then ``.readout`` (float32);
- ``onnxruntime y from z``: ONNX has no stateful step: session.run of a one-step
  sequence with the initial state z0 = z, which returns y only, not z' (float32);
- ``exported C step (ctypes)``: the exported C's ``net_reset`` + ``net_step`` through
  ctypes (what a control loop in Python calling C would pay; double);
- ``exported C per step (in C)``: ``net_predict`` over 10000 steps divided by 10000, C's
  own time per step without the ctypes call.
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

# PyTorch's registry build bundles Triton (GPU kernels), whose start-up crashes a process
# that has already loaded TensorFlow (a segfault, seen with torch 2.14.1 + triton 3.8 beside
# tensorflow-cpu 2.21; Triton first, then TensorFlow, is fine). elman runs torch on the CPU
# and never needs Triton: hide it, and torch reports it absent instead of importing it.
sys.modules.setdefault("triton", None)  # type: ignore[assignment]
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
    print(f"    {label:<28s} {t * 1e3:10.3f} ms   ratio {t_keras / t:9.1f}x{diff}")


def _others(rnn, X, folder: str) -> dict:
    """Predict functions of onnxruntime and torch, where installed: name -> fn(X)."""
    out = {}
    try:
        import onnxruntime as ort

        path = elman.to_onnx(rnn, os.path.join(folder, "m.onnx"))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the optional z0 inputs make it say so at load
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        out["onnxruntime"] = lambda X: session.run(None, {"U": X})[0]
    except ImportError:
        print("    (onnxruntime not installed: pip install 'elman[onnx]')")
    try:
        import torch

        module = elman.to_torch(rnn)

        def run_torch(X):
            with torch.no_grad():
                return module(torch.from_numpy(X)).numpy()

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
    print(f"    {'keras':<28s} {t_keras * 1e3:10.3f} ms")
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


def _keras_step(model, u, rnn, repeats: int) -> tuple[float, dict]:
    """The stateful Keras model's one step: predict_on_batch timed (the ratio's base), predict
    printed beside it; and its y and z' after one step from zero."""
    import keras

    from elman.keras import get_states, reset_states

    M, D = rnn.state_dim, rnn.input_dim
    stateful = keras.Sequential([keras.Input(batch_shape=(1, 1, D)),
                                 keras.layers.SimpleRNN(M, stateful=True), keras.layers.Dense(1)])
    stateful.set_weights(model.get_weights())
    t_keras = median_time(lambda: stateful.predict_on_batch(u), repeats * 10)
    t_predict = median_time(lambda: stateful.predict(u, verbose=0), repeats)
    reset_states(stateful)
    y = np.asarray(stateful.predict_on_batch(u))[0]
    z = get_states(stateful)[0][0]
    return t_keras, {"keras_predict_s": t_predict, "keras_call": "predict_on_batch", "keras_y": y, "keras_z": z}


def _step_tools(rnn, folder: str) -> dict:
    """label -> fn(u (1, 1, D) float32, z (1, M) float32) -> (y (K,), z' (M,) or None), for
    onnxruntime and torch where installed (float32, as the Keras model)."""
    out = {}
    try:
        import torch

        module = elman.to_torch(rnn)
        assert isinstance(module.rnn, torch.nn.RNN) and rnn.output_activation == "linear"

        def torch_step(u, z):
            with torch.no_grad():
                _, h = module.rnn(torch.from_numpy(u), torch.from_numpy(z[None]))  # h_n: (1, 1, M)
                return module.readout(h[-1]).numpy()[0], h[-1, 0].numpy()

        out["torch step"] = torch_step
    except ImportError:
        print("    (torch not installed: pip install 'elman[torch]')")
    try:
        import onnxruntime as ort

        path = elman.to_onnx(rnn, os.path.join(folder, "step.onnx"))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the optional z0 inputs make it say so at load
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        out["onnxruntime y from z"] = lambda u, z: (session.run(None, {"U": u, "z0_1": z})[0][0], None)
    except ImportError:
        print("    (onnxruntime not installed: pip install 'elman[onnx]')")
    return out


def _diff(y, z, y_ref, z_ref) -> float:
    """max |y - y_ref|, and |z' - z'_ref| where the tool returns z'."""
    e = float(np.max(np.abs(np.asarray(y, np.float64) - y_ref)))
    return e if z is None else max(e, float(np.max(np.abs(np.asarray(z, np.float64) - z_ref))))


def step_case(model, X, repeats: int) -> dict:
    """One sample, batch 1: one stateful step from z = 0 (see the module docstring)."""
    print("one sample, batch 1, one stateful step (sine model); ratios over keras predict_on_batch")
    rnn = elman.from_keras(model).astype(np.float64)
    M, D = rnn.state_dim, rnn.input_dim
    u = X[:1, :1]  # (1, 1, D)
    z, u64 = np.zeros(M), u[0, 0].astype(np.float64)
    z_ref = rnn.step(z, u64)
    y_ref = rnn.output(z_ref)
    t_keras, row = _keras_step(model, u, rnn, repeats)
    row.update(name="step", keras_s=t_keras, keras_max_abs_diff=_diff(row["keras_y"], row["keras_z"], y_ref, z_ref))
    print(f"    {'keras predict_on_batch':<28s} {t_keras * 1e3:10.3f} ms   (the ratios' base)"
          f"   max abs diff {row['keras_max_abs_diff']:.2e}")
    print(f"    {'keras predict (not used)':<28s} {row['keras_predict_s'] * 1e3:10.3f} ms   (per-call overhead)")
    t_elman = median_time(lambda: rnn.output(rnn.step(z, u64)), repeats * 10)
    _line("elman step", t_elman, t_keras, 0.0)
    row.update(elman_s=t_elman, ratio=t_keras / t_elman)
    with tempfile.TemporaryDirectory() as folder:
        u32, z32 = u.astype(np.float32), np.zeros((1, M), np.float32)
        for label, fn in _step_tools(rnn.astype(np.float32), folder).items():
            t = median_time(lambda: fn(u32, z32), repeats * 10)
            e = _diff(*fn(u32, z32), y_ref, z_ref)
            _line(label, t, t_keras, e)
            key = label.split()[0]
            row[f"{key}_s"], row[f"{key}_max_abs_diff"] = t, e
        row.update(_c_step(rnn, folder, u64, y_ref, z_ref, t_keras, repeats))
    return row


def _c_step(rnn, folder: str, u64, y_ref, z_ref, t_keras: float, repeats: int) -> dict:
    """The exported C's reset + step through ctypes, and its own time per step."""
    lib = _c_library(rnn, folder)
    if lib is None:
        return {}
    M, D = rnn.state_dim, rnn.input_dim
    state = (ctypes.c_double * M)()  # net_state: the one layer's z
    uc, yc = (ctypes.c_double * D)(*u64), (ctypes.c_double * 1)()

    def c_step():
        lib.net_reset(state)
        lib.net_step(state, uc, yc)

    t_c = median_time(c_step, repeats * 10)
    e = _diff(list(yc), list(state), y_ref, z_ref)
    _line("exported C step (ctypes)", t_c, t_keras, e)
    T = 10000
    U = (ctypes.c_double * (T * D))(*np.resize(u64, T * D))
    t_seq = median_time(lambda: lib.net_predict(U, T, yc), repeats)
    _line("exported C per step (in C)", t_seq / T, t_keras, None)
    return {"c_s": t_c, "c_max_abs_diff": e, "c_step_s": t_seq / T}


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
