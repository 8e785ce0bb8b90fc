"""The benchmark targets of elman.datasets (narma, mackey_glass, linear_filter) against
independent computations written here: a direct NARMA loop, a second Mackey-Glass
integrator (RK4 with a ten times smaller step and a linearly interpolated delay), and
np.convolve plus an exact shift-register Elman network for the filter."""

from __future__ import annotations

import math

import numpy as np
import pytest

import elman
from elman import datasets
from elman.errors import InputTypeError, NonFiniteError, ParameterError, ShapeError


# --------------------------------------------------------------------------- NARMA

def narma_by_hand(u, order):
    """The NARMA recurrence with the NARMA10 coefficients, one scalar at a time, from a
    zero start: y_{t+1} = 0.3 y_t + 0.05 y_t sum_{i=0}^{order-1} y_{t-i}
    + 1.5 u_{t-order+1} u_t + 0.1. The sum runs oldest first, as sum() adds a slice."""
    n = len(u)
    y = [0.0] * n
    for t in range(order - 1, n - 1):
        s = 0
        for i in range(order - 1, -1, -1):
            s = s + y[t - i]
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * s + 1.5 * u[t - order + 1] * u[t] + 0.1
    return np.array(y)


@pytest.mark.parametrize("order", [10, 1, 5])
def test_narma_is_the_narma10_recurrence(order):
    n, seed = 2000, 3
    u, y = datasets.narma(n, order=order, seed=seed)
    np.testing.assert_array_equal(u, np.random.default_rng(seed).uniform(0.0, 0.5, n))
    assert u.shape == y.shape == (n,) and u.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(y, narma_by_hand(u.tolist(), order))
    assert np.all(y[:order] == 0) and y[order] == 1.5 * u[0] * u[order - 1] + 0.1
    assert 0.1 <= y[order:].min() and y.max() < 1.3


def test_narma_default_order_is_10():
    np.testing.assert_array_equal(datasets.narma(300, seed=1)[1], datasets.narma(300, order=10, seed=1)[1])


def test_narma_seeds():
    a, b = datasets.narma(500, seed=7), datasets.narma(500, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], datasets.narma(500, seed=8)[1])
    u, _ = datasets.narma(50, seed=np.random.default_rng(7))  # a Generator is used as is
    np.testing.assert_array_equal(u, a[0][:50])


def test_narma_divergence_is_an_error():
    with pytest.raises(NonFiniteError, match=r"order=10, seed=83\) diverged: y_986"):
        datasets.narma(1000, seed=83)  # one of the rare NARMA10 draws that run away
    with pytest.raises(NonFiniteError, match="order=20"):
        datasets.narma(2000, order=20, seed=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=10), "n must be an integer >= 11"),
    (dict(n=0), "n must be an integer >= 11"),
    (dict(n=100.0), "n must be"),
    (dict(n=True), "n must be"),
    (dict(n=10**8), "n must be at most 10,000,000"),
    (dict(n=100, order=0), "order must be a positive integer"),
    (dict(n=100, order=2.5), "order must be"),
    (dict(n=100, order=None), "order must be"),
    (dict(n=100, seed=-1), "seed must be"),
    (dict(n=100, seed="a"), "seed must be"),
])
def test_narma_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        datasets.narma(**kwargs)


# --------------------------------------------------------------------------- Mackey-Glass

def mackey_glass_by_hand(t_end, tau=17.0, a=0.2, b=0.1, p=10.0, x0=1.2, h=0.01):
    """x(0), x(1), ..., x(t_end) by classical RK4 with step h; x(s) for s <= 0 is x0, and for
    0 < s <= t from the values computed so far by linear interpolation on the h grid."""
    xs = [x0]

    def x_at(s):
        if s <= 0.0:
            return x0
        i = int(s / h)
        w = s / h - i
        return xs[i] if w == 0.0 else (1.0 - w) * xs[i] + w * xs[i + 1]

    def rhs(t, x):
        d = x_at(t - tau)
        return a * d / (1.0 + d ** p) - b * x

    x = x0
    for k in range(round(t_end / h)):
        t = k * h
        k1 = rhs(t, x)
        k2 = rhs(t + h / 2, x + h / 2 * k1)
        k3 = rhs(t + h / 2, x + h / 2 * k2)
        k4 = rhs(t + h, x + h * k3)
        x += h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        xs.append(x)
    return np.array(xs[::round(1 / h)])


