"""elman.onnx against the real onnxruntime: the exported graph computes rnn.predict.

Every number compared here comes from onnxruntime running the written file; elman's
own ``predict`` is the reference. The error is measured as in the Keras parity tests
(helpers.max_err): max |y_onnx - y_elman| over max(1, max |y_elman|), i.e. absolute for
outputs of size up to 1 and relative to the largest output beyond.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import assert_parity

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from elman import ElmanRNN, StackedRNN, activations  # noqa: E402
from elman import _onnx_graph  # noqa: E402
from elman.errors import InputTypeError, ModelFileError, ParameterError, UnsupportedModelError  # noqa: E402
from elman.onnx import from_onnx, to_onnx  # noqa: E402

NAMES = activations.names()
N_CONFIGS = 56  # 4 blocks of 14: float32, float64, float32, float64
TOL = {np.float32: 1e-5, np.float64: 1e-12}
# Activations that grow without bound get smaller weights so the outputs stay finite.
SCALE = {"exponential": 0.3, "linear": 0.7, "selu": 0.7, "elu": 0.7, "softplus": 0.7, "silu": 0.8, "gelu": 0.8,
         "relu": 0.8, "leaky_relu": 0.8, "relu6": 0.8}


def _session(path):
    so = ort.SessionOptions()
    # onnxruntime notes at load time that the z0_j initializers are also graph inputs
    # (overridable); that is the design, so the note is silenced.
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def _layer(rng, D, M, activation, go_backwards, dtype):
    s = SCALE.get(activation, 1.0)
    A = s * rng.standard_normal((M, M)) / np.sqrt(M)  # non-symmetric, D != M
    B = s * rng.standard_normal((M, D)) / np.sqrt(D)
    b = 0.5 * s * rng.standard_normal(M)
    return ElmanRNN(A, B, b, activation=activation, go_backwards=go_backwards, dtype=dtype)


def config(seed: int):
    """A random model, input and initial state. Seeds cycle deterministically through the
    activation names: in each block of 14 seeds (one dtype) every name is the first
    layer's activation once and the output activation once."""
    rng = np.random.default_rng(2000 + seed)
    dtype = np.float64 if (seed // len(NAMES)) % 2 else np.float32
    L = int(rng.integers(1, 4))
    D, K = (int(v) for v in rng.choice([1, 2, 3], size=2, replace=False))
    Ms = [int(v) for v in rng.integers(4, 8, size=L)]
    acts = [NAMES[(seed + 5 * j) % len(NAMES)] for j in range(L)]
    g = NAMES[(5 * seed + 3) % len(NAMES)]
    layers = [_layer(rng, ([D] + Ms)[j], Ms[j], acts[j], bool(rng.integers(2)), dtype) for j in range(L)]
    readout = seed % 4 != 1
    C = SCALE.get(g, 1.0) * rng.standard_normal((K, Ms[-1])) / np.sqrt(Ms[-1]) if readout else None
    d = 0.2 * rng.standard_normal(K) if readout else None
    rs = bool(rng.integers(2))
    if L == 1 and seed % 7 != 0:
        l = layers[0]
        rnn = ElmanRNN(l.A, l.B, l.b, C, d, l.activation, g, rs, go_backwards=l.go_backwards, dtype=dtype)
    else:  # seed % 7 == 0 with one layer: a one-layer StackedRNN
        rnn = StackedRNN(layers, C, d, g, rs, dtype=dtype)
    U = rng.standard_normal((int(rng.integers(2, 6)), int(rng.integers(3, 9)), D))
    z0 = [0.5 * rng.standard_normal((U.shape[0], M)) for M in Ms] if seed % 3 else None
    return rnn, U.astype(dtype), z0


def _z0_arg(rnn, z0):
    """z0 as rnn.predict takes it: one array for an ElmanRNN, a list for a StackedRNN."""
    if z0 is None:
        return None
    return z0 if isinstance(rnn, StackedRNN) else z0[0]


def _feeds(U, z0):
    feeds = {"U": U}
    for j, z in enumerate(z0 or [], start=1):
        feeds[f"z0_{j}"] = z.astype(U.dtype)
    return feeds


def _op_types(path) -> list[str]:
    """Op types of the graph and of every subgraph (Scan bodies)."""
    ops = []

    def walk(graph):
        for node in graph.node:
            ops.append(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)

    walk(onnx.load(str(path)).graph)
    return ops


def _layers(rnn):
    return list(rnn.layers) if isinstance(rnn, StackedRNN) else [rnn]


# --------------------------------------------------------------------------- parity


def test_the_configurations_cover_every_activation_in_both_dtypes():
    seen = {(np.float32, "s"): set(), (np.float64, "s"): set(), (np.float32, "g"): set(), (np.float64, "g"): set()}
    flags = set()
    for seed in range(N_CONFIGS):
        rnn, U, z0 = config(seed)
        dt = rnn.dtype.type
        seen[dt, "s"] |= {l.activation for l in _layers(rnn)}
        seen[dt, "g"].add(rnn.output_activation)
        layers = _layers(rnn)
        flags |= {("L", len(layers)), ("rs", rnn.return_sequences), ("readout", rnn.C is not None),
                  ("z0", z0 is not None), *(("gb", l.go_backwards) for l in layers)}
        Ms = {l.state_dim for l in layers}
        assert np.std(rnn.predict(U)) > 1e-3, f"seed {seed}: a constant output would test nothing"
        assert rnn.input_dim not in Ms and (rnn.C is None or rnn.output_dim not in Ms | {rnn.input_dim})
    assert all(s == set(NAMES) for s in seen.values()), seen
    assert flags >= {("L", 1), ("L", 2), ("L", 3), ("rs", True), ("rs", False), ("readout", True),
                     ("readout", False), ("z0", True), ("z0", False), ("gb", True), ("gb", False)}


@pytest.mark.parametrize("seed", range(N_CONFIGS))
def test_onnxruntime_equals_predict(tmp_path, seed):
    rnn, U, z0 = config(seed)
    path = to_onnx(rnn, tmp_path / "m.onnx")
    sess = _session(path)
    tol = TOL[rnn.dtype.type]
    label = f"seed {seed}: {rnn!r}".split("\n")[0]
    assert_parity(rnn.predict(U), sess.run(None, {"U": U})[0], tol, label)
    if z0 is not None:
        want = rnn.predict(U, _z0_arg(rnn, z0))
        assert_parity(want, sess.run(None, _feeds(U, z0))[0], tol, label + " with z0")


@pytest.mark.parametrize("seed", range(N_CONFIGS))
def test_from_onnx_reads_back_the_same_model(tmp_path, seed):
    rnn, _, _ = config(seed)
    back = from_onnx(to_onnx(rnn, tmp_path / "m.onnx"))
    assert type(back) is type(rnn) and back.dtype == rnn.dtype
    assert (back.output_activation, back.return_sequences) == (rnn.output_activation, rnn.return_sequences)
    for got, want in zip(_layers(back), _layers(rnn), strict=True):
        assert (got.activation, got.go_backwards) == (want.activation, want.go_backwards)
        for name in ("A", "B", "b"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
    if rnn.C is None:
        assert back.C is None and back.d is None
    else:
        assert np.array_equal(back.C, rnn.C) and np.array_equal(back.d, rnn.d)


def test_dynamic_batch_and_sequence_length(tmp_path):
    rng = np.random.default_rng(5)
    layers = [_layer(rng, 3, 5, "tanh", False, np.float32), _layer(rng, 5, 4, "gelu", True, np.float32)]
    rnn = StackedRNN(layers, rng.standard_normal((2, 4)), rng.standard_normal(2), "linear", True)
    path = to_onnx(rnn, tmp_path / "m.onnx")
    dims = [d.dim_param or d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", "T", 3]
    sess = _session(path)
    for N, T in ((2, 3), (7, 11), (1, 1)):
        U = rng.standard_normal((N, T, 3)).astype(np.float32)
        y = sess.run(None, {"U": U})[0]
        assert y.shape == (N, T, 2)
        assert_parity(rnn.predict(U), y, 1e-5, f"N={N} T={T}")


def test_z0_inputs_are_optional_per_layer_and_broadcast(tmp_path):
    rng = np.random.default_rng(6)
    layers = [_layer(rng, 2, 4, "tanh", True, np.float64), _layer(rng, 4, 3, "selu", False, np.float64)]
    rnn = StackedRNN(layers, rng.standard_normal((1, 3)), rng.standard_normal(1))
    path = to_onnx(rnn, tmp_path / "m.onnx")
    assert [i.name for i in onnx.load(str(path)).graph.input] == ["U", "z0_1", "z0_2"]
    sess = _session(path)
    # onnxruntime lists inputs with a default apart from the required ones.
    assert [i.name for i in sess.get_inputs()] == ["U"]
    assert [i.name for i in sess.get_overridable_initializers()] == ["z0_1", "z0_2"]
    U, z2 = rng.standard_normal((3, 5, 2)), rng.standard_normal((1, 3))
    # Only the second layer's state given, as one (1, M) row for every sample.
    want = rnn.predict(U, [np.zeros(4), z2[0]])
    assert_parity(want, sess.run(None, {"U": U, "z0_2": z2})[0], 1e-12, "z0_2 only, broadcast")
    assert not np.allclose(want, rnn.predict(U))


def test_float32_model_written_as_float64(tmp_path):
    rnn, U, _ = config(0)  # float32
    path = to_onnx(rnn, tmp_path / "m.onnx", dtype=np.float64)
    y = _session(path).run(None, {"U": U.astype(np.float64)})[0]
    assert y.dtype == np.float64
    assert_parity(rnn.astype(np.float64).predict(U), y, 1e-12, "float32 model as float64")
    assert from_onnx(path).dtype == np.float64


def test_a_newer_opset_runs_too(tmp_path):
    rnn, U, _ = config(16)
    for opset in (14, 21):
        sess = _session(to_onnx(rnn, tmp_path / f"m{opset}.onnx", opset=opset))
        assert_parity(rnn.predict(U), sess.run(None, {"U": U})[0], 1e-12, f"opset {opset}")


# --------------------------------------------------------------------------- graph form


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_native_rnn_operator_for_tanh_relu_sigmoid(tmp_path, activation):
    rng = np.random.default_rng(7)
    layers = [_layer(rng, 3, 5, activation, gb, np.float32) for gb in (False, True)]
    layers[1] = _layer(rng, 5, 4, activation, True, np.float32)
    rnn = StackedRNN(layers, rng.standard_normal((2, 4)), np.zeros(2))
    ops = _op_types(to_onnx(rnn, tmp_path / "m.onnx"))
    assert ops.count("RNN") == 2 and "Scan" not in ops


@pytest.mark.parametrize("activation", ["selu", "exponential", "silu", "gelu", "relu6", "softplus"])
def test_scan_fallback_where_the_operator_or_runtime_lacks_the_activation(tmp_path, activation):
    rng = np.random.default_rng(8)
    rnn = _layer(rng, 3, 5, activation, True, np.float32)
    ops = _op_types(to_onnx(rnn, tmp_path / "m.onnx"))
    assert ops.count("Scan") == 1 and "RNN" not in ops
    U = rng.standard_normal((4, 6, 3)).astype(np.float32)
    assert_parity(rnn.predict(U), _session(tmp_path / "m.onnx").run(None, {"U": U})[0], 1e-5, activation)


def test_float64_uses_scan_and_gelu_without_erf(tmp_path):
    """onnxruntime has no float64 RNN or Erf kernel: a float64 gelu layer is a Scan whose
    erf is the series; float32 gelu uses the Erf operator."""
    rng = np.random.default_rng(9)
    rnn = _layer(rng, 3, 5, "gelu", False, np.float64)
    ops64 = _op_types(to_onnx(rnn, tmp_path / "m64.onnx"))
    ops32 = _op_types(to_onnx(rnn, tmp_path / "m32.onnx", dtype=np.float32))
    assert "Scan" in ops64 and "RNN" not in ops64 and "Erf" not in ops64
    assert "Erf" in ops32
    x = np.linspace(-40, 40, 4001).reshape(-1, 1, 1)  # one step of z' = gelu(x): the formula itself
    unit = ElmanRNN([[0.0]], [[1.0]], [0.0], activation="gelu")
    got = _session(to_onnx(unit, tmp_path / "unit.onnx")).run(None, {"U": x})[0]
    want = unit.predict(x)
    # 1 + erf(t) for t < 0 carries erf's last-bit error (2e-16) times |x| / 2: below 1e-14.
    assert np.max(np.abs(got - want) / np.maximum(1, np.abs(want))) < 1e-14


def test_every_activation_has_a_formula():
    """No activation is left that the target cannot express: each has a formula in
    ordinary operators (the Scan fallback), so to_onnx never refuses one."""
    assert set(_onnx_graph.FORMULAS) == set(NAMES)
    assert set(_onnx_graph.NATIVE) <= set(NAMES)


def test_an_activation_without_a_formula_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.delitem(_onnx_graph.FORMULAS, "gelu")
    rnn = ElmanRNN.init(2, 3, 1, activation="tanh", output_activation="gelu", seed=0)
    with pytest.raises(UnsupportedModelError, match="'gelu'"):
        to_onnx(rnn, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_the_file_says_who_wrote_it(tmp_path):
    rnn, _, _ = config(3)
    model = onnx.load(str(to_onnx(rnn, tmp_path / "m.onnx")))
    meta = json.loads({p.key: p.value for p in model.metadata_props}["elman"])
    assert model.producer_name == "elman" and meta["format"] == "elman-onnx"
    assert [l["activation"] for l in meta["layers"]] == [l.activation for l in _layers(rnn)]


# --------------------------------------------------------------------------- errors


def test_a_foreign_onnx_file_is_unsupported(tmp_path):
    h = onnx.helper
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    graph = h.make_graph([h.make_node("Add", ["x", "x"], ["y"])], "add", [x],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    path = tmp_path / "add.onnx"
    onnx.save(h.make_model(graph, producer_name="someone"), str(path))
    with pytest.raises(UnsupportedModelError, match="only elman-written ONNX files can be read back"):
        from_onnx(path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        from_onnx(tmp_path / "missing.onnx")
    good = to_onnx(config(2)[0], tmp_path / "m.onnx").read_bytes()
    for name, data in (("cut.onnx", good[: len(good) // 2]), ("junk.onnx", b"\xff\xfe not onnx at all"),
                       ("empty.onnx", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelFileError):
            from_onnx(tmp_path / name)
    with pytest.raises(ModelFileError, match="directory"):
        from_onnx(tmp_path)


def test_an_elman_file_with_a_missing_weight_or_broken_metadata(tmp_path):
    path = to_onnx(config(2)[0], tmp_path / "m.onnx")
    model = onnx.load(str(path))
    first = next(i for i, t in enumerate(model.graph.initializer) if t.name in ("W_1", "BT_1"))
    del model.graph.initializer[first]  # the first layer's B
    onnx.save(model, str(tmp_path / "cut.onnx"))
    with pytest.raises(ModelFileError, match="damaged"):
        from_onnx(tmp_path / "cut.onnx")
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {"elman": "{not json"})
    onnx.save(model, str(tmp_path / "meta.onnx"))
    with pytest.raises(ModelFileError, match="not JSON"):
        from_onnx(tmp_path / "meta.onnx")
    good = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["elman"])
    for key in ("return_sequences", "layers", "dtype"):
        meta = {k: v for k, v in good.items() if k != key}
        onnx.helper.set_model_props(model, {"elman": json.dumps(meta)})
        onnx.save(model, str(tmp_path / "meta.onnx"))
        with pytest.raises(ModelFileError, match="elman metadata"):
            from_onnx(tmp_path / "meta.onnx")


def test_bad_arguments(tmp_path):
    rnn = config(0)[0]
    with pytest.raises(ParameterError, match="dtype"):
        to_onnx(rnn, tmp_path / "m.onnx", dtype="float16")
    with pytest.raises(ParameterError, match="dtype"):
        to_onnx(rnn, tmp_path / "m.onnx", dtype=np.int32)
    for opset in (5, True, "17", 10**6):
        with pytest.raises(ParameterError, match="opset"):
            to_onnx(rnn, tmp_path / "m.onnx", opset=opset)
    with pytest.raises(InputTypeError, match="path"):
        to_onnx(rnn, 123)
    with pytest.raises(InputTypeError, match="rnn"):
        to_onnx("model.npz", tmp_path / "m.onnx")
    with pytest.raises(InputTypeError, match="path"):
        from_onnx(None)
    assert list(tmp_path.iterdir()) == []


def test_writes_are_atomic(tmp_path):
    with pytest.raises(ModelFileError, match="cannot write"):
        to_onnx(config(0)[0], tmp_path / "no" / "such" / "m.onnx")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    assert to_onnx(config(1)[0], path) == path
    assert _layers(from_onnx(path))[0].activation == _layers(config(1)[0])[0].activation
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary file left


def test_a_symbolic_link_stays_a_link_and_opset_may_be_a_numpy_integer(tmp_path):
    target = tmp_path / "real.onnx"
    target.write_bytes(b"old")
    link = tmp_path / "link.onnx"
    link.symlink_to(target)
    rnn = config(4)[0]
    to_onnx(rnn, link, opset=np.int64(17))
    assert link.is_symlink() and from_onnx(target).output_activation == rnn.output_activation


def test_import_elman_does_not_import_onnx():
    code = "import sys, elman, elman.onnx; print(any(m in sys.modules for m in ('onnx', 'onnxruntime')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
