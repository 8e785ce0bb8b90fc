"""The C99 header and source that :mod:`elman.codegen` writes.

The activations are the C expressions of :mod:`elman.activations` (``c_f``, in the
double ``x``), the one source of truth the compiled training kernel uses too; they are
computed in double and the result cast to ``real`` (float or double).

Every model gets the stateful ``init`` / ``reset`` / ``step``: one time step of every
layer per call, each layer keeping its state, which is what elman's own stateful runner
gives when fed one step per call (``rnn.stateful(1).predict(U[:, k:k+1])`` for k = 0,
1, ...): a go_backwards layer reverses a sequence of one step, which changes nothing.
``predict`` keeps the whole-sequence semantics of ``rnn.predict``. A model streams
(predict is a run of steps) unless a layer after the first reads backwards
(go_backwards): that layer needs the whole output sequence of the layer below before
its first step, so predict goes layer by layer through a static buffer of
``<P>_MAX_T`` steps (not reentrant), and a run of steps differs from predict there.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import __version__, activations
from ._codegen_py import constants, equations, layers, rows

__all__ = ["prefix", "sources", "streams", "T_TEST", "MAX_T"]

#: Steps of each stored self-test sequence; the default buffer of a non-streaming model.
T_TEST, MAX_T = 8, 1024


def prefix(stem: str) -> str:
    """A C identifier from a file stem: other characters become "_"; "elman_" goes in
    front of one that does not start with a letter ("2net" -> "elman_2net")."""
    p = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return p if p[:1].isalpha() else "elman_" + p if p else "elman"


def streams(rnn) -> bool:
    """Whether predict runs one step of every layer per input (no layer after the first
    reads backwards), so that a run of steps is predict."""
    return not any(layer.go_backwards for _, layer in layers(rnn)[1:])


def _num(v: float, real: str) -> str:
    """A C literal that reads back as the same float or double ("%.9g" / "%.17g")."""
    if not math.isfinite(v):
        return "NAN" if math.isnan(v) else ("-INFINITY" if v < 0 else "INFINITY")
    text = ("%.9g" if real == "float" else "%.17g") % v
    if not re.search(r"[.e]", text):
        text += ".0"
    return text + ("f" if real == "float" else "")


def _init(W, real: str, indent: str = "    ") -> list[str]:
    """Nested braces for an array, the innermost rows wrapped to a readable width."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim == 1:
        one = indent + "{" + ", ".join(_num(float(v), real) for v in W) + "}"
        if len(one) <= 96:
            return [one]
        return [indent + "{", *rows([_num(float(v), real) for v in W], indent + "    "), indent + "}"]
    lines = [indent + "{"]
    for sub in W:
        lines += _init(sub, real, indent + "    ")
        lines[-1] += ","
    return lines + [indent + "}"]


def _array(decl: str, W, real: str) -> list[str]:
    body = _init(W, real, "")
    body[0] = f"static const real {decl} = " + body[0]
    body[-1] += ";"
    return body + [""]


def _dims(rnn) -> list[tuple[str, str, str, object]]:
    """(suffix, M name, input size name, layer) per layer."""
    out, prev = [], "D"
    for sfx, layer in layers(rnn):
        out.append((sfx, "M" + sfx, prev, layer))
        prev = "M" + sfx
    return out


