"""Series to learn from: a sine, the monthly sunspot numbers (bundled, no network)."""

from __future__ import annotations

import codecs
import collections
import csv
import itertools
import io
import math
import os
import re
import stat
from importlib import resources

import numpy as np

from .data import _brief, _float, _is_real
from .errors import DataError, DataFileError, InputTypeError, ParameterError, as_path
from .validation import _count

__all__ = ["sine", "sunspots", "memory_sum", "load_csv"]


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
    exact = isinstance(weight, int) and isinstance(bias, int)
    whole = m < 0 or m >= length - 1  # a window as long as the sequence is the whole past
    out = np.empty(length, dtype=np.float64)
    out[0] = 1.0
    x = 1  # x_{n-1} in the loop below
    total = 0  # the whole past before x, added in order (as sum() did)
    window: collections.deque = collections.deque()  # the mem_len values before x
    wsum = 0  # their sum: exact integers, or in units of 2**-1074 when floats
    for n in range(1, length):
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


# ---------------------------------------------------------------------------------------
# Reading a user's CSV file. Every broken file ends in a DataFileError (the file itself:
# missing, a directory, not UTF-8 text) or a DataError (its content), on one line that
# names the file, the line and the column.

# A number as a CSV user writes it: ASCII digits with an optional sign, point and exponent.
# No nested repeats, so that a long cell cannot make the match slow.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Other ways of writing a number, refused when read: hexadecimal, digit separators.
_OTHER_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:[,_][0-9]+)+(?:\.[0-9]*)?)")
# Words that spreadsheets and pandas write for a missing value.
_MISSING = {"nan", "+nan", "-nan", "na", "n/a", "#n/a", "null", "none", "nat"}
_INFINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def _show(text: str, limit: int = 40) -> str:
    """A cell for a message: quoted, escaped (one line) and cut when long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _show_names(header: list[str], limit: int = 12) -> str:
    """The column names for a message, the first ``limit`` of them when there are more."""
    shown = [_show(h) for h in header[:limit]]
    if len(header) > limit:
        shown.append(f"... ({len(header)} columns)")
    return "[" + ", ".join(shown) + "]"


def _column(header: list[str], j: int) -> str:
    return f"column {_show(header[j])}" if header[j] else f"column {j + 1} (no name)"


def _looks_numeric(cell: str) -> bool:
    """Whether a cell is meant as a number, even one refused when read ('nan', '1e999',
    '1_000', '1,000', '0x10', '١٢'): such a cell makes its column the one read by default,
    so that it is reported instead of another column being read silently."""
    if _DECIMAL.fullmatch(cell) or _OTHER_NUMBER.fullmatch(cell):
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number_problem(cell: str) -> str | None:
    """Why ``cell`` (stripped) is not read as a finite number, or None when it is."""
    if cell == "":
        return "the cell is empty; expected a number"
    if _DECIMAL.fullmatch(cell):
        if math.isinf(float(cell)):
            return f"{_show(cell)} overflows float64 (the largest is about 1.8e308); expected a finite number"
        return None
    word = cell.lower()
    if word in _MISSING:
        return f"{_show(cell)} is not a finite number; fill or drop the missing values"
    if word in _INFINITE:
        return f"{_show(cell)} is not a finite number; expected a finite decimal number"
    if any(ch.isdigit() and not ch.isascii() for ch in cell):
        return f"{_show(cell)} is not a finite number: it has digits other than ASCII 0-9; write it with 0-9"
    hint = " (without '_' or ',' between digits)" if re.search(r"[0-9][_,][0-9]", cell) else ""
    return f"{_show(cell)} is not a finite number; expected a decimal number like 1.5 or -2e3{hint}"


def _line_at(data: bytes, offset: int) -> int:
    """The physical line (1-based) of byte ``offset``; \\r\\n, \\r and \\n end a line, as for csv."""
    return len(re.findall(rb"\r\n?|\n", data[:offset])) + 1


def _read_text(p) -> str:
    """The file's text (UTF-8, one leading byte-order mark dropped), or a DataFileError."""
    where = repr(str(p))
    try:
        info = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise DataFileError(f"data file {where} does not exist") from None
    except (OSError, ValueError) as exc:  # permission, a name too long, a NUL in the name
        raise DataFileError(f"data file {where} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataFileError(f"data file {where} is a directory, not a file; give the path of a CSV file")
    if not stat.S_ISREG(info.st_mode):  # a pipe or a device could block or never end
        raise DataFileError(f"data file {where} is not a regular file; give the path of a CSV file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataFileError(f"data file {where} cannot be read: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataFileError(f"data file {where} is UTF-16 text (it starts with a UTF-16 byte-order mark); "
                            "save it as UTF-8 CSV")
    data = data.removeprefix(codecs.BOM_UTF8)  # Excel's "CSV UTF-8" starts with one
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataFileError(f"data file {where}, line {_line_at(data, nul)}: a NUL byte (0x00), so the file is "
                            "binary or UTF-16/UTF-32, not UTF-8 text; save it as UTF-8 CSV")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"data file {where}, line {_line_at(data, exc.start)}: byte 0x{data[exc.start]:02x} "
                            "is not UTF-8 (is the file Latin-1 or Windows-1252?); save it as UTF-8 CSV") from None


def _csv_problem(exc: csv.Error) -> str:
    """The csv module's error in the user's words."""
    text = str(exc)
    if text == "unexpected end of data":
        return 'a quoted cell that starts here is never closed (the file ends inside quotes); close or remove the quote (")'
    if text.startswith("field larger than field limit"):
        return (f"a cell is longer than {csv.field_size_limit()} characters, the csv module's limit "
                '(csv.field_size_limit()); look for a quote (") that is never closed')
    if "expected after" in text:
        return 'text follows a closing quote; inside a quoted cell write a quote as two ("")'
    return f"not valid CSV ({text})"


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str):
    """The lines of ``text`` with their ends (\r\n, \r or \n), one at a time: what
    io.StringIO(text, newline="") gives, without its copy of the text at 4 bytes a character."""
    return (m.group() for m in _LINE.finditer(text))


