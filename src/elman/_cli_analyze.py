"""``elman analyze MODEL``: the model read as a dynamical system (elman.analysis), as a
short report on stdout and, with ``--out DIR``, report.json and four plots.

The trajectories (echo state check, Lyapunov exponents, the states the fixed points are
drawn over) are driven by i.i.d. uniform noise on [-1, 1] (``--input-kind noise``, the
default, seeded) or by the rows of a CSV file (``--input FILE.csv``: its numeric columns
are the D input features). The memory capacity is always measured with i.i.d. input, as
its definition asks; the fixed points are those at zero input.

report.json is :func:`elman.analysis.summary` (strict JSON: a number that is not finite
is null) with two keys added: ``file`` (the model file) and ``input`` (what drove it).
The text and the plots are drawn from that same dict, so the three always agree.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from pathlib import Path

import numpy as np

from ._cli_forecast import natural
from ._plot_dynamics import layer_eigenvalues
from .errors import DataError, ParameterError, ShapeError

__all__ = ["add_analyze", "cmd_analyze", "ANALYZE_FILES", "analyze_model"]

#: What ``elman analyze --out DIR`` writes.
ANALYZE_FILES = ("report.json", "eigenvalues.png", "fixed_points.png", "memory.png", "lyapunov.png")
SHOWN, SHOWN_POINTS = 5, 10  # exponents and fixed points printed (report.json has them all)
MIN_STEPS, MAX_STEPS = 100, 10**6
#: The most --k-max (the memory capacity's n is at least 5000, and k_max <= n // 4).
MAX_K = 1000
#: The most state values T (sum of M_j) the driving input may make (2^25: 268 MB a copy).
MAX_STATES = 2**25


def add_analyze(sub) -> None:
    a = sub.add_parser("analyze", help="the model as a dynamical system: spectral radius, echo state, fixed "
                                       "points, memory capacity, Lyapunov exponents")
    a.add_argument("model", help="a .keras, .npz, .pt or .onnx model file")
    src = a.add_mutually_exclusive_group()
    src.add_argument("--input", help="a CSV file whose numeric columns are the D inputs that drive the model")
    src.add_argument("--input-kind", choices=["noise"], default=None,
                     help="noise (default): i.i.d. uniform on [-1, 1], seeded by --seed")
    a.add_argument("--steps", type=natural(MIN_STEPS, MAX_STEPS), default=None,
                   help="length T of the driving input (default 1000; with --input, its first T rows, default "
                        f"all); {MIN_STEPS} to {MAX_STEPS}, and T M at most {MAX_STATES:,} state values; the "
                        "first min(100, T / 4) a warm-up")
    a.add_argument("--k-max", type=natural(1, MAX_K), default=None,
                   help=f"the largest lag of the memory capacity (default 2 M, clipped to [10, 200]; at most {MAX_K})")
    a.add_argument("--seed", type=natural(0, 2**32 - 1), default=0)
    a.add_argument("--out", help="write report.json, eigenvalues.png, fixed_points.png, memory.png and "
                                 "lyapunov.png to this folder (written all at once)")
    a.set_defaults(func=cmd_analyze)


def cmd_analyze(args) -> int:
    import contextlib

    from ._outdir import RunFolder

    with contextlib.ExitStack() as stack:
        # The folder is checked before the work; the files appear together at the end.
        stage = stack.enter_context(RunFolder(args.out, ANALYZE_FILES)) if args.out is not None else None
        rnn = read_any(args.model)
        U, source = driving_input(rnn, args.input, args.steps, args.seed)
        try:
            result = analyze_model(rnn, U, k_max=args.k_max, seed=args.seed)
        except MemoryError as exc:  # not cli.main's hint, which names training's options
            raise ParameterError(f"out of memory analysing the model ({exc or 'MemoryError'}); lower --steps "
                                 "or --k-max") from None
        rep = {"file": str(args.model), "input": source, **result["report"]}
        print("\n".join(report_lines(args.model, rep)))
        if stage is not None:
            (stage / "report.json").write_text(strict_json(rep))
            draw(stage, rnn, rep, result["states"])
            print(f"written to {args.out}/ ({', '.join(ANALYZE_FILES)})")
    return 0


def read_any(path):
    """The model in ``path``: by its suffix (.npz, .keras, .h5, .pt, .onnx), or an elman
    .npz saved under another name."""
    from .convert import read_model
    from .errors import ModelFileError
    from .io import is_model_file, load

    p = Path(path)
    if p.suffix.lower() in (".npz", ".keras", ".h5", ".pt", ".onnx") or not p.exists():
        return read_model(p)
    if is_model_file(p):
        return load(p)
    what = "a folder" if p.is_dir() else "not a model"
    raise ModelFileError(f"model file {str(path)!r} is {what}: expected a .npz, .keras, .h5, .pt or .onnx model file")


def driving_input(rnn, path, steps: int | None, seed: int) -> tuple[np.ndarray, dict]:
    """The input (T, D) that drives the trajectories, and how it was made."""
    D, M = rnn.input_dim, sum(l.state_dim for l in getattr(rnn, "layers", [rnn]))
    if path is None:
        T = 1000 if steps is None else steps
        _check_length(T, M, "--steps")
        U = np.random.default_rng(seed).uniform(-1.0, 1.0, (T, D))
        return U, {"kind": "noise", "distribution": "uniform [-1, 1], i.i.d.", "steps": T, "seed": seed}
    U, names = read_inputs(path)
    name = Path(path).name
    _check_range(U, names, name, rnn.dtype)
    if U.shape[1] != D:
        raise ShapeError(f"--input {name} has {U.shape[1]} numeric column{'s' if U.shape[1] != 1 else ''} "
                         f"({', '.join(names)}) but the model reads D = {D} input{'s' if D != 1 else ''}")
    if steps is not None:
        U = U[:steps]
    if len(U) < MIN_STEPS:
        raise DataError(f"--input {name} has {len(U)} rows; the analysis needs at least {MIN_STEPS} steps "
                        "(a warm-up, then the trajectory)")
    _check_length(len(U), M, "--steps" if steps is not None else f"--input {name} ({len(U)} rows; --steps takes "
                  "the first T)")
    return U, {"kind": "csv", "file": str(path), "columns": list(names), "steps": len(U)}


def _check_length(T: int, M: int, what: str) -> None:
    """ParameterError unless T M <= MAX_STATES: the trajectories are kept whole."""
    if T * M > MAX_STATES:
        raise ParameterError(f"{what}: T = {T} steps of M = {M} states make {T * M:,} state values; the limit is "
                             f"2^25 = {MAX_STATES:,} (T <= {MAX_STATES // M} for this model)")


def _check_range(U: np.ndarray, names, name: str, dtype) -> None:
    """DataError naming the file, the row and the column of the first value the model's
    dtype cannot hold (1e308 is a float64 but not a float32)."""
    big = np.finfo(dtype).max
    bad = np.argwhere(np.abs(U) > big)
    if bad.size:
        r, c = bad[0]
        raise DataError(f"--input {name}: row {r + 1} of the data, column {names[c]}, holds {U[r, c]:g}, beyond "
                        f"the range of {np.dtype(dtype).name} (+-{big:.4g}) that the model computes in")


def read_inputs(path) -> tuple[np.ndarray, tuple[str, ...]]:
    """The numeric columns of a CSV file (L, E) and their names: the columns whose first
    data cell is a number (a time or label column is left out), read by load_table."""
    from .datasets import load_table

    table = load_table(path, None, (), None, require_target=False)  # the file's own checks
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = (r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r))
    header, first = next(rows), next(rows)
    names = tuple(h.strip() for h, c in zip(header, first) if _number(c) and h.strip() != table.time_name)
    if not names:
        raise DataError(f"{Path(path).name}: no column holds numbers; the columns are {', '.join(header)}")
    return load_table(path, None, names, table.time_name, require_target=False).inputs, names


def _number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell.strip()))
    except ValueError:
        return False


def analyze_model(rnn, U: np.ndarray, *, k_max: int | None = None, seed: int = 0) -> dict:
    """:func:`elman.analysis.summary` of ``rnn`` driven by U (T, D) (what report.json
    holds), and the states that U drives (T+1, sum of the M_j) for the fixed-point plot."""
    from . import analysis

    report = analysis.summary(rnn, U, k_max=k_max, seed=seed)
    with np.errstate(over="ignore", invalid="ignore"):
        states = rnn.run(U[None].astype(rnn.dtype)).states  # a stack: one array per layer, concatenated
    states = np.concatenate(states, axis=-1)[0] if isinstance(states, tuple) else states[0]
    return {"report": report, "states": states.astype(np.float64)}


def _fmt(v, spec: str = ".4f") -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x, spec) for x in v) + " (per layer)"
    return "n/a" if v is None else format(int(v) if spec == "d" else float(v), spec)


def _yes(v) -> str:
    return "n/a" if v is None else "yes" if v else "no"


def report_lines(path, rep: dict) -> list[str]:
    """The text report of a summary: one line per measure, then the fixed points."""
    m, src, es = rep["model"], rep["input"], rep["echo_state"]
    M = sum(m["state_dims"])
    drive = (f"i.i.d. uniform noise on [-1, 1], {src['steps']} steps (seed {src['seed']})" if src["kind"] == "noise"
             else f"{Path(src['file']).name} ({', '.join(src['columns'])}), {src['steps']} steps")
    lines = [
        f"{path}: {m['type']}, D = {m['input_dim']}, M = {M}, {', '.join(m['activations'])}",
        f"driven by {drive}",
        f"spectral radius of A   {_fmt(rep['spectral_radius'])}",
        f"Lipschitz bound        {_fmt(rep['lipschitz_bound'])}   (Lip(s) x ||A||_2; below 1 the echo state "
        "property is guaranteed)",
        f"controllability rank   {_fmt(rep['controllability_rank'], 'd')} of M = {M}",
    ]
    if es is not None:
        how = ("the states overflow" if es["final_distance"] is None else
               f"{es['starts']} initial states at most {es['final_distance']:.2e} apart after {es['steps']} steps, "
               f"rate {_fmt(es['rate'])} per step")
        lines.insert(4, f"echo state property    sufficient condition: {_yes(es['sufficient'])}; empirical: "
                        f"{_yes(es['empirical'])} ({how})")
    lines += [_memory_line(rep["memory_capacity"]), _lyapunov_line(rep)]
    lines += _fixed_point_lines(rep["fixed_points"])
    return lines + [f"note: {n}" for n in rep["notes"]]


def _memory_line(mc) -> str:
    if mc is None:
        return "memory capacity        not measured (see the note)"
    return (f"memory capacity        {mc['total']:.3f} over lags 1..{mc['k_max']}, {_fmt(mc['total_from_lag0'], '.3f')} "
            f"with lag 0 (i.i.d. input); Krylov rank {mc['krylov_rank']} (a linear network's capacity from lag 0)")


def _no_exponents(rep: dict) -> bool:
    """No Lyapunov exponents (the states overflowed: a note says so); otherwise an
    exponent written as null is -inf (s' = 0 collapsed a direction: relu)."""
    return rep["lyapunov"] is None or any(n.startswith("lyapunov:") for n in rep["notes"])


def _lyapunov_line(rep: dict) -> str:
    if _no_exponents(rep):
        return "Lyapunov exponents     not computed (see the note)"
    lam = ["-inf" if v is None else f"{v:.4f}" for v in rep["lyapunov"]["exponents"]]
    more = f", ... ({len(lam)} in all)" if len(lam) > SHOWN else ""
    return f"Lyapunov exponents     {', '.join(lam[:SHOWN])}{more}   ({rep['lyapunov']['units']})"


def _fixed_point_lines(fp) -> list[str]:
    if fp is None:
        return ["fixed points at u = 0  not searched (see the note)"]
    counts = ", ".join(f"{n} {k}" for k, n in fp["counts"].items()) or "none"
    lines = [f"fixed points at u = 0  {fp['count']}: {counts}",
             f"                       (found from {fp['starts']} starts; a multi-start search can miss points)"]
    if fp["points"]:
        lines.append(f"   {'#':>3s}  {'label':8s} {'residual q':>11s} {'|z|':>8s} {'max |eig|':>10s}")
    for i, p in enumerate(fp["points"][:SHOWN_POINTS], 1):
        lines.append(f"   {i:3d}  {p['label']:8s} {p['q']:11.2e} {np.linalg.norm(p['z']):8.4f} "
                     f"{_fmt(p['max_abs_eigenvalue']):>10s}")
    if len(fp["points"]) > SHOWN_POINTS:
        lines.append(f"   ... {len(fp['points']) - SHOWN_POINTS} more in report.json")
    return lines


def strict_json(obj) -> str:
    """Strict JSON: NaN and infinity (which JSON does not have) are written as null."""
    def clean(v):
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple, np.ndarray)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), indent=2, allow_nan=False) + "\n"


