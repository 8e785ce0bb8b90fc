"""Plots (matplotlib, imported when first used). Each function draws on ``ax`` (a new
figure's Axes when None) and returns the Axes; nothing here calls ``plt.show()``."""

from __future__ import annotations

import numpy as np

from .errors import ShapeError, require
from .model import ElmanRNN, StackedRNN, _numeric

__all__ = ["actual_vs_predicted", "loss_curves", "state_trajectories", "eigenvalues"]


def _axes(ax, figsize=(8, 4)):
    if ax is not None:
        return ax
    plt = require("matplotlib.pyplot", "plot")
    _, ax = plt.subplots(figsize=figsize)
    return ax


def actual_vs_predicted(actual, predicted, *, split: int | None = None, x=None, ax=None,
                        title: str = "Actual and predicted", ylabel: str = "value"):
    """The series and the model's one-step predictions, with the train/test split marked.

    actual, predicted : (L,) arrays (or (L, 1)); split : the index where the test part begins.
    """
    a = _numeric(actual, "actual").reshape(len(np.atleast_1d(actual)), -1)[:, 0]
    p = _numeric(predicted, "predicted").reshape(len(np.atleast_1d(predicted)), -1)[:, 0]
    if a.shape != p.shape:
        raise ShapeError(f"actual has {a.shape[0]} values but predicted has {p.shape[0]}; expected the same")
    ax = _axes(ax)
    xs = np.arange(len(a)) if x is None else np.asarray(x)
    ax.plot(xs, a, label="actual", color="0.3", linewidth=1.2)
    ax.plot(xs, p, label="predicted", color="tab:orange", linewidth=1.0)
    if split is not None:
        ax.axvline(xs[min(split, len(xs) - 1)], color="tab:red", linestyle="--", linewidth=1, label="train | test")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax


def loss_curves(history: dict, *, ax=None, log: bool = True):
    """history["loss"] (and "val_loss" when present) per epoch."""
    if "loss" not in history:
        raise ShapeError(f"history has keys {sorted(history)}; expected 'loss'")
    ax = _axes(ax, (6, 4))
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if history.get(key):
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], style, label=key)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(loc="best")
    return ax


def state_trajectories(states, *, sample: int = 0, max_units: int = 12, ax=None):
    """z_k over k for one sample; states (N, T+1, M) as Trajectory.states, or (T+1, M)."""
    Z = _numeric(states, "states")
    if Z.ndim == 3:
        Z = Z[sample]
    if Z.ndim != 2:
        raise ShapeError(f"states has shape {np.shape(states)} but should be (N, T+1, M) or (T+1, M)")
    ax = _axes(ax, (6, 4))
    for i in range(min(Z.shape[1], max_units)):
        ax.plot(np.arange(Z.shape[0]), Z[:, i], linewidth=1)
    ax.set_xlabel("k")
    ax.set_ylabel("z_k")
    ax.set_title(f"state trajectories (first {min(Z.shape[1], max_units)} of M = {Z.shape[1]})")
    return ax


def eigenvalues(A, *, ax=None):
    """The eigenvalues of A (an array, an ElmanRNN, or the last layer of a StackedRNN)
    against the unit circle: outside it the linearised recursion grows."""
    if isinstance(A, StackedRNN):
        A = A.layers[-1].A
    elif isinstance(A, ElmanRNN):
        A = A.A
    A = _numeric(A, "A")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ShapeError(f"A has shape {A.shape} but should be square (M, M)")
    lam = np.linalg.eigvals(A.astype(np.float64))
    ax = _axes(ax, (4.5, 4.5))
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(np.cos(t), np.sin(t), color="0.6", linewidth=1)
    ax.scatter(lam.real, lam.imag, s=18, color="tab:blue", zorder=3)
    ax.axhline(0, color="0.85", linewidth=0.8)
    ax.axvline(0, color="0.85", linewidth=0.8)
    ax.set_aspect("equal")
    r = max(1.05, float(np.max(np.abs(lam))) * 1.05)
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_title(f"eigenvalues of A (spectral radius {np.max(np.abs(lam)):.3f})")
    return ax
