"""The compiled training kernel (elman._ckernel through elman._compiled) against the NumPy
reference: loss and gradient for every activation, output activation and loss; whole
epochs against a Python loop of loss_and_grad and elman.optim updates; the NaN guard;
and the refusals (a stale header, other tables, a missing or unloadable library).

Random, non-square sizes (D=3, M=5, K=2) so that a transposed matrix cannot pass.
"""

import importlib.util
import math

import numpy as np
import pytest

import elman
from elman import _compiled, _gen_ckernel, activations, losses, optim

D, M, K, N, T = 3, 5, 2, 11, 6


def _why_unavailable():
    try:
        _compiled._load()
    except _compiled.KernelUnavailable as exc:
        return str(exc)
    return None


needs_kernel = pytest.mark.skipif(_compiled.available() is False and "not built" in (_why_unavailable() or ""),
                                  reason="the compiled kernel is not built here (no C compiler at install)")


# --------------------------------------------------------------------------- the header and the library


def test_generated_header_is_fresh():
    """An activation or a loss added to its registry without `python -m elman._gen_ckernel`
    fails here."""
    assert _gen_ckernel.PATH.read_text(encoding="utf-8") == _gen_ckernel.header(), (
        "src/elman/_ckernel_tables.h is out of date: run python -m elman._gen_ckernel and reinstall (pip install -e .)")


def test_header_constants_are_the_python_doubles():
    text = _gen_ckernel.header()
    for name, value in activations.C_CONSTANTS.items():
        line = next(l for l in text.splitlines() if l.startswith(f"#define {name} "))
        assert float(line.split()[-1]) == value


@needs_kernel
def test_kernel_is_usable_when_built():
    """Built but refused (stale after an edit of _ckernel.c, other tables) is a failure,
    not a skip: fit would silently fall back to NumPy."""
    assert _why_unavailable() is None
    assert _compiled.available()
    import elman._ckernel  # noqa: F401  (the extension also imports as an (empty) module)


# --------------------------------------------------------------------------- loss and gradient


def _model(rng, act, out_act, rs, gb, readout, dtype=np.float64, scale=1.0):
    A = rng.normal(0, 0.4 / math.sqrt(M), (M, M)) * scale
    B = rng.normal(0, 1.0, (M, D)) * scale
    b = rng.normal(0, 0.5, M) * scale
    C, d = (rng.normal(0, 0.7, (K, M)), rng.normal(0, 0.3, K)) if readout else (None, None)
    rnn = elman.ElmanRNN(A, B, b, C, d, activation=act, output_activation=out_act, return_sequences=rs,
                         go_backwards=gb, dtype=dtype)
    return rnn


def _theta(rnn, dtype=np.float64):
    parts = [rnn.A, rnn.B, rnn.b] + ([rnn.C, rnn.d] if rnn.C is not None else [])
    return np.concatenate([np.asarray(p, dtype).ravel() for p in parts])


def _flat_grads(g):
    return np.concatenate([x.ravel() for x in (g.A, g.B, g.b, g.C, g.d) if x is not None])


def _trainer(rnn, theta, U, Y, w, loss):
    return _compiled.CompiledTrainer(theta, rnn.input_dim, rnn.state_dim, rnn.output_dim, rnn.C is not None,
                                     rnn.activation, rnn.output_activation, rnn.go_backwards,
                                     rnn.return_sequences, losses.get(loss), U, Y, w)


def _data(rng, rnn, rs, weights, scale=2.0):
    Kk = rnn.output_dim
    U = rng.normal(0, scale, (N, T, D))
    Y = rng.normal(0, 1.0, (N, T, Kk) if rs else (N, Kk))
    w = {"none": None, "N": rng.uniform(0.2, 2.0, N), "NT": rng.uniform(0.2, 2.0, (N, T))}[weights]
    return U, Y, w


def _output_activations(act):
    names = activations.names()
    i = names.index(act)
    return sorted({"linear", "tanh", "sigmoid", names[(i + 3) % len(names)], names[(i + 8) % len(names)]})


