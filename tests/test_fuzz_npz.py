"""Fuzzing elman.load with damaged and edited model files (hypothesis).

The property: ``load`` returns a model or raises a ModelFileError (an ElmanError; one
line naming the file), whatever the bytes, using under 200 MB. When it returns a
model, that model is exactly what the file says: after pure byte damage (bit flips,
truncation) the original (the CRCs protect the content), after an edit of the JSON
metadata (rewritten with a correct CRC) what the edited JSON says, after a replaced
array that array.

1,500 examples, derandomized so every run (and CI) sees the same files.
"""

from __future__ import annotations

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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import elman
from elman import ElmanRNN, StackedRNN
from elman.errors import ModelFileError
from elman.io import load_metadata

EXAMPLES = 1500
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


def _get(node, path):
    for k in path:
        node = node[k]
    return node


@st.composite
def _json_edit(draw, meta):
    """The metadata with one to three edits: a value set, a key or item removed, a key added."""
    m = json.loads(json.dumps(meta))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(m))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "set" and path:
            # Half the time a value that is valid for that key, so that edited files
            # also load and their config can be compared with the JSON.
            valid = _VALID.get(path[-1]) if isinstance(path[-1], str) else None
            value = st.sampled_from(valid) if valid and draw(st.booleans()) else st.sampled_from(_INTERESTING) | _json
            _get(m, path[:-1])[path[-1]] = draw(value)
        elif action == "delete" and path:
            parent = _get(m, path[:-1])
            del parent[path[-1]]
        else:  # add a key to an object, or an item to a list
            node = _get(m, path)
            if isinstance(node, dict):
                key = draw(st.sampled_from(["extra", "weights", "activation", "go_backwards", "units"]) | st.text(max_size=6))
                node[key] = draw(_json)
            elif isinstance(node, list):
                node.append(draw(st.sampled_from(node) if node else _json))
    return m


# Names zipfile can write: no NUL (it cuts the name there), no "/" (a folder), no lone surrogates.
_member_names = st.text(st.characters(blacklist_characters="\x00/", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@st.composite
def mutation(draw):
    """(base name, what was done, the mutated file's bytes, what a loaded model must equal)."""
    name = draw(st.sampled_from(sorted(BASES)))
    b = BASES[name]
    data, parts, n = b["data"], b["parts"], len(b["data"])
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "json", "json text", "array"]))
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
        at = draw(st.integers(0, len(parts)))
        items = list(parts.items())
        items.insert(at, (member, content))
        return name, kind, _zip(items, b["method"]), member
    if kind == "json":
        meta = draw(_json_edit(b["meta"]))
        new = {**parts, "__meta__.npy": _npy(np.array(json.dumps(meta)))}
        return name, kind, _zip(list(new.items()), b["method"]), meta
    if kind == "json text":
        text = json.dumps(b["meta"])
        text = draw(st.sampled_from([text[:i] for i in range(0, len(text), 7)]) | st.text(max_size=60))
        new = {**parts, "__meta__.npy": _npy(np.array(text))}
        return name, kind, _zip(list(new.items()), b["method"]), None
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
        return "refused"
    original = base["model"]
    if kind in ("flip", "truncate", "insert", "json text"):
        assert _config(got) == _config(original) and _same_arrays(_arrays(got), _arrays(original))
    elif kind == "json":
        meta = expect
        assert _config(got) == {k: meta[k] for k in ("kind", "dtype", "layers", "output_activation", "return_sequences")}
        assert load_metadata(path) == meta
        arrays = {k: v for k, v in _arrays(original).items() if k in _arrays(got)}
        assert _same_arrays(_arrays(got), arrays)
    else:  # a replaced array
        member, a = expect
        want = {**_arrays(original), member: a.astype(a.dtype.newbyteorder("="))}  # the model keeps native order
        assert _same_arrays(_arrays(got), want)
    return "loaded"


def test_load_fuzzed_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "fuzzed.npz"
    seen: Counter = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutation())
    def check(m):
        name, kind, data, expect = m
        path.write_bytes(data)
        seen[kind, _check(path, name, kind, expect)] += 1

    check()
    # The run was not vacuous: every kind of mutation was tried many times, and edits
    # that keep the file valid were made (and checked) as well as ones that break it.
    total = Counter()
    for (kind, _), count in seen.items():
        total[kind] += count
    assert sum(total.values()) >= EXAMPLES, seen
    assert all(total[k] >= 50 for k in ("flip", "truncate", "insert", "json", "json text", "array")), seen
    assert seen["json", "loaded"] >= 20 and seen["json", "refused"] >= 100, seen
    assert seen["array", "loaded"] >= 5 and seen["insert", "loaded"] >= 20, seen