def draw(folder: Path, rnn, rep: dict, states: np.ndarray) -> None:
    """The four plots of a summary into ``folder`` (a measure that was not made: the
    note saying why, as text)."""
    from types import SimpleNamespace

    from . import plot

    layers = getattr(rnn, "layers", [rnn])
    with plot.figure_file(folder / "eigenvalues.png", figsize=(5, 5)) as ax:
        if len(layers) == 1:
            plot.eigenvalues(layers[0].A, ax=ax)
        else:
            layer_eigenvalues([l.A for l in layers], ax=ax)
    with np.errstate(invalid="ignore"):  # the states below 1e100 (an exploding run: its start)
        shown = states[np.abs(states).max(axis=1) < 1e100]
    fp, mc, ly = rep["fixed_points"], rep["memory_capacity"], rep["lyapunov"]
    exponents = None if _no_exponents(rep) else [-np.inf if v is None else v for v in ly["exponents"]]
    plots = {
        "fixed_points.png": (plot.fixed_points_pca, None if fp is None or len(shown) < 2 else (
            shown, SimpleNamespace(z=np.array([p["z"] for p in fp["points"]]).reshape(-1, states.shape[1]),
                                   labels=tuple(p["label"] for p in fp["points"]))), (6, 5)),
        "memory.png": (plot.memory_curve, None if mc is None else (SimpleNamespace(
            **{**mc, "lag0": np.nan if mc["lag0"] is None else mc["lag0"]}),), (7, 4)),
        "lyapunov.png": (plot.lyapunov_spectrum, None if exponents is None else (exponents,), (7, 4)),
    }
    for name, (fn, data, size) in plots.items():
        with plot.figure_file(folder / name, figsize=size) as ax:
            if data is not None:
                fn(*data, ax=ax)
            else:
                why = "; ".join(rep["notes"]) or "the states overflow at once"
                ax.text(0.5, 0.5, "\n".join(textwrap.wrap(f"not measured: {why}", 60)),
                        transform=ax.transAxes, ha="center", va="center")