@needs_kernel
@pytest.mark.parametrize("loss", losses.names())
@pytest.mark.parametrize("act", activations.names())
def test_loss_grad_equals_reference(act, loss):
    rng = np.random.default_rng([activations.names().index(act), losses.names().index(loss)])
    # exponential's states grow as e^h: smaller inputs keep the recursion finite
    scale, u_scale = (0.4, 0.5) if act == "exponential" else (1.0, 2.0)
    checked = 0
    for out_act in _output_activations(act):
        for rs in (False, True):
            for gb in (False, True):
                for readout in (True, False):
                    for weights in (("N", "NT") if rs else ("N", "none")):
                        rnn = _model(rng, act, out_act, rs, gb, readout, scale=scale)
                        U, Y, w = _data(rng, rnn, rs, weights, u_scale)
                        if out_act == "exponential":
                            Y = np.abs(Y)
                        idx = rng.permutation(N)[:7]
                        L, g = elman.loss_and_grad(rnn.astype(np.float64), U[idx], Y[idx], loss=loss,
                                                   sample_weight=None if w is None else w[idx])
                        ref = _flat_grads(g)
                        theta = _theta(rnn)
                        value, grad = _trainer(rnn, theta, U, Y, w, loss).loss_grad(idx)
                        where = f"act={act} out={out_act} loss={loss} rs={rs} gb={gb} readout={readout} w={weights}"
                        assert np.isfinite(L) and np.all(np.isfinite(ref)), where
                        assert value == pytest.approx(L, rel=1e-10, abs=1e-300), where
                        np.testing.assert_allclose(grad, ref, rtol=1e-10, atol=1e-10 * np.max(np.abs(ref)),
                                                   err_msg=where)
                        checked += 1
    assert checked == len(_output_activations(act)) * 16


@needs_kernel
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "gelu"])
def test_loss_grad_float32_close_to_float32_reference(act):
    rng = np.random.default_rng(7)
    for rs, gb, readout in [(False, False, True), (True, True, False), (True, False, True)]:
        rnn = _model(rng, act, "tanh", rs, gb, readout, dtype=np.float32)
        U, Y, w = _data(rng, rnn, rs, "N")
        L, g = elman.loss_and_grad(rnn, U.astype(np.float32), Y.astype(np.float32), loss="mse",
                                   sample_weight=w.astype(np.float32))
        theta = _theta(rnn, np.float32)
        value, grad = _trainer(rnn, theta, U, Y, w, "mse").loss_grad(np.arange(N))
        ref = _flat_grads(g)
        assert grad.dtype == np.float32
        assert value == pytest.approx(L, rel=1e-5)
        np.testing.assert_allclose(grad, ref, rtol=1e-4, atol=1e-5 * np.max(np.abs(ref)))


@needs_kernel
def test_loss_grad_refuses_bad_indices_and_shapes():
    rng = np.random.default_rng(0)
    rnn = _model(rng, "tanh", "linear", False, False, True)
    U, Y, w = _data(rng, rnn, False, "none")
    tr = _trainer(rnn, _theta(rnn), U, Y, w, "mse")
    for bad in ([N], [-1], [], [[0, 1]]):
        with pytest.raises(IndexError):
            tr.loss_grad(np.array(bad, dtype=np.int64))
    with pytest.raises(ValueError):
        _trainer(rnn, _theta(rnn)[:-1], U, Y, w, "mse")  # one parameter short
    with pytest.raises(ValueError):
        _trainer(rnn, _theta(rnn), U[:, :, :2], Y, w, "mse")
    with pytest.raises(ValueError):
        _trainer(rnn, _theta(rnn), U, Y[:, None], w, "mse")


# --------------------------------------------------------------------------- whole epochs


