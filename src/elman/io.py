"""Saving and loading models: an ``.npz`` of the matrices plus JSON metadata, no pickle.

The file holds arrays named ``layer{j}.A`` etc., and ``__meta__``, a JSON string with
the format version, the kind of model, activations and dtype. Writes go to a
temporary file in the same folder, then ``os.replace``: an interrupted save never
leaves a half-written model behind.
"""

from __future__ import annotations

import io as _io
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from . import __version__
from .errors import InputTypeError, ModelFileError, as_path
from .model import ElmanRNN, StackedRNN

__all__ = ["save", "load", "load_metadata", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def _arrays_and_meta(model) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if isinstance(model, ElmanRNN):
        layers, kind = [model], "ElmanRNN"
    elif isinstance(model, StackedRNN):
        layers, kind = list(model.layers), "StackedRNN"
    else:
        raise InputTypeError(f"model must be an ElmanRNN or StackedRNN, got {type(model).__name__}")
    arrays = {}
    for j, layer in enumerate(layers):
        for name in ("A", "B", "b"):
            arrays[f"layer{j}.{name}"] = getattr(layer, name)
    if model.C is not None:
        arrays["C"], arrays["d"] = model.C, model.d
    meta = {
        "format": "elman",
        "format_version": FORMAT_VERSION,
        "elman_version": __version__,
        "kind": kind,
        "dtype": model.dtype.name,
        "layers": [{"activation": l.activation, "go_backwards": l.go_backwards} for l in layers],
        "output_activation": model.output_activation,
        "return_sequences": model.return_sequences,
    }
    return arrays, meta


def save(model, path, *, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` (.npz), atomically. ``extra``: JSON-able notes kept in the metadata."""
    path = as_path(path)
    arrays, meta = _arrays_and_meta(model)
    if extra:
        meta["extra"] = extra
    buf = _io.BytesIO()
    np.savez(buf, __meta__=np.array(json.dumps(meta)), **arrays)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path) -> tuple[dict, dict]:
    p = as_path(path)
    if not p.is_file():
        raise ModelFileError(f"model file {str(p)!r} does not exist; expected an .npz written by rnn.save()")
    try:
        with np.load(p, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        meta = json.loads(str(data.pop("__meta__")))
        if meta.get("format") != "elman":
            raise ValueError("no elman metadata")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"format version {meta['format_version']} is newer than this elman reads")
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(
            f"{str(p)!r} is not a readable elman model (truncated or foreign file?): {type(exc).__name__}: {exc}"
        ) from None
    return data, meta


def load_metadata(path) -> dict[str, Any]:
    """The JSON metadata of a saved model: format, versions, activations, dtype, and the
    ``extra`` notes (scaler, window settings) of a training run."""
    return _read(path)[1]


def load(path) -> ElmanRNN | StackedRNN:
    """Read a model written by :func:`save`."""
    data, meta = _read(path)
    try:
        dt = np.dtype(meta["dtype"])
        layers = [
            ElmanRNN(data[f"layer{j}.A"], data[f"layer{j}.B"], data[f"layer{j}.b"],
                     activation=l["activation"], go_backwards=l["go_backwards"], dtype=dt)
            for j, l in enumerate(meta["layers"])
        ]
        C, d = data.get("C"), data.get("d")
        if meta["kind"] == "ElmanRNN":
            l = layers[0]
            return ElmanRNN(l.A, l.B, l.b, C, d, l.activation, meta["output_activation"],
                            meta["return_sequences"], go_backwards=l.go_backwards, dtype=dt)
        return StackedRNN(layers, C, d, meta["output_activation"], meta["return_sequences"], dtype=dt)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{str(path)!r} is an elman file with missing parts: {type(exc).__name__}: {exc}") from None
