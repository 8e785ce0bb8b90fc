"""The targets of a study (:mod:`elman.study`), by name, each with its train, validation
and test data, fixed once and for all (no randomness but a documented data seed).

Every target is a sequence-to-sequence task: the network reads u_k and its output y_k
after that step is scored against the target (``return_sequences``). The data come in
two kinds. memory-sum and linear-filter are independent sequences that start from rest
(u_j = 0 before them, as the network's z_0 = 0). The others are cut from one long series,
split in time (train, then validation, then test): training windows of 100 steps whose
first 20 (the washout) are not scored (weight 0), since the network starts from z_0 = 0
and the series does not; validation and test are one sequence each, preceded by the 20
inputs before them, likewise unscored.

``memory-sum`` (m, weight=1, bias=1)
    the rule of :func:`elman.datasets.memory_sum` read as a filter of random inputs
    (u_k uniform on [-1, 1], 20 steps, 128/32/64 sequences):
    y_k = weight u_k + bias + u_{k-1} + ... + u_{k-m}  (u_j = 0 for j < 0).
    Fed the sequence x_0, x_1, ... itself, it outputs x_1, x_2, ... (tested). Minimal M =
    m + 1 for the linear network: the impulse response (weight, 1, ..., 1) has a Hankel
    matrix of rank m + 1, and y_k = C z_{k+1} has no direct term (examples/04).
``narma10`` (data_seed=0)
    :func:`elman.datasets.narma` of order 10: read u_k (uniform on [0, 0.5)), output
    y_{k+1} = 0.3 y_k + 0.05 y_k (y_k + ... + y_{k-9}) + 1.5 u_{k-9} u_k + 0.1.
    4000/1000/1000 steps after 200 dropped. No closed-form minimal M.
``mackey-glass`` (tau=17)
    :func:`elman.datasets.mackey_glass` sampled every time unit: read x_k, output
    x_{k+1} (one-step prediction); 4000/1000/1000 samples after 200. No minimal M.
``sine``
    sin(0.1 k): read x_k, output x_{k+1} = 2 cos(0.1) x_k - x_{k-1}; 4000/1000/1000.
    Minimal M = 2 for the linear network (the filter (2 cos 0.1, -1), no direct term).
``linear-filter`` (h=(1, 0, 0, 1), data_seed=0)
    :func:`elman.datasets.linear_filter`, one call per sequence (from rest, 20 steps,
    128/32/64 sequences): y_k = h_0 u_k + ... + h_{L-1} u_{k-L+1}, u_k uniform on [-1, 1);
    the default is the echo y_k = u_k + u_{k-3}. Minimal M = L (the index of the last
    nonzero tap plus one) for the linear network: 4 for the echo, though it has two taps.
``sunspots``
    the bundled monthly sunspot numbers scaled to [0, 1] on the training part: read
    x_k, output x_{k+1}; the first 70 % train, 15 % validation, the last 15 % test.
    No minimal M.

The minimal M is the closed form's for the linear activation (the default of the
targets that have one); with another activation it is not claimed (None).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import datasets
from .errors import ParameterError
from .validation import _brief, _count, _finite, _float, _is_real, _numeric

__all__ = ["TARGETS", "Target", "Task", "Split", "make_target", "memory_sum_filter", "nrmse"]

WINDOW, WASHOUT = 100, 20  # training windows of the series targets, their unscored start


@dataclass(frozen=True)
class Split:
    """U (N, T, D), Y (N, T, K) and W (N, T): 1 where a step is scored, 0 in the washout
    (None: every step is scored)."""

    U: np.ndarray
    Y: np.ndarray
    W: np.ndarray | None


@dataclass(frozen=True)
class Task:
    """A target's data and the training settings that suit it (defaults of a sweep)."""

    train: Split
    validation: Split
    test: Split
    activation: str
    learning_rate: float
    batch_size: int
    minimal_M: int | None


@dataclass(frozen=True)
class _Spec:
    defaults: dict
    build: Callable[[dict], tuple]  # params -> (train, validation, test) Splits
    activation: str = "tanh"
    learning_rate: float = 3e-3
    batch_size: int = 8
    minimal: Callable[[dict], int] | None = None
    shown: tuple = ()  # parameters always in the label


