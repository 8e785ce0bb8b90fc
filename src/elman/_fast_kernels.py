"""The numba kernels behind :mod:`elman._fast` (imported only when numba is installed).

Defined at module level so that numba's on-disk cache (``cache=True``) is reused by
later processes instead of compiling again.
"""

import math

import numba

from .activations import _LEAKY_SLOPE, _SELU_ALPHA, _SELU_SCALE


def njit(fn):
    """``numba.njit`` with numba's on-disk cache when there is somewhere to keep it.

    numba looks for a writable folder next to this file (``__pycache__``) and in the
    user's cache folder (NUMBA_CACHE_DIR, XDG_CACHE_HOME or HOME); with none (a read-only
    install run by a user without a HOME) it refuses ``cache=True`` right here, at
    decoration. The kernel is then compiled in memory: a slower first fit, the same
    kernel. (Not a shared temporary folder: numba's cache index is a pickle.)
    """
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:
        return numba.njit(nogil=True)(fn)

inv_sqrt2 = 1.0 / math.sqrt(2.0)
inv_sqrt2pi = 1.0 / math.sqrt(2.0 * math.pi)


@njit
def sig(x):
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


@njit
def f(code, x):
    if code == 0:
        return x
    if code == 1:
        return math.tanh(x)
    if code == 2:
        return x if x > 0 else 0.0
    if code == 3:
        return sig(x)
    if code == 4:
        return min(max(x + 3.0, 0.0), 6.0) / 6.0
    if code == 5:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    if code == 6:
        return x / (1.0 + abs(x))
    if code == 7:
        return x if x > 0 else math.expm1(x)
    if code == 8:
        return _SELU_SCALE * (x if x > 0 else _SELU_ALPHA * math.expm1(x))
    if code == 9:
        return math.exp(x)
    if code == 10:
        return x * sig(x)
    if code == 11:
        return 0.5 * x * math.erfc(-x * inv_sqrt2)
    if code == 12:
        return min(max(x, 0.0), 6.0)
    return x if x > 0 else _LEAKY_SLOPE * x


@njit
def df(code, x):
    if code == 0:
        return 1.0
    if code == 1:
        t = math.tanh(x)
        return 1.0 - t * t
    if code == 2:
        return 1.0 if x > 0 else 0.0
    if code == 3:
        s = sig(x)
        return s * (1.0 - s)
    if code == 4:
        return 1.0 / 6.0 if -3.0 < x < 3.0 else 0.0
    if code == 5:
        return sig(x)
    if code == 6:
        a = 1.0 + abs(x)
        return 1.0 / (a * a)
    if code == 7:
        return 1.0 if x > 0 else math.exp(x)
    if code == 8:
        return _SELU_SCALE * (1.0 if x > 0 else _SELU_ALPHA * math.exp(x))
    if code == 9:
        return math.exp(x)
    if code == 10:
        s = sig(x)
        return s * (1.0 + x * (1.0 - s))
    if code == 11:
        return 0.5 * math.erfc(-x * inv_sqrt2) + x * inv_sqrt2pi * math.exp(-0.5 * x * x)
    if code == 12:
        return 1.0 if 0.0 < x < 6.0 else 0.0
    return 1.0 if x > 0 else _LEAKY_SLOPE


@njit
def loss_terms(code, e, w):
    """(w l(e), w l'(e))"""
    if code == 0:
        return w * e * e, 2.0 * w * e
    a = abs(e)
    s = 1.0 if e > 0 else (-1.0 if e < 0 else 0.0)
    if code == 1:
        return w * a, w * s
    if a <= 1.0:
        return w * 0.5 * e * e, w * e
    return w * (a - 0.5), w * s


@njit
def kernel(A, B, b, C, d, has_C, U, Y, W, idx, rs, gb, act, oact, loss,
           dA, dB, db, dC, dd, H, Z, dz, carry):
    """Loss of the batch U[idx] and its gradient (into dA .. dd, zeroed here).

    U (N, T, D); Y (N, T', K) and W (N, T') with T' = T (sequences) or 1;
    work arrays H (T, M), Z (T+1, M), dz, carry (M,).
    """
    T = U.shape[1]
    D = U.shape[2]
    M = A.shape[0]
    K = Y.shape[2]
    dA[:] = 0.0
    dB[:] = 0.0
    db[:] = 0.0
    dC[:] = 0.0
    dd[:] = 0.0
    inv_count = 1.0 / (idx.shape[0] * Y.shape[1] * K)
    total = 0.0
    for n in idx:
        # forward: h_k = B u_k + b + A z_k, z_{k+1} = s(h_k)
        for i in range(M):
            Z[0, i] = 0.0
        for k in range(T):
            kk = T - 1 - k if gb else k
            for i in range(M):
                acc = 0.0
                for j in range(D):
                    acc += B[i, j] * U[n, kk, j]
                acc += b[i]
                rec = 0.0
                for j in range(M):
                    rec += A[i, j] * Z[k, j]
                H[k, i] = acc + rec
            for i in range(M):
                Z[k + 1, i] = f(act, H[k, i])
        # backward: k = T-1 .. 0
        for i in range(M):
            carry[i] = 0.0
        for k in range(T - 1, -1, -1):
            for i in range(M):
                dz[i] = carry[i]
            if rs or k == T - 1:
                t = k if rs else 0
                for o in range(K):
                    if has_C:
                        pre = d[o]
                        for j in range(M):
                            pre += C[o, j] * Z[k + 1, j]
                    else:
                        pre = Z[k + 1, o]
                    val, dval = loss_terms(loss, f(oact, pre) - Y[n, t, o], W[n, t])
                    total += val
                    do = dval * inv_count * df(oact, pre)
                    if has_C:
                        dd[o] += do
                        for j in range(M):
                            dC[o, j] += do * Z[k + 1, j]
                            dz[j] += C[o, j] * do
                    else:
                        dz[o] += do
            kk = T - 1 - k if gb else k
            for i in range(M):
                dh = dz[i] * df(act, H[k, i])
                db[i] += dh
                for j in range(M):
                    dA[i, j] += dh * Z[k, j]
                for j in range(D):
                    dB[i, j] += dh * U[n, kk, j]
                dz[i] = dh
            for j in range(M):
                acc = 0.0
                for i in range(M):
                    acc += A[i, j] * dz[i]
                carry[j] = acc
    return total * inv_count

