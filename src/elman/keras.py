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
import warnings

import numpy as np

from ._keras_file import load_keras_model
from ._keras_read import FLOATS, SUPPORTED, checked_layers, import_keras, quiet, quote, to_numpy
from ._keras_states import current_states, get_states, reset_states, set_states, stateful_layers  # noqa: F401
from ._keras_verify import MAX_VERIFY_VALUES, ParityReport, verify_keras  # noqa: F401
from .errors import InputTypeError, StateWarning, UnsupportedModelError
from .model import ElmanRNN
from .stacked import StackedRNN, from_layers
from .validation import _check_model, _count, _flag

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
# Also importable from here (not in __all__), for elman's own modules and the tests:
# import_keras (Keras, imported when first needed), stateful_layers (a Keras model's
# stateful recurrent layers) and MAX_VERIFY_VALUES (the cap on verify_keras's inputs).


# --------------------------------------------------------------------------- reading


def from_keras(model_or_path) -> ElmanRNN | StackedRNN:
    """The elman model that computes what a Keras model computes.

    model_or_path : a built ``keras.Model`` (Sequential or Functional), a single
        SimpleRNN layer, or the path of a ``.keras`` file (loaded with safe_mode=True).

    Returns an :class:`ElmanRNN` for one recurrent layer (+ optional Dense) and a
    :class:`StackedRNN` for several. The dtype of the Keras weights is kept (float32
    for a default Keras model; ``.astype(np.float64)`` asks for more). A stateful Keras
    model is reproduced by ``rnn.stateful(batch_size)``, which starts from the zero
    state; a Keras model that has already run holds a state of its own, which is not
    carried (a :class:`~elman.errors.StateWarning` says so and how to carry it:
    ``runner.state = get_states(model)``, or ``get_states(model)[0]`` for one layer).

    Raises UnsupportedModelError naming the first layer elman cannot reproduce
    (including quantized, mixed-precision and float16/bfloat16 layers).
    """
    model = _built_model(model_or_path)
    # First every layer is checked; no weight is read before all of them pass.
    rnn_layers, dense, g = checked_layers(model)
    recurrent = [_recurrent(layer, act) for layer, act in rnn_layers]
    C, d = _readout(dense)
    dtypes = {r.dtype for r in recurrent} | ({np.dtype(C.dtype)} if C is not None else set())
    dt = np.float64 if np.dtype(np.float64) in dtypes else np.float32
    out = from_layers(recurrent, C, d, g, bool(rnn_layers[-1][0].return_sequences), dtype=dt)
    if rnn_layers[0][0].stateful:
        _warn_if_state(model, len(recurrent))
    return out


def _built_model(model_or_path):
    """The Keras model (loaded from a path) after the checks that come before its layers:
    a Keras layer or model, built, taking float32 or float64 input."""
    keras = import_keras()
    model = load_keras_model(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    if not isinstance(model, keras.layers.Layer):
        raise InputTypeError(
            f"model_or_path must be a keras.Model or the path of a .keras file, got {type(model).__name__}"
        )
    if not model.built:
        raise UnsupportedModelError(
            f"model {quote(model.name)} is not built (its weights do not exist yet); call it on data or "
            "give it an Input shape first"
        )
    if isinstance(model, keras.Model):
        in_dtype = str(getattr(model.inputs[0], "dtype", "float32")) if len(model.inputs or []) == 1 else "float32"
        if in_dtype not in FLOATS:
            raise UnsupportedModelError(
                f"model {quote(model.name)} takes {in_dtype} input; elman reproduces float32/float64 inputs only: "
                "build it with Input(dtype='float32')"
            )
    return model


def _warn_if_state(model, n_layers: int) -> None:
    """StateWarning when a stateful Keras model holds a nonzero state (it is not carried)."""
    states = [s for s in current_states(model) if s is not None]
    if not any(np.any(s != 0) for s in states):
        return
    N = states[0].shape[0]
    get = "elman.get_states(model)" + ("[0]" if n_layers == 1 else "")
    warnings.warn(
        f"the Keras model's current (nonzero) state is not carried: rnn.stateful() starts from zero; "
        f"to carry it: runner = rnn.stateful({N}); runner.state = {get}",
        StateWarning,
        stacklevel=3,  # the caller of from_keras
    )


def _recurrent(layer, activation: str) -> ElmanRNN:
    """A checked recurrent layer's weights as an ElmanRNN without readout:
    A = recurrent_kernel.T, B = kernel.T, b = bias (zeros without one)."""
    cell = layer.cell
    kernel = to_numpy(cell.kernel)  # (D, M)
    M = kernel.shape[1]
    b = to_numpy(cell.bias) if cell.bias is not None else np.zeros(M, kernel.dtype)
    return ElmanRNN(
        A=to_numpy(cell.recurrent_kernel).T,
        B=kernel.T,
        b=b,
        activation=activation,
        go_backwards=layer.go_backwards,
        dtype=np.dtype(str(layer.compute_dtype)),
    )


def _readout(dense) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(C (K, M), d (K,)) of a checked Dense readout: C = kernel.T, d = bias (zeros
    without one); (None, None) without a readout."""
    if dense is None:
        return None, None
    C = to_numpy(dense.kernel).T  # (K, M)
    d = to_numpy(dense.bias) if dense.bias is not None else np.zeros(C.shape[0], C.dtype)
    return C, d


# --------------------------------------------------------------------------- writing


def to_keras(rnn: ElmanRNN | StackedRNN, *, return_sequences: bool | None = None, stateful: bool = False,
             batch_size: int | None = None):
    """A Keras model (Functional) with exactly the weights of ``rnn``.

    Inputs are (N, T, D) with any T. ``stateful=True`` needs ``batch_size`` (Keras
    fixes the batch of a stateful model). A model without readout whose output
    activation is not linear gets a Dense with C = I, d = 0. ``return_sequences``
    (None: the model's own) and ``stateful`` must be bools: "no" is truthy in Python.
    """
    _check_model(rnn)
    return_sequences = _flag(return_sequences, "return_sequences", allow_none=True)
    stateful = _flag(stateful, "stateful")
    keras = import_keras()
    with quiet():
        return _build_keras(keras, rnn, return_sequences, stateful, batch_size)


def _build_keras(keras, rnn, return_sequences, stateful, batch_size):
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
