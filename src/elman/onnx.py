"""ONNX export (:func:`to_onnx`) and reading back what it wrote (:func:`from_onnx`).

The graph computes what ``rnn.predict`` computes:

- input ``U`` (N, T, D), batch-major like elman and Keras, N and T dynamic
  (symbolic dimensions "N" and "T"); it is transposed once to time-major (T, N, D);
- optional inputs ``z0_1`` .. ``z0_L``, the initial state of each recurrent layer,
  (N, M_j) or (1, M_j) (broadcast to every sample). Each is an initializer of zeros
  (1, M_j) that is also a graph input: leave it out and the state starts at zero, as
  ``rnn.predict(U)``; feed it and it overrides the zeros, as ``rnn.predict(U, z0)``;
- each recurrent layer is the native ONNX ``RNN`` operator where onnxruntime computes
  it as Keras does (float32; tanh, relu, sigmoid, linear, hard_sigmoid, softsign, elu,
  leaky_relu), otherwise a ``Scan`` over the state update in ordinary operators (every
  float64 layer, as onnxruntime has no float64 RNN kernel, and softplus, selu,
  exponential, silu, gelu, relu6);
- output ``Y``: (N, K) many-to-one, (N, T, K) with return_sequences, after the readout
  y = g(C z + d) (y = g(z) without a readout).

The weights, the one place where this bridge's transposes live (the RNN operator
computes on rows: H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb)):

    ==========================  ===========  =======================================
    initializer                 shape        elman
    ==========================  ===========  =======================================
    RNN operator  ``W_j``       (1, M, D)    B[None]
                  ``R_j``       (1, M, M)    A[None]
                  ``B_j``       (1, 2M)      [b, 0]: Wb = b, Rb = 0 (the operator
                                             adds both; b must be added once)
    Scan          ``BT_j``      (D, M)       B.T   (z' = s(z A^T + x B^T + b))
                  ``AT_j``      (M, M)       A.T
                  ``b_j``       (M,)         b
    readout       ``CT``        (M, K)       C.T   (y = g(z C^T + d))
                  ``d``         (K,)         d
    ==========================  ===========  =======================================

A go_backwards layer reads the input from the end and emits its states in the order
it computed them (Keras's convention, out[k] = the state after reading u_{T-1-k}): the
RNN operator runs with direction "reverse" (which aligns its Y[t] with input t) and
its output is reversed in time; the Scan reads its input from the end.

The model carries producer_name "elman" and a JSON description in its metadata
(``metadata_props["elman"]``: kind, dtype, each layer's activation, go_backwards and
form, the readout); :func:`from_onnx` reads that and the initializers back. ONNX is
imported only when these functions run (``pip install 'elman[onnx]'``).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import numpy as np

from . import __version__
from . import _onnx_graph
from .errors import ElmanError, ModelFileError, ParameterError, UnsupportedModelError, as_path, one_line, require
from .model import ElmanRNN
from .stacked import StackedRNN, from_layers
from .validation import _as_dtype, _check_file, _check_model

__all__ = ["to_onnx", "from_onnx", "DEFAULT_OPSET", "MIN_OPSET"]

#: The opset written when none is asked for: one that most runtimes in use run.
DEFAULT_OPSET = 17
#: The oldest opset written: RNN's current version (14; the graph uses layout 0), with
#: Squeeze, Unsqueeze and ReduceSum taking their axes as an input (13).
MIN_OPSET = 14
_KEY, _FORMAT, _VERSION = "elman", "elman-onnx", 1
_EXPECTED = "expected a .onnx file written by elman.to_onnx"


# --------------------------------------------------------------------------- writing


def to_onnx(rnn: ElmanRNN | StackedRNN, path, *, dtype=None, opset: int | None = None) -> Path:
    """Write ``rnn`` as an ONNX model to ``path`` (atomically) and return the path.

    dtype : float32 or float64; None keeps the model's dtype.
    opset : the ONNX opset (default :data:`DEFAULT_OPSET`), from :data:`MIN_OPSET` on.

    Run it with onnxruntime: ``sess.run(None, {"U": U})`` returns ``[rnn.predict(U)]``;
    add ``"z0_1": z0`` (and ``z0_2`` ... per layer) for a nonzero initial state.
    onnxruntime lists those under ``sess.get_overridable_initializers()``, not
    ``get_inputs()``, and notes at load time that they are initializers in the graph
    inputs: that is what makes them optional (``SessionOptions.log_severity_level = 3``
    silences the note). The model is checked by ``onnx.checker.check_model(full_check=True)``
    before it is written; an existing file is replaced (a symbolic link is followed).
    """
    _check_model(rnn)
    path = as_path(path)
    dt = rnn.dtype if dtype is None else _as_dtype(dtype)
    onnx = require("onnx", "onnx")
    opset = _opset(onnx, opset)
    model = _model(onnx, rnn.astype(dt), opset)
    if model.ByteSize() >= 2**31:
        raise ParameterError(f"the model needs {model.ByteSize() / 2**30:.3g} GiB; one ONNX file holds under 2 GiB")
    data = model.SerializeToString()
    onnx.checker.check_model(model, full_check=True)
    _write_atomic(path, data)
    return path


def _opset(onnx, opset) -> int:
    if opset is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= newest:
        raise ParameterError(f"opset must be an integer from {MIN_OPSET} to {newest} (this onnx), got {opset!r}")
    return int(opset)


def _layers(rnn) -> list[ElmanRNN]:
    return list(rnn.layers) if isinstance(rnn, StackedRNN) else [rnn]


def _model(onnx, rnn, opset: int):
    """The ModelProto of ``rnn`` (already in the dtype to write)."""
    layers = _layers(rnn)
    for name in [l.activation for l in layers] + [rnn.output_activation]:
        if name not in _onnx_graph.FORMULAS:  # none today: every elman activation has a formula
            raise UnsupportedModelError(f"activation {name!r} has no ONNX form in elman.onnx; "
                                        f"expected one of: {', '.join(_onnx_graph.FORMULAS)}")
    graph, forms = _onnx_graph.build(onnx, rnn, layers, rnn.dtype)
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="elman",
                                   producer_version=__version__,
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    config = {
        "format": _FORMAT,
        "version": _VERSION,
        "kind": type(rnn).__name__,
        "dtype": rnn.dtype.name,
        "layers": [{"activation": l.activation, "go_backwards": l.go_backwards, "form": f}
                   for l, f in zip(layers, forms)],
        "output_activation": rnn.output_activation,
        "return_sequences": rnn.return_sequences,
        "readout": rnn.C is not None,
    }
    onnx.helper.set_model_props(model, {_KEY: json.dumps(config)})
    model.doc_string = ("Elman network z_{k+1} = s(A z_k + B u_k + b), y_k = g(C z_{k+1} + d), written by elman; "
                        "input U (N, T, D), optional z0_j (N, M_j), output Y as rnn.predict")
    return model


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file next to ``path``, then os.replace: an interrupted
    write never leaves a half-written model behind."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path  # the link stays a link
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(tmp, "xb") as f:  # a new file's permissions (0o666 less the umask)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelFileError(f"cannot write ONNX model file {str(path)!r}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


# --------------------------------------------------------------------------- reading


def from_onnx(path) -> ElmanRNN | StackedRNN:
    """Read back a model written by :func:`to_onnx` (either layer form).

    Raises :class:`~elman.errors.ModelFileError` for a missing, unreadable or damaged
    file and :class:`~elman.errors.UnsupportedModelError` for an ONNX model that
    elman did not write: a general ONNX graph need not be an Elman network, so only
    the graphs that to_onnx wrote, with their description, are read back.
    """
    p = as_path(path)
    _check_file(p, ModelFileError, "ONNX model file", _EXPECTED)
    onnx = require("onnx", "onnx")
    try:  # external data is never followed: an elman model has none
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and the like
        raise ModelFileError(f"ONNX model file {str(p)!r} cannot be read ({one_line(exc, 120)}); {_EXPECTED}") from None
    if not model.HasField("graph") or model.ir_version == 0:
        raise ModelFileError(f"{str(p)!r} is not an ONNX model (no graph, no IR version); {_EXPECTED}")
    config = _config(p, model)
    try:  # a tensor in external data counts as missing: it is never read from another file
        weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer
                   if t.data_location != onnx.TensorProto.EXTERNAL}
        return _build(config, weights)
    except (ElmanError, KeyError, TypeError, ValueError, IndexError) as exc:
        detail = f"initializer {exc} is missing" if isinstance(exc, KeyError) else one_line(exc, 160)
        raise ModelFileError(f"ONNX model file {str(p)!r} is damaged: {detail}; {_EXPECTED}") from None


def _config(p: Path, model) -> dict:
    """The JSON description to_onnx wrote, or UnsupportedModelError for another producer."""
    props = {m.key: m.value for m in model.metadata_props}
    if model.producer_name != "elman" or _KEY not in props:
        producer = model.producer_name or "unknown"
        raise UnsupportedModelError(
            f"ONNX model file {str(p)!r} was not written by elman.to_onnx (producer {producer!r}, no "
            f"{_KEY!r} metadata): only elman-written ONNX files can be read back, because a general ONNX "
            "graph need not be an Elman network; convert the original model instead (from_keras, from_torch)"
        )
    try:
        config = json.loads(props[_KEY])
    except ValueError as exc:
        raise ModelFileError(f"ONNX model file {str(p)!r}: its elman metadata is not JSON ({exc})") from None
    problem = _config_problem(config)
    if problem:
        raise ModelFileError(f"ONNX model file {str(p)!r}: its elman metadata {problem}; {_EXPECTED}")
    return config


def _config_problem(config) -> str | None:
    """What is wrong with a description, or None."""
    if not isinstance(config, dict) or config.get("format") != _FORMAT:
        return f"is not the {_FORMAT!r} description"
    if config.get("version") != _VERSION:
        return f"has version {config.get('version')!r}; this elman reads version {_VERSION}"
    if config.get("kind") not in ("ElmanRNN", "StackedRNN") or config.get("dtype") not in ("float32", "float64"):
        return "names no known kind (ElmanRNN, StackedRNN) or dtype (float32, float64)"
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers or not all(isinstance(l, dict) for l in layers):
        return "has no list of layers"
    if any(l.get("form") not in ("rnn", "scan") or not {"activation", "go_backwards"} <= l.keys() for l in layers):
        return "has a layer without activation, go_backwards, or form 'rnn' or 'scan'"
    if not isinstance(config.get("readout"), bool) or not {"output_activation", "return_sequences"} <= config.keys():
        return "does not describe the readout (readout, output_activation, return_sequences)"
    return None


def _build(config: dict, weights: dict) -> ElmanRNN | StackedRNN:
    """The model from its description and initializers (the mapping of the module docstring)."""
    dt = config["dtype"]
    layers = []
    for j, spec in enumerate(config["layers"], start=1):
        if spec["form"] == "rnn":
            B, A = weights[f"W_{j}"][0], weights[f"R_{j}"][0]
            Wb, Rb = _halves(weights[f"B_{j}"][0])
            b = Wb + Rb  # the operator adds both; to_onnx writes Rb = 0
        else:
            B, A, b = weights[f"BT_{j}"].T, weights[f"AT_{j}"].T, weights[f"b_{j}"]
        layers.append(ElmanRNN(A, B, b, activation=spec["activation"], go_backwards=spec["go_backwards"], dtype=dt))
    C, d = (weights["CT"].T, weights["d"]) if config["readout"] else (None, None)
    # The file names its kind: a one-layer StackedRNN stays one (from_layers would make an ElmanRNN).
    make = StackedRNN if config["kind"] == "StackedRNN" else from_layers
    return make(layers, C, d, config["output_activation"], config["return_sequences"], dtype=dt)


def _halves(bias):
    """(Wb, Rb) of the operator's (2M,) bias."""
    if bias.ndim != 1 or bias.size % 2:
        raise ValueError(f"the RNN bias has shape {bias.shape}; expected (1, 2M)")
    M = bias.size // 2
    return bias[:M], bias[M:]
