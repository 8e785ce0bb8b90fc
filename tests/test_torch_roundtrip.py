"""Round trips through PyTorch: Keras -> elman -> torch -> elman -> Keras, and .pt files
(save_pt / load_pt) with their refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import elman  # noqa: E402
from elman.errors import InputTypeError, ModelFileError, OutputError, UnsupportedModelError  # noqa: E402
from elman.model import ElmanRNN, StackedRNN  # noqa: E402
from elman.torch import from_torch, load_pt, save_pt, to_torch  # noqa: E402
from helpers import build  # noqa: E402


@pytest.mark.parametrize("Ms, K, act, g, rs, gb, bias", [
    ([5], 2, "tanh", "linear", False, False, True),
    ([5], 3, "relu", "sigmoid", True, True, False),
    ([5], None, "tanh", "linear", True, False, True),
    ([4, 6], 3, ["tanh", "relu"], "softsign", False, [False, True], True),
    ([4, 4, 4], 2, "tanh", "tanh", True, False, True),
])
def test_keras_to_elman_to_torch_to_elman_to_keras(keras, Ms, K, act, g, rs, gb, bias):
    m = build(keras, 3, Ms, K, activation=act, dense_activation=g, return_sequences=rs, go_backwards=gb,
              use_bias=bias, seed=11)
    module = to_torch(elman.from_keras(m))
    m2 = elman.to_keras(from_torch(module))
    U = np.random.default_rng(0).standard_normal((4, 7, 3)).astype(np.float32)
    y, y2 = m.predict(U, verbose=0), m2.predict(U, verbose=0)
    assert y.shape == y2.shape and np.all(np.isfinite(y))
    np.testing.assert_allclose(y2, y, rtol=0, atol=1e-6)
    # ... and the torch module in between predicts the same
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.tensor(U)).numpy(), y, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- .pt files


def _models():
    l1 = ElmanRNN.init(3, 4, seed=1, activation="relu").replace(b=np.linspace(-1, 1, 4))
    l2 = ElmanRNN.init(4, 6, seed=2).replace(go_backwards=True)
    return [
        ElmanRNN.init(3, 5, 2, seed=0, output_activation="gelu", return_sequences=True).replace(d=[0.5, -1.0]),
        ElmanRNN.init(2, 4, seed=3, dtype=np.float32).replace(go_backwards=True),
        StackedRNN([l1, l2], C=np.arange(12.0).reshape(2, 6) / 12, d=[0.1, -0.2]),
        StackedRNN([ElmanRNN.init(2, 3, seed=4), ElmanRNN.init(3, 3, seed=5)], dtype=np.float32),
        StackedRNN([ElmanRNN.init(2, 3, seed=6, activation="relu")], C=np.ones((1, 3)), d=[0.5],
                   output_activation="tanh", return_sequences=True),  # one layer: stays a StackedRNN
    ]


def _same(a, b):
    assert type(a) is type(b) and a.dtype == b.dtype
    pairs = zip(a.layers, b.layers) if isinstance(a, StackedRNN) else [(a, b)]
    for x, y in pairs:
        for name in "ABb":
            assert np.array_equal(getattr(x, name), getattr(y, name)), name
        assert (x.activation, x.go_backwards) == (y.activation, y.go_backwards)
    for name in "Cd":
        assert (getattr(a, name) is None) == (getattr(b, name) is None)
        assert getattr(a, name) is None or np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.output_activation, a.return_sequences) == (b.output_activation, b.return_sequences)


@pytest.mark.parametrize("i", range(5))
def test_pt_round_trip(tmp_path, i):
    model = _models()[i]
    path = tmp_path / "model.pt"
    save_pt(model, path)
    _same(load_pt(path), model)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_pt_file_is_plain_torch(tmp_path):
    """Readable by torch alone: a state_dict for to_torch's module and a JSON-able config."""
    model = _models()[2]
    save_pt(model, tmp_path / "m.pt")
    obj = torch.load(tmp_path / "m.pt", weights_only=True)
    json.dumps(obj["config"])
    assert obj["config"]["state_dims"] == [4, 6] and obj["config"]["go_backwards"] == [False, True]
    module = to_torch(model)
    fresh = to_torch(ElmanRNN.init(3, 4, seed=9).replace(b=np.zeros(4)))  # another model ...
    module.load_state_dict(obj["state_dict"])  # ... while the saved one loads into its own layout
    assert set(fresh.state_dict()) != set(obj["state_dict"])
    U = np.random.default_rng(0).standard_normal((2, 5, 3))
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.tensor(U)).numpy(), model.predict(U), rtol=0, atol=1e-12)


