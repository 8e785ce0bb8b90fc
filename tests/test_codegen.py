"""elman.codegen: the exported Python, NumPy and C code computes what rnn.predict computes.

The generated Python and NumPy modules run in a subprocess with a clean environment
(only PATH), a temporary working directory and ``python -I`` (no PYTHONPATH, no user
site). Plain Python runs with ``-S`` as well: no site-packages at all, so neither
elman nor NumPy can be imported and only the standard library is left. The NumPy
modules need site-packages (for NumPy), where elman is installed (editable); there
the runner first sets ``sys.modules["elman"] = None``, which makes ``import elman``
raise ImportError, and checks ``importlib.util.find_spec("elman") is None``; SciPy
is blocked the same way (elman's gelu uses SciPy's erfc when present).

The C code is compiled with ``cc -std=c99 -Wall -Wextra -Werror -pedantic -O2``: its
self-test (``-DELMAN_SELFTEST``) must pass, and fail once a stored reference is
altered; and a driver compiled with 36 exported models in one binary runs random
sequences through ``<p>_predict`` and the stateful ``<p>_step``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest

from elman import ElmanRNN, StackedRNN, activations
from elman import _codegen_py
from elman.codegen import LANGUAGES, c_source, export, python_source
from elman.errors import InputTypeError, OutputError, ParameterError

ACTS = activations.names()
UNBOUNDED = {"linear", "relu", "elu", "selu", "exponential", "softplus", "silu", "gelu", "relu6", "leaky_relu"}
CC = shutil.which("cc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler: 'cc' is not on PATH")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
# max |y - y_ref| / max(1, max |y_ref|), per language and dtype: the figures of the closing notes
MAX_ERR: dict[str, float] = {}


# --------------------------------------------------------------------------- random models


def _layer(rng, D, M, act, backwards, dtype):
    # unbounded activations get smaller weights so that the outputs stay finite
    scale = 0.3 if act == "exponential" else 0.6 if act in UNBOUNDED else 1.0
    A = rng.standard_normal((M, M)) * scale / np.sqrt(M)
    B = rng.standard_normal((M, D)) * scale / np.sqrt(D)
    return ElmanRNN(A, B, 0.5 * rng.standard_normal(M), activation=act, go_backwards=backwards, dtype=dtype)


def make(seed, acts, out="linear", backwards=None, D=3, Ms=None, K=2, rs=False, dtype=np.float64, stack=None):
    """A random model, non-square everywhere (D != M != K): len(acts) layers; K None: no readout."""
    rng = np.random.default_rng(seed)
    Ms = Ms or [5, 4, 6][: len(acts)]
    backwards = backwards or [False] * len(acts)
    layers, x = [], D
    for act, M, gb in zip(acts, Ms, backwards):
        layers.append(_layer(rng, x, M, act, gb, dtype))
        x = M
    C = None if K is None else rng.standard_normal((K, x)) * 0.6 / np.sqrt(x)
    d = None if K is None else 0.3 * rng.standard_normal(K)
    if len(layers) == 1 and not stack:
        l = layers[0]
        return ElmanRNN(l.A, l.B, l.b, C, d, l.activation, out, rs, go_backwards=l.go_backwards, dtype=dtype)
    return StackedRNN(layers, C, d, out, rs, dtype=dtype)


def _cases():
    """36 models: every activation as state and as output activation, one and several
    layers, go_backwards in every position, return_sequences, with and without a readout,
    float64 and float32."""
    n, cases = len(ACTS), []
    for i, act in enumerate(ACTS):  # one layer
        cases.append(dict(acts=[act], out=ACTS[(i + 5) % n], backwards=[i % 3 == 1], rs=i % 2 == 0,
                          K=None if i % 5 == 4 else 2))
    patterns = [[False, True], [True, False], [True, True], [False, False], [False, True, False], [True, False, True]]
    for i, act in enumerate(ACTS):  # stacks
        gbs = patterns[i % len(patterns)]
        acts = [act, ACTS[(i + 3) % n], ACTS[(i + 7) % n]][: len(gbs)]
        cases.append(dict(acts=acts, out=ACTS[(i + 9) % n], backwards=gbs, rs=i % 2 == 1, K=None if i % 7 == 3 else 2))
    for i, act in enumerate(["tanh", "gelu", "sigmoid", "selu", "softplus"]):  # float32
        cases.append(dict(acts=[act, "relu"][: 1 + i % 2], out=ACTS[i], backwards=[i % 2 == 0, True][: 1 + i % 2],
                          rs=i % 2 == 0, dtype=np.float32))
    cases.append(dict(acts=["tanh"], backwards=[True], stack=True, rs=True))  # a one-layer StackedRNN
    cases.append(dict(acts=["leaky_relu", "silu"], backwards=[False, True], K=None, dtype=np.float32))
    return [make(seed, **c) for seed, c in enumerate(cases)]


MODELS = _cases()


def _inputs(rnn, seed, N=3, T=7):
    return np.random.default_rng(1000 + seed).standard_normal((N, T, rnn.input_dim))


def _err(y, ref) -> float:
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert y.shape == ref.shape, f"shapes {y.shape} vs {ref.shape}"
    assert np.all(np.isfinite(ref)), "the test model is badly scaled"
    return float(np.max(np.abs(y - ref))) / max(1.0, float(np.max(np.abs(ref))))


def _record(key, err):
    MAX_ERR[key] = max(MAX_ERR.get(key, 0.0), err)


def test_the_cases_cover_everything():
    layers = [l for m in MODELS for l in getattr(m, "layers", [m])]
    assert {l.activation for l in layers} == set(ACTS)
    assert {m.output_activation for m in MODELS} == set(ACTS)
    stacks = [m for m in MODELS if isinstance(m, StackedRNN)]
    assert any(l.go_backwards for m in stacks for l in m.layers[1:])  # needs the whole sequence
    assert any(m.layers[0].go_backwards for m in stacks) and any(m.go_backwards for m in MODELS if m not in stacks)
    assert {m.return_sequences for m in MODELS} == {True, False} and any(m.C is None for m in MODELS)
    assert {m.dtype for m in MODELS} == {np.dtype(np.float32), np.dtype(np.float64)} and len(MODELS) >= 30
    assert all(m.input_dim != m.state_dim != m.output_dim for m in MODELS if m.C is not None)


# --------------------------------------------------------------------------- Python and NumPy

RUNNER = r'''
import importlib.util, json, sys
sys.modules["elman"] = None  # `import elman` now raises ImportError, whatever is installed
sys.modules["scipy"] = None
assert importlib.util.find_spec("elman") is None and importlib.util.find_spec("scipy") is None
if sys.argv[1] == "python":
    assert importlib.util.find_spec("numpy") is None, "plain Python must run without site-packages"
else:
    import numpy as np
out = []
for case in json.load(open("cases.json")):
    spec = importlib.util.spec_from_file_location(case["module"], case["file"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if sys.argv[1] == "python":
        ys = [mod.predict(U, case["z0"]) for U in case["U"]]
        assert mod.predict_batch(case["U"], case["z0"]) == ys
    else:
        ys = mod.predict(np.array(case["U"]), case["z0"]).tolist()
    out.append(ys)
print(json.dumps(out))
'''


def _run_isolated(tmp_path, language, flags):
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.run([sys.executable, *flags, "runner.py", language], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _z0(rnn, seed):
    """An initial state for every other model (a list per layer for a stack), else None."""
    if seed % 2:
        return None
    rng = np.random.default_rng(seed)
    if isinstance(rnn, StackedRNN):
        return [rng.standard_normal(l.state_dim).tolist() for l in rnn.layers]
    return rng.standard_normal(rnn.state_dim).tolist()


@pytest.mark.parametrize("language", ["python", "numpy"])
def test_exported_module_matches_predict_in_a_clean_interpreter(tmp_path, language):
    cases, refs = [], []
    for i, rnn in enumerate(MODELS):
        model = rnn if language == "numpy" else rnn.astype(np.float64)  # Python floats are doubles
        U, z0 = _inputs(rnn, i), _z0(rnn, i)
        (path,) = export(rnn, tmp_path / f"model_{i}", language)
        assert path.name == f"model_{i}.py"
        cases.append({"module": f"model_{i}", "file": path.name, "U": U.tolist(), "z0": z0})
        refs.append(model.predict(U, z0=z0 if z0 is None or isinstance(rnn, StackedRNN) else np.array(z0)))
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    outs = _run_isolated(tmp_path, language, ["-I", "-S"] if language == "python" else ["-I"])
    for i, (rnn, y, ref) in enumerate(zip(MODELS, outs, refs)):
        tol = 1e-5 if language == "numpy" and rnn.dtype == np.float32 else 1e-12
        err = _err(y, ref)
        _record(f"{language} {'float32' if tol == 1e-5 else 'float64'}", err)
        assert err <= tol, f"model {i} ({rnn!r:.120}): error {err:.3g} > {tol:g}"


def test_python_step_and_output_are_the_two_equations():
    rnn = MODELS[0]
    module = {}
    exec(python_source(rnn), module)
    z, u = np.linspace(-1, 1, rnn.state_dim), np.linspace(0.5, -0.5, rnn.input_dim)
    assert _err(module["step"](z.tolist(), u.tolist()), rnn.step(z, u)) <= 1e-15
    assert _err(module["output"](z.tolist()), rnn.output(z)) <= 1e-15
    stack = MODELS[len(ACTS)]
    exec(python_source(stack), module)
    z1 = np.linspace(-1, 1, stack.layers[0].state_dim)
    assert _err(module["step_1"](z1.tolist(), u.tolist()), stack.layers[0].step(z1, u)) <= 1e-15


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weights_read_back_exactly(dtype):
    rnn = MODELS[len(ACTS) + 4].astype(dtype)  # three layers and a readout
    for numpy in (False, True):
        module = {}
        exec(python_source(rnn, numpy=numpy), module)
        for j, layer in enumerate(rnn.layers, 1):
            for name in "ABb":
                got = np.asarray(module[f"{name}_{j}"], dtype=np.float64)
                assert np.array_equal(got, getattr(layer, name)), (numpy, name, j)
        assert np.array_equal(np.asarray(module["C"], dtype=np.float64), rnn.C)
        if numpy:
            assert module["A_1"].dtype == dtype
    source = c_source(rnn, "net")[1]
    for j, layer in enumerate(rnn.layers, 1):
        body = re.search(rf"static const real A_{j}\[[^=]*= (.*?);", source, re.S).group(1)
        numbers = [float(v.rstrip("f")) for v in re.findall(r"[-+0-9.e]+f?", body)]
        assert np.array_equal(np.array(numbers, dtype=dtype).reshape(layer.A.shape), layer.A)


@pytest.mark.parametrize("name", ACTS)
def test_activation_tables_are_elmans_functions(name):
    x = np.concatenate([np.linspace(-8, 8, 161), [-40.0, -1e-9, 0.0, 1e-9, 40.0]])
    ref = activations.get(name).f(x)
    py = eval(f"lambda x: {_codegen_py.PY_F[name]}", {"math": __import__("math"), "exp": __import__("math").exp,
                                                      **dict(_codegen_py.constants(_codegen_py.PY_F[name]))})
    assert _err([py(float(v)) for v in x], ref) <= 1e-15
    scope = {"np": np, "erfc": lambda v: np.asarray(np.frompyfunc(__import__("math").erfc, 1, 1)(v), v.dtype),
             **dict(_codegen_py.constants(_codegen_py.NP_F[name]))}
    exec("def f(x):\n" + "\n".join("    " + line for line in _codegen_py.NP_F[name].splitlines()), scope)
    for dtype in (np.float64, np.float32):  # NumPy's: the same operations, bit for bit, in both dtypes
        got = scope["f"](x.astype(dtype))
        assert got.dtype == dtype and np.array_equal(got, activations.get(name).f(x.astype(dtype)))
    assert activations.get(name).c_f  # and C has its expression


def test_every_activation_has_its_python_and_numpy_code():
    assert set(_codegen_py.PY_F) == set(ACTS) == set(_codegen_py.NP_F)


# --------------------------------------------------------------------------- C


def _cc(files, out, *defines):
    proc = subprocess.run([CC, *CFLAGS, *defines, *map(str, files), "-o", str(out), "-lm"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@needs_cc
@pytest.mark.parametrize("i", [0, 1, len(ACTS) + 1, len(ACTS) + 4, len(MODELS) - 3, len(MODELS) - 1])
def test_c_selftest_passes(tmp_path, i):
    header, source = export(MODELS[i], tmp_path / "net.c", "c")
    assert (header.name, source.name) == ("net.h", "net.c")
    proc = subprocess.run([_cc([source], tmp_path / "net", "-DELMAN_SELFTEST")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("ok: 3 sequences"), proc.stdout
    tol = "1e-04" if MODELS[i].dtype == np.float32 else "1e-09"
    assert f"(tolerance {tol})" in proc.stdout


@needs_cc
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_c_selftest_fails_when_a_reference_is_altered(tmp_path, dtype):
    header, source = c_source(MODELS[3], "net", dtype=dtype)
    head, refs = source.split("TEST_Y[", 1)
    number = re.search(r"-?\d+\.\d+(e[-+]\d+)?", refs)
    y = float(number.group())
    altered = refs[: number.start()] + repr(y + 1e-3 * max(1.0, abs(y))) + refs[number.end():]
    (tmp_path / "net.h").write_text(header)
    (tmp_path / "net.c").write_text(head + "TEST_Y[" + altered)
    proc = subprocess.run([_cc([tmp_path / "net.c"], tmp_path / "net", "-DELMAN_SELFTEST")], capture_output=True,
                          text=True)
    assert proc.returncode == 1 and proc.stdout.startswith("FAIL"), proc.stdout


def _driver(models) -> str:
    """A main that reads "index T u..." lines and prints predict's outputs (line "P"), and
    the outputs of init, reset and step over the sequence in the order given (line "S")."""
    lines = ["#include <stdio.h>", *(f'#include "m{i}.h"' for i in range(len(models))), "enum { TMAX = 16 };", ""]
    for i, rnn in enumerate(models):
        p, P = f"m{i}", f"M{i}"
        lines += [f"static int run_{p}(int T, const double *in)", "{",
                  f"    static {p}_real U[TMAX * {P}_D], Y[TMAX * {P}_K];",
                  f"    for (int i = 0; i < T * {P}_D; i++) U[i] = ({p}_real)in[i];",
                  f"    if ({p}_predict(U, 0, Y) != -1) return -2;",
                  f"    if ({p}_predict(U, T, Y) != 0) return -1;",
                  '    printf("P");',
                  f'    for (int i = 0; i < ({P}_RETURN_SEQUENCES ? T : 1) * {P}_K; i++) printf(" %.17g", (double)Y[i]);',
                  '    printf("\\n");']
        if not _streams(rnn):
            lines += [f"    if ({p}_predict(U, {P}_MAX_T + 1, Y) != -1) return -2;"]
        step = f"{p}_step(&s, U + (size_t)k * {P}_D, Y + (size_t)k * {P}_K)"  # every model steps
        lines += [f"    {p}_state s;", f"    {p}_init(&s);",
                  f"    for (int k = 0; k < T; k++) {step};  /* then reset: the same again */",
                  f"    {p}_reset(&s);", f"    for (int k = 0; k < T; k++) {step};",
                  '    printf("S");', f'    for (int i = 0; i < T * {P}_K; i++) printf(" %.17g", (double)Y[i]);',
                  '    printf("\\n");']
        lines += ["    return 0;", "}", ""]
    lines += ["int main(void)", "{", "    static double in[TMAX * 64];", "    int i, T, n;",
              '    while (scanf("%d %d %d", &i, &T, &n) == 3 && T <= TMAX && n <= TMAX * 64) {',
              "        int rc = -3;",
              '        for (int j = 0; j < n; j++) if (scanf("%lf", &in[j]) != 1) return 2;',
              "        switch (i) {", *(f"        case {i}: rc = run_m{i}(T, in); break;" for i in range(len(models))),
              "        }", '        if (rc != 0) { printf("error %d in model %d\\n", rc, i); return 1; }', "    }",
              "    return 0;", "}", ""]
    return "\n".join(lines)


def _streams(rnn) -> bool:
    """No layer after the first reads backwards: predict is a run of steps."""
    return not any(l.go_backwards for l in getattr(rnn, "layers", [rnn])[1:])


def _stepwise(rnn, U) -> np.ndarray:
    """What elman's stateful runner gives when fed one step per call: (T, K) for one sample."""
    runner = rnn.stateful(1)
    with np.errstate(all="ignore"):
        return np.concatenate([runner.predict(U[:, k:k + 1], return_sequences=True)[0]
                               for k in range(U.shape[1])])


