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

import logging
import math
import os
import stat
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import activations
from .errors import (
    InputTypeError,
    ModelFileError,
    ParameterError,
    ShapeError,
    StateWarning,
    UnsupportedModelError,
    as_path,
    require,
)
from .io import _file_kind, is_model_file
from .model import ElmanRNN, StackedRNN
from .validation import _check_U, _count, _finite_as, _flag, _numeric, _rng

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
_SHORT = "supported: SimpleRNN, RNN(SimpleRNNCell), Dropout, one last Dense (see elman.keras.SUPPORTED)"

_FLOATS = ("float32", "float64")


def _keras():
    # TensorFlow's C++ start-up lines (oneDNN notice, CUDA look-ups) unless the user asked for them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return require("keras", "keras")


@contextmanager
def _quiet():
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


def _q(name, n: int = 30) -> str:
    """A layer or model name for a message, quoted and cut to ``n`` characters."""
    name = str(name)
    return repr(name if len(name) <= n else name[: n - 3] + "...")


def _np(v) -> np.ndarray:
    return np.asarray(_keras().ops.convert_to_numpy(v))


def _checked_model_path(p) -> str:
    """The lower-case suffix of a model path that is a regular file named .keras or .h5,
    or a ModelFileError saying what it is instead (a FIFO or a device would block)."""
    if "\x00" in str(p):
        raise ModelFileError(f"model file {str(p)!r} contains a null byte; expected a file name without one")
    try:
        st = os.stat(p)  # follows links: a link to a regular file is fine
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise ModelFileError(f"model file {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{str(p)!r} is a directory, not a model file; expected a .keras or .h5 file")
    suffix = p.suffix.lower()
    if suffix not in (".keras", ".h5"):
        raise ModelFileError(
            f"model file {str(p)!r} has suffix {p.suffix!r}; expected .keras (model.save) or .h5 (legacy)"
        )
    if st is None:
        raise ModelFileError(f"model file {str(p)!r} does not exist; expected a .keras file saved by model.save()")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(
            f"model file {str(p)!r} is not a regular file but {_file_kind(st.st_mode)}; expected a .keras or .h5 file"
        )
    try:
        # Non-blocking: a FIFO put in the file's place since the stat cannot hang the open.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            mode = os.fstat(fd).st_mode
        finally:
            os.close(fd)
    except OSError as exc:
        raise ModelFileError(f"model file {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise ModelFileError(
            f"model file {str(p)!r} is not a regular file but {_file_kind(mode)}; expected a .keras or .h5 file"
        )
    return suffix


def load_keras_model(path) -> Any:
    """Load a ``.keras`` (or legacy ``.h5``) file with ``safe_mode=True`` (no code runs).

    The suffix is matched case-insensitively (``MODEL.KERAS`` loads). Only a regular
    file (or a link to one) is opened: a FIFO or a device would block or never end.
    An elman ``.npz`` renamed to ``.keras`` is refused with a hint to rename it back
    (it is not loaded as an elman model: this function returns a Keras model).
    """
    p = as_path(path)
    suffix = _checked_model_path(p)
    is_zip = zipfile.is_zipfile(p)
    if is_zip and is_model_file(p):
        raise ModelFileError(
            f"model file {str(p)!r} is an elman model saved with rnn.save(), not a Keras file; rename it to "
            ".npz and load it with elman.load()"
        )
    if suffix == ".keras" and not is_zip:
        raise ModelFileError(
            f"model file {str(p)!r} is not a .keras archive (not a zip file); expected a file saved by model.save()"
        )
    return _keras_load(p, suffix)


