"""Datasets, windows, split, scaling, metrics, recursive forecasts."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from elman import data, datasets, metrics
from elman.errors import DataError, DataFileError, ParameterError, ShapeError


def tutorial_get_XY(dat, time_steps):
    """The sunspots tutorial's windows, written out: targets every time_steps values
    from index time_steps on, inputs the time_steps values before each."""
    targets = np.arange(time_steps, len(dat), time_steps)
    Y = dat[targets]
    X = dat[: time_steps * len(Y)].reshape(len(Y), time_steps, 1)
    return X, Y


def notebook_prepare_data(series, steps):
    """The universal-approximation notebook's sliding windows, written out."""
    X = np.array([series[i:i + steps] for i in range(len(series) - steps)])
    y = np.array([series[i + steps] for i in range(len(series) - steps)])
    return X.reshape(len(X), steps, 1), y


def test_windows_reproduce_the_tutorial_on_sunspots():
    _, x = datasets.sunspots()
    scaled = (x - x.min()) / (x.max() - x.min())
    train, test = data.split(scaled, 0.8)
    for part, n in ((train, 187), (test, 46)):
        X, y = data.windows(part, 12, stride=12)
        Xr, yr = tutorial_get_XY(part, 12)
        assert X.shape == (n, 12, 1) and y.shape == (n, 1)
        np.testing.assert_array_equal(X, Xr)
        np.testing.assert_array_equal(y[:, 0], yr)


def test_windows_stride_1_is_the_notebook_prepare_data():
    _, x = datasets.sine(500, 50.0)
    X, y = data.windows(x, 5)
    Xr, yr = notebook_prepare_data(x, 5)
    assert X.shape == (495, 5, 1)
    np.testing.assert_array_equal(X, Xr)
    np.testing.assert_array_equal(y[:, 0], yr)


def test_windows_multi_feature_and_horizon():
    s = np.arange(20.0).reshape(10, 2)
    X, y = data.windows(s, 3, horizon=2, stride=2)
    assert X.shape == (3, 3, 2) and y.shape == (3, 2)
    np.testing.assert_array_equal(X[1], s[2:5])
    np.testing.assert_array_equal(y[1], s[6])
    with pytest.raises(ShapeError, match=r"series has 4 values, fewer than one window needs \(steps \+ horizon = 5\)"):
        data.windows(np.arange(4.0), 4)


def test_sunspots_bundled():
    months, x = datasets.sunspots()
    assert x.shape == (2820,) and months[0] == "1749-01" and months[-1] == "1983-12"
    assert x[0] == 58.0 and x.min() == 0.0 and x.max() == 253.8


def test_memory_sum_matches_the_notebook():
    assert datasets.memory_sum(10).tolist() == list(range(1, 11))
    assert datasets.memory_sum(5, bias=2).tolist() == [1, 3, 5, 7, 9]
    assert datasets.memory_sum(5, weight=2, bias=0).tolist() == [1, 2, 4, 8, 16]
    assert datasets.memory_sum(6, mem_len=1, bias=0).tolist() == [1, 1, 2, 3, 5, 8]  # Fibonacci
    assert datasets.memory_sum(5, mem_len=-1, bias=0).tolist() == [1, 1, 2, 4, 8]  # the whole past
    assert datasets.memory_sum(10, weight=2, bias=3, mem_len=1).tolist() == [1, 5, 14, 36, 89, 217, 526, 1272, 3073, 7421]


def test_split_and_scaler():
    train, test = data.split(np.arange(10.0), 0.7)
    assert train.tolist() == list(range(7)) and test.tolist() == [7.0, 8.0, 9.0]
    sc = data.MinMaxScaler().fit(train)  # fitted on the training part only
    assert sc.transform(train).min() == 0 and sc.transform(train).max() == 1
    assert sc.transform(test).max() == 9 / 6  # the future may leave [0, 1]
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(test)), test)
    back = data.MinMaxScaler.from_dict(sc.to_dict())
    np.testing.assert_array_equal(back.transform(test), sc.transform(test))
    with pytest.raises(ParameterError, match="not fitted"):
        data.MinMaxScaler().transform([1.0])
    with pytest.raises(ParameterError, match="train_fraction must be in"):
        data.split(np.arange(10.0), 1.2)


def test_metrics():
    y, p = np.array([1.0, 2.0, 3.0, 5.0]), np.array([1.0, 3.0, 2.0, 5.0])
    assert metrics.mse(y, p) == 0.5 and metrics.mae(y, p) == 0.5
    assert metrics.rmse(y, p) == np.sqrt(0.5)
    assert metrics.nrmse(y, p) == np.sqrt(0.5) / 4
    assert metrics.rmse(y[:, None], p) == metrics.rmse(y, p)  # (N, 1) against (N,)
    with pytest.raises(ShapeError, match=r"y_true has shape \(4,\) but y_pred has shape \(3,\)"):
        metrics.rmse(y, p[:3])


def test_recursive_forecast():
    # y = 0.5 * (last value) + 1 has the fixed point 2: the forecast walks towards it.
    rnn = elman.ElmanRNN([[0.0]], [[0.5]], [1.0], activation="linear", C=[[1.0]], d=[0.0])
    f = elman.forecast(rnn, [0.0, 4.0], 3, steps=1)
    np.testing.assert_allclose(f, [3.0, 2.5, 2.25])
    # A window longer than one step reads the last `steps` values, predictions included.
    two = elman.ElmanRNN(np.zeros((1, 1)), [[1.0]], [0.0], activation="linear", C=[[1.0]], d=[0.0])
    np.testing.assert_allclose(elman.forecast(two, [1.0, 2.0, 3.0], 2, steps=2), [3.0, 3.0])
    with pytest.raises(ShapeError, match="K must equal D"):
        elman.forecast(elman.ElmanRNN.init(1, 3, 2, seed=0), [1.0, 2.0], 2)
    with pytest.raises(ParameterError, match="n_steps must be a positive integer"):
        elman.forecast(rnn, [1.0], 0)


def _write(path, text):
    path.write_text(text)
    return path


def test_load_csv(tmp_path):
    p = _write(tmp_path / "s.csv", "date,temp,count\n2020-01,1.5,3\n2020-02,2.5,4\n")
    labels, x = datasets.load_csv(p)
    assert labels.tolist() == ["2020-01", "2020-02"] and x.tolist() == [3.0, 4.0]  # the last numeric column
    labels, x = datasets.load_csv(p, column="temp")
    assert x.tolist() == [1.5, 2.5]
    only = _write(tmp_path / "o.csv", "value\n1\n2\n")
    labels, x = datasets.load_csv(only)
    assert labels.tolist() == [0, 1] and x.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("text,column,pattern", [
    ("date,v\n2020-01,1\n2020-02,x\n", None, r"b\.csv, line 3, column 'v': 'x' is not a finite number"),
    ("date,v\n2020-01,1\n2020-02,\n", None, r"b\.csv, line 3, column 'v': the cell is empty"),
    ("date,v\n2020-01,1\n", "w", r"b\.csv: no column 'w'; the columns are \['date', 'v'\]"),
    ("date,v\n2020-01,1\n2020-02,2,7\n", None, r"b\.csv, line 3: 3 cells but the header has 2 columns"),
    ("date,v\n", None, r"b\.csv: the header has no data rows"),
    ("", None, r"b\.csv: the file is empty"),
])
def test_broken_csv(tmp_path, text, column, pattern):
    p = _write(tmp_path / "b.csv", text)
    with pytest.raises(DataError, match=pattern):
        datasets.load_csv(p, column=column)


def test_missing_csv(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        datasets.load_csv(tmp_path / "none.csv")