def test_pt_missing_and_not_pytorch(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_pt(tmp_path / "missing.pt")
    text = tmp_path / "notes.pt"
    text.write_text("just some text, renamed .pt\n")
    with pytest.raises(ModelFileError, match="not a PyTorch file"):
        load_pt(text)
    with pytest.raises(ModelFileError, match="is a directory"):
        load_pt(tmp_path)
    npz = tmp_path / "model.npz"
    elman.save(_models()[0], npz)
    npz.rename(tmp_path / "model_npz.pt")
    with pytest.raises(ModelFileError, match="elman .npz model"):
        load_pt(tmp_path / "model_npz.pt")
    with pytest.raises(InputTypeError, match="path must be"):
        load_pt(3)


def test_pt_other_content(tmp_path):
    p = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3), "epoch": 4}, p)
    with pytest.raises(ModelFileError, match=r"holds a dict with keys \['epoch', 'weights'\]"):
        load_pt(p)
    torch.save(torch.nn.RNN(2, 3).state_dict(), p)
    with pytest.raises(ModelFileError, match="looks like an nn.RNN state_dict"):
        load_pt(p)
    torch.save([1, 2, 3], p)
    with pytest.raises(ModelFileError, match="holds a list"):
        load_pt(p)
    torch.save(torch.nn.RNN(2, 3), p)  # a whole module: pickled code, which weights_only refuses
    with pytest.raises(ModelFileError, match="weights_only"):
        load_pt(p)


def _saved(tmp_path):
    p = tmp_path / "m.pt"
    save_pt(_models()[2], p)
    return p, torch.load(p, weights_only=True)


@pytest.mark.parametrize("change, match", [
    (lambda o: o["config"].update(format="keras"), "no elman config"),
    (lambda o: o["config"].pop("dtype"), r"no config\['dtype'\]"),
    (lambda o: o["config"].update(state_dims=[4, 0]), r"config\['state_dims'\]"),
    (lambda o: o["config"].update(format_version=99), r"config\['format_version'\] = 99"),
    (lambda o: o["config"].update(activations=["tanh"]), "1 config"),
    (lambda o: o["config"].update(activations=["tanh", "swishy"]), "swishy"),
    (lambda o: o["config"].update(activations=["tanh", "sigmoid"]), "state activation 'sigmoid'"),
    (lambda o: o["config"].update(has_readout=False), "has_readout=False"),
    (lambda o: o["config"].update(kind="LSTM"), r"config\['kind'\] = 'LSTM'"),
    (lambda o: o["config"].update(kind="ElmanRNN"), r"'ElmanRNN' but 2 layers"),
    (lambda o: o["config"].update(state_dims=[4, 60000]), "60000"),
    (lambda o: o["state_dict"].pop("readout.bias"), "missing"),
    (lambda o: o["state_dict"].update(extra=torch.zeros(1)), "unexpected"),
    (lambda o: o["state_dict"].update({"readout.weight": torch.zeros(3, 6, dtype=torch.float64)}), r"\(3, 6\)"),
    (lambda o: o["state_dict"].update({"readout.bias": torch.zeros(2, dtype=torch.float32)}), "float32"),
    (lambda o: o["state_dict"]["readout.bias"].fill_(float("nan")), "NaN"),
])
def test_pt_damaged(tmp_path, change, match):
    p, obj = _saved(tmp_path)
    change(obj)
    torch.save(obj, p)
    with pytest.raises(ModelFileError, match=match):
        load_pt(p)


def test_pt_truncated(tmp_path):
    p, _ = _saved(tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a PyTorch file or is damaged"):
        load_pt(p)


def test_save_pt_errors(tmp_path):
    with pytest.raises(InputTypeError, match="ElmanRNN or StackedRNN"):
        save_pt("model", tmp_path / "m.pt")
    with pytest.raises(OutputError, match="cannot write"):
        save_pt(_models()[0], tmp_path / "no" / "such" / "m.pt")


def test_save_pt_says_why_and_names_the_target(tmp_path):
    """A .pt is the state dict of torch.nn.RNN modules: an activation nn.RNN lacks is
    refused, naming it and the formats that keep it; a failed write names the target and
    the reason (not a temporary file, not torch's C++ text)."""
    model = StackedRNN([ElmanRNN.init(2, 3, seed=0), ElmanRNN.init(3, 4, seed=1, activation="softsign")])
    with pytest.raises(UnsupportedModelError, match=r"layer 1 has state activation 'softsign', which "
                                                    r"torch.nn.RNN lacks.*\.npz, \.keras or \.onnx"):
        save_pt(model, tmp_path / "m.pt")
    assert not list(tmp_path.iterdir())
    (tmp_path / "d.pt").mkdir()
    for target, reason in [(tmp_path / "d.pt", "it is a directory"),
                           (tmp_path / "no" / "m.pt", "No such file or directory")]:
        with pytest.raises(OutputError) as info:
            save_pt(_models()[0], target)
        message = str(info.value)
        assert message == f"cannot write model file {str(target)!r}: {reason}" or (
            message.startswith(f"cannot write model file {str(target)!r}: {reason}")), message
        assert ".tmp" not in message and "enforce" not in message and "\n" not in message
    assert [p.name for p in tmp_path.iterdir()] == ["d.pt"]


def test_torch_after_tensorflow_does_not_crash(tmp_path):
    """A fresh process that loads TensorFlow first, then uses the bridge and a torch
    optimizer (which looks for Triton): with the registry's torch build this crashed
    (segfault in Triton) until elman.torch hid Triton in such a process."""
    import subprocess
    import sys

    code = ("import tensorflow, numpy as np, elman, elman.torch\n"
            "m = elman.to_torch(elman.ElmanRNN.init(2, 3, 1, seed=0))\n"
            "import torch\n"
            "opt = torch.optim.Adam(m.parameters())\n"
            "y = m(torch.zeros(1, 4, 2, dtype=torch.float64)); y.sum().backward(); opt.step()\n"
            "print('ok')\n")
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stderr[-2000:]
