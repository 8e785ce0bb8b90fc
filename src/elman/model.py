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
from typing import Any, Sequence

import numpy as np

from . import activations
from .errors import (
    InputTypeError,
    NonFiniteError,
    ParameterError,
    ShapeError,
)

__all__ = ["ElmanRNN", "StackedRNN", "StatefulRunner", "Trajectory"]

_FLOATS = (np.float32, np.float64)
# 64 GiB: beyond this an Elman network's matrices are a typo, not a model (M ~ 65,000).
_MAX_INIT_BYTES = 64 * 2**30


# --------------------------------------------------------------------------- checks


def _as_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.type not in _FLOATS:
        raise ParameterError(f"{name} must be float32 or float64, got {dtype!r}")
    return dt


def _numeric(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array of numbers, or an InputTypeError naming ``name``."""
    if x is None:
        raise InputTypeError(f"{name} is None; expected an array of numbers")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise InputTypeError(f"{name} cannot be read as an array of numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InputTypeError(
            f"{name} must hold real numbers, got an array of dtype {arr.dtype} "
            f"(e.g. {arr.flat[0]!r})" if arr.size else f"{name} must hold real numbers, got dtype {arr.dtype}"
        )
    return arr


def _count(v: Any, name: str, low: int = 1) -> int:
    """``v`` as an int >= ``low`` (bools refused), or a ParameterError naming ``name``."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        want = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ParameterError(f"{name} must be {want}, got {v!r}")
    return int(v)


def _flag(v: Any, name: str, *, allow_none: bool = False) -> bool | None:
    """``v`` as a bool (True/False or NumPy's), or a ParameterError: a string such as
    "no" or "false" is truthy in Python and would silently mean True."""
    if v is None and allow_none:
        return None
    if not isinstance(v, (bool, np.bool_)):
        want = "True, False or None" if allow_none else "True or False"
        raise ParameterError(f"{name} must be {want}, got {v!r}")
    return bool(v)


def _rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """A NumPy Generator from ``seed``: None, an int >= 0, or a Generator (used as is)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"{name} must be None, an integer >= 0 or a numpy.random.Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(
            f"{name} holds NaN or inf (first at index {tuple(int(i) for i in bad)}: "
            f"{arr[tuple(bad)]}); expected finite numbers"
        )


def _finite_as(arr: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``arr`` checked finite, then cast to ``dtype``; a finite value that the cast turns
    into inf (1e39 given to a float32 model) is named as out of range, not as NaN."""
    _finite(arr, name)
    with np.errstate(over="ignore"):  # checked on the next line, with a better message
        out = arr.astype(dtype, copy=False)
    if out is not arr and not np.isfinite(out).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        big = float(np.finfo(dtype).max)
        raise NonFiniteError(
            f"{name} holds {float(arr[bad]):g} (at index {bad}), beyond the {np.dtype(dtype).name} range "
            f"(|x| <= {big:.3g}) this model computes in; scale the data or use rnn.astype(np.float64)"
        )
    return out


def _validate(A, B, b, C=None, d=None, dtype=None):
    """Check the five parameters together and infer D, M, K from their shapes.

    Returns ``(A, B, b, C, d, dtype)`` as read-only arrays of one float dtype (C and
    d stay None when there is no readout). The error names the wrong matrix, its
    shape and the shape it should have.
    """
    given = {"A": A, "B": B, "b": b}
    if C is not None:
        given["C"] = C
    if d is not None:
        given["d"] = d
    arrs = {k: _numeric(v, k) for k, v in given.items()}
    if dtype is None:
        # Keep float32 only when every parameter already is float32 (Keras's case).
        all32 = all(a.dtype == np.float32 for a in arrs.values())
        dtype = np.float32 if all32 else np.float64
    dt = _as_dtype(dtype)

    A_ = arrs["A"]
    if A_.ndim != 2 or A_.shape[0] != A_.shape[1]:
        raise ShapeError(f"A has shape {A_.shape} but should be square (M, M)")
    M = A_.shape[0]
    if M == 0:
        raise ShapeError("A has shape (0, 0); the state needs at least one unit (M >= 1)")
    B_ = arrs["B"]
    if B_.ndim != 2 or B_.shape[0] != M or B_.shape[1] == 0:
        raise ShapeError(f"B has shape {B_.shape} but should be (M, D) = ({M}, D) with D >= 1")
    D = B_.shape[1]
    b_ = arrs["b"]
    if b_.shape != (M,):
        raise ShapeError(f"b has shape {b_.shape} but should be (M,) = ({M},)")
    if C is None:
        if d is not None:
            raise ShapeError("d was given without C; give both or neither (no readout)")
        K = M
    else:
        C_ = arrs["C"]
        if C_.ndim != 2 or C_.shape[1] != M or C_.shape[0] == 0:
            raise ShapeError(f"C has shape {C_.shape} but should be (K, M) = (K, {M}) with K >= 1")
        K = C_.shape[0]
        if d is None:
            arrs["d"] = np.zeros(K)
        elif arrs["d"].shape != (K,):
            raise ShapeError(f"d has shape {arrs['d'].shape} but should be (K,) = ({K},)")
    out = {}
    for k, a in arrs.items():
        a = np.array(_finite_as(a, dt, k))  # a copy: the model owns its matrices
        a.flags.writeable = False
        out[k] = a
    return out["A"], out["B"], out["b"], out.get("C"), out.get("d"), dt, (D, M, K)


def _check_U(U: Any, D: int, dtype: np.dtype, name: str = "U") -> np.ndarray:
    """U as an (N, T, D) array of ``dtype``; every wrong case named and explained."""
    arr = _numeric(U, name)
    if arr.ndim != 3:
        if arr.ndim == 2:
            hint = (
                f"for {arr.shape[0]} samples of {arr.shape[1]} steps of one feature use "
                f"{name}.reshape({arr.shape[0]}, {arr.shape[1]}, 1); for one sample of "
                f"{arr.shape[0]} steps with {arr.shape[1]} features use {name}[None]"
            )
        elif arr.ndim == 1:
            hint = f"for one sample of {arr.shape[0]} steps of one feature use {name}.reshape(1, -1, 1)"
        else:
            hint = "arrange the data as (samples, time steps, features)"
        raise ShapeError(
            f"{name} has shape {arr.shape} ({arr.ndim}-D) but (N, T, D) = (samples, time steps, "
            f"features) is needed; {hint}"
        )
    N, T, Df = arr.shape
    if Df != D:
        raise ShapeError(f"{name} has {Df} features ({name}.shape[2] = {Df}) but the model expects D = {D}")
    if T == 0:
        raise ShapeError(f"{name} has shape {arr.shape}: zero time steps; expected T >= 1")
    if N == 0:
        raise ShapeError(f"{name} has shape {arr.shape}: zero samples; expected N >= 1")
    return _finite_as(arr, dtype, name)


def _check_z0(z0: Any, N: int, M: int, dtype: np.dtype, name: str = "z0") -> np.ndarray:
    """z0 as an (N, M) array: None is zeros, an (M,) vector is used for every sample."""
    if z0 is None:
        return np.zeros((N, M), dtype=dtype)
    arr = _numeric(z0, name)
    if arr.shape == (M,):
        arr = np.broadcast_to(arr, (N, M))
    elif arr.shape != (N, M):
        raise ShapeError(f"{name} has shape {arr.shape} but should be (M,) = ({M},) or (N, M) = ({N}, {M})")
    return np.array(_finite_as(arr, dtype, name))  # a copy: the caller may update it in place


def _fmt(x: np.ndarray) -> str:
    return np.array2string(x, precision=4, suppress_small=True, threshold=36, edgeitems=2)


# --------------------------------------------------------------------------- the recursion


def _time_major(U: np.ndarray, go_backwards: bool) -> np.ndarray:
    """(N, T, D) input as a (T, N, D) view in the order the steps are taken."""
    return (U[:, ::-1] if go_backwards else U).transpose(1, 0, 2)


def _recur(X, A, B, b, s, z, keep: bool = True):
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
        _, Z, zT = _recur(_time_major(U, self._go_backwards), self._A, self._B, self._b, self._s.f, z, keep)
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
                lines.append(f"  {name} {v.shape} =\n    " + _fmt(v).replace("\n", "\n    "))
        if self._C is None:
            lines.append("  no readout: y = g(z)")
        return "\n".join(lines)

    # -- files
    def save(self, path, *, extra: dict | None = None) -> None:
        """Write the model to ``path`` (.npz of the matrices plus JSON metadata, no pickle,
        written atomically); ``extra``: JSON-able notes kept with it (see elman.io)."""
        from .io import save

        save(self, path, extra=extra)


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
            body.append(f"  C {self.C.shape} =\n    " + _fmt(self.C).replace("\n", "\n    "))
            body.append(f"  d {self.d.shape} = {_fmt(self.d)}")
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
