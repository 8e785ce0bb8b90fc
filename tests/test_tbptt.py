"""Truncated backpropagation through time, ``elman.fit(..., tbptt=k)``, against a gradient
computed here from the definition.

With tbptt = k the sequence is cut into chunks of k steps (the last one shorter when k
does not divide T). Each chunk starts from the state the previous chunk ended in (the
state is carried), but that starting state counts as a constant: the gradient does not
flow back across a chunk's start. The batch's loss is the chunks' losses weighted by
their share of it: chunk length / T with return_sequences; for many-to-one only the
last chunk has a target, and the earlier chunks only move the state forward.

One epoch of plain SGD over one batch holding every sample is exactly
theta_new = theta - lr g, so (theta - theta_new) / lr must be g, the gradient of that
chunked loss. g is computed here by central differences in float64 of a chunked loss
written with nothing but ``rnn.predict`` and ``rnn.run`` (z0 given), each chunk's z0
computed with the unperturbed weights (that is what "the gradient stops at the chunk's
start" means). Three ways to get TBPTT wrong each fail a test below: resetting the state
to zero per chunk, letting the gradient run across chunk starts (plain BPTT), and
weighting the chunks equally instead of by length (seen only when k does not divide T).
"""

from __future__ import annotations

import numpy as np
import pytest

import elman

NAMES = ("A", "B", "b", "C", "d")
D, M, K, N = 2, 4, 3, 20
LR = 0.01
# The engines that must honour tbptt ("blas", the batched-NumPy engine, included).
ENGINES = ("numpy", "auto", "blas")


def _model(seed: int, rs: bool) -> elman.ElmanRNN:
    """Random non-square float64 weights; A scaled to spectral radius 0.9 so that the state
    remembers across a chunk boundary (a carried state and a zero one differ clearly)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, M))
    A *= 0.9 / np.max(np.abs(np.linalg.eigvals(A)))
    return elman.ElmanRNN(A, rng.standard_normal((M, D)), 0.5 * rng.standard_normal(M),
                          rng.standard_normal((K, M)) / np.sqrt(M), 0.5 * rng.standard_normal(K),
                          activation="tanh", return_sequences=rs)


def _data(seed: int, T: int, rs: bool):
    rng = np.random.default_rng(seed + 100)
    return rng.standard_normal((N, T, D)), rng.standard_normal((N, T, K) if rs else (N, K))


def _with(rnn: elman.ElmanRNN, params: dict) -> elman.ElmanRNN:
    return elman.ElmanRNN(*(params[n] for n in NAMES), activation=rnn.activation,
                          output_activation=rnn.output_activation, return_sequences=rnn.return_sequences)


def _chunked_loss(rnn, params, U, Y, k, *, carry=True):
    """The TBPTT loss of ``rnn`` with weights ``params``: chunk by chunk, each chunk's z0
    the state the UNPERTURBED ``rnn`` reached at the chunk's start (zero when not
    ``carry``), the chunk mse weighted by chunk length / T (sequences), or only the
    last chunk's (many-to-one)."""
    model = _with(rnn, params)
    T = U.shape[1]
    z = np.zeros((N, M))
    total = 0.0
    for start in range(0, T, k):
        sl = slice(start, min(start + k, T))
        z0 = z if carry else np.zeros((N, M))
        if rnn.return_sequences:
            err = model.predict(U[:, sl], z0=z0) - Y[:, sl]
            total += np.mean(err ** 2) * (sl.stop - sl.start) / T
        elif sl.stop == T:
            total += np.mean((model.predict(U[:, sl], z0=z0) - Y) ** 2)
        z = rnn.run(U[:, sl], z0=z0).states[:, -1]
    return total


