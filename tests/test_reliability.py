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
from elman.errors import ElmanError, FastPathWarning, NonFiniteError, ParameterError, ShapeError
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
    ("float32 model built from 1e39", lambda: ElmanRNN([[1e39]], [[1.0]], [0.0], dtype=np.float32), NonFiniteError,
     r"A holds 1e\+39 .*beyond the float32 range"),
    ("step with NaN input", lambda: RNN.step(np.zeros(M), [np.nan, 0.0]), NonFiniteError, r"u holds NaN or inf"),
    ("step of float32 with 1e39", lambda: RNN32.step(np.full(M, 1e39), np.zeros(D)), NonFiniteError,
     r"z holds 1e\+39 .*beyond the float32 range"),
    ("step with rows that do not pair", lambda: RNN.step(np.zeros((2, M)), np.zeros((3, D))), ShapeError,
     r"z has 2 rows but u has 3; expected one \(z, u\) pair per row"),
    ("output of NaN", lambda: RNN.output([np.nan] * M), NonFiniteError, r"z holds NaN or inf"),
    ("stateful batch beyond memory", lambda: RNN.stateful(10**12), ParameterError,
     r"batch_size = 1000000000000 needs .* GiB of state"),
    ("init of a state beyond memory", lambda: ElmanRNN.init(1, 10**20), ParameterError,
     r"state_dim = 100000000000000000000 needs about .* GiB"),
    ("restore_best_weights as a string", lambda: _fit(restore_best_weights="no"), ParameterError,
     r"restore_best_weights must be True or False, got 'no'"),
    ("nesterov as a string", lambda: _fit(optimizer="sgd", nesterov="no"), ParameterError,
     r"nesterov must be True or False, got 'no'"),
    ("centered as a string", lambda: _fit(optimizer="rmsprop", centered="no"), ParameterError,
     r"centered must be True or False, got 'no'"),
    ("grad_z0 as a string", lambda: elman.loss_and_grad(RNN, U, Y, grad_z0="yes"), ParameterError,
     r"grad_z0 must be True or False, got 'yes'"),
    ("min_delta NaN", lambda: _fit(min_delta=float("nan")), ParameterError,
     r"min_delta must be a finite number >= 0, got nan"),
    ("min_delta a string", lambda: _fit(min_delta="x"), ParameterError, r"min_delta must be a finite number >= 0"),
    ("validation_split True", lambda: _fit(validation_split=True), ParameterError,
     r"validation_split must be a number in \[0, 1\), got True"),
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


def test_numpy_scalars_are_numbers():
    assert "val_loss" in _fit(validation_split=np.float32(0.4)).history


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
    s = np.repeat(np.linspace(-1, 1, 50)[:, None], 2, axis=1)
    np.testing.assert_array_equal(sc.inverse_transform(s), mn + (s - lo) * (mx - mn) / (hi - lo))


def test_metrics_near_the_float_limit_are_finite():
    a, b = [0.0, 1.7e308], [1.7e308, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert elman.metrics.rmse(a, b) == pytest.approx(1.7e308, rel=1e-12)
        assert elman.metrics.mae(a, b) == pytest.approx(1.7e308, rel=1e-12)
        assert elman.metrics.nrmse([-1e308, 1e308], [1e308, -1e308]) == pytest.approx(1.0, rel=1e-12)
    assert elman.metrics.rmse([0.0, 0.0], [3.0, 4.0]) == np.sqrt(12.5)  # ordinary values: unchanged


def test_kernel_failure_falls_back_to_blas_with_one_warning(monkeypatch):
    """A compiled kernel that cannot be used (not built, stale, unloadable) never stops
    training: fit says why once and trains with the NumPy engine (same results)."""
    from elman import _compiled

    rnn = ElmanRNN.init(1, 3, 1, seed=0)
    X, y = np.random.default_rng(0).standard_normal((16, 5, 1)), np.zeros((16, 1))
    reference = elman.fit(rnn, X, y, epochs=2, seed=0, verbose=0, engine="numpy")
    monkeypatch.setattr(_compiled, "_lib", None)
    monkeypatch.setattr(_compiled, "_broken", "the compiled kernel elman._ckernel is not built (simulated)")
    with pytest.warns(FastPathWarning, match=r"compiled training kernel is unavailable.*not built \(simulated\)"
                                             r".*engine='blas'") as w:
        res = elman.fit(rnn, X, y, epochs=2, seed=0, verbose=0, engine="auto")
    assert len(w) == 1 and res.engine == "blas"
    np.testing.assert_allclose(res.model.A, reference.model.A, rtol=1e-12)


def test_kernel_that_fails_to_load_falls_back(monkeypatch):
    from elman import _compiled

    def broken_loader():
        raise RuntimeError("simulated loader fault")

    monkeypatch.setattr(_compiled, "_lib", None)
    monkeypatch.setattr(_compiled, "_broken", None)
    monkeypatch.setattr(_compiled, "_open", broken_loader)
    rnn = ElmanRNN.init(1, 3, 1, seed=0)
    with pytest.warns(FastPathWarning, match="RuntimeError: simulated loader fault"):
        res = elman.fit(rnn, np.ones((4, 3, 1)), np.zeros((4, 1)), epochs=1, verbose=0, engine="c")
    assert res.engine == "blas"


def test_dropping_the_readout_drops_d_too():
    assert RNN.replace(C=None).d is None and RNN.replace(C=None).output_dim == M


def test_divergence_on_the_first_batch_points_at_the_data():
    big = np.full((5, K), 1e200)
    with pytest.warns(elman.errors.DivergenceWarning, match=r"very first batch: check the scale of U and Y "
                                                             r"\(max \|Y\| = 1e\+200\)"):
        elman.fit(RNN, U, big, epochs=1, verbose=0)
