"""Series to learn from: a sine, the monthly sunspot numbers (bundled, no network)."""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

from .errors import DataError, DataFileError, ParameterError, as_path
from .model import _count

__all__ = ["sine", "sunspots", "memory_sum", "load_csv"]


def sine(n: int = 500, t_max: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of sin(t) for t evenly spaced on [0, t_max]: returns (t (n,), x (n,)).

    >>> t, x = sine(5, 4.0); t.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    n = _count(n, "n", low=2)
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


def memory_sum(length: int, weight: float = 1, bias: float = 1, mem_len: int = 0) -> np.ndarray:
    """The "memory sum" sequence of the linear-RNN notebook.

        x_0 = 1,   x_{n+1} = weight * x_n + bias + (sum of the mem_len values before x_n)

    mem_len = 0 adds nothing, mem_len > 0 the mem_len values before x_n, mem_len < 0 the
    whole past. Computed exactly with Python numbers; returned as float64 (exact while the
    values stay below 2**53).

    >>> memory_sum(6, weight=2, bias=3, mem_len=1).tolist()
    [1.0, 5.0, 14.0, 36.0, 89.0, 217.0]
    """
    length = _count(length, "length")
    if isinstance(mem_len, bool) or not isinstance(mem_len, (int, np.integer)):
        raise ParameterError(f"mem_len must be an integer, got {mem_len!r}")
    seq = [1]
    while len(seq) < length:
        if mem_len > 0:
            past = sum(seq[-mem_len - 1:-1])
        elif mem_len == 0:
            past = 0
        else:
            past = sum(seq[:-1])
        seq.append(seq[-1] * weight + bias + past)
    return np.array(seq[:length], dtype=np.float64)


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def load_csv(path, column: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A series from a CSV file with a header row.

    column : the column's name; by default the only numeric column, or the last one.
    Returns (labels, values): labels are the first column when it is not the one read
    and not numeric (dates, months), else the row numbers 0, 1, ...; values float64.

    Raises DataFileError for a missing file and DataError naming the file, the line and
    the column for a missing column, an empty or non-numeric cell, or no data rows.
    """
    p = as_path(path)
    if not p.is_file():
        raise DataFileError(f"data file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"data file {str(p)!r} cannot be read as text: {exc}") from None
    rows = [r for r in csv.reader(io.StringIO(text))]
    # keep the physical line numbers (1-based, header = line 1) for messages
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise DataError(f"{p.name}: the file is empty; expected a header row and data rows")
    (_, header), body = numbered[0], numbered[1:]
    header = [h.strip() for h in header]
    if not body:
        raise DataError(f"{p.name}: the header has no data rows under it")
    if column is not None:
        if column not in header:
            raise DataError(f"{p.name}: no column {column!r}; the columns are {header}")
        j = header.index(column)
    else:
        first = body[0][1]
        numeric = [k for k, h in enumerate(header) if k < len(first) and _number(first[k]) is not None]
        if not numeric:
            raise DataError(f"{p.name}, line {body[0][0]}: no numeric column; columns are {header}")
        j = numeric[-1]
    values = np.empty(len(body))
    for i, (line, r) in enumerate(body):
        if len(r) != len(header):
            raise DataError(f"{p.name}, line {line}: {len(r)} cells but the header has {len(header)} columns")
        cell = r[j].strip()
        if cell == "":
            raise DataError(f"{p.name}, line {line}, column {header[j]!r}: the cell is empty; expected a number")
        v = _number(cell)
        if v is None or not np.isfinite(v):
            raise DataError(f"{p.name}, line {line}, column {header[j]!r}: {cell!r} is not a finite number")
        values[i] = v
    label_col = 0 if j != 0 and _number(body[0][1][0]) is None else None
    labels = np.array([r[label_col].strip() for _, r in body]) if label_col is not None else np.arange(len(body))
    return labels, values
