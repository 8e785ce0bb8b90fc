"""verify_keras (for :mod:`elman.keras`): ``model.predict`` against elman's reproduction of
the model, on random or given inputs, repeated calls and resets included for a stateful
model, summed up in a :class:`ParityReport`."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._keras_file import load_keras_model
from ._keras_read import import_keras, quiet
from ._keras_states import get_states, reset_states, stateful_layers
from .errors import ParameterError, ShapeError, StateWarning
from .stacked import StackedRNN
from .validation import _check_U, _count, _finite_as, _rng

__all__ = ["MAX_VERIFY_VALUES", "ParityReport", "verify_keras"]

#: The most input values verify_keras generates (n_samples * n_steps * D): 0.8 GB as
#: float64, three batches of it for a stateful model. More is a typo, not a check.
MAX_VERIFY_VALUES = 10**8


@dataclass(frozen=True)
class ParityReport:
    """How closely elman reproduces ``model.predict``.

    max_abs_err : max |y_keras - y_elman| over every call and element; NaN when an
                  output or a difference is not finite (it cannot be measured then).
    max_rel_err : max_abs_err / max |y_keras| (relative to the output's size).
    tolerance   : the bound on max_abs_err / max(1, max |y_keras|): 1e-12 when Keras
                  returns float64 from float64 layers (1e-8 with gelu, whose float64
                  erfc in TensorFlow is good to ~5e-9), else 1e-5 (float32).
    passed      : whether that bound holds and every output and difference is finite.
    calls       : (label, max_abs_err) per predict call; a stateful model is called three
                  times, reset, and called again.
    note        : why the check failed when it is not a matter of tolerance (an output
                  holds NaN or inf); empty otherwise.
    """

    max_abs_err: float
    max_rel_err: float
    tolerance: float
    passed: bool
    dtype: str
    input_shape: tuple
    output_shape: tuple
    stateful: bool
    model_kind: str
    calls: tuple = field(default_factory=tuple)
    note: str = ""

    def __str__(self) -> str:
        lines = [
            f"Parity of elman with Keras model.predict ({self.model_kind}, {self.dtype}"
            + (", stateful" if self.stateful else "") + ")",
            f"  input  {self.input_shape} -> output {self.output_shape}",
        ]
        for label, err in self.calls:
            lines.append(f"  {label:<24s} max abs err {err:.3e}")
        lines += [
            f"  max abs err  {self.max_abs_err:.3e}",
            f"  max rel err  {self.max_rel_err:.3e}",
            f"  tolerance    {self.tolerance:.0e} (scaled by max(1, max|y|))",
        ]
        if self.note:
            lines.append(f"  {self.note}")
        lines.append(f"  {'PASSED' if self.passed else 'FAILED'}")
        return "\n".join(lines)


def verify_keras(model, U=None, *, n_samples: int = 32, n_steps: int = 16, seed=0) -> ParityReport:
    """Compare ``model.predict`` with elman's reproduction of the model.

    model : a keras.Model or the path of a .keras file.
    U     : (N, T, D) input; by default standard normal of (n_samples, n_steps, D), with
            the model's own fixed T or batch size where it has one (at most
            MAX_VERIFY_VALUES = 1e8 values are generated).
    seed  : None, an int >= 0 or a numpy.random.Generator, for the default input.
    A stateful model is predicted three times in a row (state carried), reset, and
    predicted again, against elman's stateful runner; its state is restored afterwards.
    An output (or a difference) that is NaN or inf fails the check: the report's
    ``note`` says which side overflowed.
    """
    n_samples, n_steps = _count(n_samples, "n_samples"), _count(n_steps, "n_steps")
    rng = _rng(seed)
    keras = import_keras()
    if isinstance(model, (str, os.PathLike)):
        model = load_keras_model(model)
    from .keras import from_keras  # looked up when called (elman.keras imports this module)

    with warnings.catch_warnings():  # the state is reset and restored below: nothing to warn of
        warnings.simplefilter("ignore", StateWarning)
        rnn = from_keras(model)
    with quiet():  # repeated predict calls make TensorFlow log tf.function retracing
        return _verify(keras, model, rnn, U, n_samples, n_steps, rng)


def _not_finite(who: str, label: str, y: np.ndarray) -> str:
    """'Keras's output holds inf (call 'predict', index (0, 0))' for the first bad value of y."""
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
    what = "NaN" if np.isnan(y[bad]) else "inf"
    return f"{who} output holds {what} ({label}, first at index {bad})"


def _verify(keras, model, rnn, U, n_samples, n_steps, rng) -> ParityReport:
    shape = tuple(model.inputs[0].shape)  # (batch or None, T or None, D)
    stateful = bool(stateful_layers(model))
    N = shape[0] if shape[0] is not None else n_samples
    T = shape[1] if shape[1] is not None else n_steps
    # model.predict casts NumPy input to keras.config.floatx() (float32 by default),
    # even for a float64 model; elman is given exactly what Keras sees.
    floatx = np.dtype(keras.config.floatx())
    batches = _verify_inputs(rnn, U, N, T, floatx, rng)
    if stateful and batches[0].shape[0] != N:
        raise ShapeError(f"U has {batches[0].shape[0]} samples but the stateful model's batch size is {N}")
    pairs = _predict_pairs(model, rnn, batches, stateful, N)
    return _parity_report(rnn, pairs, batches, stateful)


