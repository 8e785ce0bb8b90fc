"""Plots (matplotlib, imported when first used). Each function draws on ``ax`` (a new
figure's Axes when None) and returns the Axes; nothing here calls ``plt.show()``.

Values are checked first (an elman error, not matplotlib's). Values whose magnitude is
beyond 1e100 or below 1e-100 are drawn in units of a power of ten, said on the axis
label ("value (x 1e300)"): matplotlib computes axis spans as max - min, which overflow
near the float64 limit (1.8e308), and it cannot resolve spans near the smallest floats.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from .errors import InputTypeError, NonFiniteError, ParameterError, ShapeError, require
from .model import ElmanRNN, StackedRNN
from .validation import _brief, _count, _finite, _flag, _numeric

from ._figures import axes, states_of
from ._plot_dynamics import fixed_points_pca, layer_eigenvalues, lyapunov_spectrum, memory_curve
from ._plot_study import error_vs_state_dim

__all__ = ["actual_vs_predicted", "forecast_plot", "loss_curves", "state_trajectories", "eigenvalues",
           "fixed_points_pca", "memory_curve", "lyapunov_spectrum", "error_vs_state_dim",
           "layer_eigenvalues"]


@contextmanager
def figure_file(path, figsize=(8, 4), dpi: int = 100):
    """``with figure_file("fig.png") as ax: actual_vs_predicted(..., ax=ax)``: a new
    figure's Axes to draw on, written to ``path`` and closed when the block ends (closed
    unwritten when it raises). What the CLI uses for its PNG files."""
    plt = require("matplotlib.pyplot", "plot")
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    try:
        yield ax
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _values(x, name: str) -> np.ndarray:
    """``x`` as a finite float64 array, with a one-line message when it is not numbers."""
    a = _values_or_gaps(x, name).astype(np.float64)
    _finite(a, name)
    return a


def _values_or_gaps(x, name: str) -> np.ndarray:
    """Like _values, but NaN and inf are kept (a loss curve leaves them out)."""
    try:
        return _numeric(x, name)
    except InputTypeError as exc:
        if "\n" in str(exc) or len(str(exc)) > 200:
            raise InputTypeError(f"{name} must be a list of numbers, got {type(x).__name__}") from None
        raise


def _power(*arrays: np.ndarray) -> int:
    """The power of ten to draw the values in: 0 for ordinary ones, else the exponent of
    the largest magnitude when it is beyond 1e100 or below 1e-100 (not all zero)."""
    top = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if top > 1e100 or 0 < top < 1e-100:
        return int(math.floor(math.log10(top)))
    return 0


def _in_units(a: np.ndarray, power: int) -> np.ndarray:
    """a / 10**power without overflow or underflow of 10**power itself (1e-320 is not
    a normal float, 1e320 is none)."""
    if power == 0:
        return a
    half = power // 2
    return a / 10.0**half / 10.0**(power - half)


def _label(text: str, power: int) -> str:
    return f"{text} (x 1e{power})" if power else text


def _series(v, name: str) -> np.ndarray:
    """(L,) values from (L,) or (L, 1); a wider (L, K) is refused (plot one column at a time)."""
    a = _values(v, name)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ShapeError(f"{name} has shape {a.shape} but should be (L,) or (L, 1); "
                         f"for several columns, plot each one: {name}[:, k]")
    if a.size == 0:
        raise ShapeError(f"{name} is empty; expected at least one value to plot")
    return a


def _positions(x, L: int, name: str, of: str, kinds: str = "biufUSmM") -> np.ndarray:
    """``x`` as (L,) positions on the horizontal axis: numbers, datetime64 (no NaT) or, where
    ``kinds`` allows, labels; ``of`` names the values they place."""
    try:
        xs = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise InputTypeError(f"{name} cannot be read as an array ({exc})"[:200]) from None
    if xs.dtype.kind not in kinds:
        what = "numbers, dates or labels" if "U" in kinds else "numbers or dates (datetime64)"
        raise InputTypeError(f"{name} must hold {what}, got {_brief(x)} (dtype {xs.dtype})")
    if xs.shape != (L,):
        raise ShapeError(f"{name} has shape {xs.shape} but {of} has {L} values; expected {name} of shape ({L},)")
    if xs.dtype.kind in "biuf":
        _finite(xs.astype(np.float64), name)
    if xs.dtype.kind in "mM" and np.isnat(xs).any():
        raise NonFiniteError(f"{name} holds NaT (not a time) at index {int(np.argmax(np.isnat(xs)))}")
    return xs


def actual_vs_predicted(actual, predicted, *, split: int | None = None, x=None, ax=None,
                        title: str = "Actual and predicted", ylabel: str = "value"):
    """The series and the model's one-step predictions, with the train/test split marked.

    actual, predicted : (L,) arrays (or (L, 1)); a wider (L, K) is refused: plot one
        column at a time. split : the index in [0, L] where the test part begins.
    x : (L,) positions or labels for the horizontal axis (default 0 .. L-1).
    Values beyond 1e100 (or below 1e-100) in magnitude are drawn in units of a power of
    ten, said on the y label: "value (x 1e300)".
    """
    a = _series(actual, "actual")
    p = _series(predicted, "predicted")
    if a.shape != p.shape:
        raise ShapeError(f"actual has {a.shape[0]} values but predicted has {p.shape[0]}; expected the same")
    L = len(a)
    if split is not None and (isinstance(split, (bool, np.bool_)) or not isinstance(split, (int, np.integer))
                              or not 0 <= split <= L):
        raise ParameterError(f"split must be None or an integer in [0, L = {L}] (the index where the test "
                             f"part begins), got {_brief(split)}")
    xs = np.arange(L) if x is None else _positions(x, L, "x", "actual")
    power = _power(a, p)
    ax = axes(ax)
    ax.plot(xs, _in_units(a, power), label="actual", color="0.3", linewidth=1.2)
    ax.plot(xs, _in_units(p, power), label="predicted", color="tab:orange", linewidth=1.0)
    if split is not None:
        ax.axvline(xs[min(int(split), L - 1)], color="tab:red", linestyle="--", linewidth=1, label="train | test")
    ax.set_title(title)
    ax.set_ylabel(_label(ylabel, power))
    ax.legend(loc="best")
    return ax


def _part(x, values, name: str, xname: str, bands):
    """(positions, values, (lower, upper) or None) of one part of a forecast plot, or None
    when ``values`` is None or empty; the bounds may hold NaN (a band left open there)."""
    if values is None or np.size(values) == 0:
        return None
    v = _series(values, name)
    xs = _positions(x, len(v), xname, name, "biufmM")
    lower, upper = bands
    if (lower is None) != (upper is None):
        raise ParameterError(f"give both bounds of {name}'s interval or neither, got only one")
    if lower is None:
        return xs, v, None
    b = []
    for what, bound in ((f"the lower bound of {name}", lower), (f"the upper bound of {name}", upper)):
        a = _values_or_gaps(bound, what).astype(np.float64)
        if a.shape != v.shape:
            raise ShapeError(f"{what} has shape {a.shape}; expected {v.shape}, one per value")
        _finite(a[~np.isnan(a)], what)
        b.append(a)
    return xs, v, tuple(b)


def forecast_plot(x, history, test_x, test_pred, future_x, future, *, lower=None, upper=None,
                  future_lower=None, future_upper=None, ax=None, title: str = "", ylabel: str = "value"):
    """The series, the test predictions at their own positions (a warm-up gap shows) and
    the forecast past the end, with interval bands where bounds are given.

    x : (L,) positions of ``history`` (numbers or datetime64; None: 0 .. L-1); test_x and
        future_x are on the same axis (datetime64 when x is). test_pred, future (and their
        x) may be None or empty: that part is left out. lower, upper : bounds of
        test_pred; future_lower, future_upper : of future, NaN where a bound is unknown.
    """
    h = _series(history, "history")
    xs = np.arange(len(h)) if x is None else _positions(x, len(h), "x", "history", "biufmM")
    test = _part(test_x, test_pred, "test_pred", "test_x", (lower, upper))
    fut = _part(future_x, future, "future", "future_x", (future_lower, future_upper))
    for part, xname in ((test, "test_x"), (fut, "future_x")):
        if part is not None and (part[0].dtype.kind == "M") != (xs.dtype.kind == "M"):
            raise InputTypeError(f"{xname} must be on the same axis as x: both datetime64 or both numbers, got "
                                 f"dtypes {part[0].dtype} and {xs.dtype}")
    arrays = [h] + [a for p in (test, fut) if p is not None for a in (p[1], *(p[2] or ()))]
    power = _power(*(a[np.isfinite(a)] for a in arrays))
    ax = axes(ax, (11, 4))
    ax.plot(xs, _in_units(h, power), label="actual", color="0.3", linewidth=1.2)
    for part, label, color in ((test, "predicted (test)", "tab:orange"), (fut, "forecast", "tab:blue")):
        if part is None:
            continue
        px, pv, band = part
        ax.plot(px, _in_units(pv, power), label=label, color=color, linewidth=1.0,
                marker="o" if len(pv) < 2 else None, markersize=3)
        if band is not None:
            ax.fill_between(px, _in_units(band[0], power), _in_units(band[1], power), color=color, alpha=0.2,
                            linewidth=0, label=f"{label}: interval")
    ax.set_title(title)
    ax.set_ylabel(_label(ylabel, power))
    ax.legend(loc="best")
    return ax


def loss_curves(history, *, ax=None, log: bool = True):
    """history["loss"] (and "val_loss" when present) per epoch.

    history : the dict of :func:`elman.fit`'s result (``FitResult.history``), or the
        FitResult itself. Entries that are not finite (a run that diverged) are left
        out; with none left, the plot says "no finite loss recorded".
    log : a logarithmic y axis (zeros are left out of it; all zero: a linear axis).
    """
    from .train import FitResult

    if isinstance(history, FitResult):
        history = history.history
    if not isinstance(history, dict):
        raise InputTypeError("history must be a dict such as {'loss': [...], 'val_loss': [...]} "
                             f"(FitResult.history) or a FitResult, got {type(history).__name__}")
    if "loss" not in history:
        raise ShapeError(f"history has keys {sorted(map(str, history))}; expected 'loss'"[:300])
    log = _flag(log, "log")
    curves = {}
    for key in ("loss", "val_loss"):
        if history.get(key) is None and key == "val_loss":
            continue
        v = history[key]
        if isinstance(v, (str, bytes, dict)):
            raise InputTypeError(f"history[{key!r}] must be a list of numbers, one per epoch, got {_brief(v)}")
        a = _values_or_gaps(v, f"history[{key!r}]")
        if a.dtype.kind == "b":
            raise InputTypeError(f"history[{key!r}] must hold numbers, got bools {_brief(v)}")
        if a.ndim != 1:
            raise ShapeError(f"history[{key!r}] must be a list of numbers, one per epoch, got shape {a.shape} "
                             f"of dtype {a.dtype}")
        a = a.astype(np.float64)
        epochs = np.arange(1, len(a) + 1)
        keep = np.isfinite(a) & (a > 0 if log else True)
        curves[key] = (epochs, a, keep)
    finite = [a[np.isfinite(a)] for _, a, _ in curves.values()]
    if log and not any(np.any(k) for _, _, k in curves.values()):
        log = False  # no positive value: nothing a log axis could show
        curves = {key: (e, a, np.isfinite(a)) for key, (e, a, _) in curves.items()}
    power = _power(*finite)
    ax = axes(ax, (6, 4))
    drawn = False
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in curves and np.any(curves[key][2]):
            epochs, a, keep = curves[key]
            ax.plot(epochs[keep], _in_units(a[keep], power), style, label=key)
            drawn = True
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(_label("loss", power))
    if drawn:
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no finite loss recorded", transform=ax.transAxes, ha="center", va="center")
    return ax


def state_trajectories(states, *, sample: int = 0, max_units: int = 12, ax=None):
    """z_k over k for one sample; states (N, T+1, M) as Trajectory.states, or (T+1, M),
    or the Trajectory that :meth:`ElmanRNN.run` returns."""
    Z = _values(states_of(states), "states")
    if Z.ndim not in (2, 3):
        raise ShapeError(f"states has shape {Z.shape} but should be (N, T+1, M) or (T+1, M)")
    if Z.size == 0:
        raise ShapeError(f"states is empty (shape {Z.shape}); expected at least one step of one unit")
    if Z.ndim == 3:
        if isinstance(sample, (bool, np.bool_)) or not isinstance(sample, (int, np.integer)) \
                or not 0 <= sample < Z.shape[0]:
            raise ParameterError(f"sample must be an integer in [0, N - 1 = {Z.shape[0] - 1}] (states holds "
                                 f"N = {Z.shape[0]} samples), got {_brief(sample)}")
        Z = Z[int(sample)]
    max_units = _count(max_units, "max_units")
    shown = min(Z.shape[1], max_units)
    power = _power(Z[:, :shown])
    ax = axes(ax, (6, 4))
    for i in range(shown):
        ax.plot(np.arange(Z.shape[0]), _in_units(Z[:, i], power), linewidth=1)
    ax.set_xlabel("k")
    ax.set_ylabel(_label("z_k", power))
    ax.set_title(f"state trajectories (first {shown} of M = {Z.shape[1]})")
    return ax


def eigenvalues(A, *, ax=None):
    """The eigenvalues of A (an array, an ElmanRNN, or the last layer of a StackedRNN)
    against the unit circle: outside it the linearised recursion grows."""
    if isinstance(A, StackedRNN):
        A = A.layers[-1].A
    elif isinstance(A, ElmanRNN):
        A = A.A
    A = _values(A, "A")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ShapeError(f"A has shape {A.shape} but should be square (M, M)")
    if A.size == 0:
        raise ShapeError("A is empty (shape (0, 0)); expected a square matrix with at least one entry")
    s = float(np.max(np.abs(A)))
    if 1e-100 <= s <= 1e100:
        lam = np.linalg.eigvals(A)
    else:  # the eigenvalues of A / s, times s: LAPACK's own arithmetic would overflow
        with np.errstate(over="ignore", invalid="ignore"):
            lam = np.linalg.eigvals(A / (s or 1.0)) * (s or 1.0)
    if not np.all(np.isfinite(lam)):
        raise NonFiniteError(f"the eigenvalues of A exceed the float64 range (|A| up to {s:.3g}); "
                             "scale A to plot them")
    radius = float(np.max(np.abs(lam)))
    power = _power(lam.real, lam.imag) if radius > 1e100 else 0  # tiny ones sit at 0 by the unit circle
    ax = axes(ax, (4.5, 4.5))
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(_in_units(np.cos(t), power), _in_units(np.sin(t), power), color="0.6", linewidth=1)
    ax.scatter(_in_units(lam.real, power), _in_units(lam.imag, power), s=18, color="tab:blue", zorder=3)
    ax.axhline(0, color="0.85", linewidth=0.8)
    ax.axvline(0, color="0.85", linewidth=0.8)
    ax.set_aspect("equal")
    r = max(1.05, radius * 1.05) if not power else float(_in_units(np.array(radius), power)) * 1.05
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    if power:
        ax.set_xlabel(_label("Re", power))
        ax.set_ylabel(_label("Im", power))
    ax.set_title(f"eigenvalues of A (spectral radius {radius:.3g})" if power or radius >= 1e3
                 else f"eigenvalues of A (spectral radius {radius:.3f})")
    return ax
