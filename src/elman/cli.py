"""The command line: ``elman demo | verify | inspect``. It parses and calls the library.

Exit codes: 0 success, 1 a check that failed, 2 bad input (one line on stderr,
no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .errors import ElmanError

__all__ = ["main"]


def _load_any(path: str):
    """An elman model from a .keras file (via Keras) or an .npz written by elman."""
    from .errors import ModelFileError

    p = Path(path)
    if p.suffix == ".npz":
        from .io import load

        return load(p), None
    if p.suffix in (".keras", ".h5") or not p.exists():
        from .keras import from_keras, load_keras_model

        model = load_keras_model(p)
        return from_keras(model), model
    raise ModelFileError(f"{path!r} is neither a .keras nor an .npz model file")


def _cmd_verify(args) -> int:
    from .keras import load_keras_model, verify_keras

    report = verify_keras(load_keras_model(args.model), n_samples=args.samples, n_steps=args.steps, seed=args.seed)
    print(report)
    return 0 if report.passed else 1


def _cmd_inspect(args) -> int:
    from .keras import _stateful_layers
    from .model import StackedRNN

    rnn, kmodel = _load_any(args.model)
    layers = rnn.layers if isinstance(rnn, StackedRNN) else [rnn]
    print(f"{args.model}: {type(rnn).__name__}, {rnn.dtype.name}")
    print(f"  D (input_dim)  = {rnn.input_dim}")
    print(f"  M (state_dim)  = {', '.join(str(l.state_dim) for l in layers)}")
    print(f"  K (output_dim) = {rnn.output_dim}")
    print(f"  return_sequences = {rnn.return_sequences}")
    if kmodel is not None:
        print(f"  stateful = {bool(_stateful_layers(kmodel))}")
    for j, l in enumerate(layers):
        tag = f"layer {j}: " if len(layers) > 1 else ""
        print(f"  {tag}z' = {l.activation}(A z + B u + b)" + ("   [go_backwards]" if l.go_backwards else ""))
        print(f"    A {l.A.shape}  B {l.B.shape}  b {l.b.shape}  spectral radius of A = {l.spectral_radius():.4f}")
    if rnn.C is None:
        print(f"  readout: none (y = {rnn.output_activation}(z))")
    else:
        print(f"  readout: y = {rnn.output_activation}(C z + d)   C {rnn.C.shape}  d {rnn.d.shape}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(epochs=args.epochs, seed=args.seed)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="elman", description="Simple (Elman) recurrent networks: z' = s(Az + Bu + b), y = g(Cz + d).")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train the sine model in Keras and reproduce it in NumPy")
    d.add_argument("--epochs", type=int, default=100)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_demo)
    v = sub.add_parser("verify", help="check that elman reproduces a saved Keras model's predict")
    v.add_argument("model", help="a .keras file")
    v.add_argument("--samples", type=int, default=32)
    v.add_argument("--steps", type=int, default=16)
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=_cmd_verify)
    i = sub.add_parser("inspect", help="print D, M, K, activations, shapes and the spectral radius of A")
    i.add_argument("model", help="a .keras or .npz file")
    i.set_defaults(func=_cmd_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ElmanError as exc:
        if args.debug:
            raise
        print(f"elman {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
