"""The data helpers, datasets, metrics, forecast and plots as a careful or unlucky user
calls them: a clear one-line elman error (type and key words) instead of a bare NumPy or
builtin exception, a hang or a silent wrong answer; and the values those fixes must not
change (ordinary metrics to the bit, the old memory-sum definition, scaler round trips,
plots near the float limit without warnings)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import elman
from elman import datasets, metrics
from elman.data import MinMaxScaler, split, windows
from elman.errors import ElmanError, InputTypeError, NonFiniteError, ParameterError, ShapeError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from elman import plot  # noqa: E402

X10 = np.arange(10.0)
FIT2 = MinMaxScaler().fit(np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]]))  # two features
M32 = elman.ElmanRNN.init(1, 3, 1, seed=0).astype(np.float32)
M64 = elman.ElmanRNN.init(1, 3, 1, seed=0)
TRAJ = M64.run(np.zeros((2, 4, 1)))
GOOD = {"feature_range": [0.0, 1.0], "min": [0.0], "max": [1.0]}


def _settings(**kw):
    return {**GOOD, **kw}


# (what goes wrong, call, exception type, regex the message must match)
CASES = [
    # memory_sum: weight and bias are real numbers; the sequence must stay in float64
    ("memory_sum float weight overflows", lambda: datasets.memory_sum(2000, weight=2.0), ParameterError,
     r"length=2,000 is too long .*weight=2.0.*value 1023 .*float64 range.*at most length=1023"),
    ("memory_sum int weight beyond float", lambda: datasets.memory_sum(2000, weight=2), ParameterError,
     r"length=2,000 is too long .*at most length=1023"),
    ("memory_sum int64 weight beyond float", lambda: datasets.memory_sum(2000, weight=np.int64(2)), ParameterError,
     r"at most length=1023"),
    ("memory_sum whole past, long", lambda: datasets.memory_sum(10**5, mem_len=-1), ParameterError,
     r"length=100,000 is too long .*mem_len=-1.*at most length=1024"),
    ("memory_sum weight string", lambda: datasets.memory_sum(3, weight="a"), ParameterError,
     r"weight must be a real number \(int or float\), got str 'a'"),
    ("memory_sum bias None", lambda: datasets.memory_sum(3, bias=None), ParameterError,
     r"bias must be a real number .*got NoneType None"),
    ("memory_sum complex weight", lambda: datasets.memory_sum(3, weight=1j), ParameterError,
     r"weight must be a real number .*got complex 1j"),
    ("memory_sum bool weight", lambda: datasets.memory_sum(3, weight=True), ParameterError,
     r"weight must be a real number .*got bool True"),
    ("memory_sum NaN bias", lambda: datasets.memory_sum(3, bias=math.nan), ParameterError,
     r"bias must be a finite number, got nan"),
    ("memory_sum length too large", lambda: datasets.memory_sum(10**12), ParameterError,
     r"length must be at most 10,000,000 .*got 1,000,000,000,000"),
    # MinMaxScaler: its range, its input, its saved settings
    ("scaler range a number", lambda: MinMaxScaler(5), ParameterError,
     r"feature_range must be \(lo, hi\), two finite numbers with lo < hi, got 5"),
    ("scaler range strings", lambda: MinMaxScaler(("a", "b")), ParameterError,
     r"feature_range must be .*got \('a', 'b'\) \(str 'a' is not a real number\)"),
    ("scaler range of three", lambda: MinMaxScaler((0, 1, 2)),
     ParameterError, r"feature_range must be .*got \(0, 1, 2\)"),
    ("scaler range complex", lambda: MinMaxScaler((0, 1j)),
     ParameterError, r"feature_range .*complex 1j is not a real"),
    ("scaler range bools", lambda: MinMaxScaler((False, True)), ParameterError, r"feature_range .*bool False"),
    ("scaler range infinite", lambda: MinMaxScaler((0, math.inf)), ParameterError,
     r"feature_range must be \(lo, hi\), two finite numbers .*got \(0.0, inf\)"),
    ("scaler range reversed", lambda: MinMaxScaler((1, 0)), ParameterError, r"feature_range must be .*lo < hi"),
    ("scaler range too wide", lambda: MinMaxScaler((-1e308, 1e308)), ParameterError,
     r"feature_range \(-1e\+308, 1e\+308\) has a width hi - lo beyond the float64 range"),
    ("scaler wrong feature count", lambda: FIT2.transform(np.ones((3, 3))), ShapeError,
     r"x has shape \(3, 3\) but this scaler was fitted on 2 features.*expected shape \(L, 2\)"),
    ("scaler inverse wrong feature count", lambda: FIT2.inverse_transform(np.ones(3)), ShapeError,
     r"x has shape \(3,\) but this scaler was fitted on 2 features"),
    ("scaler transform NaN", lambda: FIT2.transform([[np.nan, 1.0]]), NonFiniteError, r"x holds NaN or inf"),
    ("scaler inverse inf", lambda: FIT2.inverse_transform([[1.0, np.inf]]), NonFiniteError, r"x holds NaN or inf"),
    ("scaler fit on a number", lambda: MinMaxScaler().fit(3.0), ShapeError, r"x is a single number \(3.0\)"),
    ("from_dict empty", lambda: MinMaxScaler.from_dict({}), ParameterError,
     r"scaler settings lack the key\(s\) \['feature_range', 'min', 'max'\]"),
    ("from_dict None", lambda: MinMaxScaler.from_dict(None), ParameterError,
     r"scaler settings must be a dict with keys 'feature_range', 'min' and 'max' .*got NoneType"),
    ("from_dict list", lambda: MinMaxScaler.from_dict([1, 2]),
     ParameterError, r"scaler settings must be a dict .*got list"),
    ("from_dict min a string", lambda: MinMaxScaler.from_dict(_settings(min=["a"])), ParameterError,
     r"scaler settings 'min' must hold numbers, got str 'a' at index 0"),
    ("from_dict min above max", lambda: MinMaxScaler.from_dict(_settings(min=[2.0])), ParameterError,
     r"'min' must be below 'max' for every feature, but feature 0 has min 2.0 and max 1.0"),
    ("from_dict min equals max", lambda: MinMaxScaler.from_dict(_settings(min=[0.0, 1.0], max=[1.0, 1.0])),
     ParameterError, r"'min' must be below 'max' .*feature 1 has min 1.0 and max 1.0"),
    ("from_dict NaN", lambda: MinMaxScaler.from_dict(_settings(max=[math.nan])), ParameterError,
     r"scaler settings 'max' holds nan at index 0; expected finite numbers"),
    ("from_dict lengths differ", lambda: MinMaxScaler.from_dict(_settings(min=[0.0, 0.0])), ParameterError,
     r"scaler settings 'min' has shape \(2,\) but 'max' has \(1,\)"),
    ("from_dict ragged", lambda: MinMaxScaler.from_dict(_settings(min=[[0.0], [1.0, 2.0]])), ParameterError,
     r"scaler settings 'min' must hold numbers, got list"),
    ("scaler of windows given a series",
     lambda: MinMaxScaler().fit(np.arange(40.0).reshape(5, 4, 2)).transform(np.ones((3, 2))),
     ShapeError, r"x has shape \(3, 2\) but this scaler was fitted on windows of shape \(N, 4, 2\)"),
    ("from_dict empty min", lambda: MinMaxScaler.from_dict(_settings(min=[], max=[])), ParameterError,
     r"scaler settings 'min' is empty"),
    ("from_dict bad range", lambda: MinMaxScaler.from_dict(_settings(feature_range="ab")), ParameterError,
     r"scaler settings 'feature_range' must be \(lo, hi\)"),
    # split and windows
    ("split a scalar", lambda: split(np.float64(3.0)), ShapeError,
     r"series is a single number \(3.0\); expected a series of values"),
    ("split fraction bool", lambda: split(X10, True), ParameterError, r"train_fraction must be in \(0, 1\).*got True"),
    ("split fraction NaN", lambda: split(X10, math.nan),
     ParameterError, r"train_fraction must be in \(0, 1\).*got nan"),
    ("split fraction string", lambda: split(X10, "0.5"), ParameterError, r"train_fraction must be in .*got '0.5'"),
    ("windows huge steps", lambda: windows(X10, 10**30), ShapeError, r"series has 10 values, fewer than one window"),
    ("windows huge horizon", lambda: windows(X10, 2, horizon=10**30), ShapeError, r"fewer than one window needs"),
    ("windows huge steps and stride", lambda: windows(X10, 10**30, stride=10**30), ShapeError,
     r"fewer than one window needs"),
    ("windows huge stride", lambda: windows(X10, 2, stride=10**30), ShapeError,
     r"stride = 10{30} is longer than the series \(10 values\): fewer than one window would follow .*stride <= 10"),
    ("windows stride past the series", lambda: windows(X10, 2, stride=11), ShapeError,
     r"stride = 11 is longer than the series"),
    # sine
    ("sine too many points", lambda: datasets.sine(10**12), ParameterError,
     r"n must be at most 100,000,000 \(two float64 arrays .*got 1,000,000,000,000 \(1.6e\+04 GB\)"),
    ("sine t_max bool", lambda: datasets.sine(5, True),
     ParameterError, r"t_max must be a positive finite number, got True"),
    ("sine t_max infinite", lambda: datasets.sine(5, math.inf), ParameterError, r"t_max must be .*got inf"),
    ("sine t_max huge int", lambda: datasets.sine(5, 10**400),
     ParameterError, r"t_max must be a positive finite number"),
    # forecast
    ("forecast 1e39 on float32", lambda: elman.forecast(M32, [1e39, 1.0], 3), NonFiniteError,
     r"history holds 1e\+39 .*beyond the float32 range"),
    ("forecast empty history", lambda: elman.forecast(M64, [], 3), ShapeError,
     r"history is empty .*expected at least one value"),
    ("forecast too many steps", lambda: elman.forecast(M64, [1.0, 2.0], 10**12), ParameterError,
     r"n_steps must be at most 10,000,000 for D = 1, got 1,000,000,000,000.*forecast in parts"),
    # plots: checked before anything is drawn
    ("plot empty", lambda: plot.actual_vs_predicted([], []), ShapeError, r"actual is empty"),
    ("plot split negative", lambda: plot.actual_vs_predicted([1.0, 2.0], [1.0, 2.0], split=-5), ParameterError,
     r"split must be None or an integer in \[0, L = 2\] .*got -5"),
    ("plot split string", lambda: plot.actual_vs_predicted([1.0, 2.0], [1.0, 2.0], split="a"), ParameterError,
     r"split must be .*got 'a'"),
    ("plot split past the end", lambda: plot.actual_vs_predicted([1.0, 2.0], [1.0, 2.0], split=3), ParameterError,
     r"split must be .*got 3"),
    ("plot x of the wrong length", lambda: plot.actual_vs_predicted([1.0, 2.0], [1.0, 2.0], x=[1, 2, 3]), ShapeError,
     r"x has shape \(3,\) but actual has 2 values"),
    ("plot several columns", lambda: plot.actual_vs_predicted(np.ones((4, 3)), np.ones((4, 3))), ShapeError,
     r"actual has shape \(4, 3\) but should be \(L,\) or \(L, 1\); for several columns, plot each one"),
    ("plot lengths differ", lambda: plot.actual_vs_predicted([1.0, 2.0], [1.0]), ShapeError,
     r"actual has 2 values but predicted has 1"),
    ("plot NaN", lambda: plot.actual_vs_predicted([1.0, np.nan], [1.0, 2.0]), NonFiniteError, r"actual holds NaN"),
    ("loss_curves None", lambda: plot.loss_curves(None), InputTypeError,
     r"history must be a dict such as .* or a FitResult, got NoneType"),
    ("loss_curves strings", lambda: plot.loss_curves({"loss": ["a"]}), InputTypeError,
     r"history\['loss'\] must hold real numbers"),
    ("loss_curves a string", lambda: plot.loss_curves({"loss": "abc"}), InputTypeError,
     r"history\['loss'\] must be a list of numbers, one per epoch, got 'abc'"),
    ("loss_curves no loss", lambda: plot.loss_curves({"los": [1.0]}),
     ShapeError, r"history has keys \['los'\]; expected 'loss'"),
    ("loss_curves log string", lambda: plot.loss_curves({"loss": [1.0]}, log="no"), ParameterError,
     r"log must be True or False, got 'no'"),
    ("state_trajectories sample out of range", lambda: plot.state_trajectories(TRAJ.states, sample=99), ParameterError,
     r"sample must be an integer in \[0, N - 1 = 1\] \(states holds N = 2 samples\), got 99"),
    ("state_trajectories not numbers", lambda: plot.state_trajectories({"a": 1}), InputTypeError, r"states must"),
    ("state_trajectories empty", lambda: plot.state_trajectories(np.zeros((0, 3))), ShapeError, r"states is empty"),
    ("eigenvalues NaN", lambda: plot.eigenvalues([[np.nan]]), NonFiniteError, r"A holds NaN or inf"),
    ("eigenvalues empty", lambda: plot.eigenvalues(np.zeros((0, 0))), ShapeError, r"A is empty"),
    ("eigenvalues beyond float64", lambda: plot.eigenvalues(np.full((2, 2), 1.7e308)), NonFiniteError,
     r"the eigenvalues of A exceed the float64 range"),
]


@pytest.mark.parametrize("what, call, kind, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(what, call, kind, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no NumPy or matplotlib warning on the way
        with pytest.raises(kind, match=pattern) as info:
            call()
    assert isinstance(info.value, ElmanError)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    plt.close("all")


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize("a, b, want", [
    ([0.0], [1e-170], 1e-170),
    ([0.0, 0.0], [3e-200, 4e-200], math.sqrt(12.5) * 1e-200),
    ([1e-300, 0.0], [0.0, 1e-300], 1e-300),
    ([0.0, 0.0, 0.0], [1e-170, 0.0, 1e-150], math.sqrt((1e-40 + 1) / 3) * 1e-150),  # the small one underflows alone
])
def test_rmse_of_tiny_errors(a, b, want):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.rmse(a, b) == pytest.approx(want, rel=1e-12)
        assert metrics.mse(a, b) == pytest.approx(want**2, rel=1e-12, abs=1e-323)
    assert metrics.mse([0.0, 0.0], [3e-120, 4e-120]) == pytest.approx(12.5e-240, rel=1e-12)
    assert metrics.nrmse([0.0, 1e-200], [1e-200, 0.0]) == pytest.approx(1.0, rel=1e-12)
    assert metrics.nrmse([0.0, 5e-324], [5e-324, 0.0]) == 1.0  # a range of one subnormal is not "constant"


def test_ordinary_metrics_keep_their_bits():
    rng = np.random.default_rng(5)
    for scale in (1e-90, 1e-3, 1.0, 1e5, 1e150):
        a, b = rng.standard_normal(50) * scale, rng.standard_normal(50) * scale
        assert metrics.mse(a, b) == float(np.mean((b - a) ** 2))
        assert metrics.rmse(a, b) == float(np.sqrt(np.mean((b - a) ** 2)))
        assert metrics.mae(a, b) == float(np.mean(np.abs(b - a)))
        assert metrics.nrmse(a, b) == float(np.sqrt(np.mean((b - a) ** 2))) / float(a.max() - a.min())


# ------------------------------------------------------------------ datasets


def _memory_sum_by_definition(length, weight=1, bias=1, mem_len=0):
    """The O(n^2) definition memory_sum had before the running sums."""
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


def test_memory_sum_with_numpy_integer_weight_is_exact():
    x = datasets.memory_sum(100, weight=np.int64(2), bias=np.int32(1))
    np.testing.assert_array_equal(x, [float(2 ** (n + 1) - 1) for n in range(100)])  # not wrapped to -1
    assert datasets.memory_sum(1023, weight=2)[-1] == float(2**1023 - 1)  # the longest possible


@pytest.mark.parametrize("weight", [1, 2, -1, 0, 3, 0.5, -0.7, 1.25])
@pytest.mark.parametrize("bias", [1, 0, -2, 0.25])
def test_memory_sum_equals_the_definition(weight, bias):
    exact = isinstance(weight, int) and isinstance(bias, int)
    for mem_len in (-1, 0, 1, 2, 5, 39, 40, 100):
        for length in (1, 2, 3, 12, 40):
            want = _memory_sum_by_definition(length, weight, bias, mem_len)
            got = datasets.memory_sum(length, weight, bias, mem_len)
            if exact or mem_len <= 0 or mem_len >= length - 1:
                # integers exactly; the whole past is summed in the same order as sum()
                np.testing.assert_array_equal(got, want, err_msg=f"{weight=} {bias=} {mem_len=} {length=}")
            else:
                # a float window is summed exactly and rounded once (sum() rounds at each step)
                np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{weight=} {bias=} {mem_len=}")


def test_memory_sum_long_sequences_are_linear_time():
    x = datasets.memory_sum(10**5, weight=0, bias=-1, mem_len=1)  # bounded: -1, -1, -2, -2, ...
    assert x[-1] == -(10**5 // 2) and x.dtype == np.float64


def test_sine_takes_numpy_numbers():
    t, x = datasets.sine(np.int64(5), np.float32(4.0))
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


# ------------------------------------------------------------------ data


def test_split_and_windows_take_numpy_numbers():
    train, test = split(X10, np.float32(0.5))
    assert train.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and len(test) == 5
    X, y = windows(X10, np.int64(2), stride=np.int64(10))  # a stride as long as the series: one window
    assert X.shape == (1, 2, 1) and y.tolist() == [[2.0]]


@pytest.mark.parametrize("shape, feature_range", [((20,), (0.0, 1.0)), ((20, 1), (-1.0, 1.0)),
                                                  ((20, 3), (np.float32(-0.5), np.int64(2))),
                                                  ((20, 4, 2), (0.0, 1.0)), ((20, 1, 1), (0.0, 1.0))])
def test_scaler_round_trip_is_exact(shape, feature_range):
    x = np.random.default_rng(2).standard_normal(shape) * 1e3 + 7
    sc = MinMaxScaler(feature_range).fit(x)
    d = sc.to_dict()
    for back in (MinMaxScaler.from_dict(d), MinMaxScaler.from_dict(json.loads(json.dumps(d)))):
        assert back.to_dict() == d
        np.testing.assert_array_equal(back.transform(x), sc.transform(x))
        np.testing.assert_array_equal(back.inverse_transform(sc.transform(x)), sc.inverse_transform(sc.transform(x)))


def test_forecast_of_a_float32_model_still_works():
    out = elman.forecast(M32, [0.5, 1.0], 3)
    assert out.shape == (3,) and out.dtype == np.float32


# ------------------------------------------------------------------ plots


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    plt.close("all")


BIG = np.array([1.7e308, -1.7e308, 1e308, 0.0])


def test_plots_near_the_float_limit_draw_in_powers_of_ten(no_warnings):
    ax = plot.actual_vs_predicted(BIG, BIG[::-1], split=2)
    ax.figure.canvas.draw()
    assert ax.get_ylabel() == "value (x 1e308)" and max(ax.get_ylim()) < 10
    ax = plot.actual_vs_predicted([1e308, 1e308], [1e308, 1e308], ylabel="flux")  # constant, same sign
    ax.figure.canvas.draw()
    assert ax.get_ylabel() == "flux (x 1e308)"
    ax = plot.actual_vs_predicted([1e-300, 2e-300], [0.0, 5e-324])  # near the smallest floats
    ax.figure.canvas.draw()
    assert ax.get_ylabel() == "value (x 1e-300)" and max(ax.get_ylim()) > 1
    for log in (True, False):
        ax = plot.loss_curves({"loss": [1.7e308, 1e300, 1.0]}, log=log)
        ax.figure.canvas.draw()
        assert ax.get_ylabel() == "loss (x 1e308)"
    ax = plot.state_trajectories(np.full((5, 2), -1.7e308))
    ax.figure.canvas.draw()
    assert ax.get_ylabel() == "z_k (x 1e308)"
    ax = plot.eigenvalues(np.diag([1.7e308, -1e308]))
    ax.figure.canvas.draw()
    assert ax.get_xlabel() == "Re (x 1e308)" and "1.7e+308" in ax.get_title()


def test_ordinary_plots_are_as_before(no_warnings):
    ax = plot.actual_vs_predicted(np.sin(np.arange(30.0)), np.cos(np.arange(30.0)), split=20, x=np.arange(30) + 1749)
    ax.figure.canvas.draw()
    assert ax.get_ylabel() == "value" and len(ax.get_legend().get_texts()) == 3
    ax = plot.eigenvalues(np.diag([0.5, 2.0]))
    assert ax.get_xlim() == (-2.1, 2.1) and "spectral radius 2.000" in ax.get_title()


def test_a_run_that_diverged_at_once_plots_a_note_not_an_empty_legend(no_warnings):
    for history in ({"loss": []}, {"loss": [], "val_loss": []}, {"loss": [math.nan, math.inf]}):
        ax = plot.loss_curves(history)
        ax.figure.canvas.draw()
        assert ax.get_legend() is None
        assert [t.get_text() for t in ax.texts] == ["no finite loss recorded"]
    ax = plot.loss_curves({"loss": [0.0, 0.0]})  # nothing a log axis can show: a linear one
    ax.figure.canvas.draw()
    assert ax.get_yscale() == "linear" and ax.get_legend() is not None


def test_plots_take_fit_results_and_trajectories(no_warnings):
    res = elman.fit(M64, np.ones((4, 3, 1)), np.ones((4, 1)), epochs=2, verbose=0)
    ax = plot.loss_curves(res)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss"]
    ax = plot.state_trajectories(TRAJ, sample=np.int64(1))
    assert len(ax.lines) == 3
    stacked = elman.StackedRNN([elman.ElmanRNN.init(1, 2, seed=0), elman.ElmanRNN.init(2, 2, seed=1)])
    with pytest.raises(ParameterError, match=r"StackedRNN's, with one states array per layer \(2\); pass one"):
        plot.state_trajectories(stacked.run(np.zeros((1, 3, 1))))
