"""The library's arguments as a careful or unlucky user gives them: a clear elman error
(type and key words) instead of a silent wrong answer, a bare NumPy error or a
misleading message; and values near the float limits handled without overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import elman
from elman import ElmanRNN, StackedRNN, optim
from elman.data import MinMaxScaler
from elman.errors import ElmanError, FastPathWarning, NonFiniteError, ParameterError
from elman.workflow import load_series

D, M, K = 2, 4, 3
RNN = ElmanRNN.init(D, M, K, seed=0)
RNN32 = RNN.astype(np.float32)
U = np.random.default_rng(1).standard_normal((5, 6, D))
Y = np.zeros((5, K))
GROWS = ElmanRNN(A=[[0.0]], B=[[1.0]], b=[0.0], C=[[2.0]], d=[0.0], activation="linear")


def _fit(**kw):
    return elman.fit(RNN, U, Y, epochs=1, verbose=0, **kw)


# (what goes wrong, call, exception type, regex the message must match)
CASES = [
    ("return_sequences as a string", lambda: RNN.predict(U, return_sequences="no"), ParameterError,
     r"return_sequences must be True or False, got 'no'"),
    ("return_sequences as 1", lambda: RNN.predict(U, return_sequences=1), ParameterError,
     r"return_sequences must be True or False, got 1"),
    ("go_backwards as a string", lambda: RNN.replace(go_backwards="false"), ParameterError,
     r"go_backwards must be True or False, got 'false'"),
    ("stacked return_sequences string", lambda: StackedRNN([ElmanRNN.init(D, M, seed=1)], return_sequences="yes"),
     ParameterError, r"return_sequences must be True or False, got 'yes'"),
    ("stateful return_sequences string", lambda: RNN.stateful(5).predict(U, return_sequences="True"),
     ParameterError, r"return_sequences must be True or False"),
    ("loss_and_grad return_sequences", lambda: elman.loss_and_grad(RNN, U, Y, return_sequences="no"),
     ParameterError, r"return_sequences must be True or False"),
    ("fit negative seed", lambda: _fit(seed=-1), ParameterError,
     r"seed must be None, an integer >= 0 or a numpy.random.Generator, got -1"),
    ("fit float seed", lambda: _fit(seed=1.5), ParameterError, r"seed must be .* got 1.5"),
    ("init negative seed", lambda: ElmanRNN.init(D, M, K, seed=-3), ParameterError, r"seed must be .* got -3"),
    ("fit shuffle string", lambda: _fit(shuffle="yes"), ParameterError, r"shuffle must be True or False, got 'yes'"),
    ("optimizer instance with learning_rate and clipnorm",
     lambda: _fit(optimizer=optim.Adam(), learning_rate=0.5, clipnorm=1.0), ParameterError,
     r"optimizer is an elman.optim.Adam instance.*learning_rate=0.5, clipnorm=1.0 would be ignored"),
    ("optimizer instance with momentum", lambda: _fit(optimizer=optim.SGD(), momentum=0.9), ParameterError,
     r"SGD instance.*momentum=0.9 would be ignored.*SGD\(momentum=0.9\)"),
    ("optimizer instance with clipvalue", lambda: _fit(optimizer=optim.RMSprop(), clipvalue=1.0), ParameterError,
     r"clipvalue=1.0 would be ignored"),
    ("float32 model given 1e39", lambda: RNN32.predict(np.full((1, 2, D), 1e39)), NonFiniteError,
     r"U holds 1e\+39 .*beyond the float32 range .*rnn.astype\(np.float64\)"),
    ("float32 z0 of 1e39", lambda: RNN32.predict(U, z0=np.full(M, -1e39)), NonFiniteError,
     r"z0 holds -1e\+39 .*beyond the float32 range"),
    ("float32 training targets of 1e39", lambda: elman.fit(RNN32, U, np.full((5, K), 1e39), verbose=0),
     NonFiniteError, r"Y holds 1e\+39 .*beyond the float32 range"),
    ("NaN input still named as NaN", lambda: RNN32.predict(np.full((1, 2, D), np.nan)), NonFiniteError,
     r"U holds NaN or inf"),
    ("forecast that overflows", lambda: elman.forecast(GROWS, [1.0], 2000, steps=1), NonFiniteError,
     r"the forecast overflowed at step 1024 of n_steps = 2000.*forecast fewer steps \(up to 1023\)"),
    ("column with a built-in series", lambda: load_series("sunspots", "Sunspots"), ParameterError,
     r"column='Sunspots' was given, but 'sunspots' is a built-in series"),
]


@pytest.mark.parametrize("what, call, kind, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(what, call, kind, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no NumPy overflow warning on the way
        with pytest.raises(kind, match=pattern) as info:
            call()
    assert isinstance(info.value, ElmanError)


def test_numpy_bools_are_bools():
    assert RNN.predict(U, return_sequences=np.bool_(True)).shape == (5, 6, K)
    assert RNN.replace(go_backwards=np.True_).go_backwards is True


def test_forecast_just_below_overflow_is_fine():
    assert np.isfinite(elman.forecast(GROWS, [1.0], 1023, steps=1)).all()


def test_generator_and_large_seeds_still_work():
    a = _fit(seed=np.random.default_rng(7)).model
    b = _fit(seed=2**63).model
    assert a.A.shape == b.A.shape == (M, M)


def test_optimizer_instance_alone_keeps_its_settings():
    res = _fit(optimizer=optim.SGD(learning_rate=0.5, momentum=0.9))
    assert res.config["optimizer"]["learning_rate"] == 0.5


def test_scaler_on_values_near_the_float_limit():
    x = np.array([-1e308, 0.0, 1e308])
    sc = MinMaxScaler().fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sc.transform(x)
        back = sc.inverse_transform(s)
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(back, x)


def test_scaler_keeps_the_bits_of_ordinary_series():
    # The overflow-free form must give what the textbook form gives, to the last bit.
    x = np.random.default_rng(3).standard_normal((200, 2)) * 37 + 5
    sc = MinMaxScaler((-1.0, 1.0)).fit(x)
    lo, hi, mn, mx = -1.0, 1.0, x.min(axis=0), x.max(axis=0)
    np.testing.assert_array_equal(sc.transform(x), lo + (x - mn) * (hi - lo) / (mx - mn))
    s = np.linspace(-1, 1, 50)[:, None]
    np.testing.assert_array_equal(sc.inverse_transform(s), mn + (s - lo) * (mx - mn) / (hi - lo))


def test_metrics_near_the_float_limit_are_finite():
    a, b = [0.0, 1.7e308], [1.7e308, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert elman.metrics.rmse(a, b) == pytest.approx(1.7e308, rel=1e-12)
        assert elman.metrics.mae(a, b) == pytest.approx(1.7e308, rel=1e-12)
        assert elman.metrics.nrmse([-1e308, 1e308], [1e308, -1e308]) == pytest.approx(1.0, rel=1e-12)
    assert elman.metrics.rmse([0.0, 0.0], [3.0, 4.0]) == np.sqrt(12.5)  # ordinary values: unchanged


def test_kernel_failure_falls_back_to_numpy_with_one_warning(monkeypatch):
    pytest.importorskip("numba")
    from elman import _fast

    rnn = ElmanRNN.init(1, 3, 1, seed=0)
    X, y = np.random.default_rng(0).standard_normal((16, 5, 1)), np.zeros((16, 1))
    reference = elman.fit(rnn, X, y, epochs=2, seed=0, verbose=0, engine="numpy")
    monkeypatch.setattr(_fast, "_broken", "RuntimeError: cannot cache function 'sig': no locator available")
    with pytest.warns(FastPathWarning, match="compiled training kernel is unavailable.*no locator.*NumPy path") as w:
        res = elman.fit(rnn, X, y, epochs=2, seed=0, verbose=0, engine="auto")
    assert len(w) == 1 and res.engine == "numpy"
    np.testing.assert_array_equal(res.model.A, reference.model.A)


def test_kernel_that_fails_on_its_first_call_falls_back(monkeypatch):
    pytest.importorskip("numba")
    from elman import _fast

    def broken_kernel(*args):
        raise RuntimeError("LLVM ERROR: simulated")

    monkeypatch.setattr(_fast, "_build", lambda: broken_kernel)
    monkeypatch.setattr(_fast, "_broken", None)
    rnn = ElmanRNN.init(1, 3, 1, seed=0)
    with pytest.warns(FastPathWarning, match="LLVM ERROR: simulated"):
        res = elman.fit(rnn, np.ones((4, 3, 1)), np.zeros((4, 1)), epochs=1, verbose=0, engine="numba")
    assert res.engine == "numpy"
