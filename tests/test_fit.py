"""fit: the 'RNN from scratch' workflow, engines, reproducibility, validation, stopping, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from elman import ElmanRNN
from elman.errors import DivergenceWarning, ParameterError, ShapeError


def sine_windows():
    x = np.sin(np.arange(1000) / 20.0)  # sin(x/20) at 1000 points
    return elman.data.windows(x, 4)  # X (996, 4, 1), y (996, 1)


def test_rnn_from_scratch_workflow():
    X, y = sine_windows()
    n_train = int(0.8 * len(X))
    rnn = ElmanRNN.init(1, 50, 1, seed=0)
    res = elman.fit(rnn, X[:n_train], y[:n_train], epochs=30, batch_size=32, seed=0, verbose=0,
                    validation_data=(X[n_train:], y[n_train:]))
    loss, val = np.array(res.history["loss"]), np.array(res.history["val_loss"])
    assert len(loss) == len(val) == 30
    assert val[-1] < 1e-3, f"validation MSE {val[-1]:.2e}"
    # The curve falls: the last epochs well below the first, and mostly downhill.
    assert loss[-1] < loss[0] / 20 and np.mean(np.diff(loss) < 0) > 0.7
    # The reported val_loss is the MSE of the returned model.
    pred = res.model.predict(X[n_train:])
    np.testing.assert_allclose(np.mean((pred - y[n_train:]) ** 2), val[-1], rtol=1e-10)


# The engines against the reference: tests/test_engines.py.


def test_same_seed_bit_identical_and_input_untouched():
    X, y = sine_windows()
    rnn = ElmanRNN.init(1, 8, 1, seed=3)
    before = {k: v.copy() for k, v in rnn.params.items()}
    runs = [elman.fit(rnn, X[:200], y[:200], epochs=3, batch_size=16, seed=7, verbose=0) for _ in range(2)]
    for name in "ABbCd":
        assert np.array_equal(getattr(runs[0].model, name), getattr(runs[1].model, name))
        assert np.array_equal(getattr(rnn, name), before[name])  # the input model is unchanged
    assert runs[0].history == runs[1].history
    other = elman.fit(rnn, X[:200], y[:200], epochs=3, batch_size=16, seed=8, verbose=0)
    assert not np.array_equal(other.model.A, runs[0].model.A)  # the seed drives the shuffling


def test_validation_split_takes_the_last_samples():
    X, y = sine_windows()
    rnn = ElmanRNN.init(1, 6, 1, seed=0)
    a = elman.fit(rnn, X[:100], y[:100], epochs=2, validation_split=0.25, seed=1, verbose=0)
    b = elman.fit(rnn, X[:75], y[:75], epochs=2, validation_data=(X[75:100], y[75:100]), seed=1, verbose=0)
    assert a.history == b.history


def test_early_stopping_and_restore_best():
    X, y = sine_windows()
    rnn = ElmanRNN.init(1, 6, 1, seed=0)
    # A learning rate too high to settle makes the validation loss bounce.
    res = elman.fit(rnn, X[:300], y[:300], epochs=60, learning_rate=0.2, validation_data=(X[300:400], y[300:400]),
                    patience=3, restore_best_weights=True, seed=0, verbose=0)
    val = res.history["val_loss"]
    assert res.stopped_early == len(val) < 60 and "early stopping" in res.message
    assert res.best_epoch == int(np.argmin(val)) + 1
    best = np.mean((res.model.predict(X[300:400]) - y[300:400]) ** 2)
    np.testing.assert_allclose(best, min(val), rtol=1e-10)


def test_divergence_stops_with_a_message():
    X, y = sine_windows()
    rnn = ElmanRNN.init(1, 5, 1, seed=0, activation="linear")
    with pytest.warns(DivergenceWarning, match=r"training stopped at epoch \d+, batch \d+: .* NaN or inf"):
        res = elman.fit(rnn, X[:64], 1e3 * y[:64], epochs=50, optimizer="sgd", learning_rate=1e3, verbose=0, seed=0)
    assert res.stopped_early is not None and "learning rate" in res.message
    assert all(np.all(np.isfinite(v)) for v in res.model.params.values())


def test_tbptt():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((16, 40, 1))
    Y = np.cumsum(U, axis=1) * 0.1  # a sequence task with long memory
    rnn = ElmanRNN.init(1, 6, 1, seed=1, return_sequences=True)
    full = elman.fit(rnn, U, Y, epochs=2, batch_size=8, seed=0, verbose=0, engine="numpy")
    same = elman.fit(rnn, U, Y, epochs=2, batch_size=8, seed=0, verbose=0, tbptt=40)
    np.testing.assert_array_equal(full.model.A, same.model.A)  # one chunk is the whole sequence
    cut = elman.fit(rnn, U, Y, epochs=20, batch_size=8, seed=0, verbose=0, tbptt=10)
    assert cut.history["loss"][-1] < cut.history["loss"][0]
    assert not np.allclose(cut.model.A, elman.fit(rnn, U, Y, epochs=20, batch_size=8, seed=0, verbose=0).model.A)
    # many-to-one: the last chunk carries the loss
    m21 = elman.fit(rnn.replace(return_sequences=False), U, Y[:, -1], epochs=5, seed=0, verbose=0, tbptt=15)
    assert m21.history["loss"][-1] < m21.history["loss"][0]


def test_stacked_fit_lowers_the_loss():
    X, y = sine_windows()
    s = elman.StackedRNN([ElmanRNN.init(1, 6, seed=1), ElmanRNN.init(6, 4, seed=2)], np.ones((1, 4)) * 0.1)
    res = elman.fit(s, X[:300], y[:300], epochs=10, seed=0, verbose=0)
    assert isinstance(res.model, elman.StackedRNN)
    assert res.history["loss"][-1] < res.history["loss"][0] / 2


def test_progress_output(capsys):
    X, y = sine_windows()
    elman.fit(ElmanRNN.init(1, 3, 1, seed=0), X[:64], y[:64], epochs=2, verbose=2, seed=0)
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "loss:" in out
    elman.fit(ElmanRNN.init(1, 3, 1, seed=0), X[:64], y[:64], epochs=1, verbose=1, seed=0)
    captured = capsys.readouterr()
    assert "epoch 1/1" in captured.out


RNN = ElmanRNN.init(2, 3, 1, seed=0)
U = np.zeros((10, 4, 2))
Y = np.zeros((10, 1))
BAD = [
    ("Y rows", lambda: elman.fit(RNN, U, np.zeros((9, 1))), ShapeError, r"Y has shape \(9, 1\) but the model's output is \(10, 1\)"),
    ("Y for sequences", lambda: elman.loss_and_grad(RNN, U, Y, return_sequences=True), ShapeError, r"Y has shape \(10, 1\) but the model's output is \(10, 4, 1\) \(N, T, K\)"),
    ("Y outputs", lambda: elman.loss_and_grad(RNN, U, np.zeros((10, 2))), ShapeError, r"Y has shape \(10, 2\)"),
    ("learning rate 0", lambda: elman.fit(RNN, U, Y, learning_rate=0), ParameterError, r"learning_rate must be a positive number, got 0"),
    ("learning rate < 0", lambda: elman.fit(RNN, U, Y, learning_rate=-1e-3), ParameterError, r"learning_rate must be a positive number, got -0\.001"),
    ("epochs 0", lambda: elman.fit(RNN, U, Y, epochs=0), ParameterError, r"epochs must be a positive integer, got 0"),
    ("epochs float", lambda: elman.fit(RNN, U, Y, epochs=2.5), ParameterError, r"epochs must be a positive integer, got 2\.5"),
    ("batch size 0", lambda: elman.fit(RNN, U, Y, batch_size=0), ParameterError, r"batch_size must be a positive integer, got 0"),
    ("unknown optimizer", lambda: elman.fit(RNN, U, Y, optimizer="adamw2"), ParameterError, r"optimizer must be one of \['adam', 'rmsprop', 'sgd'\].*got 'adamw2'"),
    ("unknown loss", lambda: elman.fit(RNN, U, Y, loss="cross"), ParameterError, r"loss must be one of \['huber', 'mae', 'mse'\], got 'cross'"),
    ("unknown option", lambda: elman.fit(RNN, U, Y, betas=3), ParameterError, r"optimizer 'adam' got an unknown option"),
    ("both clips", lambda: elman.fit(RNN, U, Y, clipnorm=1, global_clipnorm=1), ParameterError, r"clipnorm and global_clipnorm"),
    ("momentum", lambda: elman.fit(RNN, U, Y, optimizer="sgd", momentum=1.5), ParameterError, r"momentum must be in \[0, 1\), got 1\.5"),
    ("NaN in Y", lambda: elman.fit(RNN, U, np.full((10, 1), np.nan)), elman.errors.NonFiniteError, r"Y holds NaN"),
    ("weights shape", lambda: elman.loss_and_grad(RNN, U, Y, sample_weight=np.ones(3)), ShapeError, r"sample_weight has shape \(3,\)"),
    ("validation split", lambda: elman.fit(RNN, U, Y, validation_split=1.5), ParameterError, r"validation_split must be a number in \[0, 1\), got 1\.5"),
    ("engine", lambda: elman.fit(RNN, U, Y, engine="gpu"), ParameterError, r"engine must be one of 'auto', 'numpy', 'blas', 'c', got 'gpu'"),
    ("not a model", lambda: elman.fit("model", U, Y), elman.errors.InputTypeError, r"rnn must be an ElmanRNN or StackedRNN, got str"),
]


@pytest.mark.parametrize("what,call,exc,pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_training_input(what, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
