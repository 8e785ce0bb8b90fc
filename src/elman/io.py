"""Saving and loading models: an ``.npz`` of the matrices plus JSON metadata, no pickle.

The file holds arrays named ``layer{j}.A`` etc., and ``__meta__``, a JSON string with
the format version, the kind of model, activations and dtype. Writes go to a
temporary file in the same folder, then ``os.replace``: an interrupted save never
leaves a half-written model behind.

Loading is strict, in the spirit of ``np.load(allow_pickle=False)``: the file is
opened with :mod:`zipfile`, the metadata is read first (at most 1 MiB) and checked
key by key, and then only the members it names are read, each after its ``.npy``
header (dtype, shape, size) has been checked against the metadata and against what
the compressed size can honestly hold. A damaged or crafted file therefore costs
about its own size in memory and gets a one-line :class:`ModelFileError`.
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import secrets
import stat
import sys
import warnings
import zipfile
import zlib
from collections import Counter
from typing import Any

import numpy as np
from numpy.lib import format as _npy

from . import __version__, activations
from .errors import ElmanError, InputTypeError, ModelFileError, ParameterError, as_path
from .model import ElmanRNN, StackedRNN

__all__ = ["save", "load", "load_metadata", "is_model_file", "FORMAT_VERSION"]

FORMAT_VERSION = 1

_META = "__meta__.npy"
# The metadata member (UTF-32 text in an .npy) may be at most this big: notes in
# ``extra`` fit easily, and a crafted file cannot make the reader parse megabytes.
_META_MAX_BYTES = 1 << 20
# Deflate cannot expand more than 1032:1 (258 bytes per 2-bit code); a member that
# claims more is lying about its size. The constant covers a tiny stream's overhead.
_DEFLATE_MAX_RATIO = 1032
_DEFLATE_SLACK = 64
_NPY_MAX_HEADER = 10000  # NumPy's own limit for headers it parses safely
_ZIP_ENCRYPTED = 0x01 | 0x40  # traditional and strong encryption flags
_ZIP_PATCHED = 0x20  # "compressed patched data": no reader supports it
_KINDS = ("ElmanRNN", "StackedRNN")
_DTYPES = ("float32", "float64")
_REQUIRED = ("format", "format_version", "elman_version", "kind", "dtype", "layers",
             "output_activation", "return_sequences")
_OPTIONAL = ("extra",)
_LAYER_KEYS = ("activation", "go_backwards")


# --------------------------------------------------------------------------- save


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
        json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise InputTypeError(f"extra cannot be written as JSON: {exc} (keys become strings: 1 and '1' collide)") from None
    # np.save stores the str as UTF-32: 4 bytes a character (json.dumps writes ASCII).
    if 4 * len(text) > _META_MAX_BYTES - 1024:
        raise ParameterError(
            f"extra is too large ({len(text)} characters of JSON metadata); "
            f"the metadata must stay under {(_META_MAX_BYTES - 1024) // 4} characters"
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


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a FIFO (named pipe)")."""
    return next((what for test, what in _FILE_KINDS if test(mode)), "not a regular file")


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
    return _META in names and "config.json" not in names


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


# --------------------------------------------------------------------------- load: helpers


def _fail(path, detail: str) -> ModelFileError:
    return ModelFileError(f"{str(path)!r} is not a readable elman model: {detail}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."


# What zipfile and zlib raise for a damaged member: a bad CRC or local header, a broken
# deflate stream, compressed data that ends early, a failing disk.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def _why(exc: BaseException) -> str:
    """``zipfile.BadZipFile: Bad CRC-32 ...``: the exception's type (with its module unless
    built in, so "zlib.error" is not a bare "error") and its message, on one line."""
    kind, module = type(exc).__qualname__, type(exc).__module__
    return f"{kind if module == 'builtins' else f'{module}.{kind}'}: {_one_line(exc)}"


def _show(v: Any) -> str:
    """A JSON value for a message: short, one line, with its JSON type."""
    if v is None:
        return "null"
    kinds = {bool: "a bool", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    text = json.dumps(v)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kinds.get(type(v), type(v).__name__)})"


