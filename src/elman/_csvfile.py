"""Reading a user's CSV file into a series (:func:`load_csv`, re-exported by
:mod:`elman.datasets`). Every broken file ends in a DataFileError (the file itself:
missing, a directory, not UTF-8 text) or a DataError (its content), on one line that
names the file, the line and the column."""

from __future__ import annotations

import codecs
import csv
import itertools
import math
import re
from dataclasses import dataclass

import numpy as np

from .errors import DataError, DataFileError, InputTypeError, ParameterError, as_path
from .timeindex import parse_times, time_problem
from .validation import _check_file

__all__ = ["load_csv", "load_table", "Table"]

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
    _check_file(p, DataFileError, "data file", "give the path of a CSV file")
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
    column = _column_name(column)
    text = _read_text(p)
    name = p.name if p.name.isprintable() else repr(p.name)  # messages stay one line
    # Two passes over the text, keeping no rows: the first checks the shape and finds
    # the columns that hold numbers, the second reads one column (and the labels). A
    # list of every row's cells would take about 15 times the file's size.
    header, n_rows, has_number, last_text = _scan(text, name)
    j = _pick_column(header, column, has_number, last_text, name)
    body = itertools.islice(_records(text, name), 1, None)  # the rows again, for the second pass
    values, _, texts = _read_table(body, header, [j], [0], False, n_rows, "column=" if column is None else None, name)
    first = texts[0]  # the labels: the first column, unless it is read or holds numbers
    first_is_numbers = any(first) and all(_looks_numeric(c) for c in first if c)
    labels = np.array(first) if j != 0 and not first_is_numbers else np.arange(n_rows)
    return labels, values[:, 0]


def _column_name(column, what: str = "column") -> str | None:
    """load_csv's ``column`` (or load_table's ``what``): None, or a name (stripped, not empty)."""
    if column is None:
        return None
    if not isinstance(column, str):
        raise InputTypeError(f"{what} must be a column name (str), got {type(column).__name__} {column!r}")
    column = column.strip()
    if not column:
        raise ParameterError(f"{what} must be a non-empty column name, got an empty string")
    return column


def _scan(text: str, name: str) -> tuple[list[str], int, list[bool], str | None]:
    """The first pass: (header, number of rows, which columns hold a number anywhere,
    the first text in the last column as "line L: 'text'"); every row has the header's width."""
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
    return header, n_rows, has_number, last_text


def _pick_column(header: list[str], column: str | None, has_number: list[bool], last_text: str | None,
                 name: str) -> int:
    """The index of the column to read: the one named, else the last holding a number."""
    if column is not None:
        if column not in header:
            raise DataError(f"{name}: no column {_show(column)}; the columns are {_show_names(header)}")
        return header.index(column)
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
    return j


@dataclass(frozen=True, eq=False)
class Table:
    """:func:`load_table`'s columns: target (L,) float64 ((0,) when there is none), inputs
    (L, E) float64, labels (the time column's stripped text, else the row numbers), times
    (the labels as datetime64, else None), lines (L,): each row's line in the file."""

    target_name: str | None
    target: np.ndarray
    input_names: tuple[str, ...]
    inputs: np.ndarray
    time_name: str | None
    labels: np.ndarray
    times: np.ndarray | None
    lines: np.ndarray


def load_table(path, target: str | None = None, inputs=(), time_column: str | None = None, *,
               require_target: bool = True) -> Table:
    """Several columns of a CSV file, each read as :func:`load_csv` reads one (same rules
    and messages). target: by default the last column holding a number that is not named
    as an input or the time column; with ``require_target=False`` it may be absent (then
    ``target`` is empty, ``target_name`` None) and, left None, is not read. inputs: other
    numeric columns, each named once. time_column: dates or times (4-digit years too); by
    default the first other column whose every cell is a date or time (years excluded)."""
    p = as_path(path)
    target, time_column = _column_name(target, "target"), _column_name(time_column, "time_column")
    inputs = _input_names(inputs, target, time_column)
    text, name = _read_text(p), p.name if p.name.isprintable() else repr(p.name)
    header, n_rows, has_number, _ = _scan(text, name)
    for col in (target if require_target else None, time_column, *inputs):
        if col is not None and col not in header:
            raise DataError(f"{name}: no column {_show(col)}; the columns are {_show_names(header)}")
    named = {header.index(c) for c in (time_column, *inputs) if c is not None}
    jt = (header.index(target) if target in header else None) if target is not None \
        else _default_target(header, has_number, named, name) if require_target else None  # absent: not required
    jtime = header.index(time_column) if time_column is not None else None
    candidates = [jtime] if jtime is not None else \
        [k for k in range(len(header)) if not has_number[k] and k not in named and k != jt]
    numeric = ([] if jt is None else [jt]) + [header.index(c) for c in inputs]
    body = itertools.islice(_records(text, name), 1, None)  # the rows again, for the second pass
    values, lines, texts = _read_table(body, header, numeric, candidates, jtime is None, n_rows,
                                       "target=" if target is None and jt is not None else None, name)
    jtime, times = _find_times(texts, time_column is not None, header, lines, name)
    y, x = (values[:, 0], values[:, 1:]) if jt is not None else (np.empty(0), values)
    return Table(None if jt is None else header[jt], y, inputs, x, None if jtime is None else header[jtime],
                 np.arange(n_rows) if jtime is None else np.array(texts[jtime]), times, lines)


