"""The exceptions elman raises.

Every error that comes from user input is one of these. Each subclasses the
built-in exception a caller would expect (``ValueError``, ``TypeError``,
``ImportError``, ``FileNotFoundError``) so ``except ValueError`` keeps working,
and each message names the argument, what was given and what was expected.

Which one, by what was wrong (the same case is the same class in every module):

- a model, an array, a path or a mapping of the wrong Python type (a string where a
  model is expected, a list of strings as data): :class:`InputTypeError`;
- a setting (a count, a flag, a seed, a rate, a name) that is not one of its allowed
  values, whatever its type: :class:`ParameterError`;
- an array of the wrong shape: :class:`ShapeError`; NaN or inf: :class:`NonFiniteError`.
"""

from __future__ import annotations

__all__ = [
    "ElmanError",
    "ShapeError",
    "NonFiniteError",
    "ParameterError",
    "InputTypeError",
    "UnknownActivationError",
    "UnsupportedModelError",
    "ModelFileError",
    "MissingDependencyError",
    "DataFileError",
    "DataError",
    "ElmanWarning",
    "DivergenceWarning",
    "FastPathWarning",
    "StateWarning",
]


class ElmanError(Exception):
    """Base class of every exception raised by elman."""


class ShapeError(ElmanError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class NonFiniteError(ElmanError, ValueError):
    """An array holds NaN or infinity where finite numbers are needed."""


class ParameterError(ElmanError, ValueError):
    """A scalar argument is out of range or of the wrong kind of value."""


class InputTypeError(ElmanError, TypeError):
    """An argument is not numeric (or not of the type the function needs)."""


class UnknownActivationError(ElmanError, ValueError):
    """An activation name that elman (and Keras) does not know."""


class UnsupportedModelError(ElmanError, ValueError):
    """A Keras model holds a layer or a setting that elman cannot reproduce."""


class ModelFileError(ElmanError, FileNotFoundError):
    """A model file is missing, unreadable or not a model."""


class DataFileError(ElmanError, FileNotFoundError):
    """A data file is missing or cannot be read."""


class DataError(ElmanError, ValueError):
    """A data file's content is broken: a missing column, an empty or non-numeric cell."""


class OutputError(ElmanError, OSError):
    """An output file or folder cannot be written (exists as a file, not writable, full)."""


class MissingDependencyError(ElmanError, ImportError):
    """An optional dependency (Keras, matplotlib, ...) is not installed."""


class ElmanWarning(UserWarning):
    """Base class of the warnings elman gives (filter them all with this)."""


class DivergenceWarning(ElmanWarning, RuntimeWarning):
    """Training stopped because the loss or the weights became NaN or inf."""


class FastPathWarning(ElmanWarning, RuntimeWarning):
    """The compiled training kernel (built at install) is missing or cannot be loaded; the
    NumPy engine is used instead (same results, slower for small models)."""


class StateWarning(ElmanWarning):
    """A stateful Keras model's current (nonzero) state is not carried by the conversion."""


def require(module: str, extra: str):
    """Import an optional dependency, or say which extra installs it.

    >>> require("math", "dev").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module!r} is needed here but is not installed ({exc}); "
            f"install it with: pip install 'elman[{extra}]'"
        ) from exc


def as_path(path):
    """``path`` as a :class:`pathlib.Path`, or an InputTypeError naming what it was.

    >>> as_path("model.npz").suffix
    '.npz'
    """
    import os
    from pathlib import Path

    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message on one line, for a one-line error: an operating system
    error by its reason and file (``No such file or directory: 'x'``), anything else by
    its message with line breaks folded; cut to ``limit`` characters when given.

    >>> one_line(ValueError("two\\nlines"))
    'two lines'
    """
    if isinstance(exc, OSError) and not isinstance(exc, ElmanError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    else:
        text = " ".join(str(exc).split())
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