OPTIMIZERS = [
    ("sgd", lambda: optim.SGD(0.05)),
    ("sgd-momentum", lambda: optim.SGD(0.05, momentum=0.9)),
    ("sgd-nesterov", lambda: optim.SGD(0.05, momentum=0.9, nesterov=True)),
    ("rmsprop", lambda: optim.RMSprop(0.01)),
    ("rmsprop-centered", lambda: optim.RMSprop(0.01, centered=True)),
    ("rmsprop-momentum", lambda: optim.RMSprop(0.01, momentum=0.5)),
    ("rmsprop-centered-momentum", lambda: optim.RMSprop(0.01, momentum=0.5, centered=True)),
    ("adam", lambda: optim.Adam(0.01)),
    ("adam-betas", lambda: optim.Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-5)),
    ("adam-clipnorm", lambda: optim.Adam(0.01, clipnorm=0.05)),
    ("sgd-clipnorm-mixed", lambda: optim.SGD(0.05, momentum=0.9, clipnorm=0.3)),
    ("adam-global-clipnorm", lambda: optim.Adam(0.01, global_clipnorm=0.1)),
    ("rmsprop-clipvalue", lambda: optim.RMSprop(0.01, clipvalue=0.02)),
    ("sgd-clipvalue", lambda: optim.SGD(0.1, clipvalue=0.05)),
]

# model settings rotated over the optimizers: (rs, gb, readout, weights, loss)
SETTINGS = [(False, False, True, "none", "mse"), (True, False, True, "NT", "huber"), (False, True, True, "N", "mae"),
            (True, True, False, "N", "mse"), (False, False, False, "N", "huber")]


def _segments(rnn):
    sizes = [M * M, M * D, M] + ([rnn.output_dim * M, rnn.output_dim] if rnn.C is not None else [])
    ends = np.cumsum(sizes)
    return [slice(int(e - s), int(e)) for s, e in zip(sizes, ends)]


def _rebuild(rnn, theta):
    """The model holding theta (rnn's settings and dtype)."""
    A = theta[:M * M].reshape(M, M)
    B = theta[M * M:M * M + M * D].reshape(M, D)
    b = theta[M * M + M * D:M * M + M * D + M]
    rest = theta[M * M + M * D + M:]
    C, d = (rest[:-rnn.output_dim].reshape(rnn.output_dim, M), rest[-rnn.output_dim:]) if rnn.C is not None \
        else (None, None)
    return elman.ElmanRNN(A, B, b, C, d, activation=rnn.activation, output_activation=rnn.output_activation,
                          return_sequences=rnn.return_sequences, go_backwards=rnn.go_backwards, dtype=theta.dtype)