class _Counted:
    """A read-only stream that counts the bytes read, to know an .npy header's length."""

    def __init__(self, f):
        self._f, self.n = f, 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.n += len(data)
        return data


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = next((k for k, c in Counter(keys).items() if c > 1), None)
    if dup is not None:
        raise ValueError(f"key {dup!r} appears twice in one object")
    return dict(pairs)


class _Archive:
    """An open model file: member look-up with the checks that come before any read."""

    def __init__(self, path, zf: zipfile.ZipFile):
        self.path, self.zf = path, zf
        self.count = Counter(i.filename for i in zf.infolist())

    def has(self, name: str) -> bool:
        return name in self.count

    def info(self, name: str, what: str) -> zipfile.ZipInfo:
        if name not in self.count:
            raise _fail(self.path, f"it has no member {name!r} ({what}); expected an .npz written by elman.save()")
        if self.count[name] > 1:
            raise _fail(self.path, f"member {name!r} appears {self.count[name]} times; expected it once")
        info = self.zf.getinfo(name)
        if info.flag_bits & _ZIP_ENCRYPTED:
            raise _fail(self.path, f"member {name!r} is marked encrypted; elman files are never encrypted")
        if info.flag_bits & _ZIP_PATCHED:
            raise _fail(self.path, f"member {name!r} uses zip 'patched data' (flag 0x20); expected a plain member")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise _fail(
                    self.path,
                    f"stored member {name!r} declares {info.file_size} bytes but holds {info.compress_size}; "
                    "expected them equal",
                )
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            # Checked before any read: a small file cannot claim gigabytes.
            if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + _DEFLATE_SLACK:
                raise _fail(
                    self.path,
                    f"member {name!r} declares {info.file_size} bytes from {info.compress_size} compressed; "
                    f"expected at most {_DEFLATE_MAX_RATIO}:1 (deflate cannot expand more)",
                )
        else:
            raise _fail(
                self.path,
                f"member {name!r} uses zip compression method {info.compress_type}; "
                "expected stored (0) or deflate (8)",
            )
        return info

    def header(self, info: zipfile.ZipInfo):
        """(shape, fortran_order, dtype, header length) of an .npy member; reads only the header."""
        try:
            with self.zf.open(info) as raw, warnings.catch_warnings():
                # NumPy warns (and then guesses) on Python 2 headers: refuse them instead.
                warnings.simplefilter("error")
                f = _Counted(raw)
                version = _npy.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = _npy.read_array_header_1_0(f, max_header_size=_NPY_MAX_HEADER)
                elif version == (2, 0):
                    shape, fortran, dtype = _npy.read_array_header_2_0(f, max_header_size=_NPY_MAX_HEADER)
                else:
                    raise ValueError(f".npy format version {version[0]}.{version[1]}; expected 1.0 or 2.0")
        except _DAMAGE as exc:  # a small member is read whole, so its CRC is checked here
            raise _fail(self.path, f"member {info.filename!r} is damaged ({_why(exc)})") from None
        except MemoryError:
            raise  # not a bad header: load() says so
        except Exception as exc:  # NumPy raises several kinds for a bad header
            raise _fail(self.path, f"member {info.filename!r} has no valid .npy header ({_why(exc)})") from None
        if any(type(n) is not int or n < 0 for n in shape):
            raise _fail(self.path, f"member {info.filename!r} declares shape {shape!r}; expected non-negative integers")
        return shape, fortran, dtype, f.n

    def data(self, info: zipfile.ZipInfo, header_len: int, nbytes: int) -> bytes:
        """The bytes after the header; reading to the end makes zipfile check the CRC."""
        try:
            with self.zf.open(info) as f:
                raw = f.read(header_len + nbytes)
                extra = f.read(1)
        except _DAMAGE as exc:
            raise _fail(self.path, f"member {info.filename!r} is damaged ({_why(exc)})") from None
        if len(raw) != header_len + nbytes or extra:
            raise _fail(
                self.path,
                f"member {info.filename!r} holds {len(raw) + len(extra)} bytes; expected {header_len + nbytes} (truncated?)",
            )
        return raw[header_len:]


