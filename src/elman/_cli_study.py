"""``elman study``: its options and what it prints (the command line only parses and
calls :func:`elman.study.sweep` and :func:`elman.plot.error_vs_state_dim`)."""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

from ._cli_forecast import natural
from ._study_targets import TARGETS

__all__ = ["add_study", "cmd_study"]


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    for n in names:
        if n not in TARGETS:
            raise argparse.ArgumentTypeError(f"{n!r} is not a target; expected {', '.join(TARGETS)} "
                                             "(several joined by commas)")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r} names a target twice")
    return names


def _dims(text: str) -> tuple[int, ...]:
    parse = natural(1, 4096)
    dims = tuple(parse(d) for d in text.split(","))
    if len(set(dims)) != len(dims):
        raise argparse.ArgumentTypeError(f"{text!r} repeats a state size")
    return dims


def add_study(sub) -> None:
    s = sub.add_parser("study", help="how large must the state be? train at several state sizes M and seeds "
                       "on a Dask cluster, tabulate and plot the errors")
    s.add_argument("--target", type=_names, default=("memory-sum",),
                   help=f"{', '.join(TARGETS)}; several joined by commas (default memory-sum)")
    s.add_argument("--state-dims", type=_dims, default=(1, 2, 4, 8), help="state sizes M, e.g. 1,2,4,8 (the default)")
    s.add_argument("--seeds", type=natural(1, 10**6), default=3, help="seeds per state size: 0 .. n-1 (default 3)")
    s.add_argument("--epochs", type=natural(1), default=100, help="epochs of each training (default 100)")
    s.add_argument("--learning-rate", type=float, help="Adam's learning rate (default: the target's)")
    s.add_argument("--batch-size", type=natural(1), help="default: the target's")
    s.add_argument("--activation", help="default: the target's (linear for memory-sum, linear-filter, sine)")
    s.add_argument("--m", type=natural(0, 1000), help="memory-sum: how many past values are summed (default 2)")
    s.add_argument("--out", default="study-out", help="folder for cells/*.json, results.csv, error_vs_state.png "
                   "(default study-out); a rerun into it resumes")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: a "
                       "local cluster)")
    where.add_argument("--workers", type=natural(1, 4096), help="local cluster: this many worker processes "
                       "(default: one per core)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("plot", nargs="*", metavar="plot DIR",
                   help="`elman study plot DIR`: draw DIR/error_vs_state.png again from DIR/results.csv")
    s.set_defaults(func=cmd_study)


def _summary(rows: list[dict]) -> None:
    """Per target and M: the median test NRMSE over the seeds, and its range."""
    by: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        by.setdefault(r["target"], {}).setdefault(r["M"], []).append(r["test_nrmse"])
    for target, cells in by.items():
        print(f"\n{target}: test NRMSE over the seeds")
        print(f"{'M':>6s}{'median':>12s}{'min':>12s}{'max':>12s}{'seeds':>7s}")
        for M, v in sorted(cells.items()):
            ok = sorted(x for x in v if x is not None and not math.isnan(x))  # None: diverged
            med = (ok[(len(ok) - 1) // 2] + ok[len(ok) // 2]) / 2 if ok else math.nan
            lo, hi = (ok[0], ok[-1]) if ok else (math.nan, math.nan)
            print(f"{M:6d}{med:12.4g}{lo:12.4g}{hi:12.4g}{len(v):7d}" + ("" if len(ok) == len(v) else
                                                                           f"  ({len(v) - len(ok)} diverged)"))
        refs = [r["minimal_M"] for r in rows if r["target"] == target and r["minimal_M"] is not None]
        refs = [v for v in refs if v == v]  # a DataFrame holds NaN where there is none
        if refs:
            print(f"closed form: minimal M = {int(refs[0])}")


def _plot(rows, path: Path) -> None:
    """error_vs_state.png, written beside a temporary name and renamed into place."""
    from .plot import error_vs_state_dim, figure_file

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        with figure_file(tmp, figsize=(7, 4.5)) as ax:
            error_vs_state_dim(rows, ax=ax)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _replot(words: list[str]) -> int:
    """``elman study plot DIR``: the figure of a finished (or partial) study, again."""
    from .errors import DataFileError, ParameterError

    if len(words) != 2 or words[0] != "plot":
        raise ParameterError(f"unexpected arguments {' '.join(words)!r}; the only subcommand is `elman study plot DIR`")
    folder = Path(words[1])
    if not (folder / "results.csv").is_file():
        raise DataFileError(f"{str(folder / 'results.csv')!r} does not exist; expected the folder an elman study wrote")
    _plot(str(folder / "results.csv"), folder / "error_vs_state.png")
    print(f"{folder / 'error_vs_state.png'} drawn from {folder / 'results.csv'}")
    return 0


def cmd_study(args) -> int:
    from .errors import ParameterError
    from .study import make_target, sweep

    if args.plot:
        return _replot(args.plot)
    if args.m is not None and "memory-sum" not in args.target:
        raise ParameterError("--m is the memory-sum's number of past values; give --target memory-sum with it")
    targets = [make_target(n, m=args.m) if n == "memory-sum" and args.m is not None else n for n in args.target]
    t0 = time.perf_counter()
    table = sweep(targets, args.state_dims, args.seeds, epochs=args.epochs, learning_rate=args.learning_rate,
                  batch_size=args.batch_size, activation=args.activation, out=args.out, client=args.scheduler,
                  workers=args.workers, verbose=0 if args.quiet else 1)
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    out = Path(args.out)
    _plot(rows, out / "error_vs_state.png")
    _summary(rows)
    where = f"the scheduler at {args.scheduler}" if args.scheduler else "a local cluster"
    print(f"\n{len(rows)} cells on {where}; time {time.perf_counter() - t0:.1f} s; written to {out}/ "
          "(cells/, results.csv, error_vs_state.png)")
    return 0
