"""The one-dict report of :func:`elman.analysis.summary` (what ``elman analyze`` writes
to report.json): every analysis function run once with settings that keep it fast.
"""

from __future__ import annotations

import math

import numpy as np

from ._dynmap import DynMap, layers_of
from ._memory import check_lags
from .analysis import (
    FixedPoints, controllability_rank, echo_state, fixed_points, lipschitz_bound, lyapunov_spectrum,
    memory_capacity, spectral_radius,
)
from .errors import NonFiniteError, ParameterError
from .validation import _count, _rng

__all__ = ["report", "jsonable"]


def jsonable(v):
    """Plain Python for json.dumps(..., allow_nan=False): arrays to lists, NumPy scalars
    to int/float/bool, non-finite floats to None."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [jsonable(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def points(fp: FixedPoints) -> list[dict]:
    return [
        {"z": fp.z[i], "q": fp.q[i], "label": fp.labels[i], "max_abs_eigenvalue": np.abs(fp.eigenvalues[i]).max(),
         "eigenvalues": np.stack([fp.eigenvalues[i].real, fp.eigenvalues[i].imag], 1)}
        for i in range(len(fp))
    ]


def matrices(rnn) -> dict:
    """The part of the report that needs only the matrices (per layer for a stack)."""
    layers = layers_of(rnn)
    return {
        "model": {"type": type(rnn).__name__, "input_dim": layers[0].input_dim,
                  "state_dims": [l.state_dim for l in layers], "activations": [l.activation for l in layers]},
        "spectral_radius": spectral_radius(rnn), "lipschitz_bound": lipschitz_bound(rnn),
        "controllability_rank": controllability_rank(rnn), "notes": [],
        "echo_state": None, "fixed_points": None, "lyapunov": None, "memory_capacity": None,
    }


def report(rnn, U=None, *, k_max: int | None = None, seed=0) -> dict:
    """The dict of :func:`elman.analysis.summary`."""
    out = matrices(rnn)
    try:
        dmap = DynMap(rnn, "summary")
    except ParameterError as exc:  # a stack with go_backwards layers: the matrices only
        out["notes"].append(str(exc))
        return jsonable(out)
    rng = _rng(seed)
    if U is None:
        U = rng.uniform(-1.0, 1.0, size=(1100, dmap.D))
    T = len(dmap.sequence(U, "U"))
    k_max = min(max(2 * dmap.M, 10), 200) if k_max is None else _count(k_max, "k_max")
    n_mc = max(5000, 5 * (dmap.M + 2))
    if dmap.D == 1:
        check_lags(k_max, n_mc)  # before the work, not after it
    es = echo_state(rnn, U, seed=rng)
    out["echo_state"] = {"sufficient": es.sufficient, "empirical": es.empirical, "rate": es.rate,
                         "final_distance": es.distance[-1], "steps": T, "starts": es.starts}
    fp = fixed_points(rnn, seed=rng, slow=True)
    out["fixed_points"] = {"input": fp.u, "count": len(fp), "points": points(fp), "starts": fp.n_starts,
                           "counts": {l: fp.labels.count(l) for l in dict.fromkeys(fp.labels)}}
    warmup = min(100, T // 4)
    try:
        lyap = lyapunov_spectrum(rnn, U, warmup=warmup)
    except NonFiniteError as exc:
        lyap = np.full(dmap.M, np.nan)
        out["notes"].append(f"lyapunov: {exc}")
    out["lyapunov"] = {"exponents": lyap, "max": lyap[0], "units": "natural log per step",
                       "steps": T - warmup, "warmup": warmup}
    if dmap.D != 1:
        out["notes"].append(f"memory_capacity: not defined here for D = {dmap.D} inputs (it recalls one scalar)")
    else:
        try:
            mc = memory_capacity(rnn, k_max, seed=rng, n=n_mc)
            out["memory_capacity"] = {"total": mc.total, "per_lag": mc.per_lag, "lag0": mc.lag0,
                                      "total_from_lag0": mc.total_from_lag0, "krylov_rank": mc.krylov_rank,
                                      "k_max": k_max, "n": n_mc, "noise_floor": mc.noise_floor}
        except NonFiniteError as exc:
            out["notes"].append(f"memory_capacity: {exc}")
    return jsonable(out)
