"""Studies: how large must the state be? Train the network at several state sizes M,
several seeds each, on named targets, and tabulate the errors.

``sweep(target, state_dims, seeds, epochs=...)`` runs one training per cell (target, M,
seed) on Dask (``dask.distributed``): a local cluster of processes by default, or any
cluster through its ``Client`` or scheduler address. Nothing here schedules: each cell is
one ``client.submit`` of :func:`train_cell`, a pure function of its settings.

- Deterministic per cell wherever it runs: the model's initial weights and the order of
  the batches come from ``numpy.random.SeedSequence([crc32(target label), M, seed])``
  (never Python's ``hash``), and the target's data are fixed (see
  :mod:`elman._study_targets` for the targets, their closed forms and minimal M).
  Workers of a LocalCluster run NumPy's BLAS on one thread (Dask's default), so a
  1-worker and a 2-worker cluster give the same table.
- Resumable: with ``out``, each finished cell is written at once to
  ``out/cells/<target>-M<M>-s<seed>.json`` (a temporary file, then a rename); a cell whose
  file exists is read, not recomputed, so a study stopped half-way resumes where it
  stopped. A file written with other settings (epochs, learning rate, ...) is refused.

Each cell trains with :func:`elman.fit` (Adam, a fixed number of epochs) and keeps the
weights of the epoch with the lowest training loss (``best_epoch``); the validation
NRMSE is reported, not used.

NRMSE here is sqrt(MSE) / std(target) over the scored steps: the reservoir-computing
convention (EchoTorch's, with which NARMA10 results are compared), not
:func:`elman.metrics.nrmse` (which divides by the range).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

from . import _study_dask, _study_targets
from ._study_dask import CONNECT_TIMEOUT, connect, local_cluster
from ._study_targets import TARGETS, Target, make_target
from .errors import DivergenceWarning, ParameterError, as_path
from .io import write_text
from .model import ElmanRNN
from .train import fit
from .validation import _brief, _count

__all__ = ["sweep", "train_cell", "make_target", "Target", "TARGETS", "COLUMNS", "local_cluster", "connect",
           "write_csv"]

#: The columns of a study's table, in order.
COLUMNS = ("target", "M", "seed", "train_nrmse", "validation_nrmse", "test_nrmse", "epochs", "epochs_run",
           "best_epoch", "seconds", "activation", "learning_rate", "batch_size", "engine", "minimal_M", "stopped")
CELL_FORMAT = "elman-study-cell"


# --------------------------------------------------------------------------- one cell


def _cell_seeds(label: str, M: int, seed: int) -> tuple[int, int]:
    """(init seed, fit seed) of a cell: stable across processes, machines and Python
    versions (crc32 of the label, not hash(), which is salted per process)."""
    ss = np.random.SeedSequence([zlib.crc32(label.encode("utf-8")), M, seed])
    a, b = ss.generate_state(2)
    return int(a), int(b)


def train_cell(spec: dict) -> dict:
    """Train one cell and return its row: the pure function each Dask task runs.

    spec: {"target", "params", "M", "seed", "epochs", "learning_rate", "batch_size",
    "activation", "engine"} as :func:`sweep` builds it (every value explicit).
    """
    t0 = time.perf_counter()
    target = Target(spec["target"], json.dumps(spec["params"], sort_keys=True))
    task = target.task()
    M, seed = spec["M"], spec["seed"]
    init_seed, fit_seed = _cell_seeds(target.label, M, seed)
    tr = task.train
    net = ElmanRNN.init(tr.U.shape[2], M, tr.Y.shape[2], activation=spec["activation"], return_sequences=True,
                        seed=init_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # recorded in the row ("stopped")
        # The weights of the epoch with the lowest training loss: a late spike of the loss
        # (exploding gradients, common at large M) does not decide the result, and neither
        # the validation nor the test data choose anything.
        r = fit(net, tr.U, tr.Y, sample_weight=tr.W, epochs=spec["epochs"], batch_size=spec["batch_size"],
                learning_rate=spec["learning_rate"], seed=fit_seed, engine=spec["engine"], verbose=0,
                restore_best_weights=True)
    errors = {}
    with np.errstate(all="ignore"):
        for part in ("train", "validation", "test"):
            split = getattr(task, part)
            errors[f"{part}_nrmse"] = _study_targets.nrmse(split, r.model.predict(split.U))
    return {"target": target.label, "M": M, "seed": seed, **errors, "epochs": spec["epochs"],
            "epochs_run": len(r.history["loss"]), "best_epoch": r.best_epoch, "seconds": time.perf_counter() - t0,
            "activation": spec["activation"], "learning_rate": spec["learning_rate"],
            "batch_size": spec["batch_size"], "engine": r.engine,
            "minimal_M": task.minimal_M if spec["activation"] == "linear" else None, "stopped": r.message}


# --------------------------------------------------------------------------- the grid


def _targets(target) -> list[Target]:
    items = [target] if isinstance(target, (str, Target)) else target
    try:
        items = list(items)
    except TypeError:
        raise ParameterError(f"target must be a name ({', '.join(TARGETS)}), a Target or a list of them, "
                             f"got {_brief(target)}") from None
    if not items:
        raise ParameterError("target is empty; expected at least one target")
    return [make_target(t) for t in items]  # a Target is checked again (it may be built by hand)


def _ints(values, name: str, low: int) -> list[int]:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = [values]
    try:
        out = [_count(v, f"each of {name}", low=low) for v in values]
    except TypeError:
        raise ParameterError(f"{name} must be a list of integers, got {_brief(values)}") from None
    if not out:
        raise ParameterError(f"{name} is empty; expected at least one")
    if len(set(out)) != len(out):
        raise ParameterError(f"{name} repeats a value ({out}); expected distinct values")
    return out


def _seed_list(seeds) -> list[int]:
    """seeds: a count n (the seeds 0 .. n-1) or a list of seeds >= 0."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return list(range(_count(seeds, "seeds")))
    return _ints(seeds, "seeds", 0)


