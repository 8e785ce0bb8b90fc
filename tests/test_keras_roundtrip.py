"""to_keras(from_keras(m)) predicts what m predicts; from_keras(to_keras(rnn)) has rnn's matrices."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from helpers import assert_parity, build


@pytest.mark.parametrize("layers,K,rs,gb", [([5], 2, False, False), ([5], None, True, True), ([5, 4], 3, True, [True, False])])
def test_keras_to_elman_to_keras(keras, layers, K, rs, gb):
    m = build(keras, 3, layers, K, return_sequences=rs, go_backwards=gb, activation="elu",
              dense_activation="softsign", seed=7)
    m2 = elman.to_keras(elman.from_keras(m))
    U = np.random.default_rng(0).standard_normal((4, 6, 3)).astype(np.float32)
    y, y2 = m.predict(U, verbose=0), m2.predict(U, verbose=0)
    assert y.shape == y2.shape
    np.testing.assert_allclose(y2, y, rtol=0, atol=1e-6)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a if a.size else a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [True, False])
def test_elman_to_keras_to_elman(keras, dtype, C):
    rnn = elman.ElmanRNN.init(3, 5, 2 if C else None, activation="selu", output_activation="tanh" if C else "linear",
                              seed=3, dtype=dtype)
    rnn = rnn.replace(b=np.linspace(-1, 1, 5))
    back = elman.from_keras(elman.to_keras(rnn))
    assert back.dtype == rnn.dtype
    for name, m in rnn.params.items():
        if m is None:
            assert back.params[name] is None
        else:
            np.testing.assert_array_equal(back.params[name], m, err_msg=name)
    assert (back.activation, back.output_activation) == (rnn.activation, rnn.output_activation)


def test_stacked_elman_to_keras_to_elman(keras):
    l1 = elman.ElmanRNN.init(2, 4, seed=1, activation="relu")
    l2 = elman.ElmanRNN.init(4, 3, seed=2).replace(go_backwards=True)
    rnn = elman.StackedRNN([l1, l2], C=np.arange(6.0).reshape(2, 3) / 6, d=[0.1, -0.2], return_sequences=True)
    km = elman.to_keras(rnn)
    back = elman.from_keras(km)
    for a, b in zip(rnn.layers, back.layers):
        for name in "ABb":
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.go_backwards == b.go_backwards and a.activation == b.activation
    np.testing.assert_array_equal(back.C, rnn.C)
    U = np.random.default_rng(1).standard_normal((3, 5, 2))
    with_f64 = km.predict(U, verbose=0)
    # floatx is float32, so predict saw float32-rounded input: give elman the same.
    assert_parity(with_f64, rnn.predict(U.astype(np.float32)), 1e-12)


def test_readout_free_model_with_output_activation(keras):
    rnn = elman.ElmanRNN.init(2, 3, seed=0, output_activation="sigmoid")
    km = elman.to_keras(rnn)
    U = np.random.default_rng(1).standard_normal((2, 4, 2)).astype(np.float32)
    assert_parity(km.predict(U, verbose=0), rnn.predict(U), 1e-12)
