"""Every fast engine equals the plain NumPy reference (float64, 1e-10 relative).

For every activation x every loss x return_sequences on/off x one layer or stacked:
the same start, data, sample weights and batches (a partial last batch included)
trained for two epochs by engine="numpy" (the reference, elman.bptt) and by each fast
engine: "blas" (elman.blas, any model) and "c" (the compiled kernel, one layer).
Output activations and go_backwards rotate through the cases.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import elman
from elman import activations, losses
from elman.errors import ParameterError

ACTS = activations.names()
CASES = list(itertools.product(ACTS, losses.names(), [False, True], [False, True]))
OUT_ACTS = ["linear", "tanh", "sigmoid", "softplus", "softsign"]
D, M, K, N, T = 3, 5, 2, 21, 6
RTOL = 1e-10


def _tame(layer):
    """exp(A z + ...) of an orthogonal A grows without bound within a few steps."""
    return layer.replace(A=0.2 * layer.A, B=0.2 * layer.B) if layer.activation == "exponential" else layer


def _model(act, rs, stacked, i):
    gb = i % 3 == 1
    out = OUT_ACTS[i % len(OUT_ACTS)]
    if stacked:
        layers = [_tame(elman.ElmanRNN.init(D, M, seed=i, activation=act).replace(go_backwards=gb)),
                  _tame(elman.ElmanRNN.init(M, 4, seed=i + 1000, activation=ACTS[(i + 5) % len(ACTS)]))]
        top = elman.ElmanRNN.init(4, 4, K, seed=i + 2000)
        return elman.StackedRNN(layers, top.C, top.d, out, rs)
    return _tame(elman.ElmanRNN.init(D, M, K, seed=i, activation=act, output_activation=out,
                                     return_sequences=rs).replace(go_backwards=gb))


def _data(rs, i):
    rng = np.random.default_rng(i)
    U = rng.standard_normal((N, T, D)) * 0.7
    Y = rng.standard_normal((N, T, K) if rs else (N, K))
    w = rng.uniform(0.2, 1.5, (N, T) if (rs and i % 2) else N)
    return U, Y, w


def _params(model):
    layers = model.layers if isinstance(model, elman.StackedRNN) else [model]
    return [p for l in layers for p in (l.A, l.B, l.b)] + [model.C, model.d]


def _assert_equal(fast, ref, what):
    for a, b in zip(_params(fast), _params(ref)):
        scale = max(np.max(np.abs(b)), 1e-3)
        assert np.max(np.abs(a - b)) <= RTOL * scale, f"{what}: {np.max(np.abs(a - b)) / scale:.2e}"


@pytest.mark.parametrize("i", range(len(CASES)), ids=lambda i: "{}-{}-rs{:d}-stacked{:d}".format(*CASES[i]))
def test_fast_engines_equal_reference(i):
    act, loss, rs, stacked = CASES[i]
    model, (U, Y, w) = _model(act, rs, stacked, i), _data(rs, i)
    # Keep exponential's growth and the learning rate tame, so that the runs compare
    # weights that trained, not overflows.
    kw = dict(epochs=2, batch_size=8, seed=i, verbose=0, loss=loss, sample_weight=w, learning_rate=0.01)
    ref = elman.fit(model, U, Y, engine="numpy", **kw)
    assert np.max(np.abs(_params(ref.model)[0] - _params(model)[0])) > 1e-4  # it trained
    engines = ["blas"] if stacked else ["blas", "c"]
    for engine in engines:
        res = elman.fit(model, U, Y, engine=engine, **kw)
        assert res.engine == engine
        _assert_equal(res.model, ref.model, f"{engine}, {CASES[i]}")
        np.testing.assert_allclose(res.history["loss"], ref.history["loss"], rtol=RTOL)
    if stacked:
        with pytest.raises(ParameterError, match="engine='c' trains one recurrent layer"):
            elman.fit(model, U, Y, engine="c", **kw)


@pytest.mark.parametrize("engine", ["numpy", "blas"])
def test_truncated_bptt_runs_on_both_numpy_engines(engine):
    U, Y, w = _data(True, 3)
    model = _model("tanh", True, True, 3)
    ref = elman.fit(model, U, Y, engine="numpy", epochs=2, batch_size=8, seed=0, verbose=0, tbptt=4)
    res = elman.fit(model, U, Y, engine=engine, epochs=2, batch_size=8, seed=0, verbose=0, tbptt=4)
    _assert_equal(res.model, ref.model, "tbptt")


def test_float32_stays_float32_on_the_blas_engine():
    """A float32 model trains in float32 (no silent promotion to float64 on the way)."""
    U, Y, _ = _data(False, 4)
    model = _model("tanh", False, False, 4).astype(np.float32)
    ref = elman.fit(model.astype(np.float64), U, Y, engine="numpy", epochs=2, batch_size=8, seed=0, verbose=0)
    res = elman.fit(model, U.astype(np.float32), Y.astype(np.float32), engine="blas", epochs=2, batch_size=8, seed=0,
                    verbose=0)
    assert res.model.A.dtype == np.float32 and res.config["dtype"] == "float32"
    np.testing.assert_allclose(res.model.A, ref.model.A, rtol=1e-4, atol=1e-5)


def test_one_layer_stacked_model_stays_stacked():
    U, Y, _ = _data(False, 5)
    layer = elman.ElmanRNN.init(D, M, seed=5)
    top = elman.ElmanRNN.init(M, M, K, seed=6)
    model = elman.StackedRNN([layer], top.C, top.d)
    for engine in ("numpy", "blas", "auto"):
        res = elman.fit(model, U, Y, engine=engine, epochs=1, seed=0, verbose=0)
        assert isinstance(res.model, elman.StackedRNN) and len(res.model.layers) == 1, engine


def test_a_loss_of_ones_own_is_not_taken_by_the_compiled_engine():
    """The kernel computes the registered losses only: a Loss object of one's own trains
    on the NumPy engines under "auto", and engine="c" refuses it, even under a known name."""
    U, Y, _ = _data(False, 6)
    model = _model("tanh", False, False, 6)
    quartic = losses.Loss("mse", lambda e, w, delta: (float(np.sum(w * e ** 4)), 4 * w * e ** 3), "e*e*e*e",
                          "4*e*e*e")
    ref = elman.fit(model, U, Y, engine="numpy", loss=quartic, epochs=2, seed=0, verbose=0)
    res = elman.fit(model, U, Y, engine="auto", loss=quartic, epochs=2, seed=0, verbose=0)
    assert res.engine == "blas"
    _assert_equal(res.model, ref.model, "own loss")
    mse = elman.fit(model, U, Y, engine="auto", loss="mse", epochs=2, seed=0, verbose=0)
    assert abs(mse.history["loss"][-1] - ref.history["loss"][-1]) > 1e-3  # quartic really is another loss
    with pytest.raises(ParameterError, match="not a loss of your own"):
        elman.fit(model, U, Y, engine="c", loss=quartic, verbose=0)


def test_a_batch_larger_than_the_data_is_the_whole_data_on_every_engine():
    U, Y, _ = _data(False, 7)
    model = _model("tanh", False, False, 7)
    ref = elman.fit(model, U, Y, engine="numpy", batch_size=N, epochs=2, seed=0, verbose=0)
    for engine in ("blas", "c", "auto"):
        for batch_size in (N + 1, 2 ** 62, 2 ** 64 + 5):
            res = elman.fit(model, U, Y, engine=engine, batch_size=batch_size, epochs=2, seed=0, verbose=0)
            _assert_equal(res.model, ref.model, f"{engine}, batch_size={batch_size}")


def test_float32_loss_overflow_stops_at_the_same_batch_on_every_engine():
    """A float32 loss beyond float32's range is inf, however the kernel sums it."""
    U, _, _ = _data(False, 8)
    model = _model("tanh", False, False, 8).astype(np.float32)
    Y = np.full((N, K), 1e20, np.float32)
    messages = set()
    for engine in ("numpy", "blas", "c"):
        with pytest.warns(elman.errors.DivergenceWarning) as caught:
            res = elman.fit(model, U.astype(np.float32), Y, engine=engine, epochs=1, seed=0, verbose=0)
        assert res.stopped_early == 1 and "batch 1: the loss or its gradient" in res.message, (engine, res.message)
        messages.add(str(caught[0].message))
    assert len(messages) == 1


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_an_optimizer_reused_across_precisions_continues_alike_on_every_engine(name):
    """One optimizer object trains a float64 model, then a float32 copy, then float64 again:
    its state follows the parameters' dtype on every engine, so the engines stay equal."""
    U, Y, _ = _data(False, 9)
    model = _model("tanh", False, False, 9)
    kw = dict(momentum=0.9) if name == "sgd" else dict(centered=True, momentum=0.5) if name == "rmsprop" else {}
    finals = {}
    for engine in ("numpy", "blas", "c"):
        opt = elman.optim.get(name, 0.01, **kw)
        a = elman.fit(model, U, Y, optimizer=opt, engine=engine, epochs=1, seed=0, verbose=0)
        b = elman.fit(a.model.astype(np.float32), U, Y, optimizer=opt, engine=engine, epochs=1, seed=0, verbose=0)
        state = [v for v in vars(opt).values() if isinstance(v, np.ndarray)]
        assert state and all(s.dtype == np.float32 for s in state), engine  # it follows the parameters
        finals[engine] = elman.fit(b.model.astype(np.float64), U, Y, optimizer=opt, engine=engine, epochs=1, seed=0,
                                   verbose=0).model
    for engine in ("blas", "c"):
        for x, y in zip(_params(finals[engine]), _params(finals["numpy"])):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=engine)


