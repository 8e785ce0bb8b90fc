"""elman.analysis against answers known in closed form, not against its own numbers.

- the Jacobian against central differences of the model's own step, every activation;
- Lyapunov exponents of a linear network against log |eigenvalues of A|;
- memory capacity against the exact recall r_j^2 = c_j^T P^{-1} c_j of a linear
  network, against the Krylov rank, and against ReservoirPy on the same matrices;
- fixed points of z = tanh(2 z) (roots by bisection), of A = 2 I in 2-D, of a
  contraction, and a slow point at the ghost of a saddle-node;
- the Krylov rank of constructed pairs whose rank is known.

Lag convention everywhere: z_{k+1} = s(A z_k + B u_k + b) has read u_k; lag j recalls
u_{k-j} from z_{k+1} (lag 0: the input just read). For z_{k+1} = A z_k + B u_k with
i.i.d. unit-variance input, z_{k+1} = sum_t A^t B u_{k-t}, so Cov(z) = P =
sum_t A^t B B^T (A^t)^T and Cov(z_{k+1}, u_{k-j}) = c_j = A^j B; the best linear recall
of u_{k-j} has r_j^2 = c_j^T P^{-1} c_j (the input's variance cancels), and
sum_{j >= 0} r_j^2 = tr(P^{-1} P) = rank.
"""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest

from elman import ElmanRNN, StackedRNN, activations
from elman.analysis import (
    LIPSCHITZ, controllability_rank, echo_state, fixed_points, jacobian, lipschitz_bound, lyapunov_spectrum,
    memory_capacity, spectral_radius, summary,
)
from elman.errors import InputTypeError, NonFiniteError, ParameterError, ShapeError


def scaled(rng, M, radius):
    """A random non-normal (Gaussian) M x M matrix scaled to that spectral radius."""
    A = rng.standard_normal((M, M))
    return A * radius / np.abs(np.linalg.eigvals(A)).max()


def linear(A, B):
    return ElmanRNN(A, B, np.zeros(len(A)), activation="linear")


def root_of_tanh2():
    """z* > 0 with z* = tanh(2 z*), by bisection on [0.5, 1] (independent of elman)."""
    lo, hi = 0.5, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid - math.tanh(2 * mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------- Jacobian


@pytest.mark.parametrize("name", activations.names())
def test_jacobian_equals_central_differences(name):
    rng = np.random.default_rng(activations.names().index(name))
    M, D = 5, 3  # D != M: a transposed B cannot pass
    A, B, b = 0.6 * rng.standard_normal((M, M)), 0.6 * rng.standard_normal((M, D)), 0.3 * rng.standard_normal(M)
    rnn = ElmanRNN(A, B, b, activation=name)
    z, u = rng.uniform(-1, 1, M), rng.uniform(-1, 1, D)
    h = A @ z + B @ u + b
    assert np.abs(h[:, None] - np.array([0.0, 6.0, -3.0, 3.0])).min() > 1e-3  # no kink within the differences
    J = jacobian(rnn, z, u)
    eps, fd = 1e-6, np.empty((M, M))
    for i in range(M):
        e = np.zeros(M)
        e[i] = eps
        fd[:, i] = (rnn.step(z + e, u) - rnn.step(z - e, u)) / (2 * eps)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-7 * np.abs(fd).max(), err_msg=name)


def test_stacked_jacobian_is_the_block_triangular_one_of_the_concatenated_state():
    rng = np.random.default_rng(7)
    l1 = ElmanRNN(rng.standard_normal((3, 3)) * 0.7, rng.standard_normal((3, 2)), rng.standard_normal(3))
    l2 = ElmanRNN(rng.standard_normal((4, 4)) * 0.7, rng.standard_normal((4, 3)), rng.standard_normal(4),
                  activation="softplus")
    stack = StackedRNN([l1, l2])
    z1, z2, u = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 2)

    def step(z):  # one step of the model itself, from a concatenated state
        st = stack.run(u[None, None], z0=[z[:3], z[3:]]).states
        return np.concatenate([st[0][0, 1], st[1][0, 1]])

    z = np.concatenate([z1, z2])
    J = jacobian(stack, [z1, z2], u)
    fd = np.stack([(step(z + e) - step(z - e)) / 2e-6 for e in 1e-6 * np.eye(7)], axis=1)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(J, jacobian(stack, z, u))
    assert np.all(J[:3, 3:] == 0)  # layer 1 does not see layer 2


# --------------------------------------------------------------------------- Lyapunov


