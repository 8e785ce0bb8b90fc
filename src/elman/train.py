"""fit: mini-batch training, Keras's way, on the exact gradient of :mod:`elman.bptt`.

``fit`` is a sequence of named steps: check the settings (:func:`_settings`), split off
the validation data (:func:`_validation`), build the optimizer (:func:`_optimizer`),
choose the engine (:func:`_engine`), make the epoch (:func:`_epoch_runner`), then the
epoch loop (:func:`_train`) with its NaN guard and early stopping.

Engines (all compute the same gradient; the fast ones are tested equal to the reference):

- ``"numpy"``: the plain NumPy reference, :func:`elman.bptt.forward_backward`;
- ``"blas"``: the fast NumPy engine, :class:`elman.blas.Engine` (preallocated buffers,
  one BLAS product per step each way), for every model;
- ``"c"``: the compiled kernel built at install (:mod:`elman._compiled`), one recurrent
  layer, the whole epoch (batches, BPTT, optimizer) in one call: tiny models;
- ``"auto"``: "c" for one layer where the kernel is built and the batch is small for
  the state (M <= 8, or M x batch_size <= ``C_MAX_WORK``: there a step is per-call
  overhead, which the kernel removes), else "blas" (the products dominate, and BLAS does
  them best).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import _compiled, bptt, losses, optim
from .blas import Engine
from .bptt import Grads, Layout, StackedGrads, loss_and_grad
from .errors import DivergenceWarning, FastPathWarning, ParameterError
from .progress import Progress
from .stacked import StackedRNN
from .validation import _as_dtype, _check_model, _check_U, _check_weights, _check_Y, _count, _flag, _rng

__all__ = ["Grads", "StackedGrads", "FitResult", "loss_and_grad", "fit", "ENGINES"]

#: The values of fit's ``engine``.
ENGINES = ("auto", "numpy", "blas", "c")
#: "auto" takes the compiled kernel for M x batch_size up to this (or M <= 8): measured on
#: 2 cores, the kernel is 3-50x faster than "blas" at batch 1 for M up to 64, and slower
#: from M = 16 at batch 32, where the products dominate.
C_MAX_WORK = 256
#: Multiply-adds per call of the compiled kernel (about 10 ms here): an epoch of a large
#: data set is several calls, so that Ctrl-C does not wait for its end.
C_CALL_WORK = 2 ** 25


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


# --------------------------------------------------------------------------- the engines


def _engine(flat: Layout, engine, tbptt, batch_size: int, loss: losses.Loss) -> str:
    """The engine fit runs: ``engine`` as asked, or auto's choice (see the module)."""
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    one_layer = flat.n_layers == 1 and tbptt is None
    registered = losses.LOSSES.get(loss.name) is loss  # the kernel's switch knows only these
    if engine == "c" and not one_layer:
        raise ParameterError("engine='c' trains one recurrent layer without tbptt; use engine='blas' or 'numpy'")
    if engine == "c" and not registered:
        raise ParameterError(f"engine='c' computes the losses of elman.losses.LOSSES, not a loss of your own "
                             f"({loss.name!r}); use engine='blas' or 'numpy'")
    if engine != "auto":
        return engine
    M = flat.state_dims()[0]
    if one_layer and registered and (M <= 8 or M * batch_size <= C_MAX_WORK):
        return "c"  # if the kernel cannot be used here, _epoch_runner says so and takes "blas"
    return "blas"


