"""Time labels (elman.timeindex), CSV files of several columns (datasets.load_table) and
the date axis of the plots: dates parsed at their own resolution, the spacing found in
calendar months where it is monthly, labels continued past the end of the data."""

from __future__ import annotations

import numpy as np
import pytest

from elman import datasets, timeindex
from elman.datasets import Table, load_csv, load_table
from elman.errors import DataError, InputTypeError, NonFiniteError, ParameterError, ShapeError
from elman.timeindex import Step, continue_times, default_season, format_times, infer_step, parse_times

# ------------------------------------------------------------------ parse_times

FORMATS = [
    (["2020-01", "2020-02"], "M", ["2020-01", "2020-02"]),
    (["2020/01", " 2020/02 "], "M", ["2020-01", "2020-02"]),
    (["2020-Q1", "2020-Q4", "2021Q2", "2021-q3"], "M", ["2020-01", "2020-10", "2021-04", "2021-07"]),
    (["2020-01-31", "2020-02-29"], "D", ["2020-01-31", "2020-02-29"]),
    (["2020/01/31", "2020/02/29"], "D", ["2020-01-31", "2020-02-29"]),
    (["2020-03-01 12:00", "2020-03-01T12:15"], "m", ["2020-03-01T12:00", "2020-03-01T12:15"]),
    (["2020-03-01 12:00:05", "2020-03-01T12:00:10"], "s", ["2020-03-01T12:00:05", "2020-03-01T12:00:10"]),
]


@pytest.mark.parametrize("labels, unit, iso", FORMATS, ids=[f[0][0] for f in FORMATS])
def test_each_format_is_read_at_its_own_resolution(labels, unit, iso):
    t = parse_times(labels)
    assert t.dtype == np.dtype(f"datetime64[{unit}]")
    assert format_times(t) == iso
    assert parse_times(np.array(labels)).tolist() == t.tolist()  # a NumPy array of text too


def test_years_are_dates_only_when_asked():
    assert parse_times(["1990", "1991"]) is None
    t = parse_times([" 1990", "1991 "], years=True)
    assert t.dtype == np.dtype("datetime64[Y]") and format_times(t) == ["1990", "1991"]


@pytest.mark.parametrize("labels", [
    ["1", "2"], ["1.5", "2.5"], ["a", "b"], ["2020-01", "abc"], ["2020-01", ""],
    ["2020-01", "2020-01-15"],  # two formats in one column
    ["2020-01-01", "2020/01/02"], ["2020-13"], ["2020-02-30"], ["2021-02-29"], ["2020-01-01 24:00"],
    ["2020-1-5"], ["٢٠٢٠-01"], ["2020-01", 5], [], np.array([1, 2]), ["2020-01-01T12:00Z"],
], ids=repr)
def test_anything_else_is_not_dates(labels):
    assert parse_times(labels) is None


def test_a_single_string_or_a_table_is_refused():
    with pytest.raises(InputTypeError, match=r"labels must be a sequence of strings .* write \['2020-01'\]"):
        parse_times("2020-01")
    with pytest.raises(ShapeError, match=r"labels has shape \(1, 2\)"):
        parse_times([["2020-01", "2020-02"]])


def test_time_problem_says_which_label_and_why():
    assert timeindex.time_problem(["2020-01", "2020-02"]) is None
    assert timeindex.time_problem(["2020-01", "2020-01-15"]) == (
        1, "'2020-01-15' is written as YYYY-MM-DD but the first label '2020-01' as YYYY-MM; "
           "write every time the same way")
    i, why = timeindex.time_problem(["2020-01-30", "2020-01-31", "2020-02-30"])
    assert (i, why) == (2, "'2020-02-30' is not a valid date or time: day out of range")
    i, why = timeindex.time_problem(["2020-01", "total"])
    assert i == 1 and why.startswith("'total' is not a date or time; expected a date or time such as 2020-01")
    assert "4-digit years are read as dates only when asked" in timeindex.time_problem(["1990"])[1]
    assert timeindex.time_problem(["1990"], years=True) is None


# ------------------------------------------------------------------ infer_step