def test_lyapunov_spectrum_of_a_linear_network_is_log_abs_eigenvalues():
    rng = np.random.default_rng(0)
    A = scaled(rng, 5, 0.9)  # complex pairs, non-normal
    rnn = linear(A, rng.standard_normal((5, 2)))
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(A))))[::-1]
    lam = lyapunov_spectrum(rnn, rng.uniform(-1, 1, (5000, 2)), warmup=100)
    assert np.abs(lam - expected).max() < 1e-3, (lam, expected)  # natural log per step
    top2 = lyapunov_spectrum(rnn, rng.uniform(-1, 1, (1, 5000, 2)), k=2)
    assert np.abs(top2 - expected[:2]).max() < 1e-3


def test_lyapunov_spectrum_of_a_contracting_tanh_network_is_below_log_norm():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    A *= 0.8 / np.linalg.norm(A, 2)
    lam = lyapunov_spectrum(ElmanRNN(A, rng.standard_normal((6, 1)), np.zeros(6)), rng.uniform(-1, 1, (2000, 1)))
    assert np.all(np.diff(lam) <= 0) and lam[0] < math.log(0.8)


# --------------------------------------------------------------------------- memory


def exact_recall(A, B, k_max):
    """r_j^2 = c_j^T P^{-1} c_j, j = 0 .. k_max, for diagonal A = diag(a): P_il =
    B_i B_l / (1 - a_i a_l) (the geometric series summed), c_j = a^j * B."""
    a, B = np.diag(A), B[:, 0]
    P = np.outer(B, B) / (1 - np.outer(a, a))
    C = a[:, None] ** np.arange(k_max + 1) * B[:, None]
    return np.einsum("ij,ij->j", C, np.linalg.solve(P, C))


def test_memory_capacity_of_a_diagonal_linear_network_is_the_closed_form():
    A = np.diag([-0.8, -0.5, 0.1, 0.4, 0.7, 0.85])
    B = np.random.default_rng(2).uniform(0.5, 1.5, (6, 1))
    r2 = exact_recall(A, B, 2000)
    assert abs(r2.sum() - 6) < 1e-6  # the formula's own check: sum over all lags = rank
    k_max = 60
    mc = memory_capacity(linear(A, B), k_max, n=20000, seed=0)
    exact = r2[1:k_max + 1].sum()
    assert abs(mc.total - exact) <= 0.03 * exact, (mc.total, exact)
    assert np.abs(mc.per_lag - r2[1:k_max + 1]).max() < 0.03
    assert abs(mc.lag0 - r2[0]) < 0.01 and mc.krylov_rank == 6 and mc.k_max == k_max


@pytest.mark.parametrize("M", [3, 6, 10])
def test_memory_capacity_of_random_linear_networks_is_the_krylov_rank(M):
    rng = np.random.default_rng(M)
    A, B = scaled(rng, M, 0.9), rng.standard_normal((M, 1))
    mc = memory_capacity(linear(A, B), 8 * M, n=20000, seed=1)
    assert mc.krylov_rank == M
    # Counted from lag 0 (Gonon, Grigoryeva & Ortega); lags 1 .. k_max alone miss r_0^2.
    assert abs(mc.total_from_lag0 - M) < 0.3, (mc.total, mc.lag0)


def test_memory_capacity_of_a_rank_deficient_linear_network_is_its_rank():
    rng = np.random.default_rng(5)
    A, B = block_pair(rng, M=6, r=3, D=1)
    mc = memory_capacity(linear(A, B), 40, n=20000, seed=2)
    assert mc.krylov_rank == 3
    assert abs(mc.total_from_lag0 - 3) < 0.3


def test_memory_capacity_of_a_linear_stack_is_the_rank_of_the_concatenated_system():
    # z1' = A1 z1 + B1 u, z2' = A2 z2 + B2 z1' : one linear system on [z1; z2] with
    # A = [[A1, 0], [B2 A1, A2]], B = [B1; B2 B1]; the readout sees both states.
    rng = np.random.default_rng(9)
    l1 = ElmanRNN(scaled(rng, 3, 0.8), rng.standard_normal((3, 1)), np.zeros(3), activation="linear")
    l2 = ElmanRNN(scaled(rng, 2, 0.7), rng.standard_normal((2, 3)), np.zeros(2), activation="linear")
    mc = memory_capacity(StackedRNN([l1, l2]), 40, n=20000, seed=0)
    assert mc.krylov_rank == 5 and abs(mc.total_from_lag0 - 5) < 0.3


