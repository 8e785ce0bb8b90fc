"""load_csv on broken files: every one ends in an elman error on one line that names the
file, the line and the column; numbers are read as a CSV user writes them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from elman.datasets import load_csv
from elman.errors import DataError, DataFileError, ElmanError, InputTypeError, ParameterError

HEAD = b"date,value\n2020-01,1.5\n"  # a good start; line 3 is the first one a case adds


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


# (what goes wrong, file bytes, column=, exception type, regex the message must match)
BAD = [
    ("first value of the last column empty", b"date,a,b\n2020-01,1,\n2020-02,2,3\n", None,
     DataError, r"b\.csv, line 2, column 'b': the cell is empty; expected a number"),
    ("empty cell later", HEAD + b"2020-02,\n", None,
     DataError, r"b\.csv, line 3, column 'value': the cell is empty"),
    ("cell over the csv size limit", HEAD + b"2020-02," + b"9" * 200_000 + b"\n", None,
     DataError, r"b\.csv, line 3: a cell is longer than 131072 characters, the csv module's limit"),
    ("unclosed quote", HEAD + b'2020-02,"2\n2020-03,3\n', None,
     DataError, r"b\.csv, line 3: a quoted cell that starts here is never closed"),
    ("unclosed quote on the last line", HEAD + b'2020-02,"2', None,
     DataError, r"b\.csv, line 3: a quoted cell that starts here is never closed"),
    ("text after a closing quote", HEAD + b'2020-02,"2"5\n', None,
     DataError, r'b\.csv, line 3: text follows a closing quote; inside a quoted cell write a quote as two \(""\)'),
    ("NUL byte", HEAD + b"2020-\x0002,2\n", None,
     DataFileError, r"'.*b\.csv', line 3: a NUL byte \(0x00\).*not UTF-8 text; save it as UTF-8 CSV"),
    ("Latin-1 text", HEAD + "2020-d\xe9c,2\n".encode("latin-1"), None,
     DataFileError, r"b\.csv', line 3: byte 0xe9 is not UTF-8 \(is the file Latin-1 or Windows-1252\?\); save it as UTF-8"),
    ("UTF-16 with a byte-order mark", "date,value\n2020-01,1\n".encode("utf-16"), None,
     DataFileError, r"b\.csv' is UTF-16 text .*save it as UTF-8 CSV"),
    ("UTF-16 without a byte-order mark", "date,value\n2020-01,1\n".encode("utf-16-le"), None,
     DataFileError, r"b\.csv', line 1: a NUL byte"),
    ("duplicate column names", b"date,value,x,value\n2020-01,1,2,3\n", None,
     DataError, r"b\.csv, line 1: columns 2 and 4 are both named 'value'"),
    ("duplicate names once stripped", b"date, v ,v\n2020-01,1,2\n", "v",
     DataError, r"columns 2 and 3 are both named 'v'"),
    ("Arabic-Indic digits", HEAD + utf8("2020-02,١٢٣\n"), None,
     DataError, r"line 3, column 'value': '١٢٣' is not a finite number: it has digits other than ASCII 0-9"),
    ("full-width digits", HEAD + utf8("2020-02,１２\n"), None,
     DataError, r"line 3, column 'value': '１２' is not a finite number: it has digits other than ASCII"),
    ("underscore separators", HEAD + b"2020-02,1_000\n", None,
     DataError, r"line 3, column 'value': '1_000' is not a finite number; expected a decimal number like 1\.5 or -2e3 \(without '_'"),
    ("quoted thousands separator", HEAD + b'2020-02,"1,000"\n', None,
     DataError, r"line 3, column 'value': '1,000' is not a finite number.*without '_' or ','"),
    ("nan", HEAD + b"2020-02,nan\n", None,
     DataError, r"line 3, column 'value': 'nan' is not a finite number; fill or drop the missing values"),
    ("NA", HEAD + b"2020-02, NA \n", None,
     DataError, r"line 3, column 'value': 'NA' is not a finite number; fill or drop the missing values"),
    ("inf", HEAD + b"2020-02,inf\n", None,
     DataError, r"line 3, column 'value': 'inf' is not a finite number; expected a finite decimal number"),
    ("-Infinity", HEAD + b"2020-02,-Infinity\n", None,
     DataError, r"line 3, column 'value': '-Infinity' is not a finite number"),
    ("hexadecimal", HEAD + b"2020-02,0x10\n", None,
     DataError, r"line 3, column 'value': '0x10' is not a finite number; expected a decimal number"),
    ("literal that overflows", HEAD + b"2020-02,1e999\n", None,
     DataError, r"line 3, column 'value': '1e999' overflows float64 \(the largest is about 1\.8e308\)"),
    ("400 digits overflow", HEAD + b"2020-02," + b"9" * 400 + b"\n", None,
     DataError, r"line 3, column 'value': '9{40}'\.\.\. \(400 characters\) overflows float64"),
    ("text in the column read", HEAD + b"2020-02,high\n", None,
     DataError, r"line 3, column 'value': 'high' is not a finite number.*name it with column="),
    ("only the first column holds numbers", b"t,v\n1,\n2,x\n", None,
     DataError, r"b\.csv: only the first column \(column 't'\) holds numbers; the last, column 'v', has none "
                r"\(line 3: 'x'\); name the column to read with column="),
    ("header of numbers (no header)", b"1.5,2\n2.5,3\n", None,
     DataError, r"b\.csv, line 1: the first line should name the columns but holds only numbers \['1\.5', '2'\]"),
    ("no column holds numbers", b"date,note\n2020-01,low\n", None,
     DataError, r"b\.csv: no column holds numbers; the columns are \['date', 'note'\]"),
    ("semicolon-separated file", b"date;value\n2020-01;1,5\n", None,
     DataError, r"line 2: 2 cells but the header has 1 columns; the header looks separated by ';'"),
    ("row too short", HEAD + b"2020-02\n", None,
     DataError, r"b\.csv, line 3: 1 cells but the header has 2 columns"),
    ("no such column", HEAD, "level",
     DataError, r"b\.csv: no column 'level'; the columns are \['date', 'value'\]"),
    ("empty column name", b",value\n0,1\n", "",
     ParameterError, r"column must be a non-empty column name"),
    ("column given as a number", HEAD, 1,
     InputTypeError, r"column must be a column name \(str\), got int 1"),
    ("only blank lines", b"\n  \n,,\n", None,
     DataError, r"b\.csv: the file is empty"),
    ("line numbers count blank lines", b"date,value\n\n2020-01,1\n\n\n2020-02,x\n", None,
     DataError, r"line 6, column 'value': 'x'"),
    ("line numbers with \\r line ends", b"date,value\r2020-01,1\r2020-02,x\r", None,
     DataError, r"line 3, column 'value': 'x'"),
    ("line numbers after a quoted line break", b'date,value\n"2020\n01",1\n2020-02,x\n', None,
     DataError, r"line 4, column 'value': 'x'"),
    ("a long cell is cut in the message", HEAD + b"2020-02," + b"a" * 5000 + b"\n", None,
     DataError, r"'a{40}'\.\.\. \(5000 characters\) is not a finite number"),
]


@pytest.mark.parametrize("what,content,column,exc,pattern", BAD, ids=[c[0] for c in BAD])
def test_bad_csv(tmp_path, what, content, column, exc, pattern):
    p = tmp_path / "b.csv"
    p.write_bytes(content)
    limit = csv.field_size_limit()
    with pytest.raises(exc, match=pattern) as info:
        load_csv(p, column=column)
    assert isinstance(info.value, ElmanError)
    assert "\n" not in str(info.value)  # one line, whatever the file held
    assert csv.field_size_limit() == limit  # the process-wide limit is left alone


def test_a_directory_is_not_a_missing_file(tmp_path):
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(DataFileError, match=r"'.*data\.csv' is a directory, not a file"):
        load_csv(tmp_path / "data.csv")
    with pytest.raises(DataFileError, match=r"'.*none\.csv' does not exist"):
        load_csv(tmp_path / "none.csv")
    with pytest.raises(DataFileError, match=r"does not exist"):
        load_csv(tmp_path / "none" / "x.csv")


def read(tmp_path, content: bytes, column=None):
    p = tmp_path / "g.csv"
    p.write_bytes(content)
    labels, values = load_csv(p, column=column)
    assert values.dtype == np.float64 and len(labels) == len(values)
    return labels.tolist(), values.tolist()


def test_the_whole_file_chooses_the_column(tmp_path):
    # an empty trailing column (trailing commas) and a column of text are not read
    assert read(tmp_path, b"date,a,b,\n2020-01,1,2,\n2020-02,3,4,\n") == (["2020-01", "2020-02"], [2.0, 4.0])
    assert read(tmp_path, b"date,a,note\n2020-01,1,low\n2020-02,3,high\n")[1] == [1.0, 3.0]
    # labels stay text when the first column is not all numbers, though its first cell is one
    assert read(tmp_path, b"when,v\n2020,1\n2020-02,2\n")[0] == ["2020", "2020-02"]
    # a numeric first column gives row numbers; an unnamed one (pandas' index) is allowed
    assert read(tmp_path, b",value\n10,1.5\n11,2.5\n") == ([0, 1], [1.5, 2.5])
    assert read(tmp_path, b"date,a,b\n2020-01,1,2\n", column="a") == (["2020-01"], [1.0])
    assert read(tmp_path, b"t,v\n1,\n2,x\n", column=" t ") == ([0, 1], [1.0, 2.0])  # the first column, asked for
    assert read(tmp_path, b"value\n1\n2\n") == ([0, 1], [1.0, 2.0])


def test_numbers_as_a_csv_user_writes_them(tmp_path):
    cells = [" 1.5 ", "\t-2\t", "+3", "-0", "1e3", "1.5E-2", "-.5e+1", "1.", ".5", "007", "1e-400", '" 4 "']
    content = ("date,value\n" + "".join(f"d{i},{c}\n" for i, c in enumerate(cells))).encode()
    _, values = read(tmp_path, content)
    assert values == [1.5, -2.0, 3.0, 0.0, 1000.0, 0.015, -5.0, 1.0, 0.5, 7.0, 0.0, 4.0]
    assert read(tmp_path, b"v\n-1.7976931348623157e308\n")[1] == [-1.7976931348623157e308]  # the edge of float64


def test_byte_order_mark_line_ends_and_blank_lines(tmp_path):
    content = b"\xef\xbb\xbfdate , value\r\n\r\n2020-01 , 1\r\n  \r\n,\r\n2020-02,2\r\n"
    assert read(tmp_path, content, column="value") == (["2020-01", "2020-02"], [1.0, 2.0])
    assert read(tmp_path, b"date,value\r2020-01,1\r2020-02,2") == (["2020-01", "2020-02"], [1.0, 2.0])
    assert read(tmp_path, b'date,value\n"2020\n01",1\n')[0] == ["2020\n01"]  # a quoted line break


CLI_CASES = [
    ("first value empty", b"date,level\n2000-01,\n" + b"".join(b"2000-%02d,%d\n" % (i, i) for i in range(2, 40)),
     r"levels\.csv, line 2, column 'level': the cell is empty"),
    ("unclosed quote", b'date,level\n2000-01,1\n2000-02,"2\n2000-03,3\n', r"levels\.csv, line 3: a quoted cell"),
    ("NUL byte", b"date,level\n2000-01,1\x00\n", r"'levels\.csv', line 2: a NUL byte"),
    ("cell over the size limit", b"date,level\n2000-01," + b"1" * 140_000 + b"\n", r"line 2: a cell is longer than"),
]


@pytest.mark.parametrize("what,content,pattern", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_exits_2_with_one_line(tmp_path, what, content, pattern):
    import re

    (tmp_path / "levels.csv").write_bytes(content)
    env = {**os.environ, "MPLBACKEND": "Agg", "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, "-m", "elman", "train", "--data", "levels.csv", "--epochs", "1",
                        "--out", "run", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1 and r.stderr.endswith("\n"), r.stderr
    assert re.search(pattern, r.stderr), r.stderr
    assert not (tmp_path / "run" / "model.npz").exists()  # refused, not trained


def test_memory_is_a_few_times_the_file_not_a_list_of_every_cell(tmp_path):
    # 20 columns x 20,000 rows (3.8 MB): a list of every row's cells took ~14x the file
    # size (1.3 GB for a 90 MB file); two passes over the text keep one column.
    import tracemalloc

    rng = np.random.default_rng(0)
    path = tmp_path / "wide.csv"
    with open(path, "w") as f:
        f.write(",".join(f"c{i}" for i in range(20)) + "\n")
        np.savetxt(f, rng.standard_normal((20_000, 20)), delimiter=",", fmt="%.6f")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        _, values = load_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert values.shape == (20_000,)
    assert peak < 4 * size, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
