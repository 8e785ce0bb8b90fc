"""Fuzzing elman.load with damaged and edited model files (hypothesis).

The property: ``load`` returns a model or raises a ModelFileError (an ElmanError; one
line naming the file), whatever the bytes, using under 200 MB. When it returns a
model, that model is exactly what the file says: after pure byte damage (bit flips,
truncation) the original (the CRCs protect the content), after an edit of the JSON
metadata (rewritten with a correct CRC) what the edited JSON says, after a replaced
array that array.

1,500 examples in all (four families of mutations), derandomized so every run (and CI)
sees the same files.
"""

from __future__ import annotations

import ast
import io
import json
import struct
import tempfile
import tracemalloc
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib import format as npy_format

import elman
from elman import ElmanRNN, StackedRNN
from elman.errors import ModelFileError
from elman.io import load_metadata

EXAMPLES = 1500
KINDS = ("flip", "truncate", "insert", "json one", "json", "json text", "header", "array")
PEAK_LIMIT = 200 * 2**20


def _models() -> dict[str, object]:
    """Small models with D, M, K all different, covering both kinds, both dtypes, readout or not."""
    rng = np.random.default_rng(11)
    stacked = StackedRNN(
        [ElmanRNN.init(2, 3, seed=1), ElmanRNN.init(3, 4, seed=2, activation="relu").replace(go_backwards=True)],
        rng.standard_normal((5, 4)), rng.standard_normal(5), "sigmoid", True,
    )
    single32 = ElmanRNN.init(3, 2, 4, seed=3, activation="elu").replace(go_backwards=True).astype(np.float32)
    bare = ElmanRNN.init(1, 3, seed=4, return_sequences=True)  # no readout
    return {"stacked": stacked, "elman float32": single32, "no readout": bare}


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _zip(parts: list[tuple[str, bytes]], method: int) -> bytes:
    """A zip of these (name, content) members written by zipfile: CRCs and sizes correct."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", method) as z:
        warnings.simplefilter("ignore")  # zipfile warns on a duplicate name; that is the point
        for name, content in parts:
            z.writestr(name, content)
    return buf.getvalue()


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=a.dtype.hasobject)
    return buf.getvalue()


def _bases() -> dict[str, dict]:
    """Each model saved once; "stacked deflated" is the same file with deflated members."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in _models().items():
            path = Path(tmp) / "m.npz"
            elman.save(model, path, extra={"steps": 12} if name == "no readout" else None)
            data = path.read_bytes()
            out[name] = {"model": model, "data": data, "method": zipfile.ZIP_STORED}
    stacked = dict(out["stacked"])
    stacked["data"] = _zip(list(_members(stacked["data"]).items()), zipfile.ZIP_DEFLATED)
    stacked["method"] = zipfile.ZIP_DEFLATED
    out["stacked deflated"] = stacked
    for b in out.values():
        b["parts"] = _members(b["data"])
        b["meta"] = json.loads(str(np.load(io.BytesIO(b["parts"]["__meta__.npy"]))))
        # Where the zip's own structure starts: flips there hit sizes, names, flags, offsets.
        cd_offset = struct.unpack("<I", b["data"][-6:-2])[0]
        b["structure"] = cd_offset
    return out


BASES = _bases()


def _arrays(model) -> dict[str, np.ndarray | None]:
    layers = model.layers if isinstance(model, StackedRNN) else [model]
    out = {f"layer{j}.{n}": getattr(l, n) for j, l in enumerate(layers) for n in "ABb"}
    out.update(C=model.C, d=model.d)
    return out


def _config(model) -> dict:
    layers = model.layers if isinstance(model, StackedRNN) else [model]
    return {
        "kind": type(model).__name__,
        "dtype": model.dtype.name,
        "layers": [{"activation": l.activation, "go_backwards": l.go_backwards} for l in layers],
        "output_activation": model.output_activation,
        "return_sequences": model.return_sequences,
    }


def _same_arrays(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (x is None and y is None) or (x is not None and y is not None and x.dtype == y.dtype and np.array_equal(x, y))
        for x, y in ((a[k], b[k]) for k in a)
    )


# --------------------------------------------------------------------------- the mutations

