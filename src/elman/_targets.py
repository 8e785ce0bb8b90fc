"""Benchmark targets with a closed form: NARMA, the Mackey-Glass series and a linear
(FIR) filter. Re-exported by :mod:`elman.datasets`, where users find them."""

from __future__ import annotations

import math
from array import array

import numpy as np

from .errors import NonFiniteError, ParameterError, ShapeError
from .validation import _brief, _count, _finite, _float, _is_real, _numeric, _rng

__all__ = ["narma", "mackey_glass", "linear_filter"]

# narma and mackey_glass step through time in Python (about a microsecond per value, per
# RK4 step): 10**7 of them take tens of seconds; more is taken as a mistake and refused.
_MAX_STEPS = 10**7


def _real(v, name: str, *, low: float | None = None, positive: bool = False) -> float:
    """A finite real ``v`` (>= low, or > 0 when positive) as a float, else a ParameterError."""
    if not _is_real(v) or not math.isfinite(_float(v)):
        raise ParameterError(f"{name} must be a finite real number, got {_brief(v)}")
    v = _float(v)
    if positive and not v > 0:
        raise ParameterError(f"{name} must be > 0, got {v!r}")
    if low is not None and v < low:
        raise ParameterError(f"{name} must be >= {low}, got {v!r}")
    return v