def test_stepwise_is_one_step_of_every_layer():
    """The step semantics the C code implements, checked in elman itself: the stateful runner
    fed sequences of one step is one state update of every layer per input, in the order
    given (a backwards layer reverses one step: nothing), and for a model with no backwards
    layer it is predict with return_sequences."""
    backwards_inside = [m for m in MODELS if not _streams(m)]
    assert len(backwards_inside) >= 5 and {m.dtype for m in backwards_inside} == {np.dtype("float32"),
                                                                                   np.dtype("float64")}
    for i, rnn in enumerate(MODELS):
        U = _inputs(rnn, i, N=1).astype(rnn.dtype)
        layers = getattr(rnn, "layers", [rnn])
        zs, ys = [np.zeros(l.state_dim, rnn.dtype) for l in layers], []
        for k in range(U.shape[1]):
            x = U[0, k]
            for j, layer in enumerate(layers):
                zs[j] = x = layer.step(zs[j], x)
            ys.append(activations.get(rnn.output_activation).f(x if rnn.C is None else rnn.C @ x + rnn.d))
        tol = 1e-6 if rnn.dtype == np.float32 else 1e-13
        assert _err(_stepwise(rnn, U), np.array(ys)) <= tol, i
        if not any(l.go_backwards for l in layers):
            assert _err(_stepwise(rnn, U), rnn.predict(U, return_sequences=True)[0]) <= tol, i
    U = _inputs(backwards_inside[0], 0, N=1)
    assert _err(_stepwise(backwards_inside[0], U), backwards_inside[0].predict(U, return_sequences=True)[0]) > 1e-3