def _keras_load(p, suffix: str):
    """keras.saving.load_model(safe_mode=True) of a checked file; its failures in one line."""
    keras = _keras()
    try:
        if p.suffix == suffix:
            return keras.saving.load_model(p, compile=False, safe_mode=True)
        # Keras matches the suffix case-sensitively: load through a lower-case link (or copy).
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            q = os.path.join(tmp, "model" + suffix)
            try:
                os.symlink(os.path.abspath(p), q)
            except OSError:
                shutil.copyfile(p, q)
            return keras.saving.load_model(q, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds, often many lines: one short line instead
        text = str(exc)
        if "safe_mode" in text:
            raise ModelFileError(
                f"could not load Keras model {str(p)!r}: it holds Python code (a lambda or custom object), which "
                "safe_mode=True does not run and elman cannot reproduce"
            ) from None
        lines = [ln.strip().replace(str(p), "<file>") for ln in text.splitlines() if ln.strip()]
        first = lines[0] if lines else ""
        if len(first) > 120:
            first = first[:117] + "..."
        raise ModelFileError(f"could not load Keras model {str(p)!r}: {type(exc).__name__}: {first}") from None


# --------------------------------------------------------------------------- reading


def _layers_in_order(model) -> list:
    """The model's layers in call order, nested models flattened."""
    keras = _keras()
    if isinstance(model, keras.Model):
        if len(model.inputs or []) != 1 or len(model.outputs or []) != 1:
            n_in, n_out = len(model.inputs or []), len(model.outputs or [])
            raise UnsupportedModelError(
                f"model {_q(model.name)} has {n_in} input{'s' * (n_in != 1)} and {n_out} output{'s' * (n_out != 1)}; "
                f"expected one of each; {_SHORT}"
            )
        out = []
        for layer in model.layers:
            out.extend(_layers_in_order(layer) if isinstance(layer, keras.Model) else [layer])
        return out
    return [model]


def _describe_custom(fn) -> str:
    """A custom activation in words, never its repr (a lambda's repr is its bytecode)."""
    name = getattr(fn, "__name__", None)
    if callable(fn) and (name is not None or hasattr(fn, "__code__")):
        named = isinstance(name, str) and name != "<lambda>" and name.isidentifier()
        return "a custom Python function activation" + (f" {_q(name, 30)}" if named else "")
    return f"a custom activation of type {_q(type(fn).__name__, 30)}"


def _keras_activation(name: str):
    try:
        return _keras().activations.get(name)
    except Exception:  # a name this Keras does not know
        return None


def _activation_name(fn, where: str) -> str:
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


def _check_numerics(layer) -> np.dtype:
    """The float dtype a layer computes in; refuses quantized, mixed and half-precision layers.

    Run on every layer (Dropout included) before any weight is read: a quantized Dense
    keeps an integer kernel whose scale lives elsewhere, and a float16 layer rounds.
    """
    where = f"layer {_q(layer.name)} ({type(layer).__name__})"
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
        if compute not in _FLOATS:
            raise UnsupportedModelError(
                f"{where} computes in {compute} with {variable} variables; elman reproduces float32/float64 "
                "only: rebuild it with dtype='float32' and set_weights"
            )
    dt = str(layer.compute_dtype)
    for w in layer.weights:
        if str(w.dtype) != dt:
            raise UnsupportedModelError(
                f"{where} holds {_q(w.path, 60)} of dtype {w.dtype} (the layer computes in {dt}); "
                "elman reads float32/float64 weights only"
            )
    return np.dtype(dt)


def _check_recurrent(layer) -> str:
    """Refuse what elman cannot reproduce in a recurrent layer; its activation's elman name."""
    keras = _keras()
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, keras.layers.SimpleRNNCell):
        raise UnsupportedModelError(
            f"layer {_q(layer.name)} is an RNN with cell {_q(type(cell).__name__, 30)}; only SimpleRNNCell is "
            "supported; see elman.keras.SUPPORTED"
        )
    if getattr(layer, "return_state", False):
        raise UnsupportedModelError(f"layer {_q(layer.name)} has return_state=True; expected False")
    _check_numerics(layer)
    return _activation_name(cell.activation, f"layer {_q(layer.name)}")


