"""The plot of a study (re-exported by :mod:`elman.plot`): the error against the state
size M, one line per target, with the minimal M of a closed form marked.

Draws on ``ax`` (a new figure's Axes when None) and returns the Axes; never calls
``plt.show()``.
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from ._figures import axes
from .errors import InputTypeError, ParameterError, require
from .validation import _brief

__all__ = ["error_vs_state_dim"]

#: Errors below this are drawn at it (a log axis has no 0): float64's resolution.
FLOOR = 1e-16
_SPREADS = ("range", "quartiles")


def _rows(table) -> list[dict]:
    """The study's rows from a DataFrame, a list of dicts, or a results.csv path."""
    if isinstance(table, (str, os.PathLike)):
        with open(table, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return table.to_dict("records")
    try:
        rows = [dict(r) for r in table]
    except (TypeError, ValueError):
        raise InputTypeError(f"table must be a study's table (a DataFrame, a list of dicts or a results.csv "
                             f"path), got {_brief(table)}") from None
    return rows


def _number(v) -> float:
    """A cell's value as a float (NaN when empty or missing: a CSV reads strings)."""
    if v is None or v == "":
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"the table holds {_brief(v)} where a number is expected") from None


def _curves(rows: list[dict], metric: str, spread: str) -> dict:
    """{target: (M (n,), median, low, high)} over the seeds, finite values only."""
    by: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        missing = [k for k in ("target", "M", metric) if k not in r]
        if missing:
            raise ParameterError(f"the table has no column {missing[0]!r}; expected a table from elman.study.sweep")
        v = _number(r[metric])
        by.setdefault(str(r["target"]), {}).setdefault(int(_number(r["M"])), [])
        if math.isfinite(v):
            by[str(r["target"])][int(_number(r["M"]))].append(max(v, FLOOR))
    q = (0, 100) if spread == "range" else (25, 75)
    out = {}
    for target, cells in by.items():
        Ms = [M for M in sorted(cells) if cells[M]]
        if Ms:
            vals = [np.asarray(cells[M]) for M in Ms]
            out[target] = (np.array(Ms), np.array([np.median(v) for v in vals]),
                           np.array([np.percentile(v, q[0]) for v in vals]),
                           np.array([np.percentile(v, q[1]) for v in vals]))
    return out


def _references(rows: list[dict], reference) -> dict:
    """{target: minimal M}: from the table's minimal_M column (reference None), as given
    (a dict), or none (reference False)."""
    if reference is False:
        return {}
    if isinstance(reference, dict):
        return {str(k): int(v) for k, v in reference.items()}
    if reference is not None:
        raise ParameterError(f"reference must be None (from the table), a dict {{target: M}} or False, "
                             f"got {_brief(reference)}")
    refs = {}
    for r in rows:
        v = _number(r.get("minimal_M"))
        if math.isfinite(v):
            refs.setdefault(str(r["target"]), int(v))
    return refs


def error_vs_state_dim(table, *, ax=None, reference=None, metric: str = "test_nrmse", spread: str = "range"):
    """The error of a study against the state size M on log axes: per target the median
    over the seeds (a line) and their spread (a band: min to max, or the quartiles with
    ``spread="quartiles"``); a dashed vertical line at the minimal M where a closed form
    gives it (the table's ``minimal_M``, or ``reference={target: M}``; False for none).

    table : what :func:`elman.study.sweep` returns, its rows, or a results.csv path.
    metric: the column to draw (test_nrmse, validation_nrmse, train_nrmse).
    Errors below 1e-16 are drawn at 1e-16; NaN (a diverged training) is left out.
    """
    if spread not in _SPREADS:
        raise ParameterError(f"spread must be one of {', '.join(map(repr, _SPREADS))}, got {_brief(spread)}")
    rows = _rows(table)
    curves = _curves(rows, metric, spread)
    if not curves:
        raise ParameterError(f"the table has no finite {metric} to draw")
    refs = _references(rows, reference)
    ax = axes(ax, (7, 4.5))
    all_M = set()
    for target, (Ms, med, lo, hi) in curves.items():
        (line,) = ax.plot(Ms, med, marker="o", label=target)
        ax.fill_between(Ms, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        all_M.update(Ms.tolist())
        if target in refs:
            ax.axvline(refs[target], color=line.get_color(), linestyle="--", linewidth=1,
                       label=f"{target}: minimal M = {refs[target]}")
            all_M.add(refs[target])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = sorted(all_M)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(M) for M in ticks])
    ax.xaxis.set_minor_locator(require("matplotlib.ticker", "plot").NullLocator())  # only the M drawn
    band = "min to max" if spread == "range" else "quartiles"
    ax.set_xlabel("state size M")
    what = metric.replace("_nrmse", " NRMSE").replace("_", " ")
    ax.set_ylabel(f"{what} (median; {band} over seeds)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax
