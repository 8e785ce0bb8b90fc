"""Time labels of a series: dates and times read from text (:func:`parse_times`), their
constant spacing (:func:`infer_step`), the labels that follow the last one
(:func:`continue_times`), a default season (:func:`default_season`) and ISO text back
(:func:`format_times`). NumPy's datetime64 only; the resolution of the text is kept
(months stay ``datetime64[M]``, days ``datetime64[D]``, ...).

Formats read (one format per column, spaces around a label allowed):
``YYYY`` (only with ``years=True``: plain numbers are not dates by default),
``YYYY-MM``, ``YYYY/MM``, ``YYYY-Qn`` or ``YYYYQn`` (a quarter, read as its first month),
``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYY-MM-DD HH:MM`` and ``YYYY-MM-DD HH:MM:SS`` (with a
space or a ``T`` between date and time).

>>> t = parse_times(["2020-11", "2020-12"])
>>> format_times(continue_times(t, 3)), infer_step(t).name
(['2021-01', '2021-02', '2021-03'], 'monthly')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError, InputTypeError, ParameterError, ShapeError
from .validation import _brief, _count

__all__ = ["Step", "parse_times", "time_problem", "infer_step", "continue_times", "default_season",
           "format_times"]

_D4, _D2 = "[0-9]{4}", "[0-9]{2}"


@dataclass(frozen=True)
class _Format:
    text: str  # how the format is written in messages
    pattern: re.Pattern
    unit: str  # the datetime64 unit it is read at

    def normal(self, s: str) -> str:
        """``s`` in the form numpy's datetime64 parser reads."""
        if "Q" in self.text:
            m = self.pattern.fullmatch(s)
            return f"{m.group(1)}-{3 * int(m.group(2)) - 2:02d}"
        return s.replace("/", "-").replace(" ", "T")


_FORMATS = [_Format(text, re.compile(rx), unit) for text, rx, unit in [
    ("YYYY", _D4, "Y"),
    ("YYYY-MM", f"{_D4}-{_D2}", "M"),
    ("YYYY/MM", f"{_D4}/{_D2}", "M"),
    ("YYYY-Qn", f"({_D4})-?[Qq]([1-4])", "M"),
    ("YYYY-MM-DD", f"{_D4}-{_D2}-{_D2}", "D"),
    ("YYYY/MM/DD", f"{_D4}/{_D2}/{_D2}", "D"),
    ("YYYY-MM-DD HH:MM", f"{_D4}-{_D2}-{_D2}[T ]{_D2}:{_D2}", "m"),
    ("YYYY-MM-DD HH:MM:SS", f"{_D4}-{_D2}-{_D2}[T ]{_D2}:{_D2}:{_D2}", "s"),
]]
_EXAMPLES = "expected a date or time such as 2020-01, 2020-01-31 or 2020-01-31 12:00"


def _format_of(s: str, years: bool) -> _Format | None:
    return next((f for f in _FORMATS if f.pattern.fullmatch(s) and (years or f.unit != "Y")), None)


def _strings(labels) -> list[str] | None:
    """The labels stripped, or None when one is not text; a str alone is refused."""
    if isinstance(labels, (str, bytes)):
        raise InputTypeError(f"labels must be a sequence of strings (one per row), got a single "
                             f"{type(labels).__name__} {_brief(labels)}; write [{labels!r}]")
    arr = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if arr.ndim != 1:
        raise ShapeError(f"labels has shape {arr.shape} but should be (L,): one label per row")
    if arr.dtype.kind == "U":
        return [s.strip() for s in arr.tolist()]
    if arr.dtype.kind != "O" or not all(isinstance(s, str) for s in arr.tolist()):
        return None
    return [s.strip() for s in arr.tolist()]


def parse_times(labels, *, years: bool = False) -> np.ndarray | None:
    """The labels as a datetime64 array at the resolution of their format, or None when
    one of them is not a date or time of the first label's format (see the module's
    list), is not valid (``2020-02-30``), or is not text. A datetime64 array without NaT
    is returned as it is. ``years``: read 4-digit numbers (``1990``) as years.

    >>> parse_times([" 2020-01-31 ", "2020-02-29"]).dtype, parse_times(["1", "2"])
    (dtype('<M8[D]'), None)
    """
    if isinstance(labels, np.ndarray) and labels.dtype.kind == "M":
        return labels if labels.ndim == 1 and labels.size and not np.isnat(labels).any() else None
    strs = _strings(labels)
    if not strs:
        return None
    fmt = _format_of(strs[0], years)
    if fmt is None or not all(map(fmt.pattern.fullmatch, strs)):
        return None
    try:
        return np.array([fmt.normal(s) for s in strs], dtype=f"datetime64[{fmt.unit}]")
    except ValueError:  # a day or an hour out of range
        return None


def time_problem(labels, *, years: bool = False) -> tuple[int, str] | None:
    """Why :func:`parse_times` refuses ``labels``: (position of the first label at fault,
    the reason in words), or None when they parse.

    >>> time_problem(["2020-01", "2020-13"])
    (1, "'2020-13' is not a valid date or time: month out of range")
    """
    strs = _strings(labels)
    if strs is None:
        arr = np.asarray(labels, dtype=object)
        i = next(k for k, s in enumerate(arr.tolist()) if not isinstance(s, str))
        return i, f"{_brief(arr[i])} is not text; {_EXAMPLES}"
    if not strs:
        return (0, "there are no labels")
    first = _format_of(strs[0], years)
    for i, s in enumerate(strs):
        fmt = _format_of(s, years)
        if fmt is None:
            why = "the cell is empty" if not s else f"{s!r} is not a date or time"
            if not years and _format_of(s, True) is not None:
                why = f"{s!r} is a number, not a date (4-digit years are read as dates only when asked)"
            return i, f"{why}; {_EXAMPLES}"
        if fmt is not first:
            return i, (f"{s!r} is written as {fmt.text} but the first label {strs[0]!r} as {first.text}; "
                       "write every time the same way")
        try:
            np.datetime64(fmt.normal(s), fmt.unit)
        except ValueError as exc:
            reason = str(exc).split(" in datetime string")[0].lower()
            return i, f"{s!r} is not a valid date or time: {reason}"
    return None


_WORDS = {"Y": "year", "M": "month", "W": "week", "D": "day", "h": "hour", "m": "minute", "s": "second"}
_EVERY = {"Y": "yearly", "M": "monthly", "W": "weekly", "D": "daily", "h": "hourly"}
_SEASONS = {("M", 1): 12, ("M", 3): 4, ("W", 1): 52, ("D", 1): 7, ("h", 1): 24}


def _amount(n: int, unit: str) -> str:
    return f"{n} {_WORDS[unit]}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Step:
    """The constant spacing of a series' times: ``n`` ``unit``\\ s, ``unit`` one of
    "Y", "M", "W", "D", "h", "m", "s" (numpy's codes). Calendar units (Y, M) keep
    calendar months: a monthly step is a month, whatever its length in days.
    ``name`` is filled in: "monthly", "quarterly", "every 15 minutes", ...

    >>> Step("M", 3).name, Step("m", 15).name
    ('quarterly', 'every 15 minutes')
    """

    unit: str
    n: int = 1
    name: str = field(default="", compare=False)

    def __post_init__(self):
        if self.unit not in _WORDS:
            raise ParameterError(f"unit must be one of {list(_WORDS)}, got {_brief(self.unit)}")
        object.__setattr__(self, "n", _count(self.n, "n"))
        if not self.name:
            special = {("M", 3): "quarterly", ("M", 12): "yearly"}
            name = special.get((self.unit, self.n)) or (_EVERY.get(self.unit) if self.n == 1 else None)
            if name is None:
                name = f"every {_amount(self.n, self.unit)}" if self.n > 1 else f"every {_WORDS[self.unit]}"
            object.__setattr__(self, "name", name)


def _times(times, name: str = "times") -> np.ndarray:
    """``times`` as a 1-D datetime64 array without NaT (text is parsed), in a unit of count 1."""
    if not isinstance(times, np.ndarray) or times.dtype.kind != "M":
        parsed = parse_times(times) if not isinstance(times, np.ndarray) or times.dtype.kind in "UO" else None
        if parsed is None:
            raise InputTypeError(f"{name} must be a datetime64 array or dates as text (see parse_times), "
                                 f"got {_brief(times)}")
        times = parsed
    if times.ndim != 1:
        raise ShapeError(f"{name} has shape {times.shape} but should be (L,)")
    if np.isnat(times).any():
        raise DataError(f"{name} holds NaT (not a time) at row {int(np.argmax(np.isnat(times)))}")
    unit, count = np.datetime_data(times.dtype)
    return times if count == 1 else times.astype(f"datetime64[{unit}]")


def _where(i: int, lines) -> str:
    return f"row {i}" if lines is None else f"line {lines[i]}"


def _irregular(t: np.ndarray, diffs: np.ndarray, say, name: str, lines) -> int:
    """The most common of ``diffs`` (> 0); a DataError at the first row that breaks it."""
    values, counts = np.unique(diffs, return_counts=True)
    step = values[np.argmax(counts)]
    bad = np.flatnonzero(diffs != step)
    if bad.size:
        i = int(bad[0]) + 1
        shown = format_times(t[i - 1:i + 1])
        raise DataError(f"{name}: {_where(i, lines)} ({shown[1]!r}) is {say(diffs[i - 1])} after the row before "
                        f"({shown[0]!r}), but most rows are {say(step)} apart: the series must be regularly "
                        "spaced (fill the gap first)")
    return int(step)


def _order(t: np.ndarray, name: str, lines) -> None:
    """A DataError at the first time that repeats or goes back."""
    d = np.diff(t)
    bad = np.flatnonzero(d <= np.timedelta64(0))
    if bad.size:
        i = int(bad[0]) + 1
        shown = format_times(t[i - 1:i + 1])
        what = ("repeats the row before" if d[i - 1] == np.timedelta64(0)
                else f"comes before the row before ({shown[0]!r})")
        raise DataError(f"{name}: {_where(i, lines)} ({shown[1]!r}) {what}: the times must increase, each once")


def _calendar(t: np.ndarray) -> bool:
    """Dates at one time of day on one day of the month (or each on its month's last day)."""
    days = t.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    same_time = np.all((t - days) == (t[0] - days[0]))
    day_of_month = days - months.astype("datetime64[D]")
    same_day = np.all(day_of_month == day_of_month[0])
    month_ends = np.all((days + 1).astype("datetime64[M]") != months)
    return bool(same_time and (same_day or month_ends))