def test_memory_capacity_does_not_grow_with_k_max():
    # z' = 0.5 z + u: r_j^2 = 0.75 * 0.25^j, whose sum over j >= 1 is exactly 0.25. Chance
    # correlations of the lags the state knows nothing of (~2 / n each) used to add up:
    # k_max = 1000 gave ~0.9 (n = 5000). Below the noise floor a lag counts 0.
    lin = linear(np.array([[0.5]]), np.array([[1.0]]))
    totals = np.array([[memory_capacity(lin, k, n=5000, seed=s).total for k in (10, 200, 1000)] for s in range(5)])
    assert np.all(np.abs(totals - 0.25) < 0.05), totals  # one run's noise: sd ~0.017
    assert np.all(np.abs(totals.mean(0) - 0.25) < 0.015), totals.mean(0)
    assert np.all(np.ptp(totals, axis=1) < 0.03), totals  # the same seed: k_max changes next to nothing
    mc = memory_capacity(lin, 200, n=5000, seed=0)
    assert mc.noise_floor == pytest.approx(18 / 5000) and np.all(mc.per_lag[8:] == 0)
    rnn = ElmanRNN.init(1, 6, 1, seed=0)  # tanh, orthogonal A: never more than M = 6
    few, many = memory_capacity(rnn, 50, seed=0), memory_capacity(rnn, 1250, seed=0)
    assert many.total <= 6 and many.total_from_lag0 <= 6 and abs(many.total - few.total) < 0.03


# --------------------------------------------------------------------------- Krylov rank


def orthogonal(rng, M):
    return np.linalg.qr(rng.standard_normal((M, M)))[0]


def block_pair(rng, M, r, D, normal=False):
    """(A, B) with Krylov rank r: A = Q blockdiag(A1, A2) Q^T, B = Q [B1; 0], Q a random
    orthogonal change of basis; A1, A2 Gaussian with spectral radius 0.8, or 0.8 times
    orthogonal (normal) matrices."""
    A0 = np.zeros((M, M))
    block = (lambda m: 0.8 * orthogonal(rng, m)) if normal else (lambda m: scaled(rng, m, 0.8))
    A0[:r, :r], A0[r:, r:] = block(r), block(M - r)
    B0 = np.zeros((M, D))
    B0[:r] = rng.standard_normal((r, D))
    Q = orthogonal(rng, M)
    return Q @ A0 @ Q.T, Q @ B0


def test_controllability_rank_of_known_pairs():
    rng = np.random.default_rng(11)
    for M, D in ((8, 1), (7, 2)):
        A, B = rng.standard_normal((M, M)), rng.standard_normal((M, D))
        assert controllability_rank(ElmanRNN(A, B, np.zeros(M))) == M
    # B an eigenvector of A: A = Q T Q^T (real Schur form, T upper triangular), B = Q e_1.
    Q = orthogonal(rng, 6)
    A = Q @ np.triu(rng.standard_normal((6, 6))) @ Q.T
    assert controllability_rank(ElmanRNN(A, Q[:, :1], np.zeros(6))) == 1
    for M, r, D, normal in ((7, 3, 1, False), (8, 5, 2, False), (5, 1, 1, False), (40, 17, 1, True),
                            (60, 30, 1, True)):
        A, B = block_pair(rng, M, r, D, normal)
        assert controllability_rank(ElmanRNN(A, B, np.zeros(M))) == r, (M, r)
        if normal:  # every reachable direction is reached strongly (remainders > 1e-2): float32 keeps them
            # In float32 the pair has rank r only to float32's precision: the default tol follows the dtype.
            rnn32 = ElmanRNN(A.astype(np.float32), B.astype(np.float32), np.zeros(M, np.float32))
            assert controllability_rank(rnn32) == r and controllability_rank(rnn32, tol=1e-14) > r
    assert controllability_rank(ElmanRNN(np.eye(3), np.zeros((3, 1)), np.zeros(3))) == 0


def test_controllability_rank_where_an_svd_of_the_krylov_matrix_undercounts():
    rng = np.random.default_rng(3)
    A, B = scaled(rng, 60, 0.9), rng.standard_normal((60, 1))
    K = np.hstack([np.linalg.matrix_power(A, k) @ B for k in range(60)])
    assert np.linalg.matrix_rank(K) < 60  # its columns line up with the top eigenvector
    assert controllability_rank(ElmanRNN(A, B, np.zeros(60))) == 60


# --------------------------------------------------------------------------- fixed points