def _recurrent(layer, activation: str) -> ElmanRNN:
    """The weights of a recurrent layer that passed _check_recurrent."""
    cell = layer.cell
    kernel = _np(cell.kernel)  # (D, M)
    M = kernel.shape[1]
    b = _np(cell.bias) if cell.bias is not None else np.zeros(M, kernel.dtype)
    return ElmanRNN(
        A=_np(cell.recurrent_kernel).T,
        B=kernel.T,
        b=b,
        activation=activation,
        go_backwards=layer.go_backwards,
        dtype=np.dtype(str(layer.compute_dtype)),
    )


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
    keras = _keras()
    model = load_keras_model(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    if not isinstance(model, keras.layers.Layer):
        raise InputTypeError(
            f"model_or_path must be a keras.Model or the path of a .keras file, got {type(model).__name__}"
        )
    if not model.built:
        raise UnsupportedModelError(
            f"model {_q(model.name)} is not built (its weights do not exist yet); call it on data or "
            "give it an Input shape first"
        )
    if isinstance(model, keras.Model):
        in_dtype = str(getattr(model.inputs[0], "dtype", "float32")) if len(model.inputs or []) == 1 else "float32"
        if in_dtype not in _FLOATS:
            raise UnsupportedModelError(
                f"model {_q(model.name)} takes {in_dtype} input; elman reproduces float32/float64 inputs only: "
                "build it with Input(dtype='float32')"
            )
    # First every layer is checked (kind, order, dtype policy, activation); no weight is
    # read before all of them pass, so nothing half-converted can come out.
    rnn_layers: list = []  # (layer, elman activation name)
    dense = None
    for layer in _layers_in_order(model):
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Dropout):
            _check_numerics(layer)  # the identity at inference, but a float16 Dropout rounds
            continue
        if dense is not None:
            raise UnsupportedModelError(
                f"layer {_q(layer.name)} ({kind[:30]}) follows the Dense readout {_q(dense.name)}, which must be "
                f"last; {_SHORT}"
            )
        if isinstance(layer, keras.layers.RNN) and type(layer) in (keras.layers.SimpleRNN, keras.layers.RNN):
            if rnn_layers and not rnn_layers[-1][0].return_sequences:
                raise UnsupportedModelError(
                    f"layer {_q(layer.name)} follows a recurrent layer with return_sequences=False"
                )
            rnn_layers.append((layer, _check_recurrent(layer)))
        elif isinstance(layer, keras.layers.Dense) and type(layer) is keras.layers.Dense:
            if not rnn_layers:
                raise UnsupportedModelError(
                    f"layer {_q(layer.name)} (Dense) comes before any SimpleRNN; a Dense is supported only as the "
                    f"readout; {_SHORT}"
                )
            _check_numerics(layer)
            dense = layer
        else:
            raise UnsupportedModelError(f"layer {_q(layer.name)} ({kind[:30]}) is not supported; {_SHORT}")
    if not rnn_layers:
        raise UnsupportedModelError(f"model {_q(model.name)} has no SimpleRNN layer; {_SHORT}")
    stateful = {bool(layer.stateful) for layer, _ in rnn_layers}
    if len(stateful) > 1:
        raise UnsupportedModelError("some recurrent layers are stateful and others are not; expected all or none")
    g = _activation_name(dense.activation, f"layer {_q(dense.name)}") if dense is not None else "linear"

    # Then the weights.
    recurrent = [_recurrent(layer, act) for layer, act in rnn_layers]
    C = d = None
    if dense is not None:
        C = _np(dense.kernel).T  # (K, M)
        d = _np(dense.bias) if dense.bias is not None else np.zeros(C.shape[0], C.dtype)
    dtypes = {r.dtype for r in recurrent} | ({np.dtype(C.dtype)} if C is not None else set())
    dt = np.float64 if np.dtype(np.float64) in dtypes else np.float32
    return_sequences = bool(rnn_layers[-1][0].return_sequences)
    if len(recurrent) == 1:
        r = recurrent[0]
        out = ElmanRNN(
            r.A, r.B, r.b, C, d, r.activation, g, return_sequences, go_backwards=r.go_backwards, dtype=dt
        )
    else:
        out = StackedRNN(recurrent, C, d, g, return_sequences, dtype=dt)
    if True in stateful:
        _warn_if_state(model, len(recurrent))
    return out


