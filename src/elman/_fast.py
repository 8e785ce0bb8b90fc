"""A compiled loss-and-gradient kernel for one recurrent layer (optional: numba).

Small networks (M of a few units, batch 1) spend their time in per-call overhead,
not arithmetic: one NumPy call per step and per gradient term costs more than the
products themselves. This kernel does the same forward pass and backpropagation
through time as :func:`elman.train._forward_backward`, sample by sample in plain
loops compiled by numba, and accumulates the gradient into the flat vector that the
optimizer updates. It is tested equal to the NumPy reference.
"""

from __future__ import annotations

import numpy as np

from .errors import require

__all__ = ["available", "require_numba", "make_step", "KernelUnavailable"]

_ACT_CODES = {name: i for i, name in enumerate(
    ["linear", "tanh", "relu", "sigmoid", "hard_sigmoid", "softplus", "softsign", "elu", "selu",
     "exponential", "silu", "gelu", "relu6", "leaky_relu"])}
_LOSS_CODES = {"mse": 0, "mae": 1, "huber": 2}


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def require_numba():
    return require("numba", "fast")


class KernelUnavailable(Exception):
    """The compiled kernel could not be built, loaded or run here (fit falls back to NumPy)."""


_broken: str | None = None  # why the kernel failed in this process, so it is not retried


def _build():
    """Import (compile, or load from numba's cache) the kernel on first use."""
    global _broken
    require_numba()
    if _broken is not None:
        raise KernelUnavailable(_broken)
    try:
        from ._fast_kernels import kernel
    except Exception as exc:  # numba raises many kinds (cache, LLVM, typing); none may stop training
        _broken = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise KernelUnavailable(_broken) from None
    return kernel


def make_step(flat, U, Y, w, loss: str, rs: bool):
    """step(idx) -> (loss, gradient) for a one-layer model held in ``flat.theta``."""
    kernel = _build()
    [(A, B, b, act, gb)], C, d = flat.unpack(flat.theta)
    dt = flat.dtype
    N, T, _ = U.shape
    M = A.shape[0]
    has_C = C is not None
    if not has_C:  # placeholders the kernel never reads
        C, d = np.zeros((1, 1), dt), np.zeros(1, dt)
    U = np.ascontiguousarray(U, dtype=dt)
    Y3 = np.ascontiguousarray(Y if rs else Y[:, None, :], dtype=dt)
    if w is None:
        W = np.ones(Y3.shape[:2], dt)
    else:
        W = np.ascontiguousarray(np.broadcast_to(w[:, None] if w.ndim == 1 else w, Y3.shape[:2]), dtype=dt)
    grad = np.zeros_like(flat.theta)
    views = flat.views(grad)
    dA, dB, db = views[0], views[1], views[2]
    dC, dd = (views[3], views[4]) if has_C else (np.zeros((1, 1), dt), np.zeros(1, dt))
    H, Z = np.empty((T, M), dt), np.empty((T + 1, M), dt)
    dz, carry = np.empty(M, dt), np.empty(M, dt)
    codes = (_ACT_CODES[act.name], _ACT_CODES[flat.g.name], _LOSS_CODES[loss])

    def step(idx):
        value = kernel(A, B, b, C, d, has_C, U, Y3, W, np.asarray(idx, dtype=np.int64), rs, gb, *codes,
                       dA, dB, db, dC, dd, H, Z, dz, carry)
        return value, grad

    # Compile (or load) the kernel for these types now, on one sample, so that a numba
    # failure shows here, before training, where fit can still take the NumPy path.
    global _broken
    try:
        step(np.zeros(1, np.int64))
    except Exception as exc:
        _broken = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise KernelUnavailable(_broken) from None
    grad[:] = 0
    return step
