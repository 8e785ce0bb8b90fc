"""loss_and_grad against central differences and against TensorFlow's autodiff (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from elman import ElmanRNN, StackedRNN, activations

ACTS = activations.names()


def central_differences(rnn, U, Y, h=1e-6, **kw):
    """dL/dP for every parameter P by (L(P + h e) - L(P - h e)) / 2h, entry by entry."""
    out = {}
    layers = rnn.layers if isinstance(rnn, StackedRNN) else None

    def loss_with(name, j, P):
        if layers is None:
            return elman.loss_and_grad(rnn.replace(**{name: P}), U, Y, **kw)[0]
        if name in "Cd":
            kwargs = dict(C=rnn.C, d=rnn.d)
            kwargs[name] = P
            new = StackedRNN(rnn.layers, output_activation=rnn.output_activation,
                             return_sequences=rnn.return_sequences, **kwargs)
        else:
            ls = list(layers)
            ls[j] = ls[j].replace(**{name: P})
            new = StackedRNN(ls, rnn.C, rnn.d, rnn.output_activation, rnn.return_sequences)
        return elman.loss_and_grad(new, U, Y, **kw)[0]

    targets = [(n, None, getattr(rnn, n)) for n in "Cd"] if layers else [(n, None, getattr(rnn, n)) for n in "ABbCd"]
    if layers:
        targets += [(n, j, getattr(l, n)) for j, l in enumerate(layers) for n in "ABb"]
    for name, j, P in targets:
        if P is None:
            continue
        num = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            Pp, Pm = P.copy(), P.copy()
            Pp[idx] += h
            Pm[idx] -= h
            num[idx] = (loss_with(name, j, Pp) - loss_with(name, j, Pm)) / (2 * h)
        out[(name, j)] = num
    return out


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def model(act, seed, out_act="tanh", rs=False, D=3, M=4, K=2):
    rng = np.random.default_rng(seed)
    scale = 0.3 if act == "exponential" else 0.8
    return ElmanRNN(rng.standard_normal((M, M)) * scale / np.sqrt(M), rng.standard_normal((M, D)) * scale,
                    0.3 * rng.standard_normal(M), rng.standard_normal((K, M)), 0.1 * rng.standard_normal(K),
                    activation=act, output_activation=out_act, return_sequences=rs)


@pytest.mark.parametrize("rs", [False, True], ids=["many-to-one", "sequences"])
@pytest.mark.parametrize("act", ACTS)
def test_every_activation_against_central_differences(act, rs):
    rnn = model(act, ACTS.index(act), out_act=ACTS[(ACTS.index(act) + 3) % len(ACTS)], rs=rs)
    rng = np.random.default_rng(7)
    U = rng.standard_normal((4, 5, 3))
    Y = rng.standard_normal((4, 5, 2) if rs else (4, 2))
    _, g = elman.loss_and_grad(rnn, U, Y)
    for (name, _), num in central_differences(rnn, U, Y).items():
        assert rel_err(getattr(g, name), num) <= 1e-6, f"{act} d{name}"


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("rs", [False, True])
def test_each_loss_with_weights_and_z0_against_central_differences(loss, rs):
    rnn = model("tanh", 11, out_act="linear", rs=rs).replace(go_backwards=rs)
    rng = np.random.default_rng(8)
    U = rng.standard_normal((5, 4, 3))
    Y = 2 * rng.standard_normal((5, 4, 2) if rs else (5, 2))  # |e| on both sides of huber's delta
    kw = dict(loss=loss, sample_weight=rng.uniform(0.2, 2.0, 5), z0=0.5 * rng.standard_normal((5, 4)))
    _, g = elman.loss_and_grad(rnn, U, Y, grad_z0=True, **kw)
    for (name, _), num in central_differences(rnn, U, Y, **kw).items():
        assert rel_err(getattr(g, name), num) <= 1e-6, f"{loss} d{name}"
    # dL/dz0 too
    z0 = kw.pop("z0")
    num = np.zeros_like(z0)
    for idx in np.ndindex(z0.shape):
        zp, zm = z0.copy(), z0.copy()
        zp[idx] += 1e-6
        zm[idx] -= 1e-6
        num[idx] = (elman.loss_and_grad(rnn, U, Y, z0=zp, **kw)[0] - elman.loss_and_grad(rnn, U, Y, z0=zm, **kw)[0]) / 2e-6
    assert rel_err(g.z0, num) <= 1e-6


@pytest.mark.parametrize("rs", [False, True])
def test_stacked_against_central_differences(rs):
    rng = np.random.default_rng(3)
    l1 = ElmanRNN(0.5 * rng.standard_normal((4, 4)), rng.standard_normal((4, 2)), 0.2 * rng.standard_normal(4),
                  activation="softsign")
    l2 = ElmanRNN(0.5 * rng.standard_normal((3, 3)), rng.standard_normal((3, 4)), 0.2 * rng.standard_normal(3),
                  activation="tanh", go_backwards=True)
    l3 = ElmanRNN(0.5 * rng.standard_normal((5, 5)), rng.standard_normal((5, 3)), 0.2 * rng.standard_normal(5),
                  activation="elu")
    rnn = StackedRNN([l1, l2, l3], rng.standard_normal((2, 5)), rng.standard_normal(2), "sigmoid", rs)
    U = rng.standard_normal((3, 4, 2))
    Y = rng.standard_normal((3, 4, 2) if rs else (3, 2))
    _, g = elman.loss_and_grad(rnn, U, Y)
    assert isinstance(g, elman.StackedGrads) and len(g.layers) == 3
    for (name, j), num in central_differences(rnn, U, Y).items():
        got = getattr(g, name) if j is None else getattr(g.layers[j], name)
        assert rel_err(got, num) <= 1e-6, f"layer {j} d{name}"


def test_no_readout_gradient():
    rnn = ElmanRNN.init(2, 3, seed=4, output_activation="sigmoid")
    rng = np.random.default_rng(0)
    U, Y = rng.standard_normal((4, 5, 2)), rng.uniform(size=(4, 3))
    _, g = elman.loss_and_grad(rnn, U, Y)
    assert g.C is None and g.d is None
    for (name, _), num in central_differences(rnn, U, Y).items():
        assert rel_err(getattr(g, name), num) <= 1e-6


# ------------------------------------------------------------------ against TensorFlow autodiff

def _tf_loss(tf, keras, loss, Yhat, Y, w):
    fn = {"mse": keras.losses.MeanSquaredError(), "mae": keras.losses.MeanAbsoluteError(),
          "huber": keras.losses.Huber()}[loss]
    return fn(Y, Yhat, sample_weight=w)


@pytest.mark.parametrize("trial", range(24))
def test_against_tensorflow_gradient_tape(keras64, trial):
    import tensorflow as tf

    keras = keras64
    rng = np.random.default_rng(1000 + trial)
    # New sizes each trial, never square where they can differ.
    D = int(rng.integers(1, 5))
    M = int(rng.choice([m for m in range(2, 9) if m != D]))
    K = int(rng.choice([k for k in range(1, 4) if k not in (D, M)] or [1]))
    N, T = int(rng.integers(2, 7)), int(rng.integers(1, 9))
    # gelu is left out here: TensorFlow's float64 erfc is good to ~5e-9 only (see
    # test_keras_parity), which would be measured instead of our gradient; gelu's
    # gradient is checked against central differences above.
    tf_acts = [a for a in ACTS if a != "gelu"]
    act = tf_acts[trial % len(tf_acts)]
    out_act = ["linear", "tanh", "sigmoid", "softplus"][trial % 4]
    loss = ["mse", "mae", "huber"][trial % 3]
    rs, gb = bool(trial % 2), bool((trial // 2) % 2)
    n_layers = 1 + (trial % 3 == 2)

    inp = keras.Input((T, D), dtype="float64")
    x = inp
    Ms = [M] if n_layers == 1 else [M + 1, M]
    for j, m in enumerate(Ms):
        x = keras.layers.SimpleRNN(m, activation=act, return_sequences=rs or j < n_layers - 1, go_backwards=gb,
                                   dtype="float64")(x)
    model = keras.Model(inp, keras.layers.Dense(K, activation=out_act, dtype="float64")(x))
    from helpers import randomize

    randomize(model, trial, scale=0.3 if act == "exponential" else 0.8)
    U = rng.standard_normal((N, T, D))
    Y = rng.standard_normal((N, T, K) if rs else (N, K))
    w = rng.uniform(0.5, 1.5, N)

    # Keras weighs each sample's per-step losses; spell the (N, T) weights out for it.
    w_tf = np.repeat(w[:, None], T, axis=1) if rs else w
    with tf.GradientTape() as tape:
        L_tf = _tf_loss(tf, keras, loss, model(U), Y, w_tf)
    g_tf = [g.numpy() for g in tape.gradient(L_tf, model.trainable_variables)]

    rnn = elman.from_keras(model)
    L, g = elman.loss_and_grad(rnn, U, Y, loss=loss, sample_weight=w)
    assert abs(L - float(L_tf)) <= 1e-12 * max(1.0, abs(L))
    layers = [g] if n_layers == 1 else list(g.layers)
    ours = []
    for lg in layers:
        ours += [lg.B.T, lg.A.T, lg.b]  # Keras's order and layout: kernel, recurrent_kernel, bias
    ours += [g.C.T, g.d]
    for name, a, b in zip(["kernel", "recurrent", "bias"] * n_layers + ["dense kernel", "dense bias"], g_tf, ours):
        assert rel_err(b, a) <= 1e-9, f"trial {trial} ({act}, {loss}, rs={rs}, gb={gb}): {name}"