def test_fixed_points_of_tanh_2z():
    zs = root_of_tanh2()
    fp = fixed_points(ElmanRNN([[2.0]], [[0.7]], [0.0]), seed=0)
    assert len(fp) == 3 and fp.labels == ("stable", "stable", "unstable")
    np.testing.assert_allclose(fp.z[:, 0], [-zs, zs, 0.0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(fp.eigenvalues[:, 0].real, [2 * (1 - zs**2)] * 2 + [2.0], rtol=1e-9)
    assert list(fp.stable) == [0, 1] and list(fp.unstable) == [2] and fp.z.shape == (3, 1)
    assert fp.jacobians.shape == (3, 1, 1) and fp.q.max() < 1e-20 and fp.n_iters.shape == (3,)


def test_fixed_points_of_2I_in_two_dimensions():
    zs = root_of_tanh2()
    B = np.random.default_rng(0).standard_normal((2, 3))
    fp = fixed_points(ElmanRNN(2 * np.eye(2), B, [0.0, 0.0]), seed=1)
    assert len(fp) == 9
    want = {}
    for x in (-zs, 0.0, zs):
        for y in (-zs, 0.0, zs):
            zeros = (x == 0) + (y == 0)
            want[(round(x, 9), round(y, 9))] = ("stable", "saddle", "unstable")[zeros]
    got = {(round(x, 9) + 0.0, round(y, 9) + 0.0): l for (x, y), l in zip(fp.z, fp.labels)}
    assert got == want


def test_a_contraction_has_exactly_one_fixed_point_and_it_is_stable():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 5))
    A *= 0.9 / np.linalg.norm(A, 2)
    rnn = ElmanRNN(A, rng.standard_normal((5, 3)), rng.standard_normal(5))
    u = rng.standard_normal(3)
    fp = fixed_points(rnn, u, seed=0)
    assert len(fp) == 1 and fp.labels == ("stable",)
    z = np.zeros(5)
    for _ in range(500):  # Banach: iterating the map converges to it
        z = rnn.step(z, u)
    np.testing.assert_allclose(fp.z[0], z, atol=1e-12)


def test_a_slow_point_at_the_ghost_of_a_saddle_node():
    # z = tanh(2 z + b) loses its two negative fixed points at b = atanh(1/sqrt 2) - sqrt 2 ~ 0.533;
    # at b = 0.55 q has a local minimum where the slope 2 (1 - tanh^2) is 1: 2 z + b = -atanh(1/sqrt 2).
    b = 0.55
    z_slow = (-math.atanh(1 / math.sqrt(2)) - b) / 2
    q_slow = 0.5 * (z_slow + 1 / math.sqrt(2)) ** 2
    rnn = ElmanRNN([[2.0]], [[1.0]], [b])
    assert fixed_points(rnn, seed=0).labels == ("stable",)
    fp = fixed_points(rnn, seed=0, slow=True)
    assert fp.labels == ("stable", "slow") and list(fp.slow) == [1]
    assert abs(fp.z[1, 0] - z_slow) < 1e-6 and abs(fp.q[1] - q_slow) < 1e-6 * q_slow and fp.q[1] > 0


def test_fixed_points_of_a_stack_and_a_marginal_point():
    layer1 = ElmanRNN([[2.0]], [[1.0]], [0.0])
    layer2 = ElmanRNN([[0.5]], [[1.0]], [0.0])
    fp = fixed_points(StackedRNN([layer1, layer2]), seed=0)
    assert fp.labels == ("stable", "stable", "saddle")  # layer 1's origin: eigenvalues 2 and 0.5
    for z in fp.z:
        np.testing.assert_allclose(jacobian(StackedRNN([layer1, layer2]), z, [0.0]).shape, (2, 2))
        np.testing.assert_allclose([math.tanh(2 * z[0]), math.tanh(0.5 * z[1] + z[0])], z, atol=1e-12)
    pitchfork = fixed_points(ElmanRNN([[1.0]], [[1.0]], [0.0]), seed=0)  # z = tanh(z): slope 1 at 0
    assert pitchfork.labels == ("marginal",) and abs(pitchfork.z[0, 0]) < 1e-6


def test_float32_labels_follow_float32_precision():
    # Keras' orthogonal A stored in float32 has |eigenvalues| 1 +- 3e-8: on the unit circle
    # to float32's precision, so the origin (b = 0) is "marginal", as in float64, not a
    # saddle or unstable by rounding.
    for s in range(20):
        rnn = ElmanRNN.init(1, 6, 1, seed=s)
        for model in (rnn, rnn.astype(np.float32)):
            fp = fixed_points(model, seed=0)
            i = int(np.argmin(np.abs(fp.z).max(1)))
            assert np.abs(fp.z[i]).max() < 1e-9 and fp.labels[i] == "marginal", (s, model.dtype, fp)
    assert fp.unit_tol == pytest.approx(np.sqrt(np.finfo(np.float32).eps))
    # The tolerance is the stored precision's: 1 + 1e-6 is outside the circle in float64 only.
    w = ElmanRNN([[1.0 + 1e-6]], [[1.0]], [0.0])
    assert fixed_points(w, seed=0).labels[-1] == "unstable"
    assert set(fixed_points(w.astype(np.float32), seed=0).labels) == {"marginal"}


