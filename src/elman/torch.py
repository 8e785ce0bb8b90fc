"""The PyTorch bridge: A, B, b, C, d out of a ``torch.nn.RNN`` (+ ``torch.nn.Linear``),
and a torch module out of them.

PyTorch's ``nn.RNN`` computes, for layer j and a batch of rows x_k (N, D),

    h_k = s(x_k W_ih^T + b_ih + h_{k-1} W_hh^T + b_hh),        s = tanh or relu

and ``nn.Linear`` computes ``y = h W^T + bias``. Torch keeps its matrices in the (out, in)
layout of the column-vector math, so this is the one place that says how they map:

    =========================  =============  ==================================
    PyTorch tensor             shape          elman
    =========================  =============  ==================================
    ``weight_ih_l{j}``         (M, D)         B    (no transpose, unlike Keras)
    ``weight_hh_l{j}``         (M, M)         A    (no transpose)
    ``bias_ih_l{j}``           (M,)           b = bias_ih + bias_hh  (zeros if bias=False)
    ``bias_hh_l{j}``           (M,)           (to_torch writes b here as zeros)
    Linear ``weight``          (K, M)         C    (no transpose)
    Linear ``bias``            (K,)           d    (zeros if bias=False)
    =========================  =============  ==================================

Why b = bias_ih + bias_hh: both biases are added to the same pre-activation, so only
their sum matters. It is summed in the tensors' own dtype: IEEE addition is correctly
rounded, so float32 + float32 is the float32 that the exact (float64) sum rounds to (the
same bits on all 200 random layers tried). Torch adds the two at different places,
``(W_hh h + b_hh) + (W_ih x + b_ih)``, so no single b reproduces its rounding bit for bit;
the difference is float32 rounding, of the size of that between torch's and NumPy's
matrix products (max 6.6e-7 over 200 random 20-step runs, the same with either sum).

:func:`to_torch`'s module has ``.rnn``: one ``nn.RNN`` with ``num_layers = L`` when it can
hold the layers (one size, one nonlinearity, no go_backwards layer under another), else an
``nn.ModuleList`` of L one-layer ``nn.RNN`` (still exact: ``nn.RNN`` has one hidden_size
and one nonlinearity for all its layers and cannot reverse time between them). Torch is
imported lazily (:func:`elman.errors.require`): ``import elman`` works without it.
"""

from __future__ import annotations

import sys

import numpy as np

from . import _torch_module
from ._torch_module import OUTPUT_ACTIVATIONS
from .errors import InputTypeError, ParameterError, ShapeError, UnsupportedModelError, require
from .model import ElmanRNN
from .stacked import StackedRNN, from_layers
from .validation import _check_model, _flag, _numeric

__all__ = ["from_torch", "to_torch", "h0_to_z0", "z0_to_h0", "save_pt", "load_pt",
           "STATE_ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

STATE_ACTIVATIONS = ("tanh", "relu")  #: what nn.RNN has (its ``nonlinearity``)


def import_torch():
    """PyTorch, imported on first use (a MissingDependencyError naming the extra if absent).

    PyTorch's registry build bundles Triton (GPU kernels), whose start-up crashes a
    process that has already loaded TensorFlow (a segfault: torch 2.14 + triton 3.8 beside
    tensorflow 2.21). In such a process Triton is hidden before torch can reach for it:
    torch then runs without it (the CPU never needs it) instead of crashing."""
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]
    return require("torch", "torch")


def _torch_name(obj) -> str:
    """``torch.nn.LSTM`` for torch.nn's classes, else the class name (for messages)."""
    cls = type(obj)
    torch = import_torch()
    return f"torch.nn.{cls.__name__}" if getattr(torch.nn, cls.__name__, None) is cls else cls.__name__


# --------------------------------------------------------------------------- the mapping
#
# The one place of the weights' layout (the table in the module docstring). Torch stores W
# as (out, in), the rows and columns of the column-vector equation, and multiplies batches
# of rows by W^T: weight_ih IS B, weight_hh IS A, Linear's weight IS C; nothing is transposed.
# Reading sums the two biases into b; writing puts b in bias_ih and 0 in bias_hh, so b + 0
# reads back as b exactly and the torch module adds b once, where elman adds it.


