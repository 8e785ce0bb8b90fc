"""The Keras bridge: A, B, b, C, d out of a Keras model, and a Keras model out of them.

Keras writes row-vector layers, ``h_k = s(x_k @ kernel + bias + h_{k-1} @ recurrent_kernel)``
and ``y = g(h @ dense_kernel + dense_bias)``. Transposing gives the column-vector
form of the theorems. This is the one place where the transposes live:

    ============================  =============  ==================
    Keras weight                  shape          elman
    ============================  =============  ==================
    SimpleRNN ``kernel``          (D, M)         B.T
    SimpleRNN ``recurrent_kernel``(M, M)         A.T
    SimpleRNN ``bias``            (M,)           b  (zeros if use_bias=False)
    Dense ``kernel``              (M, K)         C.T
    Dense ``bias``                (K,)           d  (zeros if use_bias=False)
    ============================  =============  ==================

Keras is imported lazily, so ``import elman`` works without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import activations
from .errors import (
    InputTypeError,
    ModelFileError,
    ShapeError,
    UnknownActivationError,
    UnsupportedModelError,
    as_path,
    require,
)
from .model import ElmanRNN, StackedRNN, _check_U, _count

__all__ = [
    "from_keras",
    "to_keras",
    "verify_keras",
    "ParityReport",
    "reset_states",
    "get_states",
    "set_states",
    "load_keras_model",
    "SUPPORTED",
]

#: What from_keras understands, as said in its error messages.
SUPPORTED = (
    "Sequential or Functional models with one input and one output made of: InputLayer; "
    "SimpleRNN or RNN(SimpleRNNCell) (any elman activation, use_bias, return_sequences, "
    "go_backwards, stateful, unroll; dropout is ignored at inference), stacked; "
    "Dropout (identity at inference); and at most one Dense readout, last"
)


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return require("keras", "keras")


def _np(v) -> np.ndarray:
    return np.asarray(_keras().ops.convert_to_numpy(v))


def load_keras_model(path) -> Any:
    """Load a ``.keras`` (or legacy ``.h5``) file with ``safe_mode=True`` (no code runs)."""
    p = as_path(path)
    if not p.exists():
        raise ModelFileError(f"model file {str(p)!r} does not exist; expected a .keras file saved by model.save()")
    if p.is_dir() or p.suffix not in (".keras", ".h5"):
        raise ModelFileError(f"model file {str(p)!r} is not a .keras or .h5 file")
    keras = _keras()
    try:
        return keras.saving.load_model(p, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds here; one clear message instead
        raise ModelFileError(f"could not load Keras model {str(p)!r}: {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------- reading


def _layers_in_order(model) -> list:
    """The model's layers in call order, nested models flattened."""
    keras = _keras()
    if isinstance(model, keras.Model):
        if len(model.inputs or []) != 1 or len(model.outputs or []) != 1:
            n_in, n_out = len(model.inputs or []), len(model.outputs or [])
            raise UnsupportedModelError(
                f"model {model.name!r} has {n_in} inputs and {n_out} outputs; expected one of each. "
                f"Supported: {SUPPORTED}"
            )
        out = []
        for layer in model.layers:
            out.extend(_layers_in_order(layer) if isinstance(layer, keras.Model) else [layer])
        return out
    return [model]


def _activation_name(fn, where: str) -> str:
    keras = _keras()
    name = keras.activations.serialize(fn) if fn is not None else "linear"
    if not isinstance(name, str):
        raise UnsupportedModelError(f"{where} has a custom activation {name!r}; expected one of {activations.names()}")
    try:
        return activations.get(name).name
    except UnknownActivationError:
        raise UnsupportedModelError(
            f"{where} has activation {name!r}, which elman does not support; expected one of "
            f"{', '.join(activations.names())}"
        ) from None


def _check_dtype(layer) -> np.dtype:
    dt = np.dtype(layer.compute_dtype)
    if dt not in (np.float32, np.float64) or np.dtype(layer.variable_dtype) != dt:
        raise UnsupportedModelError(
            f"layer {layer.name!r} computes in {layer.compute_dtype} with {layer.variable_dtype} "
            "weights; elman reproduces float32 and float64 layers only"
        )
    return dt