def _header(rnn, stem: str, p: str, real: str) -> str:
    P, dims = p.upper(), _dims(rnn)
    lines = [f"/* {stem}.h: an Elman network exported by elman {__version__} (elman.codegen); C99.", " *"]
    lines += [" *   " + e for e in equations(rnn)]
    lines += [" *", f" * Every array is row-major, of {p}_real ({real}); the state starts at z_0 = 0.",
              f" * int {p}_predict(const {p}_real *U, int T, {p}_real *Y);",
              f" *     ONE sequence U (T x {P}_D, u_0 first); writes Y: "
              + (f"every output (T x {P}_K)." if rnn.return_sequences else f"the last output ({P}_K values)."),
              " *     Returns 0, or -1 when T < 1" + ("." if streams(rnn) else f" or T > {P}_MAX_T."),
              f" * void {p}_init({p}_state *s);  and  {p}_reset(s): the state back to zero.",
              f" * void {p}_step({p}_state *s, const {p}_real *u, {p}_real *y);",
              f" *     one time step of every layer, the stateful form: reads u ({P}_D values),",
              f" *     updates the state, writes that step's output y ({P}_K values). Each call is",
              " *     elman's rnn.stateful(1).predict(u) for a sequence of ONE step (u as U[:, k:k+1])."]
    lines += _header_notes(rnn, P)
    lines += [" */", f"#ifndef {P}_H", f"#define {P}_H", "", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
              f"#define {P}_D {rnn.input_dim}  /* inputs per step */"]
    lines += [f"#define {P}_{m} {layer.state_dim}  /* states" + (f" of layer {m[2:]}" if m != "M" else "") + " */"
              for _, m, _, layer in dims]
    lines += [f"#define {P}_K {rnn.output_dim}  /* outputs per step */",
              f"#define {P}_RETURN_SEQUENCES {int(rnn.return_sequences)}",
              f"#define {P}_HAS_STEP 1  /* every model has init, reset and step */"]
    if not streams(rnn):
        lines += [f"#ifndef {P}_MAX_T", f"#define {P}_MAX_T {MAX_T}", "#endif"]
    lines += ["", f"typedef {real} {p}_real;", "", "typedef struct {"]
    lines += [f"    {p}_real z{s}[{P}_{m}];  /* the state z" + s.lstrip("_") + "_k */" for s, m, _, _ in dims]
    lines += [f"}} {p}_state;", "", f"void {p}_init({p}_state *s);", f"void {p}_reset({p}_state *s);",
              f"void {p}_step({p}_state *s, const {p}_real *u, {p}_real *y);",
              f"int {p}_predict(const {p}_real *U, int T, {p}_real *Y);", "",
              "#ifdef __cplusplus", "}", "#endif", "#endif", ""]
    return "\n".join(lines)


def _header_notes(rnn, P: str) -> list[str]:
    """How a run of steps relates to predict, for this model's go_backwards layers."""
    if not streams(rnn):
        return [" *", " * A layer after the first reads backwards (go_backwards). predict gives it the",
                " * whole sequence of the layer below, last step first, as rnn.predict does: it goes",
                f" * layer by layer through a static buffer of {P}_MAX_T steps (compile with",
                f" * -D{P}_MAX_T=... for longer ones; not reentrant). step cannot see the future:",
                " * it reverses a sequence of one step, which is no reversal, so a run of steps",
                " * is NOT predict over the same inputs; it is what elman's stateful runner gives",
                " * when fed one step per call."]
    if layers(rnn)[0][1].go_backwards:
        return [" *", " * The first layer reads backwards (go_backwards): predict feeds it u_{T-1} first;",
                " * step takes the inputs in the order given, so give them last first to get predict."]
    return []


def _functions(rnn) -> list[str]:
    """The activations (computed in double), each layer's update and the readout."""
    used = [a for a in activations.names()
            if a in {l.activation for _, l in layers(rnn)} | {rnn.output_activation}]
    lines = ["/* The activations, in double (elman/activations.py, c_f) */"]
    for a in used:
        lines.append(f"static double act_{a}(double x) {{ return {activations.get(a).c_f}; }}")
    for s, m, x, layer in _dims(rnn):
        lines += ["", f"/* z{s} <- s{s}(A{s} z{s} + B{s} u + b{s}): one state update, s{s} = {layer.activation} */",
                  f"static void step{s}(real z[{m}], const real u[{x}])", "{", f"    real h[{m}];",
                  f"    for (int i = 0; i < {m}; i++) {{  /* h = (B{s} u + b{s}) + A{s} z: Keras's order */",
                  "        real Bu = 0, Az = 0;",
                  f"        for (int j = 0; j < {x}; j++) Bu += B{s}[i][j] * u[j];",
                  f"        for (int j = 0; j < {m}; j++) Az += A{s}[i][j] * z[j];",
                  f"        h[i] = (Bu + b{s}[i]) + Az;", "    }",
                  f"    for (int i = 0; i < {m}; i++) z[i] = (real)act_{layer.activation}(h[i]);  /* z = s(h) */",
                  "}"]
    g, mL = rnn.output_activation, _dims(rnn)[-1][1]
    lines += ["", "/* y = g(C z + d): the readout, g = " + g + " */",
              f"static void readout(const real z[{mL}], real y[K])", "{"]
    if rnn.C is None:
        lines += [f"    for (int i = 0; i < K; i++) y[i] = (real)act_{g}(z[i]);  /* no readout: C = I, d = 0 */"]
    else:
        lines += ["    for (int i = 0; i < K; i++) {", "        real Cz = 0;",
                  f"        for (int j = 0; j < {mL}; j++) Cz += C[i][j] * z[j];",
                  f"        y[i] = (real)act_{g}(Cz + d[i]);", "    }"]
    return lines + ["}", ""]