STEPS = [
    (["2020-01", "2020-02", "2020-03"], ("M", 1), "monthly", 12),
    (["2020-01", "2020-04", "2020-07"], ("M", 3), "quarterly", 4),
    (["2020-Q3", "2020-Q4", "2021-Q1"], ("M", 3), "quarterly", 4),
    (["2020-01-01", "2020-04-01", "2020-07-01"], ("M", 3), "quarterly", 4),
    (["2019-12-01", "2020-01-01", "2020-02-01", "2020-03-01"], ("M", 1), "monthly", 12),
    (["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"], ("M", 1), "monthly", 12),  # month ends
    (["2020-01-15 09:30", "2020-02-15 09:30"], ("M", 1), "monthly", 12),
    (["2018-03-01", "2019-03-01", "2020-03-01"], ("M", 12), "yearly", None),
    (["2020-02-27", "2020-02-28", "2020-02-29", "2020-03-01"], ("D", 1), "daily", 7),
    (["2020-01-06", "2020-01-13", "2020-01-20"], ("W", 1), "weekly", 52),
    (["2020-01-06", "2020-01-20", "2020-02-03"], ("W", 2), "every 2 weeks", None),
    (["2020-01-01 23:00", "2020-01-02 00:00", "2020-01-02 01:00"], ("h", 1), "hourly", 24),
    (["2020-01-01 00:00", "2020-01-01 00:15", "2020-01-01 00:30"], ("m", 15), "every 15 minutes", None),
    (["2020-01-01 00:00:00", "2020-01-01 00:00:30"], ("s", 30), "every 30 seconds", None),
    (["2020-01-01 00:00:00", "2020-01-02 00:00:00"], ("D", 1), "daily", 7),
]


@pytest.mark.parametrize("labels, step, name, season", STEPS, ids=[s[0][0] + " " + s[2] for s in STEPS])
def test_the_spacing_is_found(labels, step, name, season):
    s = infer_step(parse_times(labels))
    assert (s.unit, s.n) == step and s.name == name and default_season(s) == season


def test_years_step_in_years():
    s = infer_step(parse_times(["1990", "1995", "2000"], years=True))
    assert (s.unit, s.n, s.name) == ("Y", 5, "every 5 years") and default_season(s) is None
    assert infer_step(["2020-01", "2020-02"]) == Step("M", 1)  # text is parsed


def test_step_names_and_checks():
    assert [Step(u).name for u in "YMWDhms"] == ["yearly", "monthly", "weekly", "daily", "hourly",
                                                 "every minute", "every second"]
    assert Step("M", 6).name == "every 6 months" and Step("M", 3) == Step("M", 3, "anything")
    with pytest.raises(ParameterError, match=r"unit must be one of"):
        Step("q")
    with pytest.raises(ParameterError, match=r"n must be"):
        Step("M", 0)
    with pytest.raises(InputTypeError, match=r"step must be a Step"):
        default_season(("M", 1))


def test_a_gap_is_named_by_its_row():
    labels = [f"{y}-{m:02d}" for y in (2020, 2021) for m in range(1, 13)]
    del labels[5]  # 2020-06 is missing
    with pytest.raises(DataError, match=r"^time column 'Month': row 5 \('2020-07'\) is 2 months after the row "
                                        r"before \('2020-05'\), but most rows are 1 month apart: the series must "
                                        r"be regularly spaced \(fill the gap first\)$"):
        infer_step(parse_times(labels), name="time column 'Month'")
    with pytest.raises(DataError, match=r"line 7 \('2020-07'\) is 2 months after"):
        infer_step(parse_times(labels), lines=np.arange(2, 2 + len(labels)))


def test_a_gap_in_days_and_a_first_gap_that_is_the_odd_one():
    with pytest.raises(DataError, match=r"row 1 \('2020-01-03'\) is 2 days after the row before \('2020-01-01'\), "
                                        r"but most rows are 1 day apart"):
        infer_step(parse_times(["2020-01-01", "2020-01-03", "2020-01-04", "2020-01-05"]))
    with pytest.raises(DataError, match=r"row 2 \('2020-01-01T02:00'\) is 90 minutes after .* 30 minutes apart"):
        infer_step(parse_times(["2020-01-01 00:00", "2020-01-01 00:30", "2020-01-01 02:00",
                                "2020-01-01 02:30"]))
    # a day of the month that wanders: not monthly, so spaced in days, and those differ
    with pytest.raises(DataError, match=r"row 1 \('2020-02-01'\) is 31 days after the row before \('2020-01-01'\), "
                                        r"but most rows are 30 days apart"):
        infer_step(parse_times(["2020-01-01", "2020-02-01", "2020-03-02", "2020-04-01"]))


