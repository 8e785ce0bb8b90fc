"""The plots of the model read as a dynamical system (re-exported by :mod:`elman.plot`):
its fixed points over the principal components of its driven trajectories, its memory
capacity per lag, its Lyapunov spectrum. The eigenvalues of A against the unit circle
are :func:`elman.plot.eigenvalues`.

Each function draws on ``ax`` (a new figure's Axes when None) and returns the Axes;
nothing here calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

from ._figures import axes, states_of
from .errors import NonFiniteError, ShapeError, require
from .validation import _finite, _numeric

__all__ = ["fixed_points_pca", "memory_curve", "lyapunov_spectrum", "layer_eigenvalues"]

# How each kind of fixed point is drawn: (marker, colour, size).
STYLE = {
    "stable": ("o", "tab:green", 60),
    "unstable": ("X", "tab:red", 70),
    "saddle": ("^", "tab:orange", 60),
    "marginal": ("s", "tab:blue", 50),
    "slow": ("d", "tab:purple", 30),
}


#: How each layer's eigenvalues are drawn by layer_eigenvalues: (marker, colour), in turn.
LAYER_STYLE = (("o", "tab:blue"), ("s", "tab:orange"), ("^", "tab:green"), ("D", "tab:red"), ("v", "tab:purple"),
               ("P", "tab:brown"), ("X", "tab:pink"), ("*", "tab:olive"))


def _array(x, name: str) -> np.ndarray:
    a = _numeric(x, name).astype(np.float64)
    _finite(a, name)
    return a


def _states(states) -> np.ndarray:
    """The visited states as rows (n, M): from a Trajectory, (N, T+1, M) or (T+1, M)."""
    Z = _array(states_of(states), "states")
    if Z.ndim not in (2, 3):
        raise ShapeError(f"states has shape {Z.shape} but should be (N, T+1, M) or (T+1, M)")
    Z = Z.reshape(-1, Z.shape[-1])
    if Z.shape[0] < 2 or Z.shape[1] == 0:
        raise ShapeError(f"states has shape {Z.shape}; expected at least two states of at least one unit")
    return Z


def _points(fixed_points, M: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The fixed points (P, M) and their labels: from a FixedPoints result (its ``z`` and
    ``labels``), or an array (P, M) of points (labelled "fixed point")."""
    if hasattr(fixed_points, "z") and hasattr(fixed_points, "labels"):
        z, labels = fixed_points.z, tuple(str(s) for s in fixed_points.labels)
    else:
        z, labels = fixed_points, None
    Z = _array(z, "fixed_points") if np.size(z) else np.empty((0, M))
    Z = Z[None] if Z.ndim == 1 else Z
    if Z.ndim != 2 or Z.shape[1] != M:
        raise ShapeError(f"fixed_points has shape {np.shape(z)} but should be (P, M) with M = {M}, the states' units")
    if labels is None:
        labels = ("fixed point",) * len(Z)
    if len(labels) != len(Z):
        raise ShapeError(f"fixed_points has {len(Z)} points but {len(labels)} labels")
    return Z, labels


def fixed_points_pca(states, fixed_points, *, ax=None):
    """The fixed points over the first two principal components of the driven trajectories.

    states: the states the network visited, a Trajectory (one layer), (N, T+1, M) or
    (T+1, M); fixed_points: what :func:`elman.analysis.fixed_points` returns (points marked
    by their label: stable, unstable, saddle, marginal, slow), or an array (P, M). The components are
    those of the states; the fixed points are projected onto them.
    """
    Z = _states(states)
    P, labels = _points(fixed_points, Z.shape[1])
    mean = Z.mean(axis=0)
    _, s, Vt = np.linalg.svd(Z - mean, full_matrices=False)
    k = min(2, Vt.shape[0])
    V = Vt[:k].T
    var = (s / s[0]) ** 2 if s[0] > 0 else np.zeros_like(s)  # scaled: no overflow for huge states
    share = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    pad = (lambda X: np.hstack([X, np.zeros((len(X), 2 - k))])) if k < 2 else (lambda X: X)
    xy, pq = pad((Z - mean) @ V), pad((P - mean) @ V)
    ax = axes(ax, (6, 5))
    ax.scatter(xy[:, 0], xy[:, 1], s=4, color="0.6", alpha=0.5, linewidths=0, zorder=1,
               label=f"driven states ({len(xy)})")
    for label in dict.fromkeys(labels):
        mask = np.array([lab == label for lab in labels])
        marker, color, size = STYLE.get(label, ("s", "tab:blue", 50))
        ax.scatter(pq[mask, 0], pq[mask, 1], marker=marker, color=color, s=size, zorder=3,
                   edgecolors="black", linewidths=0.5, label=f"{label} ({int(mask.sum())})")
    ax.set_xlabel(f"PC 1 ({100 * share[0]:.0f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * share[1]:.0f}% of the variance)" if k > 1 else "PC 2 (none: M = 1)")
    ax.set_title(f"{len(P)} fixed point{'s' if len(P) != 1 else ''} over the driven states")
    ax.legend(loc="best", fontsize="small")
    return ax


