"""The Python and NumPy sources that :mod:`elman.codegen` writes, and the pieces its C
writer shares: the model's layers, the equations for the comments, the constants.

The activations are written here as Python (``math``) and NumPy expressions in ``x``,
next to the C expressions of :mod:`elman.activations` (``c_f``); a test checks every
entry against ``activations.get(name).f``. The NumPy bodies are elman's own, operation
for operation, so an exported NumPy module computes what ``rnn.predict`` computes.
"""

from __future__ import annotations

import re

import numpy as np

from . import __version__, activations

__all__ = ["PY_F", "NP_F", "constants", "equations", "layers", "python_source", "numpy_source", "rows"]

# The sigmoid's two branches: exp of -|x| only, never overflowing (as activations._sigmoid).
_SIG = "(1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x)))"
_NP_SIG = "e = np.exp(-np.abs(x))  # never overflows\n"

#: Each activation as a Python expression in the float ``x`` (``math`` and the constants).
PY_F = {
    "linear": "x",
    "tanh": "math.tanh(x)",
    "relu": "0.0 if x < 0 else x",
    "sigmoid": _SIG,
    "hard_sigmoid": "min(max(x + 3.0, 0.0), 6.0) / 6.0",
    "softplus": "max(x, 0.0) + math.log1p(math.exp(-abs(x)))",  # np.logaddexp(0, x)
    "softsign": "x / (1.0 + abs(x))",
    "elu": "x if x > 0 else math.expm1(x)",
    "selu": "SELU_SCALE * (x if x > 0 else SELU_ALPHA * math.expm1(x))",
    "exponential": "exp(x)",  # the module's exp: inf where math.exp would raise OverflowError
    "silu": f"x * {_SIG}",
    "gelu": "0.5 * x * math.erfc(-x * INV_SQRT2)",
    "relu6": "min(max(x, 0.0), 6.0)",
    "leaky_relu": "x if x > 0 else LEAKY_SLOPE * x",
}

#: Each activation as the body of a NumPy function of the array ``x`` (keeps x's dtype).
NP_F = {
    "linear": "return x",
    "tanh": "return np.tanh(x)",
    "relu": "return np.maximum(x, 0)",
    "sigmoid": _NP_SIG + "return np.where(x >= 0, 1 / (1 + e), e / (1 + e))",
    "hard_sigmoid": "return np.clip(x + 3, 0, 6) / 6",
    "softplus": "return np.logaddexp(0, x).astype(x.dtype, copy=False)",
    "softsign": "return x / (1 + np.abs(x))",
    "elu": "return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))  # no overflow in the unused branch",
    "selu": "return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))",
    "exponential": "return np.exp(x)",
    "silu": _NP_SIG + "return x * np.where(x >= 0, 1 / (1 + e), e / (1 + e))",
    "gelu": "return 0.5 * x * erfc(-x * INV_SQRT2)",
    "relu6": "return np.clip(x, 0, 6)",
    "leaky_relu": "return np.where(x > 0, x, LEAKY_SLOPE * x)",
}

# Helpers a module defines only when one of its activations calls them.
_PY_EXP = '''def exp(x):
    """math.exp, but inf where the result overflows (as NumPy), not OverflowError."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf'''
_NP_ERFC = '''def erfc(x):
    """math.erfc element-wise in x's dtype (NumPy has no erfc; elman uses the same)."""
    return np.asarray(np.frompyfunc(math.erfc, 1, 1)(x), dtype=x.dtype)'''


def layers(rnn) -> list[tuple[str, object]]:
    """(suffix, layer) per recurrent layer: ("", rnn) for an ElmanRNN, ("_1", ...) in a stack."""
    if hasattr(rnn, "layers"):
        return [(f"_{j}", layer) for j, layer in enumerate(rnn.layers, 1)]
    return [("", rnn)]