def _numeric_grad(rnn, U, Y, k, *, carry=True, eps=1e-6):
    """Central differences of :func:`_chunked_loss` for every weight."""
    base = {n: np.array(getattr(rnn, n), dtype=np.float64) for n in NAMES}
    grads = {}
    for n in NAMES:
        g = np.zeros_like(base[n])
        for i in np.ndindex(g.shape):
            p = {m: v.copy() for m, v in base.items()}
            p[n][i] = base[n][i] + eps
            up = _chunked_loss(rnn, p, U, Y, k, carry=carry)
            p[n][i] = base[n][i] - eps
            g[i] = (up - _chunked_loss(rnn, p, U, Y, k, carry=carry)) / (2 * eps)
        grads[n] = g
    return grads


def _fit_gradient(rnn, U, Y, k, engine):
    """(g, loss): the gradient fit used, read back from one SGD step over one full batch."""
    res = elman.fit(rnn, U, Y, epochs=1, batch_size=N, optimizer="sgd", learning_rate=LR, shuffle=False,
                    tbptt=k, engine=engine, verbose=0)
    return {n: (getattr(rnn, n) - getattr(res.model, n)) / LR for n in NAMES}, res.history["loss"][0]


def _assert_grads_equal(got, want, rtol=1e-6):
    for n in NAMES:
        scale = np.max(np.abs(want[n]))
        np.testing.assert_allclose(got[n], want[n], rtol=rtol, atol=rtol * scale, err_msg=f"d loss / d {n}")


def _dist(g, h) -> float:
    """Relative distance of two gradients (all weights together)."""
    a, b = (np.concatenate([x[n].ravel() for n in NAMES]) for x in (g, h))
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


CASES = {  # name: (return_sequences, T, k)
    "seq-T6-k3": (True, 6, 3),
    "seq-T7-k3": (True, 7, 3),  # chunks of 3, 3, 1: weights 3/7, 3/7, 1/7
    "one-T6-k2": (False, 6, 2),
    "one-T7-k3": (False, 7, 3),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(CASES))
def test_one_sgd_step_is_the_chunked_gradient(case, engine):
    """fit's update is lr times the gradient of the chunked loss (state carried, gradient
    stopped at chunk starts), weight for weight, and the loss it reports is that loss."""
    rs, T, k = CASES[case]
    rnn = _model(T + 10 * rs, rs)
    U, Y = _data(T, T, rs)
    want = _numeric_grad(rnn, U, Y, k)
    got, loss = _fit_gradient(rnn, U, Y, k, engine)
    _assert_grads_equal(got, want)
    base = {n: getattr(rnn, n) for n in NAMES}
    np.testing.assert_allclose(loss, _chunked_loss(rnn, base, U, Y, k), rtol=1e-12)
    # Truncation matters here: plain BPTT over the whole sequence is a different gradient.
    full = elman.fit(rnn, U, Y, epochs=1, batch_size=N, optimizer="sgd", learning_rate=LR, shuffle=False,
                     engine="numpy", verbose=0).model
    assert _dist({n: (getattr(rnn, n) - getattr(full, n)) / LR for n in NAMES}, want) > 1e-3


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rs", [True, False], ids=["seq", "one"])
def test_state_is_carried_not_reset(rs, engine):
    """A TBPTT that restarted every chunk from z = 0 would compute the zero-reset
    gradient; here that gradient is far (over 5 %; it is about 12 % and 19 %) from the
    carried one, and fit's update is the carried one to 1e-6, not the zero-reset one.
    The loss fit reports is the carried loss, which differs from the zero-reset loss."""
    T, k = 6, 2
    rnn = _model(7, rs)
    U, Y = _data(7, T, rs)
    carried = _numeric_grad(rnn, U, Y, k)
    reset = _numeric_grad(rnn, U, Y, k, carry=False)
    assert _dist(reset, carried) > 0.05
    got, loss = _fit_gradient(rnn, U, Y, k, engine)
    assert _dist(got, carried) < 1e-6
    assert _dist(got, reset) > 0.05
    base = {n: getattr(rnn, n) for n in NAMES}
    zero_loss = _chunked_loss(rnn, base, U, Y, k, carry=False)
    np.testing.assert_allclose(loss, _chunked_loss(rnn, base, U, Y, k), rtol=1e-12)
    assert abs(loss - zero_loss) > 1e-3 * loss
