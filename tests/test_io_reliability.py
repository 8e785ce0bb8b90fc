"""elman.load is a strict, safe reader: a damaged, foreign or crafted model file gets a
one-line ModelFileError naming the file, what is wrong and what was expected, and never
makes the reader allocate more than the file can honestly hold. save writes a file with
a new file's permissions.

The bad files are made by rebuilding a valid saved model's zip with a small zip writer
(below) that can also lie: wrong sizes, flags, compression methods, raw deflate streams.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pytest

import elman
from elman import ElmanRNN, StackedRNN
from elman.errors import ElmanError, InputTypeError, ModelFileError
from elman.io import load_metadata

D, M1, M2, K = 2, 3, 4, 5


def stacked() -> StackedRNN:
    """The model every bad file starts from: D=2, M=(3, 4), K=5, float64, with a readout."""
    rng = np.random.default_rng(7)
    layers = [ElmanRNN.init(D, M1, seed=1), ElmanRNN.init(M1, M2, seed=2, activation="relu").replace(go_backwards=True)]
    return StackedRNN(layers, rng.standard_normal((K, M2)), rng.standard_normal(K), "sigmoid", True)


def same_model(a, b) -> bool:
    """Equal type, settings and matrices."""
    if type(a) is not type(b) or a.dtype != b.dtype or a.return_sequences != b.return_sequences:
        return False
    la = a.layers if isinstance(a, StackedRNN) else [a]
    lb = b.layers if isinstance(b, StackedRNN) else [b]
    pairs = [(x.config(), y.config()) for x, y in zip(la, lb)]
    mats = [(getattr(x, n), getattr(y, n)) for x, y in zip(la, lb) for n in "ABb"] + [(a.C, b.C), (a.d, b.d)]
    return (
        len(la) == len(lb)
        and a.output_activation == b.output_activation
        and all(x == y for x, y in pairs)
        and all((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y)) for x, y in mats)
    )


# --------------------------------------------------------------------------- a zip writer that can lie


@dataclass
class Entry:
    """One zip member as stored: ``payload`` are the bytes in the file (compressed or not)."""

    name: str
    payload: bytes
    method: int  # 0 stored, 8 deflate
    crc: int
    size: int  # the declared uncompressed size
    flags: int = 0


def entry(name: str, content: bytes, method: int = 0) -> Entry:
    """An honest member holding ``content``."""
    if method == 8:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
        payload = c.compress(content) + c.flush()
    else:
        payload = content
    return Entry(name, payload, method, zlib.crc32(content), len(content))


def zip_bytes(entries: list[Entry]) -> bytes:
    """A zip archive of exactly these entries, sizes and flags as given (no zip64)."""
    out, central = bytearray(), bytearray()
    for e in entries:
        name, offset = e.name.encode(), len(out)
        fields = (e.flags, e.method, 0, 0x21, e.crc, len(e.payload), e.size, len(name))
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, *fields, 0) + name + e.payload
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, *fields, 0, 0, 0, 0, 0, offset) + name
    n = len(entries)
    return bytes(out + central + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), len(out), 0))


def members(data: bytes) -> dict[str, bytes]:
    """The uncompressed members of a valid archive, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def npy(a, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, **kw)
    return buf.getvalue()


def npy_raw(header: str, body: bytes, version=(1, 0)) -> bytes:
    """An .npy with a hand-written header (padded as NumPy pads it)."""
    h = header.encode("latin1")
    h += b" " * (-(len(h) + 11) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(h)) + h + body