# --------------------------------------------------------------------------- data


def memory_sum_filter(U: np.ndarray, m: int, weight: float = 1.0, bias: float = 1.0) -> np.ndarray:
    """y_k = weight u_k + bias + u_{k-1} + ... + u_{k-m} for U (N, T, D) (u_j = 0 before
    the start): the memory-sum rule as a filter.

    >>> memory_sum_filter(np.array([[[1.0], [5.0]]]), 1, weight=2, bias=3)[0, :, 0].tolist()
    [5.0, 14.0]
    """
    Y = weight * U + bias
    for i in range(1, m + 1):
        Y[:, i:] += U[:, :-i]
    return Y


def _memory_sum(p: dict) -> tuple:
    rng = np.random.default_rng(p["data_seed"])
    out = []
    for n in (128, 32, 64):
        U = rng.uniform(-1.0, 1.0, (n, 20, 1))
        out.append(Split(U, memory_sum_filter(U, p["m"], p["weight"], p["bias"]), None))
    return tuple(out)


def _series_splits(x: np.ndarray, y: np.ndarray, n_train: int, n_val: int, washout: int = WASHOUT) -> tuple:
    """Windows of the first n_train steps, then validation and test as one sequence each
    (the rest after validation is the test), each preceded by ``washout`` inputs."""
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    window = max(WINDOW, 5 * washout)
    starts = range(0, n_train - window + 1, window - washout)
    U = np.stack([x[s:s + window] for s in starts])
    Y = np.stack([y[s:s + window] for s in starts])
    W = np.ones(U.shape[:2])
    W[:, :washout] = 0.0

    def one(lo, hi):
        w = np.ones((1, hi - lo + washout))
        w[0, :washout] = 0.0
        return Split(x[None, lo - washout:hi], y[None, lo - washout:hi], w)

    return Split(U, Y, W), one(n_train, n_train + n_val), one(n_train + n_val, len(x))


def _narma10(p: dict) -> tuple:
    u, y = datasets.narma(6201, order=10, seed=p["data_seed"])
    return _series_splits(u[200:-1], y[201:], 4000, 1000)


def _mackey_glass(p: dict) -> tuple:
    x = datasets.mackey_glass(6201, tau=p["tau"])
    return _series_splits(x[200:-1], x[201:], 4000, 1000)


def _sine(p: dict) -> tuple:
    _, x = datasets.sine(6001, t_max=600.0)  # steps of 0.1
    return _series_splits(x[:-1], x[1:], 4000, 1000)


def _linear_filter(p: dict) -> tuple:
    rng, h, out = np.random.default_rng(p["data_seed"]), np.asarray(p["h"], dtype=np.float64), []
    for n in (128, 32, 64):  # each sequence from rest (u_j = 0 before it), as z_0 = 0 is
        pairs = [datasets.linear_filter(20, h=h, seed=rng) for _ in range(n)]
        out.append(Split(np.stack([u for u, _ in pairs])[..., None], np.stack([y for _, y in pairs])[..., None], None))
    return tuple(out)


def _sunspots(p: dict) -> tuple:
    _, x = datasets.sunspots()
    n_train, n_val = int(0.7 * (len(x) - 1)), int(0.15 * (len(x) - 1))
    lo, hi = x[:n_train + 1].min(), x[:n_train + 1].max()
    s = (x - lo) / (hi - lo)
    return _series_splits(s[:-1], s[1:], n_train, n_val)


def _last_tap(p: dict) -> int:
    return int(np.flatnonzero(np.asarray(p["h"]))[-1]) + 1


TARGETS: dict[str, _Spec] = {
    "memory-sum": _Spec({"m": 2, "weight": 1.0, "bias": 1.0, "data_seed": 0}, _memory_sum, "linear", 1e-2, 16,
                        lambda p: p["m"] + 1, shown=("m",)),
    "narma10": _Spec({"data_seed": 0}, _narma10),
    "mackey-glass": _Spec({"tau": 17.0}, _mackey_glass),
    "sine": _Spec({}, _sine, "linear", 3e-2, 16, lambda p: 2),
    "linear-filter": _Spec({"h": (1.0, 0.0, 0.0, 1.0), "data_seed": 0}, _linear_filter, "linear", 1e-2, 16,
                           _last_tap),
    "sunspots": _Spec({}, _sunspots),
}


