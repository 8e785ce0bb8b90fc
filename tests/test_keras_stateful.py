"""Stateful models: the state carried across predict calls, reset, get/set."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from helpers import assert_parity, build

TOL32 = 1e-5


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("layers", [[5], [5, 4]])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_three_calls_reset_and_again(keras, return_sequences, layers, go_backwards):
    N, T, D, K = 3, 6, 2, 4
    model = build(keras, D, layers, K, stateful=True, batch_size=N, T=T, return_sequences=return_sequences,
                  go_backwards=go_backwards, seed=len(layers))
    rnn = elman.from_keras(model)
    runner = rnn.stateful(N)
    rng = np.random.default_rng(0)
    Us = [rng.standard_normal((N, T, D)).astype(np.float32) for _ in range(3)]
    outs = []
    for j, U in enumerate(Us):
        y_k = model.predict(U, batch_size=N, verbose=0)
        outs.append(y_k)
        assert_parity(y_k, runner.predict(U), TOL32, f"call {j + 1}")
        # The carried state is Keras's state.
        ks = elman.get_states(model)
        es = runner.state if isinstance(runner.state, list) else [runner.state]
        for a, b in zip(ks, es):
            np.testing.assert_allclose(a, b, atol=1e-5)
    # The calls really depend on the carried state: call 1's input again gives another answer.
    assert np.max(np.abs(model.predict(Us[0], batch_size=N, verbose=0) - outs[0])) > 1e-3
    elman.reset_states(model)
    runner.reset()
    assert all(np.all(s == 0) for s in elman.get_states(model))
    y_k = model.predict(Us[0], batch_size=N, verbose=0)
    np.testing.assert_allclose(y_k, outs[0], atol=1e-6)  # Keras itself is back to call 1
    assert_parity(y_k, runner.predict(Us[0]), TOL32, "after reset")


def test_verify_keras_stateful_passes_and_restores_state(keras):
    model = build(keras, 3, [5], 2, stateful=True, batch_size=4, return_sequences=True, seed=3)
    model.predict(np.ones((4, 5, 3), np.float32), batch_size=4, verbose=0)
    before = elman.get_states(model)
    report = elman.verify_keras(model)
    assert report.passed and report.stateful
    assert [c[0] for c in report.calls][-1] == "call 4 after reset" and len(report.calls) == 4
    assert report.max_abs_err <= 1e-5
    for a, b in zip(before, elman.get_states(model)):
        np.testing.assert_array_equal(a, b)


def test_get_set_states_round_trip(keras):
    model = build(keras, 2, [3, 4], 1, stateful=True, batch_size=2, seed=5)
    rng = np.random.default_rng(1)
    states = [rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 4)).astype(np.float32)]
    elman.set_states(model, states)
    got = elman.get_states(model)
    for a, b in zip(states, got):
        np.testing.assert_array_equal(a, b)
    # elman continues from that state exactly as Keras does.
    with pytest.warns(elman.errors.StateWarning, match="runner.state = elman.get_states"):
        runner = elman.from_keras(model).stateful(2)  # the state is nonzero: said, and carried below
    runner.state = got
    U = rng.standard_normal((2, 5, 2)).astype(np.float32)
    assert_parity(model.predict(U, batch_size=2, verbose=0), runner.predict(U), TOL32)
    with pytest.raises(elman.errors.ShapeError, match="states"):
        elman.set_states(model, states[:1])
    with pytest.raises(elman.errors.ShapeError, match=r"states\[1\] has shape \(2, 3\)"):
        elman.set_states(model, [states[0], states[0]])


def test_stateful_to_keras(keras):
    rnn = elman.ElmanRNN.init(3, 5, 2, seed=1, return_sequences=True).astype(np.float32)
    model = elman.to_keras(rnn, stateful=True, batch_size=2)
    runner = rnn.stateful(2)
    rng = np.random.default_rng(2)
    for _ in range(3):
        U = rng.standard_normal((2, 4, 3)).astype(np.float32)
        assert_parity(model.predict(U, batch_size=2, verbose=0), runner.predict(U), TOL32)
    with pytest.raises(elman.errors.ParameterError, match="batch_size"):
        elman.to_keras(rnn, stateful=True)