def _records(text: str, name: str):
    """The non-blank records, one at a time, each with the physical line it starts on. A blank record has
    no text in any cell (an empty line, only spaces or only commas); a quoted cell may span
    lines."""
    # newline="" leaves line ends to csv, which reads \r\n, \r and \n, also inside quotes;
    # strict makes an unclosed quote an error instead of a cell holding the rest of the file.
    reader = csv.reader(_lines(text), strict=True)
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        # an unclosed quote is best found where its record starts, stray text where it is
        line = reader.line_num if "expected after" in str(exc) else start
        raise DataError(f"{name}, line {line}: {_csv_problem(exc)}") from None


def _separator_hint(header: list[str]) -> str:
    """A hint when one header cell holds what look like other separators (';' or tabs)."""
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        return "; the header looks separated by ';' or tabs, but elman reads comma-separated files"
    return ""


def _check_header(header: list[str], name: str, line: int) -> None:
    first_of = {}
    for k, h in enumerate(header):
        # unnamed columns are allowed (pandas writes its index so); column= cannot name them
        if h and h in first_of:
            raise DataError(f"{name}, line {line}: columns {first_of[h] + 1} and {k + 1} are both named {_show(h)}; "
                            "rename one so that each column has its own name")
        first_of.setdefault(h, k)
    if all(_DECIMAL.fullmatch(h) for h in header):  # a file without a header would lose its first row
        raise DataError(f"{name}, line {line}: the first line should name the columns but holds only numbers "
                        f"{_show_names(header)}; add a header line of column names")