def _warn_if_state(model, n_layers: int) -> None:
    """StateWarning when a stateful Keras model holds a nonzero state (it is not carried)."""
    states = [s for s in _current_states(model) if s is not None]
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


# --------------------------------------------------------------------------- writing


def to_keras(rnn: ElmanRNN | StackedRNN, *, return_sequences: bool | None = None, stateful: bool = False,
             batch_size: int | None = None):
    """A Keras model (Functional) with exactly the weights of ``rnn``.

    Inputs are (N, T, D) with any T. ``stateful=True`` needs ``batch_size`` (Keras
    fixes the batch of a stateful model). A model without readout whose output
    activation is not linear gets a Dense with C = I, d = 0. ``return_sequences``
    (None: the model's own) and ``stateful`` must be bools: "no" is truthy in Python.
    """
    if not isinstance(rnn, (ElmanRNN, StackedRNN)):
        raise InputTypeError(f"rnn must be an ElmanRNN or StackedRNN, got {type(rnn).__name__}")
    return_sequences = _flag(return_sequences, "return_sequences", allow_none=True)
    stateful = _flag(stateful, "stateful")
    keras = _keras()
    with _quiet():
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


# --------------------------------------------------------------------------- states


def _stateful_layers(model) -> list:
    keras = _keras()
    if not isinstance(model, keras.layers.Layer):
        raise InputTypeError(f"model must be a keras.Model (or a Keras recurrent layer), got {type(model).__name__}")
    return [l for l in _layers_in_order(model) if isinstance(l, keras.layers.RNN) and l.stateful]


def reset_states(model) -> None:
    """Zero the state of every stateful recurrent layer (Keras 3 has no model-level reset)."""
    for layer in _stateful_layers(model):
        layer.reset_state()


def _current_states(model) -> list:
    """get_states, with None for a layer whose state does not exist yet."""
    out = []
    for layer in _stateful_layers(model):
        states = getattr(layer, "states", None)
        out.append(_np(states[0]).copy() if states else None)
    return out


def get_states(model) -> list[np.ndarray]:
    """The current state of each stateful recurrent layer, (batch, M_j) arrays in layer order."""
    return [_np(layer.states[0]).copy() for layer in _stateful_layers(model)]


def set_states(model, states) -> None:
    """Set the state of each stateful recurrent layer; ``states`` as ``get_states`` returns."""
    layers = _stateful_layers(model)
    if not isinstance(states, (list, tuple)) or len(states) != len(layers):
        got = f"{type(states).__name__} of length {len(states)}" if isinstance(states, (list, tuple)) else type(states).__name__
        raise ShapeError(f"states must be a list of {len(layers)} arrays (one per stateful layer), got {got}")
    checked = []
    for j, (layer, z) in enumerate(zip(layers, states)):  # all checked before any is set
        var = layer.states[0]
        z = _numeric(z, f"states[{j}]")
        if z.shape != tuple(var.shape):
            raise ShapeError(f"states[{j}] has shape {z.shape} but layer {layer.name!r} holds {tuple(var.shape)}")
        checked.append((var, _finite_as(z, np.dtype(str(var.dtype)), f"states[{j}]")))
    for var, z in checked:
        var.assign(z)


# --------------------------------------------------------------------------- parity


#: The most input values verify_keras generates (n_samples * n_steps * D): 0.8 GB as
#: float64, three batches of it for a stateful model. More is a typo, not a check.
MAX_VERIFY_VALUES = 10**8


