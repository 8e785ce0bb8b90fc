"""elman.study: sweeps of trainings over (target, M, seed) on Dask, and `elman study`.

Every cluster here is a LocalCluster on 127.0.0.1 that the test starts and closes (a
context manager); nothing reaches the network.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

import distributed  # noqa: E402

from elman import _study_targets, cli, datasets, study  # noqa: E402
from elman.errors import ParameterError  # noqa: E402
from elman.plot import error_vs_state_dim  # noqa: E402
from test_cli_train import assert_png_not_blank  # noqa: E402

# memory-sum with m = 2: a linear network, 300 epochs of Adam at 0.02 (about 0.2 s a cell)
MEMORY = dict(epochs=300, learning_rate=0.02)


@pytest.fixture(scope="module")
def cluster2():
    """A LocalCluster of two worker processes, shared by this module's tests."""
    with study.local_cluster(2) as client:
        yield client


def records(table) -> list[dict]:
    """The rows as dicts, from a DataFrame too (where None became NaN: None again)."""
    if not hasattr(table, "to_dict"):
        return list(table)
    return [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()}
            for r in table.to_dict("records")]


def medians(rows, key="test_nrmse") -> dict[int, float]:
    by: dict[int, list[float]] = {}
    for r in rows:
        by.setdefault(r["M"], []).append(r[key])
    return {M: float(np.median(v)) for M, v in by.items()}


def without_time(rows) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


# --------------------------------------------------------------------------- acceptance


def test_memory_sum_with_m_2_needs_3_states(cluster2):
    """The notebook's finding as a curve: the median test error over 3 seeds drops by at
    least 100x from M = 2 to M = 3 = m + 1, and not before (M = 1 -> 2)."""
    rows = records(study.sweep(study.make_target("memory-sum", m=2), [1, 2, 3, 4], 3, client=cluster2, **MEMORY))
    assert [(r["M"], r["seed"]) for r in rows] == [(M, s) for M in (1, 2, 3, 4) for s in (0, 1, 2)]
    med = medians(rows)
    assert med[2] >= 100 * med[3], med
    assert med[1] < 10 * med[2], med  # one state more than 1 is not what helps
    assert med[4] < 1e-3 and all(r["minimal_M"] == 3 and r["target"] == "memory-sum-m2" for r in rows)