def test_mackey_glass_matches_an_independent_integration():
    """tau = 17 (chaotic), the first 500 time units: within 1e-3 of a ten times finer
    integration. Measured 3.1e-6, nearly all of it the linear interpolation here (against
    a step of 0.002 elman's dt = 0.1 is within 1.2e-7); dt = 1 would give 5e-5, so the
    tighter bound 2e-5 also checks that the step is fine enough."""
    x = datasets.mackey_glass(501)
    ref = mackey_glass_by_hand(500.0)
    assert x.shape == ref.shape == (501,) and x.dtype == np.float64 and x[0] == 1.2
    err = np.max(np.abs(x - ref))
    assert err < 1e-3, err
    assert err < 2e-5, err
    assert 0.4 < x[50:].min() and x.max() < 1.35  # the familiar range of the tau = 17 attractor


def test_mackey_glass_parameters_reach_the_equation():
    kw = dict(tau=12.0, a=0.25, b=0.12, p=8.0, x0=0.5)
    x = datasets.mackey_glass(201, **kw)
    assert np.max(np.abs(x - mackey_glass_by_hand(200.0, **kw))) < 1e-3
    assert not np.allclose(x, datasets.mackey_glass(201, tau=12.0, x0=0.5))


def test_mackey_glass_sampling():
    """sample_every picks grid points of the same integration; dt refines it."""
    fine = datasets.mackey_glass(1001, sample_every=0.5)
    np.testing.assert_array_equal(fine[::2], datasets.mackey_glass(501))
    half = datasets.mackey_glass(101, dt=0.05)
    assert 0 < np.max(np.abs(half - datasets.mackey_glass(101))) < 1e-4


def test_mackey_glass_constant_start():
    """x(t) = x0 on the history; x0 = 0 is the rest state."""
    np.testing.assert_array_equal(datasets.mackey_glass(30, x0=0.0), np.zeros(30))
    x = datasets.mackey_glass(3)
    assert x[1] < x[0] == 1.2  # 0.2 * 1.2 / (1 + 1.2**10) < 0.1 * 1.2: it starts by falling


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n must be a positive integer"),
    (dict(n=5.0), "n must be"),
    (dict(tau=0), "tau must be > 0"),
    (dict(tau=-17), "tau must be > 0"),
    (dict(tau="17"), "tau must be a finite real number"),
    (dict(tau=17.05), "dt must divide tau"),
    (dict(dt=0.3), "dt must divide tau"),
    (dict(dt=0.0), "dt must be > 0"),
    (dict(dt=math.inf), "dt must be a finite real number"),
    (dict(sample_every=0.25), "dt must divide sample_every"),
    (dict(sample_every=-1.0), "sample_every must be > 0"),
    (dict(a=-0.2), "a must be >= 0"),
    (dict(b=math.nan), "b must be a finite real number"),
    (dict(p=0), "p must be > 0"),
    (dict(x0=-0.1), "x0 must be >= 0"),
    (dict(x0=None), "x0 must be a finite real number"),
    (dict(n=10**6 + 2), "need 10,000,010 RK4 steps, at most 10,000,000"),
])
def test_mackey_glass_bad_arguments(kwargs, match):
    kwargs = {"n": 10, **kwargs}
    with pytest.raises(ParameterError, match=match):
        datasets.mackey_glass(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(b=30.0), dict(b=1e6), dict(b=29.0, p=0.5)])
