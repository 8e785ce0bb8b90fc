"""Fuzzing load_csv: a valid CSV file with its bytes damaged, and files built from
generated cells. Whatever the bytes, load_csv returns (labels, values) or raises an
ElmanError; when it returns, it agrees with a small reference reader written from the
documented rules, and when it refuses, so does the reference."""

from __future__ import annotations

import csv
import io
import math
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elman.datasets import load_csv
from elman.errors import ElmanError

FUZZ = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
PEAK_LIMIT = 200e6  # bytes traced by tracemalloc while one file is read


def valid_csv() -> bytes:
    """30 rows: a date column and two numeric columns (signs, points, exponents)."""
    lines = ["date,level,flow"]
    for i in range(30):
        level = (i * 37 % 101) / 10 - 5
        lines.append(f"2021-{1 + i // 28:02d}-{1 + i % 28:02d},{level:.2f},{(i + 1) * 1.5e3:.3e}")
    return ("\n".join(lines) + "\n").encode()


BASE = valid_csv()

# ---- the reference reader: the documented rules, written out again -------------------
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
OTHER = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|\d+([,_]\d+)+(\.\d*)?)", re.ASCII)


def meant_as_number(cell: str) -> bool:
    """A cell meant as a number, refused or not: decides which column is read."""
    if NUMBER.fullmatch(cell) or OTHER.fullmatch(cell):
        return True
    try:
        float(cell)
        return True
    except ValueError:
        return False


