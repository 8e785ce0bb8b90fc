"""The fast NumPy engine: backpropagation through time whose cost is the matrix products.

The same equations as the reference (:func:`elman.bptt.forward_backward`, whose
signature this engine's ``__call__`` has, so truncated BPTT works on both), computed so
that a step costs one BLAS product forwards and one backwards and little else:

- every array a batch needs (pre-activations H, states Z, derivatives S, deltas dH) is
  allocated once per batch shape and reused, and every product and element-wise
  operation writes into it (``out=``);
- the input drive X B^T + b of all steps, and the sums dA, dB, dC over all steps and
  samples, are one product each over the T*N rows;
- s'(h_k) is read off the state where the activation allows (tanh: 1 - z^2, sigmoid:
  z (1 - z)), which is the same number as s'(h_k) computed from h_k;
- many-to-one models skip the zero gradient of the steps without output;
- nothing is promoted: float32 stays float32 from the data to the gradient.

It is tested equal to the reference (float64, 1e-10 relative) for every activation,
loss, return_sequences on and off, go_backwards and stacked models.
"""

from __future__ import annotations

import numpy as np

from . import losses
from .bptt import Layout, readout

__all__ = ["Engine"]


def _tanh_derivative(Z1: np.ndarray, out: np.ndarray) -> None:
    np.multiply(Z1, Z1, out=out)
    np.subtract(1, out, out=out)


def _sigmoid_derivative(Z1: np.ndarray, out: np.ndarray) -> None:
    np.subtract(1, Z1, out=out)
    np.multiply(out, Z1, out=out)


# s(h) into ``out``, where NumPy has an in-place form; others go through Activation.f.
_IN_PLACE = {
    "tanh": lambda H, out: np.tanh(H, out=out),
    "relu": lambda H, out: np.maximum(H, 0, out=out),
    "linear": lambda H, out: np.copyto(out, H),
    "exponential": lambda H, out: np.exp(H, out=out),
}
# s'(h) from z = s(h): the derivatives that the state alone determines.
_FROM_STATE = {"tanh": _tanh_derivative, "sigmoid": _sigmoid_derivative}


class _Buffers:
    """Work arrays of one recurrent layer for batches of n samples and T steps."""

    def __init__(self, T: int, n: int, M: int, D: int, dtype, need_dX: bool):
        self.H = np.empty((T, n, M), dtype)     # pre-activations h_k
        self.Z = np.empty((T + 1, n, M), dtype)  # states z_0 .. z_T
        self.S = np.empty((T, n, M), dtype)     # s'(h_k)
        self.dH = np.empty((T, n, M), dtype)    # delta_k = dL/dh_k
        self.carry = np.empty((n, M), dtype)    # A^T delta_{k+1}
        self.tmp = np.empty((n, M), dtype)
        self.dX = np.empty((T, n, D), dtype) if need_dX else None  # dL/dx_k for the layer below