def _span(td: np.timedelta64, name: str = "times") -> tuple[int, str]:
    """A positive timedelta in the largest unit (W, D, h, m, s) that divides it."""
    for unit in ("W", "D", "h", "m", "s"):
        one = np.timedelta64(1, unit)
        if td % one == np.timedelta64(0):
            return int(td // one), unit
    raise DataError(f"{name}: the times are {td} apart, less than a second or not whole seconds; "
                    "elman's time labels go down to seconds")


def infer_step(times, *, name: str = "times", lines=None) -> Step:
    """The constant spacing of ``times`` (datetime64, or dates as text), at least 2 of
    them. Months (and dates on one day of the month, or on each month's last day) are
    spaced in calendar months: 3 months is "quarterly", 12 "yearly".

    name : what ``times`` is, for messages ("time column 'Month'").
    lines : the file's line of each time, for messages (default: "row i", from 0).
    Raises DataError naming the first row that repeats, goes back, or breaks the spacing.
    """
    t = _times(times)
    if len(t) < 2:
        raise DataError(f"{name}: {len(t)} time(s); at least 2 are needed to find their spacing")
    _order(t, name, lines)
    unit = np.datetime_data(t.dtype)[0]
    if unit in ("Y", "M") or _calendar(t):
        base = unit if unit in ("Y", "M") else "M"
        diffs = np.diff(t.astype(f"datetime64[{base}]").astype(np.int64))
        n = _irregular(t, diffs, lambda k: _amount(int(k), base), name, lines)
        return Step(base, n)
    step = _irregular(t, np.diff(t).astype(np.int64),
                      lambda k: _amount(*_span(np.timedelta64(int(k), unit), name)), name, lines)
    return Step(*reversed(_span(np.timedelta64(step, unit), name)))


def continue_times(times, n: int, step: Step | None = None) -> np.ndarray:
    """The ``n`` times after the last of ``times``, ``step`` apart (default: inferred from
    ``times``), at the same resolution. Monthly dates keep their day of the month (or
    stay on each month's last day; a day the month lacks becomes its last day).

    >>> format_times(continue_times(parse_times(["2020-02-27", "2020-02-28"]), 2))
    ['2020-02-29', '2020-03-01']
    """
    t = _times(times)
    n = _count(n, "n", low=0)
    if step is None:
        step = infer_step(t)
    elif not isinstance(step, Step):
        raise InputTypeError(f"step must be a Step (see infer_step) or None, got {_brief(step)}")
    k = np.arange(1, n + 1)
    unit = np.datetime_data(t.dtype)[0]
    if step.unit in ("Y", "M"):
        months = k * step.n * (12 if step.unit == "Y" else 1)
        if unit == "Y" and step.unit == "Y":
            return t[-1] + k * np.timedelta64(step.n, "Y")
        if unit in ("Y", "M"):
            return t[-1].astype("datetime64[M]") + months
        return _add_months(t, months)
    if unit in ("Y", "M"):
        raise ParameterError(f"a {step.name} step cannot follow times at {_WORDS[unit]} resolution "
                             f"({format_times(t[-1:])[0]!r}); use a step in months or years")
    return t[-1] + k * np.timedelta64(step.n, step.unit)


def _add_months(t: np.ndarray, months: np.ndarray) -> np.ndarray:
    """The last of ``t`` (days or finer) moved on by each of ``months`` calendar months."""
    days = t.astype("datetime64[D]")
    day, time_of_day = days[-1], t[-1] - days[-1]
    new = day.astype("datetime64[M]") + months
    month_end = (new + 1).astype("datetime64[D]") - 1
    if np.all((days + 1).astype("datetime64[M]") != days.astype("datetime64[M]")):
        out = month_end  # every time on its month's last day
    else:
        out = np.minimum(new.astype("datetime64[D]") + (day - day.astype("datetime64[M]").astype("datetime64[D]")),
                         month_end)
    return (out + time_of_day).astype(t.dtype)


def default_season(step: Step) -> int | None:
    """The usual season length of a spacing: monthly 12, quarterly 4, weekly 52, daily 7,
    hourly 24; None for others.

    >>> default_season(Step("M", 1)), default_season(Step("Y", 1))
    (12, None)
    """
    if not isinstance(step, Step):
        raise InputTypeError(f"step must be a Step (see infer_step), got {_brief(step)}")
    return _SEASONS.get((step.unit, step.n))


def format_times(times) -> list[str]:
    """ISO text at the array's resolution: "1984-01", "2020-03-01", "2020-03-01T12:00".

    >>> format_times(np.array(["2020-03-01T12:00"], dtype="datetime64[m]"))
    ['2020-03-01T12:00']
    """
    arr = np.asarray(times)
    if arr.dtype.kind != "M":
        raise InputTypeError(f"times must be a datetime64 array, got dtype {arr.dtype}")
    return np.datetime_as_string(arr).tolist() if arr.ndim else [str(np.datetime_as_string(arr))]


def format_like(times, example: str) -> list[str]:
    """``times`` written the way the label ``example`` is written (so that labels that
    continue a series read like the series' own): quarters as "2020-Q1", slashes,
    a space between date and time, as in the example; ISO text otherwise.

    >>> format_like(np.array(["2020-04"], dtype="datetime64[M]"), "1970-Q1")
    ['2020-Q2']
    """
    iso = format_times(times)
    fmt = _format_of(str(example).strip(), True)
    if fmt is None:
        return iso
    if "Q" in fmt.text:
        q = "q" if "q" in example else "Q"
        sep = "-" if "-" in example.strip()[4:6] else ""
        return [f"{s[:4]}{sep}{q}{(int(s[5:7]) - 1) // 3 + 1}" for s in iso]
    if "/" in fmt.text:
        iso = [s[:10].replace("-", "/") + s[10:] for s in iso]
    if " " in fmt.text and " " in example.strip():
        iso = [s.replace("T", " ") for s in iso]
    return iso