def test_default_starts_find_the_points_random_starts_missed():
    # z = tanh(1.001 z): the unstable origin sits between two stable points at +-0.0547;
    # noisy random starts used to miss it on 9 of 40 seeds. The origin is now always a start.
    for s in range(40):
        fp = fixed_points(ElmanRNN([[1.001]], [[1.0]], [0.0]), seed=s)
        assert fp.labels == ("stable", "stable", "unstable") and abs(fp.z[2, 0]) < 1e-12, (s, fp)
    # A = 2 I in 3-D: all 27 points (18 to 22 before), with their labels, from the default 64 starts.
    zs = root_of_tanh2()
    B = np.random.default_rng(0).standard_normal((3, 2))
    for s in range(20):
        fp = fixed_points(ElmanRNN(2 * np.eye(3), B, np.zeros(3)), seed=s)
        assert len(fp) == 27, (s, fp)
        zero = np.abs(fp.z) < 1e-9
        assert np.all(zero | (np.abs(np.abs(fp.z) - zs) < 1e-9))
        assert fp.labels == tuple(("stable", "saddle", "saddle", "unstable")[k] for k in zero.sum(1))
    assert fp.n_starts == 64


def relu_fixed_points(A, b):
    """Every fixed point of z = relu(A z + b), by its activation pattern S: z solves
    (I - D_S A) z = D_S b, and A z + b is > 0 on S and <= 0 off it."""
    M, out = len(A), []
    for S in itertools.product([0.0, 1.0], repeat=M):
        D = np.diag(S)
        z = np.linalg.solve(np.eye(M) - D @ A, D @ b)
        h = A @ z + b
        if np.all(np.where(np.array(S) > 0, h > 0, h <= 0)):
            out.append(z)
    return np.array(out)


def test_relu_fixed_points_outside_the_trajectories_are_found():
    # Three of these 40 networks have fixed points far outside the box their trajectories
    # span (up to 14.5): a start in each sign pattern of A z + b reaches them.
    for s in range(40):
        rng = np.random.default_rng(s)
        A, b = 1.2 * rng.standard_normal((3, 3)), rng.standard_normal(3)
        truth = relu_fixed_points(A, b)
        fp = fixed_points(ElmanRNN(A, np.ones((3, 1)), b, activation="relu"), seed=0)
        assert len(fp) == len(truth), (s, fp, truth)
        assert all(np.abs(fp.z - t).max(1).min() < 1e-9 for t in truth), s


# --------------------------------------------------------------------------- echo states


def test_echo_state_of_a_contraction_and_of_a_non_normal_network():
    rng = np.random.default_rng(6)
    Q = orthogonal(rng, 6)
    es = echo_state(ElmanRNN(0.5 * Q, rng.standard_normal((6, 2)), np.zeros(6)), seed=0)
    assert es.sufficient and es.empirical and es.lipschitz == pytest.approx(0.5) and es.rate < 0.6
    assert es.distance.shape == (500,)
    A = np.diag([0.5] * 4) + np.diag([3.0] * 3, 1)  # spectral radius 0.5, norm > 3
    rnn = ElmanRNN(A, rng.standard_normal((4, 1)), np.zeros(4))
    assert spectral_radius(rnn) == pytest.approx(0.5) and lipschitz_bound(rnn) > 3
    es = echo_state(rnn, seed=0)
    assert not es.sufficient and es.empirical and es.rate < 1


def test_echo_state_fails_for_3I():
    rnn = ElmanRNN(3 * np.eye(3), 0.1 * np.random.default_rng(0).standard_normal((3, 1)), np.zeros(3))
    es = echo_state(rnn, seed=0)  # the two initial states start in different orthants
    assert not es.sufficient and not es.empirical and es.distance[-1] > 1 and es.rate > 0.99