def test_a_stopped_study_resumes_with_only_the_missing_cells(cluster2, tmp_path):
    """A study stopped after half its cells, run again, trains only the other half.

    The stop is simulated: the first run is a sweep over half of the grid (seed 0 of
    seeds 0 and 1), which leaves exactly the files a study killed after those cells
    leaves (each cell's file is written, atomically, when it finishes). The trainings of
    the second run are counted by Dask itself: every task that ran on the cluster during
    it (distributed.get_task_stream); the first run's files must stay untouched.
    """
    grid = dict(out=tmp_path, client=cluster2, **MEMORY)
    target = study.make_target("memory-sum", m=1)
    study.sweep(target, [1, 2, 3], [0], **grid)
    cells = tmp_path / "cells"
    first = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cells.iterdir()}
    assert sorted(first) == [f"memory-sum-m1-M{M}-s0.json" for M in (1, 2, 3)]
    with distributed.get_task_stream(cluster2) as ts:
        rows = records(study.sweep(target, [1, 2, 3], [0, 1], **grid))
    # a cell's key: elman-cell-<target>-M<M>-s<seed>-<digest of its settings>
    ran = sorted(str(t["key"])[len("elman-cell-"):].rsplit("-", 1)[0] for t in ts.data)
    assert ran == [f"memory-sum-m1-M{M}-s1" for M in (1, 2, 3)]  # the 3 missing cells, once each
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cells.iterdir() if p.name in first} == first
    assert len(list(cells.iterdir())) == 6 and len(rows) == 6
    with distributed.get_task_stream(cluster2) as ts:
        again = records(study.sweep(target, [1, 2, 3], [0, 1], **grid))
    assert not ts.data and again == rows  # all 6 read back: nothing trained, the same table
    with open(tmp_path / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 6


def test_one_and_two_workers_give_the_same_table(cluster2):
    """Deterministic per cell wherever it runs: a local cluster of 1 worker (started by
    sweep) and the 2-worker cluster, on both training engines (the compiled kernel for
    small M, BLAS for M = 40 at batch 8)."""
    grid = (["memory-sum", "narma10"], [2, 40], [0, 1])
    one = records(study.sweep(*grid, epochs=3, workers=1))
    two = records(study.sweep(*grid, epochs=3, client=cluster2))
    assert {r["engine"] for r in one} == {"c", "blas"}
    assert without_time(one) == without_time(two)
    assert all(r["seconds"] > 0 for r in one + two)


def _listener(kind: str):
    """A server on 127.0.0.1 that is not a Dask scheduler: "silent" accepts and never
    answers; "http" answers every connection with an HTTP error (bytes that Dask would
    read as a frame length of exabytes). Returns (address, stop)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    held = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            if kind == "http":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        server.close()
        for c in held:
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", stop.set


@pytest.mark.parametrize("kind", ["closed", "silent", "http"])
def test_bad_scheduler_address_fails_fast_with_one_line(tmp_path, kind):
    """No scheduler at the address: a closed port, a listener that never answers, or one
    that answers in another protocol. Exit 2 and one line on stderr in under 10 s (the
    stated bound: the whole connection has a 5 s deadline), whole process included."""
    address, stop = ("tcp://127.0.0.1:1", lambda: None) if kind == "closed" else _listener(kind)
    try:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "elman", "study", "--target", "memory-sum", "--state-dims", "1",
                               "--seeds", "1", "--epochs", "1", "--out", str(tmp_path / "o"),
                               "--scheduler", address], capture_output=True, text=True, timeout=60)
        elapsed = time.perf_counter() - t0
    finally:
        stop()
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("elman study: error: cannot reach a Dask scheduler"), lines
    assert address in lines[0] and "out of memory" not in lines[0]
    assert elapsed < 10, elapsed


def test_study_command_end_to_end(cluster2, tmp_path, capsys):
    """elman study on a tiny grid, on the test's cluster by --scheduler: cells, results.csv
    and a non-blank PNG; run again, it resumes (nothing recomputed, the same CSV)."""
    out = tmp_path / "study"
    args = ["study", "--target", "memory-sum", "--m", "1", "--state-dims", "1,2", "--seeds", "2", "--epochs", "40",
            "--out", str(out), "--scheduler", cluster2.scheduler.address, "--quiet"]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "memory-sum-m1: test NRMSE" in text and "minimal M = 2" in text and "time" in text
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(study.COLUMNS)
    assert [(r["M"], r["seed"]) for r in rows] == [("1", "0"), ("1", "1"), ("2", "0"), ("2", "1")]
    assert sorted(p.name for p in (out / "cells").iterdir()) == [f"memory-sum-m1-M{M}-s{s}.json"
                                                                 for M in (1, 2) for s in (0, 1)]
    assert_png_not_blank(out / "error_vs_state.png")
    before = (out / "results.csv").read_text()
    assert cli.main(args[:-1]) == 0  # with the progress line this time
    assert "4 of 4 cells already in" in capsys.readouterr().out
    assert (out / "results.csv").read_text() == before


# --------------------------------------------------------------------------- without a cluster


def test_memory_sum_target_is_the_sequence_read_as_a_filter():
    """Fed the memory_sum sequence, the target's rule outputs the sequence's next values."""
    for m, w, b in [(0, 1, 1), (1, 2, 3), (2, 1, 1), (3, 2, 0)]:
        x = datasets.memory_sum(12, weight=w, bias=b, mem_len=m)
        y = _study_targets.memory_sum_filter(x[None, :-1, None], m, w, b)[0, :, 0]
        np.testing.assert_array_equal(y, x[1:], err_msg=f"m={m}")


def test_cells_are_deterministic_and_their_seeds_stable(tmp_path):
    """train_cell twice gives the same row; the seeds come from crc32 and SeedSequence
    (pinned here: Python's salted hash() would change them in every process)."""
    assert study._cell_seeds("memory-sum-m2", 3, 0) == study._cell_seeds("memory-sum-m2", 3, 0)
    assert study._cell_seeds("memory-sum-m2", 3, 0) == (109749071, 1349872622)
    spec = study._specs([study.make_target("narma10")], [3], [0], 2, None, None, None, "auto")[0]
    a, b = study.train_cell(spec), study.train_cell(spec)
    assert without_time([a]) == without_time([b]) and a["epochs_run"] == 2
    assert set(a) == set(study.COLUMNS)
    json.loads(json.dumps(a, allow_nan=False))  # strict JSON (a diverged cell has None)


def test_every_target_builds_deterministic_splits():
    for name in study.TARGETS:
        target = study.make_target(name)
        spec = study.TARGETS[name]
        a, b = spec.build(target.params), spec.build(target.params)
        for part_a, part_b in zip(a, b):
            np.testing.assert_array_equal(part_a.U, part_b.U)
            np.testing.assert_array_equal(part_a.Y, part_b.Y)
            assert part_a.U.ndim == 3 and part_a.Y.shape[:2] == part_a.U.shape[:2]
            assert part_a.W is None or part_a.W.shape == part_a.U.shape[:2]
        assert target.label == ("memory-sum-m2" if name == "memory-sum" else name)
    assert study.make_target("linear-filter").task().minimal_M == 4
    assert study.make_target("linear-filter", h=[1, 0.5, 0]).task().minimal_M == 2


def test_bad_settings_fail_before_any_cluster_starts(tmp_path):
    bad = [
        (dict(target="narma11"), "target must be one of"),
        (dict(target=study.make_target("memory-sum", m=1), state_dims=[0]), "state_dims"),
        (dict(state_dims=[2, 2]), "repeats"),
        (dict(seeds=[-1]), "seeds"),
        (dict(epochs=0), "epochs"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(activation="nope"), "activation"),
        (dict(client=object()), "client"),
        (dict(workers=2, client="tcp://127.0.0.1:1"), "not both"),
    ]
    for change, message in bad:
        kw = dict(target="memory-sum", state_dims=[1], seeds=1, epochs=1) | change
        with pytest.raises(ValueError, match=message):  # ParameterError, UnknownActivationError
            study.sweep(kw.pop("target"), kw.pop("state_dims"), kw.pop("seeds"), **kw)
    with pytest.raises(ParameterError, match="has no parameter 'q'"):
        study.make_target("memory-sum", q=1)


def test_a_folder_of_other_settings_is_refused(tmp_path):
    spec = study._specs([study.make_target("memory-sum", m=1)], [1], [0], 5, None, None, None, "auto")[0]
    folder = tmp_path / "cells"
    folder.mkdir()
    study._write_cell(folder / "memory-sum-m1-M1-s0.json", spec, {"target": "memory-sum-m1"})
    with pytest.raises(ParameterError, match="other settings.*epochs 5 there, 6 now"):
        study.sweep(study.make_target("memory-sum", m=1), [1], [0], epochs=6, out=tmp_path)


def test_error_vs_state_dim_draws_medians_bands_and_the_minimal_M(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    rows = [{"target": "memory-sum-m2", "M": M, "seed": s, "test_nrmse": v, "minimal_M": 3}
            for M, vals in {1: (0.4, 0.41), 2: (0.24, 0.4), 3: (1e-8, 0.0), 4: (None, 1e-9)}.items()
            for s, v in enumerate(vals)]
    ax = error_vs_state_dim(rows)
    (curve,) = [line for line in ax.lines if len(line.get_xdata()) == 4]
    assert list(curve.get_xdata()) == [1, 2, 3, 4]
    assert list(curve.get_ydata()) == pytest.approx([0.405, 0.32, (1e-8 + 1e-16) / 2, 1e-9])
    assert [list(line.get_xdata()) for line in ax.lines if line.get_linestyle() == "--"] == [[3, 3]]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert not [line for line in error_vs_state_dim(rows, reference=False).lines if line.get_linestyle() == "--"]
    study.write_csv(rows, tmp_path / "r.csv")  # read back: strings, "" for None
    ax2 = error_vs_state_dim(tmp_path / "r.csv", spread="quartiles")
    assert len([line for line in ax2.lines if line.get_linestyle() == "--"]) == 1
    with pytest.raises(ParameterError, match="no column 'test_nrmse'"):
        error_vs_state_dim([{"target": "x", "M": 1}])


def test_a_dataframe_when_pandas_is_installed():
    pd = pytest.importorskip("pandas")
    table = study._table([{c: 1 for c in study.COLUMNS}])
    assert isinstance(table, pd.DataFrame) and list(table.columns) == list(study.COLUMNS)
    assert records(table) == [{c: 1 for c in study.COLUMNS}]


def test_the_guides_python_lines_run(tmp_path, monkeypatch):
    """docs/guide.md section 10's Python block, as printed (its own local cluster, one
    worker per core, started and closed by sweep)."""
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
    section = guide[guide.index("## 10. How large must the state be?"):]
    block = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(block, ns)
    med = medians(records(ns["table"]))
    assert med[2] >= 100 * med[3]
    assert (tmp_path / "ms2" / "results.csv").exists() and len(list((tmp_path / "ms2" / "cells").iterdir())) == 12


def test_study_plot_redraws_from_results_csv(tmp_path, capsys):
    """`elman study plot DIR` draws error_vs_state.png from DIR/results.csv alone."""
    from test_cli_train import assert_png_not_blank

    rows = [{c: None for c in study.COLUMNS} | {"target": "memory-sum-m1", "M": M, "seed": s, "test_nrmse": e}
            for M, e in ((1, 0.5), (2, 1e-6), (4, 1e-7)) for s in (0, 1)]
    study.write_csv(rows, tmp_path / "results.csv")
    assert cli.main(["study", "plot", str(tmp_path)]) == 0
    assert_png_not_blank(tmp_path / "error_vs_state.png")
    assert cli.main(["study", "plot", str(tmp_path / "none")]) == 2
    assert cli.main(["study", "draw", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "the only subcommand is `elman study plot DIR`" in err