def _numpy_of(t) -> np.ndarray:  # a copy, on the CPU, out of autograd
    return t.detach().to("cpu").numpy().copy()


def _read_layer(core, j: int, activation: str, go_backwards: bool) -> ElmanRNN:
    """Layer j of an ``nn.RNN`` as an ElmanRNN without readout."""
    B = _numpy_of(getattr(core, f"weight_ih_l{j}"))  # (M, D)
    A = _numpy_of(getattr(core, f"weight_hh_l{j}"))  # (M, M)
    if core.bias:  # summed in the tensors' dtype (see the module docstring)
        b = _numpy_of(getattr(core, f"bias_ih_l{j}")) + _numpy_of(getattr(core, f"bias_hh_l{j}"))
    else:
        b = np.zeros(A.shape[0], A.dtype)
    return ElmanRNN(A, B, b, activation=activation, go_backwards=go_backwards, dtype=A.dtype)


def _write_layer(torch, core, j: int, layer: ElmanRNN) -> None:
    """Layer j of a bias=True ``nn.RNN`` set to an ElmanRNN's A, B, b (in no_grad)."""
    getattr(core, f"weight_ih_l{j}").copy_(torch.tensor(layer.B))
    getattr(core, f"weight_hh_l{j}").copy_(torch.tensor(layer.A))
    getattr(core, f"bias_ih_l{j}").copy_(torch.tensor(layer.b))
    getattr(core, f"bias_hh_l{j}").zero_()


def _read_readout(readout) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(C (K, M), d (K,)) of an ``nn.Linear``: C = weight, d = bias (zeros without one)."""
    if readout is None:
        return None, None
    C = _numpy_of(readout.weight)  # (K, M)
    return C, (_numpy_of(readout.bias) if readout.bias is not None else np.zeros(C.shape[0], C.dtype))


# --------------------------------------------------------------------------- from torch


def from_torch(rnn, readout=None, *, return_sequences: bool | None = None) -> ElmanRNN | StackedRNN:
    """The elman model of a ``torch.nn.RNN`` and an optional ``torch.nn.Linear`` readout.

    rnn : ``nn.RNN`` with any num_layers, nonlinearity tanh or relu, bias on or off,
        batch_first either way (elman is always batch-major), float32 or float64 (kept);
        dropout is ignored (inference). Or a module made by :func:`to_torch`, whose
        readout, output activation, return_sequences and go_backwards are used.
    readout : ``nn.Linear`` (K, M) or None (no readout: C = None, y = z).
    return_sequences : None: the to_torch module's own setting, or False for an nn.RNN.

    Returns an :class:`ElmanRNN` for one layer, a :class:`StackedRNN` for several.
    Raises UnsupportedModelError for bidirectional, proj_size, LSTM/GRU and other modules,
    a readout that is not nn.Linear or does not fit, weights on the meta device, and for
    subclasses of nn.RNN, nn.Linear or the to_torch module (only those classes themselves
    are read: a subclass may override forward); InputTypeError for non-modules.

    >>> import torch
    >>> from_torch(torch.nn.RNN(3, 5, num_layers=2), torch.nn.Linear(5, 2)).layers[0].B.shape
    (5, 3)
    """
    torch = import_torch()
    rs = _flag(return_sequences, "return_sequences", allow_none=True)
    cls = _torch_module.module_class()
    if isinstance(rnn, cls):
        _exact(rnn, cls, "elman.torch.ElmanModule", "rnn")
        if readout is not None:
            raise ParameterError(f"readout must be None when rnn is a module from to_torch (its own readout "
                                 f"is used), got {_torch_name(readout)}")
        return _from_module(torch, rnn, rs)
    _checked_rnn(torch, rnn, "rnn")
    C, d = _read_readout(_checked_readout(torch, readout, rnn))
    layers = [_read_layer(rnn, j, rnn.nonlinearity, False) for j in range(rnn.num_layers)]
    return from_layers(layers, C, d, "linear", bool(rs), dtype=layers[0].dtype)


def _from_module(torch, m, rs) -> ElmanRNN | StackedRNN:
    cores = list(m.rnn) if type(m.rnn) is torch.nn.ModuleList else [m.rnn]
    layers = []
    for core in cores:
        _checked_rnn(torch, core, "rnn.rnn")
        for j in range(core.num_layers):
            layers.append(_read_layer(core, j, core.nonlinearity, m.go_backwards[len(layers)]))
    C, d = _read_readout(_checked_readout(torch, m.readout, cores[-1], "rnn.readout"))
    rs = m.return_sequences if rs is None else rs
    return from_layers(layers, C, d, m.output_activation, rs, dtype=layers[0].dtype)


def _exact(obj, cls, label: str, name: str) -> None:
    """``obj`` is of class ``cls`` itself: a subclass may override forward and compute
    something else than the weights say, which elman would then silently misreproduce."""
    if type(obj) is not cls:
        raise UnsupportedModelError(
            f"{name} is a {type(obj).__qualname__}, a subclass of {label}; elman reads only {label} itself, "
            f"because a subclass may compute something else (its own forward) than the weights alone say; "
            f"copy its weights into a plain {label} (load_state_dict) if it computes the same")


def _on_meta(module, name: str) -> None:
    """Weights on torch's meta device have shapes but no values: nothing to read."""
    if any(p.is_meta for p in module.parameters()):
        raise UnsupportedModelError(
            f"{name} has its weights on the meta device (shapes without values); expected a module with "
            f"real weights (e.g. module.to_empty(device='cpu') and then load_state_dict)")


