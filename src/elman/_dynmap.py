"""The network as a map on its state, in float64, with its exact Jacobian: what
:mod:`elman.analysis` iterates, differentiates and solves.

For an :class:`~elman.model.ElmanRNN` the map is ``z -> s(A z + B u + b)``. For a
:class:`~elman.model.StackedRNN` it acts on the concatenated state
``z = [z^1; ...; z^L]`` (layer 1 first), every layer taking one step per input, layer j
reading layer j-1's new state; its Jacobian is block lower-triangular:

    dz^j_{k+1}/dz^i_k = diag(s_j'(h^j)) (A_j [i == j] + B_j dz^{j-1}_{k+1}/dz^i_k)

Input sequences are given as to ``run``/``predict`` and read as the model reads them:
last step first for a go_backwards model (a stack with a go_backwards layer is not one
map on its concatenated state, and is refused).
"""

from __future__ import annotations

import math

import numpy as np

from .activations import get
from .errors import ParameterError, ShapeError
from .model import ElmanRNN, StackedRNN, recur
from .validation import _check_model, _check_U, _finite_as, _is_real, _numeric

__all__ = ["DynMap", "real", "layers_of", "contraction_rate", "echo_starts", "spread", "ECHO_CORNERS"]

F64 = np.dtype(np.float64)
IDENTITY = get("linear")
#: Initial states of the empirical echo state check: corners of [-1, 1]^M, and as many uniform ones.
ECHO_CORNERS = 8


def layers_of(rnn, name: str = "rnn") -> tuple[ElmanRNN, ...]:
    """The recurrent layers of a model (one for an ElmanRNN), after checking its type."""
    _check_model(rnn, name)
    return rnn.layers if isinstance(rnn, StackedRNN) else (rnn,)


def real(v, name: str, *, low: float = 0.0, strict: bool = True, upper: float = math.inf) -> float:
    """``v`` as a finite float > ``low`` (>= with ``strict=False``) and < ``upper``, or a
    ParameterError naming ``name``."""
    ok = _is_real(v) and math.isfinite(float(v))
    if ok:
        f = float(v)
        ok = (f > low if strict else f >= low) and f < upper
    if not ok:
        rel = ">" if strict else ">="
        span = f"a finite number {rel} {low:g}" + (f" and < {upper:g}" if upper < math.inf else "")
        raise ParameterError(f"{name} must be {span}, got {v!r}")
    return float(v)