def test_echo_state_is_not_fooled_by_two_states_in_one_attractor():
    # A = 3 I: 2^M stable points (each coordinate near +-1), the input too weak to move a
    # state between them. Two random initial states in the same orthant used to pass for
    # an echo state (4 of 40 seeds in 3-D); the corners of [-1, 1]^M are always started.
    for M in (1, 2, 3):
        rnn = ElmanRNN(3 * np.eye(M), 0.1 * np.ones((M, 1)), np.zeros(M))
        for s in range(40):
            es = echo_state(rnn, seed=s)
            assert not es.empirical and es.distance[-1] > 1, (M, s)
    assert es.starts == 16 and es.distance.shape == (500,)
    rng = np.random.default_rng(0)
    for s in range(10):  # spectral radius 0.5, tanh: contracts whatever the starts
        A = rng.standard_normal((8, 8))
        A *= 0.5 / np.abs(np.linalg.eigvals(A)).max()
        es = echo_state(ElmanRNN(A, rng.standard_normal((8, 3)), rng.standard_normal(8)), seed=s)
        assert es.empirical and es.rate < 0.9, (s, es.rate)


# --------------------------------------------------------------------------- matrices


def test_lipschitz_table_is_the_sup_of_each_derivative():
    assert set(LIPSCHITZ) == set(activations.names())
    x = np.linspace(-30, 30, 600001)
    for name in activations.names():
        top = np.abs(activations.get(name).df(x)).max()
        if name == "exponential":
            assert LIPSCHITZ[name] == math.inf
            continue
        assert top <= LIPSCHITZ[name] * (1 + 1e-12) and top >= LIPSCHITZ[name] * (1 - 1e-8), name
    assert LIPSCHITZ["silu"] == pytest.approx(1.0998, abs=1e-4) and LIPSCHITZ["gelu"] == pytest.approx(1.1289, abs=1e-4)


def test_per_layer_values_of_a_stack():
    rng = np.random.default_rng(8)
    l1 = ElmanRNN(scaled(rng, 3, 0.7), rng.standard_normal((3, 1)), np.zeros(3), activation="sigmoid")
    l2 = ElmanRNN(scaled(rng, 4, 1.2), rng.standard_normal((4, 3)), np.zeros(4))
    stack = StackedRNN([l1, l2])
    assert spectral_radius(stack) == pytest.approx([0.7, 1.2])
    assert lipschitz_bound(stack) == pytest.approx([0.25 * np.linalg.norm(l1.A, 2), np.linalg.norm(l2.A, 2)])
    assert controllability_rank(stack) == [3, 4]
    es = echo_state(stack, seed=0)
    assert isinstance(es.lipschitz, list) and es.distance.shape == (500,)


# --------------------------------------------------------------------------- ReservoirPy


def reservoirpy_matrices(units, sr, seed):
    """W, Win, bias of a ReservoirPy reservoir made by its own initialisers, dense."""
    from reservoirpy.nodes import Reservoir

    res = Reservoir(units, sr=sr, seed=seed)
    res.initialize(np.zeros((1, 1)))
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m, dtype=float)  # noqa: E731
    bias = 0.1 * np.random.default_rng(seed).uniform(-1, 1, units)  # nonzero: b goes through too
    return dense(res.W), dense(res.Win), bias


@pytest.mark.parametrize("units, k_max", [(50, 100), (100, 50)])
def test_memory_capacity_agrees_with_reservoirpy(units, k_max):
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import Reservoir, Ridge
    from reservoirpy.observables import memory_capacity as rpy_memory_capacity

    W, Win, bias = reservoirpy_matrices(units, 0.9, seed=units)
    rnn = ElmanRNN(W, Win, bias)  # A = W, B = Win, b = bias, tanh: x[t+1] = tanh(W x[t] + Win u[t+1] + bias)
    series = np.random.default_rng(0).uniform(-0.8, 0.8, (20000, 1))  # ReservoirPy's default distribution
    def reservoir():
        return Reservoir(W=W, Win=Win, bias=bias, lr=1.0, input_scaling=1.0)

    np.testing.assert_allclose(reservoir().run(series[:50]), rnn.run(series[None, :50]).states[0, 1:], atol=1e-12)
    theirs = float(rpy_memory_capacity(reservoir() >> Ridge(ridge=1e-9), k_max, series=series))
    ours = memory_capacity(rnn, k_max, n=20000, seed=1, input_scale=0.8).total
    assert abs(ours - theirs) <= 0.05 * theirs, (ours, theirs)


def test_reservoirpy_docstring_example():
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import Reservoir, Ridge
    from reservoirpy.observables import memory_capacity as rpy_memory_capacity

    model = Reservoir(100, sr=1, seed=1) >> Ridge(ridge=1e-4)
    assert float(np.sum(rpy_memory_capacity(model, k_max=50, as_list=True, seed=1))) == pytest.approx(18.78, abs=5e-3)
    # The same matrices (same seed): ReservoirPy's 500-step default series leaves 310 training
    # samples for 100 units; with a long series both give the same, larger value.
    W, Win, _ = reservoirpy_matrices(100, 1.0, seed=1)
    ours = memory_capacity(ElmanRNN(W, Win, np.zeros(100)), 50, n=20000, seed=1, input_scale=0.8).total
    series = np.random.default_rng(0).uniform(-0.8, 0.8, (20000, 1))
    long = float(rpy_memory_capacity(Reservoir(W=W, Win=Win, bias=0.0) >> Ridge(ridge=1e-4), 50, series=series))
    assert abs(ours - long) <= 0.05 * long and ours > 18.78, (ours, long)