@dataclass
class _Batches:
    """The training data as checked (N first), its weights and the loss."""

    U: np.ndarray
    Y: np.ndarray
    w: np.ndarray | None
    loss: losses.Loss
    rs: bool
    tbptt: int | None

    def step(self, flat: Layout, forward_backward) -> Callable:
        """step(idx) -> (loss, gradient) of the batch idx by ``forward_backward``."""
        grad = np.zeros_like(flat.theta)
        # Time-major copies (batches along axis 1), made here: the compiled engine reads U and Y as they are.
        Ut_all = np.ascontiguousarray(self.U.transpose(1, 0, 2))
        Yt_all = np.ascontiguousarray(self.Y.transpose(1, 0, 2)) if self.rs else self.Y[None]

        def step(idx):
            Ut, Yt = np.take(Ut_all, idx, axis=1), np.take(Yt_all, idx, axis=1)
            Wt = bptt.time_major_weights(None if self.w is None else self.w[idx], self.rs)
            if self.tbptt is not None and self.tbptt < Ut.shape[0]:
                value = bptt.truncated(forward_backward, flat, flat.theta, grad, Ut, Yt, Wt, self.loss, self.rs,
                                       self.tbptt)
                return value, grad
            z0s = bptt.zero_states(flat, Ut.shape[1])
            value, _, _ = forward_backward(flat, flat.theta, Ut, Yt, Wt, self.loss, self.rs, z0s, grad)
            return value, grad

        return step