def _input_names(inputs, target: str | None, time_column: str | None) -> tuple[str, ...]:
    """load_table's ``inputs``: distinct names, neither the target nor the time column."""
    if not isinstance(inputs, (list, tuple)):  # a str too: one column is (name,)
        raise InputTypeError(f"inputs must be a list or tuple of column names, got {type(inputs).__name__} "
                             f"{_show(str(inputs))}; for one column write (name,)")
    names = tuple(_column_name(c, "each of inputs") for c in inputs)
    for k, c in enumerate(names):
        if c in names[:k]:
            raise ParameterError(f"inputs names the column {_show(c)} twice; name each input column once")
        for role, other in (("target", target), ("time column", time_column)):
            if c == other:
                raise ParameterError(f"inputs names the column {_show(c)}, which is the {role}; an input column "
                                     f"is another column (the target's own past is always an input)")
    if target is not None and target == time_column:
        raise ParameterError(f"the column {_show(target)} is named both as the target and as the time column")
    return names


def _default_target(header: list[str], has_number: list[bool], named: set[int], name: str) -> int:
    """load_table's target by default: the last column holding a number, other than those named."""
    free = [k for k in range(len(header)) if k not in named]
    j = next((k for k in reversed(free) if has_number[k]), None)
    if j is None:
        raise DataError(f"{name}: no column{' besides those named' * bool(named)} holds numbers; the columns are "
                        f"{_show_names(header)}"
                        + _separator_hint(header))
    if j == 0 and len(free) > 1:  # the first column is where labels go: as in load_csv, not read unasked
        raise DataError(f"{name}: only the first column ({_column(header, 0)}) holds numbers; name the target "
                        "column with target=")
    return j


def _read_table(body, header: list[str], numeric: list[int], candidates: list[int], pick: bool, n_rows: int,
                hint: str | None, name: str) -> tuple[np.ndarray, np.ndarray, dict[int, list[str]]]:
    """The second pass: (values (L, len(numeric)), each row's line, the stripped text of the
    ``candidates``, or with ``pick`` of the first whose first cell is a date or time);
    ``hint``, said at a text cell of numeric[0], names the argument that picks a column."""
    values, lines = np.empty((n_rows, len(numeric))), np.empty(n_rows, dtype=np.int64)
    texts: dict[int, list[str]] = {k: [] for k in candidates}
    for i, (line, cells) in enumerate(body):
        lines[i] = line
        for c, j in enumerate(numeric):
            values[i, c] = _number(cells[j].strip(), line, header, j, name, hint if c == 0 else None)
        if pick and i == 0:
            texts = {k: [] for k in candidates if parse_times([cells[k]]) is not None}
            texts = dict(list(texts.items())[:1])
        for k, text in texts.items():
            text.append(cells[k].strip())
    return values, lines, texts


def _find_times(texts: dict[int, list[str]], named: bool, header: list[str], lines: np.ndarray,
                name: str) -> tuple[int | None, np.ndarray | None]:
    """(the time column, its times), or (None, None) when ``texts`` holds none; a DataError
    at its first cell that is not a time like the first (4-digit years read when ``named``)."""
    if not texts:
        return None, None
    (j, text), = texts.items()
    times = parse_times(text, years=named)
    if times is None:
        i, why = time_problem(text, years=named)
        taken = "" if named else " (taken as the time column: its first cell is a date or time)"
        raise DataError(f"{name}, line {lines[i]}, {_column(header, j)}: {why}{taken}")
    return j, times


def _number(cell: str, line: int, header: list[str], j: int, name: str, hint: str | None) -> float:
    """A stripped cell as a finite float, or a DataError naming the line and the column;
    ``hint``: the argument that names another column (said when the cell is text)."""
    problem = _number_problem(cell)
    if problem is None:
        return float(cell)
    if hint and cell and not _looks_numeric(cell) and cell.lower() not in _MISSING:
        problem += f"; to read another column, name it with {hint}"
    raise DataError(f"{name}, line {line}, {_column(header, j)}: {problem}")