def _step_api(rnn, p: str) -> list[str]:
    """init, reset and step: one time step of every layer, each reading the new state below."""
    dims = _dims(rnn)
    lines = [f"void {p}_init({p}_state *s)", "{"]
    lines += [f"    for (int i = 0; i < {m}; i++) s->z{s}[i] = 0;" for s, m, _, _ in dims]
    lines += ["}", "", f"void {p}_reset({p}_state *s) {{ {p}_init(s); }}", "",
              "/* One step of every layer (a go_backwards layer reverses a sequence of one step: no change) */",
              f"void {p}_step({p}_state *s, const real *u, real *y)", "{"]
    x = "u"
    for s, _, _, _ in dims:
        lines.append(f"    step{s}(s->z{s}, {x});")
        x = f"s->z{s}"  # the next layer reads this layer's new state
    return lines + [f"    readout({x}, y);", "}", ""]


def _streaming_api(rnn, p: str) -> list[str]:
    """predict as a run of steps (no layer after the first reads backwards)."""
    first_back = _dims(rnn)[0][3].go_backwards
    lines = [f"int {p}_predict(const real *U, int T, real *Y)", "{",
             f"    {p}_state s;", "    if (T < 1) return -1;", f"    {p}_init(&s);"]
    u = "U + (size_t)(T - 1 - k) * D" if first_back else "U + (size_t)k * D"
    y = "Y + (size_t)k * K" if rnn.return_sequences else "Y"
    note = "  /* the first layer reads u_{T-1} first */" if first_back else ""
    lines += ["    for (int k = 0; k < T; k++)" + note, f"        {p}_step(&s, {u}, {y});", "    return 0;", "}", ""]
    return lines


def _sequence_api(rnn, p: str) -> list[str]:
    dims, P = _dims(rnn), p.upper()
    lines = [f"int {p}_predict(const real *U, int T, real *Y)", "{",
             "    /* each layer's states z_1 .. z_T in the order it computed them, for the next layer */",
             f"    static real seq[2][{P}_MAX_T][M_MAX];",
             "    real " + ", ".join(f"z{s}[{m}] = {{0}}" for s, m, _, _ in dims) + ";",
             f"    if (T < 1 || T > {P}_MAX_T) return -1;"]
    for j, (s, _, _, layer) in enumerate(dims):
        t = "T - 1 - k" if layer.go_backwards else "k"
        x = f"U + (size_t)({t}) * D".replace("(k)", "k") if j == 0 else f"seq[{(j - 1) % 2}][{t}]"
        how = "last step first" if layer.go_backwards else "first step first"
        lines += [f"    for (int k = 0; k < T; k++) {{  /* layer {j + 1} reads its input {how} */",
                  f"        step{s}(z{s}, {x});", f"        memcpy(seq[{j % 2}][k], z{s}, sizeof z{s});", "    }"]
    last = dims[-1][0]
    if rnn.return_sequences:
        lines.append(f"    for (int k = 0; k < T; k++) readout(seq[{(len(dims) - 1) % 2}][k], Y + (size_t)k * K);")
    else:
        lines.append(f"    readout(z{last}, Y);")
    return lines + ["    return 0;", "}", ""]


