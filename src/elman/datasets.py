"""Series to learn from: a sine, the monthly sunspot numbers (bundled, no network)."""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

from .errors import ParameterError

__all__ = ["sine", "sunspots"]


def sine(n: int = 500, t_max: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of sin(t) for t evenly spaced on [0, t_max]: returns (t (n,), x (n,)).

    >>> t, x = sine(5, 4.0); t.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ParameterError(f"n must be an integer >= 2, got {n!r}")
    if not isinstance(t_max, (int, float)) or not np.isfinite(t_max) or t_max <= 0:
        raise ParameterError(f"t_max must be a positive number, got {t_max!r}")
    t = np.linspace(0.0, float(t_max), int(n))
    return t, np.sin(t)


def sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Zurich monthly mean sunspot numbers, January 1749 to December 1983.

    Returns (months (2820,) strings "YYYY-MM", values (2820,) float64). Source: the
    Time Series Data Library, citing Andrews & Herzberg (1985), *Data: A Collection of
    Problems from Many Fields*; a copy ships with elman (``elman/_data``).

    >>> months, x = sunspots(); str(months[0]), x.shape
    ('1749-01', (2820,))
    """
    text = resources.files("elman").joinpath("_data/monthly-sunspots.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    months = np.array([r[0] for r in rows])
    values = np.array([float(r[1]) for r in rows])
    return months, values