def _open(path) -> zipfile.ZipFile:
    """The file opened as a zip, or a ModelFileError saying what it is instead."""
    p = str(path)
    if "\x00" in p:
        raise ModelFileError(f"model file {p!r} contains a null byte; expected a file name without one")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ModelFileError(f"model file {p!r} does not exist; expected an .npz written by elman.save()") from None
    except OSError as exc:
        raise ModelFileError(f"model file {p!r} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"model file {p!r} is a directory, not a file; expected an .npz written by elman.save()")
    if not stat.S_ISREG(st.st_mode):
        # A pipe or device could block or never end.
        raise ModelFileError(f"model file {p!r} is not a regular file; expected an .npz written by elman.save()")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise _fail(path, f"not a zip archive (truncated or foreign file?): {_one_line(exc)}") from None
    except OSError as exc:
        raise ModelFileError(f"model file {p!r} cannot be read: {exc.strerror or exc}") from None
    except MemoryError:
        raise
    except Exception as exc:  # a damaged central directory can raise others (ValueError, struct.error)
        raise _fail(path, f"damaged zip directory (truncated or foreign file?): {_why(exc)}") from None


# --------------------------------------------------------------------------- load: metadata


def _read_meta(path, ar: _Archive) -> dict[str, Any]:
    info = ar.info(_META, "the metadata")
    if info.file_size > _META_MAX_BYTES:
        raise _fail(path, f"its metadata member is {info.file_size} bytes; expected at most {_META_MAX_BYTES}")
    shape, _, dtype, hlen = ar.header(info)
    if dtype.kind != "U" or shape != ():
        raise _fail(path, f"its metadata is an array of {dtype} and shape {shape}; expected one str")
    if hlen + dtype.itemsize != info.file_size:
        raise _fail(path, f"its metadata member holds {info.file_size - hlen} bytes; expected {dtype.itemsize} for {dtype}")
    raw = ar.data(info, hlen, dtype.itemsize)
    little = dtype.byteorder == "<" or (dtype.byteorder == "=" and sys.byteorder == "little")
    try:
        # NumPy pads a str with NULs; JSON never holds one.
        text = raw.decode("utf-32-le" if little else "utf-32-be").rstrip("\x00")
        meta = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise _fail(path, "its metadata JSON is nested too deeply; expected a flat JSON object") from None
    except ValueError as exc:  # bad UTF-32, bad JSON, duplicate keys, too many digits
        raise _fail(path, f"its metadata is not valid JSON ({_one_line(exc)}); expected a JSON object") from None
    _check_meta(path, meta)
    return meta


def _check_meta(path, meta: Any) -> None:
    """Every key of the metadata, strictly; each refusal names the key, the value and what is allowed."""

    def bad(key: str, value: Any, expected: str) -> ModelFileError:
        return _fail(path, f"metadata key {key!r} holds {_show(value)}; expected {expected}")

    if not isinstance(meta, dict):
        raise _fail(path, f"its metadata is {_show(meta)}; expected a JSON object")
    if "format" not in meta:
        raise _fail(path, "its metadata lacks key 'format'; expected an .npz written by elman.save()")
    if meta["format"] != "elman":
        raise bad("format", meta["format"], '"elman"')
    # The version comes before the other keys: a newer format may well have new keys.
    v = meta.get("format_version")
    if type(v) is not int or v < 1:
        raise bad("format_version", v, f"an integer from 1 to {FORMAT_VERSION}")
    if v > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by a newer elman (format version {v}); upgrade elman "
            f"(this one reads format versions 1 to {FORMAT_VERSION})"
        )
    unknown = sorted(set(meta) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise _fail(path, f"its metadata has unknown key {unknown[0]!r}; expected only {', '.join(_REQUIRED + _OPTIONAL)}")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise _fail(path, f"its metadata lacks key {missing[0]!r}")
    if not isinstance(meta["elman_version"], str):
        raise bad("elman_version", meta["elman_version"], "a string")
    if not isinstance(meta["kind"], str) or meta["kind"] not in _KINDS:
        raise bad("kind", meta["kind"], " or ".join(map(repr, _KINDS)))
    if not isinstance(meta["dtype"], str) or meta["dtype"] not in _DTYPES:
        raise bad("dtype", meta["dtype"], " or ".join(map(repr, _DTYPES)))
    known = activations.names()
    layers = meta["layers"]
    if not isinstance(layers, list) or not layers:
        raise bad("layers", layers, "a non-empty list of layer objects")
    if meta["kind"] == "ElmanRNN" and len(layers) != 1:
        raise _fail(path, f"metadata key 'layers' holds {len(layers)} layers; expected exactly 1 for an ElmanRNN")
    for j, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise bad(f"layers[{j}]", layer, 'an object {"activation": ..., "go_backwards": ...}')
        extra_keys = sorted(set(layer) - set(_LAYER_KEYS))
        if extra_keys:
            raise _fail(path, f"metadata key 'layers[{j}]' has unknown key {extra_keys[0]!r}; expected only activation, go_backwards")
        for key in _LAYER_KEYS:
            if key not in layer:
                raise _fail(path, f"metadata key 'layers[{j}]' lacks key {key!r}")
        if not isinstance(layer["activation"], str) or layer["activation"] not in known:
            raise bad(f"layers[{j}].activation", layer["activation"], f"one of {', '.join(known)}")
        if not isinstance(layer["go_backwards"], bool):
            raise bad(f"layers[{j}].go_backwards", layer["go_backwards"], "true or false (a JSON bool)")
    if not isinstance(meta["output_activation"], str) or meta["output_activation"] not in known:
        raise bad("output_activation", meta["output_activation"], f"one of {', '.join(known)}")
    if not isinstance(meta["return_sequences"], bool):
        raise bad("return_sequences", meta["return_sequences"], "true or false (a JSON bool)")
    if "extra" in meta and not isinstance(meta["extra"], dict):
        raise bad("extra", meta["extra"], "a JSON object")


# --------------------------------------------------------------------------- load: arrays


def _read_arrays(path, ar: _Archive, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays the metadata names; every header is checked before any data is read."""
    want = np.dtype(meta["dtype"])
    names = [f"layer{j}.{x}" for j in range(len(meta["layers"])) for x in ("A", "B", "b")]
    if ar.has("C.npy") or ar.has("d.npy"):
        names += ["C", "d"]  # a readout needs both; info() names the one missing
    heads = {}
    for name in names:
        info = ar.info(f"{name}.npy", f"array {name}")
        shape, fortran, dtype, hlen = ar.header(info)
        if dtype.hasobject or dtype.type not in (np.float32, np.float64) or dtype.newbyteorder("=") != want:
            raise _fail(path, f"array {name} has dtype {dtype}; expected {want} as the metadata says")
        nbytes = math.prod(shape) * dtype.itemsize
        if hlen + nbytes != info.file_size:
            raise _fail(
                path,
                f"array {name} declares shape {shape} ({nbytes} bytes) but its member holds "
                f"{info.file_size - hlen} bytes; expected them equal",
            )
        heads[name] = (info, shape, fortran, dtype, hlen, nbytes)
    _check_shapes(path, {k: h[1] for k, h in heads.items()}, len(meta["layers"]))
    arrays = {}
    for name, (info, shape, fortran, dtype, hlen, nbytes) in heads.items():
        raw = ar.data(info, hlen, nbytes)
        arrays[name] = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arrays


def _check_shapes(path, shapes: dict[str, tuple], n_layers: int) -> None:
    """A (M, M), B (M, D), b (M,) per layer, D of layer j = M of layer j-1; C (K, M), d (K,)."""

    def bad(name: str, expected: str) -> ModelFileError:
        return _fail(path, f"array {name} has shape {shapes[name]}; expected {expected}")

    prev = None
    for j in range(n_layers):
        A, B, b = (shapes[f"layer{j}.{x}"] for x in "ABb")
        if len(A) != 2 or A[0] != A[1] or A[0] < 1:
            raise bad(f"layer{j}.A", "a square (M, M) with M >= 1")
        M = A[0]
        if len(B) != 2 or B[0] != M or B[1] < 1 or (prev is not None and B[1] != prev):
            if prev is None:
                raise bad(f"layer{j}.B", f"(M, D) = ({M}, D) with D >= 1")
            raise bad(f"layer{j}.B", f"(M, D) = ({M}, {prev}), D being layer{j - 1}'s M")
        if b != (M,):
            raise bad(f"layer{j}.b", f"(M,) = ({M},)")
        prev = M
    if "C" in shapes:
        C, d = shapes["C"], shapes["d"]
        if len(C) != 2 or C[1] != prev or C[0] < 1:
            raise bad("C", f"(K, M) = (K, {prev})")
        if d != (C[0],):
            raise bad("d", f"(K,) = ({C[0]},)")


def _build(path, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
    dt = np.dtype(meta["dtype"])
    layers = []
    for j, l in enumerate(meta["layers"]):
        try:
            layers.append(ElmanRNN(arrays[f"layer{j}.A"], arrays[f"layer{j}.B"], arrays[f"layer{j}.b"],
                                   activation=l["activation"], go_backwards=l["go_backwards"], dtype=dt))
        except ElmanError as exc:  # NaN in a matrix and the like
            raise _fail(path, f"layer{j}: {_one_line(exc)}") from None
    C, d = arrays.get("C"), arrays.get("d")
    try:
        if meta["kind"] == "ElmanRNN":
            l = layers[0]
            return ElmanRNN(l.A, l.B, l.b, C, d, l.activation, meta["output_activation"],
                            meta["return_sequences"], go_backwards=l.go_backwards, dtype=dt)
        return StackedRNN(layers, C, d, meta["output_activation"], meta["return_sequences"], dtype=dt)
    except ElmanError as exc:
        raise _fail(path, f"readout: {_one_line(exc)}") from None


def _guarded(path, read):
    """Run ``read``; whatever escapes the precise checks becomes a ModelFileError."""
    try:
        return read()
    except ElmanError:
        raise
    except MemoryError:
        raise _fail(path, "it needs more memory than is available") from None
    except RecursionError:
        raise _fail(path, "it is nested too deeply to read") from None
    except Exception as exc:  # the safety net: no other exception leaves load()
        raise _fail(path, _why(exc)) from None


def load_metadata(path) -> dict[str, Any]:
    """The JSON metadata of a saved model: format, versions, activations, dtype, and the
    ``extra`` notes (scaler, window settings) of a training run. Reads no arrays."""
    p = as_path(path)

    def read():
        with _open(p) as zf:
            return _read_meta(p, _Archive(p, zf))

    return _guarded(p, read)


def load(path) -> ElmanRNN | StackedRNN:
    """Read a model written by :func:`save`.

    Raises :class:`~elman.errors.ModelFileError` (one line naming the file, what is
    wrong and what was expected) for a missing, damaged, foreign or crafted file.
    """
    p = as_path(path)

    def read():
        with _open(p) as zf:
            ar = _Archive(p, zf)
            meta = _read_meta(p, ar)
            arrays = _read_arrays(p, ar, meta)
        return _build(p, meta, arrays)

    return _guarded(p, read)
