"""The training losses, Keras's, each with its derivative: one table that the NumPy
reference and the compiled kernel both read.

For the error e = y_hat - y of one entry and its weight w (``sample_weight``)::

    mse    l(e) = e^2                                   l'(e) = 2 e
    mae    l(e) = |e|                                   l'(e) = sign(e)
    huber  l(e) = e^2 / 2          if |e| <= delta      l'(e) = e
                  delta |e| - delta^2 / 2  otherwise            delta sign(e)

with Keras's default reduction: the mean over the outputs of each sample (and step),
weighted, summed and divided by the number of those entries. ``delta`` is Keras's
default, 1.

``Loss.c_value`` / ``Loss.c_grad`` are the same formulas as C expressions in ``e`` and
``delta`` (double precision), from which the compiled kernel's loss switch is generated;
``code`` is the loss's place in the table, the kernel's switch value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ParameterError

__all__ = ["Loss", "LOSSES", "ALIASES", "HUBER_DELTA", "get", "names"]

#: Huber's delta, Keras's default.
HUBER_DELTA = 1.0


@dataclass(frozen=True)
class Loss:
    """A loss: ``terms(e, w, delta) -> (sum of w l(e), w l'(e))`` on arrays, and the same
    per entry as C expressions (``c_value``, ``c_grad``, in ``e`` and ``delta``)."""

    name: str
    terms: Callable
    c_value: str
    c_grad: str

    @property
    def code(self) -> int:
        return names().index(self.name)

    def __call__(self, e: np.ndarray, w, delta: float = HUBER_DELTA):
        return self.terms(e, w, delta)


def _mse(e, w, delta):
    return float(np.sum(w * e * e)), 2 * w * e


def _mae(e, w, delta):
    return float(np.sum(w * np.abs(e))), w * np.sign(e)


def _huber(e, w, delta):
    a = np.abs(e)
    quad = a <= delta
    value = np.where(quad, 0.5 * e * e, delta * a - 0.5 * delta * delta)
    return float(np.sum(w * value)), w * np.where(quad, e, delta * np.sign(e))


_SIGN = "((e > 0) - (e < 0))"

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (
    Loss("mse", _mse, "e * e", "2 * e"),
    Loss("mae", _mae, "fabs(e)", _SIGN),
    Loss("huber", _huber, "(fabs(e) <= delta ? 0.5 * e * e : delta * fabs(e) - 0.5 * delta * delta)",
         f"(fabs(e) <= delta ? e : delta * {_SIGN})"),
)}

#: Keras's long names for the same losses.
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def names() -> tuple[str, ...]:
    """The loss names, in the table's (and the kernel's) order."""
    return tuple(LOSSES)


def get(loss) -> Loss:
    """The loss called ``loss`` ("mse", "mae", "huber" or a Keras long name)."""
    if isinstance(loss, Loss):
        return loss
    name = ALIASES.get(loss, loss) if isinstance(loss, str) else None
    if name not in LOSSES:
        raise ParameterError(f"loss must be one of {sorted(LOSSES)}, got {loss!r} (Keras's long names "
                             f"{', '.join(sorted(ALIASES))} are accepted too)")
    return LOSSES[name]
