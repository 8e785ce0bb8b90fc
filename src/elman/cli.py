"""The command line: ``elman demo | train | forecast | verify | inspect | analyze | study | export | convert``. It parses and calls the library.

Exit codes: 0 success, 1 a check that failed, 2 bad input (one line on stderr,
no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


from ._cli_analyze import add_analyze
from ._cli_forecast import add_forecast, add_train, natural
from ._cli_study import add_study
from .errors import ElmanError, one_line
from .io import is_model_file
from .workflow import ENGINES

__all__ = ["main"]


def _is_npz(p: Path) -> bool:
    """An elman model file: named .npz (any case), or one saved under another suffix."""
    return p.suffix.lower() == ".npz" or (p.suffix.lower() not in (".keras", ".h5") and is_model_file(p))


def _load_any(path: str):
    """An elman model from a .keras file (via Keras) or an .npz written by elman."""
    from .errors import ModelFileError

    p = Path(path)
    if _is_npz(p):
        from .io import load

        return load(p), None
    if p.suffix.lower() in (".keras", ".h5") or not p.exists() or p.is_dir():
        from .keras import from_keras, load_keras_model

        model = load_keras_model(p)
        return from_keras(model), model
    raise ModelFileError(f"{path!r} is neither a .keras nor an .npz model file")


def _cmd_verify(args) -> int:
    from .keras import load_keras_model, to_keras, verify_keras

    if _is_npz(Path(args.model)):
        # An elman model: build the Keras model with its weights and compare the two.
        from .io import load

        model = to_keras(load(args.model))
    else:
        model = load_keras_model(args.model)
    report = verify_keras(model, n_samples=args.samples, n_steps=args.steps, seed=args.seed)
    print(report)
    return 0 if report.passed else 1


def _cmd_inspect(args) -> int:
    from .keras import stateful_layers
    from .model import StackedRNN

    rnn, kmodel = _load_any(args.model)
    layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
    print(f"{args.model}: {type(rnn).__name__}, {rnn.dtype.name}")
    print(f"  D (input_dim)  = {rnn.input_dim}")
    print(f"  M (state_dim)  = {', '.join(str(l.state_dim) for l in layers)}")
    print(f"  K (output_dim) = {rnn.output_dim}")
    print(f"  return_sequences = {rnn.return_sequences}")
    if kmodel is not None:
        print(f"  stateful = {bool(stateful_layers(kmodel))}")
    for j, l in enumerate(layers):
        tag = f"layer {j}: " if len(layers) > 1 else ""
        print(f"  {tag}z' = {l.activation}(A z + B u + b)" + ("   [go_backwards]" if l.go_backwards else ""))
        print(f"    A {l.A.shape}  B {l.B.shape}  b {l.b.shape}  spectral radius of A = {l.spectral_radius():.4f}")
    if rnn.C is None:
        print(f"  readout: none (y = {rnn.output_activation}(z))")
    else:
        print(f"  readout: y = {rnn.output_activation}(C z + d)   C {rnn.C.shape}  d {rnn.d.shape}")
    _print_run(args.model)
    return 0


def _print_run(path: str) -> None:
    """The settings of an elman train run saved beside the model (none for a bare model)."""
    from .io import is_model_file, load_metadata

    if not is_model_file(path):
        return
    extra = load_metadata(path).get("extra") or {}
    if "scaler" not in extra or "steps" not in extra:
        return
    from .runs import Run
    from .timeindex import Step

    run = Run.from_meta(None, extra)
    print(f"  run: target {run.target or '(the series)'}" + (f", inputs {', '.join(run.inputs)}" if run.inputs else "")
          + (f", time column {run.time['name']} ({Step(run.time['unit'], run.time['n']).name})" if run.time else ""))
    print(f"    windows of {run.steps} (stride {run.stride}), horizon {run.horizon}, season {run.season}, "
          f"transforms {run.transforms.spec or 'none'}")
    fitted_on = "the whole series" if run.notes.get("scale_on") == "all" else "the training part"
    print(f"    scaler min {np.asarray(run.scaler.min_).tolist()} max {np.asarray(run.scaler.max_).tolist()} "
          f"(fitted on {fitted_on})")
    if run.interval:
        print(f"    {run.interval['level']:.0%} intervals calibrated on {run.interval.get('n_calibration')} validation targets")


def _cmd_export(args) -> int:
    from .codegen import export
    from .convert import read_model

    rnn = read_model(args.model)
    files = export(rnn, args.out, language=args.to, dtype=args.dtype)
    print(f"{args.model} -> {', '.join(str(f) for f in files)} ({args.to}, {args.dtype or rnn.dtype.name})")
    return 0


def _cmd_convert(args) -> int:
    from .convert import convert

    out = convert(args.input, args.output)
    print(f"{args.input} -> {out}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(epochs=args.epochs, seed=args.seed, out=args.out)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="elman", description="Simple (Elman) recurrent networks: z' = s(Az + Bu + b), y = g(Cz + d).")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the tour: sine model in Keras -> NumPy, sunspots trained by elman and Keras")
    d.add_argument("--out", default="demo-out", help="folder for the plots (default demo-out)")
    d.add_argument("--epochs", type=natural(1), default=100, help="epochs of the sine model (default 100)")
    d.add_argument("--seed", type=natural(0, 2**32 - 1), default=0)
    d.set_defaults(func=_cmd_demo)
    add_train(sub, ENGINES)
    add_forecast(sub)
    add_analyze(sub)
    add_study(sub)
    v = sub.add_parser("verify", help="check that elman reproduces a saved Keras model's predict")
    v.add_argument("model", help="a .keras file, or an elman .npz (compared with Keras built from it)")
    v.add_argument("--samples", type=natural(1), default=32)
    v.add_argument("--steps", type=natural(1), default=16)
    v.add_argument("--seed", type=natural(0, 2**32 - 1), default=0)
    v.set_defaults(func=_cmd_verify)
    i = sub.add_parser("inspect", help="print D, M, K, activations, shapes and the spectral radius of A")
    i.add_argument("model", help="a .keras or .npz file")
    i.set_defaults(func=_cmd_inspect)
    e = sub.add_parser("export", help="write the model as standalone Python, NumPy or C code (weights inline)")
    e.add_argument("model", help="a .keras, .npz, .pt or .onnx model file")
    e.add_argument("--to", choices=["python", "numpy", "c"], default="python",
                   help="python (math only), numpy, or c (C99: a .h and a .c; default python)")
    e.add_argument("--out", required=True, help="the file to write (C: the .c file; its .h goes beside it)")
    e.add_argument("--dtype", choices=["float32", "float64"], default=None,
                   help="precision of the generated code (C: float or double; default the model's own)")
    e.set_defaults(func=_cmd_export)
    c = sub.add_parser("convert", help="convert a model file by the suffixes: .keras, .npz, .pt, .onnx")
    c.add_argument("input", help="a .keras, .h5, .npz, .pt or .onnx model file")
    c.add_argument("output", help="the file to write: .keras, .npz, .pt or .onnx")
    c.set_defaults(func=_cmd_convert)
    return p


class _BadOption(Exception):
    """A command-line option argparse refused (main prints it on one line, exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # bad options: one line, exit 2 (argparse's own convention)
        raise _BadOption(f"{self.prog}: error: {message}")


def _quiet_environment(debug: bool) -> None:
    """Only elman's own output unless --debug: TensorFlow's C++ start-up lines (oneDNN,
    CUDA lookups) are silenced before TensorFlow is imported; plots go to files."""
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")  # files only, never a window
    if not debug:
        import logging

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # Without a writable HOME matplotlib caches its fonts in a temporary folder, and
        # says so at length; the plots are the same.
        logging.getLogger("matplotlib").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 success, 1 a failed check, 2 bad input or an output that cannot be
    written (one line on stderr), 130 interrupted, 141 the reader of stdout went away."""
    try:
        args = _parser().parse_args(argv)
    except _BadOption as exc:
        print(exc, file=sys.stderr)
        return 2
    _quiet_environment(args.debug)
    try:
        return args.func(args)
    except BrokenPipeError:
        raise  # the reader of stdout went away: not an error of the run (see run())
    except (ElmanError, OSError, MemoryError) as exc:
        if args.debug:
            raise
        text = one_line(exc) or type(exc).__name__
        if isinstance(exc, MemoryError):
            text = (f"out of memory ({text}); use a smaller model or less data "
                    "(--hidden, --batch-size, --steps)")
        print(f"elman {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"elman {args.command}: interrupted", file=sys.stderr)
        return 130


def run() -> int:
    """The console entry point: :func:`main`, and a reader of stdout that closes early
    (``elman inspect m.npz | head -1``) ends the run quietly instead of a traceback."""
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        import os

        # Python would report the failed flush at exit; point stdout at nothing first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
