"""Optimizers whose updates are Keras 3's, formula for formula.

Each optimizer updates a flat parameter vector in place. ``segments`` cuts that vector
into the model's variables (A, B, b, C, d, ...), because Keras clips by norm per
variable. With g the (clipped) gradient, lr the learning rate and t = 1, 2, ... the
step number, Keras 3 computes:

SGD (momentum mu, optionally nesterov)::

    mu = 0:    p -= lr g
    else:      m = mu m - lr g;   p += m   (nesterov: p += mu m - lr g)

RMSprop (rho, epsilon, momentum mu, centered)::

    v = rho v + (1 - rho) g^2
    centered:  a = rho a + (1 - rho) g;   den = v - a^2 + eps     else  den = v + eps
    inc = lr g / sqrt(den)
    mu = 0:    p -= inc          else  m = mu m + inc;  p -= m

Adam (beta_1, beta_2, epsilon; epsilon outside the square root, bias correction
folded into the step size)::

    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m)(1 - beta_1);   v += (g^2 - v)(1 - beta_2)
    p -= alpha m / (sqrt(v) + eps)

Keras casts two kinds of Python numbers through float32 before they reach a float64
variable (``ops.cast`` of a Python float makes a float32 tensor first): SGD's
momentum, and the betas inside Adam's bias correction beta^t. So a float64 Keras
model trains with momentum 0.89999998 rather than 0.9; elman rounds the same numbers
the same way (``keras_cast``), to follow Keras step for step.

Clipping comes first, as Keras's ``clipnorm`` (each variable's gradient scaled to
norm at most c), ``global_clipnorm`` (all gradients scaled together) or
``clipvalue`` (each entry clipped to [-c, c]); at most one of the norm options.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .validation import _flag

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "get", "from_settings"]


def _positive(name: str, value, *, allow_none: bool = False, allow_zero: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        want = "a non-negative number" if allow_zero else "a positive number"
        raise ParameterError(f"{name} must be {want}, got {value!r}")
    return float(value)


def _fraction(name: str, value) -> float:
    v = _positive(name, value, allow_zero=True)
    if v >= 1:
        raise ParameterError(f"{name} must be in [0, 1), got {value!r}")
    return v


def keras_cast(x: float) -> float:
    """x as Keras's ``ops.cast(x, float64)`` of a Python float gives it: through float32."""
    return float(np.float32(x))


