"""Several recurrent layers under one readout (StackedRNN), the stateful runner that
carries a model's state across calls, and the one constructor from layers + readout
that the Keras bridge, the file loader and training use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import InputTypeError, ParameterError, ShapeError
from .model import ElmanRNN, Trajectory, fmt_array
from .validation import _MAX_INIT_BYTES, _as_dtype, _check_U, _check_z0, _count, _flag

__all__ = ["StackedRNN", "StatefulRunner", "from_layers"]


class StackedRNN:
    """Several recurrent layers, then the readout.

        z^1_{k+1} = s_1(A_1 z^1_k + B_1 u_k       + b_1)
        z^j_{k+1} = s_j(A_j z^j_k + B_j z^{j-1}_{k+1} + b_j)    j = 2 .. L
        y_k       = g(C z^L_{k+1} + d)

    layers : sequence of :class:`ElmanRNN` without readout (C None), one per recurrent
        layer; layer j's input_dim must be layer j-1's state_dim. Each keeps its own
        activation and go_backwards (a backwards layer hands the next one its outputs
        in the order it computed them, as Keras does).
    C (K, M_L), d (K,), output_activation, return_sequences : as for ElmanRNN.

    ``run`` returns the states as a tuple (one (N, T+1, M_j) array per layer); ``z0``
    and a stateful runner's ``state`` are sequences with one entry per layer.
    """

    def __init__(
        self,
        layers: Sequence[ElmanRNN],
        C=None,
        d=None,
        output_activation: str | None = "linear",
        return_sequences: bool = False,
        *,
        dtype=None,
    ):
        layers = tuple(layers) if isinstance(layers, (list, tuple)) else None
        if not layers:
            raise ParameterError("layers must be a non-empty list of ElmanRNN (one per recurrent layer)")
        for j, layer in enumerate(layers):
            if not isinstance(layer, ElmanRNN):
                raise InputTypeError(f"layers[{j}] is a {type(layer).__name__}; expected an ElmanRNN")
            if layer.C is not None:
                raise ParameterError(
                    f"layers[{j}] has a readout C {layer.C.shape}; recurrent layers must have C=None "
                    "(the readout belongs to the StackedRNN)"
                )
        for j in range(1, len(layers)):
            if layers[j].input_dim != layers[j - 1].state_dim:
                raise ShapeError(
                    f"layers[{j}].B has shape {layers[j].B.shape} but should be "
                    f"(M, {layers[j - 1].state_dim}): its input is the state of layers[{j - 1}]"
                )
        if dtype is None:
            dtype = np.float32 if all(l.dtype == np.float32 for l in layers) else np.float64
        dt = _as_dtype(dtype)
        self._layers = tuple(l if l.dtype == dt else l.astype(dt) for l in layers)
        # The readout is validated by an ElmanRNN on the last layer's state size.
        last = self._layers[-1]
        self._top = ElmanRNN(
            last.A, last.B, last.b, C, d, last.activation, output_activation, dtype=dt
        )
        self._return_sequences = _flag(return_sequences, "return_sequences")
        self._dtype = dt
        self._frozen = True

    layers = property(lambda self: self._layers, doc="The recurrent layers (ElmanRNN, no readout).")
    C = property(lambda self: self._top.C)
    d = property(lambda self: self._top.d)
    input_dim = property(lambda self: self._layers[0].input_dim)
    state_dim = property(lambda self: self._layers[-1].state_dim, doc="M of the last layer.")
    state_dims = property(lambda self: tuple(l.state_dim for l in self._layers))
    output_dim = property(lambda self: self._top.output_dim)
    output_activation = property(lambda self: self._top.output_activation)
    return_sequences = property(lambda self: self._return_sequences)
    dtype = property(lambda self: self._dtype)

    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable")
        object.__setattr__(self, key, value)

    def astype(self, dtype) -> "StackedRNN":
        dt = _as_dtype(dtype)
        return StackedRNN(
            [l.astype(dt) for l in self._layers], self.C, self.d, self.output_activation,
            self._return_sequences, dtype=dt,
        )

    def _check_z0s(self, z0, N: int, name: str = "z0") -> list[np.ndarray]:
        L = len(self._layers)
        if z0 is None:
            return [l._zero_state(N) for l in self._layers]
        if not isinstance(z0, (list, tuple)) or len(z0) != L:
            raise ShapeError(
                f"{name} must be a list of {L} arrays (one (N, M_j) state per layer), got "
                f"{type(z0).__name__}" + (f" of length {len(z0)}" if isinstance(z0, (list, tuple)) else "")
            )
        return [
            _check_z0(z, N, l.state_dim, self._dtype, name=f"{name}[{j}]")
            for j, (z, l) in enumerate(zip(z0, self._layers))
        ]

    def _forward(self, U: np.ndarray, z0s: list[np.ndarray], keep_last: bool):
        """Through all layers: (per-layer time-major states or None, final states)."""
        Zs, finals = [], []
        x = U
        for j, layer in enumerate(self._layers):
            keep = keep_last or j < len(self._layers) - 1
            Z, zT = layer._scan(x, z0s[j], keep=keep)
            Zs.append(Z)
            finals.append(zT)
            if j < len(self._layers) - 1:
                x = Z[1:].transpose(1, 0, 2)  # the next layer reads this layer's outputs
        return Zs, finals

    def run(self, U, z0=None) -> Trajectory:
        """Trajectory(states: tuple of (N, T+1, M_j) per layer, outputs (N, T, K))."""
        U = _check_U(U, self.input_dim, self._dtype)
        Zs, _ = self._forward(U, self._check_z0s(z0, U.shape[0]), keep_last=True)
        states = tuple(Z.transpose(1, 0, 2) for Z in Zs)
        return Trajectory(states=states, outputs=self._top._readout(states[-1][:, 1:]))

    def _predict(self, U: np.ndarray, z0s, return_sequences: bool):
        Zs, finals = self._forward(U, z0s, keep_last=return_sequences)
        if return_sequences:
            return self._top._readout(Zs[-1][1:].transpose(1, 0, 2)), finals
        return self._top._readout(finals[-1]), finals

    def predict(self, U, z0=None, return_sequences: bool | None = None) -> np.ndarray:
        """(N, K), or (N, T, K) when return_sequences; equals Keras ``model.predict``."""
        U = _check_U(U, self.input_dim, self._dtype)
        rs = self._return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
        return self._predict(U, self._check_z0s(z0, U.shape[0]), rs)[0]

    def stateful(self, batch_size: int) -> "StatefulRunner":
        return StatefulRunner(self, batch_size)

    def _zero_state(self, N: int):
        return [l._zero_state(N) for l in self._layers]

    def _check_state(self, state, N: int):
        return self._check_z0s(state, N, name="state")

    def __repr__(self) -> str:
        head = (
            f"StackedRNN(D={self.input_dim}, M={list(self.state_dims)}, K={self.output_dim}, "
            f"output_activation={self.output_activation!r}, return_sequences={self._return_sequences}, "
            f"dtype={self._dtype.name})"
        )
        body = ["  " + repr(l).replace("\n", "\n  ") for l in self._layers]
        if self.C is not None:
            body.append(f"  C {self.C.shape} =\n    " + fmt_array(self.C).replace("\n", "\n    "))
            body.append(f"  d {self.d.shape} = {fmt_array(self.d)}")
        return "\n".join([head, *body])

    def save(self, path, *, extra: dict | None = None) -> None:
        from .io import save

        save(self, path, extra=extra)


class StatefulRunner:
    """Runs a model over successive batches, carrying the state between calls.

    This is what a Keras model with ``stateful=True`` does: the final state of one
    ``predict`` call is the initial state of the next, row by row (sample i of one
    batch continues sample i of the previous batch), until :meth:`reset`. Only the
    final state carries over, also with return_sequences. Every batch must have
    exactly ``batch_size`` samples.

    >>> import numpy as np
    >>> runner = ElmanRNN(A=[[1.0]], B=[[1.0]], b=[0.0], activation="linear").stateful(1)
    >>> runner.predict(np.ones((1, 2, 1))), runner.predict(np.ones((1, 2, 1)))
    (array([[2.]]), array([[4.]]))
    """

    def __init__(self, model: ElmanRNN | StackedRNN, batch_size: int):
        self._model = model
        self._batch_size = _count(batch_size, "batch_size")
        dims = model.state_dims if isinstance(model, StackedRNN) else (model.state_dim,)
        need = 8 * self._batch_size * sum(dims)
        if need > _MAX_INIT_BYTES:
            raise ParameterError(f"batch_size = {self._batch_size} needs {need / 2**30:.3g} GiB of state; "
                                 "expected a batch whose state fits in memory")
        self._state = model._zero_state(self._batch_size)

    model = property(lambda self: self._model)
    batch_size = property(lambda self: self._batch_size)

    @property
    def state(self):
        """The state the next call starts from: (batch_size, M), or a list per layer."""
        s = self._state
        return [z.copy() for z in s] if isinstance(s, list) else s.copy()

    @state.setter
    def state(self, value) -> None:
        self._state = self._model._check_state(value, self._batch_size)

    def reset(self) -> None:
        """Back to the zero state, as Keras's ``reset_state()``."""
        self._state = self._model._zero_state(self._batch_size)

    def predict(self, U, return_sequences: bool | None = None) -> np.ndarray:
        """Like the model's ``predict``, starting from the carried state; updates it."""
        m = self._model
        U = _check_U(U, m.input_dim, m.dtype)
        if U.shape[0] != self._batch_size:
            raise ShapeError(
                f"U has {U.shape[0]} samples (U.shape[0]) but this stateful runner was made for "
                f"batch_size = {self._batch_size}; every batch must have that many rows"
            )
        rs = m.return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
        y, self._state = m._predict(U, self._state, rs)
        return y

    def __repr__(self) -> str:
        return f"StatefulRunner(batch_size={self._batch_size}, model={type(self._model).__name__})"


