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

import math

import numpy as np

from .errors import InputTypeError, ParameterError, ShapeError, UnsupportedModelError, require
from .model import ElmanRNN
from .stacked import StackedRNN, from_layers
from .validation import _check_model, _flag, _numeric

__all__ = ["from_torch", "to_torch", "h0_to_z0", "z0_to_h0", "save_pt", "load_pt",
           "STATE_ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

STATE_ACTIVATIONS = ("tanh", "relu")  #: what nn.RNN has (its ``nonlinearity``)
#: The readout activations g that the torch module computes as elman (and Keras) define them.
OUTPUT_ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid", "hard_sigmoid", "softplus", "softsign",
                      "elu", "selu", "exponential", "silu", "gelu", "relu6", "leaky_relu")
INV_SQRT2 = 1.0 / math.sqrt(2.0)  # the constants of elman.activations, made the same way
LEAKY_SLOPE = float(np.float32(0.2))  # Keras passes 0.2 as a float32, even to float64 models
_CACHE: dict = {}


def import_torch():
    """PyTorch, imported on first use (a MissingDependencyError naming the extra if absent)."""
    return require("torch", "torch")


def _output_functions(torch) -> dict:
    """g by name as torch functions, each the formula of elman.activations."""
    if "g" not in _CACHE:
        F = torch.nn.functional
        _CACHE["g"] = {
            "linear": lambda x: x, "tanh": torch.tanh, "relu": F.relu, "sigmoid": torch.sigmoid,
            "hard_sigmoid": lambda x: F.relu6(x + 3) / 6,
            # np.logaddexp(0, x); F.softplus returns x itself above its threshold 20.
            "softplus": lambda x: torch.logaddexp(torch.zeros_like(x), x),
            "softsign": F.softsign, "elu": F.elu, "selu": F.selu,  # selu: Keras's two constants
            "exponential": torch.exp, "silu": F.silu, "relu6": F.relu6,
            # The erfc form, as elman and TensorFlow: no cancellation in 1 + erf for x < 0.
            "gelu": lambda x: 0.5 * x * torch.special.erfc(-x * INV_SQRT2),
            "leaky_relu": lambda x: F.leaky_relu(x, LEAKY_SLOPE),
        }
    return _CACHE["g"]


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
    a readout that is not nn.Linear or does not fit; InputTypeError for non-modules.

    >>> import torch
    >>> from_torch(torch.nn.RNN(3, 5, num_layers=2), torch.nn.Linear(5, 2)).layers[0].B.shape
    (5, 3)
    """
    torch = import_torch()
    rs = _flag(return_sequences, "return_sequences", allow_none=True)
    if isinstance(rnn, _module_class()):
        if readout is not None:
            raise ParameterError(f"readout must be None when rnn is a module from to_torch (its own readout "
                                 f"is used), got {_torch_name(readout)}")
        return _from_module(torch, rnn, rs)
    _checked_rnn(torch, rnn, "rnn")
    C, d = _read_readout(_checked_readout(torch, readout, rnn))
    layers = [_read_layer(rnn, j, rnn.nonlinearity, False) for j in range(rnn.num_layers)]
    return from_layers(layers, C, d, "linear", bool(rs), dtype=layers[0].dtype)


def _from_module(torch, m, rs) -> ElmanRNN | StackedRNN:
    cores = [m.rnn] if isinstance(m.rnn, torch.nn.RNN) else list(m.rnn)
    layers = []
    for core in cores:
        _checked_rnn(torch, core, "rnn.rnn")
        for j in range(core.num_layers):
            layers.append(_read_layer(core, j, core.nonlinearity, m.go_backwards[len(layers)]))
    C, d = _read_readout(_checked_readout(torch, m.readout, cores[-1]))
    rs = m.return_sequences if rs is None else rs
    return from_layers(layers, C, d, m.output_activation, rs, dtype=layers[0].dtype)


def _checked_rnn(torch, rnn, name: str) -> None:
    """An ``nn.RNN`` that one Elman recursion per layer reproduces, or the reason why not."""
    expected = "expected a torch.nn.RNN (Elman: tanh or relu, unidirectional)"
    if not isinstance(rnn, torch.nn.Module):
        raise InputTypeError(f"{name} must be a torch.nn.RNN or a module from elman.torch.to_torch, "
                             f"got {type(rnn).__name__}")
    if not isinstance(rnn, torch.nn.RNN):
        raise UnsupportedModelError(
            f"{name} is a {_torch_name(rnn)}, which elman does not reproduce (LSTM and GRU have gates that "
            f"z' = s(A z + B u + b) has not); {expected}")
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


def _checked_readout(torch, readout, rnn):
    """The readout if it is an ``nn.Linear`` that fits ``rnn``'s state, else why not."""
    if readout is not None and not isinstance(readout, torch.nn.Module):
        raise InputTypeError(f"readout must be a torch.nn.Linear or None, got {type(readout).__name__}")
    if readout is None:
        return None
    if not isinstance(readout, torch.nn.Linear):
        raise UnsupportedModelError(f"readout is a {_torch_name(readout)}; expected a torch.nn.Linear "
                                    "(y = C z + d) or None")
    if readout.in_features != rnn.hidden_size:
        raise UnsupportedModelError(
            f"readout has in_features={readout.in_features} but the RNN's state has hidden_size="
            f"{rnn.hidden_size}; expected an nn.Linear({rnn.hidden_size}, K)")
    if readout.weight.dtype != rnn.weight_ih_l0.dtype:
        raise UnsupportedModelError(f"readout is {readout.weight.dtype} but the RNN is {rnn.weight_ih_l0.dtype}; "
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
    be tanh or relu (else UnsupportedModelError).

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
    return _module_class()(core, readout, output_activation=rnn.output_activation, return_sequences=rnn.return_sequences,
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


def _module_class():
    """The torch module class of :func:`to_torch` (defined when torch is first needed)."""
    if "cls" not in _CACHE:
        torch = import_torch()

        class ElmanModule(torch.nn.Module):
            """An elman model in torch: ``.rnn`` (nn.RNN or nn.ModuleList of them), ``.readout``
            (nn.Linear or None), then g; ``forward(U, h0=None)`` returns what predict returns."""

            def __init__(self, rnn, readout, *, output_activation, return_sequences, go_backwards, batch_first):
                super().__init__()
                self.rnn, self.readout = rnn, readout
                self.output_activation, self.return_sequences = output_activation, return_sequences
                self.go_backwards, self.batch_first = tuple(go_backwards), batch_first

            def forward(self, U, h0=None):
                return _module_forward(torch, self, U, h0)

            def extra_repr(self) -> str:
                names = ("output_activation", "return_sequences", "go_backwards", "batch_first")
                return ", ".join(f"{k}={getattr(self, k)!r}" for k in names)

        # Importable as elman.torch.ElmanModule (see __getattr__), so torch.save(module) pickles.
        ElmanModule.__module__, ElmanModule.__qualname__ = __name__, "ElmanModule"
        _CACHE["cls"] = ElmanModule
    return _CACHE["cls"]


def __getattr__(name: str):
    """``elman.torch.ElmanModule``, the class of to_torch's modules, made when first asked for."""
    if name == "ElmanModule":
        return _module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _module_forward(torch, m, U, h0):
    """y = g(C z^L + d) after the L layers; a go_backwards layer reads its input reversed in
    time and hands its outputs on in the order it computed them (Keras's semantics)."""
    t = 1 if m.batch_first else 0  # the time axis of U
    want = "(N, T, D)" if m.batch_first else "(T, N, D) (batch_first=False)"
    if not torch.is_tensor(U):
        raise InputTypeError(f"U must be a torch tensor {want}, got {type(U).__name__}")
    if U.ndim != 3:
        raise ShapeError(f"U has shape {tuple(U.shape)} but should be {want}")
    cores = [m.rnn] if isinstance(m.rnn, torch.nn.RNN) else list(m.rnn)
    hs = _initial_states(torch, h0, cores, U.shape[1 - t])
    x = U
    for j, (core, h) in enumerate(zip(cores, hs)):
        if m.go_backwards[j]:  # (an nn.RNN of several layers has none: see _torch_layers)
            x = torch.flip(x, (t,))
        x, _ = core(x, h)
    y = x if m.return_sequences else x.select(t, -1)
    if m.readout is not None:
        y = m.readout(y)
    return _output_functions(torch)[m.output_activation](y)


def _initial_states(torch, h0, cores, N: int) -> list:
    """h0 ((L, N, M) tensor or a list of L (N, M_j)) as one (layers, N, M) tensor per core."""
    if h0 is None:
        return [None] * len(cores)
    sizes = [c.hidden_size for c in cores for _ in range(c.num_layers)]
    if len(h0) != len(sizes):
        raise ShapeError(f"h0 has {len(h0)} layers but the model has {len(sizes)}; expected (L, N, M) = "
                         f"({len(sizes)}, {N}, M) or a list of {len(sizes)} (N, M_j)")
    for j, M in enumerate(sizes):
        if not torch.is_tensor(h0[j]):
            raise InputTypeError(f"h0[{j}] must be a torch tensor (N, M), got {type(h0[j]).__name__}")
        if tuple(h0[j].shape) != (N, M):
            raise ShapeError(f"h0[{j}] has shape {tuple(h0[j].shape)} but should be (N, M) = ({N}, {M})")
    if len(cores) == 1:
        return [h0 if torch.is_tensor(h0) else torch.stack(list(h0))]
    return [h0[j].unsqueeze(0) for j in range(len(cores))]


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
        if z.ndim != 2 or z.shape[0] != z0[0].shape[0]:
            raise ShapeError(f"h0[{j}] has shape {z.shape} but should be (N, M_j) with N = {z0[0].shape[0]}")
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
