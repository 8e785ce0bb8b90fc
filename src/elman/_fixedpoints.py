"""Fixed points and slow points of the map z -> G(z) = s(A z + B u + b) for a constant
input u, for :func:`elman.analysis.fixed_points`.

The search is Sussillo & Barak's (2013), with the exact Jacobian: minimise
q(z) = 1/2 ||F(z)||^2, F(z) = z - G(z), from many starts by Levenberg-Marquardt,

    z <- z - (J^T J + mu I)^{-1} J^T F,      J = dF/dz = I - dG/dz,

with mu shrinking after each step that lowers q and growing after each that does not.
Near a root with J nonsingular, mu falls to ~0 and the step is Newton's (quadratic
convergence); where J is singular or Newton overshoots, the damped step descends q
(Gauss-Newton / gradient), which is also how it settles into the local minima of q with
q > 0, the slow points.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["FixedPoints", "search", "LABELS", "unit_tol"]

#: Labels in the order the points are listed.
LABELS = ("stable", "saddle", "unstable", "marginal", "slow")
MU0, MU_MIN, MU_MAX = 1e-3, 1e-6, 1e12
# A root's last Newton step is at most this, relative to 1 + |z|.
XTOL = 1e-9


@dataclass(frozen=True)
class FixedPoints:
    """What :func:`elman.analysis.fixed_points` found, one row per point (P points).

    z:           (P, M) the points (the concatenated state for a stack).
    q:           (P,) q(z) = 1/2 ||z - G(z)||^2 at each point (0 up to rounding for a
                 fixed point, small but positive for a slow point).
    jacobians:   (P, M, M) dG/dz at each point, the map's Jacobian diag(s'(h)) A.
    eigenvalues: (P, M) complex, the eigenvalues of each Jacobian, by decreasing modulus.
    labels:      tuple of P strings: "stable" (every |lambda| < 1), "unstable" (every
                 |lambda| > 1, or some > 1 and the rest on the unit circle), "saddle"
                 (some |lambda| < 1 and some > 1), "marginal" (none > 1 and some = 1 to
                 unit_tol: non-hyperbolic, the linearisation does not decide), "slow" (a
                 slow point, a local minimum of q with q > 0).
    n_iters:     (P,) the iterations the search took to reach each point.
    u:           (D,) the constant input.
    unit_tol:    |lambda| within this of 1 is on the unit circle: sqrt(eps) of the
                 model's dtype (see :func:`unit_tol`).
    n_starts:    how many starts the search ran from. The points are those it found: a
                 multi-start search can miss some (more starts find more).

    ``len(fp)`` is P; ``fp.stable`` (and ``unstable``, ``saddle``, ``marginal``,
    ``slow``) are the indices of the points with that label; ``fp.residual`` is q and
    ``fp.label`` the labels (the names in DESIGN.md).
    """

    z: np.ndarray
    q: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    labels: tuple
    n_iters: np.ndarray
    u: np.ndarray
    unit_tol: float = 1.4901161193847656e-08
    n_starts: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    def _where(self, label: str) -> np.ndarray:
        return np.array([i for i, l in enumerate(self.labels) if l == label], dtype=int)

    stable = property(lambda self: self._where("stable"), doc="Indices of the stable points.")
    unstable = property(lambda self: self._where("unstable"), doc="Indices of the unstable points.")
    saddle = property(lambda self: self._where("saddle"), doc="Indices of the saddles.")
    marginal = property(lambda self: self._where("marginal"), doc="Indices of the non-hyperbolic points.")
    slow = property(lambda self: self._where("slow"), doc="Indices of the slow points.")
    residual = property(lambda self: self.q, doc="q, as DESIGN.md names it.")
    label = property(lambda self: self.labels, doc="labels, as DESIGN.md names it.")

    def __repr__(self) -> str:
        counts = ", ".join(f"{l} {self.labels.count(l)}" for l in LABELS if l in self.labels)
        return f"FixedPoints({len(self)} points, M={self.z.shape[1]}: {counts or 'none'})"


def unit_tol(dtype) -> float:
    """How close to 1 an |eigenvalue| is "on the unit circle": sqrt(eps) of the dtype the
    model's matrices are stored in (1.5e-8 for float64, 3.5e-4 for float32), as for the
    controllability rank. Storing A rounds each entry by eps/2 relative, which moves a
    simple eigenvalue by about eps ||A|| (an orthogonal A stored in float32 has
    |eigenvalues| 1 +- 3e-8), a defective or ill-conditioned one by up to sqrt(eps):
    closer to 1 than that, the stored model cannot say which side it is on."""
    return float(np.sqrt(np.finfo(dtype).eps))


def label(eigenvalues: np.ndarray, tol: float) -> str:
    a = np.abs(eigenvalues)
    above, below = (a > 1 + tol).any(), (a < 1 - tol).any()
    if above:
        return "saddle" if below else "unstable"
    return "marginal" if (a >= 1 - tol).any() else "stable"


def _patterns(levels: int, M: int, k: int, rng) -> np.ndarray:
    """Rows of indices in range(levels), M columns: all levels^M of them when they are
    at most k, else k drawn at random."""
    if M * np.log(levels) <= np.log(max(k, 1)):
        return np.array(list(itertools.product(range(levels), repeat=M)), dtype=int).reshape(-1, M)
    return rng.integers(0, levels, size=(k, M))


def _probes(dmap, u: np.ndarray, lo: np.ndarray, hi: np.ndarray, mean: np.ndarray, n: int, rng) -> np.ndarray:
    """Fixed starts: the origin; the trajectories' mean; the states whose pre-activation
    h = A z + B u + b (of the map with every activation the identity) is +-1 in each
    sign pattern, z = A^+ (h - B u - b) (a piecewise-linear network, relu, has one
    candidate point per pattern, which Newton reaches from any start with that
    pattern); a grid over the box [lo, hi], each coordinate at its low end, centre or
    high end. All 2 + 2^M + 3^M of them when that is at most 3/4 of the n starts (M <= 3
    for n = 64), else max(1, n // 2) of them: half sign patterns, half grid points, drawn
    at random."""
    M = len(lo)
    full = 2 + 2**M + 3**M if M < 30 else n
    k = full if full <= (3 * n) // 4 else min(n, max(1, n // 2))
    room = max(k - 2, 0)
    signs = 2.0 * _patterns(2, M, room // 2, rng) - 1.0
    c = dmap.step(np.zeros((1, M)), u[None], linear=True)[0]
    with np.errstate(all="ignore"):
        Z = np.linalg.lstsq(dmap.state_matrix(), (signs - c).T, rcond=None)[0].T
    grid = _patterns(3, M, room - len(signs), rng)
    grid = np.stack([lo, 0.5 * (lo + hi), hi])[grid, np.arange(M)]
    return np.concatenate([np.zeros((1, M)), mean[None], Z[np.isfinite(Z).all(1)], grid])[:k]


def starts(dmap, u: np.ndarray, n: int, rng, noise: float, steps: int = 50) -> np.ndarray:
    """n states. The trajectories: from z_0 = 0, driven by i.i.d. uniform [-1, 1] input
    for ``steps`` steps; the box: the span of their states per coordinate, widened by
    half (a quarter of its width each side: fixed points may lie outside what the input
    visits). First the fixed probes (:func:`_probes`), then the rest, half of them
    trajectory states at random steps and half uniform in the box, plus Gaussian noise
    of standard deviation ``noise``. States that overflowed (an expanding network) are
    left out of the box and replaced by 0."""
    U = rng.uniform(-1.0, 1.0, size=(steps, max((n + 1) // 2, 1), dmap.D))
    with np.errstate(over="ignore", invalid="ignore"):
        Z = np.concatenate([np.zeros((1, U.shape[1], dmap.M)), dmap.run_batch(U, np.zeros((U.shape[1], dmap.M)))])
    flat = Z.reshape(-1, dmap.M)
    flat = flat[np.isfinite(flat).all(1) & (np.abs(flat).max(1) < 1e6)]
    lo, hi = flat.min(0), flat.max(0)
    lo, hi = lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)
    probes = _probes(dmap, u, lo, hi, flat.mean(0), n, rng)
    n_traj = (n - len(probes) + 1) // 2
    pick = Z[rng.integers(1, steps + 1, size=n_traj), np.arange(n_traj)]
    pick[~np.isfinite(pick).all(1)] = 0.0
    free = np.concatenate([pick, rng.uniform(lo, hi, size=(n - len(probes) - n_traj, dmap.M))])
    return np.concatenate([probes, free + noise * rng.standard_normal(free.shape)])


def _residual(dmap, Z: np.ndarray, u: np.ndarray):
    """F = Z - G(Z) (N, M), its Jacobian I - dG (N, M, M), and q (N,) (inf where not finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        G, JG = dmap.step(Z, np.broadcast_to(u, (Z.shape[0], dmap.D)), jac=True)
        F = Z - G
        q = 0.5 * np.einsum("ij,ij->i", F, F)
    q[~np.isfinite(q) | ~np.isfinite(JG).all((1, 2))] = np.inf
    return F, np.eye(dmap.M) - JG, q


def _solve(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """H^{-1} g per row; a singular H is solved by least squares, one by one."""
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(H, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return np.stack([np.linalg.lstsq(h, v, rcond=None)[0] for h, v in zip(H, g)])


def _lm_step(F: np.ndarray, J: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The step per row: Newton's -J^{-1} F where mu = 0 (on the square system, not the
    normal equations, whose conditioning is squared), else -(J^T J + mu s I)^{-1} J^T F
    with s the largest diagonal entry of J^T J."""
    d = np.empty_like(F)
    newton = mu == 0
    if newton.any():
        d[newton] = -_solve(J[newton], F[newton])
    lm = ~newton
    if lm.any():
        Jl = J[lm]
        JT = Jl.transpose(0, 2, 1)
        H = JT @ Jl
        scale = np.maximum(np.einsum("nii->ni", H).max(1), 1e-300)
        H += (mu[lm] * scale)[:, None, None] * np.eye(J.shape[1])
        d[lm] = -_solve(H, (JT @ F[lm][..., None])[..., 0])
    return d


def descend(dmap, Z: np.ndarray, u: np.ndarray, tol: float, max_iter: int):
    """Levenberg-Marquardt on q from each row of Z; returns (Z, q, iterations).

    A row is done when max |F| <= tol and its last step was below XTOL (1 + |z|) (or
    could not lower q any more): near a simple root the error is then about the square
    of that step, near a degenerate one (J singular, linear convergence) about twice it.
    """
    Z = Z.copy()
    F, J, q = _residual(dmap, Z, u)
    mu = np.full(len(Z), MU0)
    iters = np.zeros(len(Z), dtype=int)
    done = ~np.isfinite(q)
    for _ in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        d = _lm_step(F[act], J[act], mu[act])
        Ft, Jt, qt = _residual(dmap, Z[act] + d, u)
        ok = qt < q[act]
        a = act[ok]
        Z[a] += d[ok]
        F[a], J[a], q[a] = Ft[ok], Jt[ok], qt[ok]
        mu[a] = np.where(mu[a] / 10 < MU_MIN, 0.0, mu[a] / 10)  # below MU_MIN: Newton
        mu[act[~ok]] = np.maximum(mu[act[~ok]] * 10, MU_MIN)
        iters[act] += 1
        small = np.abs(d).max(1) <= XTOL * (1 + np.abs(Z[act]).max(1))
        conv = (np.abs(F[act]).max(1) <= tol) & (small | ~ok)
        done[act[conv | (mu[act] > MU_MAX)]] = True
    return Z, q, iters


def _stationary(F: np.ndarray, J: np.ndarray) -> np.ndarray:
    """Whether the gradient J^T F of q vanishes, to 1e-6 of ||F|| (1 + ||dG/dz||): a
    minimum of q (J itself is singular there, so it is no scale)."""
    g = np.linalg.norm((J.transpose(0, 2, 1) @ F[..., None])[..., 0], axis=1)
    dG = np.eye(J.shape[1]) - J
    return g <= 1e-6 * (1 + np.linalg.norm(dG, axis=(1, 2))) * np.linalg.norm(F, axis=1)


def _unique(Z: np.ndarray, q: np.ndarray, rtol: float, avoid: np.ndarray | None = None) -> list[int]:
    """Indices of distinct rows of Z (best q first): rows within rtol (1 + |z|) in the
    max norm of a kept row, or of a row of ``avoid``, are dropped."""
    kept: list[int] = []
    others = [] if avoid is None else list(avoid)
    for i in np.argsort(q, kind="stable"):
        near = lambda w: np.abs(Z[i] - w).max() <= rtol * (1 + np.abs(w).max())  # noqa: E731
        if not any(near(Z[j]) for j in kept) and not any(near(w) for w in others):
            kept.append(int(i))
    return kept


def search(dmap, u: np.ndarray, *, n_starts: int, rng, tol: float, max_iter: int,
           slow: bool, slow_tol: float, noise: float, unit: float) -> FixedPoints:
    """Fixed points (and slow points) of dmap for the constant input u."""
    Z, q, iters = descend(dmap, starts(dmap, u, n_starts, rng, noise), u, tol, max_iter)
    F, J, q = _residual(dmap, Z, u)
    root = np.isfinite(q) & (np.abs(np.where(np.isfinite(F), F, np.inf)).max(1) <= tol)
    keep = [np.flatnonzero(root)[i] for i in _unique(Z[root], q[root], 1e-7)]
    n_fixed = len(keep)
    if slow:
        cand = np.flatnonzero(~root & np.isfinite(q) & (q < slow_tol))
        cand = cand[_stationary(F[cand], J[cand])]
        keep += [cand[i] for i in _unique(Z[cand], q[cand], 1e-3, avoid=Z[keep])]
    keep = np.array(keep, dtype=int)
    M = dmap.M
    jac = np.eye(M) - J[keep] if keep.size else np.zeros((0, M, M))
    eig = np.linalg.eigvals(jac) if keep.size else np.zeros((0, M), complex)
    eig = np.take_along_axis(eig, np.argsort(-np.abs(eig), axis=1, kind="stable"), axis=1)
    labels = [label(e, unit) if i < n_fixed else "slow" for i, e in enumerate(eig)]
    order = sorted(range(len(keep)), key=lambda i: (LABELS.index(labels[i]), *np.round(Z[keep[i]], 6)))
    keep = keep[order]
    return FixedPoints(
        z=Z[keep], q=q[keep], jacobians=jac[order], eigenvalues=eig[order],
        labels=tuple(labels[i] for i in order), n_iters=iters[keep], u=u.copy(), unit_tol=unit,
        n_starts=n_starts,
    )