def meta_npy(meta) -> bytes:
    """A metadata member: the JSON text (or a str as given) in a 0-d str array, as save writes it."""
    return npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(model, bytes of its saved file, its metadata, its members)."""
    model = stacked()
    path = tmp_path_factory.mktemp("base") / "model.npz"
    elman.save(model, path, extra={"note": "base"})
    data = path.read_bytes()
    parts = members(data)
    meta = json.loads(str(np.load(io.BytesIO(parts["__meta__.npy"]))))
    return model, data, meta, parts


# --------------------------------------------------------------------------- the bad files


def edit_meta(**change):
    """The base file with these metadata keys set (None as a value deletes the key)."""

    def make(meta, parts):
        m = json.loads(json.dumps(meta))
        for k, v in change.items():
            if v is None:
                m.pop(k, None)
            else:
                m[k] = v
        return swap(parts, {"__meta__.npy": meta_npy(m)})

    return make


def edit_layer(j, **change):
    def make(meta, parts):
        m = json.loads(json.dumps(meta))
        m["layers"][j].update(change)
        for k in [k for k, v in change.items() if v is _DELETE]:
            del m["layers"][j][k]
        return swap(parts, {"__meta__.npy": meta_npy(m)})

    return make


class _Delete:
    """A value for edit_layer that removes the key instead."""

    def __repr__(self):
        return "DELETE"


_DELETE = _Delete()


def swap(parts, new: dict[str, bytes | None], method: int = 0) -> bytes:
    """The archive with some members replaced (None removes one), in the original order."""
    entries = [entry(n, new.get(n, c), method) for n, c in parts.items() if not (n in new and new[n] is None)]
    entries += [entry(n, c, method) for n, c in new.items() if n not in parts and c is not None]
    return zip_bytes(entries)


def swap_entry(parts, name: str, **change) -> bytes:
    """The archive with one member's zip fields changed (a lie about it)."""
    entries = [entry(n, c) for n, c in parts.items()]
    entries = [replace(e, **change) if e.name == name else e for e in entries]
    return zip_bytes(entries)


def swap_array(name, a, **kw):
    return lambda meta, parts: swap(parts, {f"{name}.npy": npy(a, **kw)})


def big_declared(method: int):
    """layer0.A whose header and zip size claim a (20000, 20000) float64: 3.2 GB from a few bytes."""

    def make(meta, parts):
        content = npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (20000, 20000), }", b"\0" * 72)
        e = entry("layer0.A.npy", content, method)
        claimed = len(content) - 72 + 20000 * 20000 * 8
        entries = [replace(e, size=claimed) if n == "layer0.A.npy" else entry(n, c) for n, c in parts.items()]
        return zip_bytes(entries)

    return make


def damaged_deflate(meta, parts):
    """layer0.A stored as a deflate stream that zlib refuses (block type 3 does not exist)."""
    e = entry("layer0.A.npy", parts["layer0.A.npy"], 8)
    return zip_bytes([replace(e, payload=b"\xff" * 40) if n == "layer0.A.npy" else entry(n, c) for n, c in parts.items()])


