"""elman.torch against the real PyTorch (CPU): from_torch, to_torch, the initial-state
helpers and the refusals.

Every configuration draws D, M, K all different (M >= 2, T >= 2), so that a transposed
A, B or C cannot pass; weights are random and non-symmetric. float32 must agree to 1e-5
and float64 to 1e-12, relative to max(1, max |y|) (helpers.assert_parity).
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from elman import activations  # noqa: E402
from elman.errors import InputTypeError, ParameterError, ShapeError, UnsupportedModelError  # noqa: E402
from elman.model import ElmanRNN, StackedRNN  # noqa: E402
from elman.torch import OUTPUT_ACTIVATIONS, from_torch, h0_to_z0, to_torch, z0_to_h0  # noqa: E402
from helpers import assert_parity  # noqa: E402

TOL = {np.float32: 1e-5, np.float64: 1e-12}
TDTYPE = {np.float32: torch.float32, np.float64: torch.float64}
SEEDS = range(120)


def _dims(rng):
    """D, M, K all different, M >= 2."""
    M = int(rng.integers(2, 8))
    D, K = rng.choice([v for v in range(1, 9) if v != M], size=2, replace=False)
    return int(D), M, int(K)


def _torch_case(seed, dtype):
    """A random nn.RNN (+ nn.Linear or None), its settings and its input."""
    rng = np.random.default_rng(seed)
    D, M, K = _dims(rng)
    c = dict(L=int(rng.integers(1, 4)), act=("tanh", "relu")[seed % 2], bias=bool(rng.integers(2)),
             bf=bool(rng.integers(2)), rs=bool(rng.integers(2)), h0=bool(rng.integers(2)),
             N=int(rng.integers(1, 5)), T=int(rng.integers(2, 7)), readout=seed % 5 != 4)
    rnn = torch.nn.RNN(D, M, num_layers=c["L"], nonlinearity=c["act"], bias=c["bias"], batch_first=c["bf"])
    lin = torch.nn.Linear(M, K, bias=c["bias"]) if c["readout"] else None
    scale = 1.0 if c["act"] == "tanh" else 0.6  # relu grows without bound: smaller weights
    with torch.no_grad():
        for p in list(rnn.parameters()) + (list(lin.parameters()) if lin else []):
            w = rng.standard_normal(tuple(p.shape))
            p.copy_(torch.tensor(w * scale / np.sqrt(p.shape[1]) if p.ndim == 2 else 0.5 * w))
    if dtype == np.float64:
        rnn, lin = rnn.double(), (lin.double() if lin else None)
    U = rng.standard_normal((c["N"], c["T"], D)).astype(dtype)
    h0 = rng.standard_normal((c["L"], c["N"], M)).astype(dtype) if c["h0"] else None
    return rnn, lin, U, h0, c


def _torch_output(rnn, lin, U, h0, c):
    """What the torch modules give: every step through the Linear, or the last one."""
    x = torch.tensor(U)
    x = x if c["bf"] else x.transpose(0, 1)
    out, _ = rnn(x, None if h0 is None else torch.tensor(h0))
    seq = out if c["bf"] else out.transpose(0, 1)  # (N, T, M)
    y = lin(seq) if lin is not None else seq
    return (y if c["rs"] else y[:, -1]).detach().numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("seed", SEEDS)
def test_from_torch_reproduces_torch(seed, dtype):
    rnn, lin, U, h0, c = _torch_case(seed, dtype)
    model = from_torch(rnn, lin, return_sequences=c["rs"])
    assert model.dtype == dtype
    assert isinstance(model, StackedRNN if c["L"] > 1 else ElmanRNN)
    y = model.predict(U, None if h0 is None else h0_to_z0(h0))
    assert_parity(_torch_output(rnn, lin, U, h0, c), y, TOL[dtype], f"from_torch seed {seed} {c}")


def test_the_grid_mixes_its_settings():
    """The random grid meets every setting, and most cases have L > 1 and an h0."""
    cases = [_torch_case(s, np.float32)[4] for s in SEEDS]
    for key in ("bias", "bf", "rs", "h0", "readout"):
        assert {c[key] for c in cases} == {False, True}, key
    assert {c["L"] for c in cases} == {1, 2, 3} and {c["act"] for c in cases} == {"tanh", "relu"}
    assert sum(c["L"] > 1 for c in cases) > 60 and sum(c["h0"] for c in cases) > 40


# --------------------------------------------------------------------------- to_torch


def _elman_case(seed, dtype):
    """A random ElmanRNN (ElmanRNN.init + random biases) or StackedRNN, and its input."""
    rng = np.random.default_rng(1000 + seed)
    D, M, K = _dims(rng)
    L = int(rng.integers(1, 4))
    g = OUTPUT_ACTIVATIONS[seed % len(OUTPUT_ACTIVATIONS)]
    readout = seed % 7 != 6
    # Every third stacked model: one size, one nonlinearity, no go_backwards (one nn.RNN).
    uniform = seed % 3 == 0
    sizes = [M] * L if uniform else [int(m) for m in rng.integers(2, 8, size=L)]
    sizes[-1] = M
    acts = [("tanh", "relu")[(seed + (0 if uniform else j)) % 2] for j in range(L)]
    gbs = [False] * L if uniform and L > 1 else [bool(v) for v in rng.integers(2, size=L)]
    layers, n = [], D
    for m, act, gb in zip(sizes, acts, gbs):
        l = ElmanRNN.init(n, m, activation=act, seed=rng, dtype=dtype)
        l = l.replace(b=0.5 * rng.standard_normal(m), go_backwards=gb)
        if act == "relu":
            l = l.replace(A=0.6 * l.A, B=0.6 * l.B)
        layers.append(l)
        n = m
    C = rng.standard_normal((K, M)) / np.sqrt(M) if readout else None
    d = 0.5 * rng.standard_normal(K) if readout else None
    rs = bool(rng.integers(2))
    if L == 1:
        l = layers[0]
        model = ElmanRNN(l.A, l.B, l.b, C, d, l.activation, g, rs, go_backwards=l.go_backwards, dtype=dtype)
    else:
        model = StackedRNN(layers, C, d, g, rs, dtype=dtype)
    N, T = int(rng.integers(1, 5)), int(rng.integers(2, 7))
    U = rng.standard_normal((N, T, D)).astype(dtype)
    z0 = [rng.standard_normal((N, m)).astype(dtype) for m in sizes] if rng.integers(2) else None
    return model, U, (z0 if z0 is None or L > 1 else z0[0]), dict(bf=bool(rng.integers(2)), uniform=uniform, L=L)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("seed", range(60))
def test_to_torch_reproduces_predict(seed, dtype):
    model, U, z0, c = _elman_case(seed, dtype)
    module = to_torch(model, batch_first=c["bf"])
    x = torch.tensor(U) if c["bf"] else torch.tensor(U).transpose(0, 1)  # (T, N, D) when not batch_first
    with torch.no_grad():
        y = module(x, None if z0 is None else z0_to_h0(z0)).numpy()
    if model.return_sequences and not c["bf"]:
        y = y.transpose(1, 0, 2)  # (T, N, K) back to (N, T, K)
    assert_parity(model.predict(U, z0), y, TOL[dtype], f"to_torch seed {seed} {type(model).__name__} g={model.output_activation}")
    assert {p.dtype for p in module.parameters()} == {TDTYPE[dtype]}


def test_the_to_torch_grid_meets_both_layouts():
    """Both module layouts, go_backwards under another layer, h0, no readout all occur."""
    cases = [_elman_case(s, np.float32) for s in range(60)]
    cores = [to_torch(m).rnn for m, *_ in cases]
    assert sum(isinstance(r, torch.nn.RNN) and r.num_layers > 1 for r in cores) >= 10
    assert sum(isinstance(r, torch.nn.ModuleList) for r in cores) >= 20
    assert sum(isinstance(m, StackedRNN) and any(l.go_backwards for l in m.layers[1:]) for m, *_ in cases) >= 10
    assert sum(z0 is not None for _, _, z0, _ in cases) >= 20 and sum(m.C is None for m, *_ in cases) >= 5
    assert {m.return_sequences for m, *_ in cases} == {c["bf"] for *_, c in cases} == {False, True}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("seed", range(60))
def test_from_torch_of_to_torch_is_the_same_model(seed, dtype):
    model, _, _, c = _elman_case(seed, dtype)
    back = from_torch(to_torch(model, batch_first=c["bf"]))
    assert type(back) is type(model) and back.dtype == model.dtype
    pairs = list(zip(back.layers, model.layers)) if isinstance(model, StackedRNN) else [(back, model)]
    for got, want in pairs:
        for name in ("A", "B", "b"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
        assert (got.activation, got.go_backwards) == (want.activation, want.go_backwards)
    for name in ("C", "d"):
        assert (getattr(back, name) is None and getattr(model, name) is None) or \
            np.array_equal(getattr(back, name), getattr(model, name)), name
    assert (back.output_activation, back.return_sequences) == (model.output_activation, model.return_sequences)


def test_one_nn_rnn_when_it_can_hold_the_layers():
    model = StackedRNN([ElmanRNN.init(3, 4, seed=1), ElmanRNN.init(4, 4, seed=2)], np.ones((2, 4)))
    module = to_torch(model)
    assert isinstance(module.rnn, torch.nn.RNN) and module.rnn.num_layers == 2
    assert module.rnn.bias_hh_l1.abs().sum() == 0  # b lives in bias_ih
    mixed = StackedRNN([ElmanRNN.init(3, 5, seed=1), ElmanRNN.init(5, 4, seed=2)])
    assert isinstance(to_torch(mixed).rnn, torch.nn.ModuleList)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("g", OUTPUT_ACTIVATIONS)
def test_every_output_activation(g, dtype):
    """g computed by torch as elman defines it, over a wide range (beyond softplus's threshold 20)."""
    rng = np.random.default_rng(7)
    model = ElmanRNN(np.eye(3) * 0.5, rng.standard_normal((3, 2)), np.zeros(3), 8 * rng.standard_normal((4, 3)),
                     np.array([-25.0, 0.0, 3.0, 25.0]), "tanh", g, True, dtype=dtype)
    U = rng.standard_normal((5, 4, 2)).astype(dtype)
    with torch.no_grad():
        y = to_torch(model)(torch.tensor(U)).numpy()
    want = model.predict(U)
    scale = max(1.0, float(np.max(np.abs(want))))
    assert np.max(np.abs(y - want)) / scale <= TOL[dtype], g


def test_every_elman_activation_has_a_torch_form():
    assert set(OUTPUT_ACTIVATIONS) == set(activations.names())


def test_to_torch_draws_nothing_from_torchs_generator():
    state = torch.get_rng_state()
    to_torch(StackedRNN([ElmanRNN.init(2, 3, seed=0), ElmanRNN.init(3, 4, seed=1)], np.ones((1, 4))))
    assert torch.equal(state, torch.get_rng_state())


def test_module_pickles_with_torch_save(tmp_path):
    """to_torch's class is importable (elman.torch.ElmanModule), so a whole module saves and loads."""
    import elman.torch as et

    model = StackedRNN([ElmanRNN.init(2, 3, seed=0), ElmanRNN.init(3, 4, seed=1).replace(go_backwards=True)],
                       np.ones((1, 4)), output_activation="sigmoid", return_sequences=True)
    module = to_torch(model, batch_first=False)
    torch.save(module, tmp_path / "whole.pt")
    back = torch.load(tmp_path / "whole.pt", weights_only=False)  # our own file: code is fine here
    assert isinstance(back, et.ElmanModule) and back.go_backwards == (False, True) and not back.batch_first
    U = torch.randn(5, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(back(U), module(U))


def test_dropout_is_ignored():
    """Dropout acts in training only; elman reproduces the module in eval mode."""
    rnn = torch.nn.RNN(2, 3, num_layers=2, dropout=0.5).eval()
    U = np.random.default_rng(0).standard_normal((2, 4, 2)).astype(np.float32)
    with torch.no_grad():
        y = rnn(torch.tensor(U).transpose(0, 1))[0][-1].numpy()
    assert_parity(y, from_torch(rnn).predict(U), 1e-5, "dropout")


def test_import_elman_does_not_import_torch():
    code = "import sys, elman, elman.torch; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- initial states


def test_h0_z0_helpers():
    h0 = torch.randn(3, 2, 4, dtype=torch.float64)
    z0 = h0_to_z0(h0)
    assert isinstance(z0, list) and len(z0) == 3 and z0[1].shape == (2, 4)
    assert torch.equal(z0_to_h0(z0), h0)
    one = h0_to_z0(h0[:1])
    assert isinstance(one, np.ndarray) and one.shape == (2, 4)  # an ElmanRNN's z0
    assert z0_to_h0(one).shape == (1, 2, 4)
    parts = z0_to_h0([np.zeros((2, 3)), np.ones((2, 5))])  # sizes differ: a list
    assert [tuple(p.shape) for p in parts] == [(2, 3), (2, 5)]
    with pytest.raises(ShapeError, match="L, N, M"):
        h0_to_z0(np.zeros((2, 4)))
    with pytest.raises(ShapeError, match=r"h0\[1\]"):
        z0_to_h0([np.zeros((2, 3)), np.zeros((3, 3))])


def test_forward_checks_h0_and_U():
    module = to_torch(StackedRNN([ElmanRNN.init(2, 3, seed=0), ElmanRNN.init(3, 3, seed=1)]))
    U = torch.zeros(4, 5, 2, dtype=torch.float64)
    with pytest.raises(ShapeError, match="h0 has 1 layers"):
        module(U, torch.zeros(1, 4, 3, dtype=torch.float64))
    with pytest.raises(ShapeError, match=r"h0\[0\] has shape \(5, 3\)"):
        module(U, torch.zeros(2, 5, 3, dtype=torch.float64))
    with pytest.raises(ShapeError, match=r"\(N, T, D\)"):
        module(U[0])
    with pytest.raises(InputTypeError, match="torch tensor"):
        module(np.zeros((4, 5, 2)))


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("make, word", [
    (lambda: torch.nn.RNN(2, 3, bidirectional=True), "bidirectional"),
    (lambda: torch.nn.LSTM(2, 3), "nn.LSTM"),
    (lambda: torch.nn.GRU(2, 3), "nn.GRU"),
    (lambda: torch.nn.LSTM(2, 3, proj_size=2), "nn.LSTM"),
    (lambda: torch.nn.Linear(2, 3), "nn.Linear"),
    (lambda: torch.nn.RNN(2, 3).half(), "float16"),
])
def test_unsupported_modules(make, word):
    with pytest.raises(UnsupportedModelError, match=word):
        from_torch(make())


def test_proj_size_is_refused():
    # nn.RNN itself refuses proj_size at construction; a module altered afterwards is refused here.
    rnn = torch.nn.RNN(2, 3)
    rnn.proj_size = 2
    with pytest.raises(UnsupportedModelError, match="proj_size=2"):
        from_torch(rnn)


def test_unsupported_readouts():
    rnn = torch.nn.RNN(2, 3)
    with pytest.raises(UnsupportedModelError, match="nn.Sequential"):
        from_torch(rnn, torch.nn.Sequential(torch.nn.Linear(3, 1)))
    with pytest.raises(UnsupportedModelError, match="in_features=4.*hidden_size=3"):
        from_torch(rnn, torch.nn.Linear(4, 1))
    with pytest.raises(UnsupportedModelError, match="one dtype"):
        from_torch(rnn, torch.nn.Linear(3, 1).double())
    with pytest.raises(ParameterError, match="readout must be None"):
        from_torch(to_torch(ElmanRNN.init(2, 3, seed=0)), torch.nn.Linear(3, 1))


@pytest.mark.parametrize("act", ["sigmoid", "linear", "softsign"])
def test_to_torch_refuses_other_state_activations(act):
    with pytest.raises(UnsupportedModelError, match=f"state activation '{act}'"):
        to_torch(ElmanRNN.init(2, 3, 1, activation=act, seed=0))


def test_bad_types():
    with pytest.raises(InputTypeError, match="rnn must be a torch.nn.RNN.*got str"):
        from_torch("model.pt")
    with pytest.raises(InputTypeError, match="readout must be a torch.nn.Linear or None, got ndarray"):
        from_torch(torch.nn.RNN(2, 3), np.ones((1, 3)))
    with pytest.raises(InputTypeError, match="ElmanRNN or StackedRNN, got RNN"):
        to_torch(torch.nn.RNN(2, 3))
    with pytest.raises(ParameterError, match="batch_first must be True or False"):
        to_torch(ElmanRNN.init(2, 3, seed=0), batch_first="no")


class _DoubledRNN(torch.nn.RNN):
    """An nn.RNN whose forward computes something else than its weights say."""

    def forward(self, x, h=None):
        out, h = super().forward(x, h)
        return 2 * out, h


class _ShiftedLinear(torch.nn.Linear):
    def forward(self, x):
        return super().forward(x) + 1


def test_subclasses_are_refused():
    """Only nn.RNN, nn.Linear and to_torch's class themselves: a subclass may override
    forward, and reading its weights would then silently give another model."""
    with pytest.raises(UnsupportedModelError, match=r"rnn is a _DoubledRNN, a subclass of torch.nn.RNN.*forward"):
        from_torch(_DoubledRNN(2, 3))
    with pytest.raises(UnsupportedModelError, match=r"readout is a _ShiftedLinear, a subclass of torch.nn.Linear"):
        from_torch(torch.nn.RNN(2, 3), _ShiftedLinear(3, 1))
    module = to_torch(ElmanRNN.init(2, 3, 1, seed=0))
    module.readout = _ShiftedLinear(3, 1, dtype=torch.float64)
    with pytest.raises(UnsupportedModelError, match=r"rnn.readout is a _ShiftedLinear"):
        from_torch(module)
    module = to_torch(ElmanRNN.init(2, 3, 1, seed=0))
    module.rnn = _DoubledRNN(2, 3, dtype=torch.float64)
    with pytest.raises(UnsupportedModelError, match=r"rnn.rnn is a _DoubledRNN, a subclass"):
        from_torch(module)

    class Module(type(module)):
        pass

    sub = Module(module.rnn, None, output_activation="linear", return_sequences=False, go_backwards=[False],
                 batch_first=True)
    with pytest.raises(UnsupportedModelError, match=r"a subclass of elman.torch.ElmanModule"):
        from_torch(sub)


def test_other_modules_and_meta_weights():
    with pytest.raises(UnsupportedModelError, match=r"rnn is a torch.nn.Linear.*expected a torch.nn.RNN") as info:
        from_torch(torch.nn.Linear(2, 3))
    assert "LSTM" not in str(info.value) and "gate" not in str(info.value)
    with pytest.raises(UnsupportedModelError, match="rnn has its weights on the meta device"):
        from_torch(torch.nn.RNN(2, 3, device="meta"))
    with pytest.raises(UnsupportedModelError, match="readout has its weights on the meta device"):
        from_torch(torch.nn.RNN(2, 3), torch.nn.Linear(3, 1, device="meta"))


@pytest.mark.parametrize("batch_first", [True, False])
def test_forward_refuses_what_predict_refuses(batch_first):
    """forward raises elman's errors naming U or h0, what was given and what is expected;
    it does not cast (the module's dtype, as torch's own modules)."""
    module = to_torch(ElmanRNN.init(3, 4, 2, seed=0, dtype=np.float32), batch_first=batch_first)
    shape = (lambda N, T, D: (N, T, D)) if batch_first else (lambda N, T, D: (T, N, D))
    U = torch.zeros(*shape(2, 5, 3))
    want = "(N, T, D) = (N, T, 3)" if batch_first else "(T, N, D) = (T, N, 3)"
    with pytest.raises(ShapeError, match=re.escape(f"U has shape {shape(2, 5, 4)} but should be {want}")):
        module(torch.zeros(*shape(2, 5, 4)))
    with pytest.raises(ShapeError, match="zero time steps"):
        module(torch.zeros(*shape(2, 0, 3)))
    with pytest.raises(ShapeError, match="zero samples"):
        module(torch.zeros(*shape(0, 5, 3)))
    with pytest.raises(InputTypeError, match=re.escape("U has dtype torch.float64 but the module computes in "
                                                       "torch.float32; expected U.to(torch.float32)")):
        module(U.double())
    with pytest.raises(InputTypeError, match="U has dtype torch.int64"):
        module(torch.zeros(*shape(2, 5, 3), dtype=torch.int64))
    with pytest.raises(InputTypeError, match=re.escape("h0 has dtype torch.float64 but the module computes in "
                                                       "torch.float32")):
        module(U, torch.zeros(1, 2, 4, dtype=torch.float64))
    with pytest.raises(InputTypeError, match="h0 must be a torch tensor"):
        module(U, np.zeros((1, 2, 4)))
    assert module(U, torch.zeros(1, 2, 4)).shape == (2, 2)


def test_h0_to_z0_names_the_wrong_dimension():
    with pytest.raises(ShapeError, match=re.escape("h0[0] has shape (3,) (1-D) but should be 2-D")):
        h0_to_z0([np.zeros(3)])
    with pytest.raises(ShapeError, match=re.escape("h0[1] has shape (3, 4) but should be (N, M_j) with N = 2")):
        h0_to_z0([np.zeros((2, 4)), np.zeros((3, 4))])
