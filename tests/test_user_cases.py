"""The cases our users actually wrote (../shared/seeds), done right."""

from __future__ import annotations

import numpy as np

import elman
from elman.demo import numpy_loop, python_loop, sine_model
from helpers import assert_parity, floatx, randomize


def test_sine_model_of_the_universal_approximation_notebook(keras):
    # 500 points on [0, 50], windows of 5, SimpleRNN(50, tanh) + Dense(1), Adam, 100 epochs.
    model, X, y = sine_model(epochs=100, seed=0)
    assert X.shape == (495, 5, 1)
    y_keras = model.predict(X, verbose=0)
    assert np.mean((y_keras - y) ** 2) < 1e-3  # it did learn the sine
    rnn = elman.from_keras(model)
    # The readout is the Dense layer's, not the RNN's (the notebook's mistake).
    np.testing.assert_array_equal(rnn.C, model.layers[1].get_weights()[0].T)
    assert (rnn.A.shape, rnn.B.shape, rnn.b.shape, rnn.C.shape, rnn.d.shape) == ((50, 50), (50, 1), (50,), (1, 50), (1,))
    assert_parity(y_keras, rnn.predict(X), 1e-5, "elman")
    A, B, b, C, d = (np.asarray(m, np.float64) for m in rnn.params.values())
    assert_parity(y_keras, numpy_loop(A, B, b, C, d, X), 1e-5, "numpy loop")
    assert_parity(y_keras[:40], np.array(python_loop(A, B, b, C, d, X[:40])), 1e-5, "python loop")


def test_forward_by_hand_n3_t10_d3_m5_k2_functional(keras):
    N, T, D, M, K = 3, 10, 3, 5, 2
    inp = keras.Input(shape=(T, D))
    out = keras.layers.Dense(K)(keras.layers.SimpleRNN(M)(inp))
    model = keras.Model(inp, out)
    randomize(model, 0)
    U = np.random.default_rng(1).standard_normal((N, T, D)).astype(np.float32)
    y = model.predict(U, verbose=0)
    rnn = elman.from_keras(model)
    assert (rnn.input_dim, rnn.state_dim, rnn.output_dim) == (D, M, K)
    assert_parity(y, rnn.predict(U), 1e-5)
    # The same by hand, sample by sample, from the Keras weights with their transposes.
    kernel, recurrent, bias, dense_kernel, dense_bias = model.get_weights()
    for n in range(N):
        z = np.zeros(M)
        for k in range(T):
            z = np.tanh(recurrent.T @ z + kernel.T @ U[n, k] + bias)
        assert_parity(y[n], dense_kernel.T @ z + dense_bias, 1e-5, f"sample {n}")


def _two_unit_linear(keras, **kw):
    inp = keras.Input(**kw.pop("input"))
    h = keras.layers.SimpleRNN(2, activation="linear", return_sequences=True, **kw)(inp)
    model = keras.Model(inp, keras.layers.Dense(1, activation="linear")(h))
    randomize(model, 4)
    return model


def _hand(w, x, h):
    """The tutorial's computation: h = x wx + h wh + bh, o = h wy + by, for each step."""
    wx, wh, bh, wy, by = w
    o = []
    for x_k in x:
        h = x_k * wx[0] + h @ wh + bh
        o.append(h @ wy + by)
    return np.array(o), h


def test_two_unit_linear_model_on_1_2_3(keras):
    model = _two_unit_linear(keras, input=dict(shape=(3, 1)))
    x = np.array([1.0, 2.0, 3.0])
    y = model.predict(x.reshape(1, 3, 1), verbose=0)
    o, _ = _hand(model.get_weights(), x, np.zeros(2))
    assert_parity(y[0], o, 1e-5, "hand")
    assert_parity(y, elman.from_keras(model).predict(x.reshape(1, 3, 1)), 1e-5, "elman")


def test_two_unit_linear_stateful_three_predicts(keras):
    model = _two_unit_linear(keras, input=dict(batch_shape=(1, 3, 1)), stateful=True)
    x = np.array([1.0, 2.0, 3.0])
    U = x.reshape(1, 3, 1)
    runner = elman.from_keras(model).stateful(1)
    w, h = model.get_weights(), np.zeros(2)
    outs = []
    for call in range(3):
        y = model.predict(U, batch_size=1, verbose=0)
        o, h = _hand(w, x, h)  # h is not zeroed: the state carries over
        assert_parity(y[0], o, 1e-5, f"hand, call {call + 1}")
        assert_parity(y, runner.predict(U), 1e-5, f"elman, call {call + 1}")
        outs.append(y)
    assert not np.allclose(outs[0], outs[1])  # the state really carried


def test_linear_rnn_constant_weights_memory_sum_sequence(keras):
    # SimpleRNN(1, activation=None), kernel 2, recurrent 1, bias 3: h_k = 2 x_k + h_{k-1} + 3.
    seq = np.array([1, 5, 14, 36, 89, 217, 526, 1272, 3073, 7421], dtype=np.float64)
    with floatx(keras, "float64"):
        inp = keras.Input(shape=(None, 1), dtype="float64")
        layer = keras.layers.SimpleRNN(
            1, activation=None, return_sequences=True, dtype="float64",
            kernel_initializer=keras.initializers.Constant(2.0),
            recurrent_initializer=keras.initializers.Constant(1.0),
            bias_initializer=keras.initializers.Constant(3.0),
        )
        model = keras.Model(inp, layer(inp))
        x = seq[:-1].reshape(1, -1, 1)
        y = model.predict(x, verbose=0)[0, :, 0]
    assert y.dtype == np.float64
    state, hand = 0.0, []
    for x_k in seq[:-1]:
        state = 2 * x_k + state + 3
        hand.append(state)
    np.testing.assert_array_equal(y, hand)  # exact, integers in float64
    rnn = elman.from_keras(model)
    assert rnn.dtype == np.float64
    for got, want in ((rnn.A, [[1.0]]), (rnn.B, [[2.0]]), (rnn.b, [3.0])):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(rnn.predict(x)[0, :, 0], hand)
    # And why the notebook's loss was about 1e7: this is not the sequence's next value.
    assert y[0] == seq[1] and y[1] == 18 != seq[2]