@dataclass(frozen=True)
class ParityReport:
    """How closely elman reproduces ``model.predict``.

    max_abs_err : max |y_keras - y_elman| over every call and element; NaN when an
                  output or a difference is not finite (it cannot be measured then).
    max_rel_err : max_abs_err / max |y_keras| (relative to the output's size).
    tolerance   : the bound on max_abs_err / max(1, max |y_keras|): 1e-12 when Keras
                  returns float64 from float64 layers (1e-8 with gelu, whose float64
                  erfc in TensorFlow is good to ~5e-9), else 1e-5 (float32).
    passed      : whether that bound holds and every output and difference is finite.
    calls       : (label, max_abs_err) per predict call; a stateful model is called three
                  times, reset, and called again.
    note        : why the check failed when it is not a matter of tolerance (an output
                  holds NaN or inf); empty otherwise.
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
    note: str = ""

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
        ]
        if self.note:
            lines.append(f"  {self.note}")
        lines.append(f"  {'PASSED' if self.passed else 'FAILED'}")
        return "\n".join(lines)


def verify_keras(model, U=None, *, n_samples: int = 32, n_steps: int = 16, seed=0) -> ParityReport:
    """Compare ``model.predict`` with elman's reproduction of the model.

    model : a keras.Model or the path of a .keras file.
    U     : (N, T, D) input; by default standard normal of (n_samples, n_steps, D), with
            the model's own fixed T or batch size where it has one (at most
            MAX_VERIFY_VALUES = 1e8 values are generated).
    seed  : None, an int >= 0 or a numpy.random.Generator, for the default input.
    A stateful model is predicted three times in a row (state carried), reset, and
    predicted again, against elman's stateful runner; its state is restored afterwards.
    An output (or a difference) that is NaN or inf fails the check: the report's
    ``note`` says which side overflowed.
    """
    n_samples, n_steps = _count(n_samples, "n_samples"), _count(n_steps, "n_steps")
    rng = _rng(seed)
    keras = _keras()
    if isinstance(model, (str, os.PathLike)):
        model = load_keras_model(model)
    with warnings.catch_warnings():  # the state is reset and restored below: nothing to warn of
        warnings.simplefilter("ignore", StateWarning)
        rnn = from_keras(model)
    with _quiet():  # repeated predict calls make TensorFlow log tf.function retracing
        return _verify(keras, model, rnn, U, n_samples, n_steps, rng)


def _not_finite(who: str, label: str, y: np.ndarray) -> str:
    """'Keras's output holds inf (call 'predict', index (0, 0))' for the first bad value of y."""
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
    what = "NaN" if np.isnan(y[bad]) else "inf"
    return f"{who} output holds {what} ({label}, first at index {bad})"


def _verify(keras, model, rnn, U, n_samples, n_steps, rng) -> ParityReport:
    shape = tuple(model.inputs[0].shape)  # (batch or None, T or None, D)
    stateful = bool(_stateful_layers(model))
    N = shape[0] if shape[0] is not None else n_samples
    T = shape[1] if shape[1] is not None else n_steps
    # model.predict casts NumPy input to keras.config.floatx() (float32 by default),
    # even for a float64 model; elman is given exactly what Keras sees.
    floatx = np.dtype(keras.config.floatx())
    batches = _verify_inputs(rnn, U, N, T, floatx, rng)
    if stateful and batches[0].shape[0] != N:
        raise ShapeError(f"U has {batches[0].shape[0]} samples but the stateful model's batch size is {N}")
    pairs = _predict_pairs(model, rnn, batches, stateful, N)
    return _parity_report(rnn, pairs, batches, stateful)


