"""Loading a ``.keras`` (or legacy ``.h5``) file for :mod:`elman.keras`: the path checked
first (a regular file with the right suffix, not an elman ``.npz`` renamed), then Keras's
own loader with ``safe_mode=True``, its failures in one line."""

from __future__ import annotations

import os
import zipfile
from typing import Any

from ._keras_read import import_keras
from .errors import ModelFileError, as_path
from .io import is_model_file
from .validation import _check_file

__all__ = ["load_keras_model"]


def load_keras_model(path) -> Any:
    """Load a ``.keras`` (or legacy ``.h5``) file with ``safe_mode=True`` (no code runs).

    The suffix is matched case-insensitively (``MODEL.KERAS`` loads). Only a regular
    file (or a link to one) is opened: a FIFO or a device would block or never end.
    An elman ``.npz`` renamed to ``.keras`` is refused with a hint to rename it back
    (it is not loaded as an elman model: this function returns a Keras model).
    """
    p = as_path(path)
    suffix = _checked_model_path(p)
    is_zip = zipfile.is_zipfile(p)
    if is_zip and is_model_file(p):
        raise ModelFileError(
            f"model file {str(p)!r} is an elman model saved with rnn.save(), not a Keras file; rename it to "
            ".npz and load it with elman.load()"
        )
    if suffix == ".keras" and not is_zip:
        raise ModelFileError(
            f"model file {str(p)!r} is not a .keras archive (not a zip file); expected a file saved by model.save()"
        )
    return _keras_load(p, suffix)


def _checked_model_path(p) -> str:
    """The lower-case suffix of a model path that is a regular file named .keras or .h5,
    or a ModelFileError saying what it is instead (a FIFO or a device would block)."""
    expected = "expected a .keras or .h5 file"
    # A directory is named as one before its suffix; a missing file after it.
    st = _check_file(p, ModelFileError, "model file", expected, directory="model file", missing_ok=True)
    suffix = p.suffix.lower()
    if suffix not in (".keras", ".h5"):
        raise ModelFileError(
            f"model file {str(p)!r} has suffix {p.suffix!r}; expected .keras (model.save) or .h5 (legacy)"
        )
    if st is None:
        raise ModelFileError(f"model file {str(p)!r} does not exist; expected a .keras file saved by model.save()")
    return suffix


def _keras_load(p, suffix: str):
    """keras.saving.load_model(safe_mode=True) of a checked file; its failures in one line."""
    keras = import_keras()
    try:
        if p.suffix == suffix:
            return keras.saving.load_model(p, compile=False, safe_mode=True)
        # Keras matches the suffix case-sensitively: load through a lower-case link (or copy).
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            q = os.path.join(tmp, "model" + suffix)
            try:
                os.symlink(os.path.abspath(p), q)
            except OSError:
                shutil.copyfile(p, q)
            return keras.saving.load_model(q, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds, often many lines: one short line instead
        text = str(exc)
        if "safe_mode" in text:
            raise ModelFileError(
                f"could not load Keras model {str(p)!r}: it holds Python code (a lambda or custom object), which "
                "safe_mode=True does not run and elman cannot reproduce"
            ) from None
        lines = [ln.strip().replace(str(p), "<file>") for ln in text.splitlines() if ln.strip()]
        first = lines[0] if lines else ""
        if len(first) > 120:
            first = first[:117] + "..."
        raise ModelFileError(f"could not load Keras model {str(p)!r}: {type(exc).__name__}: {first}") from None
