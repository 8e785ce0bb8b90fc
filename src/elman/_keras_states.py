"""The states of a stateful Keras model (for :mod:`elman.keras`): reset, get and set
them layer by layer (Keras 3 has no model-level reset)."""

from __future__ import annotations

import numpy as np

from ._keras_read import import_keras, layers_in_order, to_numpy
from .errors import InputTypeError, ShapeError
from .validation import _finite_as, _numeric

__all__ = ["stateful_layers", "reset_states", "current_states", "get_states", "set_states"]


def stateful_layers(model) -> list:
    """The stateful recurrent layers of a Keras model (or layer), in call order."""
    keras = import_keras()
    if not isinstance(model, keras.layers.Layer):
        raise InputTypeError(f"model must be a keras.Model (or a Keras recurrent layer), got {type(model).__name__}")
    return [l for l in layers_in_order(model) if isinstance(l, keras.layers.RNN) and l.stateful]


def reset_states(model) -> None:
    """Zero the state of every stateful recurrent layer (Keras 3 has no model-level reset)."""
    for layer in stateful_layers(model):
        layer.reset_state()


def current_states(model) -> list:
    """get_states, with None for a layer whose state does not exist yet."""
    out = []
    for layer in stateful_layers(model):
        states = getattr(layer, "states", None)
        out.append(to_numpy(states[0]).copy() if states else None)
    return out


def get_states(model) -> list[np.ndarray]:
    """The current state of each stateful recurrent layer, (batch, M_j) arrays in layer order."""
    return [to_numpy(layer.states[0]).copy() for layer in stateful_layers(model)]


def set_states(model, states) -> None:
    """Set the state of each stateful recurrent layer; ``states`` as ``get_states`` returns."""
    layers = stateful_layers(model)
    if not isinstance(states, (list, tuple)):
        raise InputTypeError(f"states must be a list of {len(layers)} arrays (one per stateful layer), "
                             f"got {type(states).__name__}")
    if len(states) != len(layers):
        raise ShapeError(f"states must be a list of {len(layers)} arrays (one per stateful layer), "
                         f"got {type(states).__name__} of length {len(states)}")
    checked = []
    for j, (layer, z) in enumerate(zip(layers, states)):  # all checked before any is set
        var = layer.states[0]
        z = _numeric(z, f"states[{j}]")
        if z.shape != tuple(var.shape):
            raise ShapeError(f"states[{j}] has shape {z.shape} but layer {layer.name!r} holds {tuple(var.shape)}")
        checked.append((var, _finite_as(z, np.dtype(str(var.dtype)), f"states[{j}]")))
    for var, z in checked:
        var.assign(z)