def _specs(targets, dims, seeds, epochs, learning_rate, batch_size, activation, engine) -> list[dict]:
    specs = []
    for t in targets:
        task = t.task()  # built once here too: a bad target fails before any cluster starts
        for M in dims:
            for seed in seeds:
                specs.append({
                    "target": t.name, "params": t.params, "M": M, "seed": seed, "epochs": epochs,
                    "learning_rate": float(task.learning_rate if learning_rate is None else learning_rate),
                    "batch_size": task.batch_size if batch_size is None else batch_size,
                    "activation": task.activation if activation is None else activation, "engine": engine})
    return specs


def _cell_name(spec: dict) -> str:
    label = Target(spec["target"], json.dumps(spec["params"], sort_keys=True)).label
    return f"{label}-M{spec['M']}-s{spec['seed']}"


def _key(spec: dict) -> str:
    """The Dask key of a cell: its name and a digest of its settings (the same cell with
    other settings is another task)."""
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return f"elman-cell-{_cell_name(spec)}-{digest}"


# --------------------------------------------------------------------------- cell files


def _read_cell(path: Path, spec: dict) -> dict | None:
    """The row stored in ``path`` for ``spec``; None when there is none (or it cannot
    be read: it is then computed again). Settings other than ``spec``'s are refused."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != CELL_FORMAT or not isinstance(doc.get("row"), dict):
        return None
    if doc.get("spec") != spec:
        old = doc.get("spec") or {}
        diff = [k for k in spec if old.get(k) != spec[k]]
        shown = ", ".join(f"{k} {old.get(k)!r} there, {spec[k]!r} now" for k in diff[:3])
        raise ParameterError(f"{str(path)!r} holds this cell computed with other settings ({shown}); give "
                             "another output folder, or the same settings to resume that study")
    return doc["row"]


def _write_cell(path: Path, spec: dict, row: dict) -> None:
    write_text(path, json.dumps({"format": CELL_FORMAT, "spec": spec, "row": row}, indent=1) + "\n")


def write_csv(rows, path) -> None:
    """Write a study's rows (a list of dicts or a DataFrame) to ``path`` as CSV, in the
    order of :data:`COLUMNS`, atomically."""
    rows = _records(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_csv_value(r.get(c)) for c in COLUMNS])
    write_text(as_path(path), buf.getvalue())


def _csv_value(v):
    """A cell of results.csv: floats in full (repr), None and NaN (a DataFrame's None) empty."""
    if isinstance(v, (float, np.floating)):
        return "" if v != v else repr(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return "" if v is None else v


def _records(table) -> list[dict]:
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return table.to_dict("records")
    return [dict(r) for r in table]


def _table(rows: list[dict]):
    """A pandas DataFrame when pandas is installed, else the list of dicts."""
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def _run(client, todo: list[dict], folder: Path | None, done: dict, verbose: int) -> None:
    """Train the cells on ``client``, writing each one's file the moment it finishes."""

    def finished(spec: dict, row: dict) -> None:
        name = _cell_name(spec)
        if folder is not None:
            _write_cell(folder / f"{name}.json", spec, row)
        done[name] = row

    _study_dask.run(client, train_cell, todo, [_key(spec) for spec in todo], finished, verbose)


# --------------------------------------------------------------------------- the study


def _cells_folder(out) -> Path | None:
    if out is None:
        return None
    from .errors import OutputError

    folder = as_path(out) / "cells"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write the study folder {str(out)!r}: {exc.strerror or exc}") from None
    return folder


def _settings(epochs, learning_rate, batch_size, activation, engine) -> tuple:
    from . import activations
    from .train import ENGINES

    epochs = _count(epochs, "epochs")
    if learning_rate is not None and (isinstance(learning_rate, bool) or not isinstance(
            learning_rate, (int, float, np.integer, np.floating)) or not 0 < learning_rate < np.inf):
        raise ParameterError(f"learning_rate must be a positive number or None, got {_brief(learning_rate)}")
    batch_size = None if batch_size is None else _count(batch_size, "batch_size")
    activation = None if activation is None else activations.get(activation).name
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {_brief(engine)}")
    return epochs, learning_rate, batch_size, activation, engine


def sweep(target, state_dims, seeds, *, epochs: int = 100, learning_rate: float | None = None,
          batch_size: int | None = None, activation: str | None = None, engine: str = "auto", out=None,
          client=None, workers: int | None = None, verbose: int = 0, timeout: float = CONNECT_TIMEOUT):
    """Train every cell (target, M, seed) and return the table, one row per cell.

    target     : a name (see :data:`TARGETS`), a :func:`make_target` (e.g. memory-sum
                 with m=3), or a list of them.
    state_dims : the state sizes M, e.g. [1, 2, 4, 8].
    seeds      : a count n (seeds 0 .. n-1) or a list of seeds.
    epochs, learning_rate, batch_size, activation, engine : for :func:`elman.fit`
                 (None: the target's defaults; Adam; a fixed number of epochs).
    out        : a folder: each cell is written to out/cells/<target>-M<M>-s<seed>.json
                 the moment it finishes, cells found there are not recomputed, and the
                 table goes to out/results.csv at the end.
    client     : None (a LocalCluster of ``workers`` processes, default one per core,
                 started and stopped here), a ``distributed.Client`` (used, left open),
                 or a scheduler address (connected within ``timeout`` seconds).
    verbose    : 1 shows a progress bar of the cells.

    Returns a pandas DataFrame if pandas is installed, else a list of dicts, with the
    columns :data:`COLUMNS`, in the order target, M, seed.
    """
    targets = _targets(target)
    labels = [t.label for t in targets]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"target names a target twice ({', '.join(labels)})")
    dims, seed_list = _ints(state_dims, "state_dims", 1), _seed_list(seeds)
    specs = _specs(targets, dims, seed_list, *_settings(epochs, learning_rate, batch_size, activation, engine))
    folder = _cells_folder(out)
    done: dict[str, dict] = {}
    todo = []
    for spec in specs:
        row = None if folder is None else _read_cell(folder / f"{_cell_name(spec)}.json", spec)
        if row is None:
            todo.append(spec)
        else:
            done[_cell_name(spec)] = row
    if verbose and done:
        print(f"{len(done)} of {len(specs)} cells already in {folder}; computing {len(todo)}")
    if todo:
        with _study_dask.client_for(client, workers, timeout) as c:
            _run(c, todo, folder, done, verbose)
    rows = [done[_cell_name(s)] for s in specs]
    if folder is not None:
        write_csv(rows, folder.parent / "results.csv")
    return _table(rows)