# Values an edit writes into the metadata: valid ones (so some edited files load and
# their config can be checked), near misses, and arbitrary JSON.
_INTERESTING = [
    "tanh", "relu", "linear", "sigmoid", "elu", "swish", "TANH", "float32", "float64", "float16",
    "ElmanRNN", "StackedRNN", "elman", "false", "true", "", 0, 1, 2, -1, 1.0, True, False, None, [], {},
]
_VALID = {
    "kind": ["ElmanRNN", "StackedRNN"],
    "dtype": ["float32", "float64"],
    "activation": list(elman.activations.names()),
    "output_activation": list(elman.activations.names()),
    "go_backwards": [True, False],
    "return_sequences": [True, False],
    "format_version": [1],
    "elman_version": ["0.0.1", ""],
    "extra": [{}, {"steps": 3}],
}
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(_INTERESTING),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(node, prefix=()):
    """Every path (tuple of keys and indexes) in a JSON tree, the root included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _copy(v):
    """A fresh copy of a drawn JSON value: later edits must not change the shared original."""
    return json.loads(json.dumps(v))


def _get(node, path):
    for k in path:
        node = node[k]
    return node


@st.composite
def _json_one_edit(draw, meta):
    """The metadata with one leaf set to a near miss (or a valid value), or one layer more or
    less: each schema check is then met on its own, not hidden behind another error."""
    m = _copy(meta)
    leaves = [p for p in _paths(m) if p and not isinstance(_get(m, p), (dict, list))]
    path = draw(st.sampled_from([*leaves, ("layers",)]))
    if path == ("layers",):
        if draw(st.booleans()):
            m["layers"].append(_copy(m["layers"][0]))
        else:
            m["layers"].pop()
    else:
        old = _get(m, path)
        valid = _VALID.get(path[-1], []) if isinstance(path[-1], str) else []
        _get(m, path[:-1])[path[-1]] = _copy(draw(st.sampled_from(_near_misses(old) + valid)))
    return m


def _near_misses(v) -> list:
    """Values a careless writer might put where ``v`` was: same meaning, wrong JSON type, or close."""
    if type(v) is bool:
        return ["false", "true", 0, 1, None, not v]
    if type(v) is int:
        return [True, False, float(v), str(v), v + 1, v - 1, 0, None]
    if type(v) is str:
        return [v.upper(), v + " ", "", [v], {v: v}, 1, True, None]
    return [None, "", 0]


@st.composite
def _json_edit(draw, meta):
    """The metadata with one to three edits: a value set, a key or item removed, a key added."""
    m = _copy(meta)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(m))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "set" and path:
            # Half the time a value that is valid for that key, so that edited files
            # also load and their config can be compared with the JSON.
            valid = _VALID.get(path[-1]) if isinstance(path[-1], str) else None
            value = st.sampled_from(valid) if valid and draw(st.booleans()) else st.sampled_from(_INTERESTING) | _json
            _get(m, path[:-1])[path[-1]] = _copy(draw(value))
        elif action == "delete" and path:
            parent = _get(m, path[:-1])
            del parent[path[-1]]
        else:  # add a key to an object, or an item to a list
            node = _get(m, path)
            if isinstance(node, dict):
                key = draw(st.sampled_from(["extra", "weights", "activation", "go_backwards", "units"]) | st.text(max_size=6))
                node[key] = _copy(draw(_json))
            elif isinstance(node, list):
                node.append(_copy(draw(st.sampled_from(node) if node else _json)))
    return m


# Names zipfile can write: no NUL (it cuts the name there), no "/" (a folder), no lone surrogates.
_member_names = st.text(st.characters(blacklist_characters="\x00/", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@st.composite
def mutation(draw, kinds=KINDS):
    """(base name, what was done, the mutated file's bytes, what a loaded model must equal)."""
    name = draw(st.sampled_from(sorted(BASES)))
    b = BASES[name]
    data, parts, n = b["data"], b["parts"], len(b["data"])
    kind = draw(st.sampled_from(kinds))
    if kind == "flip":
        anywhere, structure = st.integers(0, n - 1), st.integers(b["structure"], n - 1)
        flips = draw(st.lists(st.tuples(anywhere | structure, st.integers(0, 7)), min_size=1, max_size=8))
        out = bytearray(data)
        for pos, bit in flips:
            out[pos] ^= 1 << bit
        if draw(st.booleans()):
            out = out[: draw(st.integers(0, n))]
        return name, kind, bytes(out), None
    if kind == "truncate":
        return name, kind, data[: draw(st.integers(0, n - 1))], None
    if kind == "insert":
        member = draw(st.sampled_from([*parts, "junk.npy", "layer2.A.npy", "C.npy", "d.npy", "x"]) | _member_names)
        content = draw(st.binary(max_size=300) | st.builds(lambda s: _npy(np.ones(s)), st.lists(st.integers(0, 5), max_size=3)))
        if member in parts and member != "__meta__.npy" and draw(st.booleans()):
            # A second, valid copy of a member with other values: loading it would change the model.
            content = _npy(np.load(io.BytesIO(parts[member])) + 1)
        at = draw(st.integers(0, len(parts)))
        items = list(parts.items())
        items.insert(at, (member, content))
        return name, kind, _zip(items, b["method"]), member
    if kind in ("json", "json one"):
        meta = draw(_json_edit(b["meta"]) if kind == "json" else _json_one_edit(b["meta"]))
        new = {**parts, "__meta__.npy": _npy(np.array(json.dumps(meta)))}
        return name, kind, _zip(list(new.items()), b["method"]), meta
    if kind == "json text":
        text = json.dumps(b["meta"])
        text = draw(st.sampled_from([text[:i] for i in range(0, len(text), 7)]) | st.text(max_size=60))
        new = {**parts, "__meta__.npy": _npy(np.array(text))}
        return name, kind, _zip(list(new.items()), b["method"]), None
    if kind == "header":
        # One array member with a hand-written .npy header: any dtype, any shape (huge,
        # negative, empty), a body of any length; NumPy's header parser and the size checks.
        member = draw(st.sampled_from([p for p in parts if p != "__meta__.npy"]))
        original = np.load(io.BytesIO(parts[member]))
        # The honest header and body, then one part (or all) changed; "none" must load.
        descr, shape, fortran, body = repr(original.dtype.str), original.shape, "False", original.tobytes()
        change = draw(st.sampled_from(["none", "descr", "shape", "fortran", "body", "all", "text"]))
        if change in ("descr", "all"):
            descr = draw(st.sampled_from(["'<f8'", "'<f4'", "'>f8'", "'|O'", "'<i8'", "'<U2'", "[('a', '<f8')]", "('<f8', (2,))", "3"]))
        if change in ("shape", "all"):
            shape = draw(st.lists(st.integers(-2, 6) | st.sampled_from([2**31, 10**6, 2**62, 10**30]), max_size=3).map(tuple))
        if change in ("fortran", "all"):
            fortran = draw(st.sampled_from(["True", "0", "'no'"]))
        if change in ("body", "all"):
            body = draw(st.binary(max_size=200))
        text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
        if change == "text":
            text = draw(st.text(max_size=40))
        h = text.encode("latin1", "replace")
        h += b" " * (-(len(h) + 11) % 64) + b"\n"
        content = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body
        new = {**parts, member: content}
        return name, kind, _zip(list(new.items()), b["method"]), (member[:-4], text, body)
    # kind == "array": one array member replaced by another array, perhaps of the right shape
    member = draw(st.sampled_from([p for p in parts if p != "__meta__.npy"]))
    original = np.load(io.BytesIO(parts[member]))
    dtype = draw(st.sampled_from(["<f8", "<f4", ">f8", ">f4", "<i8", "?", "<c16", "<U2", "O"]))
    shape = draw(st.just(original.shape) | st.lists(st.integers(0, 6), max_size=3).map(tuple))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal(shape)
    if a.size and draw(st.booleans()):
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))
    with np.errstate(invalid="ignore"):  # NaN cast to an integer: any value will do
        a = a.astype(object) if dtype == "O" else a.astype(dtype)
    if draw(st.booleans()):
        a = np.asfortranarray(a)
    new = {**parts, member: _npy(a)}
    return name, kind, _zip(list(new.items()), b["method"]), (member[:-4], a)


