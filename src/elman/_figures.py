"""The Axes a plot function draws on, shared by elman.plot and its private plot modules."""

from __future__ import annotations

from .errors import require

__all__ = ["axes"]


def axes(ax, figsize=(8, 4)):
    """``ax`` itself, or the Axes of a new figure of ``figsize`` (matplotlib imported here,
    with the install hint when it is missing)."""
    if ax is not None:
        return ax
    plt = require("matplotlib.pyplot", "plot")
    _, ax = plt.subplots(figsize=figsize)
    return ax