def reference(data: bytes):
    """(labels, values) as lists, or None where the file is to be refused."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None  # UTF-16
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    rows = [[c.strip() for c in r] for r in records if any(c.strip() for c in r)]
    if len(rows) < 2:
        return None
    header, body = rows[0], rows[1:]
    names = [h for h in header if h]
    if len(set(names)) < len(names) or all(NUMBER.fullmatch(h) for h in header):
        return None
    if any(len(r) != len(header) for r in body):
        return None
    columns = list(zip(*body))
    holding = [k for k, col in enumerate(columns) if any(map(meant_as_number, col))]
    if not holding or (holding[-1] == 0 and len(header) > 1):
        return None
    j = holding[-1]
    if not all(NUMBER.fullmatch(c) for c in columns[j]):
        return None
    values = [float(c) for c in columns[j]]
    if not all(map(math.isfinite, values)):
        return None
    first = columns[0]
    first_is_numbers = any(first) and all(meant_as_number(c) for c in first if c)
    labels = list(first) if j != 0 and not first_is_numbers else list(range(len(body)))
    return labels, values


# ---- inputs --------------------------------------------------------------------------
SPECIAL = [b'"', b",", b"\n", b"\r", b"\r\n", b"\x00", "\u0661".encode(), "\uff15".encode(), b"\xef\xbb\xbf",
           b"\xff", b"\xe9", b"nan", b"inf", b"1e999", b"_", b" ", b"-", b".", b"e", b"0x", b"\t", b";", b"date"]
position = st.integers(0, 2**16)  # taken modulo the length at the time
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("insert"), position, st.sampled_from(SPECIAL) | st.binary(min_size=1, max_size=3)),
    st.tuples(st.just("delete"), position, st.integers(1, 6)),
    st.tuples(st.just("truncate"), position, st.just(0)),
)


def mutate(data: bytes, mutations) -> bytes:
    b = bytearray(data)
    for kind, pos, arg in mutations:
        at = pos % (len(b) + 1)
        if kind == "flip" and at < len(b):
            b[at] ^= 1 << arg
        elif kind == "insert":
            b[at:at] = arg
        elif kind == "delete":
            del b[at:at + arg]
        elif kind == "truncate":
            del b[at:]
    return bytes(b)


number = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # '1e+300', '5e-324', '-0.0'
    st.integers(-10**30, 10**30).map(str),
    # decimal forms (st.from_regex would be slower): sign, digits, point, exponent, spaces
    st.tuples(st.sampled_from(["", "+", "-", " "]), st.sampled_from(["", "0", "7", "42", "1234"]),
              st.sampled_from(["", ".", ".5", ".25"]), st.sampled_from(["", "e3", "E-2", "e+10", "e400", "e"]),
              st.sampled_from(["", " ", "\t"])).map("".join),
)
cell = st.one_of(
    number,
    st.floats().map(repr),  # also 'nan' and 'inf'
    st.sampled_from(["", " ", "1_000", "1,000", "0x10", "\u0661\u0662", "1e999", "NA", "null", " 2.5 ", "-.5e+1",
                     "1.", ".", "e5", "Infinity", "-inf", "2021-01-01", "low", '"', '"x"y']),
    st.text(max_size=6),
)
date = st.sampled_from(["2021-01-01", "2021-01-02", "Jan 3", "", "4"])


@st.composite
def generated_csv(draw) -> bytes:
    n_cols = draw(st.integers(1, 4))
    names = st.sampled_from(["date", "level", "flow", "", " level ", "1.5", "x"])
    header = draw(st.lists(names, min_size=n_cols, max_size=n_cols, unique=draw(st.integers(0, 3)) > 0))
    if draw(st.booleans()):  # a plausible file: dates, then numbers
        row = st.tuples(date, st.lists(number, min_size=n_cols - 1, max_size=n_cols - 1))
        rows = [[d, *cells] for d, cells in draw(st.lists(row, min_size=1, max_size=10))]
    else:
        rows = draw(st.lists(st.lists(cell, min_size=n_cols, max_size=n_cols), max_size=10))
    if rows and draw(st.integers(0, 4)) == 0:  # one cell changed, or one row a cell short or long
        row = rows[draw(st.integers(0, len(rows) - 1))]
        change = draw(st.sampled_from(["cell", "append", "pop"]))
        if change == "cell":
            row[draw(st.integers(0, len(row) - 1))] = draw(cell)
        elif change == "append":
            row.append("1")
        else:
            row.pop()
    if draw(st.booleans()):  # proper quoting
        out = io.StringIO()
        csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"]))).writerows([header] + rows)
        text = out.getvalue()
    else:  # naive joining: quotes, commas and line breaks in cells break the rows
        text = "\n".join(",".join(r) for r in [header] + rows) + draw(st.sampled_from(["", "\n"]))
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


# ---- the property --------------------------------------------------------------------
def check(path, data: bytes) -> None:
    path.write_bytes(data)
    # Traced only while load_csv runs: tracing hypothesis too would slow the test tenfold.
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        got = load_csv(path)
    except ElmanError as exc:  # anything else escapes and fails the test
        got = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        if started:
            tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"{peak / 1e6:.0f} MB traced reading {data[:200]!r}"
    want = reference(data)
    if isinstance(got, ElmanError):
        assert want is None, f"refused ({got}) but the reference reads {data[:300]!r}"
        assert "\n" not in str(got)
        return
    assert want is not None, f"read, but the reference refuses {data[:300]!r}"
    labels, values = got
    assert values.dtype == np.float64 and values.shape == (len(labels),) and np.isfinite(values).all()
    assert values.tolist() == want[1] and labels.tolist() == want[0]


def test_the_valid_file_is_read(tmp_path):
    (tmp_path / "base.csv").write_bytes(BASE)
    labels, values = load_csv(tmp_path / "base.csv")
    assert (labels.tolist(), values.tolist()) == reference(BASE) and len(values) == 30
    assert labels[0] == "2021-01-01" and values[-1] == 45e3  # the last numeric column


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_damaged_bytes(tmp_path_factory, mutations):
    check(tmp_path_factory.getbasetemp() / "fuzz-damaged.csv", mutate(BASE, mutations))


@FUZZ
@given(data=generated_csv())
def test_generated_cells(tmp_path_factory, data):
    check(tmp_path_factory.getbasetemp() / "fuzz-generated.csv", data)