# --------------------------------------------------------------------------- the property


def _meta_ok(m) -> bool:
    """The metadata schema, written out here independently of elman.io: what load may accept."""
    top = {"format", "format_version", "elman_version", "kind", "dtype", "layers", "output_activation", "return_sequences"}
    acts = set(elman.activations.names())

    def act(v):
        return type(v) is str and v in acts

    def layer(v):
        return type(v) is dict and set(v) == {"activation", "go_backwards"} and act(v["activation"]) and type(v["go_backwards"]) is bool

    return (
        type(m) is dict
        and top <= set(m) <= top | {"extra"}
        and m["format"] == "elman"
        and type(m["format_version"]) is int and m["format_version"] == 1
        and type(m["elman_version"]) is str
        and type(m["kind"]) is str and m["kind"] in ("ElmanRNN", "StackedRNN")
        and type(m["dtype"]) is str and m["dtype"] in ("float32", "float64")
        and type(m["layers"]) is list and len(m["layers"]) >= 1 and all(layer(v) for v in m["layers"])
        and (m["kind"] == "StackedRNN" or len(m["layers"]) == 1)
        and act(m["output_activation"])
        and type(m["return_sequences"]) is bool
        and type(m.get("extra", {})) is dict
    )


def _traced_load(path: Path):
    """(model, None, peak) or (None, the ModelFileError, peak); peak is load's tracemalloc peak.

    Traced only around load: tracing hypothesis's own work would triple the run time.
    Any exception but a ModelFileError (an ElmanError) escapes and fails the test.
    """
    tracemalloc.start()
    try:
        try:
            return elman.load(path), None, tracemalloc.get_traced_memory()[1]
        except ModelFileError as exc:
            return None, exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _check(path: Path, name: str, kind: str, expect) -> str:
    """Load once; check the outcome against what the mutation allows. Returns "loaded" or "refused"."""
    base = BASES[name]
    got, exc, peak = _traced_load(path)
    assert peak < PEAK_LIMIT, f"{peak} bytes traced for a {path.stat().st_size}-byte file"
    if exc is not None:
        msg = str(exc)
        assert "\n" not in msg and repr(str(path)) in msg, msg
        if kind == "insert":
            # A member added under a new name is never read, so it cannot be the reason;
            # a second copy of a member, or half a readout (C without d), is.
            with zipfile.ZipFile(path) as z:
                count = Counter(i.filename for i in z.infolist())
            readout = {"C.npy", "d.npy"}
            assert max(count.values()) > 1 or (readout & set(count)) != (readout & set(base["parts"])), (
                f"refused although the new member {expect!r} is not read: {msg}"
            )
        if kind in ("json", "json one"):
            # Valid metadata that still fits the arrays (same dtype, same number of layers) must load.
            m, b = expect, base["meta"]
            fits = _meta_ok(m) and m["dtype"] == b["dtype"] and len(m["layers"]) == len(b["layers"])
            assert not fits, f"refused valid metadata {m}: {msg}"
        return "refused"
    original = base["model"]
    if kind in ("flip", "truncate", "insert", "json text"):
        assert _config(got) == _config(original) and _same_arrays(_arrays(got), _arrays(original))
    elif kind in ("json", "json one"):
        meta = expect
        assert _meta_ok(meta), f"loaded although the metadata breaks the schema: {meta}"
        assert _config(got) == {k: meta[k] for k in ("kind", "dtype", "layers", "output_activation", "return_sequences")}
        assert load_metadata(path) == meta
        arrays = {k: v for k, v in _arrays(original).items() if k in _arrays(got)}
        assert _same_arrays(_arrays(got), arrays)
    elif kind == "header":  # only an honest header loads: the array is the body as it declares
        member, text, body = expect
        d = ast.literal_eval(text)
        a = np.frombuffer(body, npy_format.descr_to_dtype(d["descr"])).reshape(d["shape"], order="F" if d["fortran_order"] else "C")
        want = {**_arrays(original), member: a.astype(a.dtype.newbyteorder("="))}
        assert _same_arrays(_arrays(got), want)
    else:  # a replaced array
        member, a = expect
        want = {**_arrays(original), member: a.astype(a.dtype.newbyteorder("="))}  # the model keeps native order
        assert _same_arrays(_arrays(got), want)
    return "loaded"