def _checked_rnn(torch, rnn, name: str) -> None:
    """An ``nn.RNN`` that one Elman recursion per layer reproduces, or the reason why not."""
    expected = "expected a torch.nn.RNN (Elman: tanh or relu, unidirectional)"
    if not isinstance(rnn, torch.nn.Module):
        raise InputTypeError(f"{name} must be a torch.nn.RNN or a module from elman.torch.to_torch, "
                             f"got {type(rnn).__name__}")
    if isinstance(rnn, (torch.nn.LSTM, torch.nn.GRU)):
        raise UnsupportedModelError(
            f"{name} is a {_torch_name(rnn)}, which elman does not reproduce (LSTM and GRU have gates that "
            f"z' = s(A z + B u + b) has not); {expected}")
    if not isinstance(rnn, torch.nn.RNN):
        raise UnsupportedModelError(f"{name} is a {_torch_name(rnn)}, not a recurrent network; {expected}")
    _exact(rnn, torch.nn.RNN, "torch.nn.RNN", name)
    _on_meta(rnn, name)
    if rnn.bidirectional:
        raise UnsupportedModelError(
            f"{name} has bidirectional=True: it also runs a second RNN backwards in time and concatenates "
            f"the two states, which one Elman recursion does not; {expected}")
    if getattr(rnn, "proj_size", 0):
        raise UnsupportedModelError(f"{name} has proj_size={rnn.proj_size} (a projected state); {expected}")
    if rnn.nonlinearity not in STATE_ACTIVATIONS:
        raise UnsupportedModelError(f"{name} has nonlinearity={rnn.nonlinearity!r}; {expected}")
    dtypes = {p.dtype for p in rnn.parameters()}
    if not dtypes <= {torch.float32, torch.float64} or len(dtypes) != 1:
        raise UnsupportedModelError(f"{name} has weights of dtype {sorted(map(str, dtypes))}; "
                                    "expected float32 or float64 (one dtype)")