def memory_curve(mc, *, ax=None):
    """Jaeger's memory capacity per lag: MC_j (the squared correlation of the best linear
    recall of u_{k-j} from z_{k+1}) over j = 1 .. k_max, lag 0 (the input just read) apart,
    with the total and the Krylov rank (what a linear network reaches counted from lag 0)
    in the title and the legend.

    mc: what :func:`elman.analysis.memory_capacity` returns, or the per-lag values
    (k_max,) for the lags 1 .. k_max.
    """
    r2 = _array(getattr(mc, "per_lag", mc), "per_lag")
    if r2.ndim != 1 or r2.size == 0:
        raise ShapeError(f"per_lag has shape {r2.shape} but should be (k_max,) with k_max >= 1")
    total = float(getattr(mc, "total", r2.sum()))
    rank, lag0 = getattr(mc, "krylov_rank", None), float(getattr(mc, "lag0", np.nan))
    lags = np.arange(1, r2.size + 1)
    ax = axes(ax, (7, 4))
    ax.bar(lags, r2, width=0.8, color="tab:blue", alpha=0.85, label=f"MC_j, j >= 1 (sum {total:.2f})")
    title = f"memory capacity {total:.2f} (lags 1..{r2.size})"
    if np.isfinite(lag0):
        ax.bar([0], [lag0], width=0.8, color="0.6", label=f"lag 0, the input just read ({lag0:.2f})")
        title += f", {lag0 + total:.2f} from lag 0"
    if rank is not None:
        ax.axhline(0, color="none", label=f"Krylov rank {int(rank)} (a linear network's capacity from lag 0)")
        title += f"; Krylov rank {int(rank)}"
    ax.set_xlabel("lag j (recall u_{k-j} from z_{k+1})")
    ax.set_ylabel("MC_j (squared correlation)")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(-0.7 if np.isfinite(lag0) else 0.3, r2.size + 0.7)
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    return ax


def lyapunov_spectrum(exponents, *, ax=None):
    """The Lyapunov exponents, largest first, in natural log per step: an exponent lambda
    means nearby states separate by a factor e^lambda a step (below 0 they approach).
    An exponent of -inf (a direction the map collapses at once, as relu does where it is
    0) is drawn as a downward triangle at the bottom of the axes."""
    lam = _numeric(exponents, "exponents").astype(np.float64)
    if lam.ndim != 1 or lam.size == 0:
        raise ShapeError(f"exponents has shape {lam.shape} but should be (k,) with k >= 1")
    _finite(lam[lam != -np.inf], "exponents")  # -inf is an exponent; NaN and +inf are not
    lam = np.sort(lam)[::-1]
    i = np.arange(1, lam.size + 1)
    fin = np.isfinite(lam)
    ax = axes(ax, (7, 4))
    ax.axhline(0, color="0.6", linewidth=1)
    ax.plot(i[fin], lam[fin], marker="o", markersize=4, linewidth=1, color="tab:blue")
    if not fin.all():
        low = min(float(lam[fin].min()) if fin.any() else -1.0, -1.0)
        bottom = low - 0.1 * abs(low)
        ax.scatter(i[~fin], np.full((~fin).sum(), bottom), marker="v", color="tab:red",
                   label=f"-inf ({int((~fin).sum())})", zorder=3)
        ax.set_ylim(bottom - 0.05 * abs(low), max(0.05 * abs(low), float(lam[fin].max()) if fin.any() else 0) + 0.05)
        ax.legend(loc="upper right", fontsize="small")
    ax.xaxis.set_major_locator(require("matplotlib.ticker", "plot").MaxNLocator(integer=True))
    ax.set_xlabel("i")
    ax.set_ylabel("lambda_i (natural log per step)")
    ax.set_title(f"Lyapunov spectrum (largest {lam[0]:.3g} per step: "
                 + ("chaotic or marginal)" if lam[0] >= 0 else "contracting)"))
    return ax


def layer_eigenvalues(matrices, *, ax=None):
    """The eigenvalues of each layer's A against the unit circle, one marker and colour
    per layer (a legend names them, with each spectral radius), the radii in the title:
    a stack's layers each have their own recursion, and any of them can be the one
    outside the circle. ``matrices``: the layers' A (square, each its own size)."""
    lams = []
    for j, A in enumerate(matrices):
        A = _array(A, f"A[{j}]")
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.size == 0:
            raise ShapeError(f"A[{j}] has shape {A.shape} but should be square (M, M) with M >= 1")
        top = float(np.abs(A).max()) or 1.0  # scaled: LAPACK's own arithmetic overflows near 1e154
        with np.errstate(over="ignore", invalid="ignore"):
            lams.append(np.linalg.eigvals(A / top) * top)
        if not np.isfinite(lams[-1]).all():
            raise NonFiniteError(f"the eigenvalues of A[{j}] exceed the float64 range (|A| up to {top:.3g})")
    if not lams:
        raise ShapeError("no matrices: expected one A per layer")
    radii = [float(np.abs(lam).max()) for lam in lams]
    ax = axes(ax, (5, 5))
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(np.cos(t), np.sin(t), color="0.6", linewidth=1)
    for j, (lam, r) in enumerate(zip(lams, radii)):
        marker, color = LAYER_STYLE[j % len(LAYER_STYLE)]
        ax.scatter(lam.real, lam.imag, s=22, marker=marker, color=color, alpha=0.8, zorder=3,
                   label=f"layer {j + 1} (radius {r:.3g})")
    ax.axhline(0, color="0.85", linewidth=0.8)
    ax.axvline(0, color="0.85", linewidth=0.8)
    ax.set_aspect("equal")
    lim = max(1.05, 1.05 * max(radii))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_title("eigenvalues of A per layer (spectral radius " + ", ".join(f"{r:.3f}" for r in radii) + ")",
                 fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    return ax