# The mutations in four families, each with its share of the 1,500 examples, so that
# every family is tried often whatever hypothesis's preferences among choices.
FAMILIES = {
    "byte damage": (("flip", "truncate"), 400),
    "inserted members": (("insert",), 200),
    "metadata edits": (("json one", "json", "json text"), 600),
    "array members": (("header", "array"), 300),
}


def test_families_cover_every_mutation():
    assert sorted(k for kinds, _ in FAMILIES.values() for k in kinds) == sorted(KINDS)
    assert sum(n for _, n in FAMILIES.values()) >= EXAMPLES


@pytest.mark.parametrize("family", FAMILIES)
def test_load_fuzzed_files(tmp_path_factory, family):
    kinds, examples = FAMILIES[family]
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.npz"
    seen: Counter = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same files on every run, CI included
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutation(kinds))
    def check(m):
        name, kind, data, expect = m
        path.write_bytes(data)
        seen[kind, _check(path, name, kind, expect)] += 1

    check()
    # The run was not vacuous: each kind of mutation was tried many times, and files
    # that still load were made (and checked) as well as ones that must be refused.
    for kind in kinds:
        assert seen[kind, "loaded"] + seen[kind, "refused"] >= examples // 10, seen
    assert sum(seen[k, "refused"] for k in kinds) >= examples // 4, seen
    assert sum(seen[k, "loaded"] for k in kinds) >= (1 if family == "byte damage" else 20), seen
