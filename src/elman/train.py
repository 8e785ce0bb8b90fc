"""Training from scratch: the loss, its exact gradient by backpropagation through time, fit.

Forward (time-major, one row per sample; see ``model._recur``)::

    h_k     = A z_k + B u_k + b          pre-activation, kept for the backward pass
    z_{k+1} = s(h_k)
    o_k     = C z_{k+1} + d,   y_k = g(o_k)

Backward, with L the loss and delta_k = dL/dh_k::

    dL/do_k   = dL/dy_k * g'(o_k)
    dC        = sum_k dL/do_k z_{k+1}^T,    dd = sum_k dL/do_k
    dL/dz_{k+1} = C^T dL/do_k  +  A^T delta_{k+1}       (readout + recursion)
    delta_k   = dL/dz_{k+1} * s'(h_k)                     k = T-1 .. 0
    dA = sum_k delta_k z_k^T,   dB = sum_k delta_k u_k^T,   db = sum_k delta_k
    dL/dz_0 = A^T delta_0

Only the line for delta_k is a loop; the sums over k (and over the samples) are one
tensor product each. A stacked network passes dL/du_k = B^T delta_k down to the layer
below as that layer's dL/dz_{k+1}.

Losses are Keras's with its default reduction: the mean over the outputs of each
sample (and step), weighted by ``sample_weight``, summed and divided by the number
of those entries.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import activations, optim
from .errors import DivergenceWarning, FastPathWarning, InputTypeError, ParameterError, ShapeError
from .model import ElmanRNN, StackedRNN
from .model import recur as _recur
from .validation import _as_dtype, _check_model, _check_U, _check_weights, _check_Y, _check_z0, _count, _flag, _rng

__all__ = ["Grads", "StackedGrads", "FitResult", "loss_and_grad", "fit", "LOSSES"]


# --------------------------------------------------------------------------- losses
# Each returns (sum over entries of w * l(e), w * l'(e)) for e = y_hat - y; the caller
# divides both by the number of entries.

_HUBER_DELTA = 1.0


def _mse(e, w):
    return float(np.sum(w * e * e)), 2 * w * e


def _mae(e, w):
    return float(np.sum(w * np.abs(e))), w * np.sign(e)


def _huber(e, w):
    a, dl = np.abs(e), _HUBER_DELTA
    quad = a <= dl
    value = np.where(quad, 0.5 * e * e, dl * a - 0.5 * dl * dl)
    return float(np.sum(w * value)), w * np.where(quad, e, dl * np.sign(e))


LOSSES: dict[str, Callable] = {"mse": _mse, "mae": _mae, "huber": _huber}
_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def _loss_name(loss) -> str:
    name = _ALIASES.get(loss, loss) if isinstance(loss, str) else None
    if name not in LOSSES:
        raise ParameterError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    return name


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Grads:
    """dL/dA (M, M), dL/dB (M, D), dL/db (M,), dL/dC (K, M), dL/dd (K,); C and d None
    without a readout; z0 (N, M) only when asked for."""

    A: np.ndarray
    B: np.ndarray
    b: np.ndarray
    C: np.ndarray | None = None
    d: np.ndarray | None = None
    z0: np.ndarray | None = None


@dataclass(frozen=True)
class StackedGrads:
    """Gradients of a StackedRNN: one :class:`Grads` (A, B, b) per layer, then C, d."""

    layers: tuple
    C: np.ndarray | None = None
    d: np.ndarray | None = None
    z0: list | None = None


# --------------------------------------------------------------------------- the flat parameter vector


class _Flat:
    """A model's parameters as one flat vector theta, and the matrices as views of it.

    Order: per layer A, B, b; then C, d. The optimizers update theta in place, so the
    views (used by the forward and backward passes) always hold the current values.
    """

    def __init__(self, model: ElmanRNN | StackedRNN, dtype, return_sequences: bool | None = None):
        self.stacked = isinstance(model, StackedRNN)
        layers = list(model.layers) if self.stacked else [model]
        self.acts = [activations.get(l.activation) for l in layers]
        self.gbs = [l.go_backwards for l in layers]
        self.g = activations.get(model.output_activation)
        self.return_sequences = (model.return_sequences if return_sequences is None
                                 else _flag(return_sequences, "return_sequences"))
        arrays = []
        for l in layers:
            arrays += [l.A, l.B, l.b]
        self.has_readout = model.C is not None
        if self.has_readout:
            arrays += [model.C, model.d]
        self.shapes = [a.shape for a in arrays]
        sizes = [a.size for a in arrays]
        ends = np.cumsum(sizes)
        self.segments = [slice(int(e - s), int(e)) for s, e in zip(sizes, ends)]
        self.dtype = np.dtype(dtype)
        self.theta = np.concatenate([np.asarray(a, dtype=self.dtype).ravel() for a in arrays])
        self.n_layers = len(layers)

    def views(self, vec: np.ndarray) -> list[np.ndarray]:
        return [vec[sl].reshape(sh) for sl, sh in zip(self.segments, self.shapes)]

    def unpack(self, vec: np.ndarray):
        """(layers [(A, B, b, act, go_backwards)], C, d) as views of ``vec``."""
        v = self.views(vec)
        layers = [(v[3 * j], v[3 * j + 1], v[3 * j + 2], self.acts[j], self.gbs[j]) for j in range(self.n_layers)]
        C, d = (v[-2], v[-1]) if self.has_readout else (None, None)
        return layers, C, d

    def model(self, vec: np.ndarray, dtype=None) -> ElmanRNN | StackedRNN:
        """A new (immutable) model holding a copy of ``vec``."""
        layers, C, d = self.unpack(vec)
        dt = dtype or self.dtype
        rnns = [ElmanRNN(A, B, b, activation=act.name, go_backwards=gb, dtype=dt) for A, B, b, act, gb in layers]
        if self.stacked:
            return StackedRNN(rnns, C, d, self.g.name, self.return_sequences, dtype=dt)
        r = rnns[0]
        return ElmanRNN(r.A, r.B, r.b, C, d, r.activation, self.g.name, self.return_sequences,
                        go_backwards=r.go_backwards, dtype=dt)


# --------------------------------------------------------------------------- BPTT (the reference)


def _sum_outer(P, Q):
    """sum over steps k and samples n of the outer products P[k, n] Q[k, n]^T.

    P (T, N, I), Q (T, N, J) -> (I, J): one matrix product over the T*N rows (what
    np.tensordot does, without its Python overhead, which dominates for small models).
    """
    return P.reshape(-1, P.shape[-1]).T @ Q.reshape(-1, Q.shape[-1])


def _layer_backward(A, B, act, Xp, H, Z, dZ):
    """One recurrent layer backwards.

    Xp (T, N, D) inputs in step order, H (T, N, M) pre-activations, Z (T+1, N, M)
    states, dZ (T, N, M) = dL/dz_{k+1} from outside the recursion (readout or the
    layer above). Returns dA, dB, db, dXp (T, N, D) = dL/dx_k, dz0 (N, M).
    """
    S = act.df(H)  # s'(h_k) for every step at once
    dH = np.empty_like(H)
    carry = np.zeros_like(Z[0])  # dL/dz_{k+1} through the recursion, A^T delta_{k+1}
    for k in range(H.shape[0] - 1, -1, -1):
        dH[k] = (dZ[k] + carry) * S[k]
        carry = dH[k] @ A
    dA = _sum_outer(dH, Z[:-1])
    dB = _sum_outer(dH, Xp)
    return dA, dB, dH.sum(axis=(0, 1)), dH @ B, carry


def _forward_backward(flat: _Flat, vec, Ut, Yt, w, loss: str, rs: bool, z0s, out: np.ndarray | None):
    """Loss and gradient for time-major input.

    Ut (T, N, D); Yt (T, N, K) when rs else (1, N, K); w broadcastable to Yt; z0s a
    list of (N, M_j). Writes the gradient into ``out`` (flat, like theta) when given.
    Returns (loss, dz0s, final states).
    """
    layers, C, d = flat.unpack(vec)
    X, caches, finals = Ut, [], []
    for (A, B, b, act, gb), z0 in zip(layers, z0s):
        Xp = X[::-1] if gb else X
        H, Z, zT = _recur(Xp, A, B, b, act.f, z0, keep=True)
        caches.append((Xp, H, Z))
        finals.append(zT)
        X = Z[1:]  # this layer's outputs, in its step order, are the next layer's input
    Ztop = caches[-1][2]
    S = Ztop[1:] if rs else Ztop[-1:]
    O = S @ C.T + d if C is not None else S
    Yhat = flat.g.f(O)
    count = Yt.size
    total, dY = LOSSES[loss](Yhat - Yt, w)
    value = total / count
    if out is None:
        return value, None, finals
    dO = dY * flat.g.df(O) / count
    grads = flat.views(out)
    if C is not None:
        grads[-2][:] = _sum_outer(dO, S)
        grads[-1][:] = dO.sum(axis=(0, 1))
        dS = dO @ C
    else:
        dS = dO
    dZ = dS if rs else np.concatenate([np.zeros_like(Ztop[2:]), dS])
    dz0s = [None] * len(layers)
    for j in range(len(layers) - 1, -1, -1):
        A, B, _, act, gb = layers[j]
        Xp, H, Z = caches[j]
        dA, dB, db, dXp, dz0s[j] = _layer_backward(A, B, act, Xp, H, Z, dZ)
        grads[3 * j][:], grads[3 * j + 1][:], grads[3 * j + 2][:] = dA, dB, db
        dZ = dXp[::-1] if gb else dXp  # back into the step order of the layer below
    return value, dz0s, finals


# --------------------------------------------------------------------------- checks


def _time_major_w(w, rs: bool):
    """(N,) or (N, T) weights broadcast against time-major (T or 1, N, K) outputs."""
    if w is None:
        return np.float64(1.0)
    return (w.T[:, :, None] if w.ndim == 2 else w[None, :, None])


def _z0_list(rnn, z0, N, dtype):
    if isinstance(rnn, StackedRNN):
        return rnn._check_z0s(z0, N)
    return [_check_z0(z0, N, rnn.state_dim, dtype)]


def loss_and_grad(rnn, U, Y, *, loss: str = "mse", return_sequences: bool | None = None, z0=None,
                  sample_weight=None, grad_z0: bool = False):
    """The loss of ``rnn`` on (U, Y) and its exact gradient, by backpropagation through time.

    U : (N, T, D) inputs.
    Y : (N, K) targets for many-to-one, (N, T, K) with return_sequences (in the order
        the model emits outputs: reversed time when go_backwards).
    loss : "mse" (Keras's mean over every entry), "mae" or "huber" (delta 1).
    return_sequences : None uses the model's setting.
    z0 : initial state, (M,) or (N, M) (a list per layer for StackedRNN).
    sample_weight : (N,) (or (N, T) for sequences), as Keras's ``sample_weight``.
    grad_z0 : also return dL/dz0 (N, M) in ``grads.z0``.

    Returns ``(loss, grads)``: a float and :class:`Grads` (fields A, B, b, C, d with the
    parameters' shapes), or :class:`StackedGrads` for a StackedRNN. Computed in the
    model's dtype (use ``rnn.astype(np.float64)`` for gradient checks).

    >>> rnn = ElmanRNN.init(2, 3, 1, seed=0)
    >>> L, g = loss_and_grad(rnn, np.ones((4, 5, 2)), np.zeros((4, 1)))
    >>> g.A.shape, g.B.shape, g.C.shape
    ((3, 3), (3, 2), (1, 3))
    """
    _check_model(rnn)
    name = _loss_name(loss)
    rs = rnn.return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
    grad_z0 = _flag(grad_z0, "grad_z0")
    dt = rnn.dtype
    U = _check_U(U, rnn.input_dim, dt)
    N, T, _ = U.shape
    Yc = _check_Y(Y, N, T, rnn.output_dim, rs, dt)
    w = _check_weights(sample_weight, N, T, rs, dt)
    z0s = _z0_list(rnn, z0, N, dt)
    flat = _Flat(rnn, dt, rs)
    out = np.zeros_like(flat.theta)
    Yt = Yc.transpose(1, 0, 2) if rs else Yc[None]
    value, dz0s, _ = _forward_backward(flat, flat.theta, U.transpose(1, 0, 2), Yt, _time_major_w(w, rs), name, rs, z0s, out)
    v = flat.views(out)
    C, d = (v[-2], v[-1]) if flat.has_readout else (None, None)
    if isinstance(rnn, StackedRNN):
        layers = tuple(Grads(v[3 * j], v[3 * j + 1], v[3 * j + 2]) for j in range(flat.n_layers))
        return value, StackedGrads(layers, C, d, dz0s if grad_z0 else None)
    return value, Grads(v[0], v[1], v[2], C, d, dz0s[0] if grad_z0 else None)


# --------------------------------------------------------------------------- fit


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` returns.

    model   : the trained model (a new object; the one passed in is unchanged).
    history : {"loss": [...], "val_loss": [...] when validating} one entry per epoch
              (the loss averaged over the epoch's batches, weighted by batch size, as
              Keras reports it).
    stopped_early : the epoch (1-based) at which early stopping or the NaN guard
              stopped training, else None; ``message`` says why.
    seconds : wall time of the training loop.
    """

    model: Any
    history: dict
    stopped_early: int | None = None
    message: str = ""
    best_epoch: int | None = None
    seconds: float = 0.0
    engine: str = "numpy"
    config: dict = field(default_factory=dict)


class _Progress:
    """A progress bar per epoch (tqdm when installed), or one line per epoch."""

    def __init__(self, verbose: int, epochs: int, n_batches: int):
        self.verbose, self.epochs, self.n_batches = verbose, epochs, n_batches
        self.bar = None
        self.tqdm = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm

                self.tqdm = tqdm
            except ImportError:  # a plain line per epoch instead
                pass

    def start(self, epoch: int):
        if self.tqdm is not None:
            # disable=None: a bar only on a terminal; a log file gets the epoch lines alone.
            self.bar = self.tqdm(total=self.n_batches, desc=f"epoch {epoch}/{self.epochs}", leave=False,
                                 unit="batch", disable=None)

    def batch(self):
        if self.bar is not None:
            self.bar.update(1)

    def end(self, epoch: int, logs: dict, seconds: float, quiet: bool = False):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.verbose and not quiet:
            parts = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
            print(f"epoch {epoch}/{self.epochs} - {seconds:.2f}s - {parts}")


def _engine_for(flat: _Flat, engine: str, tbptt) -> str:
    if engine not in ("auto", "numpy", "numba"):
        raise ParameterError(f"engine must be 'auto', 'numpy' or 'numba', got {engine!r}")
    fast_ok = flat.n_layers == 1 and tbptt is None
    if engine == "numba":
        if not fast_ok:
            raise ParameterError("engine='numba' handles one recurrent layer without tbptt; use engine='numpy'")
        from . import _fast

        _fast.require_numba()
        return "numba"
    if engine == "auto" and fast_ok:
        from . import _fast

        # Small states are dominated by per-step overhead, where the compiled loop wins;
        # large ones by matrix products, where NumPy's BLAS does.
        if _fast.available() and flat.shapes[0][0] <= 24:
            return "numba"
    return "numpy"


def _optimizer(optimizer, **settings) -> optim.Optimizer:
    """The optimizer fit uses: one built from a name and ``settings`` (learning_rate None
    means 1e-3), or an instance as it is, which must come without settings (they would be
    silently ignored)."""
    if isinstance(optimizer, optim.Optimizer):
        given = {k: v for k, v in settings.items() if v is not None}
        if given:
            kind = type(optimizer).__name__
            listed = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ParameterError(
                f"optimizer is an elman.optim.{kind} instance, which carries its own settings, so {listed} would "
                f"be ignored; set them on it ({kind}({listed})) or pass optimizer={kind.lower()!r}"
            )
        return optimizer
    lr = settings.pop("learning_rate")
    return optim.get(optimizer, 1e-3 if lr is None else lr, **settings)


def _validation(rnn, U, Y, w, validation_data, validation_split, rs: bool, dt):
    """(U, Y, w, U_val, Y_val): validation data as given, or the last ``validation_split``
    of the samples (taken before shuffling, as Keras does); U_val, Y_val None without."""
    if validation_data is not None:
        if validation_split:
            raise ParameterError("give validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ParameterError("validation_data must be a pair (U_val, Y_val)")
        U_val = _check_U(validation_data[0], rnn.input_dim, dt, name="validation_data[0]")
        Y_val = _check_Y(validation_data[1], U_val.shape[0], U_val.shape[1], rnn.output_dim, rs, dt,
                         name="validation_data[1]")
        return U, Y, w, U_val, Y_val
    if validation_split is None:
        return U, Y, w, None, None
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.integer, np.floating)) \
            or not 0 <= validation_split < 1:
        raise ParameterError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    if not validation_split:
        return U, Y, w, None, None
    N = U.shape[0]
    n_train = int(math.floor(N * (1 - validation_split)))
    if n_train < 1 or n_train == N:
        raise ParameterError(f"validation_split={validation_split} leaves {n_train} of {N} samples for training")
    return U[:n_train], Y[:n_train], None if w is None else w[:n_train], U[n_train:], Y[n_train:]


def _make_step(flat: _Flat, eng: str, U, Y, w, loss: str, rs: bool, tbptt, grad):
    """(step, engine): step(idx) -> (loss, gradient) of the batch U[idx], by the compiled
    kernel when ``eng`` is "numba" and it can be built here, else by the NumPy reference."""
    if eng == "numba":
        from . import _fast

        try:
            return _fast.make_step(flat, U, Y, w, loss, rs), "numba"
        except _fast.KernelUnavailable as exc:
            # A compiled-kernel problem (no cache folder, a numba/LLVM fault) never stops
            # training: the NumPy reference computes the same gradients.
            warnings.warn(f"the compiled training kernel is unavailable here ({exc}); training with the "
                          "NumPy path instead (same results, slower for small models)", FastPathWarning,
                          stacklevel=3)
    Ut_all = np.ascontiguousarray(U.transpose(1, 0, 2))  # time-major, batches taken along axis 1
    Yt_all = np.ascontiguousarray(Y.transpose(1, 0, 2)) if rs else Y[None]

    def step(idx):
        Wt = _time_major_w(None if w is None else w[idx], rs)
        return _numpy_step(flat, flat.theta, grad, Ut_all[:, idx], Yt_all[:, idx], Wt, loss, rs, tbptt)

    return step, "numpy"


def fit(rnn, U, Y, *, epochs: int = 1, batch_size: int = 32, optimizer="adam", learning_rate: float | None = None,
        loss: str = "mse", shuffle: bool = True, seed=None, validation_data=None, validation_split: float = 0.0,
        clipnorm=None, clipvalue=None, global_clipnorm=None, sample_weight=None, return_sequences=None,
        patience: int | None = None, restore_best_weights: bool = False, min_delta: float = 0.0,
        tbptt: int | None = None, engine: str = "auto", verbose: int = 1, dtype=None,
        **optimizer_options) -> FitResult:
    """Train ``rnn`` on (U, Y) with mini-batches, Keras's way.

    U (N, T, D), Y (N, K) or (N, T, K) as for :func:`loss_and_grad`.
    epochs, batch_size : the last partial batch is kept; with ``shuffle`` the order is
        drawn anew each epoch from ``seed`` (an int or numpy Generator).
    optimizer : "adam" (default), "rmsprop", "sgd" or an :mod:`elman.optim` optimizer;
        for a name, ``learning_rate`` (None: 1e-3) and ``optimizer_options`` (momentum,
        nesterov, rho, beta_1, beta_2, epsilon, centered) are passed on, and clipnorm /
        clipvalue / global_clipnorm act as in Keras. Defaults are Keras's (Adam 1e-3,
        beta 0.9/0.999, epsilon 1e-7). An optimizer instance carries its own settings:
        giving any of these beside it is an error, not silently ignored.
    validation_data : (U_val, Y_val); or ``validation_split``, the last fraction of the
        samples (taken before shuffling, as Keras does).
    patience : early stopping after that many epochs without improvement of val_loss
        (loss when there is no validation data) by more than ``min_delta``;
        ``restore_best_weights`` returns the best epoch's model.
    tbptt : truncated backpropagation through time: the sequence is cut into chunks of
        that many steps, the state is carried from chunk to chunk, and the gradient does
        not flow back across a chunk's start (for long sequences).
    engine : "numpy" (the reference), "numba" (compiled loop, one layer) or "auto".
    dtype : the training precision; by default the model's.

    If the loss or the weights become NaN or inf, training stops with a
    :class:`~elman.errors.DivergenceWarning` and the last finite model is returned.
    """
    _check_model(rnn)
    epochs = _count(epochs, "epochs")
    batch_size = _count(batch_size, "batch_size")
    if verbose not in (0, 1, 2, False, True):
        raise ParameterError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    name = _loss_name(loss)
    dt = rnn.dtype if dtype is None else _as_dtype(dtype)
    rs = rnn.return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
    U = _check_U(U, rnn.input_dim, dt)
    N, T, _ = U.shape
    Y = _check_Y(Y, N, T, rnn.output_dim, rs, dt)
    w = _check_weights(sample_weight, N, T, rs, dt)
    if tbptt is not None:
        tbptt = _count(tbptt, "tbptt")
        layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
        if any(l.go_backwards for l in layers):
            raise ParameterError("tbptt cannot be used with go_backwards layers (the chunks run forward in time)")
    if patience is not None:
        patience = _count(patience, "patience")
    restore_best_weights = _flag(restore_best_weights, "restore_best_weights")
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.integer, np.floating)) \
            or not np.isfinite(min_delta) or min_delta < 0:
        raise ParameterError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
    shuffle = _flag(shuffle, "shuffle")
    opt = _optimizer(optimizer, learning_rate=learning_rate, clipnorm=clipnorm, clipvalue=clipvalue,
                     global_clipnorm=global_clipnorm, **optimizer_options)

    U, Y, w, U_val, Y_val = _validation(rnn, U, Y, w, validation_data, validation_split, rs, dt)
    N = U.shape[0]

    flat = _Flat(rnn, dt, rs)
    eng = _engine_for(flat, engine, tbptt)
    theta, grad = flat.theta, np.zeros_like(flat.theta)
    rng = _rng(seed)
    n_batches = -(-N // batch_size)

    step, eng = _make_step(flat, eng, U, Y, w, name, rs, tbptt, grad)

    def evaluate(Uv, Yv) -> float:
        Yvt = Yv.transpose(1, 0, 2) if rs else Yv[None]
        z0s = _zero_states(flat, Uv.shape[0])
        return _forward_backward(flat, theta, Uv.transpose(1, 0, 2), Yvt, np.float64(1.0), name, rs, z0s, None)[0]

    history: dict[str, list] = {"loss": []}
    if U_val is not None:
        history["val_loss"] = []
    progress = _Progress(int(verbose), epochs, n_batches)
    monitor = "val_loss" if U_val is not None else "loss"
    best, best_theta, best_epoch, waited = math.inf, theta.copy(), None, 0
    stopped, message = None, ""
    t_start = time.perf_counter()
    # Divergence is caught by the NaN guard below; NumPy's overflow warnings add nothing.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(1, epochs + 1):
            t_epoch = time.perf_counter()
            order = rng.permutation(N) if shuffle else np.arange(N)
            progress.start(epoch)
            total, seen = 0.0, 0
            for i in range(n_batches):
                idx = order[i * batch_size:(i + 1) * batch_size]
                value, g = step(idx)
                if not (math.isfinite(value) and np.all(np.isfinite(g))):
                    what = "the loss or its gradient"
                else:
                    last_good = theta.copy()
                    opt.apply(theta, g, flat.segments)
                    if np.all(np.isfinite(theta)):
                        total += value * len(idx)
                        seen += len(idx)
                        progress.batch()
                        continue
                    theta[:] = last_good
                    what = "the weights"
                stopped = epoch
                cause = (f"learning rate {opt.learning_rate:g} too high?" if (epoch, i) != (1, 0) else
                         f"on the very first batch: check the scale of U and Y (max |Y| = "
                         f"{float(np.max(np.abs(Y))):.3g}) and the learning rate {opt.learning_rate:g}")
                message = (f"training stopped at epoch {epoch}, batch {i + 1}: {what} became NaN or inf "
                           f"({cause}); the last finite model is returned")
                break
            if stopped:
                progress.end(epoch, {}, time.perf_counter() - t_epoch, quiet=True)
                warnings.warn(message, DivergenceWarning, stacklevel=2)
                break
            logs = {"loss": total / seen}
            history["loss"].append(logs["loss"])
            if U_val is not None:
                logs["val_loss"] = float(evaluate(U_val, Y_val))
                history["val_loss"].append(logs["val_loss"])
            progress.end(epoch, logs, time.perf_counter() - t_epoch)
            current = logs[monitor]
            if current < best - min_delta:
                best, best_theta, best_epoch, waited = current, theta.copy(), epoch, 0
            elif patience is not None:
                waited += 1
                if waited >= patience:
                    stopped = epoch
                    message = f"early stopping at epoch {epoch}: {monitor} has not improved for {patience} epochs"
                    break
    seconds = time.perf_counter() - t_start
    final = best_theta if (restore_best_weights and best_epoch is not None) else theta
    config = {"epochs": epochs, "batch_size": batch_size, "optimizer": opt.config(), "loss": name,
              "shuffle": shuffle, "tbptt": tbptt, "engine": eng, "dtype": np.dtype(dt).name}
    if message and verbose:
        print(message)
    return FitResult(flat.model(final.copy(), dtype=rnn.dtype), history, stopped, message, best_epoch, seconds, eng,
                     config)


def _zero_states(flat: _Flat, N: int) -> list[np.ndarray]:
    return [np.zeros((N, flat.shapes[3 * j][0]), flat.dtype) for j in range(flat.n_layers)]


def _numpy_step(flat, theta, grad, Ut, Yt, Wt, loss, rs, tbptt):
    """(loss, gradient) of one batch with the reference BPTT (all layers)."""
    z0s = _zero_states(flat, Ut.shape[1])
    if tbptt is None or tbptt >= Ut.shape[0]:
        value, _, _ = _forward_backward(flat, theta, Ut, Yt, Wt, loss, rs, z0s, grad)
        return value, grad
    # Truncated BPTT: chunks of tbptt steps, the state carried between them but not
    # differentiated through (the gradient stops at each chunk's start); the chunks'
    # gradients, weighted as their share of the loss, make the batch's one update.
    T = Ut.shape[0]
    acc = np.zeros_like(grad)
    value = 0.0
    for start in range(0, T, tbptt):
        sl = slice(start, min(start + tbptt, T))
        if rs:
            Wc = Wt if np.ndim(Wt) == 0 or Wt.shape[0] == 1 else Wt[sl]
            v, _, finals = _forward_backward(flat, theta, Ut[sl], Yt[sl], Wc, loss, True, z0s, grad)
            value += v * (sl.stop - sl.start) / T
            acc += grad * (sl.stop - sl.start) / T
        elif sl.stop == T:
            v, _, finals = _forward_backward(flat, theta, Ut[sl], Yt, Wt, loss, False, z0s, grad)
            value += v
            acc += grad
        else:  # many-to-one: earlier chunks only move the state forward
            layers, _, _ = flat.unpack(theta)
            X, finals = Ut[sl], []
            for (A, B, b, act, gb), z0 in zip(layers, z0s):
                _, Z, zT = _recur(X, A, B, b, act.f, z0, keep=True)
                finals.append(zT)
                X = Z[1:]
        z0s = [f.copy() for f in finals]
    grad[:] = acc
    return value, grad