class DynMap:
    """One step of a model as a map on its (concatenated) state, float64.

    ``dims`` are the layers' state sizes M_j, ``M`` their sum, ``D`` the input size.
    """

    def __init__(self, rnn, what: str):
        layers = layers_of(rnn)
        if len(layers) > 1 and any(l.go_backwards for l in layers):
            back = [j for j, l in enumerate(layers) if l.go_backwards]
            raise ParameterError(
                f"{what}: rnn is a StackedRNN with go_backwards layers {back}; such a stack reads "
                "whole sequences layer by layer and is not one map on its concatenated state"
            )
        self.layers = [(l.A.astype(F64), l.B.astype(F64), l.b.astype(F64), get(l.activation)) for l in layers]
        self.dims = tuple(l.state_dim for l in layers)
        self.offsets = tuple(int(o) for o in np.cumsum((0,) + self.dims))
        self.M = self.offsets[-1]
        self.D = layers[0].input_dim
        self.reverse = bool(layers[0].go_backwards)
        self.stacked = isinstance(rnn, StackedRNN)

    # -- the map
    def step(self, Z: np.ndarray, U: np.ndarray, jac: bool = False, linear: bool = False):
        """Z (N, M) states, U (N, D) inputs -> next states (N, M), and with ``jac`` the
        Jacobians dz_{k+1}/dz_k (N, M, M). ``linear``: every activation the identity."""
        N = Z.shape[0]
        out = np.empty((N, self.M))
        J = np.zeros((N, self.M, self.M)) if jac else None
        x, dx = U, None
        for j, (A, B, b, s) in enumerate(self.layers):
            s = IDENTITY if linear else s
            lo, hi = self.offsets[j], self.offsets[j + 1]
            h = Z[:, lo:hi] @ A.T + x @ B.T + b
            out[:, lo:hi] = x = s.f(h)
            if jac:
                row = np.zeros((N, hi - lo, self.M))
                row[:, :, lo:hi] = A
                if dx is not None:
                    row += B @ dx  # through the new state of the layer below
                row *= s.df(h)[:, :, None]
                J[:, lo:hi] = dx = row
        return (out, J) if jac else out

    def run(self, U: np.ndarray, Z0: np.ndarray) -> np.ndarray:
        """States after each step: U (T, D) one sequence, Z0 (N, M) -> (T, N, M)."""
        return self.run_batch(np.broadcast_to(U[:, None, :], (U.shape[0], Z0.shape[0], self.D)), Z0)

    def run_batch(self, X: np.ndarray, Z0: np.ndarray) -> np.ndarray:
        """States after each step: X (T, N, D) time-major inputs, Z0 (N, M) -> (T, N, M)."""
        out = np.empty((X.shape[0], Z0.shape[0], self.M))
        for j, (A, B, b, s) in enumerate(self.layers):
            lo, hi = self.offsets[j], self.offsets[j + 1]
            out[:, :, lo:hi] = X = recur(X, A, B, b, s.f, Z0[:, lo:hi], keep=True)[1][1:]
        return out

    def input_matrix(self) -> np.ndarray:
        """dz_{k+1}/du_k of the linearised map with unit slopes (M, D): the B of the
        concatenated linear system (B_1 for one layer; B_j B_{j-1}... below it)."""
        out, x = np.empty((self.M, self.D)), np.eye(self.D)
        for j, (A, B, b, s) in enumerate(self.layers):
            out[self.offsets[j]:self.offsets[j + 1]] = x = B @ x
        return out

    def state_matrix(self) -> np.ndarray:
        """dz_{k+1}/dz_k of the linearised map with unit slopes (M, M): A for one layer,
        the block lower-triangular A of the concatenated linear system for a stack."""
        return self.step(np.zeros((1, self.M)), np.zeros((1, self.D)), jac=True, linear=True)[1][0]

    # -- arguments
    def sequence(self, U, name: str = "U") -> np.ndarray:
        """One input sequence, (T, D) or (1, T, D), as a (T, D) float64 array in the
        order the network reads it."""
        arr = _numeric(U, name)
        if arr.ndim == 2:
            arr = arr[None]
        elif arr.ndim == 3 and arr.shape[0] != 1:
            raise ShapeError(
                f"{name} has shape {arr.shape}: {arr.shape[0]} sequences, but one sequence (T, D) or "
                f"(1, T, D) is needed; pass one of them, e.g. {name}[0]"
            )
        elif arr.ndim != 3:
            hint = f"; for {arr.shape[0]} steps of one feature use {name}.reshape(-1, 1)" if arr.ndim == 1 else ""
            raise ShapeError(
                f"{name} has shape {arr.shape} ({arr.ndim}-D) but one sequence (T, D) = (time steps, "
                f"features) or (1, T, D) is needed{hint}"
            )
        X = np.asarray(_check_U(arr, self.D, F64, name)[0])
        return X[::-1] if self.reverse else X

    def state(self, z, name: str = "z") -> np.ndarray:
        """A state as an (M,) float64 vector: (M,), or for a stack a list with one
        (M_j,) vector per layer or their concatenation."""
        if isinstance(z, (list, tuple)) and self.stacked:
            if len(z) != len(self.dims):
                raise ShapeError(f"{name} is a list of {len(z)} arrays but the stack has {len(self.dims)} layers")
            parts = [self._vector(p, m, f"{name}[{j}]") for j, (p, m) in enumerate(zip(z, self.dims))]
            return np.concatenate(parts)
        return self._vector(z, self.M, name)

    def _vector(self, z, m: int, name: str) -> np.ndarray:
        arr = _numeric(z, name)
        if arr.shape != (m,):
            what = " (the layers' states concatenated, or a list per layer)" if self.stacked and m == self.M else ""
            raise ShapeError(f"{name} has shape {arr.shape} but should be ({m},){what}")
        return np.array(_finite_as(arr, F64, name))

    def inputs(self, u, name: str = "u") -> np.ndarray:
        """One input (D,) as float64; None is zeros."""
        if u is None:
            return np.zeros(self.D)
        arr = _numeric(u, name)
        if arr.shape != (self.D,):
            raise ShapeError(f"{name} has shape {arr.shape} but should be (D,) = ({self.D},), one input vector")
        return np.array(_finite_as(arr, F64, name))


# -- the empirical echo state check (elman.analysis.echo_state)

def contraction_rate(d: np.ndarray, floor: float) -> float:
    """exp of the slope of log d_k against k over the steps where d_k is above ``floor``."""
    k = np.flatnonzero(np.isfinite(d) & (d > floor))
    if not np.isfinite(d).all():
        return math.nan
    if k.size < 2:
        return 0.0
    return float(np.exp(np.polyfit(k, np.log(d[k]), 1)[0]))


def echo_starts(M: int, rng) -> np.ndarray:
    """2 ECHO_CORNERS initial states: corners of [-1, 1]^M (all 2^M when M <= 3; else all
    +1, all -1, and sign patterns drawn at random: each coordinate is +1 in some and -1
    in others), then as many i.i.d. uniform on [-1, 1]^M."""
    if 2**M <= ECHO_CORNERS:
        corners = 1.0 - 2.0 * ((np.arange(2**M)[:, None] >> np.arange(M)) & 1)
    else:
        corners = np.concatenate([np.ones((1, M)), -np.ones((1, M)),
                                  rng.choice([-1.0, 1.0], size=(ECHO_CORNERS - 2, M))])
    return np.concatenate([corners, rng.uniform(-1.0, 1.0, size=(2 * ECHO_CORNERS - len(corners), M))])


def spread(dmap, X: np.ndarray, Z: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, float]:
    """Run the N states Z (N, M) under X (T, D): d (T,), the largest distance between two
    of them at each step (inf once one overflows), and the largest finite |z| seen
    (at least 1). In chunks of steps, so memory stays chunk N M whatever T."""
    d, scale = np.zeros(len(X)), 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(0, len(X), chunk):
            S = dmap.run(X[t:t + chunk], Z)
            for i in range(S.shape[1] - 1):
                far = np.linalg.norm(S[:, i + 1:] - S[:, i:i + 1], axis=2).max(1)
                d[t:t + chunk] = np.maximum(d[t:t + chunk], np.where(np.isfinite(far), far, np.inf))
            scale = max(scale, float(np.abs(S[np.isfinite(S)]).max(initial=0.0)))
            Z = S[-1]
    return d, scale
