"""Recursive multi-step forecasts: each prediction is fed back as the next input."""

from __future__ import annotations

import numpy as np

from .errors import NonFiniteError, ParameterError, ShapeError
from .model import ElmanRNN, StackedRNN
from .validation import _check_model, _count, _finite_as, _numeric

__all__ = ["forecast"]

# A forecast runs the model once per step in Python (tens of microseconds each): 10**7
# steps take minutes, and the output is allocated up front; more is taken as a mistake
# (10**12 steps would run for years) and refused before anything is allocated.
_MAX_STEPS = 10**7
_MAX_VALUES = 10**8  # n_steps * D: 0.8 GB as float64


def forecast(rnn: ElmanRNN | StackedRNN, history, n_steps: int, *, steps: int | None = None) -> np.ndarray:
    """Forecast ``n_steps`` values past the end of ``history``.

    history : (L,) or (L, D) the most recent values, oldest first (scaled as in training).
    steps   : the window length the model was trained on; the last ``steps`` values are
              its input (default: all of ``history``).
    Each step predicts one value (a many-to-one model with K = D outputs), appends it to
    the window and drops the oldest value. Returns (n_steps,) for a 1-D history, else
    (n_steps, D).

    >>> rnn = ElmanRNN(A=[[0.0]], B=[[1.0]], b=[0.0], C=[[1.0]], d=[1.0], activation="linear")
    >>> forecast(rnn, [1.0, 2.0], 3, steps=1)    # y = last value + 1
    array([3., 4., 5.])
    """
    _check_model(rnn)
    h = _numeric(history, "history")
    if h.ndim not in (1, 2):
        raise ShapeError(f"history has shape {h.shape} but should be (L,) or (L, D)")
    if h.shape[0] == 0:
        raise ShapeError(f"history is empty (shape {h.shape}); expected at least one value, the last "
                         "`steps` of which are the model's input")
    # checked before the cast: 1e39 given to a float32 model is out of range, not NaN
    h = _finite_as(h, rnn.dtype, "history")
    one_d = h.ndim == 1
    if one_d:
        h = h[:, None]
    if h.shape[1] != rnn.input_dim:
        raise ShapeError(f"history has {h.shape[1]} features but the model expects D = {rnn.input_dim}")
    if rnn.output_dim != rnn.input_dim:
        raise ShapeError(
            f"the model predicts K = {rnn.output_dim} values but reads D = {rnn.input_dim}; a recursive "
            "forecast feeds predictions back, so K must equal D"
        )
    n_steps = _count(n_steps, "n_steps")
    if n_steps > _MAX_STEPS or n_steps * h.shape[1] > _MAX_VALUES:
        raise ParameterError(
            f"n_steps must be at most {min(_MAX_STEPS, _MAX_VALUES // h.shape[1]):,} for D = {h.shape[1]}, got "
            f"{n_steps:,}: each step is one model evaluation (tens of microseconds) and the forecast is kept "
            "in memory; forecast in parts, each continuing from the end of the last"
        )
    T = h.shape[0] if steps is None else steps
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or not 1 <= T <= h.shape[0]:
        raise ParameterError(f"steps must be an integer in [1, len(history) = {h.shape[0]}], got {steps!r}")
    window = h[-T:].copy()
    out = np.empty((n_steps, h.shape[1]), dtype=rnn.dtype)
    for i in range(n_steps):
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            y = rnn.predict(window[None], return_sequences=False)[0]
        if not np.all(np.isfinite(y)):
            # Fed back, a growing prediction eventually overflows; say so, not "bad input".
            last = out[i - 1] if i else window[-1]
            raise NonFiniteError(
                f"the forecast overflowed at step {i + 1} of n_steps = {n_steps}: the prediction became "
                f"{y.tolist()} after {last.tolist()}; the model's fed-back predictions grow without bound, "
                f"so forecast fewer steps (up to {i}) or check the model"
            )
        out[i] = y
        window = np.concatenate([window[1:], y[None]])
    return out[:, 0] if one_d else out