def _checked_readout(torch, readout, rnn, name: str = "readout"):
    """The readout if it is an ``nn.Linear`` that fits ``rnn``'s state, else why not."""
    if readout is not None and not isinstance(readout, torch.nn.Module):
        raise InputTypeError(f"{name} must be a torch.nn.Linear or None, got {type(readout).__name__}")
    if readout is None:
        return None
    if not isinstance(readout, torch.nn.Linear):
        raise UnsupportedModelError(f"{name} is a {_torch_name(readout)}; expected a torch.nn.Linear "
                                    "(y = C z + d) or None")
    _exact(readout, torch.nn.Linear, "torch.nn.Linear", name)
    _on_meta(readout, name)
    if readout.in_features != rnn.hidden_size:
        raise UnsupportedModelError(
            f"{name} has in_features={readout.in_features} but the RNN's state has hidden_size="
            f"{rnn.hidden_size}; expected an nn.Linear({rnn.hidden_size}, K)")
    if readout.weight.dtype != rnn.weight_ih_l0.dtype:
        raise UnsupportedModelError(f"{name} is {readout.weight.dtype} but the RNN is {rnn.weight_ih_l0.dtype}; "
                                    "expected one dtype (torch cannot run them together either)")
    return readout


# --------------------------------------------------------------------------- to torch


def to_torch(rnn: ElmanRNN | StackedRNN, *, batch_first: bool = True):
    """A ``torch.nn.Module`` whose ``forward(U, h0=None)`` returns what ``rnn.predict`` returns.

    batch_first=True: U (N, T, D) gives (N, K), or (N, T, K) with return_sequences.
    batch_first=False: U (T, N, D) gives (N, K), or (T, N, K) with return_sequences.
    h0 is torch's (L, N, M) either way (batch on dim 1, as in torch), or a list of L (N, M_j)
    tensors (:func:`z0_to_h0`). The module holds ``.rnn`` (see the module docstring) and
    ``.readout`` (``nn.Linear`` or None) in the model's dtype, then applies g; its weights
    are set without drawing from torch's global random generator. State activations must
    be tanh or relu (else UnsupportedModelError). forward raises elman's errors: ShapeError
    for a U without the model's D or with no samples or steps, or an h0 that does not fit;
    InputTypeError for a U or h0 not in the module's dtype (it does not cast: call
    ``U.to(torch.float32)`` for a float32 model).

    >>> to_torch(ElmanRNN.init(2, 3, 1, activation="sigmoid", seed=0))
    Traceback (most recent call last):
    ...
    elman.errors.UnsupportedModelError: layer 0 has state activation 'sigmoid'; torch.nn.RNN has nonlinearity 'tanh' or 'relu' only
    """
    _check_model(rnn)
    batch_first = _flag(batch_first, "batch_first")
    layers = list(rnn.layers) if isinstance(rnn, StackedRNN) else [rnn]
    for j, layer in enumerate(layers):
        if layer.activation not in STATE_ACTIVATIONS:
            raise UnsupportedModelError(f"layer {j} has state activation {layer.activation!r}; torch.nn.RNN "
                                        "has nonlinearity 'tanh' or 'relu' only")
    if rnn.output_activation not in OUTPUT_ACTIVATIONS:  # pragma: no cover - a future activation
        raise UnsupportedModelError(f"output activation {rnn.output_activation!r} has no torch form here")
    torch = import_torch()
    dtype = torch.float64 if rnn.dtype == np.float64 else torch.float32
    with torch.no_grad():
        core = _torch_layers(torch, layers, batch_first, dtype)
        readout = None
        if rnn.C is not None:
            readout = _blank(torch, torch.nn.Linear, rnn.state_dim, rnn.output_dim, dtype=dtype)
            readout.weight.copy_(torch.tensor(rnn.C))  # C (K, M): no transpose (see above)
            readout.bias.copy_(torch.tensor(rnn.d))
    return _torch_module.module_class()(core, readout, output_activation=rnn.output_activation, return_sequences=rnn.return_sequences,
                           go_backwards=[l.go_backwards for l in layers], batch_first=batch_first).eval()


def _blank(torch, cls, *args, **kwargs):
    """A torch module made on the meta device: torch's global random generator is not drawn from."""
    return cls(*args, **kwargs, device="meta").to_empty(device="cpu")