# --------------------------------------------------------------------------- names and parameters


def _param(name: str, key: str, v: Any) -> Any:
    """A target parameter checked, as a JSON-able value."""
    if key in ("m", "data_seed"):
        return _count(v, f"{name} parameter {key}", low=0)
    if key == "h":
        h = _numeric(v, f"{name} parameter h").astype(np.float64)
        if h.ndim != 1 or h.size == 0 or not np.any(h):
            raise ParameterError(f"{name} parameter h must be a non-empty 1-D list of taps, not all zero, "
                                 f"got {_brief(v)}")
        _finite(h, f"{name} parameter h")
        return tuple(float(t) for t in h)
    if not _is_real(v) or not math.isfinite(_float(v)) or (key in ("weight", "tau") and _float(v) <= 0):
        want = "a positive finite number" if key in ("weight", "tau") else "a finite number"
        raise ParameterError(f"{name} parameter {key} must be {want}, got {_brief(v)}")
    return float(v)


def _label(name: str, params: dict, spec: _Spec) -> str:
    """The target's name with its parameters that differ from the defaults (and the
    ``shown`` ones): file-name safe, e.g. memory-sum-m2, linear-filter-h1a2b3c4d."""
    parts = [name]
    defaults = json.loads(json.dumps(spec.defaults))  # as params come back from JSON (tuples as lists)
    for key, v in params.items():
        if key in spec.shown or v != defaults[key]:
            if key == "h":
                v = hashlib.sha1(json.dumps(list(v)).encode()).hexdigest()[:8]
            elif isinstance(v, float):
                v = format(v, "g")
            parts.append(f"{key}{v}")
    return "-".join(parts)


@dataclass(frozen=True)
class Target:
    """A target by name with its parameters (defaults filled in), e.g.
    ``make_target("memory-sum", m=3)``; ``label`` names it in tables and file names."""

    name: str
    params_json: str  # the parameters as sorted JSON: hashable, and what a cell records

    @property
    def params(self) -> dict:
        return json.loads(self.params_json)

    @property
    def label(self) -> str:
        return _label(self.name, self.params, TARGETS[self.name])

    def task(self) -> Task:
        return _task(self.name, self.params_json)


def make_target(name, **params) -> Target:
    """A :class:`Target` by name; ``params`` override the target's defaults.

    >>> make_target("memory-sum", m=3).label
    'memory-sum-m3'
    """
    if isinstance(name, Target):
        return make_target(name.name, **{**name.params, **params})
    if name not in TARGETS:
        raise ParameterError(f"target must be one of {', '.join(TARGETS)}, got {_brief(name)}")
    spec = TARGETS[name]
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        allowed = ", ".join(spec.defaults) or "none"
        raise ParameterError(f"target {name!r} has no parameter {unknown[0]!r} (its parameters: {allowed})")
    full = {k: _param(name, k, params.get(k, v)) for k, v in spec.defaults.items()}
    if name == "memory-sum" and full["m"] == 0 and full["weight"] == 0:
        raise ParameterError("memory-sum with m = 0 needs weight != 0 (else the target is constant)")
    return Target(name, json.dumps(full, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _task(name: str, params_json: str) -> Task:
    """The target's data (computed once per process: a worker reuses it across cells)."""
    spec, params = TARGETS[name], json.loads(params_json)
    train, validation, test = spec.build(params)
    minimal = spec.minimal(params) if spec.minimal is not None else None
    return Task(train, validation, test, spec.activation, spec.learning_rate, spec.batch_size, minimal)


def nrmse(split: Split, P: np.ndarray) -> float | None:
    """sqrt(mean squared error) / std(target) over the scored steps (None where P or the
    error is not finite: a diverged model): the reservoir-computing NRMSE (EchoTorch's,
    up to N vs N - 1), not :func:`elman.metrics.nrmse`, which divides by the range."""
    Y = split.Y
    keep = np.ones(Y.shape[:2], dtype=bool) if split.W is None else split.W > 0
    y, p = Y[keep], P[keep]
    with np.errstate(all="ignore"):
        e = float(np.sqrt(np.mean((p - y) ** 2)) / np.std(y))
    return e if math.isfinite(e) else None
