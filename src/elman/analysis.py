"""The network as a dynamical system: contraction, echo states, fixed points, chaos, memory.

    z_{k+1} = s(A z_k + B u_k + b)

elman has the map and its Jacobian in closed form, so everything here is computed from
them exactly, in float64 whatever the model's dtype:

- :func:`spectral_radius`, :func:`lipschitz_bound`, :func:`echo_state`: is the map a
  contraction, does the network forget its initial state;
- :func:`jacobian`: dz_{k+1}/dz_k = diag(s'(A z_k + B u_k + b)) A;
- :func:`fixed_points`: the fixed points (and slow points) for a constant input, each
  with its Jacobian, eigenvalues and a stable/saddle/unstable label (Sussillo & Barak);
- :func:`lyapunov_spectrum`: Lyapunov exponents along a driven trajectory, in natural
  log per step;
- :func:`controllability_rank`, :func:`memory_capacity`: the Krylov rank of (A, B)
  and Jaeger's linear memory capacity, side by side;
- :func:`summary`: all of it as one JSON-able dict, what ``elman analyze`` reports.

A :class:`~elman.model.StackedRNN` gives one value per layer where the question is about
a layer's matrices (spectral radius, Lipschitz bound, controllability rank); the
functions that iterate the network act on the concatenated state [z^1; ...; z^L], every
layer taking one step per input (a stack with a go_backwards layer is refused there).
An input sequence is one sequence (T, D) or (1, T, D), given as to ``rnn.run``: a
go_backwards model reads it last step first, and so do these functions.

>>> import numpy as np
>>> from elman import ElmanRNN
>>> rnn = ElmanRNN(A=[[2.0]], B=[[1.0]], b=[0.0])     # z_{k+1} = tanh(2 z_k + u_k)
>>> fp = fixed_points(rnn, seed=0)
>>> fp.labels, np.round(fp.z[:, 0], 6)
(('stable', 'stable', 'unstable'), array([-0.957504,  0.957504,  0.      ]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._dynmap import DynMap, contraction_rate, echo_starts, layers_of, real, spread
from ._fixedpoints import FixedPoints, search, unit_tol
from ._memory import MemoryCapacity, check_lags, default_rtol, krylov_rank, noise_floor, recall
from .errors import NonFiniteError, ParameterError, ShapeError
from .model import StackedRNN
from .validation import _count, _rng

__all__ = [
    "LIPSCHITZ", "EchoState", "FixedPoints", "MemoryCapacity", "spectral_radius", "lipschitz_bound",
    "echo_state", "jacobian", "fixed_points", "lyapunov_spectrum", "controllability_rank",
    "memory_capacity", "summary",
]

#: Lip(s) = sup_x |s'(x)| of each activation, by Keras name (elman.activations' constants):
#:
#: - 1: linear, tanh (s'(0)), relu, relu6, elu (alpha 1), softsign (s'(0)), leaky_relu
#:   (slopes 1 and 0.2), softplus (s' is the sigmoid: sup 1, not attained);
#: - 1/4: sigmoid (s'(0)); 1/6: hard_sigmoid (slope on (-3, 3));
#: - selu: scale * alpha = 1.7581 (the slope just left of 0; right of it, scale = 1.0507);
#: - silu: 1.0998, s(x)(1 + x(1 - s(x))) at its maximum, where x tanh(x / 2) = 2 (x = 2.39936);
#: - gelu: 1.1289, Phi(x) + x phi(x) at its maximum x = sqrt 2: erfc(-1) / 2 + exp(-1) / sqrt(pi);
#: - exponential: inf (unbounded).
LIPSCHITZ = {
    "linear": 1.0, "tanh": 1.0, "relu": 1.0, "sigmoid": 0.25, "hard_sigmoid": 1.0 / 6.0,
    "softplus": 1.0, "softsign": 1.0, "elu": 1.0,
    "selu": 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717,
    "exponential": math.inf, "silu": 1.0998393201288668,
    "gelu": 0.5 * math.erfc(-1.0) + math.exp(-1.0) / math.sqrt(math.pi),
    "relu6": 1.0, "leaky_relu": 1.0,
}


def _per_layer(rnn, value):
    """value(layer) for each layer: a list for a StackedRNN, one value for an ElmanRNN."""
    out = [value(l) for l in layers_of(rnn)]
    return out if isinstance(rnn, StackedRNN) else out[0]


def spectral_radius(rnn):
    """max |eigenvalue of A| (a list with one per layer for a StackedRNN).

    >>> from elman import ElmanRNN
    >>> spectral_radius(ElmanRNN(A=[[0.0, 2.0], [-0.5, 0.0]], B=[[1.0], [0.0]], b=[0.0, 0.0]))
    1.0
    """
    return _per_layer(rnn, lambda l: float(np.abs(np.linalg.eigvals(l.A.astype(np.float64))).max()))


def lipschitz_bound(rnn):
    """Lip(s) ||A||_2, a bound on the map's Lipschitz constant in z (one per layer for a
    StackedRNN); Lip(s) from :data:`LIPSCHITZ`. Below 1 the map is a contraction in z for
    every input, which is sufficient for the echo state property.

    >>> from elman import ElmanRNN
    >>> lipschitz_bound(ElmanRNN(A=[[0.0, 2.0], [-0.5, 0.0]], B=[[1.0], [0.0]], b=[0.0, 0.0]))
    2.0
    """
    def bound(l):
        norm = float(np.linalg.norm(l.A.astype(np.float64), 2))
        return 0.0 if norm == 0 else LIPSCHITZ[l.activation] * norm  # A = 0: constant in z, even for exp

    return _per_layer(rnn, bound)


@dataclass(frozen=True)
class EchoState:
    """What :func:`echo_state` found.

    sufficient: every Lipschitz bound < 1 (the map contracts: the echo state property holds).
    lipschitz:  the bound (a list per layer for a StackedRNN).
    empirical:  the initial states all came together under the same input: the largest
                pairwise distance fell to tol, or shrank geometrically (rate < 1) to 1% of
                its largest value. Two states that stay apart (two attractors) make it
                False.
    rate:       the contraction factor of that distance per step: exp of the slope of a
                least-squares line through log d_k over the steps where d_k is above
                rounding (1e3 eps max |z|); 0.0 when the distance vanished at once, NaN
                when the states overflowed.
    distance:   (T,) d_k = the largest ||z_k - z'_k|| over every pair of initial states,
                k = 1 .. T (the concatenated state for a stack).
    starts:     how many initial states were run (see :func:`echo_state`).
    """

    sufficient: bool
    lipschitz: object
    empirical: bool
    rate: float
    distance: np.ndarray
    starts: int = 2


def echo_state(rnn, U=None, *, n_steps: int = 500, seed=None, tol: float = 1e-8) -> EchoState:
    """The echo state property, by the sufficient condition and by experiment.

    U: one input sequence (T, D) or (1, T, D); by default T = ``n_steps`` steps of i.i.d.
    uniform [-1, 1] input drawn from ``seed``. The experiment runs 16 initial states
    under that same input: corners of [-1, 1]^M (every corner for M <= 3; else all +1,
    all -1 and random sign patterns, 8 in all) and 8 i.i.d. uniform on [-1, 1]^M (from
    ``seed``), and asks that every pair come together: the largest pairwise distance
    must shrink (see :class:`EchoState`). Starts spread over the state space keep two
    states that fell into the same attractor from passing for an echo state; it is
    still an experiment, evidence rather than proof (a basin that none of the starts
    reaches is not seen).

    >>> from elman import ElmanRNN
    >>> es = echo_state(ElmanRNN(A=[[0.5]], B=[[1.0]], b=[0.0]), seed=0)
    >>> es.sufficient, es.empirical, round(es.rate, 2)
    (True, True, 0.33)
    """
    dmap = DynMap(rnn, "echo_state")
    tol, rng = real(tol, "tol"), _rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(_count(n_steps, "n_steps"), dmap.D)) if U is None else dmap.sequence(U)
    lip = lipschitz_bound(rnn)
    Z0 = echo_starts(dmap.M, rng)
    d, scale = spread(dmap, X, Z0)
    rate = contraction_rate(d, 1e3 * np.finfo(float).eps * scale)
    shrank = rate < 1 and d[-1] <= 1e-2 * d.max()
    return EchoState(
        sufficient=bool(np.all(np.array(lip) < 1)), lipschitz=lip,
        empirical=bool(d[-1] <= tol or shrank), rate=rate, distance=d, starts=len(Z0),
    )


def jacobian(rnn, z, u) -> np.ndarray:
    """dz_{k+1}/dz_k = diag(s'(A z + B u + b)) A at the state z (M,) and input u (D,).

    For a StackedRNN, z is the concatenated state (sum M_j,) or a list with one (M_j,)
    state per layer, and the result is the block lower-triangular Jacobian of the
    concatenated state: block (j, j) is diag(s_j') A_j, block (j, i < j) is
    diag(s_j') B_j (block (j-1, i)): layer j reads layer j-1's new state.

    >>> from elman import ElmanRNN
    >>> jacobian(ElmanRNN(A=[[2.0]], B=[[1.0]], b=[0.0]), [0.0], [0.0])
    array([[2.]])
    """
    dmap = DynMap(rnn, "jacobian")
    zv, uv = dmap.state(z, "z"), dmap.inputs(u, "u")
    return dmap.step(zv[None], uv[None], jac=True)[1][0]


def fixed_points(rnn, u=None, *, n_starts: int = 64, seed=None, tol: float = 1e-10, max_iter: int = 200,
                 slow: bool = False, slow_tol: float = 1e-4, noise: float = 0.1) -> FixedPoints:
    """Fixed points z = s(A z + B u + b) for the constant input u (D,) (zeros by default).

    Starts, ``n_starts`` in all (drawn from ``seed``): the box is the span of the model's
    own trajectories (from z_0 = 0, driven for 50 steps by i.i.d. uniform [-1, 1]
    input), widened by half. First fixed probes: the origin, the mean state, one state
    per sign pattern of the pre-activation A z + B u + b (all that a relu network's
    Newton steps need), and a grid over the box with each coordinate at its low end,
    centre or high end (corners included): all 2 + 2^M + 3^M of them when that is at
    most 3/4 of n_starts (M <= 3 for the default 64), else half of n_starts drawn at
    random from them. The rest are trajectory states at random steps and uniform
    points in the box, plus Gaussian noise of standard deviation ``noise``. From each,
    Levenberg-Marquardt on q(z) = 1/2 ||z - s(A z + B u + b)||^2 with the exact
    Jacobian I - diag(s') A: Newton where it converges, damped Gauss-Newton descent of
    q where it does not (Sussillo & Barak 2013), at most ``max_iter`` steps. A point is
    fixed when every |z - s(A z + B u + b)| <= ``tol`` and its last Newton step was
    below 1e-9 (1 + |z|) (so a degenerate root, where I - diag(s') A is singular, is
    also located to ~1e-9); points within 1e-7 (1 + |z|) of each other (max norm) are
    one. With ``slow=True`` the searches that ended in a local minimum of q with
    0 < q < ``slow_tol`` are reported too, merged within 1e-3 (1 + |z|), labelled
    "slow". Labels by the eigenvalues of diag(s') A at the point: see
    :class:`FixedPoints` (|lambda| = 1 to sqrt(eps) of the model's dtype, 1.5e-8 for
    float64 and 3.5e-4 for float32, with none above 1 gives "marginal"). For a
    StackedRNN the points are concatenated states.

    The result is what the search found, not a proof that there are no others: a
    multi-start search can miss points, above all for large M (z = tanh(2 z)
    componentwise has 3^M) or far outside the box (relu); more starts find more.

    >>> import numpy as np
    >>> from elman import ElmanRNN
    >>> fp = fixed_points(ElmanRNN(A=2 * np.eye(2), B=np.ones((2, 1)), b=np.zeros(2)), seed=0)
    >>> fp, fp.z[fp.unstable]
    (FixedPoints(9 points, M=2: stable 4, saddle 4, unstable 1), array([[0., 0.]]))
    """
    dmap = DynMap(rnn, "fixed_points")
    if not isinstance(slow, (bool, np.bool_)):
        raise ParameterError(f"slow must be True or False, got {slow!r}")
    return search(
        dmap, dmap.inputs(u, "u"), n_starts=_count(n_starts, "n_starts"), rng=_rng(seed), tol=real(tol, "tol"),
        max_iter=_count(max_iter, "max_iter"), slow=bool(slow), slow_tol=real(slow_tol, "slow_tol"),
        noise=real(noise, "noise", strict=False), unit=unit_tol(rnn.dtype),
    )


def lyapunov_spectrum(rnn, U, *, k: int | None = None, warmup: int = 100, z0=None) -> np.ndarray:
    """The k largest Lyapunov exponents (default all M) along the trajectory driven by U,
    in natural log per step (divide by ln 2 for bits per step), sorted descending.

    U: one input sequence (T, D) or (1, T, D), T > warmup. z0: the initial state (zeros
    by default; a list per layer or the concatenation for a stack). Benettin's method:
    Q_{k+1} R_k = J_k Q_k (QR of the Jacobian products), lambda_i = mean of ln |R_ii|
    over the steps after the first ``warmup`` (which let both the state and Q settle).
    Q_0 is a fixed random orthonormal (M, k) matrix (the same every call).

    >>> import numpy as np
    >>> from elman import ElmanRNN
    >>> rnn = ElmanRNN(A=[[0.5, 0.0], [0.0, -0.25]], B=[[1.0], [1.0]], b=[0.0, 0.0], activation="linear")
    >>> np.round(lyapunov_spectrum(rnn, np.zeros((200, 1))), 6)
    array([-0.693147, -1.386294])
    """
    dmap = DynMap(rnn, "lyapunov_spectrum")
    X = dmap.sequence(U, "U")
    M = dmap.M
    k = M if k is None else _count(k, "k")
    if k > M:
        raise ParameterError(f"k = {k} exponents asked for, but the state has only M = {M} dimensions")
    warmup = _count(warmup, "warmup", low=0)
    if len(X) <= warmup:
        raise ParameterError(f"U has T = {len(X)} steps but warmup = {warmup}; expected T > warmup")
    z = np.zeros(M) if z0 is None else dmap.state(z0, "z0")
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((M, k)))[0]
    acc = np.zeros(k)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for t in range(len(X)):
            zn, J = dmap.step(z[None], X[t][None], jac=True)
            Q, R = np.linalg.qr(J[0] @ Q)
            if t >= warmup:
                acc += np.log(np.abs(np.diag(R)))
            z = zn[0]
            if not np.isfinite(z).all():
                raise NonFiniteError(f"the state overflows at step {t} of U; the exponents need a finite trajectory")
    return np.sort(acc / (len(X) - warmup))[::-1]


def controllability_rank(rnn, *, tol: float | None = None):
    """The rank of the Krylov (controllability) matrix K = [B, AB, ..., A^{M-1} B]
    (a list with one per layer for a StackedRNN).

    Computed as the dimension of the Krylov space by block Arnoldi with
    reorthogonalisation (never forming K, whose columns line up with A's dominant
    eigenvector): a new direction counts when it is larger than ``tol * ||A||_2`` (the
    first block: ``tol * ||B||_2``). ``tol`` is relative; by default sqrt(eps) of the
    model's dtype (1.5e-8 for float64, 3.5e-4 for float32): rounding errors in the
    basis grow through the recursion, so a pair of rank r stored in float64 shows
    remainders up to ~1e-7 (non-normal A, r ~ 30) where exact arithmetic has 0.

    >>> import numpy as np
    >>> from elman import ElmanRNN
    >>> A = np.diag([0.5, 0.2, 0.1])
    >>> controllability_rank(ElmanRNN(A, B=[[1.0], [1.0], [0.0]], b=np.zeros(3)))  # e_3 unreachable
    2
    """
    rt = None if tol is None else real(tol, "tol", upper=1.0)

    def rank(l):
        A, B = l.A.astype(np.float64), l.B.astype(np.float64)
        return krylov_rank(A, B, default_rtol(l.dtype) if rt is None else rt)

    return _per_layer(rnn, rank)


def memory_capacity(rnn, k_max: int, *, n: int = 5000, washout: int = 100, seed=None, ridge: float = 1e-9,
                    input_scale: float = 1.0) -> MemoryCapacity:
    """Jaeger's linear memory capacity MC = sum_{j=1}^{k_max} r_j^2, with the per-lag curve.

    The network (D = 1) is driven from z_0 = 0 by i.i.d. uniform input u_k on
    [-input_scale, input_scale] (from ``seed``) for washout + k_max + n steps; the
    first washout + k_max states are dropped, n remain.

    Lags: z_{k+1} is the state after reading u_k, and lag j recalls u_{k-j} from
    z_{k+1}. The total counts the lags 1 .. k_max, as ReservoirPy's ``memory_capacity``
    (its state after reading u(t) regressed on u(t-k), k = 1 .. k_max); lag 0, the
    input just read, is reported apart (``lag0``). For a linear network with i.i.d.
    input, lag0 + total tends to the Krylov rank of (A, B) as k_max grows (Gonon,
    Grigoryeva & Ortega 2020), which is returned alongside.

    Recall: for each lag a ridge readout with bias, W = (Xc^T Xc + ridge I)^{-1} Xc^T yc
    on the centred training states and targets (``ridge`` as in ReservoirPy's Ridge:
    absolute; the default is least squares but for near-degenerate states, whose small
    directions hold the memory of a linear network: Ballarin, Grigoryeva & Ortega
    2023), scored out of sample by 5-fold cross-validation over contiguous blocks: each
    block is predicted by the readout fitted on the other four, and r_j is the
    correlation of the predictions with u_{k-j}, both centred within each block, over
    all n samples (ReservoirPy scores one held-out fifth; using every sample once cuts
    the noise by sqrt 5).

    Noise floor: a lag the states know nothing of still shows r_j ~ N(0, 2 / n) (the
    folds' readouts share training data); summed over many empty lags, r_j^2 would make
    the total grow with k_max. So MC_j = r_j^2 where r_j > 3 sqrt(2 / n) (three
    standard deviations of chance), else 0 (``mc.noise_floor`` = 18 / n, 0.0036 for
    n = 5000): weaker lags are lost (z' = 0.5 z + u, n = 5000: lags 4 on, 0.004 of the
    0.25), chance adds < 0.01 for any k_max <= n / 4. Above the floor the standard
    error per lag is about 2 r (1 - r^2) / sqrt(n). A StackedRNN's readout sees the
    concatenated state. Limits: k_max <= n // 4 and n (k_max + 1) <= 2^24 (134 MB of
    targets), else a ParameterError. Returns :class:`MemoryCapacity`.

    >>> from elman import ElmanRNN
    >>> rnn = ElmanRNN(A=[[0.5]], B=[[1.0]], b=[0.0], activation="linear")
    >>> mc = memory_capacity(rnn, 5, n=20000, seed=1)
    >>> round(mc.total, 2), round(mc.lag0, 2), mc.krylov_rank   # exact: 0.25 (0.5^2), 0.75 and 1
    (0.26, 0.75, 1)
    """
    dmap = DynMap(rnn, "memory_capacity")
    if dmap.D != 1:
        raise ShapeError(
            f"memory_capacity needs a network with one input (D = 1), the scalar it recalls; rnn has D = {dmap.D}"
        )
    k_max, n = _count(k_max, "k_max"), _count(n, "n")
    washout = _count(washout, "washout", low=0)
    if n < 5 * (dmap.M + 2):
        raise ParameterError(
            f"n = {n} samples are too few for a readout of M + 1 = {dmap.M + 1} weights; "
            f"expected n >= 5 (M + 2) = {5 * (dmap.M + 2)}"
        )
    check_lags(k_max, n)
    ridge, scale = real(ridge, "ridge", strict=False), real(input_scale, "input_scale")
    lag0, per = recall(dmap, k_max, n, washout, _rng(seed), ridge, scale)
    rank = krylov_rank(dmap.state_matrix(), dmap.input_matrix(), default_rtol(rnn.dtype))
    return MemoryCapacity(total=float(per.sum()), per_lag=per, krylov_rank=rank, k_max=k_max, lag0=lag0,
                          noise_floor=noise_floor(n))



def summary(rnn, U=None, *, k_max: int | None = None, seed=0) -> dict:
    """Everything above in one JSON-able dict (``json.dumps(..., allow_nan=False)``
    works: infinite or undefined numbers are None): what ``elman analyze`` reports.

    U: one input sequence (T, D) or (1, T, D) for the echo state check and the Lyapunov
    spectrum (warmup min(100, T // 4)); by default 1100 steps of i.i.d. uniform [-1, 1]
    input from ``seed``. k_max: the memory capacity's largest lag, by default 2 M
    clipped to [10, 200], measured over n = max(5000, 5 (M + 2)) samples (so k_max <=
    n // 4, checked before any work); the memory capacity is None for a network with
    D > 1 (a note says so). Fixed points: u = 0, 64 starts (what they found: a
    multi-start search can miss points), slow points included.

    Keys: model, spectral_radius, lipschitz_bound, echo_state, fixed_points, lyapunov,
    controllability_rank, memory_capacity, notes.

    >>> from elman import ElmanRNN
    >>> s = summary(ElmanRNN(A=[[0.5]], B=[[1.0]], b=[0.0]), k_max=5)
    >>> s["echo_state"]["sufficient"], s["fixed_points"]["counts"], s["lyapunov"]["units"]
    (True, {'stable': 1}, 'natural log per step')
    """
    from ._summary import report  # it calls the functions above

    return report(rnn, U, k_max=k_max, seed=seed)
