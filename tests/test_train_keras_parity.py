"""elman.fit against Keras model.fit: same initial weights, same batches, float64.

After 3 epochs the weights must agree to 1e-8 (relative): the optimizers' formulas
(epsilon placement, bias correction, clipping) are Keras 3's exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

import elman
from helpers import randomize

OPTIMIZERS = {
    "sgd_momentum": ("SGD", dict(learning_rate=0.05, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(learning_rate=0.05, momentum=0.8, nesterov=True)),
    "rmsprop": ("RMSprop", dict(learning_rate=0.01)),
    "adam": ("Adam", dict(learning_rate=0.01)),
}
CLIPS = {"none": {}, "clipnorm": dict(clipnorm=0.05), "global_clipnorm": dict(global_clipnorm=0.05),
         "clipvalue": dict(clipvalue=0.01)}


def _keras_fit(keras64, kind, opts, clip, rs, loss="mse", act="tanh", seed=0):
    keras = keras64
    D, M, K, N, T = 3, 5, 2, 20, 6
    inp = keras.Input((T, D), dtype="float64")
    h = keras.layers.SimpleRNN(M, activation=act, return_sequences=rs, dtype="float64")(inp)
    model = keras.Model(inp, keras.layers.Dense(K, activation="tanh", dtype="float64")(h))
    randomize(model, seed)
    rng = np.random.default_rng(seed + 1)
    U = rng.standard_normal((N, T, D))
    Y = rng.standard_normal((N, T, K) if rs else (N, K))
    start = elman.from_keras(model)
    model.compile(optimizer=getattr(keras.optimizers, kind)(**opts, **clip), loss=loss)
    hist = model.fit(U, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    return model, start, U, Y, hist.history["loss"]


def _assert_same_weights(model, rnn, tol=1e-8):
    ours = [rnn.B.T, rnn.A.T, rnn.b, rnn.C.T, rnn.d]
    for name, a, b in zip(["kernel", "recurrent_kernel", "bias", "dense kernel", "dense bias"], model.get_weights(), ours):
        rel = np.max(np.abs(a - b)) / np.max(np.abs(a))
        assert rel <= tol, f"{name}: relative difference {rel:.2e}"


@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_three_epochs_equal_keras(keras64, opt, clip):
    kind, opts = OPTIMIZERS[opt]
    model, start, U, Y, keras_loss = _keras_fit(keras64, kind, opts, CLIPS[clip], rs=False)
    res = elman.fit(start, U, Y, epochs=3, batch_size=8, shuffle=False, optimizer=kind.lower(), verbose=0,
                    **opts, **CLIPS[clip])
    _assert_same_weights(model, res.model)
    np.testing.assert_allclose(res.history["loss"], keras_loss, rtol=1e-9)
    # The training really moved the weights (so the comparison is not of two starts).
    assert np.max(np.abs(res.model.A - start.A)) > 1e-3


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_sequences_losses_and_engines_equal_keras(keras64, loss, engine):
    model, start, U, Y, keras_loss = _keras_fit(keras64, "Adam", dict(learning_rate=0.01), {}, rs=True, loss=loss,
                                                act="softsign", seed=3)
    res = elman.fit(start, U, Y, epochs=3, batch_size=8, shuffle=False, loss=loss, learning_rate=0.01, verbose=0,
                    engine=engine)
    assert res.engine == engine
    _assert_same_weights(model, res.model)
    np.testing.assert_allclose(res.history["loss"], keras_loss, rtol=1e-9)


def test_seeded_keras_reuses_one_permutation_every_epoch(keras):
    """What docs/guide.md and benchmarks/train.py say of Keras's own shuffle: under
    keras.utils.set_random_seed, Keras 3 (TensorFlow backend) shuffles once and then
    trains every epoch in that same order (elman.fit draws a new order each epoch).
    If a Keras release changes this, this test fails and the guide must be updated."""
    import tensorflow as tf

    seen = []

    def note(x):
        seen.append(tuple(int(v) for v in x.numpy()[:, 0]))
        return np.float32(0)

    class Recorder(keras.Model):
        def train_step(self, data):
            tf.py_function(note, [data[0]], tf.float32)
            return super().train_step(data)

    keras.utils.set_random_seed(7)
    inp = keras.Input((1,))
    model = Recorder(inp, keras.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    X = np.arange(10, dtype=np.float32)[:, None]
    model.fit(X, X, epochs=3, batch_size=4, verbose=0)
    epochs = [sum(seen[3 * e:3 * e + 3], ()) for e in range(3)]
    assert len(seen) == 9 and sorted(epochs[0]) == list(range(10))
    assert epochs[0] != tuple(range(10))  # shuffled ...
    assert epochs[0] == epochs[1] == epochs[2]  # ... once