def from_layers(layers: Sequence[ElmanRNN], C=None, d=None, output_activation: str | None = "linear",
                return_sequences: bool = False, *, dtype=None) -> ElmanRNN | StackedRNN:
    """The model of recurrent ``layers`` (ElmanRNN without readout) under the readout
    C (K, M_L), d (K,), g = ``output_activation``: an :class:`ElmanRNN` for one layer,
    a :class:`StackedRNN` for several. The one place that makes this choice (the Keras
    bridge, the file loader and training all build their models here)."""
    layers = tuple(layers) if isinstance(layers, (list, tuple)) else None
    if layers and len(layers) == 1 and isinstance(layers[0], ElmanRNN) and layers[0].C is None:
        l = layers[0]
        return ElmanRNN(l.A, l.B, l.b, C, d, l.activation, output_activation, return_sequences,
                        go_backwards=l.go_backwards, dtype=dtype or l.dtype)
    return StackedRNN(layers, C, d, output_activation, return_sequences, dtype=dtype)


def initial_states(model: ElmanRNN | StackedRNN, z0, N: int) -> list[np.ndarray]:
    """The initial state of each recurrent layer as a list of (N, M_j) arrays: z0 as
    ``model.run`` takes it (None, (M,) or (N, M); a list per layer for a StackedRNN)."""
    if isinstance(model, StackedRNN):
        return model._check_z0s(z0, N)
    return [_check_z0(z0, N, model.state_dim, model.dtype)]
