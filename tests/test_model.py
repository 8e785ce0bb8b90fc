"""The NumPy model on its own: equations, shapes, init, state, dtype, stacking, files."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from elman import ElmanRNN, StackedRNN

D, M, K = 3, 5, 2


def rnn(seed=0, **kw):
    r = ElmanRNN.init(D, M, K, seed=seed, **kw)
    rng = np.random.default_rng(seed + 100)
    return r.replace(b=rng.standard_normal(M), d=rng.standard_normal(K))


def U(N=4, T=6, seed=1):
    return np.random.default_rng(seed).standard_normal((N, T, D))


def test_run_is_the_recursion_written_out():
    r = rnn()
    X = U()
    traj = r.run(X)
    assert traj.states.shape == (4, 7, M) and traj.outputs.shape == (4, 6, K)
    np.testing.assert_array_equal(traj.states[:, 0], 0)
    for n in range(4):
        z = np.zeros(M)
        for k in range(6):
            z = np.tanh(r.A @ z + r.B @ X[n, k] + r.b)
            np.testing.assert_allclose(traj.states[n, k + 1], z, rtol=1e-13, atol=1e-14)
            np.testing.assert_allclose(traj.outputs[n, k], r.C @ z + r.d, rtol=1e-13, atol=1e-14)


def test_step_and_output_match_run():
    r, X = rnn(activation="softsign", output_activation="sigmoid"), U()
    traj = r.run(X)
    z = np.zeros((4, M))
    for k in range(6):
        z = r.step(z, X[:, k])
        np.testing.assert_allclose(z, traj.states[:, k + 1], rtol=1e-14)
        np.testing.assert_allclose(r.output(z), traj.outputs[:, k], rtol=1e-14)
    # One sample as vectors: (M,), (D,) -> (M,); (M,) -> (K,)
    assert r.step(np.zeros(M), X[0, 0]).shape == (M,) and r.output(np.zeros(M)).shape == (K,)


def test_predict_modes_and_z0():
    r, X = rnn(), U()
    traj = r.run(X)
    np.testing.assert_allclose(r.predict(X), traj.outputs[:, -1], rtol=1e-14)
    np.testing.assert_allclose(r.predict(X, return_sequences=True), traj.outputs, rtol=1e-14)
    z0 = np.random.default_rng(5).standard_normal((4, M))
    with_z0 = r.run(X, z0=z0)
    np.testing.assert_array_equal(with_z0.states[:, 0], z0)
    np.testing.assert_allclose(r.predict(X, z0=z0), with_z0.outputs[:, -1], rtol=1e-14)
    assert not np.allclose(r.predict(X, z0=z0), r.predict(X))
    # An (M,) z0 is shared by every sample.
    np.testing.assert_allclose(r.predict(X, z0=z0[0]), r.predict(X, z0=np.tile(z0[0], (4, 1))), rtol=1e-15)


def test_go_backwards_reads_reversed_time_and_emits_in_step_order():
    r = rnn()
    rb = r.replace(go_backwards=True)
    X = U()
    np.testing.assert_allclose(rb.predict(X), r.predict(X[:, ::-1]), rtol=1e-15)
    np.testing.assert_allclose(rb.predict(X, return_sequences=True), r.predict(X[:, ::-1], return_sequences=True))


def test_no_readout_means_y_is_z():
    r = ElmanRNN.init(D, M, seed=0)
    assert r.C is None and r.output_dim == M
    traj = r.run(U())
    np.testing.assert_array_equal(traj.outputs, traj.states[:, 1:])


def test_stateful_runner_equals_one_long_sequence():
    r, X = rnn(), U(T=9)
    runner = r.stateful(4)
    parts = [runner.predict(X[:, :3], return_sequences=True), runner.predict(X[:, 3:7], return_sequences=True),
             runner.predict(X[:, 7:], return_sequences=True)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), r.predict(X, return_sequences=True), rtol=1e-13)
    np.testing.assert_allclose(runner.state, r.run(X).states[:, -1], rtol=1e-13)
    runner.reset()
    np.testing.assert_array_equal(runner.state, 0)
    runner.state = np.ones(M)  # broadcast to every row
    assert runner.state.shape == (4, M)
    # .state hands out a copy
    s = runner.state
    s[:] = 7
    assert np.all(runner.state == 1)


def test_init_is_keras_like_and_reproducible():
    a, b2 = ElmanRNN.init(D, 50, K, seed=7), ElmanRNN.init(D, 50, K, seed=7)
    for x, y in zip(a.params.values(), b2.params.values()):
        np.testing.assert_array_equal(x, y)  # same seed, bit-identical
    assert not np.array_equal(a.A, ElmanRNN.init(D, 50, K, seed=8).A)
    np.testing.assert_allclose(a.A @ a.A.T, np.eye(50), atol=1e-12)  # orthogonal
    assert np.max(np.abs(a.B)) <= np.sqrt(6 / (D + 50)) and np.max(np.abs(a.C)) <= np.sqrt(6 / (50 + K))
    np.testing.assert_array_equal(a.b, 0)
    np.testing.assert_array_equal(a.d, 0)
    g = np.random.default_rng(3)
    ElmanRNN.init(D, M, seed=g)  # a Generator works as the seed


def test_astype_and_dtype_inference():
    r = rnn()
    assert r.dtype == np.float64
    r32 = r.astype(np.float32)
    assert r32.dtype == np.float32 and r32.A.dtype == np.float32
    assert r32.predict(U()).dtype == np.float32
    assert r32.astype(np.float64).A.dtype == np.float64
    # float32 matrices make a float32 model; any float64 one makes float64
    p = {k: v.astype(np.float32) for k, v in r.params.items()}
    assert ElmanRNN(**p).dtype == np.float32
    assert ElmanRNN(**{**p, "b": r.b}).dtype == np.float64
    assert ElmanRNN([[1]], [[2]], [3]).dtype == np.float64  # integers are promoted


def test_repr_names_the_parts():
    text = repr(rnn())
    assert text.startswith("ElmanRNN(D=3, M=5, K=2, activation='tanh'")
    for part in ("A (5, 5)", "B (5, 3)", "b (5,)", "C (2, 5)", "d (2,)"):
        assert part in text
    assert "StatefulRunner(batch_size=2" in repr(rnn().stateful(2))


def test_stacked_is_layers_in_sequence():
    l1 = ElmanRNN.init(D, 4, seed=1, activation="relu")
    l2 = ElmanRNN.init(4, 6, seed=2).replace(go_backwards=True)
    C, d = np.random.default_rng(0).standard_normal((K, 6)), np.zeros(K)
    s = StackedRNN([l1, l2], C, d, return_sequences=True)
    X = U()
    h = l1.run(X).states[:, 1:]
    z2 = l2.run(h).states[:, 1:]
    np.testing.assert_allclose(s.predict(X), z2 @ C.T + d, rtol=1e-13)
    assert s.state_dims == (4, 6) and s.output_dim == K
    runner = s.stateful(4)
    first = runner.predict(X)
    assert isinstance(runner.state, list) and len(runner.state) == 2
    assert not np.allclose(runner.predict(X), first)
    assert "StackedRNN(D=3, M=[4, 6], K=2" in repr(s)
    assert s.astype(np.float32).dtype == np.float32


@pytest.mark.parametrize("make", [lambda: rnn(activation="elu", output_activation="tanh", return_sequences=True),
                                  lambda: rnn().astype(np.float32),
                                  lambda: ElmanRNN.init(D, M, seed=2).replace(go_backwards=True),
                                  lambda: StackedRNN([ElmanRNN.init(D, 4, seed=1), ElmanRNN.init(4, 2, seed=2)], [[1.0, 2.0]])])
def test_save_load_round_trip(tmp_path, make):
    model = make()
    path = tmp_path / "model.npz"
    model.save(path)
    back = elman.load(path)
    assert type(back) is type(model) and back.dtype == model.dtype
    np.testing.assert_array_equal(back.predict(U()), model.predict(U()))
    assert back.return_sequences == model.return_sequences
    # No pickle inside: numpy can read it with allow_pickle=False.
    with np.load(path, allow_pickle=False) as f:
        assert "__meta__" in f.files
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    rnn(seed=1).save(path)
    before = path.read_bytes()

    def boom(src, dst):
        raise KeyboardInterrupt("interrupted between write and rename")

    monkeypatch.setattr("elman.io.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        rnn(seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