# --------------------------------------------------------------------------- summary


def test_summary_is_strict_json_and_fast():
    rnn = ElmanRNN.init(1, 50, 1, seed=0)
    t = time.perf_counter()
    s = summary(rnn)
    elapsed = time.perf_counter() - t
    json.dumps(s, allow_nan=False)
    assert elapsed < 5, elapsed
    assert s["spectral_radius"] == pytest.approx(1.0) and s["controllability_rank"] == 50
    assert s["lyapunov"]["units"] == "natural log per step" and len(s["lyapunov"]["exponents"]) == 50
    assert s["memory_capacity"]["krylov_rank"] == 50 and len(s["memory_capacity"]["per_lag"]) == 100
    assert s["fixed_points"]["count"] == len(s["fixed_points"]["points"])


@pytest.mark.parametrize("name", activations.names())
def test_summary_of_every_activation_is_strict_json(name):
    """No warning (they are errors here) and no exception, also where states overflow."""
    rng = np.random.default_rng(activations.names().index(name))
    rnn = ElmanRNN(1.5 * rng.standard_normal((6, 6)) / np.sqrt(6), rng.standard_normal((6, 1)),
                   rng.standard_normal(6), activation=name)
    s = summary(rnn, k_max=12)
    json.dumps(s, allow_nan=False)
    assert s["fixed_points"]["count"] == len(s["fixed_points"]["points"])


def test_summary_of_a_multi_input_model_and_of_a_backwards_stack():
    s = summary(ElmanRNN.init(3, 4, 2, activation="exponential", seed=0), k_max=5)
    assert s["memory_capacity"] is None and any("D = 3" in n for n in s["notes"])
    assert s["lipschitz_bound"] is None  # infinite: exponential
    json.dumps(s, allow_nan=False)
    l1, l2 = ElmanRNN.init(1, 3, seed=0), ElmanRNN.init(3, 2, seed=1).replace(go_backwards=True)
    s = summary(StackedRNN([l1, l2]))
    assert s["fixed_points"] is None and s["controllability_rank"] == [3, 2] and "go_backwards" in s["notes"][0]


# --------------------------------------------------------------------------- bad input


def model():
    return ElmanRNN.init(1, 3, seed=0)


@pytest.mark.parametrize("call", [
    lambda m: spectral_radius(m), lambda m: lipschitz_bound(m), lambda m: echo_state(m),
    lambda m: jacobian(m, [0.0], [0.0]), lambda m: fixed_points(m), lambda m: lyapunov_spectrum(m, np.zeros((5, 1))),
    lambda m: controllability_rank(m), lambda m: memory_capacity(m, 5), lambda m: summary(m),
])
def test_a_non_model_is_refused(call):
    with pytest.raises(InputTypeError, match="rnn must be an ElmanRNN or StackedRNN, got str"):
        call("model.npz")