def _numpy_quiet():
    """An overflow is reported in the ParityReport (the check fails, the note says where):
    NumPy's own RuntimeWarnings would only repeat it, on stderr."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def _verify_inputs(rnn, U, N, T, floatx, rng) -> list:
    """The three input batches (N, T, D): given or drawn, rounded to what Keras sees."""
    if U is None:
        size = N * T * rnn.input_dim
        if size > MAX_VERIFY_VALUES:
            raise ParameterError(
                f"n_samples x n_steps x D = {N} x {T} x {rnn.input_dim} = {size:.3g} input values is above "
                f"the {MAX_VERIFY_VALUES:.0e} that verify_keras generates; expected fewer samples or steps "
                "(elman verify: --samples, --steps)"
            )
        batches = [rng.standard_normal((N, T, rnn.input_dim)) for _ in range(3)]
    else:
        X = _finite_as(_check_U(U, rnn.input_dim, np.float64), floatx, "U")  # what Keras will see
        batches = [_finite_as(X, rnn.dtype, "U")] * 3  # and what elman computes in
    return [X.astype(floatx).astype(rnn.dtype) for X in batches]


def _predict_pairs(model, rnn, batches, stateful: bool, N: int) -> list:
    """(label, Keras's output, elman's output) per predict call; a stateful model is called
    three times, reset, and called again, and its state restored afterwards."""
    pairs = []
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
                with _numpy_quiet():
                    y_e = runner.predict(X)
                pairs.append((label, y_k, y_e))
        finally:  # as it was, unchecked: a state that overflowed before is restored too
            for layer, z in zip(_stateful_layers(model), saved):
                layer.states[0].assign(z)
    else:
        X = batches[0]
        y_k = np.asarray(model.predict(X, verbose=0))
        with _numpy_quiet():
            y_e = rnn.predict(X)
        pairs.append(("predict", y_k, y_e))
    return pairs


def _parity_report(rnn, pairs, batches, stateful: bool) -> ParityReport:
    """The errors of the calls against the tolerance of the least precise layer."""
    calls = []
    scale, note = 0.0, ""
    for label, y_k, y_e in pairs:
        if y_k.shape != y_e.shape:
            raise ShapeError(f"Keras returned {y_k.shape} but elman {y_e.shape} ({label}); please report this")
        with _numpy_quiet():
            diff = np.abs(y_k.astype(np.float64) - y_e.astype(np.float64))
        ok_k, ok_e = np.isfinite(y_k).all(), np.isfinite(y_e).all()
        if ok_k and ok_e and np.isfinite(diff).all():
            err = float(np.max(diff))
            scale = max(scale, float(np.max(np.abs(y_k.astype(np.float64)))))
        else:
            err = math.nan
            if not note:
                if not ok_k:
                    note = _not_finite("Keras's", label, y_k) + (", and so does elman's" if not ok_e else
                                                                 " but elman's does not")
                elif not ok_e:
                    note = _not_finite("elman's", label, y_e) + " but Keras's does not"
                else:
                    note = f"the difference of the outputs overflows ({label})"
                note += ": the model overflows on this input, and outputs that are not finite cannot be compared"
        calls.append((label, err))
    errs = [err for _, err in calls]
    max_abs = math.nan if any(math.isnan(e) for e in errs) else max(errs)
    # The least precise layer sets what can be expected: a float64 RNN under a float32
    # Dense returns float32 numbers.
    y_dtype = np.result_type(*(y_k.dtype for _, y_k, _ in pairs))
    tol = 1e-12 if y_dtype == np.float64 and rnn.dtype == np.float64 else 1e-5
    layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
    if tol < 1e-8 and "gelu" in {l.activation for l in layers} | {rnn.output_activation}:
        tol = 1e-8  # TensorFlow's float64 erfc is good to ~5e-9 only (see elman.activations)
    finite = not note
    return ParityReport(
        max_abs_err=max_abs,
        max_rel_err=max_abs / scale if scale > 0 and finite else max_abs,
        tolerance=tol,
        passed=bool(finite and max_abs <= tol * max(1.0, scale)),
        dtype=np.dtype(y_dtype).name,
        input_shape=tuple(batches[0].shape),
        output_shape=tuple(pairs[0][1].shape),
        stateful=stateful,
        model_kind=type(rnn).__name__,
        calls=tuple(calls),
        note=note,
    )
