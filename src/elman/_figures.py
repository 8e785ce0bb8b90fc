"""The Axes a plot function draws on, shared by elman.plot and its private plot modules."""

from __future__ import annotations

from .errors import require

__all__ = ["axes", "states_of"]


def axes(ax, figsize=(8, 4)):
    """``ax`` itself, or the Axes of a new figure of ``figsize`` (matplotlib imported here,
    with the install hint when it is missing)."""
    if ax is not None:
        return ax
    plt = require("matplotlib.pyplot", "plot")
    _, ax = plt.subplots(figsize=figsize)
    return ax


def states_of(states):
    """The states array that a plot of states draws: a Trajectory's (refused for a
    StackedRNN's, which holds one array per layer), or ``states`` as given."""
    from .errors import ParameterError
    from .model import Trajectory

    if not isinstance(states, Trajectory):
        return states
    if isinstance(states.states, tuple):
        raise ParameterError(f"this Trajectory is a StackedRNN's, with one states array per layer "
                             f"({len(states.states)}); pass one of them, e.g. trajectory.states[-1]")
    return states.states