def test_mackey_glass_unstable_step_is_an_error(kwargs):
    """b dt beyond RK4's stability limit (about 2.79) runs away: an error, not inf or NaN."""
    with pytest.raises(NonFiniteError, match="diverged.*use a smaller dt"):
        datasets.mackey_glass(500, **kwargs)


# --------------------------------------------------------------------------- linear filter

@pytest.mark.parametrize("h", [None, [0.3], [1.0, -2.0, 0.5], np.linspace(1, -1, 7)])
def test_linear_filter_is_the_convolution(h):
    u, y = datasets.linear_filter(300, h=h, seed=5)
    taps = 0.5 ** np.arange(10) if h is None else np.asarray(h, dtype=float)
    np.testing.assert_array_equal(u, np.random.default_rng(5).uniform(-1.0, 1.0, 300))
    np.testing.assert_allclose(y, np.convolve(u, taps)[:300], rtol=0, atol=1e-14)
    impulse = np.zeros(20)
    impulse[0] = 1.0
    np.testing.assert_array_equal(np.convolve(impulse, taps)[:len(taps)], taps)  # the impulse response is h


def test_linear_filter_short_series_and_seeds():
    u, y = datasets.linear_filter(3, seed=1)  # fewer points than taps
    np.testing.assert_allclose(y, np.convolve(u, 0.5 ** np.arange(10))[:3], rtol=0, atol=1e-15)
    a, b = datasets.linear_filter(100, seed=9), datasets.linear_filter(100, seed=9)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], datasets.linear_filter(100, seed=10)[1])


@pytest.mark.parametrize("h", [None, [2.0], [0.5, -1.0, 0.25, 0.8]])
def test_linear_elman_with_len_h_states_is_the_filter(h):
    """M = len(h) states: the shift register z_{k+1} = (u_k, ..., u_{k-M+1}), C = h."""
    u, y = datasets.linear_filter(200, h=h, seed=2)
    taps = 0.5 ** np.arange(10) if h is None else np.asarray(h, dtype=float)
    M = len(taps)
    A = np.eye(M, k=-1)  # z_{k+1}[i] = z_k[i-1]
    B = np.zeros((M, 1))
    B[0, 0] = 1.0
    rnn = elman.ElmanRNN(A=A, B=B, b=np.zeros(M), C=taps[None, :], d=[0.0], activation="linear",
                         return_sequences=True)
    pred = rnn.predict(u[None, :, None])
    assert pred.shape == (1, 200, 1)
    np.testing.assert_allclose(pred[0, :, 0], y, rtol=0, atol=1e-14)


def test_fewer_states_cannot_be_exact():
    """Why not len(h) - 1: the readout sees z_{k+1}, so h_0 = C B is part of the response
    C A^j B = h_j, whose Hankel matrix has rank len(h) when h[-1] != 0."""
    taps = 0.5 ** np.arange(10)
    L = len(taps)
    hankel = np.array([[taps[i + j] if i + j < L else 0.0 for j in range(L)] for i in range(L)])
    assert np.linalg.matrix_rank(hankel) == L


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n=0), ParameterError, "n must be a positive integer"),
    (dict(n=2.5), ParameterError, "n must be"),
    (dict(n=10**9), ParameterError, "n must be at most"),
    (dict(n=10, h=[]), ShapeError, "h must be a non-empty 1-D array"),
    (dict(n=10, h=[[1.0, 2.0]]), ShapeError, r"h must be .* got shape \(1, 2\)"),
    (dict(n=10, h=[1.0, math.nan]), NonFiniteError, "h holds NaN"),
    (dict(n=10, h=["a"]), InputTypeError, "h must hold real numbers"),
    (dict(n=10, seed=-3), ParameterError, "seed must be"),
])
def test_linear_filter_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.linear_filter(**kwargs)


def test_exported_from_datasets():
    for name in ("narma", "mackey_glass", "linear_filter"):
        assert name in datasets.__all__ and getattr(datasets, name).__module__ == "elman._targets"
