"""The strict reading of a model file (for :mod:`elman.io`): the zip archive, its
``.npy`` members and the JSON metadata, each checked before it is used.

Loading is strict, in the spirit of ``np.load(allow_pickle=False)``: the file is
opened with :mod:`zipfile`, the metadata is read first (at most 1 MiB) and checked
key by key, and then only the members it names are read, each after its ``.npy``
header (dtype, shape, size) has been checked against the metadata and against what
the compressed size can honestly hold. A damaged or crafted file therefore costs
about its own size in memory and gets a one-line :class:`ModelFileError`.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
import zipfile
import zlib
from collections import Counter
from typing import Any

import numpy as np
from numpy.lib import format as _npy

from . import activations
from .errors import ModelFileError, one_line
from .validation import _check_file

__all__ = ["FORMAT_VERSION", "META", "META_MAX_BYTES", "Archive", "open_zip", "read_meta", "check_meta",
           "read_arrays", "check_shapes", "fail", "why", "no_duplicates"]

FORMAT_VERSION = 1

META = "__meta__.npy"
# The metadata member (UTF-32 text in an .npy) may be at most this big: notes in
# ``extra`` fit easily, and a crafted file cannot make the reader parse megabytes.
META_MAX_BYTES = 1 << 20
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


# --------------------------------------------------------------------------- helpers


def fail(path, detail: str) -> ModelFileError:
    return ModelFileError(f"{str(path)!r} is not a readable elman model: {detail}")



# deflate stream, compressed data that ends early, a failing disk.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def why(exc: BaseException) -> str:
    """``zipfile.BadZipFile: Bad CRC-32 ...``: the exception's type (with its module unless
    built in, so "zlib.error" is not a bare "error") and its message, on one line."""
    kind, module = type(exc).__qualname__, type(exc).__module__
    return f"{kind if module == 'builtins' else f'{module}.{kind}'}: {one_line(exc, 160)}"


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


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = next((k for k, c in Counter(keys).items() if c > 1), None)
    if dup is not None:
        raise ValueError(f"key {dup!r} appears twice in one object")
    return dict(pairs)


class Archive:
    """An open model file: member look-up with the checks that come before any read."""

    def __init__(self, path, zf: zipfile.ZipFile):
        self.path, self.zf = path, zf
        self.count = Counter(i.filename for i in zf.infolist())

    def has(self, name: str) -> bool:
        return name in self.count

    def info(self, name: str, what: str) -> zipfile.ZipInfo:
        if name not in self.count:
            raise fail(self.path, f"it has no member {name!r} ({what}); expected an .npz written by elman.save()")
        if self.count[name] > 1:
            raise fail(self.path, f"member {name!r} appears {self.count[name]} times; expected it once")
        info = self.zf.getinfo(name)
        if info.flag_bits & _ZIP_ENCRYPTED:
            raise fail(self.path, f"member {name!r} is marked encrypted; elman files are never encrypted")
        if info.flag_bits & _ZIP_PATCHED:
            raise fail(self.path, f"member {name!r} uses zip 'patched data' (flag 0x20); expected a plain member")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise fail(
                    self.path,
                    f"stored member {name!r} declares {info.file_size} bytes but holds {info.compress_size}; "
                    "expected them equal",
                )
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            # Checked before any read: a small file cannot claim gigabytes.
            if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + _DEFLATE_SLACK:
                raise fail(
                    self.path,
                    f"member {name!r} declares {info.file_size} bytes from {info.compress_size} compressed; "
                    f"expected at most {_DEFLATE_MAX_RATIO}:1 (deflate cannot expand more)",
                )
        else:
            raise fail(
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
            raise fail(self.path, f"member {info.filename!r} is damaged ({why(exc)})") from None
        except MemoryError:
            raise  # not a bad header: load() says so
        except Exception as exc:  # NumPy raises several kinds for a bad header
            raise fail(self.path, f"member {info.filename!r} has no valid .npy header ({why(exc)})") from None
        if any(type(n) is not int or n < 0 for n in shape):
            raise fail(self.path, f"member {info.filename!r} declares shape {shape!r}; expected non-negative integers")
        return shape, fortran, dtype, f.n

    def data(self, info: zipfile.ZipInfo, header_len: int, nbytes: int) -> bytes:
        """The bytes after the header; reading to the end makes zipfile check the CRC."""
        try:
            with self.zf.open(info) as f:
                raw = f.read(header_len + nbytes)
                extra = f.read(1)
        except _DAMAGE as exc:
            raise fail(self.path, f"member {info.filename!r} is damaged ({why(exc)})") from None
        if len(raw) != header_len + nbytes or extra:
            raise fail(
                self.path,
                f"member {info.filename!r} holds {len(raw) + len(extra)} bytes; expected {header_len + nbytes} (truncated?)",
            )
        return raw[header_len:]


def open_zip(path) -> zipfile.ZipFile:
    """The file opened as a zip, or a ModelFileError saying what it is instead."""
    _check_file(path, ModelFileError, "model file", "expected an .npz written by elman.save()")
    p = str(path)
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise fail(path, f"not a zip archive (truncated or foreign file?): {one_line(exc, 160)}") from None
    except OSError as exc:
        raise ModelFileError(f"model file {p!r} cannot be read: {exc.strerror or exc}") from None
    except MemoryError:
        raise
    except Exception as exc:  # a damaged central directory can raise others (ValueError, struct.error)
        raise fail(path, f"damaged zip directory (truncated or foreign file?): {why(exc)}") from None


# --------------------------------------------------------------------------- load: metadata


def read_meta(path, ar: Archive) -> dict[str, Any]:
    info = ar.info(META, "the metadata")
    if info.file_size > META_MAX_BYTES:
        raise fail(path, f"its metadata member is {info.file_size} bytes; expected at most {META_MAX_BYTES}")
    shape, _, dtype, hlen = ar.header(info)
    if dtype.kind != "U" or shape != ():
        raise fail(path, f"its metadata is an array of {dtype} and shape {shape}; expected one str")
    if hlen + dtype.itemsize != info.file_size:
        raise fail(path, f"its metadata member holds {info.file_size - hlen} bytes; expected {dtype.itemsize} for {dtype}")
    raw = ar.data(info, hlen, dtype.itemsize)
    little = dtype.byteorder == "<" or (dtype.byteorder == "=" and sys.byteorder == "little")
    try:
        # NumPy pads a str with NULs; JSON never holds one.
        text = raw.decode("utf-32-le" if little else "utf-32-be").rstrip("\x00")
        meta = json.loads(text, object_pairs_hook=no_duplicates)
    except RecursionError:
        raise fail(path, "its metadata JSON is nested too deeply; expected a flat JSON object") from None
    except ValueError as exc:  # bad UTF-32, bad JSON, duplicate keys, too many digits
        raise fail(path, f"its metadata is not valid JSON ({one_line(exc, 160)}); expected a JSON object") from None
    check_meta(path, meta)
    return meta


def check_meta(path, meta: Any) -> None:
    """Every key of the metadata, strictly; each refusal names the key, the value and what is allowed."""

    def bad(key: str, value: Any, expected: str) -> ModelFileError:
        return fail(path, f"metadata key {key!r} holds {_show(value)}; expected {expected}")

    if not isinstance(meta, dict):
        raise fail(path, f"its metadata is {_show(meta)}; expected a JSON object")
    if "format" not in meta:
        raise fail(path, "its metadata lacks key 'format'; expected an .npz written by elman.save()")
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
        raise fail(path, f"its metadata has unknown key {unknown[0]!r}; expected only {', '.join(_REQUIRED + _OPTIONAL)}")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise fail(path, f"its metadata lacks key {missing[0]!r}")
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
        raise fail(path, f"metadata key 'layers' holds {len(layers)} layers; expected exactly 1 for an ElmanRNN")
    for j, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise bad(f"layers[{j}]", layer, 'an object {"activation": ..., "go_backwards": ...}')
        extra_keys = sorted(set(layer) - set(_LAYER_KEYS))
        if extra_keys:
            raise fail(path, f"metadata key 'layers[{j}]' has unknown key {extra_keys[0]!r}; expected only activation, go_backwards")
        for key in _LAYER_KEYS:
            if key not in layer:
                raise fail(path, f"metadata key 'layers[{j}]' lacks key {key!r}")
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


def read_arrays(path, ar: Archive, meta: dict[str, Any]) -> dict[str, np.ndarray]:
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
            raise fail(path, f"array {name} has dtype {dtype}; expected {want} as the metadata says")
        nbytes = math.prod(shape) * dtype.itemsize
        if hlen + nbytes != info.file_size:
            raise fail(
                path,
                f"array {name} declares shape {shape} ({nbytes} bytes) but its member holds "
                f"{info.file_size - hlen} bytes; expected them equal",
            )
        heads[name] = (info, shape, fortran, dtype, hlen, nbytes)
    check_shapes(path, {k: h[1] for k, h in heads.items()}, len(meta["layers"]))
    arrays = {}
    for name, (info, shape, fortran, dtype, hlen, nbytes) in heads.items():
        raw = ar.data(info, hlen, nbytes)
        arrays[name] = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arrays


def check_shapes(path, shapes: dict[str, tuple], n_layers: int) -> None:
    """A (M, M), B (M, D), b (M,) per layer, D of layer j = M of layer j-1; C (K, M), d (K,)."""

    def bad(name: str, expected: str) -> ModelFileError:
        return fail(path, f"array {name} has shape {shapes[name]}; expected {expected}")

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


