"""Reading a Keras model for :mod:`elman.keras`: Keras imported lazily, the layers walked
in call order and each checked (kind, order, dtype policy, activation). Nothing here
reads a weight: :mod:`elman.keras` does, with its table of transposes, once every
layer has passed."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

import numpy as np

from . import activations
from .errors import UnsupportedModelError, require

__all__ = ["SUPPORTED", "SHORT", "FLOATS", "import_keras", "quiet", "quote", "to_numpy", "layers_in_order",
           "checked_layers", "check_numerics", "activation_name"]

#: What from_keras understands (the error messages point here).
SUPPORTED = (
    "Sequential or Functional models with one input and one output made of: InputLayer; "
    "SimpleRNN or RNN(SimpleRNNCell) (any elman activation, use_bias, return_sequences, "
    "go_backwards, stateful, unroll; dropout is ignored at inference), stacked; "
    "Dropout (identity at inference); and at most one Dense readout, last. "
    "Every layer float32 or float64: quantized (model.quantize), mixed-precision and "
    "float16/bfloat16 layers are refused"
)

#: The short form of SUPPORTED that ends the error messages.
SHORT = "supported: SimpleRNN, RNN(SimpleRNNCell), Dropout, one last Dense (see elman.keras.SUPPORTED)"

FLOATS = ("float32", "float64")


def import_keras():
    """The keras module (TensorFlow backend), or a MissingDependencyError naming the extra."""
    # TensorFlow's C++ start-up lines (oneDNN notice, CUDA look-ups) unless the user asked for them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        return require("keras", "keras")
    # Newer TensorFlow (2.21) writes its oneDNN notice at load whatever the log level:
    # the first import runs with file descriptor 2 sent to os.devnull.
    with _stderr_off():
        return require("keras", "keras")


@contextmanager
def _stderr_off():
    """File descriptor 2 (where C++ code writes, past sys.stderr) to os.devnull, then back."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no stderr to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def quiet():
    """TensorFlow's Python-side warnings (tf.function retracing) off while elman calls Keras."""
    loggers = [logging.getLogger("tensorflow"), logging.getLogger("absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.level, logging.ERROR))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def quote(name, n: int = 30) -> str:
    """A layer or model name for a message, quoted and cut to ``n`` characters."""
    name = str(name)
    return repr(name if len(name) <= n else name[: n - 3] + "...")


def to_numpy(v) -> np.ndarray:
    """A Keras variable or tensor as a NumPy array (every weight elman reads passes here)."""
    return np.asarray(import_keras().ops.convert_to_numpy(v))


def layers_in_order(model) -> list:
    """The model's layers in call order, nested models flattened."""
    keras = import_keras()
    if isinstance(model, keras.Model):
        if len(model.inputs or []) != 1 or len(model.outputs or []) != 1:
            n_in, n_out = len(model.inputs or []), len(model.outputs or [])
            raise UnsupportedModelError(
                f"model {quote(model.name)} has {n_in} input{'s' * (n_in != 1)} and {n_out} "
                f"output{'s' * (n_out != 1)}; expected one of each; {SHORT}"
            )
        out = []
        for layer in model.layers:
            out.extend(layers_in_order(layer) if isinstance(layer, keras.Model) else [layer])
        return out
    return [model]


def checked_layers(model) -> tuple[list, object, str]:
    """([(recurrent layer, elman activation name), ...], the Dense readout or None, its
    activation's elman name ("linear" without one).

    Every layer is checked (kind, order, dtype policy, activation) and no weight is read:
    the caller reads them only when all passed, so nothing half-converted can come out.
    """
    keras = import_keras()
    rnn_layers: list = []
    dense = None
    for layer in layers_in_order(model):
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Dropout):
            check_numerics(layer)  # the identity at inference, but a float16 Dropout rounds
            continue
        if dense is not None:
            raise UnsupportedModelError(
                f"layer {quote(layer.name)} ({kind[:30]}) follows the Dense readout {quote(dense.name)}, which "
                f"must be last; {SHORT}"
            )
        if isinstance(layer, keras.layers.RNN) and type(layer) in (keras.layers.SimpleRNN, keras.layers.RNN):
            if rnn_layers and not rnn_layers[-1][0].return_sequences:
                raise UnsupportedModelError(
                    f"layer {quote(layer.name)} follows a recurrent layer with return_sequences=False"
                )
            rnn_layers.append((layer, _check_recurrent(layer)))
        elif isinstance(layer, keras.layers.Dense) and type(layer) is keras.layers.Dense:
            if not rnn_layers:
                raise UnsupportedModelError(
                    f"layer {quote(layer.name)} (Dense) comes before any SimpleRNN; a Dense is supported only "
                    f"as the readout; {SHORT}"
                )
            check_numerics(layer)
            dense = layer
        else:
            raise UnsupportedModelError(f"layer {quote(layer.name)} ({kind[:30]}) is not supported; {SHORT}")
    if not rnn_layers:
        raise UnsupportedModelError(f"model {quote(model.name)} has no SimpleRNN layer; {SHORT}")
    if len({bool(layer.stateful) for layer, _ in rnn_layers}) > 1:
        raise UnsupportedModelError("some recurrent layers are stateful and others are not; expected all or none")
    g = activation_name(dense.activation, f"layer {quote(dense.name)}") if dense is not None else "linear"
    return rnn_layers, dense, g


def _describe_custom(fn) -> str:
    """A custom activation in words, never its repr (a lambda's repr is its bytecode)."""
    name = getattr(fn, "__name__", None)
    if callable(fn) and (name is not None or hasattr(fn, "__code__")):
        named = isinstance(name, str) and name != "<lambda>" and name.isidentifier()
        return "a custom Python function activation" + (f" {quote(name, 30)}" if named else "")
    return f"a custom activation of type {quote(type(fn).__name__, 30)}"


def _keras_activation(name: str):
    try:
        return import_keras().activations.get(name)
    except Exception:  # a name this Keras does not know
        return None


def activation_name(fn, where: str) -> str:
    """elman's name for a Keras activation function, found by identity.

    Not by name: Keras serializes any function by its ``__name__`` (a user's own
    ``def tanh(x)`` would read as "tanh"), and serializing a lambda makes Keras warn.
    """
    if fn is None:
        return "linear"
    for name in activations.names():
        if _keras_activation(name) is fn:
            return activations.get(name).name
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and name != "<lambda>" and _keras_activation(name) is fn:
        raise UnsupportedModelError(
            f"{where}: activation {name!r} not supported; expected one of {', '.join(activations.names())}"
        )
    raise UnsupportedModelError(
        f"{where} has {_describe_custom(fn)}; expected a built-in activation (see elman.activations.names())"
    )


def check_numerics(layer) -> np.dtype:
    """The float dtype a layer computes in; refuses quantized, mixed and half-precision layers.

    Run on every layer (Dropout included) before any weight is read: a quantized Dense
    keeps an integer kernel whose scale lives elsewhere, and a float16 layer rounds.
    """
    where = f"layer {quote(layer.name)} ({type(layer).__name__})"
    for part in (layer, getattr(layer, "cell", None)):
        if part is None:
            continue
        policy = getattr(part, "dtype_policy", None)
        mode = getattr(part, "quantization_mode", None) or getattr(policy, "quantization_mode", None)
        if mode:
            pname = getattr(policy, "name", mode)
            raise UnsupportedModelError(
                f"{where} is {mode}-quantized (dtype policy {pname!r}); elman needs float weights: convert the "
                "un-quantized model (before model.quantize())"
            )
        compute, variable = str(part.compute_dtype), str(part.variable_dtype)
        if compute != variable:
            raise UnsupportedModelError(
                f"{where} uses mixed precision (computes in {compute}, variables {variable}); elman reproduces "
                "float32/float64 only: rebuild it with dtype='float32' and set_weights"
            )
        if compute not in FLOATS:
            raise UnsupportedModelError(
                f"{where} computes in {compute} with {variable} variables; elman reproduces float32/float64 "
                "only: rebuild it with dtype='float32' and set_weights"
            )
    dt = str(layer.compute_dtype)
    for w in layer.weights:
        if str(w.dtype) != dt:
            raise UnsupportedModelError(
                f"{where} holds {quote(w.path, 60)} of dtype {w.dtype} (the layer computes in {dt}); "
                "elman reads float32/float64 weights only"
            )
    return np.dtype(dt)


def _check_recurrent(layer) -> str:
    """Refuse what elman cannot reproduce in a recurrent layer; its activation's elman name."""
    keras = import_keras()
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, keras.layers.SimpleRNNCell):
        raise UnsupportedModelError(
            f"layer {quote(layer.name)} is an RNN with cell {quote(type(cell).__name__, 30)}; only SimpleRNNCell "
            "is supported; see elman.keras.SUPPORTED"
        )
    if getattr(layer, "return_state", False):
        raise UnsupportedModelError(f"layer {quote(layer.name)} has return_state=True; expected False")
    check_numerics(layer)
    return activation_name(cell.activation, f"layer {quote(layer.name)}")
