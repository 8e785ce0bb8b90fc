"""The command line as a careful, hostile or unlucky user meets it: every bad option,
output folder or environment ends in one line on stderr and exit 2 (never a traceback),
an interrupted or concurrent run never leaves a mix of files, and a run shows only
elman's own output. Each case runs ``python -m elman`` in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import elman

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
SETPRIV = shutil.which("setpriv")
# Root ignores file permissions; dropping every capability makes it honour them again.
UNPRIVILEGED = [SETPRIV, "--inh-caps=-all", "--bounding-set=-all"] if ROOT and SETPRIV else []
needs_permissions = pytest.mark.skipif(ROOT and not SETPRIV, reason="root without setpriv ignores permissions")
RUN_FILES = ["forecast.png", "history.json", "loss.png", "metrics.json", "model.npz"]
QUICK = ["train", "--data", "sine", "--steps", "5", "--epochs", "1", "--quiet"]


def cli(args, cwd, *, env=None, prefix=(), timeout=120, **kw):
    full_env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run([*prefix, sys.executable, "-m", "elman", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def assert_one_line_error(p, *words):
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.stderr.count("\n") == 1, p.stderr
    for w in words:
        assert w in p.stderr, (w, p.stderr)


# (what goes wrong, arguments, key words of the one-line message)
BAD = [
    ("negative seed", QUICK + ["--seed", "-1"], ["argument --seed: -1 is below 0"]),
    ("seed not a number", QUICK + ["--seed", "x"], ["argument --seed: 'x' is not an integer"]),
    ("zero hidden", QUICK + ["--hidden", "0"], ["argument --hidden: 0 is below 1"]),
    ("zero batch", QUICK + ["--batch-size", "0"], ["argument --batch-size: 0 is below 1"]),
    ("huge state", QUICK + ["--hidden", "10000000"], ["state_dim = 10000000 needs about", "GiB"]),
    ("state beyond any array", QUICK + ["--hidden", "99999999999999999999999"], ["state_dim = 9999", "GiB"]),
    ("stride beyond the data", QUICK + ["--stride", "99999999999999999999999"], ["fewer than one window"]),
    ("seed beyond 2**32", QUICK + ["--seed", "4294967296"], ["--seed: 4294967296 is above 4294967295"]),
    ("digits of another script", QUICK + ["--epochs", "\u0661\u0660"], ["--epochs:", "is not an integer"]),
    ("underscore in a count", QUICK + ["--epochs", "1_0"], ["--epochs: '1_0' is not an integer"]),
    ("--out is the current folder", QUICK + ["--out", "."], ["is the current folder", "a folder of its own"]),
    ("--out is empty", QUICK + ["--out", ""], ["is the current folder"]),
    ("--out above the current folder", QUICK + ["--out", ".."], ["is the current folder or holds it"]),
    ("one-row CSV", QUICK[:1] + ["--data", "one.csv", "--quiet"], ["one.csv: 1 values, fewer than"]),
    ("constant CSV", QUICK[:1] + ["--data", "flat.csv", "--quiet"], ["flat.csv", "training part is constant (7)"]),
    ("NaN learning rate", QUICK + ["--learning-rate", "nan"], ["learning_rate must be a positive number, got nan"]),
    ("zero learning rate", QUICK + ["--learning-rate", "0"], ["learning_rate must be a positive number, got 0.0"]),
    ("train fraction above 1", QUICK + ["--train-fraction", "1.5"], ["train_fraction must be a number in (0, 1)"]),
    ("--column with a built-in series", QUICK + ["--column", "x"], ["'sine' is a built-in series", "CSV files only"]),
    ("unknown activation", QUICK + ["--activation", "tanhh"], ["activation 'tanhh' is not known"]),
    ("unknown engine", QUICK + ["--engine", "torch"], ["argument --engine: invalid choice"]),
    ("verify: negative seed", ["verify", "m.keras", "--seed", "-2"], ["argument --seed: -2 is below 0"]),
    ("demo: zero epochs", ["demo", "--epochs", "0"], ["argument --epochs: 0 is below 1"]),
    ("missing data file", QUICK[:1] + ["--data", "nope.csv", "--quiet"], ["nope.csv", "does not exist"]),
    ("data is a folder", QUICK[:1] + ["--data", "folder.csv", "--quiet"], ["is a directory"]),
    ("model is a folder", ["inspect", "folder.npz"], ["is a directory"]),
]


@pytest.mark.parametrize("what, args, words", BAD, ids=[c[0] for c in BAD])
def test_bad_options_one_line_exit_2(tmp_path, what, args, words):
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "folder.npz").mkdir()
    (tmp_path / "one.csv").write_text("value\n1.5\n")
    (tmp_path / "flat.csv").write_text("value\n" + "7\n" * 100)
    out = ["--out", "o"] if args[0] == "train" and "--out" not in args else []
    assert_one_line_error(cli(args + out, tmp_path), *words)
    assert not (tmp_path / "o").exists()  # nothing half-written


# ----------------------------------------------------------------------- the output folder


def test_out_is_an_existing_file(tmp_path):
    (tmp_path / "results").write_text("mine")
    assert_one_line_error(cli(QUICK + ["--out", "results"], tmp_path), "'results' is a file, not a folder")
    assert (tmp_path / "results").read_text() == "mine"


def test_out_below_a_file(tmp_path):
    (tmp_path / "f").write_text("mine")
    assert_one_line_error(cli(QUICK + ["--out", "f/run"], tmp_path), "'f' is a file, not a folder")


def test_out_holding_foreign_files_is_never_replaced(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "thesis.tex").write_text("years of work")
    assert_one_line_error(cli(QUICK + ["--out", "o"], tmp_path), "holds files that no elman run wrote",
                          "thesis.tex")
    assert (tmp_path / "o" / "thesis.tex").read_text() == "years of work"


def test_folder_named_like_a_run_file_is_someones_and_kept(tmp_path):
    (tmp_path / "o" / "model.npz").mkdir(parents=True)
    (tmp_path / "o" / "model.npz" / "thesis.txt").write_text("mine")
    assert_one_line_error(cli(QUICK + ["--out", "o"], tmp_path), "holds files that no elman run wrote (model.npz/)")
    assert (tmp_path / "o" / "model.npz" / "thesis.txt").read_text() == "mine"


def test_out_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert_one_line_error(cli(QUICK + ["--out", "link"], tmp_path), "'link' is a symbolic link")


def test_long_out_name_works(tmp_path):
    name = "r" * 240  # a staging name built by adding to it must still fit NAME_MAX (255)
    p = cli(QUICK + ["--out", name], tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path / name)) == RUN_FILES


@pytest.mark.slow
def test_demo_refuses_a_folder_of_the_users_files_before_any_work(tmp_path):
    (tmp_path / "d" / "sunspots-elman").mkdir(parents=True)
    (tmp_path / "d" / "sunspots-elman" / "notes.txt").write_text("mine")
    (tmp_path / "d" / "sine.png").write_text("my picture")
    p = cli(["demo", "--epochs", "1", "--out", "d"], tmp_path)
    assert_one_line_error(p, "holds files that no elman run wrote (sunspots-elman/notes.txt)")
    assert p.stdout == ""  # refused before part 1 began
    assert (tmp_path / "d" / "sine.png").read_text() == "my picture"


def test_constant_test_targets_give_a_null_nrmse(tmp_path):
    x = np.concatenate([np.sin(np.arange(120.0) / 3), np.full(40, 0.25)])
    (tmp_path / "s.csv").write_text("value\n" + "\n".join(repr(float(v)) for v in x) + "\n")
    p = cli(["train", "--data", "s.csv", "--steps", "5", "--epochs", "1", "--train-fraction", "0.75", "--quiet",
             "--out", "o"], tmp_path)
    assert p.returncode == 0, p.stderr
    figures = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert figures["test_nrmse"] is None and figures["test_rmse"] > 0


def test_model_saved_without_the_npz_suffix_is_read_as_one(tmp_path):
    elman.ElmanRNN.init(2, 3, 1, seed=0).save(tmp_path / "model.bin")
    p = cli(["inspect", "model.bin"], tmp_path)
    assert p.returncode == 0 and "M (state_dim)  = 3" in p.stdout, p.stderr


def test_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    from elman import cli as elman_cli, workflow

    def starved(*args, **kwargs):
        raise MemoryError("Unable to allocate 12.0 GiB for an array with shape (40000, 40000)")

    monkeypatch.setattr(workflow, "train_series", starved)
    assert elman_cli.main(["train", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory (Unable to allocate 12.0 GiB" in err and "--hidden" in err


def test_rerun_replaces_a_previous_run_and_gives_normal_permissions(tmp_path):
    assert cli(QUICK + ["--out", "o"], tmp_path).returncode == 0
    assert cli(QUICK + ["--out", "o", "--seed", "3"], tmp_path).returncode == 0
    assert sorted(os.listdir(tmp_path / "o")) == RUN_FILES
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["config"]["seed"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "o").stat().st_mode & 0o777 == 0o777 & ~mask


@needs_permissions
def test_unwritable_folder_fails_fast_before_training(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    t0 = time.perf_counter()
    # 200 epochs would take far more than 2 s: the check must come before training.
    p = cli(["train", "--data", "sine", "--epochs", "200", "--quiet", "--out", "locked/run"], tmp_path,
            prefix=UNPRIVILEGED)
    elapsed = time.perf_counter() - t0
    assert_one_line_error(p, "cannot write the output folder", "Permission denied")
    assert elapsed < 2.0 + _python_start(tmp_path), elapsed
    assert os.listdir(locked) == []


def _python_start(cwd) -> float:
    """Seconds to start Python and import elman here (the 2 s budget is elman's own)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import elman.cli"], cwd=cwd, check=True)
    return time.perf_counter() - t0


@needs_permissions
def test_folder_that_becomes_unwritable_keeps_the_finished_run(tmp_path):
    parent = tmp_path / "p"
    parent.mkdir()
    p = subprocess.Popen([*UNPRIVILEGED, sys.executable, "-m", "elman", "train", "--data", "sine", "--epochs", "30",
                          "--batch-size", "8", "--quiet", "--out", "p/run"], cwd=tmp_path,
                         env={**os.environ, "MPLBACKEND": "Agg"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    _wait_for(lambda: any(parent.iterdir()))  # the staging folder exists: training has begun
    parent.chmod(0o555)
    try:
        out, err = p.communicate(timeout=120)
    finally:
        parent.chmod(0o755)
    assert p.returncode == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "cannot move the finished run into 'p/run'" in err and "the complete results are kept in" in err
    kept = Path(tmp_path, err.split("kept in ")[1].strip().strip("'"))
    assert sorted(os.listdir(kept)) == RUN_FILES  # nothing is lost
    assert elman.load(kept / "model.npz").state_dim == 3


def _wait_for(condition, timeout=60.0):
    t0 = time.perf_counter()
    while not condition():
        if time.perf_counter() - t0 > timeout:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_interrupted_run_leaves_the_previous_complete_run(tmp_path):
    assert cli(QUICK + ["--out", "o"], tmp_path).returncode == 0
    before = _snapshot(tmp_path / "o")
    p = subprocess.Popen([sys.executable, "-m", "elman", "train", "--data", "sine", "--epochs", "500",
                          "--batch-size", "4", "--quiet", "--out", "o"], cwd=tmp_path,
                         env={**os.environ, "MPLBACKEND": "Agg"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(1.0)
    _wait_for(lambda: any(q.name.startswith(".o.stage-") for q in tmp_path.iterdir()))
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert _snapshot(tmp_path / "o") == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["o"]  # the staging folder is gone


def test_two_concurrent_runs_into_one_folder_leave_one_complete_run(tmp_path):
    seeds = (1, 2)
    for s in seeds:  # what each run alone writes
        assert cli(QUICK + ["--seed", s, "--out", f"ref{s}"], tmp_path).returncode == 0
    procs = [subprocess.Popen([sys.executable, "-m", "elman", *QUICK, "--seed", str(s), "--out", "o"], cwd=tmp_path,
                              env={**os.environ, "MPLBACKEND": "Agg"}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for s in seeds]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = tmp_path / "o"
    assert sorted(os.listdir(got)) == RUN_FILES
    seed = json.loads((got / "metrics.json").read_text())["config"]["seed"]
    ref = tmp_path / f"ref{seed}"
    # Every file from the same run: the JSON byte for byte, the model's matrices equal.
    for name in ("metrics.json", "history.json"):
        assert (got / name).read_bytes() == (ref / name).read_bytes()
    a, b = elman.load(got / "model.npz"), elman.load(ref / "model.npz")
    assert np.array_equal(a.A, b.A) and np.array_equal(a.C, b.C)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["o", "ref1", "ref2"]


# ----------------------------------------------------------------------- values and messages


def test_series_near_the_float_limit_gives_strict_json_and_all_files(tmp_path):
    x = np.linspace(0.0, 1.7e308, 240) * (0.5 + 0.5 * np.sin(np.arange(240.0)))
    (tmp_path / "big.csv").write_text("value\n" + "\n".join(repr(float(v)) for v in x) + "\n")
    p = cli(["train", "--data", "big.csv", "--epochs", "1", "--steps", "6", "--quiet", "--out", "o"], tmp_path)
    # only elman's own notes (here: the test part rises beyond the training range), no NumPy noise
    assert p.returncode == 0 and all(l.startswith("elman train: warning:") for l in p.stderr.splitlines()), p.stderr
    assert sorted(os.listdir(tmp_path / "o")) == RUN_FILES

    def refuse(constant):
        raise AssertionError(f"metrics.json holds {constant}, which is not JSON")

    figures = json.loads((tmp_path / "o" / "metrics.json").read_text(), parse_constant=refuse)
    assert 0 < figures["test_rmse_units"] < 1.8e308 and "non_finite" not in figures


def test_keras_divergence_is_named_and_nothing_is_written(tmp_path):
    p = cli(["train", "--data", "sine", "--steps", "5", "--epochs", "2", "--engine", "keras", "--learning-rate",
             "1e30", "--quiet", "--out", "o"], tmp_path)
    assert_one_line_error(p, "Keras training diverged", "smaller --learning-rate")
    assert not (tmp_path / "o").exists()


def test_numpy_divergence_keeps_the_last_finite_model_and_says_so(tmp_path):
    p = cli(["train", "--data", "sine", "--steps", "5", "--epochs", "3", "--activation", "linear",
             "--learning-rate", "1e150", "--quiet", "--out", "o"], tmp_path)
    assert "Traceback" not in p.stderr
    if p.returncode == 0:  # the last finite model predicts finite values: kept, and said
        assert "warning: training stopped" in p.stderr and "smaller --learning-rate" in p.stderr
        assert "training stopped" in json.loads((tmp_path / "o" / "metrics.json").read_text())["diverged"]
    else:  # or its predictions overflow: one line that says why, nothing written
        assert_one_line_error(p, "predictions overflow", "smaller --learning-rate")
        assert not (tmp_path / "o").exists()


def test_capitalised_npz_suffix_is_an_npz(tmp_path):
    elman.ElmanRNN.init(2, 3, 1, seed=0).save(tmp_path / "MODEL.NPZ")
    p = cli(["inspect", "MODEL.NPZ"], tmp_path)
    assert p.returncode == 0 and "M (state_dim)  = 3" in p.stdout, p.stderr


def test_reader_closing_early_is_no_traceback(tmp_path):
    elman.ElmanRNN.init(2, 3, 1, seed=0).save(tmp_path / "m.npz")
    p = subprocess.Popen([sys.executable, "-m", "elman", "inspect", "m.npz"], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdout.close()  # like `elman inspect m.npz | head -0`: gone before elman writes
    err = p.stderr.read()
    p.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert p.returncode == 141


# ----------------------------------------------------------------------- environment


def _read_only_install(tmp_path) -> tuple[Path, dict]:
    """A copy of the package where nothing can be cached: its __pycache__ is a file, and
    HOME and XDG_CACHE_HOME lead nowhere writable (what a shared read-only install gives
    a user without a home folder)."""
    site = tmp_path / "site"
    shutil.copytree(Path(elman.__file__).parent, site / "elman",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (site / "elman" / "__pycache__").write_text("not a folder")
    (tmp_path / "home").write_text("not a folder")
    env = {"PYTHONPATH": str(site), "HOME": str(tmp_path / "home"),
           "XDG_CACHE_HOME": str(tmp_path / "home" / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    return site, env


@pytest.mark.slow
def test_read_only_install_without_any_cache_location_still_trains(tmp_path):
    """The compiled kernel was built at install and needs no cache: it runs from a copy
    of the package where nothing can be written."""
    site, env = _read_only_install(tmp_path)
    base = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    code = ("import elman, numpy as np; print(elman.__file__); "
            "r = elman.fit(elman.ElmanRNN.init(1, 3, 1, seed=0), np.ones((8, 4, 1)), np.ones((8, 1)), "
            "epochs=2, verbose=0); print('engine', r.engine, 'loss', r.history['loss'][-1])")
    p = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], cwd=tmp_path,
                       env={**base, **env}, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.startswith(str(site)) and "engine c" in p.stdout
    p = subprocess.run([sys.executable, "-m", "elman", *QUICK, "--out", "o"], cwd=tmp_path,
                       env={**base, **env, "MPLBACKEND": "Agg"}, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stderr == "", p.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "o")) == RUN_FILES


def test_only_elmans_own_output_when_not_on_a_terminal(tmp_path):
    p = cli(["train", "--data", "sine", "--steps", "5", "--epochs", "2", "--out", "o"], tmp_path)
    assert p.returncode == 0
    assert p.stderr == ""  # no progress-bar remnants ("0%| 0/4") in a log file
    epochs = [line for line in p.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and "%|" not in p.stdout


@pytest.mark.slow
def test_keras_engine_prints_nothing_of_tensorflows(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    p = subprocess.run([sys.executable, "-m", "elman", *QUICK, "--engine", "keras", "--out", "o"], cwd=tmp_path,
                       env={**env, "MPLBACKEND": "Agg"}, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stderr == "", p.stderr[-3000:]
    ours = ("sin(t)", " ", "RMSE", "windows", "time", "test part", "model", "naive", "seasonal naive", "MASE",
            "the model")
    assert all(line == "" or line.startswith(ours) for line in p.stdout.splitlines()), p.stdout