def constants(text: str, rename=lambda name: name.removeprefix("ELMAN_")) -> list[tuple[str, float]]:
    """The constants of activations.C_CONSTANTS that ``text`` uses, by the name it uses."""
    named = [(rename(c), v) for c, v in activations.C_CONSTANTS.items()]
    return [(n, float(v)) for n, v in named if re.search(rf"\b{n}\b", text)]


def equations(rnn) -> list[str]:
    """The model's equations, one line each, with the activations named."""
    out, pairs = [], layers(rnn)
    L = len(pairs)
    for j, (sfx, layer) in enumerate(pairs, 1):
        z = f"z{sfx.lstrip('_')}" if L > 1 else "z"
        x = "u" if j == 1 else f"z{j - 1}"
        x += "_k" if j == 1 else "_{k+1}"
        eq = f"{z}_{{k+1}} = s{sfx}(A{sfx} {z}_k + B{sfx} {x} + b{sfx})"
        note = ", reads its input backwards" if layer.go_backwards else ""
        out.append(f"{eq:<46} s{sfx} = {layer.activation}{note}")
    zL = f"z{L}" if L > 1 else "z"
    eq = f"y_k = g(C {zL}_{{k+1}} + d)" if rnn.C is not None else f"y_k = g({zL}_{{k+1}})  (no readout)"
    out.append(f"{eq:<46} g = {rnn.output_activation}")
    return out


def rows(items: list[str], indent: str, width: int = 96) -> list[str]:
    """``items`` joined by ", " into lines of at most ``width`` characters."""
    lines, line = [], indent
    for item in items:
        if line.strip() and len(line) + len(item) + 2 > width:
            lines.append(line.rstrip())
            line = indent
        line += item + ", "
    lines.append(line.rstrip())
    return lines


def _literal(name: str, W, wrap: tuple[str, str]) -> list[str]:
    """``name = [...]`` with repr() of every float: the same double when read back.
    A matrix has one row a line (wrapped when long)."""
    W = np.asarray(W, dtype=np.float64)
    opening, closing = wrap

    def vector(v, indent):
        one = "[" + ", ".join(repr(float(x)) for x in v) + "]"
        if len(indent) + len(one) <= 96:
            return [indent + one]
        return [indent + "[", *rows([repr(float(x)) for x in v], indent + "    "), indent + "]"]

    if W.ndim == 1:
        first = vector(W, "")
        if len(first) == 1:
            return [f"{name} = {opening[:-1]}{first[0]}{closing[1:]}"]
        return [f"{name} = {opening}", *first[1:-1], closing]
    lines = [f"{name} = {opening}"]
    for row in W:
        lines += vector(row, "    ")
        lines[-1] += ","
    return lines + [closing]


def _weights(rnn, wrap: tuple[str, str]) -> list[str]:
    lines = []
    for sfx, layer in layers(rnn):
        for n in ("A", "B", "b"):
            lines += _literal(n + sfx, getattr(layer, n), wrap)
    if rnn.C is not None:
        lines += _literal("C", rnn.C, wrap) + _literal("d", rnn.d, wrap)
    return lines


def _acts(rnn) -> list[str]:
    """The activation names the model uses, each once, in a fixed order."""
    used = {layer.activation for _, layer in layers(rnn)} | {rnn.output_activation}
    missing = used - (set(PY_F) & set(NP_F))
    if missing:  # an activation added to elman without its entry here
        raise NotImplementedError(f"elman.codegen has no code for the activation(s) {sorted(missing)}")
    return [a for a in activations.names() if a in used]


def _header(rnn, what: str) -> list[str]:
    pairs = layers(rnn)
    dims = ", ".join(f"M{s} = {l.state_dim}" for s, l in pairs)
    back = any(layer.go_backwards for _, layer in pairs)
    seq = ("every output y_0 .. y_{T-1}" if rnn.return_sequences else "the last output y_{T-1}")
    return [
        f'"""An Elman network exported by elman {__version__} (elman.codegen): {what}.',
        "",
        *("    " + e for e in equations(rnn)),
        "",
        f"Sizes: D = {rnn.input_dim} inputs, {dims} states, K = {rnn.output_dim} outputs.",
        f"predict returns {seq}, from z_0 = 0 unless z0 is given.",
        *(["A layer that reads backwards (Keras's go_backwards) takes its input last step",
           "first and hands on its states in the order it computed them."] if back else []),
        "The weights are written with repr(): they read back as the same doubles.",
        '"""',
    ]


