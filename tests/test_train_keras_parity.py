"""elman.fit against Keras model.fit: same initial weights, same batches, float64.

After 3 epochs the weights must agree to 1e-8 (relative) and the per-epoch losses to
1e-9: the optimizers' formulas (epsilon placement, bias correction, centering,
momentum, clipping), the losses and the sample weighting are Keras 3's exactly. Every
case runs on each training engine ("numpy", the reference; "blas", the batched-NumPy
engine; "c", the compiled kernel for one layer, which runs the optimizer too), so an
engine that computes another gradient, or drops or rounds a setting, fails here.

Keras's runs are deterministic, so each is made once (``_keras_run`` keeps it) and the
engines are compared with that one run: the engine axis costs elman's time only.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import elman
from elman.errors import ParameterError
from helpers import build

ENGINES = ("numpy", "blas", "c")
# The compiled engine handles one recurrent layer; stacked models train on the others.
COMPILED = "c"
STACKED_ENGINES = ("numpy", "blas", "auto")

OPTIMIZERS = {
    "sgd_momentum": ("SGD", dict(learning_rate=0.05, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(learning_rate=0.05, momentum=0.8, nesterov=True)),
    "rmsprop": ("RMSprop", dict(learning_rate=0.01)),
    "adam": ("Adam", dict(learning_rate=0.01)),
}
CLIPS = {"none": {}, "clipnorm": dict(clipnorm=0.05), "global_clipnorm": dict(global_clipnorm=0.05),
         "clipvalue": dict(clipvalue=0.01)}
# Settings away from the defaults, each of which changes the update: RMSprop's centered
# (the mean gradient subtracted under the root) and momentum, rho and epsilon (inside
# the square root for RMSprop, outside it for Adam; 1e-3 so that its place shows), SGD
# without momentum, Adam's betas.
OPTIMIZER_SETTINGS = {
    "rmsprop_centered": ("RMSprop", dict(learning_rate=0.01, centered=True)),
    "rmsprop_momentum": ("RMSprop", dict(learning_rate=0.01, momentum=0.9)),
    "rmsprop_centered_momentum": ("RMSprop", dict(learning_rate=0.01, centered=True, momentum=0.9)),
    "rmsprop_rho_epsilon": ("RMSprop", dict(learning_rate=0.01, rho=0.8, epsilon=1e-3)),
    "sgd_plain": ("SGD", dict(learning_rate=0.1)),
    "adam_betas_epsilon": ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=1e-3)),
}
D, K, N, T = 3, 2, 20, 6
_RUNS: dict = {}


def _keras_run(keras64, kind, opts, clip=None, *, rs=False, loss="mse", act="tanh", seed=0, Ms=(5,),
               weights=None):
    """Keras's 3 epochs (batches of 8, no shuffling) from random weights; made once per settings.

    Ms: the recurrent layers' sizes (the last one returns sequences when ``rs``), then
    Dense(K, tanh). weights: None, "samples" ((N,) sample weights) or "steps" ((N, T)).
    Returns start (the elman model of the initial weights), U, Y, w, loss (Keras's
    history) and weights (Keras's trained weights).
    """
    clip = clip or {}
    key = (kind, tuple(sorted(opts.items())), tuple(sorted(clip.items())), rs, loss, act, seed, tuple(Ms), weights)
    if key not in _RUNS:
        keras = keras64
        model = build(keras, D, list(Ms), K, activation=act, dense_activation="tanh", return_sequences=rs,
                      dtype="float64", T=T, seed=seed)
        rng = np.random.default_rng(seed + 1)
        U = rng.standard_normal((N, T, D))
        Y = rng.standard_normal((N, T, K) if rs else (N, K))
        w = None if weights is None else rng.uniform(0.1, 2.0, (N, T) if weights == "steps" else (N,))
        start = elman.from_keras(model)
        model.compile(optimizer=getattr(keras.optimizers, kind)(**opts, **clip), loss=loss)
        hist = model.fit(U, Y, sample_weight=w, epochs=3, batch_size=8, shuffle=False, verbose=0)
        _RUNS[key] = SimpleNamespace(start=start, U=U, Y=Y, w=w, loss=hist.history["loss"],
                                     weights=[np.array(x) for x in model.get_weights()])
    return _RUNS[key]


def _elman_fit(run, kind, opts, clip=None, **kw):
    return elman.fit(run.start, run.U, run.Y, epochs=3, batch_size=8, shuffle=False, optimizer=kind.lower(),
                     verbose=0, sample_weight=run.w, **opts, **(clip or {}), **kw)


def _layers(rnn):
    return list(rnn.layers) if isinstance(rnn, elman.StackedRNN) else [rnn]


def _assert_same_weights(keras_weights, rnn, tol=1e-8):
    """Keras's weights, in its order (per layer kernel, recurrent kernel, bias; then the
    Dense kernel and bias), against elman's transposed matrices, relative to their size."""
    ours, names = [], []
    for j, layer in enumerate(_layers(rnn)):
        ours += [layer.B.T, layer.A.T, layer.b]
        names += [f"layer {j} kernel (B.T)", f"layer {j} recurrent_kernel (A.T)", f"layer {j} bias (b)"]
    ours += [rnn.C.T, rnn.d]
    names += ["dense kernel (C.T)", "dense bias (d)"]
    assert len(keras_weights) == len(ours)
    for name, a, b in zip(names, keras_weights, ours):
        assert a.shape == b.shape, f"{name}: shape {b.shape}, Keras {a.shape}"
        rel = np.max(np.abs(a - b)) / np.max(np.abs(a))
        assert rel <= tol, f"{name}: relative difference {rel:.2e}"


