"""Bad input gets an elman error that names the argument, what was given and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import elman
from elman import ElmanRNN
from elman.errors import (
    ElmanError,
    InputTypeError,
    ModelFileError,
    NonFiniteError,
    ParameterError,
    ShapeError,
    UnknownActivationError,
    UnsupportedModelError,
)

D, M, K = 3, 5, 2
rng = np.random.default_rng(0)
A, B, b, C, d = (rng.standard_normal(s) for s in [(M, M), (M, D), (M,), (K, M), (K,)])
RNN = ElmanRNN(A, B, b, C, d)
U = rng.standard_normal((4, 6, D))


def params(**change):
    p = dict(A=A, B=B, b=b, C=C, d=d)
    p.update(change)
    return p


# (what goes wrong, call, exception type, regex the message must match)
CASES = [
    ("A not square", lambda: ElmanRNN(**params(A=np.ones((5, 4)))), ShapeError, r"A has shape \(5, 4\) but should be square \(M, M\)"),
    ("B wrong rows", lambda: ElmanRNN(**params(B=np.ones((4, 3)))), ShapeError, r"B has shape \(4, 3\) but should be \(M, D\) = \(5, D\)"),
    ("b wrong length", lambda: ElmanRNN(**params(b=np.ones(4))), ShapeError, r"b has shape \(4,\) but should be \(M,\) = \(5,\)"),
    ("C wrong columns", lambda: ElmanRNN(**params(C=np.ones((2, 3)))), ShapeError, r"C has shape \(2, 3\) but should be \(K, M\) = \(K, 5\)"),
    ("d wrong length", lambda: ElmanRNN(**params(d=np.ones(3))), ShapeError, r"d has shape \(3,\) but should be \(K,\) = \(2,\)"),
    ("NaN in A", lambda: ElmanRNN(**params(A=np.where(np.eye(M) > 0, np.nan, A))), NonFiniteError, r"A holds NaN or inf .*index \(0, 0\)"),
    ("inf in B", lambda: ElmanRNN(**params(B=np.full((M, D), np.inf))), NonFiniteError, r"B holds NaN or inf"),
    ("NaN in the input", lambda: RNN.predict(np.where(U > 1.5, np.nan, U)), NonFiniteError, r"U holds NaN or inf"),
    ("unknown activation", lambda: ElmanRNN(A, B, b, activation="tanhh"), UnknownActivationError, r"activation 'tanhh' is not known; expected one of: linear, tanh"),
    ("activation not a name", lambda: ElmanRNN(A, B, b, activation=3), UnknownActivationError, r"activation must be a name .* got int 3"),
    ("2-D input", lambda: RNN.predict(np.ones((4, 6))), ShapeError, r"U has shape \(4, 6\) \(2-D\) but \(N, T, D\).*U\.reshape\(4, 6, 1\)"),
    ("1-D input", lambda: RNN.predict(np.ones(6)), ShapeError, r"U has shape \(6,\) \(1-D\).*U\.reshape\(1, -1, 1\)"),
    ("wrong feature count", lambda: RNN.predict(np.ones((4, 6, 2))), ShapeError, r"U has 2 features \(U\.shape\[2\] = 2\) but the model expects D = 3"),
    ("z0 wrong shape", lambda: RNN.predict(U, z0=np.zeros(4)), ShapeError, r"z0 has shape \(4,\) but should be \(M,\) = \(5,\) or \(N, M\) = \(4, 5\)"),
    ("zero time steps", lambda: RNN.predict(np.ones((4, 0, 3))), ShapeError, r"U has shape \(4, 0, 3\): zero time steps; expected T >= 1"),
    ("zero samples", lambda: RNN.run(np.ones((0, 2, 3))), ShapeError, r"zero samples"),
    ("non-numeric input", lambda: RNN.predict(np.array([[["a", "b", "c"]]])), InputTypeError, r"U must hold real numbers, got an array of dtype <U1"),
    ("ragged input", lambda: RNN.predict([[[1, 2, 3]], [[1, 2]]]), InputTypeError, r"U cannot be read as an array of numbers"),
    ("non-numeric matrix", lambda: ElmanRNN(**params(b=["x"] * M)), InputTypeError, r"b must hold real numbers"),
    ("stateful wrong batch", lambda: RNN.stateful(4).predict(np.ones((3, 6, 3))), ShapeError, r"U has 3 samples \(U\.shape\[0\]\) but this stateful runner was made for batch_size = 4"),
    ("stateful bad batch size", lambda: RNN.stateful(0), ParameterError, r"batch_size must be a positive integer, got 0"),
    ("state of wrong shape", lambda: setattr(RNN.stateful(4), "state", np.zeros((3, 5))), ShapeError, r"state has shape \(3, 5\) but should be"),
    ("dtype not float", lambda: RNN.astype(np.int32), ParameterError, r"dtype must be float32 or float64, got <class 'numpy.int32'>"),
    ("init size", lambda: ElmanRNN.init(0, 5), ParameterError, r"input_dim must be a positive integer, got 0"),
    ("d without C", lambda: ElmanRNN(A, B, b, d=d), ShapeError, r"d was given without C"),
    ("replace unknown", lambda: RNN.replace(E=1), ParameterError, r"replace\(\) got unknown names \['E'\]"),
    ("step u wrong", lambda: RNN.step(np.zeros(M), np.zeros(2)), ShapeError, r"u has shape \(2,\) but should be \(D,\) = \(3,\)"),
    ("stacked mismatch", lambda: elman.StackedRNN([ElmanRNN(A, B, b), ElmanRNN.init(4, 2)]), ShapeError, r"layers\[1\]\.B has shape \(2, 4\) but should be \(M, 5\)"),
    ("stacked z0 not a list", lambda: elman.StackedRNN([ElmanRNN(A, B, b), ElmanRNN.init(5, 2)]).predict(U, z0=np.zeros(5)), ShapeError, r"z0 must be a list of 2 arrays"),
    ("missing npz file", lambda: elman.load("/nonexistent/model.npz"), ModelFileError, r"model file '/nonexistent/model\.npz' does not exist"),
]


@pytest.mark.parametrize("what,call,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input(what, call, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        call()
    assert isinstance(info.value, ElmanError)


def test_immutable():
    with pytest.raises(AttributeError, match="immutable"):
        RNN.A = np.eye(M)
    with pytest.raises(ValueError, match="read-only"):
        RNN.A[0, 0] = 1.0
    # The model owns a copy: changing the caller's array changes nothing.
    A2 = A.copy()
    rnn = ElmanRNN(A2, B, b)
    A2[0, 0] += 1
    assert rnn.A[0, 0] == A[0, 0]


def test_errors_are_builtin_subclasses():
    assert issubclass(ShapeError, ValueError) and issubclass(InputTypeError, TypeError)
    assert issubclass(ModelFileError, FileNotFoundError)
    assert issubclass(elman.errors.MissingDependencyError, ImportError)


# ------------------------------------------------------------------ the Keras bridge

def test_unsupported_layers(keras):
    cases = {
        "LSTM": keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(3), keras.layers.Dense(1)]),
        "GRU": keras.Sequential([keras.Input((5, 2)), keras.layers.GRU(3)]),
        "Bidirectional": keras.Sequential([keras.Input((5, 2)), keras.layers.Bidirectional(keras.layers.SimpleRNN(3))]),
        "Masking": keras.Sequential([keras.Input((5, 2)), keras.layers.Masking(), keras.layers.SimpleRNN(3)]),
        "Embedding": keras.Sequential([keras.Input((5,)), keras.layers.Embedding(10, 2), keras.layers.SimpleRNN(3)]),
        "Conv1D": keras.Sequential([keras.Input((5, 2)), keras.layers.Conv1D(2, 2), keras.layers.SimpleRNN(3)]),
        # "Dense" is in every message's list of supported layers, so matching the word alone
        # proves nothing: the offending layer gets a name of its own, which must be quoted.
        "Dense": keras.Sequential([keras.Input((5, 2)), keras.layers.SimpleRNN(3), keras.layers.Dense(2),
                                   keras.layers.Dense(1, name="second_readout")]),
    }
    for kind, model in cases.items():
        with pytest.raises(UnsupportedModelError, match=rf"\({kind}\)|{kind}|cell LSTMCell|cell GRUCell") as info:
            elman.from_keras(model)
        msg = str(info.value)
        assert "layer '" in msg and "supported:" in msg and "elman.keras.SUPPORTED" in msg, msg
        if kind == "Dense":
            assert "layer 'second_readout' (Dense)" in msg, msg
            assert "one last Dense" in msg.split("supported:", 1)[1], msg


def test_unsupported_settings(keras):
    inp = keras.Input((5, 2))
    seq, state = keras.layers.SimpleRNN(3, return_state=True)(inp)
    with pytest.raises(UnsupportedModelError, match="2 outputs"):
        elman.from_keras(keras.Model(inp, [seq, state]))
    layer = keras.layers.SimpleRNN(3, activation="mish")
    model = keras.Sequential([keras.Input((5, 2)), layer])
    with pytest.raises(UnsupportedModelError, match=r"activation 'mish'.*expected one of"):
        elman.from_keras(model)
    with pytest.raises(UnsupportedModelError, match="comes before any SimpleRNN"):
        elman.from_keras(keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)]))
    with pytest.raises(UnsupportedModelError, match="has no SimpleRNN layer"):
        elman.from_keras(keras.Sequential([keras.Input((5, 2)), keras.layers.Dropout(0.1)]))


def test_missing_and_foreign_keras_files(tmp_path):
    with pytest.raises(ModelFileError, match=r"model file '.*nope\.keras' does not exist"):
        elman.from_keras(tmp_path / "nope.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match=r"is not a \.keras archive \(not a zip file\)"):
        elman.from_keras(bad)
    txt = tmp_path / "model.txt"
    txt.write_text("x")
    with pytest.raises(ModelFileError, match=r"has suffix '\.txt'; expected \.keras .*or \.h5"):
        elman.from_keras(txt)
    with pytest.raises(InputTypeError, match="model_or_path must be a keras.Model"):
        elman.from_keras(42)


def test_truncated_npz(tmp_path):
    path = tmp_path / "m.npz"
    RNN.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable elman model"):
        elman.load(path)