def _sizes(rnn) -> list[str]:
    sizes = [f"D = {rnn.input_dim}  # inputs"]
    sizes += [f"M{s} = {l.state_dim}  # states" + (f" of layer {s[1:]}" if s else "") for s, l in layers(rnn)]
    return sizes + [f"K = {rnn.output_dim}  # outputs", f"RETURN_SEQUENCES = {rnn.return_sequences}"]


def _functions(rnn, table: dict[str, str], arg: str) -> list[str]:
    """The activations as functions, the helpers and constants they need first."""
    acts = _acts(rnn)
    bodies = {a: table[a] if table is NP_F else "return " + table[a] for a in acts}
    text = "\n".join(bodies.values())
    lines = [f"{n} = {v!r}" for n, v in constants(text)] + ["", ""]
    if re.search(r"(?<![\w.])exp\(", text) and table is PY_F:
        lines += [_PY_EXP, "", ""]
    if "erfc(" in text and table is NP_F:
        lines += [_NP_ERFC, "", ""]
    for a in acts:
        body = "\n".join("    " + line for line in bodies[a].splitlines())
        lines += [f"def {a}(x):", f'    """{a}, element-wise on {arg}."""', body, "", ""]
    return lines


def python_source(rnn) -> str:
    """The text of a module using only ``math``: ``step``, ``output``, ``predict``."""
    pairs = layers(rnn)
    stack = len(pairs) > 1
    lines = _header(rnn, "plain Python, standard library only")
    lines += ["", "import math", "", *_sizes(rnn), "", *_weights(rnn, ("[", "]")), ""]
    lines += _functions(rnn, PY_F, "a float")
    lines += ["def dot(w, x):", '    """The inner product sum_j w_j x_j."""',
              "    return sum(wj * xj for wj, xj in zip(w, x))", "", ""]
    for j, (s, layer) in enumerate(pairs, 1):
        lines += [f"def step{s}(z, u):",
                  f'    """One state update z_{{k+1}} = s{s}(A{s} z_k + B{s} u_k + b{s}), s{s} = {layer.activation}."""',
                  f"    return [{layer.activation}((dot(B{s}[i], u) + b{s}[i]) + dot(A{s}[i], z)) for i in range(M{s})]",
                  "", ""]
    g = rnn.output_activation
    out = f"[{g}(dot(C[i], z) + d[i]) for i in range(K)]" if rnn.C is not None else f"[{g}(zi) for zi in z]"
    lines += ["def output(z):", '    """The readout y = g(C z + d) of a state z."""', f"    return {out}", "", ""]
    table = ", ".join(f"(step{s}, M{s}, {l.go_backwards})" for s, l in pairs)
    lines += [f"LAYERS = [{table}]  # (state update, M, reads backwards) per layer", "", ""]
    lines += _PY_PREDICT.format(z0="z0" if stack else "[z0]",
                                z0doc="a list with one state (M_j floats) per layer" if stack else "M floats").splitlines()
    return "\n".join(lines) + "\n"


