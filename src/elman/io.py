"""Saving and loading models: an ``.npz`` of the matrices plus JSON metadata, no pickle.

The file holds arrays named ``layer{j}.A`` etc., and ``__meta__``, a JSON string with
the format version, the kind of model, activations and dtype. Writes go to a
temporary file in the same folder, then ``os.replace``: an interrupted save never
leaves a half-written model behind.

Loading is strict (:mod:`elman._npz` reads the file): the metadata first, checked key by
key, then only the members it names, each after its ``.npy`` header has been checked. A
damaged or crafted file gets a one-line :class:`ModelFileError`.
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import os
import secrets
import stat
import zipfile
from typing import Any

import numpy as np

from . import __version__
from ._npz import (
    FORMAT_VERSION,
    META,
    META_MAX_BYTES,
    Archive,
    fail,
    no_duplicates,
    open_zip,
    read_arrays,
    read_meta,
    why,
)
from .errors import ElmanError, InputTypeError, ModelFileError, OutputError, ParameterError, as_path, one_line
from .model import ElmanRNN
from .stacked import StackedRNN, from_layers
from .validation import _check_model, _file_kind

__all__ = ["save", "load", "load_metadata", "is_model_file", "FORMAT_VERSION"]


# --------------------------------------------------------------------------- save


def _arrays_and_meta(model) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    _check_model(model, "model")
    layers = list(model.layers) if isinstance(model, StackedRNN) else [model]
    kind = type(model).__name__
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


def _meta_text(meta: dict[str, Any], extra) -> str:
    """The metadata as JSON; refuses an ``extra`` that :func:`load` would refuse."""
    if extra is not None and not isinstance(extra, dict):
        raise InputTypeError(f"extra must be a dict of JSON-able notes, got {type(extra).__name__}")
    if extra:
        meta["extra"] = extra
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"extra must hold only JSON-able values (dict, list, str, number, bool, None): {exc}") from None
    try:  # keys 1 and "1" both become "1" in JSON, which load() refuses as a duplicate
        json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as exc:
        raise InputTypeError(f"extra cannot be written as JSON: {exc} (keys become strings: 1 and '1' collide)") from None
    # np.save stores the str as UTF-32: 4 bytes a character (json.dumps writes ASCII).
    if 4 * len(text) > META_MAX_BYTES - 1024:
        raise ParameterError(
            f"extra is too large ({len(text)} characters of JSON metadata); "
            f"the metadata must stay under {(META_MAX_BYTES - 1024) // 4} characters"
        )
    return text


def _new_temp_file(folder: str, name: str) -> tuple[int, str]:
    """Create an empty temporary file next to the target, with a new file's permissions.

    ``tempfile.mkstemp`` would give mode 0600; ``os.open`` with 0o666 lets the kernel
    apply the umask (and a folder's default ACL) exactly as for any new file, with no
    window in which the umask is read or changed.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    raise FileExistsError(f"no free temporary file name in {folder!r}")  # pragma: no cover


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); best effort, not every system allows it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _save_target(path):
    """The file that save() replaces: ``path``, or the regular file a symbolic link at
    ``path`` points to (so the link stays a link). Anything else that exists there (a
    FIFO, a device, a socket, a directory, a dangling link) is refused: ``os.replace``
    would put a regular file in its place, and /dev/null is not a model file."""
    p = str(path)
    if "\x00" in p:
        raise ModelFileError(
            f"cannot write model file {p!r}: the path contains a null byte; expected a file name without one"
        )
    try:
        lst = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return path  # a new file; a missing folder is reported by the write
    except OSError as exc:
        raise ModelFileError(f"cannot write model file {p!r}: {exc.strerror or exc}") from None
    target = path
    if stat.S_ISLNK(lst.st_mode):
        target = type(path)(os.path.realpath(path))
        try:
            st = os.stat(target)
        except OSError as exc:
            raise ModelFileError(
                f"cannot write model file {p!r}: it is a symbolic link to {str(target)!r}, which cannot be "
                f"reached ({exc.strerror or exc}); expected a link to a regular file or a new file name"
            ) from None
    else:
        st = lst
    if not stat.S_ISREG(st.st_mode):
        what = f"is a symbolic link to {str(target)!r}," if target is not path else "exists and is"
        raise ModelFileError(
            f"cannot write model file {p!r}: it {what} {_file_kind(st.st_mode)}, not a regular file; "
            "expected a new file name or a model file to replace"
        )
    return target


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file beside it, then a
    rename. OutputError naming the path when the folder is missing or not writable."""
    p = as_path(path)
    folder = str(p.parent) if str(p.parent) else "."
    try:
        if p.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(p))
        fd, tmp = _new_temp_file(folder, p.name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from None


def is_model_file(path) -> bool:
    """Whether ``path`` is a regular file that looks like an elman model whatever its
    suffix: a zip holding ``__meta__.npy`` and no Keras ``config.json``. It opens the zip
    directory only; :func:`load` does the checking."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except Exception:  # not there, not a zip, damaged: not recognisably an elman model
        return False
    return META in names and "config.json" not in names