class Optimizer:
    """Base class: clipping, the step counter, and the state vectors."""

    def __init__(self, learning_rate: float = 0.001, *, clipnorm=None, clipvalue=None, global_clipnorm=None):
        self.learning_rate = _positive("learning_rate", learning_rate)
        self.clipnorm = _positive("clipnorm", clipnorm, allow_none=True)
        self.clipvalue = _positive("clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = _positive("global_clipnorm", global_clipnorm, allow_none=True)
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ParameterError("clipnorm and global_clipnorm cannot both be set (Keras refuses it too)")
        self.iterations = 0

    def _clip(self, g: np.ndarray, segments) -> np.ndarray:
        if self.clipnorm:
            g = g.copy()
            c = self.clipnorm
            for sl in segments:
                norm = np.sqrt(np.sum(g[sl] * g[sl]))
                # Keras: g c / max(|g|, c), with |g| = 0 left as 0.
                g[sl] = g[sl] * c / max(norm, c)
            return g
        if self.global_clipnorm:
            c = self.global_clipnorm
            norm = np.sqrt(np.sum(g * g))
            return g * (c * min(1.0 / norm, 1.0 / c) if norm > 0 else 1.0)
        if self.clipvalue:
            return np.clip(g, -self.clipvalue, self.clipvalue)
        return g

    def apply(self, params: np.ndarray, grads: np.ndarray, segments=None) -> None:
        """One update of ``params`` (a flat vector) in place; ``segments``: slices per variable."""
        if segments is None:
            segments = [slice(0, params.size)]
        g = self._clip(grads, segments)
        self._ensure_built(params)
        self._update(params, g)
        self.iterations += 1

    #: The names of the state vectors (``_m``, ``_v``, ... on the instance).
    _SLOTS: tuple[str, ...] = ()

    def _ensure_built(self, params: np.ndarray) -> None:
        """State vectors for ``params``: built as zeros for a vector of another size;
        converted to ``params``'s dtype when they were built for another (an optimizer
        reused from a float64 fit for a float32 one), whichever engine updates them."""
        if not hasattr(self, "_state_size") or self._state_size != params.size:
            self._build(params)
            self._state_size = params.size
        for name in self._SLOTS:
            arr = getattr(self, "_" + name)
            if arr.dtype != params.dtype:
                setattr(self, "_" + name, arr.astype(params.dtype))

    def slots(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """The state vectors for ``params`` (built as zeros if not built yet), by name:
        the arrays the updates change in place ("m" for SGD; "v", "a", "m" for RMSprop;
        "m", "v" for Adam), so that whoever updates them (the compiled kernel) and the
        next :meth:`apply` continue from the same state."""
        self._ensure_built(params)
        return {name: getattr(self, "_" + name) for name in self._SLOTS}

    def _build(self, params: np.ndarray) -> None:  # pragma: no cover - overridden
        pass

    def _update(self, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def config(self) -> dict:
        keys = [k for k in vars(self) if not k.startswith("_") and k != "iterations"]
        return {"name": type(self).__name__.lower(), **{k: getattr(self, k) for k in keys}}


class SGD(Optimizer):
    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **clip):
        super().__init__(learning_rate, **clip)
        self.momentum = _fraction("momentum", momentum)
        self.nesterov = _flag(nesterov, "nesterov")

    _SLOTS = ("m",)

    def _build(self, p):
        self._m = np.zeros_like(p)

    def _update(self, p, g):
        lr, mu = self.learning_rate, keras_cast(self.momentum)
        if mu == 0:
            p -= g * lr
            return
        m = self._m
        m *= mu
        m -= g * lr
        if self.nesterov:
            p += m * mu - g * lr
        else:
            p += m


class RMSprop(Optimizer):
    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **clip):
        super().__init__(learning_rate, **clip)
        self.rho = _fraction("rho", rho)
        self.momentum = _fraction("momentum", momentum)
        self.epsilon = _positive("epsilon", epsilon)
        self.centered = _flag(centered, "centered")

    _SLOTS = ("v", "a", "m")

    def _build(self, p):
        self._v, self._a, self._m = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)

    def _update(self, p, g):
        rho, v = self.rho, self._v
        v[:] = rho * v + (1 - rho) * (g * g)
        if self.centered:
            self._a[:] = rho * self._a + (1 - rho) * g
            den = v - self._a * self._a + self.epsilon
        else:
            den = v + self.epsilon
        inc = self.learning_rate * g / np.sqrt(den)
        if self.momentum > 0:
            self._m[:] = self.momentum * self._m + inc
            p -= self._m
        else:
            p -= inc


class Adam(Optimizer):
    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **clip):
        super().__init__(learning_rate, **clip)
        self.beta_1 = _fraction("beta_1", beta_1)
        self.beta_2 = _fraction("beta_2", beta_2)
        self.epsilon = _positive("epsilon", epsilon)

    _SLOTS = ("m", "v")

    def _build(self, p):
        self._m, self._v = np.zeros_like(p), np.zeros_like(p)

    def _update(self, p, g):
        t = self.iterations + 1
        b1t, b2t = keras_cast(self.beta_1) ** t, keras_cast(self.beta_2) ** t
        alpha = self.learning_rate * np.sqrt(1 - b2t) / (1 - b1t)
        m, v = self._m, self._v
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        p -= (m * alpha) / (np.sqrt(v) + self.epsilon)


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(optimizer, learning_rate: float | None = None, **kwargs) -> Optimizer:
    """An optimizer by name ("sgd", "rmsprop", "adam") or the instance itself."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if not isinstance(optimizer, str) or optimizer.lower() not in _BY_NAME:
        raise ParameterError(f"optimizer must be one of {sorted(_BY_NAME)} or an elman.optim.Optimizer, got {optimizer!r}")
    cls = _BY_NAME[optimizer.lower()]
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ParameterError(f"optimizer {optimizer!r} got an unknown option: {exc}") from None


def from_settings(optimizer, **settings) -> Optimizer:
    """The optimizer ``fit`` uses: one built from a name and ``settings`` (learning_rate
    None means 1e-3), or an instance as it is, which must come without settings (they
    would be silently ignored)."""
    if isinstance(optimizer, Optimizer):
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
    return get(optimizer, 1e-3 if lr is None else lr, **settings)