def narma(n: int, order: int = 10, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """NARMA series of the given order with the NARMA10 coefficients: returns (u (n,), y (n,)).

        y_{t+1} = 0.3 y_t + 0.05 y_t (y_t + y_{t-1} + ... + y_{t-order+1})
                  + 1.5 u_{t-order+1} u_t + 0.1

    for t = order-1, ..., n-2, with u_t i.i.d. uniform on [0, 0.5) (drawn from
    ``numpy.random.default_rng(seed)``) and the start y_0 = ... = y_{order-1} = 0; every
    index is then >= 0 and y_order is the first value computed. y_{t+1} is a function of
    u_0 .. u_t: the task is to output it after reading u_t. Sources: Atiya & Parlos (2000), "New
    results on recurrent network training", IEEE Trans. Neural Networks 11(3); Jaeger
    (2003), "Adaptive nonlinear system identification with echo state networks", NIPS 15
    (order 10). The sum is added left to right, oldest first, in float64.

    ReservoirPy's ``reservoirpy.datasets.narma`` defaults to ``order=30`` with
    a1=0.2, a2=0.04, b=1.5, c=0.001 -- the NARMA30 coefficients, kept even when order=10
    is passed; NARMA10's are a1=0.3, a2=0.05, b=1.5, c=0.1 as here -- and returns
    u of length n + order beside y of length n (its loop adds y_{t-order} .. y_{t-1}
    and multiplies u_{t-order} u_t, one step further back than the equation it shows).

    The recurrence is not bounded for every input draw: once y climbs past about 1.3 it
    runs off to infinity within a few dozen steps. Order 10 stays below about 1.2 for
    most seeds, but about 1 series in 200 of 1000 steps (1 in 25 of 10,000) diverges
    (seeds 0..1999 checked); at order 11 about 1 in 4 of 1000 steps, from order 12 on
    nearly all. A y that leaves the float64 range raises NonFiniteError naming the step:
    use another seed or a shorter n. n must exceed order and is at most 10**7.

    >>> u, y = narma(200, seed=0); u.shape, y.shape, y[:10].tolist() == [0.0] * 10
    ((200,), (200,), True)
    >>> bool(0 <= u.min() and u.max() < 0.5 and 0 < y[10:].min() and y.max() < 1)
    True
    """
    order = _count(order, "order")
    n = _count(n, "n", low=order + 1)
    if n > _MAX_STEPS:
        raise ParameterError(f"n must be at most {_MAX_STEPS:,} (the values are computed one at a time in "
                             f"Python), got {n:,}")
    u = _rng(seed).uniform(0.0, 0.5, size=n)
    uu = u.tolist()
    y = [0.0] * n
    for t in range(order - 1, n - 1):
        yt = y[t]
        y[t + 1] = 0.3 * yt + 0.05 * yt * sum(y[t - order + 1:t + 1]) + 1.5 * uu[t - order + 1] * uu[t] + 0.1
        if not math.isfinite(y[t + 1]):
            raise NonFiniteError(f"narma(n={n}, order={order}, seed={seed!r}) diverged: y_{t + 1} is {y[t + 1]} "
                                 "(the NARMA recurrence is unbounded for some inputs); try another seed or n")
    return u, np.array(y, dtype=np.float64)


def _steps_per(value: float, dt: float, name: str) -> int:
    """value / dt as a positive integer, or a ParameterError: dt must divide ``name``."""
    ratio = value / dt
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-9 * max(1.0, ratio):
        raise ParameterError(f"dt must divide {name} into a whole number of steps: {name}={value!r}, "
                             f"dt={dt!r} gives {ratio!r} steps")
    return k


def mackey_glass(n: int, tau: float = 17, *, a: float = 0.2, b: float = 0.1, p: float = 10,
                 x0: float = 1.2, dt: float = 0.1, sample_every: float = 1.0) -> np.ndarray:
    """The Mackey-Glass delay equation sampled at times 0, sample_every, 2 sample_every, ...:
    returns x (n,) float64, x[0] = x0.

        dx/dt = a x(t - tau) / (1 + x(t - tau)^p) - b x(t),   x(t) = x0 for t <= 0

    Source: Mackey & Glass (1977), "Oscillation and chaos in physiological control
    systems", Science 197; tau = 17 (chaotic) is the benchmark of Jaeger & Haas (2004),
    Science 304, and of ReservoirPy's ``mackey_glass``.

    Method: classical fourth-order Runge-Kutta with step dt (default 0.1), which must
    divide both tau and sample_every. Delayed values at the full steps are stored grid
    values; at the half steps (t + dt/2 - tau, midway between grid points) they come from
    cubic Hermite interpolation of the stored values and their derivatives (the right side
    of the equation), O(dt^4) like the RK4 step; on the constant history the value is x0.
    Since tau is on the grid, no step straddles the kinks of the solution at t = 0, tau,
    2 tau, ... The global error is O(dt^4): with the defaults (tau = 17) x stays within
    1.2e-7 of an integration with step 0.002 over the first 500 time units (with dt = 1:
    5e-5). The series is deterministic (no seed): change x0 for another trajectory.

    Requires tau, dt, sample_every > 0, a, b >= 0, p > 0, x0 >= 0 (x stays >= 0), and at
    most 10**7 RK4 steps ((n - 1) sample_every / dt).

    >>> x = mackey_glass(300); x.shape, float(x[0])
    ((300,), 1.2)
    >>> bool(0.2 < x[100:].min() and x[100:].max() < 1.4)
    True
    """
    n = _count(n, "n")
    tau, dt = _real(tau, "tau", positive=True), _real(dt, "dt", positive=True)
    sample_every = _real(sample_every, "sample_every", positive=True)
    a, b = _real(a, "a", low=0.0), _real(b, "b", low=0.0)
    p, x0 = _real(p, "p", positive=True), _real(x0, "x0", low=0.0)
    delay, per = _steps_per(tau, dt, "tau"), _steps_per(sample_every, dt, "sample_every")
    if (n - 1) * per > _MAX_STEPS:
        raise ParameterError(f"n={n:,} samples every {per} steps of dt={dt!r} need {(n - 1) * per:,} RK4 "
                             f"steps, at most {_MAX_STEPS:,}: lower n or raise dt")
    try:
        xs = _mg_integrate((n - 1) * per, delay, dt, (a, b, p), x0)
    except OverflowError:  # x**p beyond the float64 range
        raise NonFiniteError(f"mackey_glass diverged: x left the float64 range; dt={dt!r} is too large for "
                             f"a={a!r}, b={b!r}: use a smaller dt") from None
    return np.frombuffer(xs, dtype=np.float64)[delay::per].copy()


def _mg_integrate(steps: int, delay: int, dt: float, abp: tuple, x0: float) -> array:
    """x(k dt) for k = -delay .. steps (index delay + k) by RK4, the delay at half steps by
    cubic Hermite interpolation of the stored values and slopes. The exact x stays >= 0; an
    x below 0, beyond the float64 range or NaN means dt is too large: NonFiniteError."""
    a, b, p = abp

    def f(x, xd):
        return a * xd / (1.0 + xd ** p) - b * x

    xs = array("d", [x0]) * (delay + steps + 1)  # x on the grid, history included
    ms = array("d", [0.0]) * (delay + steps + 1)  # dx/dt there; 0 on the history
    ms[delay] = f(x0, x0)  # the right derivative at t = 0 (the history's is 0)
    h2, h8 = dt / 2.0, dt / 8.0
    for k in range(steps):
        x, xd0, xd1 = xs[delay + k], xs[k], xs[k + 1]  # x(t), x(t - tau), x(t + dt - tau)
        if k < delay:  # t - tau .. t + dt - tau lies on the constant history
            xdh = x0
        else:  # Hermite midpoint: (x0 + x1) / 2 + dt (m0 - m1) / 8
            xdh = 0.5 * (xd0 + xd1) + h8 * (ms[k] - ms[k + 1])
        k1 = f(x, xd0)
        k2 = f(x + h2 * k1, xdh)
        k3 = f(x + h2 * k2, xdh)
        k4 = f(x + dt * k3, xd1)
        x = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if not 0.0 <= x < math.inf:  # also NaN
            raise NonFiniteError(f"mackey_glass diverged: x({(k + 1) * dt:g}) = {x!r} (the solution stays "
                                 f"in [0, inf)); dt={dt!r} is too large for a={a!r}, b={b!r}: use a smaller dt")
        xs[delay + k + 1] = x
        ms[delay + k + 1] = f(x, xd1)
    return xs


def linear_filter(n: int, h=None, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """A linear (FIR) filter with a known impulse response: returns (u (n,), y (n,)).

        y_t = h_0 u_t + h_1 u_{t-1} + ... + h_{L-1} u_{t-L+1},   u_t = 0 for t < 0

    with u_t i.i.d. uniform on [-1, 1) from ``numpy.random.default_rng(seed)``; y equals
    ``np.convolve(u, h)[:n]``. The impulse response is h itself (L = len(h)); the default
    is h_k = 0.5**k, k = 0..9. A textbook target (e.g. Oppenheim & Schafer, Discrete-Time
    Signal Processing, ch. 2): the task is y_t from u_0 .. u_t.

    State size: an Elman network reads y_k from the state after u_k, z_{k+1} = A z_k +
    B u_k + b, y_k = C z_{k+1} + d. With linear activation, M = L states represent the
    filter exactly: the shift register z_{k+1} = (u_k, u_{k-1}, ..., u_{k-L+1}) (A ones
    on the subdiagonal, B = e_1, b = 0, z_0 = 0) and C = h, d = 0. Fewer do not when
    h_{L-1} != 0: with no direct input-to-output term, h_0 = C B is part of the
    state-space response, whose Hankel matrix [h_{i+j}] has rank L. (A model with a
    direct term D u_k would need only L - 1.)

    >>> u, y = linear_filter(4, h=[1.0, 2.0], seed=0); bool(y[0] == u[0] and y[1] == u[1] + 2 * u[0])
    True
    """
    n = _count(n, "n")
    if n > 10**8:
        raise ParameterError(f"n must be at most 100,000,000 (two float64 arrays), got {n:,}")
    h = 0.5 ** np.arange(10.0) if h is None else _numeric(h, "h").astype(np.float64)
    if h.ndim != 1 or h.size == 0:
        raise ShapeError(f"h must be a non-empty 1-D array of filter taps, got shape {h.shape}")
    _finite(h, "h")
    u = _rng(seed).uniform(-1.0, 1.0, size=n)
    y = np.zeros(n)
    for k, hk in enumerate(h[:n]):
        y[k:] += hk * u[:n - k]
    return u, y
