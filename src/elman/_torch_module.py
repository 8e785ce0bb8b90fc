"""The torch module of :func:`elman.torch.to_torch`: its class, its forward and its checks.

Made when torch is first needed (torch is imported lazily). The class is named
``elman.torch.ElmanModule`` (``elman.torch`` hands it out by ``__getattr__``), so that
``torch.save`` of a whole module pickles and loads back.

``forward(U, h0=None)`` checks its inputs as ``rnn.predict`` does and raises elman's
errors: U a tensor of shape (N, T, D) with the model's D, at least one sample and one
step; h0 (L, N, M) or a list of L (N, M_j). U and h0 must have the module's dtype: like
torch's own modules, the module does not cast (a float64 U given to a float32 module
would lose digits unseen), and says which ``.to(...)`` to call.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputTypeError, ShapeError

__all__ = ["module_class", "output_functions", "cores", "OUTPUT_ACTIVATIONS"]

#: The readout activations g that the torch module computes as elman (and Keras) define them.
OUTPUT_ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid", "hard_sigmoid", "softplus", "softsign",
                      "elu", "selu", "exponential", "silu", "gelu", "relu6", "leaky_relu")
INV_SQRT2 = 1.0 / math.sqrt(2.0)  # the constants of elman.activations, made the same way
LEAKY_SLOPE = float(np.float32(0.2))  # Keras passes 0.2 as a float32, even to float64 models
_CACHE: dict = {}


def output_functions(torch) -> dict:
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


def module_class():
    """The torch module class of :func:`elman.torch.to_torch` (defined when torch is first needed)."""
    if "cls" not in _CACHE:
        from .errors import require

        torch = require("torch", "torch")

        class ElmanModule(torch.nn.Module):
            """An elman model in torch: ``.rnn`` (nn.RNN or nn.ModuleList of them), ``.readout``
            (nn.Linear or None), then g; ``forward(U, h0=None)`` returns what predict returns."""

            def __init__(self, rnn, readout, *, output_activation, return_sequences, go_backwards, batch_first):
                super().__init__()
                self.rnn, self.readout = rnn, readout
                self.output_activation, self.return_sequences = output_activation, return_sequences
                self.go_backwards, self.batch_first = tuple(go_backwards), batch_first

            def forward(self, U, h0=None):
                return _forward(torch, self, U, h0)

            def extra_repr(self) -> str:
                names = ("output_activation", "return_sequences", "go_backwards", "batch_first")
                return ", ".join(f"{k}={getattr(self, k)!r}" for k in names)

        # Importable as elman.torch.ElmanModule (its __getattr__), so torch.save(module) pickles.
        ElmanModule.__module__, ElmanModule.__qualname__ = "elman.torch", "ElmanModule"
        _CACHE["cls"] = ElmanModule
    return _CACHE["cls"]


def cores(torch, m) -> list:
    """The module's nn.RNNs in order: ``.rnn`` itself, or the members of its nn.ModuleList."""
    return list(m.rnn) if isinstance(m.rnn, torch.nn.ModuleList) else [m.rnn]


def _forward(torch, m, U, h0):
    """y = g(C z^L + d) after the L layers; a go_backwards layer reads its input reversed in
    time and hands its outputs on in the order it computed them (Keras's semantics)."""
    t = 1 if m.batch_first else 0  # the time axis of U
    rnns = cores(torch, m)
    _check_U(torch, U, m.batch_first, rnns[0])
    hs = _initial_states(torch, h0, rnns, U.shape[1 - t], U.dtype)
    x = U
    for j, (core, h) in enumerate(zip(rnns, hs)):
        if m.go_backwards[j]:  # (an nn.RNN of several layers has none: see elman.torch)
            x = torch.flip(x, (t,))
        x, _ = core(x, h)
    y = x if m.return_sequences else x.select(t, -1)
    if m.readout is not None:
        y = m.readout(y)
    return output_functions(torch)[m.output_activation](y)


def _check_U(torch, U, batch_first: bool, first) -> None:
    """U a tensor (N, T, D) (or (T, N, D)) of the module's D and dtype, N >= 1 and T >= 1."""
    D, dtype = first.input_size, first.weight_ih_l0.dtype
    want = f"(N, T, D) = (N, T, {D})" if batch_first else f"(T, N, D) = (T, N, {D}) (batch_first=False)"
    if not torch.is_tensor(U):
        raise InputTypeError(f"U must be a torch tensor {want}, got {type(U).__name__}")
    if U.ndim != 3 or U.shape[2] != D:
        raise ShapeError(f"U has shape {tuple(U.shape)} but should be {want}")
    T, N = (U.shape[1], U.shape[0]) if batch_first else (U.shape[0], U.shape[1])
    if T == 0 or N == 0:
        raise ShapeError(f"U has shape {tuple(U.shape)}: zero {'time steps' if T == 0 else 'samples'}; "
                         f"expected {want} with N >= 1 and T >= 1")
    if U.dtype != dtype:
        raise InputTypeError(f"U has dtype {U.dtype} but the module computes in {dtype}; expected "
                             f"U.to({dtype}) (the module does not cast its input)")


def _initial_states(torch, h0, rnns, N: int, dtype) -> list:
    """h0 ((L, N, M) tensor or a list of L (N, M_j)) as one (layers, N, M) tensor per core."""
    if h0 is None:
        return [None] * len(rnns)
    sizes = [c.hidden_size for c in rnns for _ in range(c.num_layers)]
    if not (torch.is_tensor(h0) or isinstance(h0, (list, tuple))):
        raise InputTypeError(f"h0 must be a torch tensor (L, N, M) or a list of L (N, M_j) tensors, "
                             f"got {type(h0).__name__}")
    if len(h0) != len(sizes):
        raise ShapeError(f"h0 has {len(h0)} layers but the model has {len(sizes)}; expected (L, N, M) = "
                         f"({len(sizes)}, {N}, M) or a list of {len(sizes)} (N, M_j)")
    for j, M in enumerate(sizes):
        if not torch.is_tensor(h0[j]):
            raise InputTypeError(f"h0[{j}] must be a torch tensor (N, M), got {type(h0[j]).__name__}")
        if tuple(h0[j].shape) != (N, M):
            raise ShapeError(f"h0[{j}] has shape {tuple(h0[j].shape)} but should be (N, M) = ({N}, {M})")
        if h0[j].dtype != dtype:
            raise InputTypeError(f"h0 has dtype {h0[j].dtype} but the module computes in {dtype}; expected "
                                 f"h0.to({dtype}) (the module does not cast its input)")
    if len(rnns) == 1:
        return [h0 if torch.is_tensor(h0) else torch.stack(list(h0))]
    return [h0[j].unsqueeze(0) for j in range(len(rnns))]