def _torch_layers(torch, layers, batch_first: bool, dtype):
    """One nn.RNN for all layers when it can hold them, else an nn.ModuleList of one-layer RNNs."""
    # One size, one nonlinearity, and no go_backwards layer under another (time flips between them).
    if len({(l.state_dim, l.activation) for l in layers}) == 1 and (
            len(layers) == 1 or not any(l.go_backwards for l in layers)):
        core = _blank(torch, torch.nn.RNN, layers[0].input_dim, layers[0].state_dim, num_layers=len(layers),
                      nonlinearity=layers[0].activation, batch_first=batch_first, dtype=dtype)
        for j, layer in enumerate(layers):
            _write_layer(torch, core, j, layer)
        return core
    core = torch.nn.ModuleList(
        _blank(torch, torch.nn.RNN, l.input_dim, l.state_dim, nonlinearity=l.activation,
               batch_first=batch_first, dtype=dtype) for l in layers)
    for one, layer in zip(core, layers):
        _write_layer(torch, one, 0, layer)
    return core


def __getattr__(name: str):
    """``elman.torch.ElmanModule``, the class of to_torch's modules, made when first asked for."""
    if name == "ElmanModule":
        return _torch_module.module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- initial states


def h0_to_z0(h0):
    """Torch's initial state h0 (L, N, M) as the z0 that ``predict`` of :func:`from_torch`'s
    model takes: an (N, M) array for one layer (an ElmanRNN), a list of L (N, M) arrays
    for several (a StackedRNN). A list of L (N, M_j) tensors or arrays is taken too.

    >>> h0_to_z0(np.zeros((1, 4, 3))).shape, len(h0_to_z0(np.zeros((2, 4, 3))))
    ((4, 3), 2)
    """
    if not isinstance(h0, (list, tuple)):
        h0 = _numeric(_numpy_of(h0) if hasattr(h0, "detach") else h0, "h0")
        if h0.ndim != 3:
            raise ShapeError(f"h0 has shape {h0.shape} but should be (L, N, M) = (layers, samples, state)")
    if len(h0) == 0:
        raise ShapeError("h0 has no layers; expected (L, N, M) with L >= 1")
    z0 = [_numeric(_numpy_of(z) if hasattr(z, "detach") else z, f"h0[{j}]") for j, z in enumerate(h0)]
    for j, z in enumerate(z0):
        if z.ndim != 2:
            raise ShapeError(f"h0[{j}] has shape {z.shape} ({z.ndim}-D) but should be 2-D: (N, M_j) = "
                             "(samples, state)")
        if z.shape[0] != z0[0].shape[0]:
            raise ShapeError(f"h0[{j}] has shape {z.shape} but should be (N, M_j) with N = {z0[0].shape[0]} "
                             "(the samples of h0[0])")
    return z0[0] if len(z0) == 1 else z0


def z0_to_h0(z0):
    """elman's initial state as torch's h0: ``z0`` is one (N, M) array (an ElmanRNN) or a
    list of L (N, M_j) arrays (a StackedRNN). Returns an (L, N, M) tensor in the arrays'
    dtype, or, when the layer sizes differ (no single tensor holds them), a list of L
    (N, M_j) tensors, which the module of :func:`to_torch` takes as h0 as well.

    >>> z0_to_h0(np.zeros((4, 3))).shape
    torch.Size([1, 4, 3])
    """
    torch = import_torch()
    zs = h0_to_z0(list(z0) if isinstance(z0, (list, tuple)) else [z0])
    zs = [z if z.dtype.kind == "f" else z.astype(np.float64) for z in (zs if isinstance(zs, list) else [zs])]
    if len({z.shape for z in zs}) == 1:
        return torch.tensor(np.stack(zs))
    return [torch.tensor(z) for z in zs]


# .pt files (elman convert) are written and strictly read in their own module.
from ._torch_file import load_pt, save_pt  # noqa: E402
