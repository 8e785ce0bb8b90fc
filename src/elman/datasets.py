"""Series to learn from: a sine, the monthly sunspot numbers (bundled, no network), the
memory sum, the benchmark targets :func:`narma`, :func:`mackey_glass` and
:func:`linear_filter` (defined in :mod:`elman._targets`), and a user's CSV file
(:func:`load_csv`, read by :mod:`elman._csvfile`)."""

from __future__ import annotations

import collections
import csv
import io
import math
from importlib import resources

import numpy as np

from ._csvfile import Table, load_csv, load_table
from ._targets import linear_filter, mackey_glass, narma
from .errors import ParameterError
from .validation import _brief, _count, _float, _is_real

__all__ = ["sine", "sunspots", "memory_sum", "narma", "mackey_glass", "linear_filter", "load_csv", "load_table",
           "Table"]


# sine(n) returns two float64 arrays of n values, 16 bytes per point: 10**8 points are
# 1.6 GB; asking for more is taken as a mistake (10**12 would need 16 TB) and refused
# before anything is allocated.
_MAX_SINE = 10**8


def sine(n: int = 500, t_max: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of sin(t) for t evenly spaced on [0, t_max]: returns (t (n,), x (n,)).

    n is at most 10**8 (two float64 arrays of 0.8 GB each).

    >>> t, x = sine(5, 4.0); t.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    n = _count(n, "n", low=2)
    if n > _MAX_SINE:
        raise ParameterError(f"n must be at most {_MAX_SINE:,} (two float64 arrays of 8 bytes per point, "
                             f"{16 * _MAX_SINE / 1e9:.1f} GB), got {n:,} ({16 * n / 1e9:.3g} GB)")
    if not _is_real(t_max) or not 0 < _float(t_max) < math.inf:
        raise ParameterError(f"t_max must be a positive finite number, got {_brief(t_max)}")
    t = np.linspace(0.0, _float(t_max), n)
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


# memory_sum is computed one value at a time in Python (about a microsecond each):
# 10**7 values take seconds; more is taken as a mistake and refused up front.
_MAX_MEMORY_SUM = 10**7
_ONE = 1 << 1074  # every finite float64 is an integer multiple of 2**-1074


def _fixed(v: int | float) -> int:
    """``v`` (a finite float or an int) exactly, in units of 2**-1074."""
    num, den = v.as_integer_ratio()
    return num * (_ONE // den)


def _term(v, name: str) -> int | float:
    """weight or bias: a Python int (kept exact; NumPy ints converted, so that they do
    not wrap around at 2**63) or a finite float."""
    if not _is_real(v):
        raise ParameterError(f"{name} must be a real number (int or float), got {type(v).__name__} {_brief(v)}")
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    if not math.isfinite(v):
        raise ParameterError(f"{name} must be a finite number, got {v!r}")
    return v


def memory_sum(length: int, weight: float = 1, bias: float = 1, mem_len: int = 0) -> np.ndarray:
    """The "memory sum" sequence of the linear-RNN notebook.

        x_0 = 1,   x_{n+1} = weight * x_n + bias + (sum of the mem_len values before x_n)

    mem_len = 0 adds nothing, mem_len > 0 the mem_len values before x_n, mem_len < 0 the
    whole past. With integer weight and bias (Python's or NumPy's) the values are computed
    exactly with Python integers, else in float arithmetic (the sum of the values before
    x_n is kept as it goes: the whole past in order, as sum() adds it; a window of
    mem_len values exactly, rounded once). Returned as float64 (exact for integers while
    they stay below 2**53). A length whose values leave the float64 range (above 1.8e308)
    is refused, naming the longest possible; length is at most 10**7.

    >>> memory_sum(6, weight=2, bias=3, mem_len=1).tolist()
    [1.0, 5.0, 14.0, 36.0, 89.0, 217.0]
    """
    length = _count(length, "length")
    if length > _MAX_MEMORY_SUM:
        raise ParameterError(f"length must be at most {_MAX_MEMORY_SUM:,} (the values are computed one at a "
                             f"time in Python), got {length:,}")
    weight, bias = _term(weight, "weight"), _term(bias, "bias")
    if isinstance(mem_len, bool) or not isinstance(mem_len, (int, np.integer)):
        raise ParameterError(f"mem_len must be an integer, got {_brief(mem_len)}")
    m = int(mem_len)
    out = np.empty(length, dtype=np.float64)
    for n, x in enumerate(_memory_terms(length, weight, bias, m)):
        try:
            value = float(x)
        except OverflowError:  # an exact integer beyond the float64 range
            value = math.inf
        if not math.isfinite(value):
            raise ParameterError(
                f"length={length:,} is too long for weight={weight!r}, bias={bias!r}, mem_len={m}: value {n} "
                f"(0-based) leaves the float64 range (|x| <= 1.8e308), so at most length={n} is possible"
            )
        out[n] = value
    return out


def _memory_terms(length: int, weight: int | float, bias: int | float, m: int):
    """x_0 .. x_{length-1} of :func:`memory_sum`, one at a time, as Python numbers: exact
    integers when weight and bias are, else floats. The caller stops at the first value
    beyond the float64 range."""
    exact = isinstance(weight, int) and isinstance(bias, int)
    whole = m < 0 or m >= length - 1  # a window as long as the sequence is the whole past
    x = 1  # x_{n-1} in the loop below
    yield x
    total = 0  # the whole past before x, added in order (as sum() did)
    window: collections.deque = collections.deque()  # the mem_len values before x
    wsum = 0  # their sum: exact integers, or in units of 2**-1074 when floats
    for _ in range(1, length):
        if m == 0:
            past = 0
        elif whole:
            past = total
        elif exact:
            past = wsum
        else:
            try:
                past = wsum / _ONE  # int / int: correctly rounded
            except OverflowError:
                past = math.inf
        if m != 0 and whole:
            total += x
        elif m > 0:
            window.append(x)
            wsum += x if exact else _fixed(x)
            if len(window) > m:
                wsum -= window[0] if exact else _fixed(window[0])
                window.popleft()
        x = x * weight + bias + past
        yield x