def _python_epoch(rnn, theta, U, Y, w, loss, order, batch_size, opt):
    """fit's batch loop, in Python: loss_and_grad then opt.apply per batch, the NaN guard."""
    total, seen = 0.0, 0
    segments = _segments(rnn)
    for i in range(-(-len(order) // batch_size)):
        idx = order[i * batch_size:(i + 1) * batch_size]
        with np.errstate(all="ignore"):
            value, g = elman.loss_and_grad(_rebuild(rnn, theta), U[idx], Y[idx], loss=loss,
                                           sample_weight=None if w is None else w[idx])
        g = _flat_grads(g)
        if not (math.isfinite(value) and np.all(np.isfinite(g))):
            return total, seen, 1, i
        last_good = theta.copy()
        with np.errstate(all="ignore"):
            opt.apply(theta, g, segments)
        if not np.all(np.isfinite(theta)):
            theta[:] = last_good
            return total, seen, 2, i
        total += value * len(idx)
        seen += len(idx)
    return total, seen, 0, -1


def _epoch_case(k, dtype, act="tanh"):
    rs, gb, readout, weights, loss = SETTINGS[k % len(SETTINGS)]
    rng = np.random.default_rng(100 + k)
    rnn = _model(rng, act, "linear", rs, gb, readout, dtype=dtype)
    U, Y, w = _data(rng, rnn, rs, weights)
    U, Y = U.astype(dtype), Y.astype(dtype)
    w = None if w is None else w.astype(dtype)
    orders = [rng.permutation(N) for _ in range(2)]
    return rnn, U, Y, w, loss, orders


def _compare_epochs(k, make_opt, dtype, rtol):
    rnn, U, Y, w, loss, orders = _epoch_case(k, dtype)
    theta_c, theta_p = _theta(rnn, dtype), _theta(rnn, dtype)
    opt_c, opt_p = make_opt(), make_opt()
    tr = _trainer(rnn, theta_c, U, Y, w, loss)
    for order in orders:  # N = 11, batch 4: two full batches and a partial one
        got = tr.epoch(order, 4, opt_c)
        want = _python_epoch(rnn, theta_p, U, Y, w, loss, order, 4, opt_p)
        assert got[1:] == want[1:] == (N, 0, -1)
        assert got[0] == pytest.approx(want[0], rel=rtol)
    assert opt_c.iterations == opt_p.iterations == 6
    assert theta_c.dtype == dtype
    scale = np.max(np.abs(theta_p))
    np.testing.assert_allclose(theta_c, theta_p, rtol=rtol, atol=rtol * scale)
    for name, state in opt_c.slots(theta_c).items():
        ref = opt_p.slots(theta_p)[name]
        np.testing.assert_allclose(state, ref, rtol=rtol, atol=rtol * max(np.max(np.abs(ref)), 1e-30), err_msg=name)
    return rnn, U, Y, w, loss, theta_c, theta_p, opt_c, opt_p


@needs_kernel
@pytest.mark.parametrize("k", range(len(OPTIMIZERS)), ids=[name for name, _ in OPTIMIZERS])
def test_epoch_equals_python_loop_float64(k):
    _compare_epochs(k, OPTIMIZERS[k][1], np.float64, 1e-10)


@needs_kernel
@pytest.mark.parametrize("k", range(len(OPTIMIZERS)), ids=[name for name, _ in OPTIMIZERS])
def test_epoch_equals_python_loop_float32(k):
    _compare_epochs(k, OPTIMIZERS[k][1], np.float32, 1e-5)


@needs_kernel
@pytest.mark.parametrize("name", ["sgd-momentum", "rmsprop-centered-momentum", "adam"])
def test_python_updates_continue_from_the_kernel_state(name):
    """A compiled epoch, then Python updates with the same optimizer: as if all were Python."""
    make = dict(OPTIMIZERS)[name]
    rnn, U, Y, w, loss, theta_c, theta_p, opt_c, opt_p = _compare_epochs(0, make, np.float64, 1e-10)
    order = np.arange(N)[::-1].copy()
    _python_epoch(rnn, theta_c, U, Y, w, loss, order, 4, opt_c)
    _python_epoch(rnn, theta_p, U, Y, w, loss, order, 4, opt_p)
    assert opt_c.iterations == opt_p.iterations == 9
    np.testing.assert_allclose(theta_c, theta_p, rtol=1e-10, atol=1e-10 * np.max(np.abs(theta_p)))


@needs_kernel
def test_epoch_refuses_other_optimizers_and_bad_orders():
    rnn, U, Y, w, loss, _ = _epoch_case(0, np.float64)
    tr = _trainer(rnn, _theta(rnn), U, Y, w, loss)

    class MyAdam(optim.Adam):
        pass

    assert tr.supports(optim.Adam()) and tr.supports(optim.SGD()) and tr.supports(optim.RMSprop())
    assert not tr.supports(MyAdam())
    with pytest.raises(ValueError):
        tr.epoch(np.arange(N), 4, MyAdam())
    for bad in ([0, N], [-1]):
        with pytest.raises(IndexError):
            tr.epoch(np.array(bad), 4, optim.Adam())
    with pytest.raises(ValueError):
        tr.epoch(np.arange(N), 0, optim.Adam())


# --------------------------------------------------------------------------- the NaN guard


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weights_overflow_stops_with_the_last_finite_weights(dtype):
    rnn, U, Y, w, loss, orders = _epoch_case(0, dtype)
    Y = (Y * 1000).astype(dtype)  # gradients of order 1e3: lr 1e308 (float32: 3e38) overflows the update
    lr = 3e38 if dtype == np.float32 else 1e308
    theta0 = _theta(rnn, dtype)
    theta_c, theta_p = theta0.copy(), theta0.copy()
    opt_c, opt_p = optim.SGD(lr), optim.SGD(lr)
    got = _trainer(rnn, theta_c, U, Y, w, loss).epoch(orders[0], 4, opt_c)
    want = _python_epoch(rnn, theta_p, U, Y, w, loss, orders[0], 4, opt_p)
    assert got == want == (0.0, 0, 2, 0)
    np.testing.assert_array_equal(theta_c, theta0)  # restored, bit for bit
    assert opt_c.iterations == opt_p.iterations == 1  # the update was made (then undone), as in fit


@needs_kernel
def test_nan_gradient_stops_before_the_update():
    rnn, U, Y, w, loss, orders = _epoch_case(7, np.float64, act="linear")
    order = orders[0]
    U = U.copy()
    U[order[5]] = 1e308  # a sample of the second batch: its linear states overflow, its loss is NaN
    theta_c, theta_p = _theta(rnn), _theta(rnn)
    opt_c, opt_p = optim.Adam(0.01), optim.Adam(0.01)
    got = _trainer(rnn, theta_c, U, Y, w, loss).epoch(order, 4, opt_c)
    want = _python_epoch(rnn, theta_p, U, Y, w, loss, order, 4, opt_p)
    assert got[1:] == want[1:] == (4, 1, 1)
    assert got[0] == pytest.approx(want[0], rel=1e-10)
    assert opt_c.iterations == 1
    np.testing.assert_allclose(theta_c, theta_p, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- refusals


@pytest.fixture
def fresh_loader(monkeypatch):
    """A loader that has not tried yet (restored afterwards)."""
    monkeypatch.setattr(_compiled, "_lib", None)
    monkeypatch.setattr(_compiled, "_broken", None)
    return monkeypatch


def _any_trainer():
    rng = np.random.default_rng(0)
    rnn = _model(rng, "tanh", "linear", False, False, True)
    U, Y, w = _data(rng, rnn, False, "none")
    return lambda: _trainer(rnn, _theta(rnn), U, Y, w, "mse")


@needs_kernel
def test_other_tables_refuse_the_kernel(fresh_loader):
    fresh_loader.setattr(_gen_ckernel, "tables_signature", lambda: "linear,tanh;mse")
    make = _any_trainer()
    assert _compiled.available() is False
    with pytest.raises(_compiled.KernelUnavailable, match="tables"):
        make()


@needs_kernel
def test_a_library_built_from_another_source_is_refused(fresh_loader):
    if not _compiled._load().elman_source_hash():
        pytest.skip("this library was compiled by hand, without the source hash setup.py gives it")
    fresh_loader.setattr(_compiled, "_lib", None)
    fresh_loader.setattr(_compiled, "_source_hash", lambda: "0" * 64)
    assert _compiled.available() is False
    with pytest.raises(_compiled.KernelUnavailable, match="out of date"):
        _any_trainer()()


def test_missing_library_is_unavailable(fresh_loader):
    real = importlib.util.find_spec
    fresh_loader.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "elman._ckernel" else real(name, *a))
    assert _compiled.available() is False
    with pytest.raises(_compiled.KernelUnavailable, match="not built"):
        _any_trainer()()


def test_unloadable_library_is_unavailable(fresh_loader, tmp_path):
    junk = tmp_path / "_ckernel.so"
    junk.write_text("not a shared library")
    spec = importlib.util.spec_from_file_location("elman._ckernel", junk)
    real = importlib.util.find_spec
    fresh_loader.setattr(importlib.util, "find_spec", lambda name, *a: spec if name == "elman._ckernel" else real(name, *a))
    assert _compiled.available() is False
    with pytest.raises(_compiled.KernelUnavailable, match="cannot be loaded"):
        _any_trainer()()


def test_available_never_raises(fresh_loader):
    def boom():
        raise RuntimeError("a loader fault")

    fresh_loader.setattr(_compiled, "_open", boom)
    assert _compiled.available() is False
    assert _compiled.available() is False  # the reason is kept, not retried
    with pytest.raises(_compiled.KernelUnavailable, match="RuntimeError: a loader fault"):
        _compiled._load()