def load_csv(path, column: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A series from a comma-separated UTF-8 file with a header row.

    column : the name of the column to read. By default, the last column holding a
        number anywhere in the file (a cell meant as one, even one refused below:
        'nan', '1e999', '1,000', '0x10', what Python's float() reads); all its cells must
        then be numbers. The first column is not read by default when there are others
        (it is where labels go): that is an error asking for column=.
    Returns (labels, values): labels are the first column (stripped text) when it is not
    the one read and not all numbers, else the row numbers 0, 1, ...; values float64.

    Numbers are ASCII decimals: an optional sign, digits, an optional point and exponent
    (``-1.5e3``), with spaces around them allowed. NaN, infinity, missing-value words
    ('NA', 'null'), literals that overflow float64, '_' separators and digits other than
    0-9 are refused. Blank lines (no text in any cell) are skipped; line numbers in
    messages are physical lines, the first line of the file being 1 (a row whose quoted
    cell spans lines has the line it starts on). Columns may be unnamed (pandas' index)
    but cannot be named with column=; two columns may not share a name.

    Raises DataFileError for a missing file, a directory or a file that is not UTF-8 text,
    and DataError naming the file, the line and the column for broken CSV (an unclosed
    quote, a cell over the csv module's size limit), a duplicate column name, a header of
    only numbers, a missing column, a row of the wrong width, an empty or non-numeric cell,
    or no data rows; InputTypeError or ParameterError for a ``column`` that is not a name.
    """
    p = as_path(path)
    if column is not None:
        if not isinstance(column, str):
            raise InputTypeError(f"column must be a column name (str), got {type(column).__name__} {column!r}")
        column = column.strip()
        if not column:
            raise ParameterError("column must be a non-empty column name, got an empty string")
    text = _read_text(p)
    name = p.name if p.name.isprintable() else repr(p.name)  # messages stay one line
    # Two passes over the text, keeping no rows: the first checks the shape and finds
    # the columns that hold numbers, the second reads one column (and the labels). A
    # list of every row's cells would take about 15 times the file's size.
    records = _records(text, name)
    head = next(records, None)
    if head is None:
        raise DataError(f"{name}: the file is empty; expected a header row and data rows")
    header_line, header = head
    header = [h.strip() for h in header]
    _check_header(header, name, header_line)
    n_rows, has_number, last_text = 0, [False] * len(header), None
    for line, cells in records:
        n_rows += 1
        if len(cells) != len(header):
            raise DataError(f"{name}, line {line}: {len(cells)} cells but the header has {len(header)} columns"
                            + _separator_hint(header))
        for k, cell in enumerate(cells):
            if not has_number[k] and _looks_numeric(cell.strip()):
                has_number[k] = True
        if last_text is None and cells[-1].strip():
            last_text = f"line {line}: {_show(cells[-1].strip())}"
    if not n_rows:
        raise DataError(f"{name}: the header has no data rows under it")
    body = itertools.islice(_records(text, name), 1, None)  # the rows again, for the second pass

    def column_cells(k: int):
        return (cells[k].strip() for _, cells in body)

    if column is not None:
        if column not in header:
            raise DataError(f"{name}: no column {_show(column)}; the columns are {_show_names(header)}")
        j = header.index(column)
    else:
        # The whole file decides, not the first row: a first cell left empty must be
        # reported, not make another column the one read.
        j = next((k for k in reversed(range(len(header))) if has_number[k]), None)
        if j is None:
            raise DataError(f"{name}: no column holds numbers; the columns are {_show_names(header)}"
                            + _separator_hint(header))
        if j == 0 and len(header) > 1:
            # the first column is where labels go (dates, times): when it alone holds
            # numbers, the data column after it is more likely broken than absent
            raise DataError(f"{name}: only the first column ({_column(header, 0)}) holds numbers; the last, "
                            f"{_column(header, len(header) - 1)}, has none ({last_text or 'no text'}); name the "
                            "column to read with column=")

    values, first = np.empty(n_rows), []
    for i, (line, cells) in enumerate(body):
        cell = cells[j].strip()
        problem = _number_problem(cell)
        if problem is not None:
            if column is None and cell and not _looks_numeric(cell) and cell.lower() not in _MISSING:
                problem += "; to read another column, name it with column="
            raise DataError(f"{name}, line {line}, {_column(header, j)}: {problem}")
        values[i] = float(cell)
        first.append(cells[0].strip())

    first_is_numbers = any(first) and all(_looks_numeric(c) for c in first if c)
    labels = np.array(first) if j != 0 and not first_is_numbers else np.arange(n_rows)
    return labels, values
