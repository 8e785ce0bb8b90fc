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