@pytest.mark.parametrize("rs", [False, True])
def test_compiled_epochs_cut_into_calls_are_the_same_epochs(monkeypatch, rs):
    """The compiled engine runs an epoch in several calls (so that Ctrl-C gets a turn):
    one batch per call gives the same training, divergence included, as one call."""
    from elman import train

    U, Y, w = _data(rs, 10)
    model = _model("tanh", rs, False, 10)
    kw = dict(epochs=2, batch_size=4, seed=0, verbose=0, sample_weight=w, engine="c", learning_rate=0.01)
    whole = elman.fit(model, U, Y, **kw)
    monkeypatch.setattr(train, "C_CALL_WORK", 1)
    cut = elman.fit(model, U, Y, **kw)
    for a, b in zip(_params(cut.model), _params(whole.model)):
        np.testing.assert_array_equal(a, b)
    assert cut.history == whole.history
    big = Y.copy()
    big[12:] = 1e200  # the fourth batch in order diverges: it must be named in both ways
    kw.update(shuffle=False)
    with pytest.warns(elman.errors.DivergenceWarning):
        diverged = elman.fit(model, U, big, **kw)
    monkeypatch.setattr(train, "C_CALL_WORK", 2 ** 40)
    with pytest.warns(elman.errors.DivergenceWarning):
        once = elman.fit(model, U, big, **kw)
    assert "epoch 1, batch 4:" in once.message
    assert diverged.message == once.message and diverged.stopped_early == once.stopped_early
