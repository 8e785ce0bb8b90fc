"""The Elman network in the state-space form of the approximation theorems.

    z_{k+1} = s(A z_k + B u_k + b)      k = 0 .. T-1,  z_0 given (default 0)
    y_k     = g(C z_{k+1} + d)

with u_k in R^D, z_k in R^M, y_k in R^K; A (M, M), B (M, D), b (M,), C (K, M), d (K,).
y_k is read from z_{k+1}: the output after reading u_k, which is what a Keras
``SimpleRNN`` (+ ``Dense``) emits at step k.

The math is column-vector; the data are batch-major like Keras: U is (N, T, D),
outputs are (N, K) (many-to-one) or (N, T, K) (``return_sequences``). Over a batch
the state update is computed on rows, ``Z_{k+1} = s(Z_k A^T + U_k B^T + b)``, which
is the same equation for every sample at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import activations
from .errors import ParameterError, ShapeError
from .validation import _MAX_INIT_BYTES, _as_dtype, _check_U, _check_z0, _count, _finite_as, _flag, _numeric, _rng, _validate

__all__ = ["ElmanRNN", "StackedRNN", "StatefulRunner", "Trajectory", "from_layers"]



def fmt_array(x: np.ndarray) -> str:
    return np.array2string(x, precision=4, suppress_small=True, threshold=36, edgeitems=2)


# --------------------------------------------------------------------------- the recursion


def time_major(U: np.ndarray, go_backwards: bool) -> np.ndarray:
    """(N, T, D) input as a (T, N, D) view in the order the steps are taken."""
    return (U[:, ::-1] if go_backwards else U).transpose(1, 0, 2)


def recur(X, A, B, b, s, z, keep: bool = True):
    """z_{k+1} = s(A z_k + B x_k + b) over a batch, time-major.

    X : (T, N, D) inputs in step order;  z : (N, M) initial state.
    Returns (H, Z, z_T): H (T, N, M) the pre-activations A z_k + B x_k + b (what
    backpropagation needs), Z (T+1, N, M) the states with z_0 (None unless ``keep``),
    z_T the final state.
    """
    T, N, _ = X.shape
    # The input drive B x_k + b of every step in one product; the loop adds only A z_k.
    # Summation order ((x B^T) + b) + z A^T is Keras's, which keeps float32 close.
    H = np.matmul(X, B.T)
    H += b
    AT = A.T
    Z = None
    if keep:
        Z = np.empty((T + 1, N, A.shape[0]), dtype=H.dtype)
        Z[0] = z
    for k in range(T):
        H[k] += z @ AT
        z = s(H[k])
        if keep:
            Z[k + 1] = z
    return H, Z, z


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Trajectory:
    """What :meth:`ElmanRNN.run` computed.

    states:  (N, T+1, M) array z_0 .. z_T (z_0 included), in the order the steps were
             taken (reversed time when ``go_backwards``). For a :class:`StackedRNN`, a
             tuple with one such array per recurrent layer.
    outputs: (N, T, K) array y_0 .. y_{T-1}, y_k = g(C z_{k+1} + d).
    """

    states: Any
    outputs: np.ndarray


# --------------------------------------------------------------------------- the model


class ElmanRNN:
    """An Elman network ``z_{k+1} = s(A z_k + B u_k + b)``, ``y_k = g(C z_{k+1} + d)``.

    Parameters
    ----------
    A : (M, M) recurrent matrix.          (Keras: ``recurrent_kernel.T``)
    B : (M, D) input matrix.              (Keras: ``kernel.T``)
    b : (M,)   state bias.                (Keras: ``bias``)
    C : (K, M) readout, or None for no readout (C = I, d = 0, y = g(z)).  (Dense ``kernel.T``)
    d : (K,)   readout bias; zeros when C is given without d.             (Dense ``bias``)
    activation : Keras name of s (default "tanh"); None means linear.
    output_activation : Keras name of g (default "linear").
    return_sequences : whether ``predict`` returns every y_k (N, T, K) or only the last (N, K).
    go_backwards : read the input in reverse time order (Keras's ``go_backwards``); outputs
        then come in the order the steps were taken, as Keras returns them.
    dtype : float32 or float64; by default float32 when every matrix is float32, else float64.

    The model is immutable: the matrices are read-only copies, and every change
    (:meth:`astype`, :meth:`replace`) returns a new model.

    >>> import numpy as np
    >>> rnn = ElmanRNN(A=[[0.5]], B=[[1.0]], b=[0.0], activation="linear")
    >>> rnn.predict(np.ones((1, 3, 1)))     # z = 1, 1.5, 1.75
    array([[1.75]])
    """

    def __init__(
        self,
        A,
        B,
        b,
        C=None,
        d=None,
        activation: str | None = "tanh",
        output_activation: str | None = "linear",
        return_sequences: bool = False,
        *,
        go_backwards: bool = False,
        dtype=None,
    ):
        A, B, b, C, d, dt, (D, M, K) = _validate(A, B, b, C, d, dtype)
        self._A, self._B, self._b, self._C, self._d = A, B, b, C, d
        self._dtype = dt
        self._dims = (D, M, K)
        self._s = activations.get(activation)
        self._g = activations.get(output_activation)
        self._return_sequences = _flag(return_sequences, "return_sequences")
        self._go_backwards = _flag(go_backwards, "go_backwards")
        self._frozen = True

    # -- read-only attributes
    A = property(lambda self: self._A, doc="(M, M) recurrent matrix.")
    B = property(lambda self: self._B, doc="(M, D) input matrix.")
    b = property(lambda self: self._b, doc="(M,) state bias.")
    C = property(lambda self: self._C, doc="(K, M) readout matrix, or None (no readout).")
    d = property(lambda self: self._d, doc="(K,) readout bias, or None (no readout).")
    input_dim = property(lambda self: self._dims[0], doc="D, the number of input features.")
    state_dim = property(lambda self: self._dims[1], doc="M, the size of the state z.")
    output_dim = property(lambda self: self._dims[2], doc="K, the size of the output y.")
    activation = property(lambda self: self._s.name, doc="Keras name of the state activation s.")
    output_activation = property(lambda self: self._g.name, doc="Keras name of the readout activation g.")
    return_sequences = property(lambda self: self._return_sequences)
    go_backwards = property(lambda self: self._go_backwards)
    dtype = property(lambda self: self._dtype, doc="float32 or float64.")

    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable; use .replace({key}=...) for a changed copy")
        object.__setattr__(self, key, value)

    @property
    def params(self) -> dict[str, np.ndarray | None]:
        """The matrices by name: ``{"A", "B", "b", "C", "d"}`` (C and d None without a readout)."""
        return {"A": self._A, "B": self._B, "b": self._b, "C": self._C, "d": self._d}

    def config(self) -> dict[str, Any]:
        """Everything but the matrices: activations, output mode, dtype."""
        return {
            "activation": self.activation,
            "output_activation": self.output_activation,
            "return_sequences": self._return_sequences,
            "go_backwards": self._go_backwards,
            "dtype": self._dtype.name,
        }

    def replace(self, **changes) -> "ElmanRNN":
        """A copy with some matrices or settings changed (validated again).

        >>> rnn = ElmanRNN.init(1, 3, 1, seed=0)
        >>> rnn.replace(activation="relu").activation
        'relu'
        """
        kwargs = {**self.params, **self.config()}
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise ParameterError(f"replace() got unknown names {sorted(unknown)}; expected some of {sorted(kwargs)}")
        if "C" in changes and changes["C"] is None and "d" not in changes:
            changes = {**changes, "d": None}  # no readout: C and d go together
        kwargs.update(changes)
        return type(self)(**kwargs)

    def astype(self, dtype) -> "ElmanRNN":
        """A copy computing in ``dtype`` (np.float32 or np.float64)."""
        return self.replace(dtype=_as_dtype(dtype))

    @classmethod
    def init(
        cls,
        input_dim: int,
        state_dim: int,
        output_dim: int | None = None,
        *,
        activation: str | None = "tanh",
        output_activation: str | None = "linear",
        return_sequences: bool = False,
        seed: int | np.random.Generator | None = None,
        dtype=np.float64,
    ) -> "ElmanRNN":
        """A new network with Keras's default initialisers.

        B and C are glorot-uniform (limit sqrt(6 / (fan_in + fan_out))), A is a random
        orthogonal matrix, b and d are zero; ``output_dim=None`` means no readout.
        Randomness comes only from ``seed`` (an int or a numpy Generator).

        >>> ElmanRNN.init(3, 5, 2, seed=0).B.shape
        (5, 3)
        """
        D, M = _count(input_dim, "input_dim"), _count(state_dim, "state_dim")
        if output_dim is not None:
            output_dim = _count(output_dim, "output_dim")
        rng = _rng(seed)
        K = output_dim or 0
        need = 8 * (2 * M * M + M * D + M * K)  # A and the QR work matrix dominate
        if need > _MAX_INIT_BYTES:
            raise ParameterError(
                f"state_dim = {M} needs about {need / 2**30:.3g} GiB for the matrices (A alone is M x M); "
                f"expected a state that fits in memory (state_dim up to about {int((_MAX_INIT_BYTES / 16) ** 0.5)})"
            )

        def glorot(fan_in, fan_out):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            # Drawn in Keras's (fan_in, fan_out) layout, then transposed to column form.
            return rng.uniform(-limit, limit, size=(fan_in, fan_out)).T

        B = glorot(D, M)
        q, r = np.linalg.qr(rng.standard_normal((M, M)))
        A = q * np.sign(np.diag(r))  # the sign fix makes the distribution uniform (Haar)
        if output_dim is None:
            C = d = None
        else:
            C, d = glorot(M, int(output_dim)), np.zeros(int(output_dim))
        return cls(
            A, B, np.zeros(M), C, d, activation, output_activation, return_sequences, dtype=dtype
        )

    # -- the two equations
    def step(self, z, u) -> np.ndarray:
        """One state update ``s(A z + B u + b)``; z (M,) or (N, M), u (D,) or (N, D)."""
        D, M, _ = self._dims
        z, u = _numeric(z, "z"), _numeric(u, "u")
        if z.shape[-1:] != (M,) or z.ndim > 2:
            raise ShapeError(f"z has shape {z.shape} but should be (M,) = ({M},) or (N, {M})")
        if u.shape[-1:] != (D,) or u.ndim > 2:
            raise ShapeError(f"u has shape {u.shape} but should be (D,) = ({D},) or (N, {D})")
        if z.ndim == u.ndim == 2 and z.shape[0] != u.shape[0]:
            raise ShapeError(f"z has {z.shape[0]} rows but u has {u.shape[0]}; expected one (z, u) pair per row")
        z, u = _finite_as(z, self._dtype, "z"), _finite_as(u, self._dtype, "u")
        return self._s.f(z @ self._A.T + u @ self._B.T + self._b)

    def output(self, z) -> np.ndarray:
        """The readout ``g(C z + d)``; z (M,) or (N, ..., M) gives (K,) or (N, ..., K)."""
        M = self._dims[1]
        z = _numeric(z, "z")
        if z.shape[-1:] != (M,):
            raise ShapeError(f"z has shape {z.shape} but its last axis should be M = {M}")
        return self._readout(_finite_as(z, self._dtype, "z"))

    def _readout(self, z: np.ndarray) -> np.ndarray:
        if self._C is None:
            return self._g.f(z)
        return self._g.f(z @ self._C.T + self._d)

    # -- the time loop
    def _scan(self, U: np.ndarray, z: np.ndarray, keep: bool):
        """Run the recursion on checked input. U (N, T, D) in input order, z (N, M).

        Returns (Z, z_T): Z the (T+1, N, M) time-major states in step order (None
        unless ``keep``), z_T the final state (N, M).
        """
        _, Z, zT = recur(time_major(U, self._go_backwards), self._A, self._B, self._b, self._s.f, z, keep)
        return Z, zT

    def _sequence(self, U: np.ndarray, z0) -> tuple[np.ndarray, np.ndarray]:
        """(states (N, T+1, M), z_T) for input already checked."""
        Z, zT = self._scan(U, _check_z0(z0, U.shape[0], self._dims[1], self._dtype), keep=True)
        return Z.transpose(1, 0, 2), zT

    def run(self, U, z0=None) -> Trajectory:
        """All states and outputs.

        U  : (N, T, D) input.
        z0 : (M,) or (N, M) initial state; zeros by default.
        Returns ``Trajectory(states (N, T+1, M) with z0, outputs (N, T, K))``.
        """
        U = _check_U(U, self._dims[0], self._dtype)
        states, _ = self._sequence(U, z0)
        return Trajectory(states=states, outputs=self._readout(states[:, 1:]))

    def _predict(self, U: np.ndarray, z0: np.ndarray, return_sequences: bool):
        """(output, final state) for checked input and (N, M) z0."""
        Z, zT = self._scan(U, z0, keep=return_sequences)
        if return_sequences:
            return self._readout(Z[1:].transpose(1, 0, 2)), zT
        return self._readout(zT), zT

    def predict(self, U, z0=None, return_sequences: bool | None = None) -> np.ndarray:
        """What Keras's ``model.predict(U)`` returns.

        U  : (N, T, D) input.
        z0 : (M,) or (N, M) initial state; zeros by default.
        return_sequences : None uses the model's own setting.
        Returns (N, K) (the last output), or (N, T, K) when return_sequences.
        """
        U = _check_U(U, self._dims[0], self._dtype)
        z0 = _check_z0(z0, U.shape[0], self._dims[1], self._dtype)
        rs = self._return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
        return self._predict(U, z0, rs)[0]

    def stateful(self, batch_size: int) -> "StatefulRunner":
        """A runner that carries the state across ``predict`` calls, like a Keras
        stateful model with that batch size; see :class:`StatefulRunner`."""
        return StatefulRunner(self, batch_size)

    # -- stateful plumbing shared with StackedRNN
    def _zero_state(self, N: int) -> np.ndarray:
        return np.zeros((N, self._dims[1]), dtype=self._dtype)

    def _check_state(self, state, N: int) -> np.ndarray:
        return _check_z0(state, N, self._dims[1], self._dtype, name="state")

    def spectral_radius(self) -> float:
        """max |eigenvalue of A|: above 1 the linearised recursion can amplify."""
        return float(np.max(np.abs(np.linalg.eigvals(self._A.astype(np.float64)))))

    def __repr__(self) -> str:
        D, M, K = self._dims
        head = (
            f"ElmanRNN(D={D}, M={M}, K={K}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, return_sequences={self._return_sequences}"
            + (", go_backwards=True" if self._go_backwards else "")
            + f", dtype={self._dtype.name})"
        )
        lines = [head]
        for name, v in self.params.items():
            if v is not None:
                lines.append(f"  {name} {v.shape} =\n    " + fmt_array(v).replace("\n", "\n    "))
        if self._C is None:
            lines.append("  no readout: y = g(z)")
        return "\n".join(lines)

    # -- files
    def save(self, path, *, extra: dict | None = None) -> None:
        """Write the model to ``path`` (.npz of the matrices plus JSON metadata, no pickle,
        written atomically); ``extra``: JSON-able notes kept with it (see elman.io)."""
        from .io import save

        save(self, path, extra=extra)


# The multi-layer model and the stateful runner live in their own module; they are
# part of this one's API (elman.model.StackedRNN), so they are imported here, last,
# after ElmanRNN exists.
from .stacked import StackedRNN, StatefulRunner, from_layers  # noqa: E402