@needs_cc
def test_c_matches_predict_and_step(tmp_path):
    """36 models in one binary, for T = 1, 5 and 11: predict against rnn.predict, and init,
    reset and step over the sequence, for every model, against elman's stateful runner fed
    one step per call (for a model with no backwards layer that is predict with
    return_sequences; with a backwards layer above the first it is not)."""
    sources = [export(rnn, tmp_path / f"m{i}.c", "c")[1] for i, rnn in enumerate(MODELS)]
    (tmp_path / "driver.c").write_text(_driver(MODELS))
    exe = _cc([tmp_path / "driver.c", *sources], tmp_path / "driver")
    feed, expected = [], []
    for i, rnn in enumerate(MODELS):
        for T in (1, 5, 11):
            U = np.random.default_rng(10 * i + T).standard_normal((1, T, rnn.input_dim)).astype(rnn.dtype)
            feed.append(f"{i} {T} {U.size} " + " ".join(repr(float(v)) for v in U.ravel()))
            expected.append((i, "P", rnn.predict(U)[0]))
            expected.append((i, "S", _stepwise(rnn, U)))
    proc = subprocess.run([str(exe)], input="\n".join(feed) + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout.splitlines()
    assert len(out) == len(expected)
    for line, (i, kind, ref) in zip(out, expected):
        rnn = MODELS[i]
        assert line.split()[0] == kind
        y = np.array([float(v) for v in line.split()[1:]]).reshape(ref.shape)
        tol = 1e-5 if rnn.dtype == np.float32 else 1e-12
        err = _err(y, ref)
        _record(f"c {rnn.dtype.name} {'step' if kind == 'S' else 'predict'}", err)
        assert err <= tol, f"model {i} {kind}: error {err:.3g} > {tol:g}; {rnn!r:.200}"


@needs_cc
def test_c_files_name_the_prefix_and_the_api(tmp_path):
    rnn, backwards_inside = MODELS[0], MODELS[len(ACTS)]  # the second: layer 2 reads backwards
    for given, stem, p in [("my-net.c", "my-net", "my_net"), ("2net.h", "2net", "elman_2net"), ("net", "net", "net")]:
        header, source = export(rnn, tmp_path / given, "c")
        assert (header.name, source.name) == (stem + ".h", stem + ".c")
        text = header.read_text()
        assert f"int {p}_predict(const {p}_real *U, int T, {p}_real *Y);" in text
        assert f"void {p}_step({p}_state *s, const {p}_real *u, {p}_real *y);" in text and "_HAS_STEP 1" in text
        assert f'#include "{stem}.h"' in source.read_text()
    header, _ = c_source(backwards_inside, "net")
    assert "NET_HAS_STEP 1" in header and "#define NET_MAX_T 1024" in header
    assert "void net_step(net_state *s, const net_real *u, net_real *y);" in header
    assert "rnn.stateful(1)" in header and "is NOT predict" in header  # the difference, said where it is used
    assert "typedef float net_real;" in c_source(MODELS[-3], "net")[0]
    assert "typedef double net_real;" in c_source(MODELS[-3], "net", dtype=np.float64)[0]
    assert "typedef float net_real;" in c_source(rnn, "net", dtype="float32")[0]


def test_python_files_and_dtype(tmp_path):
    rnn = MODELS[-3]  # float32
    (path,) = export(rnn, tmp_path / "net.py")
    assert path.read_text() == python_source(rnn) and "np." not in path.read_text()
    (path,) = export(rnn, tmp_path / "net_np.py", "numpy")
    assert "DTYPE = np.float32" in path.read_text()
    assert "DTYPE = np.float64" in python_source(rnn, numpy=True, dtype=np.float64)
    assert LANGUAGES == ("python", "numpy", "c")


# --------------------------------------------------------------------------- bad input and writes


@pytest.mark.parametrize("call, error, message", [
    (lambda p: export(MODELS[0], p / "x.py", "fortran"), ParameterError, "'python', 'numpy', 'c'"),
    (lambda p: export(MODELS[0], p / "x.py", None), ParameterError, "language must be one of"),
    (lambda p: export("model.npz", p / "x.py"), InputTypeError, "rnn must be an ElmanRNN or StackedRNN, got str"),
    (lambda p: export(MODELS[0], 42), InputTypeError, "path must be a str or os.PathLike, got int"),
    (lambda p: export(MODELS[0], p / "x.c", "c", dtype=np.int32), ParameterError, "float32 or float64"),
    (lambda p: export(MODELS[0], p / "x.c", "c", n_tests=0), ParameterError, "n_tests must be a positive"),
    (lambda p: export(MODELS[0], p / "x.c", "c", n_tests=10**9), ParameterError, "n_tests must be at most 1000"),
    (lambda p: c_source(MODELS[0], "net", n_tests=1001), ParameterError, "got 1001"),
    (lambda p: c_source(MODELS[0], 'a"b'), ParameterError, "file stem"),
    (lambda p: export(MODELS[0], p / "missing" / "x.py"), OutputError, "No such file or directory"),
    (lambda p: export(MODELS[0], p, "c"), OutputError, "is a directory"),
    (lambda p: export(MODELS[0], p / "."), OutputError, "directory"),
    (lambda p: ((p / "d.c").mkdir(), export(MODELS[0], p / "d", "c")), OutputError, "d.c': it is a directory"),
])
def test_bad_input_gets_a_clear_error(tmp_path, call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(tmp_path)
    assert not [f for f in tmp_path.rglob("*") if f.suffix == ".tmp"]


def test_writes_are_atomic(tmp_path, monkeypatch):
    old = tmp_path / "net.py"
    old.write_text("old")
    (path,) = export(MODELS[0], old)
    assert path == old and path.read_text() == python_source(MODELS[0])
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    link = tmp_path / "link.py"
    link.symlink_to(old)
    export(MODELS[1], link)  # a link to a file: the file is replaced, the link stays
    assert link.is_symlink() and old.read_text() == python_source(MODELS[1])

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match="No space left on device"):
        export(MODELS[2], old)
    assert old.read_text() == python_source(MODELS[1])  # untouched
    assert sorted(f.name for f in tmp_path.iterdir()) == ["link.py", "net.py"]  # no temporary file left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@needs_cc
def test_c_selftest_of_a_model_that_overflows(tmp_path):
    """inf and NaN outputs are stored as INFINITY / NAN, and NaN matches NaN."""
    rnn = ElmanRNN(3 * np.eye(2), 50 * np.ones((2, 1)), np.zeros(2), 400 * np.ones((1, 2)), np.zeros(1),
                   activation="exponential", output_activation="exponential")
    _, source = export(rnn, tmp_path / "big.c", "c")
    assert "NAN" in source.read_text() or "INFINITY" in source.read_text()
    proc = subprocess.run([_cc([source], tmp_path / "big", "-DELMAN_SELFTEST")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