def cut_deflate(meta, parts):
    """layer0.A's deflate stream cut in half; the directory still says the full size."""
    e = entry("layer0.A.npy", parts["layer0.A.npy"], 8)
    e = replace(e, payload=e.payload[: len(e.payload) // 2])
    return zip_bytes([e if n == "layer0.A.npy" else entry(n, c) for n, c in parts.items()])


def flip_data_byte(meta, parts):
    """One byte of A's matrix changed after the CRC was computed."""
    entries = [entry(n, c) for n, c in parts.items()]
    e = next(e for e in entries if e.name == "layer0.A.npy")
    e.payload = e.payload[:-3] + bytes([e.payload[-3] ^ 0x10]) + e.payload[-2:]
    return zip_bytes(entries)


def real_zip(method):
    """The base members rewritten by zipfile itself with ``method`` (bzip2: valid zip, not elman's)."""

    def make(meta, parts):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method) as z:
            for n, c in parts.items():
                z.writestr(n, c)
        return buf.getvalue()

    return make


def nan_in(name, shape, where):
    a = np.random.default_rng(3).standard_normal(shape)
    a[where] = np.nan if "C" not in name else np.inf
    return swap_array(name, a)


def duplicate_member(meta, parts):
    return zip_bytes([entry(n, c) for n, c in parts.items()] + [entry("layer1.b.npy", npy(np.zeros(M2)))])


def truncated(meta, parts):
    data = swap(parts, {})
    return data[: len(data) // 2]


def foreign_zip(meta, parts):
    return zip_bytes([entry("readme.txt", b"hello"), entry("data.csv", b"1,2\n")])


def plain_npz(meta, parts):
    buf = io.BytesIO()
    np.savez(buf, a=np.ones(3))
    return buf.getvalue()


def edit_meta_to(value):
    """The base file with its metadata replaced by ``value`` (JSON-encoded unless a str)."""
    return lambda meta, parts: swap(parts, {"__meta__.npy": meta_npy(value)})


def deep_json(meta, parts):
    n = 100_000  # json's C parser recurses once a level
    return swap(parts, {"__meta__.npy": meta_npy("[" * n + "]" * n)})


def duplicate_json_key(meta, parts):
    text = json.dumps(meta)
    text = text[:-1] + ', "dtype": "float32"}'
    return swap(parts, {"__meta__.npy": meta_npy(text)})


# (id, how to make it from (meta, members) -> bytes, regex the message must match)
BAD = [
    # -- the container
    ("truncated to half", truncated, r"not a readable elman model: not a zip archive \(truncated or foreign file\?\)"),
    ("empty file", lambda meta, parts: b"", r"not a zip archive"),
    ("text file", lambda meta, parts: b"date,level\n2000,1\n", r"not a zip archive"),
    ("foreign zip", foreign_zip, r"has no member '__meta__\.npy' \(the metadata\); expected an \.npz written by elman\.save\(\)"),
    ("plain npz without metadata", plain_npz, r"has no member '__meta__\.npy'"),
    ("encrypted flag on an array", lambda meta, parts: swap_entry(parts, "layer0.A.npy", flags=1), r"member 'layer0\.A\.npy' is marked encrypted"),
    ("encrypted flag on the metadata", lambda meta, parts: swap_entry(parts, "__meta__.npy", flags=1), r"member '__meta__\.npy' is marked encrypted"),
    ("unknown compression method", lambda meta, parts: swap_entry(parts, "layer1.B.npy", method=99), r"member 'layer1\.B\.npy' uses zip compression method 99; expected stored \(0\) or deflate \(8\)"),
    ("bzip2 member", real_zip(zipfile.ZIP_BZIP2), r"uses zip compression method 12; expected stored \(0\) or deflate \(8\)"),
    ("damaged deflate stream", damaged_deflate, r"member 'layer0\.A\.npy' is damaged \(zlib\.error: Error -3 while decompressing data: invalid block type\)"),
    ("deflate stream cut short", cut_deflate, r"member 'layer0\.A\.npy' is damaged \((zipfile\.BadZipFile: Bad CRC-32|zlib\.error|EOFError)"),
    ("CRC mismatch", flip_data_byte, r"member 'layer0\.A\.npy' is damaged \(zipfile\.BadZipFile: Bad CRC-32 for file 'layer0\.A\.npy'\)"),
    ("stored member shorter than declared", lambda meta, parts: swap_entry(parts, "C.npy", size=10**6), r"stored member 'C\.npy' declares 1000000 bytes but holds \d+; expected them equal"),
    ("stored member claims 3.2 GB", big_declared(0), r"stored member 'layer0\.A\.npy' declares 3200000128 bytes but holds 200"),
    ("deflated member claims 3.2 GB", big_declared(8), r"member 'layer0\.A\.npy' declares 3200000128 bytes from \d+ compressed; expected at most 1032:1"),
    ("member twice", duplicate_member, r"member 'layer1\.b\.npy' appears 2 times; expected it once"),
    ("missing array", lambda meta, parts: swap(parts, {"layer1.B.npy": None}), r"has no member 'layer1\.B\.npy' \(array layer1\.B\)"),
    ("C without d", lambda meta, parts: swap(parts, {"d.npy": None}), r"has no member 'd\.npy' \(array d\)"),
    # -- the .npy headers
    ("huge shape in header", lambda meta, parts: swap(parts, {"layer0.A.npy": npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", b"\0" * 72)}),
     r"array layer0\.A declares shape \(1000000, 1000000\) \(8000000000000 bytes\) but its member holds 72 bytes; expected them equal"),
    ("negative shape", lambda meta, parts: swap(parts, {"layer0.A.npy": npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, -1), }", b"\0" * 8)}),
     r"member 'layer0\.A\.npy' declares shape \(-1, -1\); expected non-negative integers"),
    ("bad .npy magic", lambda meta, parts: swap(parts, {"layer0.b.npy": b"PK\x03\x04not an npy"}), r"member 'layer0\.b\.npy' has no valid \.npy header \(ValueError: the magic string is not correct"),
    ("npy format 3.0", lambda meta, parts: swap(parts, {"layer0.b.npy": npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", b"\0" * 24, (3, 0))}),
     r"has no valid \.npy header \(ValueError: \.npy format version 3\.0; expected 1\.0 or 2\.0\)"),
    ("Python 2 header", lambda meta, parts: swap(parts, {"layer0.b.npy": npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (3L,), }", b"\0" * 24)}),
     r"member 'layer0\.b\.npy' has no valid \.npy header \(UserWarning: Reading `\.npy`"),
    ("header not a dict", lambda meta, parts: swap(parts, {"layer0.b.npy": npy_raw("[1, 2, 3]", b"\0" * 24)}), r"has no valid \.npy header \(ValueError: Header is not a dictionary"),
    ("object array", swap_array("layer0.A", np.array([[1.0, None, 2.0]] * 3, dtype=object), allow_pickle=True), r"array layer0\.A has dtype object; expected float64 as the metadata says"),
    ("integer array", swap_array("layer0.A", np.ones((3, 3), dtype=np.int64)), r"array layer0\.A has dtype int64; expected float64"),
    ("float32 array in a float64 model", swap_array("d", np.ones(K, dtype=np.float32)), r"array d has dtype float32; expected float64 as the metadata says"),
    ("str array", swap_array("layer0.b", np.array(["a", "b", "c"])), r"array layer0\.b has dtype <U1; expected float64"),
    ("A not square", swap_array("layer0.A", np.ones((3, 4))), r"array layer0\.A has shape \(3, 4\); expected a square \(M, M\) with M >= 1"),
    ("A empty", swap_array("layer0.A", np.ones((0, 0))), r"array layer0\.A has shape \(0, 0\); expected a square \(M, M\) with M >= 1"),
    ("A 3-D", swap_array("layer0.A", np.ones((3, 3, 1))), r"array layer0\.A has shape \(3, 3, 1\); expected a square"),
    ("B rows", swap_array("layer0.B", np.ones((4, D))), r"array layer0\.B has shape \(4, 2\); expected \(M, D\) = \(3, D\) with D >= 1"),
    ("layer1.B does not take layer0's state", swap_array("layer1.B", np.ones((M2, 2))), r"array layer1\.B has shape \(4, 2\); expected \(M, D\) = \(4, 3\), D being layer0's M"),
    ("b length", swap_array("layer1.b", np.ones(3)), r"array layer1\.b has shape \(3,\); expected \(M,\) = \(4,\)"),
    ("C columns", swap_array("C", np.ones((K, 3))), r"array C has shape \(5, 3\); expected \(K, M\) = \(K, 4\)"),
    ("d length", swap_array("d", np.ones(4)), r"array d has shape \(4,\); expected \(K,\) = \(5,\)"),
    ("NaN in A", nan_in("layer1.A", (M2, M2), (1, 2)), r"layer1: A holds NaN or inf \(first at index \(1, 2\): nan\); expected finite numbers"),
    ("inf in C", nan_in("C", (K, M2), (0, 0)), r"readout: C holds NaN or inf"),
    # -- the metadata
    ("metadata is a list", edit_meta_to([1, 2]), r"its metadata is \[1, 2\] \(a list\); expected a JSON object"),
    ("metadata is a number", edit_meta_to(3), r"its metadata is 3 \(an integer\); expected a JSON object"),
    ("metadata not JSON", edit_meta_to("{'format': 'elman'}"), r"its metadata is not valid JSON \(Expecting property name"),
    ("metadata nested 100,000 deep", deep_json, r"its metadata JSON is nested too deeply; expected a flat JSON object"),
    ("metadata over 1 MiB", edit_meta_to("x" * 300_000), r"its metadata member is \d+ bytes; expected at most 1048576"),
    ("metadata header claims 400 MB", lambda meta, parts: swap(parts, {"__meta__.npy": npy_raw("{'descr': '<U100000000', 'fortran_order': False, 'shape': (), }", b"{}")}),
     r"its metadata member holds 2 bytes; expected 400000000 for <U100000000"),
    ("metadata not a str", lambda meta, parts: swap(parts, {"__meta__.npy": npy(np.ones(3))}), r"its metadata is an array of float64 and shape \(3,\); expected one str"),
    ("duplicate JSON key", duplicate_json_key, r"key 'dtype' appears twice in one object"),
    ("empty layers", edit_meta(layers=[]), r"metadata key 'layers' holds \[\] \(a list\); expected a non-empty list of layer objects"),
    ("layers an object", edit_meta(layers={"activation": "tanh"}), r"metadata key 'layers' holds \{\"activation\": \"tanh\"\} \(an object\); expected a non-empty list"),
    ("no format", edit_meta(format=None), r"its metadata lacks key 'format'"),
    ("foreign format", edit_meta(format="keras"), r"metadata key 'format' holds \"keras\" \(a string\); expected \"elman\""),
    ("newer format version", edit_meta(format_version=2), r"was written by a newer elman \(format version 2\); upgrade elman \(this one reads format versions 1 to 1\)"),
    ("format_version true", edit_meta(format_version=True), r"metadata key 'format_version' holds true \(a bool\); expected an integer from 1 to 1"),
    ("format_version 0", edit_meta(format_version=0), r"'format_version' holds 0 \(an integer\); expected an integer from 1"),
    ("format_version a string", edit_meta(format_version="1"), r"'format_version' holds \"1\" \(a string\)"),
    ("format_version 1.0", edit_meta(format_version=1.0), r"'format_version' holds 1\.0 \(a number\)"),
    ("unknown key", edit_meta(weights="inside"), r"its metadata has unknown key 'weights'; expected only format, format_version"),
    ("missing dtype", edit_meta(dtype=None), r"its metadata lacks key 'dtype'"),
    ("unknown kind", edit_meta(kind="LSTM"), r"metadata key 'kind' holds \"LSTM\" \(a string\); expected 'ElmanRNN' or 'StackedRNN'"),
    ("dtype float16", edit_meta(dtype="float16"), r"metadata key 'dtype' holds \"float16\" \(a string\); expected 'float32' or 'float64'"),
    ("dtype a list", edit_meta(dtype=["float64"]), r"metadata key 'dtype' holds \[\"float64\"\] \(a list\); expected 'float32' or 'float64'"),
    ("ElmanRNN with two layers", edit_meta(kind="ElmanRNN"), r"metadata key 'layers' holds 2 layers; expected exactly 1 for an ElmanRNN"),
    ("go_backwards the string false", edit_layer(0, go_backwards="false"), r"metadata key 'layers\[0\]\.go_backwards' holds \"false\" \(a string\); expected true or false \(a JSON bool\)"),
    ("go_backwards 0", edit_layer(1, go_backwards=0), r"'layers\[1\]\.go_backwards' holds 0 \(an integer\); expected true or false"),
    ("unknown activation", edit_layer(0, activation="tanhh"), r"'layers\[0\]\.activation' holds \"tanhh\" \(a string\); expected one of linear, tanh"),
    ("activation an alias", edit_layer(0, activation="swish"), r"'layers\[0\]\.activation' holds \"swish\""),
    ("activation null", edit_layer(1, activation=None), r"'layers\[1\]\.activation' holds null; expected one of linear, tanh"),
    ("layer lacks go_backwards", edit_layer(1, go_backwards=_DELETE), r"metadata key 'layers\[1\]' lacks key 'go_backwards'"),
    ("layer has unknown key", edit_layer(0, units=3), r"metadata key 'layers\[0\]' has unknown key 'units'; expected only activation, go_backwards"),
    ("layer not an object", edit_meta(layers=["tanh", "relu"]), r"metadata key 'layers\[0\]' holds \"tanh\" \(a string\); expected an object"),
    ("output_activation unknown", edit_meta(output_activation="softmax2"), r"'output_activation' holds \"softmax2\" \(a string\); expected one of"),
    ("return_sequences a string", edit_meta(return_sequences="yes"), r"'return_sequences' holds \"yes\" \(a string\); expected true or false"),
    ("elman_version a number", edit_meta(elman_version=0.1), r"'elman_version' holds 0\.1 \(a number\); expected a string"),
    ("extra a list", edit_meta(extra=[1, 2]), r"metadata key 'extra' holds \[1, 2\] \(a list\); expected a JSON object"),
    ("float32 metadata, float64 arrays", edit_meta(dtype="float32"), r"array layer0\.A has dtype float64; expected float32 as the metadata says"),
    ("three layers said, two stored", lambda meta, parts: edit_meta(layers=meta["layers"] + [meta["layers"][0]])(meta, parts), r"has no member 'layer2\.A\.npy' \(array layer2\.A\)"),
]


@pytest.mark.parametrize("what,make,pattern", BAD, ids=[c[0] for c in BAD])
def test_bad_file(tmp_path, base, what, make, pattern):
    _, _, meta, parts = base
    path = tmp_path / "bad.npz"
    path.write_bytes(make(meta, parts))
    with pytest.raises(ModelFileError, match=pattern) as info:
        elman.load(path)
    msg = str(info.value)
    assert msg.startswith(repr(str(path))) and "\n" not in msg and len(msg) < 400, msg
    e = info.value  # no chained NumPy/zipfile traceback behind it
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)


def test_enough_bad_cases():
    assert len(BAD) >= 20 and len({c[0] for c in BAD}) == len(BAD)


def test_zip_writer_is_faithful(base, tmp_path):
    """The writer itself is faithful: the base rebuilt with it loads as the original."""
    model, _, meta, parts = base
    for method in (0, 8):
        path = tmp_path / f"rebuilt{method}.npz"
        path.write_bytes(swap(parts, {}, method))
        assert same_model(elman.load(path), model)
        assert load_metadata(path) == meta


@pytest.mark.parametrize(
    "exc,pattern",
    [
        (MemoryError(), r"it needs more memory than is available"),
        (RecursionError("maximum recursion depth exceeded"), r"it is nested too deeply to read"),
        (KeyError("layer0.A"), r"KeyError: 'layer0\.A'"),
        (struct.error("unpack requires a buffer of 4 bytes"), r"struct\.error: unpack requires a buffer of 4 bytes"),
    ],
    ids=["MemoryError", "RecursionError", "KeyError", "struct.error"],
)
def test_safety_net_turns_any_other_error_into_a_model_file_error(tmp_path, base, monkeypatch, exc, pattern):
    """Whatever the precise checks miss still leaves load() as one ModelFileError naming the file."""
    _, data, _, _ = base
    path = tmp_path / "m.npz"
    path.write_bytes(data)

    def boom(*args):
        raise exc

    monkeypatch.setattr("elman._npz.check_shapes", boom)
    with pytest.raises(ModelFileError, match=rf"^'.*m\.npz' is not a readable elman model: {pattern}"):
        elman.load(path)
    monkeypatch.setattr("elman._npz.check_meta", boom)
    with pytest.raises(ModelFileError, match=pattern):
        load_metadata(path)


# --------------------------------------------------------------------------- paths


def test_directory_is_not_a_missing_file(tmp_path):
    folder = tmp_path / "model.npz"
    folder.mkdir()
    with pytest.raises(ModelFileError, match=r"model file '.*model\.npz' is a directory, not a file"):
        elman.load(folder)
    with pytest.raises(ModelFileError, match=r"does not exist"):
        elman.load(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match=r"does not exist"):
        elman.load(tmp_path / "model.npz" / "inner.npz")  # below a missing folder
    with pytest.raises(InputTypeError, match=r"path must be a str or os\.PathLike, got int"):
        elman.load(3)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match=r"is not a regular file"):
        elman.load(fifo)


@pytest.mark.parametrize("name", ["model.NPZ", "model.Npz", "model", "model.keras.bak"])
def test_suffix_does_not_matter(tmp_path, name):
    model = stacked()
    path = tmp_path / name
    elman.save(model, path)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert same_model(elman.load(path), model)
    assert same_model(elman.load(str(path)), model)


# --------------------------------------------------------------------------- memory


# zlib.crc32(bytes(1 << 30)): the CRC of 1 GiB of zeros, computed once (0.5 s) and kept.
_CRC_1GIB_ZEROS = 1533330096


def _deflated_zeros(n_mib: int) -> bytes:
    """A raw deflate stream of ``n_mib`` MiB of zeros, about 1 KiB a MiB, made in milliseconds.

    After a full flush the compressor forgets its past, so every further MiB of zeros
    compresses to the same bytes; the stream is the first piece, the repeated piece
    ``n_mib - 2`` times, and the last piece.
    """
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    middle = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(zeros) + c.flush(zlib.Z_FINISH)
    return first + middle * (n_mib - 2) + last


def test_deflated_zeros_helper_is_honest():
    stream = _deflated_zeros(8)
    out = zlib.decompressobj(-15).decompress(stream)
    assert out == bytes(8 << 20)


def test_unused_one_gib_member_is_never_read(tmp_path, base):
    """A 1 MB file with a 1 GiB member that the metadata does not name loads fast, in little memory."""
    model, _, _, parts = base
    junk = Entry("junk.npy", _deflated_zeros(1024), 8, _CRC_1GIB_ZEROS, 1 << 30)
    path = tmp_path / "junk.npz"
    path.write_bytes(zip_bytes([entry(n, c) for n, c in parts.items()] + [junk]))
    assert path.stat().st_size < 1_200_000
    with zipfile.ZipFile(path) as z:  # a true zip member: zipfile would give the whole GiB
        assert z.getinfo("junk.npy").file_size == 1 << 30
    tracemalloc.start()
    try:
        t = time.perf_counter()
        back = elman.load(path)
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert same_model(back, model)
    assert peak < 5_000_000, f"load allocated {peak} bytes for a {path.stat().st_size}-byte file"
    assert seconds < 2.0


@pytest.mark.parametrize("shape", [(10**6, 10**6), (2**62, 2), (10**40,)])
def test_huge_shape_in_a_header_is_not_allocated(tmp_path, base, shape):
    _, _, _, parts = base
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}"
    path = tmp_path / "huge.npz"
    path.write_bytes(swap(parts, {"layer0.A.npy": npy_raw(header, b"\0" * 72)}))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=rf"array layer0\.A declares shape {re.escape(str(shape))}"):
            elman.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_deflated_member_of_zeros_up_to_the_ratio_loads(tmp_path):
    """A real model whose matrices are all zeros compresses far, and still loads."""
    M = 300
    model = ElmanRNN(np.zeros((M, M)), np.zeros((M, 2)), np.zeros(M))
    path = tmp_path / "zeros.npz"
    model.save(path)
    path.write_bytes(swap(members(path.read_bytes()), {}, method=8))
    assert path.stat().st_size < 10_000
    assert same_model(elman.load(path), model)


# --------------------------------------------------------------------------- what must keep loading


@pytest.mark.parametrize(
    "make",
    [
        lambda: ElmanRNN.init(3, 5, 2, seed=0, activation="elu", output_activation="tanh", return_sequences=True),
        lambda: ElmanRNN.init(3, 5, seed=1),  # no readout
        lambda: ElmanRNN.init(3, 5, 2, seed=2).replace(go_backwards=True).astype(np.float32),
        lambda: stacked(),
        lambda: stacked().astype(np.float32),
        lambda: StackedRNN([ElmanRNN.init(2, 3, seed=3)]),  # one layer, no readout
    ],
    ids=["elman", "no readout", "backwards float32", "stacked", "stacked float32", "stacked one layer"],
)
@pytest.mark.parametrize("method", [0, 8], ids=["stored", "deflated"])
def test_round_trip(tmp_path, make, method):
    model = make()
    path = tmp_path / "m.npz"
    elman.save(model, path, extra={"scaler": {"min": [0.0], "max": [1.5]}, "steps": 12})
    if method == 8:  # the same members deflated, as np.savez_compressed writes them
        path.write_bytes(swap(members(path.read_bytes()), {}, method=8))
    back = elman.load(path)
    assert same_model(back, model)
    meta = load_metadata(path)
    assert meta["extra"] == {"scaler": {"min": [0.0], "max": [1.5]}, "steps": 12}
    assert meta["format_version"] == 1 and meta["dtype"] == model.dtype.name


def test_numpy_savez_compressed_and_other_byte_orders_load(tmp_path, base):
    """Files NumPy itself writes for the same arrays: compressed, big-endian, Fortran order."""
    model, _, meta, parts = base
    arrays = {n[:-4]: np.load(io.BytesIO(c)) for n, c in parts.items() if n != "__meta__.npy"}
    path = tmp_path / "np.npz"
    np.savez_compressed(path, __meta__=np.array(json.dumps(meta)), **arrays)
    assert same_model(elman.load(path), model)
    odd = {n: (a.astype(">f8") if n.endswith("A") else np.asfortranarray(a)) for n, a in arrays.items()}
    np.savez(path, __meta__=np.array(json.dumps(meta)), **odd)
    assert same_model(elman.load(path), model)


def test_extra_members_are_ignored(tmp_path, base):
    model, _, _, parts = base
    path = tmp_path / "more.npz"
    path.write_bytes(swap(parts, {"layer2.A.npy": npy(np.ones((9, 9))), "notes.txt": b"\xff" * 50}))
    assert same_model(elman.load(path), model)


def test_load_metadata_reads_no_array(tmp_path, base):
    _, _, meta, parts = base
    path = tmp_path / "m.npz"
    path.write_bytes(swap(parts, {"layer0.A.npy": b"not an npy"}))
    assert load_metadata(path) == meta
    with pytest.raises(ModelFileError, match=r"member 'layer0\.A\.npy' has no valid \.npy header"):
        elman.load(path)
    path.write_bytes(edit_layer(0, go_backwards="false")(meta, parts))
    with pytest.raises(ModelFileError, match=r"'layers\[0\]\.go_backwards' holds \"false\""):
        load_metadata(path)


def test_go_backwards_false_string_is_no_longer_true(tmp_path, base):
    """The string "false" used to load as go_backwards=True (bool("false")); now it is refused."""
    model, _, meta, parts = base
    path = tmp_path / "m.npz"
    for value, expect in [(False, False), (True, True)]:
        path.write_bytes(edit_layer(0, go_backwards=value)(meta, parts))
        assert elman.load(path).layers[0].go_backwards is expect
    for value in ["false", "true", 0, 1, None]:
        path.write_bytes(edit_layer(0, go_backwards=value)(meta, parts))
        with pytest.raises(ModelFileError, match=r"'layers\[0\]\.go_backwards' holds .*; expected true or false \(a JSON bool\)"):
            elman.load(path)


def test_save_refuses_what_load_would_refuse(tmp_path):
    model = ElmanRNN.init(2, 3, seed=0)
    with pytest.raises(InputTypeError, match=r"extra must be a dict of JSON-able notes, got list"):
        model.save(tmp_path / "m.npz", extra=[1, 2])
    with pytest.raises(InputTypeError, match=r"extra must hold only JSON-able values"):
        model.save(tmp_path / "m.npz", extra={"f": object()})
    with pytest.raises(ElmanError, match=r"extra is too large"):
        model.save(tmp_path / "m.npz", extra={"big": "x" * 300_000})
    with pytest.raises(InputTypeError, match=r"extra cannot be written as JSON: key '1' appears twice"):
        model.save(tmp_path / "m.npz", extra={1: "a", "1": "b"})
    assert list(tmp_path.iterdir()) == []
    model.save(tmp_path / "m.npz", extra={"big": "x" * 100_000})  # large but under the limit
    assert load_metadata(tmp_path / "m.npz")["extra"]["big"] == "x" * 100_000


# --------------------------------------------------------------------------- save


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077], ids=oct)
def test_saved_file_has_new_file_permissions(tmp_path, umask):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)  # an existing file's mode is not kept: the model is a new file
    old = os.umask(umask)
    try:
        elman.save(ElmanRNN.init(2, 3, seed=0), path)
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what any new file gets under this umask
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask == plain.stat().st_mode & 0o777
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "plain.txt"]