def _recurrent(layer) -> tuple[ElmanRNN, dict]:
    keras = _keras()
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, keras.layers.SimpleRNNCell):
        raise UnsupportedModelError(
            f"layer {layer.name!r} is an RNN with cell {type(cell).__name__}; only SimpleRNNCell "
            f"is supported. Supported: {SUPPORTED}"
        )
    if getattr(layer, "return_state", False):
        raise UnsupportedModelError(f"layer {layer.name!r} has return_state=True; expected False")
    where = f"layer {layer.name!r}"
    kernel = _np(cell.kernel)  # (D, M)
    M = kernel.shape[1]
    b = _np(cell.bias) if cell.bias is not None else np.zeros(M, kernel.dtype)
    rnn = ElmanRNN(
        A=_np(cell.recurrent_kernel).T,
        B=kernel.T,
        b=b,
        activation=_activation_name(cell.activation, where),
        go_backwards=layer.go_backwards,
        dtype=_check_dtype(layer),
    )
    flags = {"return_sequences": bool(layer.return_sequences), "stateful": bool(layer.stateful)}
    return rnn, flags


def from_keras(model_or_path) -> ElmanRNN | StackedRNN:
    """The elman model that computes what a Keras model computes.

    model_or_path : a built ``keras.Model`` (Sequential or Functional), a single
        SimpleRNN layer, or the path of a ``.keras`` file (loaded with safe_mode=True).

    Returns an :class:`ElmanRNN` for one recurrent layer (+ optional Dense) and a
    :class:`StackedRNN` for several. The dtype of the Keras weights is kept (float32
    for a default Keras model; ``.astype(np.float64)`` asks for more). A stateful Keras
    model is reproduced by ``rnn.stateful(batch_size)``; its current state is
    ``get_states(model)``.

    Raises UnsupportedModelError naming the first layer elman cannot reproduce.
    """
    keras = _keras()
    model = load_keras_model(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    if not isinstance(model, keras.layers.Layer):
        raise InputTypeError(
            f"model_or_path must be a keras.Model or the path of a .keras file, got {type(model).__name__}"
        )
    if not model.built:
        raise UnsupportedModelError(
            f"model {model.name!r} is not built (its weights do not exist yet); call it on data or "
            "give it an Input shape first"
        )
    recurrent: list[ElmanRNN] = []
    flags: list[dict] = []
    dense = None
    for layer in _layers_in_order(model):
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, keras.layers.Dropout):
            continue  # Dropout is the identity at inference
        if dense is not None:
            raise UnsupportedModelError(
                f"layer {layer.name!r} ({kind}) comes after the Dense readout {dense.name!r}; "
                f"the readout must be the last layer. Supported: {SUPPORTED}"
            )
        if isinstance(layer, keras.layers.RNN) and type(layer) in (keras.layers.SimpleRNN, keras.layers.RNN):
            if recurrent and not flags[-1]["return_sequences"]:
                raise UnsupportedModelError(
                    f"layer {layer.name!r} follows a recurrent layer with return_sequences=False"
                )
            rnn, f = _recurrent(layer)
            recurrent.append(rnn)
            flags.append(f)
        elif isinstance(layer, keras.layers.Dense) and type(layer) is keras.layers.Dense:
            if not recurrent:
                raise UnsupportedModelError(
                    f"layer {layer.name!r} (Dense) comes before any SimpleRNN; a Dense is supported "
                    f"only as the readout. Supported: {SUPPORTED}"
                )
            dense = layer
        else:
            raise UnsupportedModelError(f"layer {layer.name!r} ({kind}) is not supported. Supported: {SUPPORTED}")
    if not recurrent:
        raise UnsupportedModelError(f"model {model.name!r} has no SimpleRNN layer. Supported: {SUPPORTED}")
    stateful = {f["stateful"] for f in flags}
    if len(stateful) > 1:
        raise UnsupportedModelError("some recurrent layers are stateful and others are not; expected all or none")

    C = d = None
    g = "linear"
    if dense is not None:
        C = _np(dense.kernel).T  # (K, M)
        d = _np(dense.bias) if dense.bias is not None else np.zeros(C.shape[0], C.dtype)
        g = _activation_name(dense.activation, f"layer {dense.name!r}")
        _check_dtype(dense)
    dtypes = {r.dtype for r in recurrent} | ({np.dtype(C.dtype)} if C is not None else set())
    dt = np.float64 if np.dtype(np.float64) in dtypes else np.float32
    return_sequences = flags[-1]["return_sequences"]
    if len(recurrent) == 1:
        r = recurrent[0]
        return ElmanRNN(
            r.A, r.B, r.b, C, d, r.activation, g, return_sequences, go_backwards=r.go_backwards, dtype=dt
        )
    return StackedRNN(recurrent, C, d, g, return_sequences, dtype=dt)


# --------------------------------------------------------------------------- writing


