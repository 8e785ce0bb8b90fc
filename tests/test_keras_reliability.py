"""The Keras bridge never returns a silently wrong model, and says briefly what to do.

Against the real Keras: quantized and mixed-precision layers are refused (and the
tests show the answer a conversion would have given is wrong), a stateful model that
has run warns that its state is not carried and the hint in the warning carries it,
messages are one short line, load_keras_model says what a bad path is, and elman's
own Keras calls do not log TensorFlow's retracing warnings.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import elman
from elman.errors import ModelFileError, StateWarning, UnsupportedModelError
from helpers import assert_parity, build, max_err

D, M, K = 3, 5, 2  # D != M != K
N, T = 4, 6
MAX_LEN = 200
TOL32 = 1e-5


def short(exc_info) -> str:
    """The message, checked to be one line of at most MAX_LEN characters."""
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    assert len(msg) <= MAX_LEN, f"{len(msg)} characters: {msg}"
    return msg


@pytest.fixture(scope="module")
def U():
    return np.random.default_rng(7).standard_normal((N, T, D)).astype(np.float32)


def quantize(model, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras: "Layer SimpleRNNCell does not have a quantize method"
        model.quantize(mode)


def naive(model) -> elman.ElmanRNN:
    """What from_keras would return if it read the weights without looking at the dtype policy."""
    W, R, b, C, d = (np.asarray(w).astype(np.float32) for w in model.get_weights()[:5])
    return elman.ElmanRNN(R.T, W.T, b, C.T, d)


# ------------------------------------------------------------------ quantized layers


@pytest.mark.parametrize("mode", ["int8", "float8", "int4"])
def test_quantized_dense_is_refused(keras, U, mode):
    model = build(keras, D, [M], K, seed=1)
    y_float = model.predict(U, verbose=0)
    assert_parity(y_float, elman.from_keras(model).predict(U), TOL32, "before quantize")
    try:
        quantize(model, mode)
    except (NotImplementedError, ValueError) as exc:  # pragma: no cover - depends on the Keras version
        pytest.skip(f"this Keras cannot quantize a Dense to {mode}: {exc}")
    dense = model.layers[-1]
    assert dense.quantization_mode == mode
    # Reading the weights as they lie gives a wrong model (int8: the integer kernel without
    # its scale), or none at all (int4 packs two weights per byte).
    try:
        err = max_err(model.predict(U, verbose=0), naive(model).predict(U))[0]
    except elman.errors.ShapeError:
        err = np.inf
    assert err > 1e-3, f"{mode}: the raw weights reproduce Keras ({err:.1e}); the test shows nothing"
    with pytest.raises(UnsupportedModelError) as info:
        elman.from_keras(model)
    msg = short(info)
    assert f"layer {dense.name!r} (Dense)" in msg and f"{mode}-quantized" in msg
    assert "un-quantized model" in msg


def test_quantized_model_file_via_cli(keras, tmp_path):
    """`python -m elman inspect quantized.keras`: exit 2, one line on stderr, no traceback."""
    model = build(keras, D, [M], K, seed=2)
    quantize(model, "int8")
    path = tmp_path / "quantized.keras"
    try:
        model.save(path)
    except Exception as exc:  # pragma: no cover - depends on the Keras version
        pytest.skip(f"this Keras cannot save an int8-quantized model: {exc}")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # elman's own default
    run = subprocess.run([sys.executable, "-m", "elman", "inspect", str(path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "int8-quantized" in lines[0] and "un-quantized model" in lines[0]


# ------------------------------------------------------------------ mixed precision

MIXED = {
    # name: (layer kwargs for the SimpleRNN, for a Dropout after it, for the Dense; compute, variable dtype)
    "rnn mixed_float16": ({"dtype": "mixed_float16"}, None, {}, "float16", "float32"),
    "rnn float16": ({"dtype": "float16"}, None, {}, "float16", "float16"),
    "dense mixed_bfloat16": ({}, None, {"dtype": "mixed_bfloat16"}, "bfloat16", "float32"),
    "dense bfloat16": ({}, None, {"dtype": "bfloat16"}, "bfloat16", "bfloat16"),
    "dropout mixed_float16": ({}, {"dtype": "mixed_float16"}, {}, "float16", "float32"),
}


@pytest.mark.parametrize("case", list(MIXED))
def test_mixed_precision_is_refused_before_any_weight_is_read(keras, U, case, monkeypatch):
    rnn_kw, drop_kw, dense_kw, compute, variable = MIXED[case]
    layers = [keras.layers.SimpleRNN(M, name="rnn", **rnn_kw)]
    if drop_kw is not None:
        layers.append(keras.layers.Dropout(0.1, name="drop", **drop_kw))
    layers.append(keras.layers.Dense(K, name="readout", **dense_kw))
    model = keras.Sequential([keras.Input((None, D)), *layers])
    rng = np.random.default_rng(3)
    model.set_weights([(rng.standard_normal(w.shape) / np.sqrt(w.shape[0])).astype(w.dtype)
                       for w in model.get_weights()])
    # A float32 reproduction of these weights is off by more than the float32 tolerance:
    # Keras rounds to half precision.
    assert max_err(model.predict(U, verbose=0), naive(model).predict(U))[1] > TOL32
    name = {"rnn": "rnn", "dense": "readout", "dropout": "drop"}[case.split()[0]]
    monkeypatch.setattr("elman.keras.to_numpy", lambda v: pytest.fail("a weight was read before the check"))
    with pytest.raises(UnsupportedModelError) as info:
        elman.from_keras(model)
    msg = short(info)
    assert f"layer {name!r}" in msg and compute in msg and variable in msg, msg
    assert "float32/float64" in msg and "dtype='float32'" in msg


def test_half_precision_cell_and_input_are_refused(keras):
    cell16 = keras.Sequential([keras.Input((None, D)), keras.layers.RNN(keras.layers.SimpleRNNCell(M, dtype="float16"),
                                                                        name="wrapped")])
    with pytest.raises(UnsupportedModelError) as info:
        elman.from_keras(cell16)
    assert "layer 'wrapped'" in short(info) and "float16" in str(info.value)
    in16 = keras.Sequential([keras.Input((None, D), dtype="float16"), keras.layers.SimpleRNN(M)])
    with pytest.raises(UnsupportedModelError) as info:
        elman.from_keras(in16)
    assert "float16 input" in short(info)


# ------------------------------------------------------------------ custom activations


def my_act(x):
    return x * 0.5


def tanh(x):  # a user's function that only shares Keras's name
    import keras

    return keras.ops.tanh(x) * 0.5


@pytest.mark.parametrize("fn,words", [(lambda x: x * 0.5, "a custom Python function activation;"),
                                      (my_act, "a custom Python function activation 'my_act'"),
                                      (tanh, "a custom Python function activation 'tanh'")],
                         ids=["lambda", "named", "shadows tanh"])
def test_custom_activation_is_named_not_dumped(keras, U, fn, words):
    model = keras.Sequential([keras.Input((None, D)), keras.layers.SimpleRNN(M, activation=fn, name="rnn"),
                              keras.layers.Dense(K)])
    if fn is tanh:  # Keras serializes it as "tanh": reading that name would give a wrong model
        assert keras.activations.serialize(fn) == "tanh"
        assert max_err(model.predict(U, verbose=0), naive(model).predict(U))[0] > 1e-3
    with pytest.raises(UnsupportedModelError) as info:
        elman.from_keras(model)
    msg = short(info)
    assert "layer 'rnn' has " + words in msg, msg
    assert "lambda" not in msg and "{" not in msg and "<" not in msg and "elman.activations.names()" in msg


# ------------------------------------------------------------------ short messages


def test_unsupported_messages_are_one_short_line(keras):
    inp = keras.Input((5, 2))
    seq, state = keras.layers.SimpleRNN(3, return_state=True)(inp)
    models = {
        "LSTM": keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(3), keras.layers.Dense(1)]),
        "Bidirectional": keras.Sequential([keras.Input((5, 2)), keras.layers.Bidirectional(keras.layers.SimpleRNN(3))]),
        "follows the Dense readout": keras.Sequential([keras.Input((5, 2)), keras.layers.SimpleRNN(3),
                                                       keras.layers.Dense(2), keras.layers.Dense(1)]),
        "comes before any SimpleRNN": keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)]),
        "has no SimpleRNN layer": keras.Sequential([keras.Input((5, 2)), keras.layers.Dropout(0.1)]),
        "2 outputs": keras.Model(inp, [seq, state]),
        "activation 'mish'": keras.Sequential([keras.Input((5, 2)), keras.layers.SimpleRNN(3, activation="mish")]),
    }
    for words, model in models.items():
        with pytest.raises(UnsupportedModelError) as info:
            elman.from_keras(model)
        msg = short(info)
        assert words in msg, msg
        if words != "activation 'mish'":
            assert "supported: SimpleRNN" in msg and "elman.keras.SUPPORTED" in msg, msg
    # The full description stays public.
    assert len(elman.keras.SUPPORTED) > MAX_LEN and "quantized" in elman.keras.SUPPORTED


# ------------------------------------------------------------------ stateful: the state is not carried


@pytest.fixture(scope="module")
def stateful_models(keras):
    return {
        "one layer": build(keras, D, [M], K, stateful=True, batch_size=N, return_sequences=True, seed=21),
        "stacked": build(keras, D, [M, 4], K, stateful=True, batch_size=N, seed=22),
    }


@pytest.mark.parametrize("kind", ["one layer", "stacked"])
def test_state_warning_and_its_hint(stateful_models, U, kind):
    model = stateful_models[kind]
    elman.reset_states(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StateWarning)
        elman.from_keras(model)  # a zero state: nothing to say
    model.predict(U, batch_size=N, verbose=0)  # Keras now holds a nonzero state
    with pytest.warns(StateWarning) as record:
        rnn = elman.from_keras(model)
    ours = [w for w in record if issubclass(w.category, StateWarning)]
    assert len(ours) == 1
    msg = str(ours[0].message)
    assert "\n" not in msg and len(msg) <= MAX_LEN and "not carried" in msg, msg
    hint = msg.split("to carry it: ", 1)[1]
    get = "elman.get_states(model)" + ("[0]" if kind == "one layer" else "")
    assert hint == f"runner = rnn.stateful({N}); runner.state = {get}"

    U2 = np.random.default_rng(8).standard_normal((N, T, D)).astype(np.float32)
    y_zero = rnn.stateful(N).predict(U2)  # what the warning is about
    scope = {"elman": elman, "rnn": rnn, "model": model}
    exec(hint, scope)  # exactly what the message says
    y_elman = scope["runner"].predict(U2)
    y_keras = model.predict(U2, batch_size=N, verbose=0)
    assert_parity(y_keras, y_elman, TOL32, f"{kind}: the hint followed")
    assert max_err(y_keras, y_zero)[0] > 1e-3, "without the hint the runner should differ"


def test_verify_keras_does_not_warn_of_the_state(stateful_models, U):
    model = stateful_models["stacked"]
    model.predict(U, batch_size=N, verbose=0)
    before = elman.get_states(model)
    assert any(np.any(s != 0) for s in before)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        report = elman.verify_keras(model, n_steps=3)
    assert report.passed
    assert not [w for w in record if issubclass(w.category, StateWarning)]
    for a, b in zip(before, elman.get_states(model)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ load_keras_model


@pytest.fixture(scope="module")
def small(keras):
    return build(keras, D, [M], K, seed=31)


def test_load_keras_model_paths(keras, small, U, tmp_path):
    folder = tmp_path / "folder.keras"
    folder.mkdir()
    with pytest.raises(ModelFileError) as info:
        elman.keras.load_keras_model(folder)
    assert "is a directory, not a model file" in short(info) and "does not exist" not in str(info.value)

    upper = tmp_path / "MODEL.KERAS"
    small.save(tmp_path / "m.keras")
    (tmp_path / "m.keras").rename(upper)
    assert_parity(small.predict(U, verbose=0), elman.from_keras(upper).predict(U), TOL32, "MODEL.KERAS")

    other = tmp_path / "model.pb"
    other.write_bytes(b"x")
    with pytest.raises(ModelFileError) as info:
        elman.keras.load_keras_model(other)
    msg = short(info)
    assert "'.pb'" in msg and ".keras" in msg and ".h5" in msg


def test_keras_load_failures_are_one_line(keras, tmp_path):
    cases = {}
    h5 = tmp_path / "garbage.h5"
    h5.write_bytes(b"not hdf5 at all\n" * 10)
    cases[h5] = "could not load Keras model"
    notkeras = tmp_path / "other.keras"
    with zipfile.ZipFile(notkeras, "w") as z:
        z.writestr("hello.txt", "a zip, but not a Keras model\nsecond line\n")
    cases[notkeras] = "could not load Keras model"
    lam = tmp_path / "lambda.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that a lambda is unsafe to save
        keras.Sequential([keras.Input((T, D)), keras.layers.SimpleRNN(M),
                          keras.layers.Lambda(lambda x: x * 2)]).save(lam)
    cases[lam] = "holds Python code"
    for path, words in cases.items():
        with pytest.raises(ModelFileError) as info:
            elman.keras.load_keras_model(path)
        msg = str(info.value)
        assert "\n" not in msg and len(msg) <= MAX_LEN + len(str(path)), msg
        assert words in msg, msg


# ------------------------------------------------------------------ TensorFlow's log


def test_verify_keras_keeps_tensorflows_log_quiet(small, monkeypatch):
    """Warnings TensorFlow logs during elman's predict calls (tf.function retracing) are not shown."""
    tf_log = logging.getLogger("tensorflow")
    seen = []

    class Catch(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    real_predict = small.predict

    def predict(*args, **kwargs):  # what TensorFlow does when it retraces
        tf_log.warning("5 out of the last 5 calls to <function> triggered tf.function retracing.")
        return real_predict(*args, **kwargs)

    handler = Catch()
    tf_log.addHandler(handler)
    level = tf_log.level
    try:
        monkeypatch.setattr(small, "predict", predict)
        assert elman.verify_keras(small).passed
        assert seen == []
        assert tf_log.level == level  # restored
        small.predict(np.zeros((1, T, D), np.float32), verbose=0)  # outside elman: the user's log as it was
        assert len(seen) == 1 and "retracing" in seen[0]
    finally:
        tf_log.removeHandler(handler)