def test_repeated_and_decreasing_times_are_refused():
    with pytest.raises(DataError, match=r"^times: row 2 \('2020-02'\) repeats the row before: the times must "
                                        r"increase, each once$"):
        infer_step(parse_times(["2020-01", "2020-02", "2020-02", "2020-03"]))
    with pytest.raises(DataError, match=r"row 1 \('2019-12'\) comes before the row before \('2020-01'\)"):
        infer_step(parse_times(["2020-01", "2019-12", "2020-02"]))
    with pytest.raises(DataError, match=r"1 time\(s\); at least 2 are needed"):
        infer_step(parse_times(["2020-01"]))
    with pytest.raises(DataError, match=r"times holds NaT \(not a time\) at row 1"):
        infer_step(np.array(["2020-01", "NaT"], dtype="datetime64[M]"))
    with pytest.raises(InputTypeError, match=r"times must be a datetime64 array or dates as text"):
        infer_step([1.0, 2.0])


# ------------------------------------------------------------------ continue_times

def test_months_continue_across_the_year_end():
    t = continue_times(parse_times(["2020-10", "2020-11"]), 3)
    assert t.dtype == np.dtype("datetime64[M]") and format_times(t) == ["2020-12", "2021-01", "2021-02"]
    t = continue_times(parse_times(["2020-Q3", "2020-Q4"]), 2)
    assert format_times(t) == ["2021-01", "2021-04"]


def test_days_continue_across_february_29():
    t = continue_times(parse_times(["2020-02-26", "2020-02-27", "2020-02-28"]), 3)
    assert t.dtype == np.dtype("datetime64[D]") and format_times(t) == ["2020-02-29", "2020-03-01", "2020-03-02"]
    assert format_times(continue_times(parse_times(["2021-02-27", "2021-02-28"]), 1)) == ["2021-03-01"]


def test_monthly_dates_keep_their_day_of_the_month():
    assert format_times(continue_times(parse_times(["2020-11-01", "2020-12-01"]), 3)) == [
        "2021-01-01", "2021-02-01", "2021-03-01"]
    assert format_times(continue_times(parse_times(["2019-11-30", "2019-12-31"]), 3)) == [
        "2020-01-31", "2020-02-29", "2020-03-31"]  # month ends stay month ends
    assert format_times(continue_times(parse_times(["2020-11-30", "2020-12-30"]), 3)) == [
        "2021-01-30", "2021-02-28", "2021-03-30"]  # a day February lacks: its last day
    assert format_times(continue_times(parse_times(["2020-01-15 09:30", "2020-04-15 09:30"]), 1)) == [
        "2020-07-15T09:30"]


def test_other_spacings_continue():
    assert format_times(continue_times(parse_times(["2020-12-31 22:00", "2020-12-31 23:00"]), 2)) == [
        "2021-01-01T00:00", "2021-01-01T01:00"]
    assert format_times(continue_times(parse_times(["2020-12-21", "2020-12-28"]), 2)) == ["2021-01-04", "2021-01-11"]
    assert format_times(continue_times(parse_times(["1990", "1995"], years=True), 2)) == ["2000", "2005"]
    assert continue_times(parse_times(["2020-01", "2020-02"]), 0).dtype == np.dtype("datetime64[M]")
    assert len(continue_times(parse_times(["2020-01", "2020-02"]), 0)) == 0


def test_a_given_step():
    t = parse_times(["2020-01-31"])  # one time: the step must be given
    assert format_times(continue_times(t, 2, Step("M", 1))) == ["2020-02-29", "2020-03-31"]
    assert format_times(continue_times(parse_times(["2020-01"]), 2, Step("Y"))) == ["2021-01", "2022-01"]
    with pytest.raises(ParameterError, match=r"a daily step cannot follow times at month resolution"):
        continue_times(parse_times(["2020-01"]), 2, Step("D"))
    with pytest.raises(InputTypeError, match=r"step must be a Step"):
        continue_times(parse_times(["2020-01"]), 2, "M")
    with pytest.raises(ParameterError, match=r"n must be"):
        continue_times(parse_times(["2020-01", "2020-02"]), -1)


