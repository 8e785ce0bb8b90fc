"""Memory: the rank of the Krylov (controllability) matrix and Jaeger's linear memory
capacity, for :func:`elman.analysis.controllability_rank` and
:func:`elman.analysis.memory_capacity`.

The rank is computed without forming K = [B, AB, ..., A^{M-1} B], whose columns line up
with A's dominant eigenvector (power iteration) so that its singular values decay
geometrically and an SVD of K under-counts. Instead an orthonormal basis Q of the Krylov
space is grown block by block (block Arnoldi): each new block A q is orthogonalised
against Q twice (classical Gram-Schmidt with reorthogonalisation), and the directions
that remain are kept when their singular value exceeds ``rtol * ||A||_2`` (for the
first block, ``rtol * ||B||_2``). The rank is then the dimension of the smallest
subspace that holds B and is invariant under A up to a perturbation of relative size
rtol: the Krylov-subspace view of Ballarin, Grigoryeva & Ortega (2023). The default
rtol is sqrt(eps) (see :func:`default_rtol`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import NonFiniteError, ParameterError

__all__ = ["MemoryCapacity", "krylov_rank", "default_rtol", "recall", "cross_validated_r", "noise_floor", "check_lags",
           "FOLDS", "MAX_CELLS"]

#: Folds of the cross-validated recall.
FOLDS = 5
#: The most target values n (k_max + 1) the recall holds at once (2^24: 134 MB a copy).
MAX_CELLS = 2**24


def default_rtol(dtype=np.float64) -> float:
    """The default relative tolerance of the rank: sqrt(eps) of the dtype the matrices
    were stored in (1.5e-8 for float64, 3.5e-4 for float32). Not eps: the rounding
    errors of the basis grow through the recursion, by up to ||A|| / remainder per step
    (more for non-normal A; Paige 1980), and a pair of rank r stored in float64 shows
    remainders of 1e-15 .. 1e-7 where it should show 0. A direction reached more weakly
    than sqrt(eps) carries a share below eps of the state variance, which no data shows."""
    return float(np.sqrt(np.finfo(dtype).eps))


def _directions(W: np.ndarray, Q: np.ndarray, floor: float) -> np.ndarray:
    """Orthonormal directions of W outside span(Q) whose size exceeds ``floor``."""
    for _ in range(2):  # CGS2: orthogonal to Q to working precision
        W = W - Q @ (Q.T @ W)
    if W.size == 0:
        return W
    Uw, s, _ = np.linalg.svd(W, full_matrices=False)
    new = Uw[:, s > floor]
    if new.shape[1] and Q.shape[1]:
        new = new - Q @ (Q.T @ new)
        new = np.linalg.qr(new)[0]
    return new


def krylov_rank(A: np.ndarray, B: np.ndarray, rtol: float) -> int:
    """dim span{B, AB, A^2 B, ...}, numerically (see the module docstring)."""
    M = A.shape[0]
    normA, normB = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    if normB == 0:
        return 0
    Q = np.empty((M, 0))
    new = _directions(B, Q, rtol * normB)
    Q = new
    while new.shape[1] and Q.shape[1] < M:
        new = _directions(A @ new, Q, rtol * normA)
        Q = np.hstack([Q, new])
    return min(Q.shape[1], M)


@dataclass(frozen=True)
class MemoryCapacity:
    """What :func:`elman.analysis.memory_capacity` measured.

    total:       sum of per_lag, the memory capacity over the lags 1 .. k_max.
    per_lag:     (k_max,) MC_j = r^2 of the recall of u_{k-j} from z_{k+1}, j = 1 .. k_max;
                 0 where r^2 is at or below noise_floor (or r < 0): chance, not memory.
    krylov_rank: the controllability rank of (A, B) (of the concatenated linear system
                 for a stack), the exact capacity of a linear network counted from lag 0.
    k_max:       the largest lag.
    lag0:        r^2 of the current input u_k from z_{k+1} (lag 0, not in total).
    noise_floor: 18 / n, the r^2 at or below which a lag counts as 0 (see
                 :func:`elman.analysis.memory_capacity`).

    For a linear network with i.i.d. input, lag0 + total tends to krylov_rank as k_max
    grows (Gonon, Grigoryeva & Ortega 2020): see :attr:`total_from_lag0`.
    """

    total: float
    per_lag: np.ndarray
    krylov_rank: int
    k_max: int
    lag0: float = float("nan")
    noise_floor: float = 0.0

    @property
    def total_from_lag0(self) -> float:
        """lag0 + total: the capacity over the lags 0 .. k_max."""
        return self.lag0 + self.total


def _moments(X: np.ndarray, Y: np.ndarray):
    """The sums a least-squares fit needs: (n, sum x, sum y, X^T X, X^T Y)."""
    return np.array([len(X), X.sum(0), Y.sum(0), X.T @ X, X.T @ Y], dtype=object)


def _ridge(m, ridge: float):
    """The ridge readout of Y from X plus bias, from the moments ``m`` (see _moments):
    W = (Xc^T Xc + ridge I)^{-1} Xc^T Yc on the centred data, as ReservoirPy's Ridge.
    Returns X -> predicted Y."""
    n, sx, sy, G, C = m
    mx, my = sx / n, sy / n
    G = G - n * np.outer(mx, mx)
    C = C - n * np.outer(mx, my)
    e, V = np.linalg.eigh(G)  # symmetric, M x M: cheap, and accurate to eps * max(e)
    den = e + ridge
    inv = np.divide(1.0, den, out=np.zeros_like(den), where=den > 1e-13 * max(e.max(), 1e-300))
    W = V @ (inv[:, None] * (V.T @ C))
    return lambda X: (X - mx) @ W + my


def cross_validated_r(X: np.ndarray, Y: np.ndarray, ridge: float, folds: int = FOLDS) -> np.ndarray:
    """Correlation, per column of Y, of Y with its out-of-fold prediction: the n rows cut
    into ``folds`` contiguous blocks, each predicted by the readout fitted on the others;
    prediction and target centred within each block (the readout's intercept comes from
    the other blocks, and its error would otherwise correlate with the block's own mean),
    the sums pooled over the blocks."""
    edges = np.linspace(0, len(X), folds + 1).astype(int)
    parts = [_moments(X[lo:hi], Y[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:])]
    total = sum(parts)
    num, pp, tt = (np.zeros(Y.shape[1]) for _ in range(3))
    for (lo, hi), part in zip(zip(edges[:-1], edges[1:]), parts):
        P = _ridge(total - part, ridge)(X[lo:hi])
        P -= P.mean(0)
        T = Y[lo:hi] - Y[lo:hi].mean(0)
        num += np.einsum("ij,ij->j", P, T)
        pp += np.einsum("ij,ij->j", P, P)
        tt += np.einsum("ij,ij->j", T, T)
    den = np.sqrt(pp * tt)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def noise_floor(n: int) -> float:
    """The r^2 below which a lag counts as 0: (3 sqrt(2 / n))^2 = 18 / n, three standard
    deviations of the out-of-fold correlation of a target the states know nothing of
    (about N(0, 2 / n): the folds' readouts share their training data)."""
    return 18.0 / n


def check_lags(k_max: int, n: int) -> None:
    """ParameterError unless k_max <= n // 4 and n (k_max + 1) <= MAX_CELLS."""
    if k_max > n // 4:
        raise ParameterError(f"k_max = {k_max} lags are too many for n = {n} samples; expected k_max <= n // 4 = "
                             f"{n // 4} (raise n for more lags)")
    if n * (k_max + 1) > MAX_CELLS:
        raise ParameterError(f"k_max = {k_max} with n = {n} samples needs n (k_max + 1) = {n * (k_max + 1):,} "
                             f"target values; the limit is 2^24 = {MAX_CELLS:,} (it keeps the working memory "
                             "under 1 GB): lower k_max or n")


def recall(dmap, k_max: int, n: int, washout: int, rng, ridge: float, input_scale: float):
    """(lag0, per_lag (k_max,)): the cross-validated r^2 of the ridge recall of u_{k-j}
    from z_{k+1}, j = 0 .. k_max, over n samples after washout + k_max steps, 0 where
    the correlation is below the noise floor (see :func:`noise_floor`)."""
    L = washout + k_max + n
    u = rng.uniform(-input_scale, input_scale, size=L)
    with np.errstate(over="ignore", invalid="ignore"):
        Z = dmap.run(u[:, None], np.zeros((1, dmap.M)))[:, 0]  # Z[k] = z_{k+1}, after u_k
    if not np.isfinite(Z).all():
        k = int(np.argwhere(~np.isfinite(Z).all(1))[0, 0])
        raise NonFiniteError(
            f"the states overflow at step {k} under input of size {input_scale:g}; memory capacity needs "
            "a network whose states stay finite (try a smaller input_scale)"
        )
    ks = np.arange(washout + k_max, L)
    X = Z[ks]
    Y = u[ks[:, None] - np.arange(k_max + 1)]  # column j: u_{k-j}
    r = cross_validated_r(X, Y, ridge)
    r2 = np.where((r > 0) & (r * r > noise_floor(n)), r * r, 0.0)
    return float(r2[0]), r2[1:]