def _python_epoch(step: Callable, opt: optim.Optimizer, flat: Layout, progress) -> Callable:
    """epoch(order, batch_size) -> (loss sum, samples, stop): one step and one update per
    batch. stop is None, or (1, i): the loss or gradient of batch i not finite, or (2, i):
    the weights after batch i's update not finite (they are put back as they were)."""
    theta = flat.theta
    last_good = np.empty_like(theta)  # the weights before an update, put back if it overflows

    def epoch(order, batch_size):
        total, seen = 0.0, 0
        for i in range(-(-len(order) // batch_size)):
            idx = order[i * batch_size:(i + 1) * batch_size]
            value, g = step(idx)
            if not (math.isfinite(value) and np.all(np.isfinite(g))):
                return total, seen, (1, i)
            last_good[:] = theta
            opt.apply(theta, g, flat.segments)
            if not np.all(np.isfinite(theta)):
                theta[:] = last_good
                return total, seen, (2, i)
            total += value * len(idx)
            seen += len(idx)
            progress.batch()
        return total, seen, None

    return epoch


def _compiled_epoch(trainer, opt: optim.Optimizer, flat: Layout, data: _Batches, progress) -> Callable:
    """epoch(order, batch_size) of :func:`_python_epoch`'s form, by the compiled kernel,
    in calls of about ``C_CALL_WORK`` multiply-adds each: the same batches and updates as
    one call, and Ctrl-C (and the progress bar) get a turn between calls."""
    M, D = flat.shapes[0][0], flat.shapes[1][1]
    per_sample = data.U.shape[1] * M * (M + D) * 3  # forward, backward, gradient sums

    def epoch(order, batch_size):
        step = batch_size * max(1, C_CALL_WORK // (per_sample * batch_size))  # whole batches per call
        total, seen = 0.0, 0
        for start in range(0, len(order), step):
            t, s, kind, batch = trainer.epoch(order[start:start + step], batch_size, opt)
            total, seen = total + t, seen + s
            progress.batch(-(-s // batch_size))
            if kind:
                return total, seen, (kind, start // batch_size + batch)
        return total, seen, None

    return epoch


def _compiled_trainer(flat: Layout, data: _Batches):
    [(A, B, b, act, gb)], C, d = flat.unpack(flat.theta)
    K = A.shape[0] if C is None else C.shape[0]
    return _compiled.CompiledTrainer(flat.theta, B.shape[1], A.shape[0], K, C is not None,
                                     act.name, flat.g.name, gb, data.rs, data.loss, data.U, data.Y, data.w)


def _epoch_runner(flat: Layout, eng: str, data: _Batches, opt: optim.Optimizer, progress) -> tuple[Callable, str]:
    """(epoch, engine): the epoch function of :func:`_python_epoch`'s form on ``eng``."""
    if eng == "c":
        try:
            trainer = _compiled_trainer(flat, data)
        except _compiled.KernelUnavailable as exc:
            # A kernel problem (not built, not loadable) never stops training: the NumPy
            # engines compute the same gradients.
            warnings.warn(f"the compiled training kernel is unavailable here ({exc}); training with "
                          "engine='blas' instead (same results, slower for small models)", FastPathWarning,
                          stacklevel=3)
            eng = "blas"
        else:
            if trainer.supports(opt):
                return _compiled_epoch(trainer, opt, flat, data, progress), "c"
            return _python_epoch(trainer.loss_grad, opt, flat, progress), "c"
    fb = Engine(flat) if eng == "blas" else bptt.forward_backward
    return _python_epoch(data.step(flat, fb), opt, flat, progress), eng


# --------------------------------------------------------------------------- the epoch loop


class _Monitor:
    """Early stopping on ``key`` (val_loss, or loss without validation data), and the
    best epoch's weights for ``restore_best_weights``."""

    def __init__(self, theta: np.ndarray, key: str, patience: int | None, min_delta: float):
        self.key, self.patience, self.min_delta = key, patience, min_delta
        self.best, self.best_theta, self.best_epoch, self.waited = math.inf, theta.copy(), None, 0

    def update(self, epoch: int, logs: dict, theta: np.ndarray) -> str:
        """Record the epoch; a message when it is time to stop, else ""."""
        current = logs[self.key]
        if current < self.best - self.min_delta:
            self.best, self.best_theta, self.best_epoch, self.waited = current, theta.copy(), epoch, 0
        elif self.patience is not None:
            self.waited += 1
            if self.waited >= self.patience:
                return f"early stopping at epoch {epoch}: {self.key} has not improved for {self.patience} epochs"
        return ""


def _divergence(stop, epoch: int, opt: optim.Optimizer, Y: np.ndarray) -> str:
    kind, i = stop
    what = "the loss or its gradient" if kind == 1 else "the weights"
    cause = (f"learning rate {opt.learning_rate:g} too high?" if (epoch, i) != (1, 0) else
             f"on the very first batch: check the scale of U and Y (max |Y| = {float(np.max(np.abs(Y))):.3g}) "
             f"and the learning rate {opt.learning_rate:g}")
    return (f"training stopped at epoch {epoch}, batch {i + 1}: {what} became NaN or inf ({cause}); "
            "the last finite model is returned")


def _train(epoch_fn, flat: Layout, opt, s: dict, Y, evaluate, progress, monitor: _Monitor):
    """The epoch loop: (history, epoch at which it stopped or None, message)."""
    history: dict[str, list] = {"loss": []}
    if evaluate is not None:
        history["val_loss"] = []
    rng = _rng(s["seed"])
    N = len(Y)
    # Divergence is caught by the NaN guard; NumPy's overflow warnings add nothing.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(1, s["epochs"] + 1):
            t_epoch = time.perf_counter()
            order = rng.permutation(N) if s["shuffle"] else np.arange(N)
            progress.start(epoch)
            total, seen, stop = epoch_fn(order, s["batch_size"])
            if stop is not None:
                progress.end(epoch, {}, time.perf_counter() - t_epoch, quiet=True)
                message = _divergence(stop, epoch, opt, Y)
                warnings.warn(message, DivergenceWarning, stacklevel=3)
                return history, epoch, message
            logs = {"loss": total / seen}
            if evaluate is not None:
                logs["val_loss"] = evaluate()
            for key, value in logs.items():
                history[key].append(value)
            progress.end(epoch, logs, time.perf_counter() - t_epoch)
            message = monitor.update(epoch, logs, flat.theta)
            if message:
                return history, epoch, message
    return history, None, ""


# --------------------------------------------------------------------------- fit


def _settings(rnn, epochs, batch_size, verbose, patience, restore_best_weights, min_delta, shuffle, tbptt,
              seed) -> dict:
    """The loop's settings, each checked (a ParameterError names the wrong one)."""
    if verbose not in (0, 1, 2, False, True):
        raise ParameterError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.integer, np.floating)) \
            or not np.isfinite(min_delta) or min_delta < 0:
        raise ParameterError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
    if tbptt is not None:
        tbptt = _count(tbptt, "tbptt")
        layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
        if any(l.go_backwards for l in layers):
            raise ParameterError("tbptt cannot be used with go_backwards layers (the chunks run forward in time)")
    _rng(seed)  # checked now, drawn from in the loop
    return dict(epochs=_count(epochs, "epochs"), batch_size=_count(batch_size, "batch_size"), verbose=int(verbose),
                patience=None if patience is None else _count(patience, "patience"),
                restore_best_weights=_flag(restore_best_weights, "restore_best_weights"), min_delta=float(min_delta),
                shuffle=_flag(shuffle, "shuffle"), tbptt=tbptt, seed=seed)


def _inputs(rnn, U, Y, sample_weight, return_sequences, dtype):
    """(U, Y, w, rs, dtype) checked against the model, in the training precision."""
    dt = rnn.dtype if dtype is None else _as_dtype(dtype)
    rs = rnn.return_sequences if return_sequences is None else _flag(return_sequences, "return_sequences")
    U = _check_U(U, rnn.input_dim, dt)
    N, T, _ = U.shape
    return U, _check_Y(Y, N, T, rnn.output_dim, rs, dt), _check_weights(sample_weight, N, T, rs, dt), rs, dt


def _evaluator(flat: Layout, U_val, Y_val, loss, rs: bool):
    """The validation loss of the current weights (reference forward pass), or None."""
    if U_val is None:
        return None
    Ut = U_val.transpose(1, 0, 2)
    Yt = Y_val.transpose(1, 0, 2) if rs else Y_val[None]
    z0s = bptt.zero_states(flat, U_val.shape[0])
    return lambda: float(bptt.forward_backward(flat, flat.theta, Ut, Yt, 1.0, loss, rs, z0s, None)[0])


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
        clipvalue / global_clipnorm act as in Keras. An optimizer instance carries its
        own settings: giving any of these beside it is an error, not silently ignored.
    validation_data : (U_val, Y_val); or ``validation_split``, the last fraction of the
        samples (taken before shuffling, as Keras does).
    patience, min_delta, restore_best_weights : early stopping on val_loss (loss
        without validation data), and the best epoch's model returned.
    tbptt : truncated BPTT in chunks of that many steps, the state carried from chunk
        to chunk, the gradient stopped at each chunk's start (for long sequences).
    engine : "auto", "numpy" (the reference), "blas" or "c" (see the module); the one
        that ran is ``FitResult.engine``.
    dtype : the training precision; by default the model's.

    If the loss or the weights become NaN or inf, training stops with a
    :class:`~elman.errors.DivergenceWarning` and the last finite model is returned.
    """
    _check_model(rnn)
    s = _settings(rnn, epochs, batch_size, verbose, patience, restore_best_weights, min_delta, shuffle, tbptt, seed)
    lossfn = losses.get(loss)
    U, Y, w, rs, dt = _inputs(rnn, U, Y, sample_weight, return_sequences, dtype)
    opt = optim.from_settings(optimizer, learning_rate=learning_rate, clipnorm=clipnorm, clipvalue=clipvalue,
                     global_clipnorm=global_clipnorm, **optimizer_options)
    U, Y, w, U_val, Y_val = _validation(rnn, U, Y, w, validation_data, validation_split, rs, dt)
    flat = Layout(rnn, dt, rs)
    progress = Progress(s["verbose"], s["epochs"], -(-U.shape[0] // s["batch_size"]))
    eng = _engine(flat, engine, s["tbptt"], min(s["batch_size"], len(U)), lossfn)
    epoch_fn, eng = _epoch_runner(flat, eng, _Batches(U, Y, w, lossfn, rs, s["tbptt"]), opt, progress)
    monitor = _Monitor(flat.theta, "val_loss" if U_val is not None else "loss", s["patience"], s["min_delta"])
    t_start = time.perf_counter()
    history, stopped, message = _train(epoch_fn, flat, opt, s, Y, _evaluator(flat, U_val, Y_val, lossfn, rs),
                                       progress, monitor)
    seconds = time.perf_counter() - t_start
    final = monitor.best_theta if (s["restore_best_weights"] and monitor.best_epoch is not None) else flat.theta
    config = {"epochs": s["epochs"], "batch_size": s["batch_size"], "optimizer": opt.config(), "loss": lossfn.name,
              "shuffle": s["shuffle"], "tbptt": s["tbptt"], "engine": eng, "dtype": np.dtype(dt).name}
    if message and s["verbose"]:
        print(message)
    return FitResult(flat.model(final.copy(), dtype=rnn.dtype), history, stopped, message, monitor.best_epoch,
                     seconds, eng, config)