class Engine:
    """Loss and gradient of a batch, time-major, into preallocated buffers.

    ``engine(flat, theta, Ut, Yt, w, loss, rs, z0s, out)`` -> (loss, dz0s, final states),
    exactly as :func:`elman.bptt.forward_backward`; the returned arrays are views of
    this engine's buffers, valid until its next call.
    """

    def __init__(self, flat: Layout):
        self.flat = flat
        self._buffers: dict[tuple[int, int], list[_Buffers]] = {}

    def _for(self, T: int, n: int) -> list[_Buffers]:
        key = (T, n)
        if key not in self._buffers:
            dims = [shape[0] for shape in self.flat.shapes[0:3 * self.flat.n_layers:3]]
            ins = [self.flat.shapes[3 * j + 1][1] for j in range(self.flat.n_layers)]
            self._buffers[key] = [_Buffers(T, n, M, D, self.flat.dtype, j > 0)
                                  for j, (M, D) in enumerate(zip(dims, ins))]
        return self._buffers[key]

    def __call__(self, flat: Layout, vec, Ut, Yt, w, loss: losses.Loss, rs: bool, z0s, out):
        layers, C, d = flat.unpack(vec)
        T, n, _ = Ut.shape
        bufs = self._for(T, n)
        X = Ut
        for (A, B, b, act, gb), z0, buf in zip(layers, z0s, bufs):
            self._forward(A, B, b, act, X[::-1] if gb else X, z0, buf)
            X = buf.Z[1:]  # this layer's outputs, in its step order, feed the next layer
        Ztop = bufs[-1].Z
        finals = [buf.Z[-1] for buf in bufs]
        grads = None if out is None else flat.views(out)
        value, dS = readout(flat, Ztop[1:] if rs else Ztop[-1:], C, d, Yt, w, loss, grads)
        if out is None:
            return value, None, finals
        dz0s = [None] * len(layers)
        dZ, last = (dS, None) if rs else (None, dS[0])
        for j in range(len(layers) - 1, -1, -1):
            A, B, _, act, gb = layers[j]
            buf = bufs[j]
            Xp = Ut if j == 0 else bufs[j - 1].Z[1:]
            Xp = Xp[::-1] if gb else Xp
            dz0s[j] = self._backward(A, B, act, Xp, buf, dZ, last, grads[3 * j:3 * j + 3], j > 0)
            if j > 0:
                dZ, last = (buf.dX[::-1] if gb else buf.dX), None
        return value, dz0s, finals

    @staticmethod
    def _forward(A, B, b, act, Xp, z0, buf: _Buffers) -> None:
        """z_{k+1} = s(A z_k + B x_k + b) into buf.H and buf.Z."""
        T, n, D = Xp.shape
        H, Z = buf.H, buf.Z
        M = H.shape[-1]
        np.matmul(Xp.reshape(T * n, D), B.T, out=H.reshape(T * n, M))  # the input drive, one product
        H += b
        Z[0] = z0
        AT = np.ascontiguousarray(A.T)  # BLAS multiplies by a row-major matrix ~20% faster than by a view
        f = _IN_PLACE.get(act.name)
        for k in range(T):
            np.matmul(Z[k], AT, out=buf.tmp)
            H[k] += buf.tmp
            if f is None:
                Z[k + 1] = act.f(H[k])
            else:
                f(H[k], Z[k + 1])

    @staticmethod
    def _backward(A, B, act, Xp, buf: _Buffers, dZ, last, grads, need_dX: bool):
        """delta_k for k = T-1 .. 0 and the sums dA, dB, db into ``grads``.

        dZ (T, n, M): dL/dz_{k+1} from outside the recursion, or None when only the last
        step has one (``last``, (n, M): many-to-one). Returns dL/dz_0 (n, M).
        """
        H, Z, S, dH, carry = buf.H, buf.Z, buf.S, buf.dH, buf.carry
        T, n, M = H.shape
        derivative = _FROM_STATE.get(act.name)
        if derivative is None:
            S[:] = act.df(H)
        else:
            derivative(Z[1:], S)
        carry[:] = 0
        for k in range(T - 1, -1, -1):
            if dZ is not None:
                np.add(dZ[k], carry, out=dH[k])
                dH[k] *= S[k]
            elif k == T - 1:
                np.multiply(last, S[k], out=dH[k])  # carry is still 0 here
            else:
                np.multiply(carry, S[k], out=dH[k])
            np.matmul(dH[k], A, out=carry)
        dH2 = dH.reshape(T * n, M)
        np.matmul(dH2.T, Z[:-1].reshape(T * n, M), out=grads[0])
        D = Xp.shape[-1]
        np.matmul(dH2.T, Xp.reshape(T * n, D), out=grads[1])
        np.sum(dH2, axis=0, out=grads[2])
        if need_dX:
            np.matmul(dH2, B, out=buf.dX.reshape(T * n, D))
        return carry.copy()
