"""`elman convert IN OUT` and `elman export`: every pair of formats, checked by predictions
(Keras's own predict and onnxruntime's run, not only elman's), and every bad input as a
one-line error with exit code 2."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

import elman
from elman import cli
from elman.convert import convert, read_model, write_model
from elman.errors import InputTypeError, ModelFileError, OutputError, ParameterError, UnsupportedModelError
from elman.stacked import from_layers
from helpers import build, randomize

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

FORMATS = (".npz", ".keras", ".pt", ".onnx")


def _stacked(seed: int) -> elman.StackedRNN:
    """Two layers (D=3 -> M=5 -> M=4), readout K=2, float32, random weights."""
    rng = np.random.default_rng(seed)
    dims = [(5, 3), (4, 5)]
    layers = [elman.ElmanRNN(rng.normal(0, 0.4, (M, M)), rng.normal(0, 0.5, (M, D)), rng.normal(0, 0.3, M),
                             dtype=np.float32) for M, D in dims]
    return elman.StackedRNN(layers, rng.normal(0, 0.5, (2, 4)), rng.normal(0, 0.3, 2),
                            return_sequences=True, dtype=np.float32)


def _layer(rng, D, M, act="tanh", gb=False, dtype=np.float32):
    return elman.ElmanRNN(rng.normal(0, 0.5 / np.sqrt(M), (M, M)), rng.normal(0, 0.6 / np.sqrt(D), (M, D)),
                          rng.normal(0, 0.3, M), activation=act, go_backwards=gb, dtype=dtype)


def _round_trip_models() -> dict:
    """Random non-square models covering what a format could lose: go_backwards (first and
    inner layers), per-layer activations, a non-linear output activation, float64, no
    readout, a one-layer StackedRNN, return_sequences on and off."""
    rng = np.random.default_rng(7)
    f64 = np.float64
    one = _layer(rng, 3, 5, "relu", gb=True)
    return {
        "elman-gb-sigmoid-out": elman.ElmanRNN(one.A, one.B, one.b, rng.normal(0, 0.5, (2, 5)), rng.normal(0, 0.3, 2),
                                               "relu", "sigmoid", True, go_backwards=True, dtype=np.float32),
        "elman-f64-no-readout": _layer(rng, 2, 4, "tanh", dtype=f64),
        "stack-mixed-gb-inside": elman.StackedRNN(
            [_layer(rng, 3, 4, "tanh"), _layer(rng, 4, 6, "relu", gb=True), _layer(rng, 6, 5, "tanh")],
            rng.normal(0, 0.5, (2, 5)), rng.normal(0, 0.3, 2), "softsign", True),
        "stack-f64-no-readout-relu-out": elman.StackedRNN(
            [_layer(rng, 2, 3, "relu", gb=True, dtype=f64), _layer(rng, 3, 4, "tanh", gb=True, dtype=f64)],
            None, None, "relu", False, dtype=f64),
        "stack-one-layer": elman.StackedRNN([_layer(rng, 3, 4, "tanh", gb=True)], rng.normal(0, 0.5, (1, 4)),
                                            rng.normal(0, 0.3, 1), "linear", False),
        "stack-other-activations": elman.StackedRNN(
            [_layer(rng, 3, 4, "sigmoid"), _layer(rng, 4, 2, "gelu", gb=True)], rng.normal(0, 0.5, (3, 2)),
            rng.normal(0, 0.3, 3), "elu", True),
    }


ROUND_TRIP = _round_trip_models()
#: Keras saves and loads take ~0.3 s each: its pairs for a few models only (between them
#: they cover go_backwards, a one-layer stack, no readout with g != linear, float64).
KERAS_MODELS = ("elman-gb-sigmoid-out", "stack-f64-no-readout-relu-out", "stack-one-layer")


def _layers(rnn):
    return list(rnn.layers) if isinstance(rnn, elman.StackedRNN) else [rnn]


def _expected(rnn, formats):
    """What comes back after a trip through ``formats``: ``rnn`` itself, except through
    .keras (guide section 8): a one-layer StackedRNN comes back as an ElmanRNN (Keras has
    no such distinction), and a model with no readout (C None) but a non-linear output
    activation comes back with the identity Dense that to_keras adds for g: C = I, d = 0.
    The predictions are the same in every case."""
    if ".keras" not in formats:
        return rnn
    C, d = rnn.C, rnn.d
    if C is None and rnn.output_activation != "linear":
        C, d = np.eye(rnn.state_dim, dtype=rnn.dtype), np.zeros(rnn.state_dim, rnn.dtype)
    layers = [l.replace(C=None, output_activation="linear", return_sequences=False) for l in _layers(rnn)]
    return from_layers(layers, C, d, rnn.output_activation, rnn.return_sequences, dtype=rnn.dtype)


def _assert_same_model(back, want, label):
    assert type(back) is type(want), label
    assert back.dtype == want.dtype and back.return_sequences == want.return_sequences, label
    assert back.output_activation == want.output_activation, label
    assert len(_layers(back)) == len(_layers(want)), label
    for x, y in zip(_layers(back), _layers(want)):
        assert (x.activation, x.go_backwards) == (y.activation, y.go_backwards), label
        for name in "ABb":
            assert getattr(x, name).dtype == want.dtype, (label, name)
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=f"{label} {name}")
    for name in "Cd":
        assert (getattr(back, name) is None) == (getattr(want, name) is None), (label, name)
        if getattr(want, name) is not None:
            np.testing.assert_array_equal(getattr(back, name), getattr(want, name), err_msg=f"{label} {name}")


def _pairs(name):
    formats = FORMATS if name in KERAS_MODELS else tuple(f for f in FORMATS if f != ".keras")
    return list(itertools.permutations(formats, 2))


def test_round_trip_models_cover_the_cases():
    models = list(ROUND_TRIP.values())
    layers = [l for m in models for l in _layers(m)]
    assert any(l.go_backwards for m in models for l in _layers(m)[1:]) and any(m.go_backwards for m in layers)
    assert {np.dtype(np.float32), np.dtype(np.float64)} == {m.dtype for m in models}
    assert any(m.C is None for m in models) and {m.return_sequences for m in models} == {True, False}
    assert any(isinstance(m, elman.StackedRNN) and len(m.layers) == 1 for m in models)
    assert {l.activation for l in layers} >= {"tanh", "relu", "sigmoid", "gelu"}
    assert any(len({l.activation for l in _layers(m)}) > 1 for m in models)
    keras_models = [ROUND_TRIP[n] for n in KERAS_MODELS]
    assert any(m.C is None and m.output_activation != "linear" for m in keras_models)
    assert any(isinstance(m, elman.StackedRNN) and len(m.layers) == 1 for m in keras_models)


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_every_pair_keeps_the_model(name, tmp_path, keras):
    """model -> first -> second -> model, for every pair of formats: the same class, every
    matrix bit for bit, the activations, go_backwards, return_sequences and dtype, and the
    same predictions; .keras changes only what _expected says. A state activation that
    torch.nn.RNN lacks is refused by .pt with the reason."""
    rnn = ROUND_TRIP[name]
    U = np.random.default_rng(1).standard_normal((3, 6, rnn.input_dim)).astype(rnn.dtype)
    y = rnn.predict(U)
    torch_ok = all(l.activation in ("tanh", "relu") for l in _layers(rnn))
    firsts = {}
    for first, second in _pairs(name):
        if ".pt" in (first, second) and not torch_ok:
            with pytest.raises(UnsupportedModelError, match="torch.nn.RNN lacks.*keep"):
                write_model(rnn, tmp_path / f"x{first}" if first == ".pt" else tmp_path / f"x{second}")
            continue
        if first not in firsts:
            firsts[first] = write_model(rnn, tmp_path / f"a{first}")
        back = read_model(convert(firsts[first], tmp_path / f"b-{first[1:]}{second}"))
        label = f"{name}: {first} -> {second}"
        _assert_same_model(back, _expected(rnn, (first, second)), label)
        np.testing.assert_array_equal(back.predict(U), y, err_msg=label)


def test_keras_changes_are_the_documented_ones(tmp_path, keras):
    """The two cases the guide names, seen directly: .keras gives C = I, d = 0 for a model
    without readout whose g is not linear, and an ElmanRNN for a one-layer StackedRNN."""
    for name in ("stack-f64-no-readout-relu-out", "stack-one-layer"):
        rnn = ROUND_TRIP[name]
        back = read_model(write_model(rnn, tmp_path / f"{name}.keras"))
        assert _expected(rnn, (".keras",)) is not rnn
        _assert_same_model(back, _expected(rnn, (".keras",)), name)
    no_readout = ROUND_TRIP["stack-f64-no-readout-relu-out"]
    back = read_model(write_model(no_readout, tmp_path / "m.keras"))
    assert no_readout.C is None and np.array_equal(back.C, np.eye(no_readout.state_dim)) and not back.d.any()
    assert isinstance(read_model(tmp_path / "stack-one-layer.keras"), elman.ElmanRNN)
    linear = elman.StackedRNN(no_readout.layers, None, None, "linear", dtype=no_readout.dtype)
    assert read_model(write_model(linear, tmp_path / "lin.keras")).C is None  # g linear: no Dense, C stays None
    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
    section = guide[guide.index("## 8. Taking the model elsewhere"):guide.index("## 9.")]
    assert "C = I and d = 0" in section and "one-layer `StackedRNN` comes back as an `ElmanRNN`" in section
    assert "survive every pair exactly" not in section


def test_keras_file_to_onnx_matches_keras_predict(tmp_path, keras):
    """A .keras file converted to .onnx on the command line: onnxruntime's output equals
    Keras's own model.predict (float32, 1e-5)."""
    import onnxruntime as ort

    model = build(keras, 3, [6], 2, return_sequences=False, seed=4)
    randomize(model, 4)
    model.save(tmp_path / "m.keras")
    assert cli.main(["convert", str(tmp_path / "m.keras"), str(tmp_path / "m.onnx")]) == 0
    U = np.random.default_rng(0).standard_normal((7, 9, 3)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (y_onnx,) = session.run(None, {"U": U})
    np.testing.assert_allclose(y_onnx, model.predict(U, verbose=0), atol=1e-5, rtol=1e-5)


def test_pt_to_keras_matches_torch(tmp_path, keras):
    """A .pt written from a torch-trained layout, converted to .keras: Keras's predict
    equals the torch module's output (float32, 1e-5)."""
    import torch

    from elman.torch import to_torch

    rnn = _stacked(2)
    write_model(rnn, tmp_path / "m.pt")
    assert cli.main(["convert", str(tmp_path / "m.pt"), str(tmp_path / "m.keras")]) == 0
    kmodel = keras.models.load_model(tmp_path / "m.keras")
    U = np.random.default_rng(1).standard_normal((4, 6, 3)).astype(np.float32)
    with torch.no_grad():
        y_torch = to_torch(rnn)(torch.from_numpy(U)).numpy()
    np.testing.assert_allclose(kmodel.predict(U, verbose=0), y_torch, atol=1e-5, rtol=1e-5)


def test_export_command_writes_the_files(tmp_path, capsys):
    rnn = elman.ElmanRNN.init(2, 3, 1, seed=0)
    rnn.save(tmp_path / "m.npz")
    assert cli.main(["export", str(tmp_path / "m.npz"), "--to", "numpy", "--out", str(tmp_path / "m.py")]) == 0
    assert (tmp_path / "m.py").is_file() and "m.py" in capsys.readouterr().out
    assert cli.main(["export", str(tmp_path / "m.npz"), "--to", "c", "--out", str(tmp_path / "net.c"),
                     "--dtype", "float32"]) == 0
    assert (tmp_path / "net.c").is_file() and (tmp_path / "net.h").is_file()
    assert "float" in (tmp_path / "net.c").read_text()


@pytest.mark.parametrize("argv,words", [
    (["convert", "{d}/missing.npz", "{d}/x.pt"], "does not exist"),
    (["convert", "{d}/m.npz", "{d}/x.txt"], "expected one of"),
    (["convert", "{d}/m.npz", "{d}/x.h5"], "expected one of"),
    (["convert", "{d}/m.npz", "{d}/m.npz"], "same file"),
    (["convert", "{d}/m.npz", "{d}/nofolder/x.pt"], "does not exist"),
    (["convert", "{d}/m.npz", "{d}/m.npz/x.pt"], "'{d}/m.npz' is not a folder (it is a file)"),
    (["convert", "{d}/m.npz", "{d}"], "expected one of"),
    (["export", "{d}/m.npz", "--to", "rust", "--out", "{d}/x.rs"], "invalid choice"),
    (["export", "{d}/m.npz", "--to", "c", "--out", "{d}/x.c", "--dtype", "float16"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(argv, words, tmp_path, capsys):
    elman.ElmanRNN.init(2, 3, 1, seed=0).save(tmp_path / "m.npz")
    assert cli.main([a.format(d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words.format(d=tmp_path) in err and "Traceback" not in err


def test_library_errors_name_the_argument(tmp_path):
    rnn = elman.ElmanRNN.init(2, 3, 1, seed=0)
    with pytest.raises(InputTypeError, match="rnn must be an ElmanRNN"):
        write_model("not a model", tmp_path / "x.npz")
    with pytest.raises(InputTypeError, match="path must be a str"):
        write_model(rnn, 3)
    with pytest.raises(ParameterError, match="suffix '.txt'"):
        write_model(rnn, tmp_path / "x.txt")
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model(tmp_path / "none.onnx")


def test_an_npz_under_another_name_is_read(tmp_path):
    rnn = elman.ElmanRNN.init(2, 3, 1, seed=0)
    rnn.save(tmp_path / "m.npz")
    (tmp_path / "m.npz").rename(tmp_path / "m.model")
    np.testing.assert_array_equal(read_model(tmp_path / "m.model").B, rnn.B)


@pytest.mark.parametrize("suffix", FORMATS)
def test_write_errors_name_the_target(suffix, tmp_path, keras, monkeypatch):
    """A target that cannot be written is one OutputError naming the TARGET and the reason:
    never a temporary file's name, never torch's C++ text; nothing is left behind."""
    rnn = elman.ElmanRNN.init(2, 3, 1, seed=0)
    (tmp_path / f"d{suffix}").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path / f"d{suffix}", "it is a directory"),
             (tmp_path / "file" / f"x{suffix}", f"{str(tmp_path / 'file')!r} is not a folder"),
             (tmp_path / "missing" / f"x{suffix}", "does not exist")]
    for target, reason in cases:
        with pytest.raises(OutputError) as info:
            write_model(rnn, target)
        message = str(info.value)
        assert message.startswith(f"cannot write model file {str(target)!r}: ") and reason in message, message
    if suffix in (".keras", ".pt"):  # the writes of this module: a failure while writing
        real = os.replace

        def refuse(src, dst):
            raise PermissionError(13, "Permission denied", str(src), str(dst))

        monkeypatch.setattr(os, "replace", refuse)
        target = tmp_path / f"m{suffix}"
        with pytest.raises(OutputError) as info:
            write_model(rnn, target)
        assert str(info.value) == f"cannot write model file {str(target)!r}: Permission denied"
        monkeypatch.setattr(os, "replace", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"d{suffix}", "file"])  # no temporary file


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be made")
@pytest.mark.parametrize("suffix", [".keras", ".pt"])
def test_an_unwritable_folder_names_the_target(suffix, keras):
    with pytest.raises(OutputError) as info:
        write_model(elman.ElmanRNN.init(2, 3, 1, seed=0), f"/proc/x{suffix}")
    message = str(info.value)
    assert message.startswith(f"cannot write model file '/proc/x{suffix}': ") and "\n" not in message
    assert ".tmp" not in message and f"x{suffix}." not in message and "enforce" not in message