def test_save_into_a_missing_folder_names_the_file(tmp_path):
    target = tmp_path / "no" / "m.npz"
    with pytest.raises(ModelFileError, match=r"cannot write model file '.*m\.npz': No such file or directory"):
        elman.save(ElmanRNN.init(2, 3, seed=0), target)
    folder = tmp_path / "dir.npz"
    folder.mkdir()
    with pytest.raises(ModelFileError, match=r"cannot write model file '.*dir\.npz'"):
        elman.save(ElmanRNN.init(2, 3, seed=0), folder)
    assert [p.name for p in tmp_path.iterdir()] == ["dir.npz"]  # no temporary file left


def test_interrupted_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def boom(fd):
        raise KeyboardInterrupt("interrupted during fsync")

    monkeypatch.setattr("elman.io.os.fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        elman.save(ElmanRNN.init(2, 3, seed=0), tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("what", ["truncated to half", "go_backwards the string false", "huge shape in header", "metadata nested 100,000 deep"])
def test_cli_inspect_bad_file_one_line(tmp_path, base, what):
    _, _, meta, parts = base
    make = {c[0]: c[1] for c in BAD}[what]
    path = tmp_path / "BAD.npz"
    path.write_bytes(make(meta, parts))
    r = subprocess.run([sys.executable, "-m", "elman", "inspect", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "BAD.npz" in lines[0] and "not a readable elman model" in lines[0]
    assert r.stdout == ""