def _selftest(rnn, p: str, real: str, n_tests: int, seed: int) -> list[str]:
    """main() behind ELMAN_SELFTEST: stored inputs against what rnn.predict returned."""
    U = np.random.default_rng(seed).standard_normal((n_tests, T_TEST, rnn.input_dim)).astype(rnn.dtype)
    with np.errstate(all="ignore"):  # a model that overflows stores inf, and its C code must match it
        Y = rnn.predict(U)
    Y = Y if rnn.return_sequences else Y[:, None, :]
    tol = "1e-4" if real == "float" else "1e-9"
    lines = ["#ifdef ELMAN_SELFTEST", "#include <stdio.h>", "",
             f"/* {n_tests} input sequences drawn at export (seed {seed}) and what elman's rnn.predict returned */",
             f"enum {{ N_TESTS = {n_tests}, T_TEST = {T_TEST}, T_OUT = {Y.shape[1]} }};", ""]
    lines += _array("TEST_U[N_TESTS][T_TEST][D]", U, real) + _array("TEST_Y[N_TESTS][T_OUT][K]", Y, real)
    return lines + (_MAIN % {"p": p, "tol": tol}).splitlines() + ["#endif", ""]


_MAIN = """int main(void)
{
    const double tol = %(tol)s;  /* on |y - y_ref| / max(1, |y_ref|) */
    double worst = 0.0;
    int failed = 0;
    for (int n = 0; n < N_TESTS; n++) {
        real Y[T_OUT][K] = {{0}};
        if (%(p)s_predict(&TEST_U[n][0][0], T_TEST, &Y[0][0]) != 0) failed = 1;
        for (int k = 0; k < T_OUT; k++)
            for (int i = 0; i < K; i++) {
                double y = Y[k][i], ref = TEST_Y[n][k][i];
                double err = (y == ref || (isnan(y) && isnan(ref))) ? 0.0 : fabs(y - ref) / fmax(1.0, fabs(ref));
                if (!(err <= tol)) failed = 1;  /* NaN fails too */
                if (!(err <= worst)) worst = err;
            }
    }
    printf("%%s: %%d sequences of %%d steps, max relative error %%.3g (tolerance %%.0e)\\n",
           failed ? "FAIL" : "ok", N_TESTS, T_TEST, worst, tol);
    return failed;
}"""


def sources(rnn, stem: str, n_tests: int = 3, seed: int = 0) -> tuple[str, str]:
    """(header, source) of ``rnn`` for the files ``<stem>.h`` and ``<stem>.c``."""
    p, real = prefix(stem), "float" if rnn.dtype == np.float32 else "double"
    missing = [a for a in {l.activation for _, l in layers(rnn)} | {rnn.output_activation}
               if not activations.get(a).c_f]
    if missing:  # pragma: no cover - every activation elman has carries its C expression
        raise NotImplementedError(f"activation(s) {missing} have no C expression (c_f)")
    dims = _dims(rnn)
    enum = ", ".join(["D = " + p.upper() + "_D", *(f"{m} = {p.upper()}_{m}" for _, m, _, _ in dims),
                      f"K = {p.upper()}_K"] + ([] if streams(rnn) else [f"M_MAX = {max(l.state_dim for *_, l in dims)}"]))
    lines = [f"/* {stem}.c: an Elman network exported by elman {__version__} (elman.codegen); C99,",
             " * no allocation. The API and the model are described in " + stem + ".h.", " *"]
    lines += [" *   " + e for e in equations(rnn)] + [" */", "#include <math.h>", "#include <string.h>", "",
                                                    f'#include "{stem}.h"', "",
                                                    f"typedef {p}_real real;  /* {real} */", f"enum {{ {enum} }};", ""]
    used = " ".join(activations.get(l.activation).c_f for _, l in layers(rnn))
    used += " " + activations.get(rnn.output_activation).c_f
    consts = [f"#define {n} {v!r}" for n, v in constants(used, rename=lambda n: n)]
    lines += consts + ([""] if consts else [])
    lines.append("/* The weights: z_{k+1} = s(A z_k + B u_k + b), y_k = g(C z_{k+1} + d), column vectors */")
    for s, m, x, layer in dims:
        lines += _array(f"A{s}[{m}][{m}]", layer.A, real) + _array(f"B{s}[{m}][{x}]", layer.B, real)
        lines += _array(f"b{s}[{m}]", layer.b, real)
    if rnn.C is not None:
        lines += _array(f"C[K][{dims[-1][1]}]", rnn.C, real) + _array("d[K]", rnn.d, real)
    lines += _functions(rnn)
    lines += _step_api(rnn, p) + (_streaming_api(rnn, p) if streams(rnn) else _sequence_api(rnn, p))
    lines += _selftest(rnn, p, real, n_tests, seed)
    return _header(rnn, stem, p, real), "\n".join(lines) + "\n"