@pytest.mark.parametrize("call, error, words", [
    (lambda m: memory_capacity(m, 0), ParameterError, "k_max must be a positive integer, got 0"),
    (lambda m: memory_capacity(m, -3), ParameterError, "k_max"),
    (lambda m: memory_capacity(m, 2.5), ParameterError, "k_max"),
    (lambda m: memory_capacity(m, 5, n=10), ParameterError, "n = 10 samples are too few"),
    (lambda m: memory_capacity(m, 5, ridge=-1.0), ParameterError, "ridge must be"),
    (lambda m: memory_capacity(m, 5, input_scale=0.0), ParameterError, "input_scale must be"),
    (lambda m: memory_capacity(m, 5, seed=-1), ParameterError, "seed"),
    (lambda m: memory_capacity(ElmanRNN.init(2, 3, seed=0), 5), ShapeError, "one input .D = 1.*rnn has D = 2"),
    (lambda m: lyapunov_spectrum(m, np.zeros((200, 2))), ShapeError, r"U has 2 features .* expects D = 1"),
    (lambda m: lyapunov_spectrum(m, np.zeros((2, 200, 1))), ShapeError, "2 sequences"),
    (lambda m: lyapunov_spectrum(m, np.zeros(200)), ShapeError, r"reshape\(-1, 1\)"),
    (lambda m: lyapunov_spectrum(m, np.zeros((50, 1))), ParameterError, "T = 50 steps but warmup = 100"),
    (lambda m: lyapunov_spectrum(m, np.zeros((200, 1)), k=4), ParameterError, "k = 4 .* M = 3"),
    (lambda m: lyapunov_spectrum(m, np.full((200, 1), np.nan)), NonFiniteError, "U holds NaN"),
    (lambda m: lyapunov_spectrum(m, np.zeros((200, 1)), z0=[0.0]), ShapeError, r"z0 has shape \(1,\)"),
    (lambda m: jacobian(m, np.zeros(4), [0.0]), ShapeError, r"z has shape \(4,\) but should be \(3,\)"),
    (lambda m: jacobian(m, np.zeros(3), [0.0, 1.0]), ShapeError, r"u has shape \(2,\)"),
    (lambda m: fixed_points(m, [1.0, 2.0]), ShapeError, r"u has shape \(2,\)"),
    (lambda m: fixed_points(m, n_starts=0), ParameterError, "n_starts"),
    (lambda m: fixed_points(m, tol=-1.0), ParameterError, "tol must be a finite number > 0"),
    (lambda m: fixed_points(m, slow="yes"), ParameterError, "slow must be True or False"),
    (lambda m: fixed_points(m, noise=-0.1), ParameterError, "noise"),
    (lambda m: echo_state(m, np.zeros((10, 2))), ShapeError, "U has 2 features"),
    (lambda m: echo_state(m, n_steps=0), ParameterError, "n_steps"),
    (lambda m: echo_state(m, tol=float("nan")), ParameterError, "tol"),
    (lambda m: controllability_rank(m, tol=2.0), ParameterError, "tol must be a finite number > 0 and < 1"),
    (lambda m: summary(m, np.zeros((10, 4))), ShapeError, "U has 4 features"),
    (lambda m: summary(m, k_max=0), ParameterError, "k_max"),
    (lambda m: memory_capacity(m, 2000), ParameterError, r"k_max = 2000 lags are too many for n = 5000 .* 1250"),
    (lambda m: memory_capacity(m, 200, n=100000), ParameterError, r"k_max = 200 with n = 100000 .* 2\^24"),
    (lambda m: memory_capacity(m, 10**12), ParameterError, r"k_max <= n // 4 = 1250"),
])
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call(model())


def test_summary_refuses_a_huge_k_max_before_the_work(monkeypatch):
    import elman._summary

    def never(*args, **kwargs):
        raise AssertionError("the echo state check ran before k_max was checked")

    monkeypatch.setattr(elman._summary, "echo_state", never)
    with pytest.raises(ParameterError, match=r"k_max = 5000 lags .* n // 4 = 1250"):
        summary(model(), k_max=5000)


def test_a_backwards_stack_is_refused_where_the_network_is_iterated():
    stack = StackedRNN([ElmanRNN.init(1, 3, seed=0), ElmanRNN.init(3, 2, seed=1).replace(go_backwards=True)])
    for call in (lambda: fixed_points(stack), lambda: lyapunov_spectrum(stack, np.zeros((200, 1))),
                 lambda: echo_state(stack), lambda: memory_capacity(stack, 5),
                 lambda: jacobian(stack, np.zeros(5), [0.0])):
        with pytest.raises(ParameterError, match=r"go_backwards layers \[1\]"):
            call()
    assert spectral_radius(stack) == pytest.approx([1.0, 1.0])


def test_a_go_backwards_model_reads_U_last_step_first_and_overflow_is_named():
    rng = np.random.default_rng(12)
    fwd = ElmanRNN(scaled(rng, 4, 1.3), rng.standard_normal((4, 2)), rng.standard_normal(4))
    U = rng.uniform(-1, 1, (300, 2))
    np.testing.assert_array_equal(lyapunov_spectrum(fwd.replace(go_backwards=True), U), lyapunov_spectrum(fwd, U[::-1]))
    exploding = ElmanRNN([[2.0]], [[1.0]], [0.0], activation="linear")
    with pytest.raises(NonFiniteError, match="overflows at step"):
        lyapunov_spectrum(exploding, np.ones((2000, 1)))
    with pytest.raises(NonFiniteError, match="overflow at step"):
        memory_capacity(exploding, 5)
    es = echo_state(exploding, seed=0)
    assert es.rate == pytest.approx(2.0) and not es.empirical  # the distance doubles each step
    es = echo_state(exploding, n_steps=2000, seed=0)
    assert math.isnan(es.rate) and not es.empirical and es.distance[-1] == math.inf
