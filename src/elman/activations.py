"""Element-wise activations by their Keras names, each with its derivative.

``get(name)`` returns an :class:`Activation` ``(name, f, df)`` where ``f(x)`` is the
activation and ``df(x)`` its derivative with respect to the pre-activation ``x``
(backpropagation through time needs ``s'(A z + B u + b)``). Both keep the dtype of
``x`` (float32 stays float32, so Keras parity is not spoiled by an upcast).

The formulas and constants are Keras 3's defaults: ``leaky_relu`` has slope 0.2,
``elu`` alpha 1, ``hard_sigmoid`` is ``relu6(x + 3) / 6``, ``gelu`` is the exact
(erf) form, ``selu`` uses the constants of Klambauer et al. (2017).

One known difference: TensorFlow's float64 ``erfc`` is accurate to about 5e-9, not
to the last digit, so a float64 Keras model with ``gelu`` agrees with elman (whose
erfc is the C library's) to about 1e-8 rather than 1e-12.

>>> import numpy as np
>>> get("relu").f(np.array([-1.0, 2.0]))
array([0., 2.])
>>> get(None).name
'linear'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import UnknownActivationError

__all__ = ["Activation", "get", "names", "ALIASES"]

Array = np.ndarray

# Constants of selu as TensorFlow defines them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
# TensorFlow passes leaky_relu's slope as a float32 attribute, so even a float64
# model multiplies by float32(0.2) = 0.20000000298...; we do the same.
_LEAKY_SLOPE = float(np.float32(0.2))
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """An element-wise activation: ``f`` and its derivative ``df``, by Keras name.

    ``c_f`` / ``c_df`` are the same two functions as C expressions in the double ``x``
    (``<math.h>`` and the constants of ``C_CONSTANTS``), from which the compiled
    training kernel's activation switch is generated (``python -m elman._gen_ckernel``);
    None for an activation the kernel does not know. ``c_df`` may also read ``y``, the
    value f(x) that the forward pass stored, where the derivative is a function of it
    (tanh: 1 - y^2, the same number as 1 - tanh(x)^2 without a second tanh).
    """

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array], Array]
    c_f: str | None = None
    c_df: str | None = None

    def __call__(self, x: Array) -> Array:
        return self.f(x)


def _ones_like(x: Array) -> Array:
    return np.ones_like(x)


def _linear(x: Array) -> Array:
    return x


def _dtanh(x: Array) -> Array:
    t = np.tanh(x)
    return 1 - t * t


def _sigmoid(x: Array) -> Array:
    # exp(-|x|) never overflows; the two branches are the same function.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _dsigmoid(x: Array) -> Array:
    s = _sigmoid(x)
    return s * (1 - s)


def _relu(x: Array) -> Array:
    return np.maximum(x, 0)


def _step(x: Array) -> Array:
    return (x > 0).astype(x.dtype)


def _hard_sigmoid(x: Array) -> Array:
    return np.clip(x + 3, 0, 6) / 6


def _dhard_sigmoid(x: Array) -> Array:
    return np.where((x > -3) & (x < 3), 1 / 6, 0).astype(x.dtype)


def _softplus(x: Array) -> Array:
    return np.logaddexp(0, x).astype(x.dtype, copy=False)


def _softsign(x: Array) -> Array:
    return x / (1 + np.abs(x))


def _dsoftsign(x: Array) -> Array:
    a = 1 + np.abs(x)
    return 1 / (a * a)


def _elu(x: Array) -> Array:
    # expm1 of min(x, 0) keeps the unused branch from overflowing.
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _delu(x: Array) -> Array:
    return np.where(x > 0, 1, np.exp(np.minimum(x, 0))).astype(x.dtype)


def _selu(x: Array) -> Array:
    neg = _SELU_ALPHA * np.expm1(np.minimum(x, 0))
    return _SELU_SCALE * np.where(x > 0, x, neg)


def _dselu(x: Array) -> Array:
    neg = _SELU_ALPHA * np.exp(np.minimum(x, 0))
    return (_SELU_SCALE * np.where(x > 0, 1, neg)).astype(x.dtype)


def _silu(x: Array) -> Array:
    return x * _sigmoid(x)


def _dsilu(x: Array) -> Array:
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _erfc(x: Array) -> Array:
    # The C library's erfc, element by element: the same digits whatever else is
    # installed (SciPy's vectorised erfc differs in the last bit here and there, and
    # results must not depend on whether a dependency of a dependency is present).
    return np.asarray(_ERFC(x), dtype=x.dtype)


def _gelu(x: Array) -> Array:
    # Phi(x) = erfc(-x / sqrt 2) / 2, written with erfc as TensorFlow does: no
    # cancellation in 1 + erf(x) for negative x.
    return 0.5 * x * _erfc(-x * _INV_SQRT2)


def _dgelu(x: Array) -> Array:
    cdf = 0.5 * _erfc(-x * _INV_SQRT2)
    pdf = _INV_SQRT2PI * np.exp(-0.5 * x * x)
    return cdf + x * pdf


def _relu6(x: Array) -> Array:
    return np.clip(x, 0, 6)


def _drelu6(x: Array) -> Array:
    return ((x > 0) & (x < 6)).astype(x.dtype)


def _leaky_relu(x: Array) -> Array:
    return np.where(x > 0, x, _LEAKY_SLOPE * x)


def _dleaky_relu(x: Array) -> Array:
    return np.where(x > 0, 1, _LEAKY_SLOPE).astype(x.dtype)


#: The constants the C expressions use, by their C names; the generated header defines
#: each with its double value written by repr() (the same double, digit for digit).
C_CONSTANTS = {
    "ELMAN_SELU_ALPHA": _SELU_ALPHA,
    "ELMAN_SELU_SCALE": _SELU_SCALE,
    "ELMAN_LEAKY_SLOPE": _LEAKY_SLOPE,
    "ELMAN_INV_SQRT2": _INV_SQRT2,
    "ELMAN_INV_SQRT2PI": _INV_SQRT2PI,
}

# The sigmoid's two branches in C, as _sigmoid: exp of -|x| only, never overflowing.
_C_SIG = "(x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)))"

_REGISTRY = {
    a.name: a
    for a in (
        Activation("linear", _linear, _ones_like, "x", "1.0"),
        Activation("tanh", np.tanh, _dtanh, "tanh(x)", "1.0 - y * y"),
        # x < 0 ? 0 : x keeps a NaN a NaN, as np.maximum does.
        Activation("relu", _relu, _step, "(x < 0 ? 0.0 : x)", "(x > 0 ? 1.0 : 0.0)"),
        Activation("sigmoid", _sigmoid, _dsigmoid, _C_SIG, "y * (1.0 - y)"),
        Activation("hard_sigmoid", _hard_sigmoid, _dhard_sigmoid, "fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0",
                   "(x > -3.0 && x < 3.0 ? 1.0 / 6.0 : 0.0)"),
        # np.logaddexp(0, x), branch for branch.
        Activation("softplus", _softplus, _sigmoid, "fmax(x, 0.0) + log1p(exp(-fabs(x)))", _C_SIG),
        Activation("softsign", _softsign, _dsoftsign, "x / (1.0 + fabs(x))",
                   "1.0 / ((1.0 + fabs(x)) * (1.0 + fabs(x)))"),
        Activation("elu", _elu, _delu, "(x > 0 ? x : expm1(x))", "(x > 0 ? 1.0 : exp(x))"),
        Activation("selu", _selu, _dselu, "ELMAN_SELU_SCALE * (x > 0 ? x : ELMAN_SELU_ALPHA * expm1(x))",
                   "ELMAN_SELU_SCALE * (x > 0 ? 1.0 : ELMAN_SELU_ALPHA * exp(x))"),
        Activation("exponential", np.exp, np.exp, "exp(x)", "y"),
        Activation("silu", _silu, _dsilu, f"x * {_C_SIG}", f"{_C_SIG} * (1.0 + x * (1.0 - {_C_SIG}))"),
        Activation("gelu", _gelu, _dgelu, "0.5 * x * erfc(-x * ELMAN_INV_SQRT2)",
                   "0.5 * erfc(-x * ELMAN_INV_SQRT2) + x * (ELMAN_INV_SQRT2PI * exp(-0.5 * x * x))"),
        Activation("relu6", _relu6, _drelu6, "fmin(fmax(x, 0.0), 6.0)", "(x > 0 && x < 6.0 ? 1.0 : 0.0)"),
        Activation("leaky_relu", _leaky_relu, _dleaky_relu, "(x > 0 ? x : ELMAN_LEAKY_SLOPE * x)",
                   "(x > 0 ? 1.0 : ELMAN_LEAKY_SLOPE)"),
    )
}

#: Other names Keras accepts for the same function.
ALIASES = {"swish": "silu", "identity": "linear"}


def names() -> tuple[str, ...]:
    """The canonical activation names elman supports, in a fixed order."""
    return tuple(_REGISTRY)


def get(name: str | Activation | None) -> Activation:
    """The activation called ``name`` (a Keras name; ``None`` means linear).

    Raises :class:`~elman.errors.UnknownActivationError` listing the known names.
    """
    if isinstance(name, Activation):
        return name
    if name is None:
        return _REGISTRY["linear"]
    if not isinstance(name, str):
        raise UnknownActivationError(
            f"activation must be a name (str) or None, got {type(name).__name__} {name!r}; "
            f"expected one of: {', '.join(names())}"
        )
    key = ALIASES.get(name.lower(), name.lower())
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownActivationError(
            f"activation {name!r} is not known; expected one of: {', '.join(names())} "
            f"(aliases: {', '.join(ALIASES)})"
        ) from None