_PY_PREDICT = '''def run(step, X, z, backwards):
    """The states z_1 .. z_T of one layer over the sequence X, in the order computed."""
    Z = []
    for x in (X[::-1] if backwards else X):
        z = step(z, x)
        Z.append(z)
    return Z


def predict(U, z0=None):
    """The output for ONE sequence U (T lists of D floats), as rnn.predict(U[None])[0].

    z0: the initial state, {z0doc}; zeros by default.
    Returns the last output (K floats), or all T outputs when RETURN_SEQUENCES.
    """
    X = [[float(v) for v in u] for u in U]
    if not X or any(len(u) != D for u in X):
        raise ValueError(f"U must be T >= 1 steps of D = {{D}} floats each, got {{[len(u) for u in X]}}")
    z0s = [None] * len(LAYERS) if z0 is None else {z0}
    for (step, M_j, backwards), z in zip(LAYERS, z0s):
        z = [0.0] * M_j if z is None else [float(v) for v in z]
        X = run(step, X, z, backwards)  # the next layer reads these states
    return [output(z) for z in X] if RETURN_SEQUENCES else output(X[-1])


def predict_batch(Us, z0=None):
    """predict for every sequence of Us, from the same z0."""
    return [predict(U, z0) for U in Us]
'''


def numpy_source(rnn) -> str:
    """The text of a module using only NumPy (and math): ``predict`` over a batch."""
    pairs = layers(rnn)
    dtype = "np.float32" if rnn.dtype == np.float32 else "np.float64"
    lines = _header(rnn, "NumPy only")
    gelu = "gelu" in _acts(rnn)  # erfc needs math
    lines += ["", *(["import math", ""] if gelu else []), "import numpy as np", "",
              f"DTYPE = {dtype}", *_sizes(rnn), "", *_weights(rnn, ("np.array([", "], dtype=DTYPE)")), ""]
    lines += _functions(rnn, NP_F, "an array")
    table = ", ".join(f"(A{s}, B{s}, b{s}, {l.activation}, {l.go_backwards})" for s, l in pairs)
    lines += [f"LAYERS = [{table}]  # (A, B, b, s, reads backwards) per layer", "", ""]
    g = rnn.output_activation
    out = f"{g}(Z @ C.T + d)" if rnn.C is not None else f"{g}(Z)"
    lines += ["def output(Z):", '    """The readout y = g(C z + d) of states Z (..., M)."""', f"    return {out}", "", ""]
    z0doc = "a list with one (M_j,) or (N, M_j) state per layer" if len(pairs) > 1 else "(M,) or (N, M)"
    lines += _NP_PREDICT.format(z0="z0" if len(pairs) > 1 else "[z0]", z0doc=z0doc).splitlines()
    return "\n".join(lines) + "\n"


_NP_PREDICT = '''def run(X, A, B, b, s, backwards, z):
    """z_{{k+1}} = s(A z_k + B x_k + b) over a batch X (N, T, D_in) from z (N, M).

    Returns the states z_1 .. z_T as (T, N, M), in the order computed, and z_T.
    """
    X = (X[:, ::-1] if backwards else X).transpose(1, 0, 2)  # time-major, in reading order
    H = np.matmul(X, B.T)  # B x_k for every step in one product, then + b;
    H += b  # the loop adds A z_k: ((B x + b) + A z), Keras's order
    Z = np.empty_like(H)
    for k in range(len(H)):
        H[k] += z @ A.T
        z = s(H[k])
        Z[k] = z
    return Z, z


def predict(U, z0=None):
    """What rnn.predict(U, z0) returns: U (N, T, D) -> (N, K), or (N, T, K) when RETURN_SEQUENCES.

    z0: the initial state, {z0doc}; zeros by default.
    """
    U = np.asarray(U, dtype=DTYPE)
    if U.ndim != 3 or U.shape[2] != D or 0 in U.shape:
        raise ValueError(f"U has shape {{U.shape}}; expected (N, T, D) = (samples, steps, {{D}} features)")
    X = U
    z0s = [None] * len(LAYERS) if z0 is None else {z0}
    for (A, B, b, s, backwards), z in zip(LAYERS, z0s):
        z = np.zeros((len(U), len(b)), DTYPE) if z is None else np.broadcast_to(np.asarray(z, DTYPE), (len(U), len(b)))
        Z, z = run(X, A, B, b, s, backwards, z)
        X = Z.transpose(1, 0, 2)  # the next layer reads these states
    return output(X) if RETURN_SEQUENCES else output(z)
'''
