"""`elman convert IN OUT` and `elman export`: every pair of formats, checked by predictions
(Keras's own predict and onnxruntime's run, not only elman's), and every bad input as a
one-line error with exit code 2."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import elman
from elman import cli
from elman.convert import convert, read_model, write_model
from elman.errors import InputTypeError, ModelFileError, ParameterError
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


def _params(rnn):
    layers = rnn.layers if isinstance(rnn, elman.StackedRNN) else [rnn]
    return [m for l in layers for m in (l.A, l.B, l.b)] + [rnn.C, rnn.d]


@pytest.mark.parametrize("first,second", list(itertools.permutations(FORMATS, 2)))
def test_every_pair_keeps_the_matrices(first, second, tmp_path, keras):
    """npz -> first -> second -> npz: the same float32 matrices, bit for bit (no format
    rounds, transposes or splits a bias in a way that is not undone exactly)."""
    rnn = _stacked(1)
    a = write_model(rnn, tmp_path / f"a{first}")
    b = convert(a, tmp_path / f"b{second}")
    back = read_model(b)
    assert type(back) is type(rnn) and back.return_sequences == rnn.return_sequences
    for x, y in zip(_params(back), _params(rnn)):
        np.testing.assert_array_equal(x, y)


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
    (["export", "{d}/m.npz", "--to", "rust", "--out", "{d}/x.rs"], "invalid choice"),
    (["export", "{d}/m.npz", "--to", "c", "--out", "{d}/x.c", "--dtype", "float16"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(argv, words, tmp_path, capsys):
    elman.ElmanRNN.init(2, 3, 1, seed=0).save(tmp_path / "m.npz")
    assert cli.main([a.format(d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


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
