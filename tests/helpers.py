"""Test helpers: random non-square Keras models and the parity check.

Keras is imported here once for the whole session (TensorFlow backend, CPU only).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402

# Activations that grow without bound get smaller weights so the outputs stay finite
# (the tolerance is relative to the output's size, so that is all they need).
UNBOUNDED = {"linear", "relu", "elu", "selu", "exponential", "softplus", "silu", "gelu", "relu6", "leaky_relu"}


def randomize(model, seed: int, scale: float = 1.0) -> None:
    """Random weights for every variable: kernels ~ N(0, scale^2 / fan_in), biases ~ N(0, 0.25)."""
    rng = np.random.default_rng(seed)
    new = []
    for w in model.get_weights():
        if w.ndim == 2:
            new.append(rng.standard_normal(w.shape) * scale / np.sqrt(w.shape[0]))
        else:
            new.append(0.5 * rng.standard_normal(w.shape))
    model.set_weights([x.astype(w.dtype) for x, w in zip(new, model.get_weights())])


def build(keras, D, Ms, K=None, *, activation="tanh", dense_activation="linear", use_bias=True,
          return_sequences=False, go_backwards=False, api="functional", cell=False, dtype="float32",
          T=None, stateful=False, batch_size=None, seed=0, scale=None):
    """A Keras model: len(Ms) stacked recurrent layers (M_j units), then Dense(K) unless K is None.

    go_backwards may be a bool or a list (one per layer); activation likewise.
    """
    L = len(Ms)
    gbs = go_backwards if isinstance(go_backwards, (list, tuple)) else [go_backwards] * L
    acts = activation if isinstance(activation, (list, tuple)) else [activation] * L
    layers = []
    for j, M in enumerate(Ms):
        rs = return_sequences if j == L - 1 else True
        kw = dict(return_sequences=rs, go_backwards=gbs[j], stateful=stateful, dtype=dtype)
        if cell:
            layers.append(keras.layers.RNN(keras.layers.SimpleRNNCell(M, activation=acts[j], use_bias=use_bias), **kw))
        else:
            layers.append(keras.layers.SimpleRNN(M, activation=acts[j], use_bias=use_bias, **kw))
    if K is not None:
        layers.append(keras.layers.Dense(K, activation=dense_activation, use_bias=use_bias, dtype=dtype))
    if stateful:
        inp = keras.Input(batch_shape=(batch_size, T, D), dtype=dtype)
    else:
        inp = keras.Input(shape=(T, D), dtype=dtype)
    if api == "sequential":
        model = keras.Sequential([inp, *layers])
    else:
        x = inp
        for layer in layers:
            x = layer(x)
        model = keras.Model(inp, x)
    if scale is None:
        scale = 0.3 if "exponential" in acts else 0.6 if any(a in UNBOUNDED for a in acts) else 1.0
    randomize(model, seed, scale)
    return model


def max_err(y_keras, y_elman) -> tuple[float, float]:
    """(max abs error, that error over max(1, max |y_keras|))."""
    y_keras = np.asarray(y_keras, dtype=np.float64)
    err = float(np.max(np.abs(y_keras - np.asarray(y_elman, dtype=np.float64))))
    return err, err / max(1.0, float(np.max(np.abs(y_keras))))


def assert_parity(y_keras, y_elman, tol, label=""):
    assert np.shape(y_keras) == np.shape(y_elman), f"{label}: shapes {np.shape(y_keras)} vs {np.shape(y_elman)}"
    assert np.all(np.isfinite(y_keras)), f"{label}: Keras output not finite; the test model is badly scaled"
    err, scaled = max_err(y_keras, y_elman)
    if os.environ.get("ELMAN_PARITY_LOG"):  # for the figures in closing notes
        with open(os.environ["ELMAN_PARITY_LOG"], "a") as f:
            f.write(f"{np.asarray(y_keras).dtype}\t{tol:g}\t{err:.3e}\t{scaled:.3e}\t{label}\n")
    assert scaled <= tol, f"{label}: max abs err {err:.3e} (scaled {scaled:.3e}) > {tol:.0e}"
    return err


class floatx:
    """Context: Keras's default float type (model.predict casts NumPy input to it)."""

    def __init__(self, keras, dtype):
        self.keras, self.dtype = keras, dtype

    def __enter__(self):
        self.old = self.keras.config.floatx()
        self.keras.config.set_floatx(self.dtype)

    def __exit__(self, *exc):
        self.keras.config.set_floatx(self.old)
