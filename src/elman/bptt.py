"""The exact gradient of a loss by backpropagation through time: the plain NumPy reference.

Forward (time-major, one row per sample; see ``model._recur``)::

    h_k     = A z_k + B u_k + b          pre-activation, kept for the backward pass
    z_{k+1} = s(h_k)
    o_k     = C z_{k+1} + d,   y_k = g(o_k)

Backward, with L the loss and delta_k = dL/dh_k::

    dL/do_k   = dL/dy_k * g'(o_k)
    dC        = sum_k dL/do_k z_{k+1}^T,    dd = sum_k dL/do_k
    dL/dz_{k+1} = C^T dL/do_k  +  A^T delta_{k+1}       (readout + recursion)
    delta_k   = dL/dz_{k+1} * s'(h_k)                     k = T-1 .. 0
    dA = sum_k delta_k z_k^T,   dB = sum_k delta_k u_k^T,   db = sum_k delta_k
    dL/dz_0 = A^T delta_0

Only the line for delta_k is a loop; the sums over k (and over the samples) are one
tensor product each. A stacked network passes dL/du_k = B^T delta_k down to the layer
below as that layer's dL/dz_{k+1}.

The losses are :mod:`elman.losses`. This module is the readable reference that the
fast engines (:mod:`elman.blas`, the compiled kernel of :mod:`elman._compiled`) are
tested equal to. Parameters travel as one flat vector (:class:`Layout`), which the
optimizers update in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, losses
from .model import ElmanRNN, recur
from .stacked import StackedRNN, from_layers, initial_states
from .validation import _check_model, _check_U, _check_weights, _check_Y, _flag

__all__ = ["Grads", "StackedGrads", "Layout", "loss_and_grad", "forward_backward", "truncated",
           "time_major_weights", "zero_states", "readout"]


@dataclass(frozen=True)
class Grads:
    """dL/dA (M, M), dL/dB (M, D), dL/db (M,), dL/dC (K, M), dL/dd (K,); C and d None
    without a readout; z0 (N, M) only when asked for."""

    A: np.ndarray
    B: np.ndarray
    b: np.ndarray
    C: np.ndarray | None = None
    d: np.ndarray | None = None
    z0: np.ndarray | None = None


@dataclass(frozen=True)
class StackedGrads:
    """Gradients of a StackedRNN: one :class:`Grads` (A, B, b) per layer, then C, d."""

    layers: tuple
    C: np.ndarray | None = None
    d: np.ndarray | None = None
    z0: list | None = None


# --------------------------------------------------------------------------- the flat parameter vector


class Layout:
    """A model's parameters as one flat vector theta, and the matrices as views of it.

    Order: per layer A, B, b; then C, d. The optimizers update theta in place, so the
    views (used by the forward and backward passes) always hold the current values.
    """

    def __init__(self, model: ElmanRNN | StackedRNN, dtype, return_sequences: bool | None = None):
        self.stacked = isinstance(model, StackedRNN)
        layers = list(model.layers) if self.stacked else [model]
        self.acts = [activations.get(l.activation) for l in layers]
        self.gbs = [l.go_backwards for l in layers]
        self.g = activations.get(model.output_activation)
        self.return_sequences = (model.return_sequences if return_sequences is None
                                 else _flag(return_sequences, "return_sequences"))
        arrays = []
        for l in layers:
            arrays += [l.A, l.B, l.b]
        self.has_readout = model.C is not None
        if self.has_readout:
            arrays += [model.C, model.d]
        self.shapes = [a.shape for a in arrays]
        sizes = [a.size for a in arrays]
        ends = np.cumsum(sizes)
        self.segments = [slice(int(e - s), int(e)) for s, e in zip(sizes, ends)]
        self.dtype = np.dtype(dtype)
        self.theta = np.concatenate([np.asarray(a, dtype=self.dtype).ravel() for a in arrays])
        self.n_layers = len(layers)

    def views(self, vec: np.ndarray) -> list[np.ndarray]:
        return [vec[sl].reshape(sh) for sl, sh in zip(self.segments, self.shapes)]

    def unpack(self, vec: np.ndarray):
        """(layers [(A, B, b, act, go_backwards)], C, d) as views of ``vec``."""
        v = self.views(vec)
        layers = [(v[3 * j], v[3 * j + 1], v[3 * j + 2], self.acts[j], self.gbs[j]) for j in range(self.n_layers)]
        C, d = (v[-2], v[-1]) if self.has_readout else (None, None)
        return layers, C, d

    def model(self, vec: np.ndarray, dtype=None) -> ElmanRNN | StackedRNN:
        """A new (immutable) model holding a copy of ``vec``."""
        layers, C, d = self.unpack(vec)
        dt = dtype or self.dtype
        rnns = [ElmanRNN(A, B, b, activation=act.name, go_backwards=gb, dtype=dt) for A, B, b, act, gb in layers]
        if self.stacked:  # a one-layer StackedRNN stays one
            return StackedRNN(rnns, C, d, self.g.name, self.return_sequences, dtype=dt)
        return from_layers(rnns, C, d, self.g.name, self.return_sequences, dtype=dt)

    def state_dims(self) -> list[int]:
        return [self.shapes[3 * j][0] for j in range(self.n_layers)]


# --------------------------------------------------------------------------- BPTT (the reference)


def _sum_outer(P, Q):
    """sum over steps k and samples n of the outer products P[k, n] Q[k, n]^T.

    P (T, N, I), Q (T, N, J) -> (I, J): one matrix product over the T*N rows (what
    np.tensordot does, without its Python overhead, which dominates for small models).
    """
    return P.reshape(-1, P.shape[-1]).T @ Q.reshape(-1, Q.shape[-1])


def _layer_backward(A, B, act, Xp, H, Z, dZ):
    """One recurrent layer backwards.

    Xp (T, N, D) inputs in step order, H (T, N, M) pre-activations, Z (T+1, N, M)
    states, dZ (T, N, M) = dL/dz_{k+1} from outside the recursion (readout or the
    layer above). Returns dA, dB, db, dXp (T, N, D) = dL/dx_k, dz0 (N, M).
    """
    S = act.df(H)  # s'(h_k) for every step at once
    dH = np.empty_like(H)
    carry = np.zeros_like(Z[0])  # dL/dz_{k+1} through the recursion, A^T delta_{k+1}
    for k in range(H.shape[0] - 1, -1, -1):
        dH[k] = (dZ[k] + carry) * S[k]
        carry = dH[k] @ A
    dA = _sum_outer(dH, Z[:-1])
    dB = _sum_outer(dH, Xp)
    return dA, dB, dH.sum(axis=(0, 1)), dH @ B, carry


def readout(flat: Layout, S, C, d, Yt, w, loss: losses.Loss, grads=None):
    """The readout y = g(C s + d) of the states S (T', N, M) that have targets Yt
    (T', N, K), and the loss. With ``grads`` (the views of a gradient vector) also
    dL/dC and dL/dd into them. Returns (loss, dL/dS or None)."""
    O = S @ C.T + d if C is not None else S
    count = Yt.size
    total, dY = loss(flat.g.f(O) - Yt, w)
    if grads is None:
        return total / count, None
    dO = dY * flat.g.df(O) / count
    if C is None:
        return total / count, dO
    grads[-2][:] = _sum_outer(dO, S)
    grads[-1][:] = dO.sum(axis=(0, 1))
    return total / count, dO @ C


def forward_backward(flat: Layout, vec, Ut, Yt, w, loss: losses.Loss, rs: bool, z0s, out: np.ndarray | None):
    """Loss and gradient for time-major input.

    Ut (T, N, D); Yt (T, N, K) when rs else (1, N, K); w broadcastable to Yt; z0s a
    list of (N, M_j). Writes the gradient into ``out`` (flat, like theta) when given.
    Returns (loss, dz0s, final states).
    """
    layers, C, d = flat.unpack(vec)
    X, caches, finals = Ut, [], []
    for (A, B, b, act, gb), z0 in zip(layers, z0s):
        Xp = X[::-1] if gb else X
        H, Z, zT = recur(Xp, A, B, b, act.f, z0, keep=True)
        caches.append((Xp, H, Z))
        finals.append(zT)
        X = Z[1:]  # this layer's outputs, in its step order, are the next layer's input
    Ztop = caches[-1][2]
    grads = None if out is None else flat.views(out)
    value, dS = readout(flat, Ztop[1:] if rs else Ztop[-1:], C, d, Yt, w, loss, grads)
    if out is None:
        return value, None, finals
    dZ = dS if rs else np.concatenate([np.zeros_like(Ztop[2:]), dS])
    dz0s = [None] * len(layers)
    for j in range(len(layers) - 1, -1, -1):
        A, B, _, act, gb = layers[j]
        Xp, H, Z = caches[j]
        dA, dB, db, dXp, dz0s[j] = _layer_backward(A, B, act, Xp, H, Z, dZ)
        grads[3 * j][:], grads[3 * j + 1][:], grads[3 * j + 2][:] = dA, dB, db
        dZ = dXp[::-1] if gb else dXp  # back into the step order of the layer below
    return value, dz0s, finals


def time_major_weights(w, rs: bool):
    """(N,) or (N, T) weights broadcast against time-major (T or 1, N, K) outputs."""
    if w is None:
        return 1.0  # a Python float: float32 data stay float32
    return (w.T[:, :, None] if w.ndim == 2 else w[None, :, None])


def loss_and_grad(rnn, U, Y, *, loss: str = "mse", return_sequences: bool | None = None, z0=None,
                  sample_weight=None, grad_z0: bool = False):
    """The loss of ``rnn`` on (U, Y) and its exact gradient, by backpropagation through time.

    U : (N, T, D) inputs.
    Y : (N, K) targets for many-to-one, (N, T, K) with return_sequences (in the order
        the model emits outputs: reversed time when go_backwards).
    loss : "mse" (Keras's mean over every entry), "mae" or "huber" (delta 1).
    return_sequences : None uses the model's setting.
    z0 : initial state, (M,) or (N, M) (a list per layer for StackedRNN).
    sample_weight : (N,) (or (N, T) for sequences), as Keras's ``sample_weight``.
    grad_z0 : also return dL/dz0 (N, M) in ``grads.z0``.

    Returns ``(loss, grads)``: a float and :class:`Grads` (fields A, B, b, C, d with the
    parameters' shapes), or :class:`StackedGrads` for a StackedRNN. Computed in the
    model's dtype (use ``rnn.astype(np.float64)`` for gradient checks).

    >>> rnn = ElmanRNN.init(2, 3, 1, seed=0)
    >>> L, g = loss_and_grad(rnn, np.ones((4, 5, 2)), np.zeros((4, 1)))
    >>> g.A.shape, g.B.shape, g.C.shape
    ((3, 3), (3, 2), (1, 3))
    """
    _check_model(rnn)
    name = losses.get(loss)
    rs = rnn.return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
    grad_z0 = _flag(grad_z0, "grad_z0")
    dt = rnn.dtype
    U = _check_U(U, rnn.input_dim, dt)
    N, T, _ = U.shape
    Yc = _check_Y(Y, N, T, rnn.output_dim, rs, dt)
    w = _check_weights(sample_weight, N, T, rs, dt)
    z0s = initial_states(rnn, z0, N)
    flat = Layout(rnn, dt, rs)
    out = np.zeros_like(flat.theta)
    Yt = Yc.transpose(1, 0, 2) if rs else Yc[None]
    value, dz0s, _ = forward_backward(flat, flat.theta, U.transpose(1, 0, 2), Yt, time_major_weights(w, rs), name, rs, z0s, out)
    v = flat.views(out)
    C, d = (v[-2], v[-1]) if flat.has_readout else (None, None)
    if isinstance(rnn, StackedRNN):
        layers = tuple(Grads(v[3 * j], v[3 * j + 1], v[3 * j + 2]) for j in range(flat.n_layers))
        return value, StackedGrads(layers, C, d, dz0s if grad_z0 else None)
    return value, Grads(v[0], v[1], v[2], C, d, dz0s[0] if grad_z0 else None)




def zero_states(flat: Layout, N: int) -> list[np.ndarray]:
    """z_0 = 0 for every layer: (N, M_j) arrays in the layout's dtype."""
    return [np.zeros((N, M), flat.dtype) for M in flat.state_dims()]


def truncated(forward_backward, flat: Layout, theta, grad, Ut, Yt, Wt, loss, rs: bool, k: int):
    """Truncated BPTT of one batch: the loss and gradient of ``forward_backward`` (this
    module's, or a fast engine's with the same signature) taken in chunks of ``k`` steps.

    The state is carried from chunk to chunk but not differentiated through (the
    gradient stops at each chunk's start). With return_sequences each chunk's loss and
    gradient count as their share of the T steps; many-to-one, the earlier chunks only
    move the state forward and the last one carries the loss. Writes the gradient into
    ``grad``; returns the loss.
    """
    T = Ut.shape[0]
    z0s = zero_states(flat, Ut.shape[1])
    acc = np.zeros_like(grad)
    value = 0.0
    for start in range(0, T, k):
        sl = slice(start, min(start + k, T))
        share = (sl.stop - sl.start) / T
        if rs:
            Wc = Wt if np.ndim(Wt) == 0 or Wt.shape[0] == 1 else Wt[sl]
            v, _, finals = forward_backward(flat, theta, Ut[sl], Yt[sl], Wc, loss, True, z0s, grad)
            value += v * share
            acc += grad * share
        elif sl.stop == T:
            v, _, finals = forward_backward(flat, theta, Ut[sl], Yt, Wt, loss, False, z0s, grad)
            value += v
            acc += grad
        else:  # the loss of this chunk is not used, only its final states
            _, _, finals = forward_backward(flat, theta, Ut[sl], Yt, Wt, loss, False, z0s, None)
        z0s = [f.copy() for f in finals]
    grad[:] = acc
    return value