def _assert_moved(start, trained, at_least=1e-3):
    """The training really moved every layer's weights (so the comparison is not of two starts)."""
    for j, (a, b) in enumerate(zip(_layers(start), _layers(trained))):
        assert np.max(np.abs(b.A - a.A)) > at_least, f"layer {j}: A did not move"
        assert np.max(np.abs(b.B - a.B)) > at_least, f"layer {j}: B did not move"
    assert np.max(np.abs(trained.C - start.C)) > at_least, "C did not move"


def _check(run, res, engine):
    if engine != "auto":
        assert res.engine == engine
    _assert_same_weights(run.weights, res.model)
    np.testing.assert_allclose(res.history["loss"], run.loss, rtol=1e-9)
    _assert_moved(run.start, res.model)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_three_epochs_equal_keras(keras64, opt, clip, engine):
    """Each optimizer with each kind of clipping, many-to-one."""
    kind, opts = OPTIMIZERS[opt]
    run = _keras_run(keras64, kind, opts, CLIPS[clip])
    _check(run, _elman_fit(run, kind, opts, CLIPS[clip], engine=engine), engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("opt", list(OPTIMIZER_SETTINGS))
def test_optimizer_settings_equal_keras(keras64, opt, engine):
    """RMSprop centered / with momentum / both / other rho and epsilon, SGD without
    momentum, Adam with other betas and epsilon: each as Keras computes it (the two
    centered cases with return_sequences, the others many-to-one)."""
    kind, opts = OPTIMIZER_SETTINGS[opt]
    run = _keras_run(keras64, kind, opts, rs=opt.startswith("rmsprop_c"), seed=1)
    _check(run, _elman_fit(run, kind, opts, engine=engine), engine)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("engine", ENGINES)
def test_sequences_losses_and_engines_equal_keras(keras64, loss, engine):
    """return_sequences with each loss."""
    run = _keras_run(keras64, "Adam", dict(learning_rate=0.01), rs=True, loss=loss, act="softsign", seed=3)
    _check(run, _elman_fit(run, "Adam", dict(learning_rate=0.01), loss=loss, engine=engine), engine)


@pytest.mark.parametrize("weights", ["samples", "steps"])
@pytest.mark.parametrize("engine", ENGINES)
def test_sample_weights_equal_keras(keras64, weights, engine):
    """model.fit(U, Y, sample_weight=w) against elman.fit(..., sample_weight=w): (N,)
    weights many-to-one, (N, T) weights (one per sample and step) with return_sequences."""
    rs = weights == "steps"
    run = _keras_run(keras64, "Adam", dict(learning_rate=0.01), rs=rs, seed=5, weights=weights)
    assert run.w.shape == ((N, T) if rs else (N,))
    res = _elman_fit(run, "Adam", dict(learning_rate=0.01), engine=engine)
    _check(run, res, engine)
    # The weights matter: unweighted training ends elsewhere.
    plain = elman.fit(run.start, run.U, run.Y, epochs=3, batch_size=8, shuffle=False, learning_rate=0.01,
                      verbose=0, engine="numpy")
    assert np.max(np.abs(plain.model.A - res.model.A)) > 1e-4


@pytest.mark.parametrize("engine", STACKED_ENGINES)
@pytest.mark.parametrize("rs", [False, True], ids=["one", "seq"])
def test_stacked_equal_keras(keras64, rs, engine):
    """SimpleRNN(5, return_sequences=True) -> SimpleRNN(4) -> Dense(2): every layer's
    A, B, b and the readout's C, d after 3 epochs of Adam."""
    run = _keras_run(keras64, "Adam", dict(learning_rate=0.01), rs=rs, act="tanh", seed=7, Ms=(5, 4))
    assert isinstance(run.start, elman.StackedRNN) and run.start.state_dims == (5, 4)
    _check(run, _elman_fit(run, "Adam", dict(learning_rate=0.01), engine=engine), engine)


def test_stacked_refuses_the_compiled_engine(keras64):
    """The compiled kernel handles one layer: asked for a stacked model, fit says so
    rather than training something else."""
    run = _keras_run(keras64, "Adam", dict(learning_rate=0.01), seed=7, Ms=(5, 4))
    with pytest.raises(ParameterError, match=f"engine='{COMPILED}'"):
        _elman_fit(run, "Adam", dict(learning_rate=0.01), engine=COMPILED)


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