def test_sunspots_are_monthly_and_continue_to_1984():
    months, _ = datasets.sunspots()
    t = parse_times(months)
    assert t.dtype == np.dtype("datetime64[M]") and len(t) == 2820
    step = infer_step(t)
    assert step == Step("M", 1) and step.name == "monthly" and default_season(step) == 12
    assert format_times(continue_times(t, 13, step))[::12] == ["1984-01", "1985-01"]


def test_format_times():
    assert format_times(np.array(["2020-03-01T12:00"], dtype="datetime64[m]")) == ["2020-03-01T12:00"]
    assert format_times(np.datetime64("1984-01")) == ["1984-01"]
    with pytest.raises(InputTypeError, match=r"times must be a datetime64 array"):
        format_times(["2020-01"])


# ------------------------------------------------------------------ load_table

def write(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SALES = "Month,temp,promo,sales\n2020-01,1.5,0,10\n2020-02,2.5,1,20\n2020-03,3.5,0,30\n"


def test_time_target_and_inputs(tmp_path):
    t = load_table(write(tmp_path, SALES), "sales", ("temp", "promo"))
    assert isinstance(t, Table) and t.target_name == "sales" and t.input_names == ("temp", "promo")
    assert t.target.dtype == np.float64 and t.target.tolist() == [10, 20, 30]
    assert t.inputs.shape == (3, 2) and t.inputs.tolist() == [[1.5, 0], [2.5, 1], [3.5, 0]]
    assert t.time_name == "Month" and t.labels.tolist() == ["2020-01", "2020-02", "2020-03"]
    assert t.times.dtype == np.dtype("datetime64[M]") and t.lines.tolist() == [2, 3, 4]
    assert infer_step(t.times).name == "monthly"


def test_defaults_target_the_last_numeric_column_not_named_as_an_input(tmp_path):
    t = load_table(write(tmp_path, SALES))
    assert t.target_name == "sales" and t.inputs.shape == (3, 0) and t.input_names == () and t.time_name == "Month"
    t = load_table(write(tmp_path, SALES), inputs=["sales"])
    assert t.target_name == "promo" and t.inputs[:, 0].tolist() == [10, 20, 30]


def test_the_same_column_as_load_csv_reads(tmp_path):
    path = write(tmp_path, SALES)
    labels, values = load_csv(path)
    t = load_table(path)
    assert t.target.tolist() == values.tolist() and t.labels.tolist() == labels.tolist()


def test_a_missing_input_column(tmp_path):
    with pytest.raises(DataError, match=r"^t\.csv: no column 'price'; the columns are \['Month', 'temp', 'promo', "
                                        r"'sales'\]$"):
        load_table(write(tmp_path, SALES), "sales", ("temp", "price"))
    with pytest.raises(DataError, match=r"no column 'Date'"):
        load_table(write(tmp_path, SALES), time_column="Date")


def test_inputs_must_be_other_columns_each_once(tmp_path):
    path = write(tmp_path, SALES)
    with pytest.raises(ParameterError, match=r"inputs names the column 'sales', which is the target"):
        load_table(path, "sales", ("temp", "sales"))
    with pytest.raises(ParameterError, match=r"inputs names the column 'Month', which is the time column"):
        load_table(path, None, ("Month",), "Month")
    with pytest.raises(ParameterError, match=r"inputs names the column 'temp' twice"):
        load_table(path, "sales", ("temp", " temp "))
    with pytest.raises(ParameterError, match=r"'sales' is named both as the target and as the time column"):
        load_table(path, "sales", (), "sales")
    with pytest.raises(InputTypeError, match=r"inputs must be a list or tuple of column names, got str 'temp'; "
                                             r"for one column write \(name,\)"):
        load_table(path, "sales", "temp")
    with pytest.raises(InputTypeError, match=r"each of inputs must be a column name \(str\), got int 3"):
        load_table(path, "sales", (3,))
    with pytest.raises(InputTypeError, match=r"target must be a column name \(str\)"):
        load_table(path, 3)


def test_input_columns_are_read_as_strictly_as_the_target(tmp_path):
    text = SALES + "2020-04,nan,0,40\n"
    with pytest.raises(DataError, match=r"^t\.csv, line 5, column 'temp': 'nan' is not a finite number; fill or "
                                        r"drop the missing values$"):
        load_table(write(tmp_path, text), "sales", ("temp",))
    for cell, why in (("", "the cell is empty"), ("1,000", "without '_' or ','"), ("1e999", "overflows float64"),
                      ("x", "expected a decimal number like 1.5 or -2e3$")):
        with pytest.raises(DataError, match=rf"line 5, column 'promo': .*{why}"):
            load_table(write(tmp_path, SALES + f'2020-04,1,"{cell}",40\n'), "sales", ("promo",))
    # a text cell in the target read by default says how to name another
    with pytest.raises(DataError, match=r"line 5, column 'sales': 'x' .*; to read another column, name it with "
                                        r"target=$"):
        load_table(write(tmp_path, SALES + "2020-04,1,0,x\n"))
    # the file itself: the same checks and messages as load_csv
    with pytest.raises(DataError, match=r"line 3: 3 cells but the header has 4 columns"):
        load_table(write(tmp_path, "Month,temp,promo,sales\n2020-01,1,0,1\n2020-02,1,0\n"))


def test_no_time_column_gives_row_numbers(tmp_path):
    t = load_table(write(tmp_path, "id,x,y\na,1,2\nb,3,4\nc,5,6\n"), "y", ("x",))
    assert t.time_name is None and t.times is None and t.labels.tolist() == [0, 1, 2]
    t = load_table(write(tmp_path, "Year,y\n1990,1\n1991,2\n"))  # years only when named
    assert t.target_name == "y" and t.times is None and t.labels.tolist() == [0, 1]


def test_a_named_time_column(tmp_path):
    t = load_table(write(tmp_path, "Year,y\n1990,1\n1991,2\n"), time_column="Year")
    assert t.time_name == "Year" and t.times.dtype == np.dtype("datetime64[Y]") and t.labels.tolist() == ["1990",
                                                                                                          "1991"]
    with pytest.raises(DataError, match=r"^t\.csv, line 4, column 'd': '2020-02-30' is not a valid date or time: "
                                        r"day out of range$"):
        load_table(write(tmp_path, "d,y\n2020-02-28,1\n2020-02-29,2\n2020-02-30,3\n"), time_column="d")
    with pytest.raises(DataError, match=r"line 2, column 'id': 'a' is not a date or time; expected"):
        load_table(write(tmp_path, "id,y\na,1\n"), time_column="id")


def test_a_column_that_starts_with_a_date_must_hold_dates(tmp_path):
    text = "when,y\n2020-01-01,1\n2020-01-02,2\ntotal,3\n"
    with pytest.raises(DataError, match=r"line 4, column 'when': 'total' is not a date or time; .* \(taken as the "
                                        r"time column: its first cell is a date or time\)"):
        load_table(write(tmp_path, text))
    t = load_table(write(tmp_path, "name,when,y\nx,2020-01-01 10:00,1\ny,2020-01-01 11:00,2\n"))
    assert t.time_name == "when" and t.times.dtype == np.dtype("datetime64[m]")


def test_a_file_without_its_target(tmp_path):
    path = write(tmp_path, "Month,temp,promo\n2020-04,4.5,1\n2020-05,5.5,0\n")
    t = load_table(path, "sales", ("temp", "promo"), require_target=False)
    assert t.target_name is None and t.target.shape == (0,) and t.inputs.tolist() == [[4.5, 1], [5.5, 0]]
    assert t.times.tolist() == parse_times(["2020-04", "2020-05"]).tolist()
    t = load_table(path, None, ("promo",), require_target=False)  # no target read at all
    assert t.target_name is None and t.inputs.tolist() == [[1], [0]]
    with pytest.raises(DataError, match=r"no column 'sales'"):
        load_table(path, "sales", ("temp",))
    # present and named: read (strictly); left None: not read, even when blank
    t = load_table(write(tmp_path, SALES), "sales", ("temp",), require_target=False)
    assert t.target.tolist() == [10, 20, 30]
    t = load_table(write(tmp_path, "Month,temp,sales\n2020-04,1,\n"), None, ("temp",), require_target=False)
    assert t.target.shape == (0,) and t.inputs.tolist() == [[1.0]]


# ------------------------------------------------------------------ plots with dates

@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_actual_vs_predicted_on_dates(plt):
    from elman import plot

    t = parse_times([f"2020-{m:02d}" for m in range(1, 13)])
    ax = plot.actual_vs_predicted(np.arange(12.0), np.arange(12.0) + 0.5, split=8, x=t)
    ax.figure.canvas.draw()
    assert all(line.get_xdata().dtype.kind == "M" for line in ax.lines[:2])
    split = ax.lines[2].get_xdata()[0]  # the train | test line, at the first test month
    assert np.datetime64(split, "M") == t[8]
    with pytest.raises(NonFiniteError, match=r"x holds NaT"):
        plot.actual_vs_predicted([1.0, 2.0], [1.0, 2.0], x=np.array(["2020-01", "NaT"], dtype="datetime64[M]"))


def test_forecast_plot_with_dates(plt):
    from elman import plot

    t = parse_times([f"2020-{m:02d}" for m in range(1, 13)])
    future_t = continue_times(t, 3)
    test_x = t[9:]  # the test part starts at 8, its first prediction after one step of warm-up
    ax = plot.forecast_plot(t, np.arange(12.0), test_x, np.arange(9.0, 12.0), future_t, np.ones(3),
                            lower=np.arange(8.0, 11.0), upper=np.arange(10.0, 13.0),
                            future_lower=np.array([0.0, np.nan, 0.0]), future_upper=np.array([2.0, np.nan, 2.0]),
                            title="sales")
    ax.figure.canvas.draw()
    assert len(ax.lines) == 3 and len(ax.collections) == 2 and ax.get_title() == "sales"
    history, test, future = (line.get_xdata() for line in ax.lines)
    assert all(x.dtype == np.dtype("datetime64[M]") for x in (history, test, future))
    assert test.tolist() == t[9:].tolist()  # at their true positions
    assert format_times(future) == ["2021-01", "2021-02", "2021-03"]
    assert [x.get_text() for x in ax.get_legend().get_texts()] == [
        "actual", "predicted (test)", "predicted (test): interval", "forecast", "forecast: interval"]


def test_forecast_plot_with_row_numbers(plt):
    from elman import plot

    ax = plot.forecast_plot(None, np.arange(12.0), np.arange(9, 12), np.arange(9.0, 12.0), np.arange(12, 15),
                            np.ones(3))
    ax.figure.canvas.draw()
    assert len(ax.lines) == 3 and len(ax.collections) == 0
    assert ax.lines[1].get_xdata().tolist() == [9, 10, 11] and ax.lines[2].get_xdata().tolist() == [12, 13, 14]
    ax = plot.forecast_plot(np.arange(12), np.arange(12.0), None, None, np.arange(12, 13), [5.0])
    assert len(ax.lines) == 2 and ax.lines[1].get_marker() == "o"  # one point: a marker shows it


def test_forecast_plot_refuses_mixed_axes_and_half_bands(plt):
    from elman import plot

    t = parse_times(["2020-01", "2020-02", "2020-03"])
    with pytest.raises(InputTypeError, match=r"future_x must be on the same axis as x: both datetime64 or both"):
        plot.forecast_plot(t, np.ones(3), None, None, np.arange(3, 5), np.ones(2))
    with pytest.raises(ParameterError, match=r"give both bounds of future's interval or neither"):
        plot.forecast_plot(t, np.ones(3), None, None, continue_times(t, 2), np.ones(2), future_lower=np.zeros(2))
    with pytest.raises(ShapeError, match=r"test_x has shape \(2,\) but test_pred has 3 values"):
        plot.forecast_plot(t, np.ones(3), t[:2], np.ones(3), None, None)
    with pytest.raises(NonFiniteError, match=r"the upper bound of test_pred holds NaN or inf"):
        plot.forecast_plot(t, np.ones(3), t, np.ones(3), None, None, lower=np.zeros(3),
                           upper=np.array([1.0, np.inf, 1.0]))
    with pytest.raises(InputTypeError, match=r"x must hold numbers or dates"):
        plot.forecast_plot(["a", "b", "c"], np.ones(3), None, None, None, None)