def save(model, path, *, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` (.npz), atomically. ``extra``: JSON-able notes kept in the metadata.

    The file gets the permissions of any new file (0o666 less the umask). An existing
    regular file is replaced; a symbolic link to one is followed (the file it points
    to is replaced, the link stays a link); an existing FIFO, device, socket, directory
    or dangling link is refused with a ModelFileError and left as it is.
    """
    path = as_path(path)
    arrays, meta = _arrays_and_meta(model)
    text = _meta_text(meta, extra)
    target = _save_target(path)
    buf = _io.BytesIO()
    np.savez(buf, __meta__=np.array(text), **arrays)
    folder = str(target.parent)
    tmp = None
    try:
        fd, tmp = _new_temp_file(folder, target.name)
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
        _fsync_folder(folder)
    except OSError as exc:
        # A ModelFileError is an OSError too, so ``except OSError`` still catches it.
        raise ModelFileError(
            f"cannot write model file {str(path)!r}: {exc.strerror or exc}"
        ) from exc
    finally:
        if tmp is not None and os.path.exists(tmp):  # interrupted: leave nothing behind
            os.unlink(tmp)



# --------------------------------------------------------------------------- load


def _build(path, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
    dt = np.dtype(meta["dtype"])
    layers = []
    for j, l in enumerate(meta["layers"]):
        try:
            layers.append(ElmanRNN(arrays[f"layer{j}.A"], arrays[f"layer{j}.B"], arrays[f"layer{j}.b"],
                                   activation=l["activation"], go_backwards=l["go_backwards"], dtype=dt))
        except ElmanError as exc:  # NaN in a matrix and the like
            raise fail(path, f"layer{j}: {one_line(exc, 160)}") from None
    # The file names its kind: a one-layer StackedRNN stays one (from_layers would make it an ElmanRNN).
    make = StackedRNN if meta["kind"] == "StackedRNN" else from_layers
    try:
        return make(layers, arrays.get("C"), arrays.get("d"), meta["output_activation"], meta["return_sequences"],
                    dtype=dt)
    except ElmanError as exc:
        raise fail(path, f"readout: {one_line(exc, 160)}") from None


def _guarded(path, read):
    """Run ``read``; whatever escapes the precise checks becomes a ModelFileError."""
    try:
        return read()
    except ElmanError:
        raise
    except MemoryError:
        raise fail(path, "it needs more memory than is available") from None
    except RecursionError:
        raise fail(path, "it is nested too deeply to read") from None
    except Exception as exc:  # the safety net: no other exception leaves load()
        raise fail(path, why(exc)) from None


def load_metadata(path) -> dict[str, Any]:
    """The JSON metadata of a saved model: format, versions, activations, dtype, and the
    ``extra`` notes (scaler, window settings) of a training run. Reads no arrays."""
    p = as_path(path)

    def read():
        with open_zip(p) as zf:
            return read_meta(p, Archive(p, zf))

    return _guarded(p, read)


def load(path) -> ElmanRNN | StackedRNN:
    """Read a model written by :func:`save`.

    Raises :class:`~elman.errors.ModelFileError` (one line naming the file, what is
    wrong and what was expected) for a missing, damaged, foreign or crafted file.
    """
    p = as_path(path)

    def read():
        with open_zip(p) as zf:
            ar = Archive(p, zf)
            meta = read_meta(p, ar)
            arrays = read_arrays(p, ar, meta)
        return _build(p, meta, arrays)

    return _guarded(p, read)