def _numpy_quiet():
    """An overflow is reported in the ParityReport (the check fails, the note says where):
    NumPy's own RuntimeWarnings would only repeat it, on stderr."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def _verify_inputs(rnn, U, N, T, floatx, rng) -> list:
    """The three input batches (N, T, D): given or drawn, rounded to what Keras sees."""
    if U is None:
        size = N * T * rnn.input_dim
        if size > MAX_VERIFY_VALUES:
            raise ParameterError(
                f"n_samples x n_steps x D = {N} x {T} x {rnn.input_dim} = {size:.3g} input values is above "
                f"the {MAX_VERIFY_VALUES:.0e} that verify_keras generates; expected fewer samples or steps "
                "(elman verify: --samples, --steps)"
            )
        batches = [rng.standard_normal((N, T, rnn.input_dim)) for _ in range(3)]
    else:
        X = _finite_as(_check_U(U, rnn.input_dim, np.float64), floatx, "U")  # what Keras will see
        batches = [_finite_as(X, rnn.dtype, "U")] * 3  # and what elman computes in
    return [X.astype(floatx).astype(rnn.dtype) for X in batches]


def _predict_pairs(model, rnn, batches, stateful: bool, N: int) -> list:
    """(label, Keras's output, elman's output) per predict call; a stateful model is called
    three times, reset, and called again, and its state restored afterwards."""
    pairs = []
    if stateful:
        saved = get_states(model)
        reset_states(model)
        runner = rnn.stateful(N)
        plan = [("call 1", batches[0]), ("call 2 (state carried)", batches[1]),
                ("call 3 (state carried)", batches[2]), ("reset", None), ("call 4 after reset", batches[0])]
        try:
            for label, X in plan:
                if X is None:
                    reset_states(model)
                    runner.reset()
                    continue
                y_k = np.asarray(model.predict(X, batch_size=N, verbose=0))
                with _numpy_quiet():
                    y_e = runner.predict(X)
                pairs.append((label, y_k, y_e))
        finally:  # as it was, unchecked: a state that overflowed before is restored too
            for layer, z in zip(stateful_layers(model), saved):
                layer.states[0].assign(z)
    else:
        X = batches[0]
        y_k = np.asarray(model.predict(X, verbose=0))
        with _numpy_quiet():
            y_e = rnn.predict(X)
        pairs.append(("predict", y_k, y_e))
    return pairs


def _parity_report(rnn, pairs, batches, stateful: bool) -> ParityReport:
    """The errors of the calls against the tolerance of the least precise layer."""
    calls = []
    scale, note = 0.0, ""
    for label, y_k, y_e in pairs:
        if y_k.shape != y_e.shape:
            raise ShapeError(f"Keras returned {y_k.shape} but elman {y_e.shape} ({label}); please report this")
        with _numpy_quiet():
            diff = np.abs(y_k.astype(np.float64) - y_e.astype(np.float64))
        ok_k, ok_e = np.isfinite(y_k).all(), np.isfinite(y_e).all()
        if ok_k and ok_e and np.isfinite(diff).all():
            err = float(np.max(diff))
            scale = max(scale, float(np.max(np.abs(y_k.astype(np.float64)))))
        else:
            err = math.nan
            if not note:
                if not ok_k:
                    note = _not_finite("Keras's", label, y_k) + (", and so does elman's" if not ok_e else
                                                                 " but elman's does not")
                elif not ok_e:
                    note = _not_finite("elman's", label, y_e) + " but Keras's does not"
                else:
                    note = f"the difference of the outputs overflows ({label})"
                note += ": the model overflows on this input, and outputs that are not finite cannot be compared"
        calls.append((label, err))
    errs = [err for _, err in calls]
    max_abs = math.nan if any(math.isnan(e) for e in errs) else max(errs)
    # The least precise layer sets what can be expected: a float64 RNN under a float32
    # Dense returns float32 numbers.
    y_dtype = np.result_type(*(y_k.dtype for _, y_k, _ in pairs))
    tol = 1e-12 if y_dtype == np.float64 and rnn.dtype == np.float64 else 1e-5
    layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
    if tol < 1e-8 and "gelu" in {l.activation for l in layers} | {rnn.output_activation}:
        tol = 1e-8  # TensorFlow's float64 erfc is good to ~5e-9 only (see elman.activations)
    finite = not note
    return ParityReport(
        max_abs_err=max_abs,
        max_rel_err=max_abs / scale if scale > 0 and finite else max_abs,
        tolerance=tol,
        passed=bool(finite and max_abs <= tol * max(1.0, scale)),
        dtype=np.dtype(y_dtype).name,
        input_shape=tuple(batches[0].shape),
        output_shape=tuple(pairs[0][1].shape),
        stateful=stateful,
        model_kind=type(rnn).__name__,
        calls=tuple(calls),
        note=note,
    )