def to_keras(rnn: ElmanRNN | StackedRNN, *, return_sequences: bool | None = None, stateful: bool = False,
             batch_size: int | None = None):
    """A Keras model (Functional) with exactly the weights of ``rnn``.

    Inputs are (N, T, D) with any T. ``stateful=True`` needs ``batch_size`` (Keras
    fixes the batch of a stateful model). A model without readout whose output
    activation is not linear gets a Dense with C = I, d = 0.
    """
    keras = _keras()
    if not isinstance(rnn, (ElmanRNN, StackedRNN)):
        raise InputTypeError(f"rnn must be an ElmanRNN or StackedRNN, got {type(rnn).__name__}")
    if stateful:
        batch_size = _count(batch_size, "batch_size (needed for a stateful model)")
    rs = rnn.return_sequences if return_sequences is None else bool(return_sequences)
    dtype = rnn.dtype.name
    layers = list(rnn.layers) if isinstance(rnn, StackedRNN) else [rnn]
    if stateful:
        inputs = keras.Input(batch_shape=(int(batch_size), None, rnn.input_dim), dtype=dtype)
    else:
        inputs = keras.Input(shape=(None, rnn.input_dim), dtype=dtype)
    x = inputs
    for j, layer in enumerate(layers):
        last = j == len(layers) - 1
        kl = keras.layers.SimpleRNN(
            layer.state_dim,
            activation=layer.activation,
            return_sequences=rs if last else True,
            go_backwards=layer.go_backwards,
            stateful=stateful,
            dtype=dtype,
        )
        x = kl(x)
        kl.set_weights([layer.B.T, layer.A.T, layer.b])
    C, d = rnn.C, rnn.d
    if C is None and rnn.output_activation != "linear":
        C, d = np.eye(rnn.state_dim, dtype=rnn.dtype), np.zeros(rnn.state_dim, dtype=rnn.dtype)
    if C is not None:
        dense = keras.layers.Dense(C.shape[0], activation=rnn.output_activation, dtype=dtype)
        x = dense(x)
        dense.set_weights([C.T, d])
    return keras.Model(inputs, x)


# --------------------------------------------------------------------------- states


def _stateful_layers(model) -> list:
    keras = _keras()
    return [l for l in _layers_in_order(model) if isinstance(l, keras.layers.RNN) and l.stateful]


def reset_states(model) -> None:
    """Zero the state of every stateful recurrent layer (Keras 3 has no model-level reset)."""
    for layer in _stateful_layers(model):
        layer.reset_state()


def get_states(model) -> list[np.ndarray]:
    """The current state of each stateful recurrent layer, (batch, M_j) arrays in layer order."""
    return [_np(layer.states[0]).copy() for layer in _stateful_layers(model)]


def set_states(model, states) -> None:
    """Set the state of each stateful recurrent layer; ``states`` as ``get_states`` returns."""
    layers = _stateful_layers(model)
    if not isinstance(states, (list, tuple)) or len(states) != len(layers):
        got = f"{type(states).__name__} of length {len(states)}" if isinstance(states, (list, tuple)) else type(states).__name__
        raise ShapeError(f"states must be a list of {len(layers)} arrays (one per stateful layer), got {got}")
    for j, (layer, z) in enumerate(zip(layers, states)):
        var = layer.states[0]
        z = np.asarray(z)
        if z.shape != tuple(var.shape):
            raise ShapeError(f"states[{j}] has shape {z.shape} but layer {layer.name!r} holds {tuple(var.shape)}")
        var.assign(z.astype(var.dtype))


# --------------------------------------------------------------------------- parity


@dataclass(frozen=True)
class ParityReport:
    """How closely elman reproduces ``model.predict``.

    max_abs_err : max |y_keras - y_elman| over every call and element.
    max_rel_err : max_abs_err / max |y_keras| (relative to the output's size).
    tolerance   : the bound on max_abs_err / max(1, max |y_keras|): 1e-12 when Keras
                  returns float64 from float64 layers (1e-8 with gelu, whose float64
                  erfc in TensorFlow is good to ~5e-9), else 1e-5 (float32).
    passed      : whether that bound holds.
    calls       : (label, max_abs_err) per predict call; a stateful model is called three
                  times, reset, and called again.
    """

    max_abs_err: float
    max_rel_err: float
    tolerance: float
    passed: bool
    dtype: str
    input_shape: tuple
    output_shape: tuple
    stateful: bool
    model_kind: str
    calls: tuple = field(default_factory=tuple)

    def __str__(self) -> str:
        lines = [
            f"Parity of elman with Keras model.predict ({self.model_kind}, {self.dtype}"
            + (", stateful" if self.stateful else "") + ")",
            f"  input  {self.input_shape} -> output {self.output_shape}",
        ]
        for label, err in self.calls:
            lines.append(f"  {label:<24s} max abs err {err:.3e}")
        lines += [
            f"  max abs err  {self.max_abs_err:.3e}",
            f"  max rel err  {self.max_rel_err:.3e}",
            f"  tolerance    {self.tolerance:.0e} (scaled by max(1, max|y|))",
            f"  {'PASSED' if self.passed else 'FAILED'}",
        ]
        return "\n".join(lines)


def verify_keras(model, U=None, *, n_samples: int = 32, n_steps: int = 16, seed: int = 0) -> ParityReport:
    """Compare ``model.predict`` with elman's reproduction of the model.

    model : a keras.Model or the path of a .keras file.
    U     : (N, T, D) input; by default standard normal of (n_samples, n_steps, D), with
            the model's own fixed T or batch size where it has one.
    A stateful model is predicted three times in a row (state carried), reset, and
    predicted again, against elman's stateful runner; its state is restored afterwards.
    """
    keras = _keras()
    if isinstance(model, (str, os.PathLike)):
        model = load_keras_model(model)
    rnn = from_keras(model)
    shape = tuple(model.inputs[0].shape)  # (batch or None, T or None, D)
    stateful = bool(_stateful_layers(model))
    n_samples, n_steps = _count(n_samples, "n_samples"), _count(n_steps, "n_steps")
    N = shape[0] if shape[0] is not None else n_samples
    T = shape[1] if shape[1] is not None else n_steps
    rng = np.random.default_rng(seed)
    if U is None:
        batches = [rng.standard_normal((N, T, rnn.input_dim)) for _ in range(3)]
    else:
        batches = [_check_U(U, rnn.input_dim, np.float64)] * 3
    # model.predict casts NumPy input to keras.config.floatx() (float32 by default),
    # even for a float64 model; elman is given exactly what Keras sees.
    floatx = np.dtype(keras.config.floatx())
    batches = [X.astype(floatx).astype(rnn.dtype) for X in batches]
    if stateful and batches[0].shape[0] != N:
        raise ShapeError(f"U has {batches[0].shape[0]} samples but the stateful model's batch size is {N}")

    calls, pairs = [], []
    if stateful:
        saved = get_states(model)
        reset_states(model)
        runner = rnn.stateful(N)
        plan = [("call 1", batches[0]), ("call 2 (state carried)", batches[1]),
                ("call 3 (state carried)", batches[2]), ("reset", None), ("call 4 after reset", batches[0])]
        try:
            for label, X in plan:
                if X is None:
                    reset_states(model)
                    runner.reset()
                    continue
                y_k = np.asarray(model.predict(X, batch_size=N, verbose=0))
                pairs.append((label, y_k, runner.predict(X)))
        finally:
            set_states(model, saved)
    else:
        X = batches[0]
        pairs.append(("predict", np.asarray(model.predict(X, verbose=0)), rnn.predict(X)))

    max_abs, scale = 0.0, 0.0
    for label, y_k, y_e in pairs:
        if y_k.shape != y_e.shape:
            raise ShapeError(f"Keras returned {y_k.shape} but elman {y_e.shape} ({label}); please report this")
        err = float(np.max(np.abs(y_k.astype(np.float64) - y_e.astype(np.float64))))
        calls.append((label, err))
        max_abs = max(max_abs, err)
        scale = max(scale, float(np.max(np.abs(y_k))))
    # The least precise layer sets what can be expected: a float64 RNN under a float32
    # Dense returns float32 numbers.
    y_dtype = np.result_type(*(y_k.dtype for _, y_k, _ in pairs))
    tol = 1e-12 if y_dtype == np.float64 and rnn.dtype == np.float64 else 1e-5
    layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
    if tol < 1e-8 and "gelu" in {l.activation for l in layers} | {rnn.output_activation}:
        tol = 1e-8  # TensorFlow's float64 erfc is good to ~5e-9 only (see elman.activations)
    return ParityReport(
        max_abs_err=max_abs,
        max_rel_err=max_abs / scale if scale > 0 else max_abs,
        tolerance=tol,
        passed=bool(max_abs <= tol * max(1.0, scale)),
        dtype=np.dtype(y_dtype).name,
        input_shape=tuple(batches[0].shape),
        output_shape=tuple(pairs[0][1].shape),
        stateful=stateful,
        model_kind=type(rnn).__name__,
        calls=tuple(calls),
    )
