"""The Keras bridge and the model files, against a hostile user: special files, null
bytes, a renamed .npz, non-finite outputs, absurd sizes and truthy strings.

Every bad case gets an elman exception (one line naming the argument or file, what was
given and what was expected) and leaves the user's files as they were. The machine may
run as root: everything here is written under tmp_path, never under /dev or a system path.

A FIFO would block any reader that opens it: the in-process cases run under a watchdog
process that unblocks a hung reader (and then fails the test), and the command-line
cases run in subprocesses with a timeout.
"""

from __future__ import annotations

import math
import os
import shutil
import stat
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext

import numpy as np
import pytest

import elman
from elman.errors import (
    ElmanError,
    InputTypeError,
    ModelFileError,
    NonFiniteError,
    ParameterError,
)
from elman.keras import MAX_VERIFY_VALUES, load_keras_model

MAX_LEN = 200
TIMEOUT = 60  # seconds for a command-line case; a hang on a FIFO ends here


def one_line(msg: str, folder=None) -> str:
    """The message, checked to be one line, short once the temporary folder's name is left out."""
    assert "\n" not in msg, msg
    bare = msg.replace(str(folder) + os.sep, "") if folder is not None else msg
    assert len(bare) <= MAX_LEN, f"{len(bare)} characters: {bare}"
    return msg


def overflowing() -> elman.ElmanRNN:
    """exp(200 z) with z up to 1: inf in float32, in Keras and in elman alike."""
    return elman.ElmanRNN([[0.0]], [[1.0]], [0.0], C=[[200.0]], d=[0.0], output_activation="exponential",
                          dtype=np.float32)


def small() -> elman.ElmanRNN:
    return elman.ElmanRNN.init(1, 2, 1, seed=0)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every special file the cases need, made once, all in one temporary folder."""
    d = tmp_path_factory.mktemp("bridge")
    f = {}
    for name in ("fifo.keras", "fifo.h5", "fifo.npz", "save_fifo.npz"):
        os.mkfifo(d / name)
        f[name] = d / name
    f["link_fifo.keras"] = d / "link_fifo.keras"
    os.symlink(d / "fifo.keras", f["link_fifo.keras"])
    f["link_fifo.npz"] = d / "link_fifo.npz"
    os.symlink(d / "save_fifo.npz", f["link_fifo.npz"])
    f["dangling.npz"] = d / "dangling.npz"
    os.symlink(d / "nowhere.npz", f["dangling.npz"])
    f["folder.npz"] = d / "folder.npz"
    f["folder.npz"].mkdir()
    f["good.npz"] = d / "good.npz"
    small().save(f["good.npz"])
    f["overflow.npz"] = d / "overflow.npz"
    overflowing().save(f["overflow.npz"])
    for name in ("renamed.keras", "renamed.h5", "RENAMED.KERAS"):
        f[name] = d / name
        shutil.copyfile(f["good.npz"], f[name])
    f["d"] = d
    return f


@pytest.fixture(scope="module")
def km(keras):
    """A small Keras model (float32, D = 1), built once."""
    return elman.to_keras(small())


@pytest.fixture(scope="module")
def km_stateful(keras):
    return elman.to_keras(small(), stateful=True, batch_size=2)


# The watchdog is a separate process: a thread could not help when the blocked open()
# holds the GIL (h5py opening a .h5 does).
_WATCH = """
import os, sys, time
time.sleep(float(sys.argv[1]))
while True:
    for p in sys.argv[2:]:
        try:
            fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody is reading it
            continue
        os.close(fd)
        print(p, flush=True)
    time.sleep(0.2)
"""


@contextmanager
def watchdog(paths, after: float = 20.0):
    """Unblock a reader hung on one of the FIFOs ``paths`` after ``after`` seconds (by
    opening it for writing and closing it: the reader then sees an empty file), and
    fail: a regression then fails the test instead of hanging the suite."""
    proc = subprocess.Popen([sys.executable, "-c", _WATCH, str(after), *map(str, paths)],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        yield
    finally:
        proc.kill()
        hung = proc.communicate()[0].split()
        assert not hung, f"a reader blocked on the FIFO {hung[0]}"


# ------------------------------------------------------------------ the table of bad cases

# (id, call(files, km, km_stateful), exception type, words the message must hold)
CASES = [
    # 1. a FIFO where a Keras file is expected: refused, never opened for reading
    ("keras-fifo", lambda f, k, s: load_keras_model(f["fifo.keras"]), ModelFileError,
     ["fifo.keras", "not a regular file", "FIFO"]),
    ("h5-fifo", lambda f, k, s: load_keras_model(f["fifo.h5"]), ModelFileError,
     ["fifo.h5", "not a regular file", "FIFO"]),
    ("keras-link-to-fifo", lambda f, k, s: load_keras_model(f["link_fifo.keras"]), ModelFileError,
     ["link_fifo.keras", "not a regular file", "FIFO"]),
    ("from_keras-fifo", lambda f, k, s: elman.from_keras(f["fifo.keras"]), ModelFileError,
     ["not a regular file"]),
    ("verify_keras-fifo", lambda f, k, s: elman.verify_keras(f["fifo.keras"]), ModelFileError,
     ["not a regular file"]),
    ("load-fifo", lambda f, k, s: elman.load(f["fifo.npz"]), ModelFileError, ["fifo.npz", "not a regular file"]),
    # 2. save over something that is not a regular file: refused, left as it was
    ("save-fifo", lambda f, k, s: elman.save(small(), f["save_fifo.npz"]), ModelFileError,
     ["save_fifo.npz", "FIFO", "not a regular file"]),
    ("save-link-to-fifo", lambda f, k, s: elman.save(small(), f["link_fifo.npz"]), ModelFileError,
     ["link_fifo.npz", "symbolic link", "FIFO", "not a regular file"]),
    ("save-dangling-link", lambda f, k, s: elman.save(small(), f["dangling.npz"]), ModelFileError,
     ["dangling.npz", "symbolic link", "nowhere.npz", "cannot be reached"]),
    ("save-folder", lambda f, k, s: elman.save(small(), f["folder.npz"]), ModelFileError,
     ["folder.npz", "directory", "not a regular file"]),
    # 3. null bytes
    ("save-null-byte", lambda f, k, s: elman.save(small(), str(f["d"] / "a\x00b.npz")), ModelFileError,
     ["null byte", "a\\x00b.npz"]),
    ("load-null-byte", lambda f, k, s: elman.load(str(f["d"] / "a\x00b.npz")), ModelFileError, ["null byte"]),
    ("keras-null-byte", lambda f, k, s: load_keras_model(str(f["d"] / "a\x00b.keras")), ModelFileError,
     ["null byte"]),
    # 5. verify_keras's own arguments
    ("verify-seed-negative", lambda f, k, s: elman.verify_keras(k, seed=-1), ParameterError, ["seed", "-1"]),
    ("verify-seed-str", lambda f, k, s: elman.verify_keras(k, seed="a"), ParameterError, ["seed", "'a'"]),
    ("verify-seed-float", lambda f, k, s: elman.verify_keras(k, seed=1.5), ParameterError, ["seed", "1.5"]),
    ("verify-seed-bool", lambda f, k, s: elman.verify_keras(k, seed=True), ParameterError, ["seed", "True"]),
    ("verify-U-beyond-float32", lambda f, k, s: elman.verify_keras(k, U=np.full((2, 3, 1), 1e39)),
     NonFiniteError, ["U", "1e+39", "beyond the float32 range"]),
    ("verify-U-nan", lambda f, k, s: elman.verify_keras(k, U=np.full((2, 3, 1), np.nan)),
     NonFiniteError, ["U", "NaN or inf"]),
    ("verify-n_samples-huge", lambda f, k, s: elman.verify_keras(k, n_samples=10**9), ParameterError,
     ["n_samples", "1000000000", "1e+08", "fewer samples"]),
    ("verify-n_steps-huge", lambda f, k, s: elman.verify_keras(k, n_steps=10**9), ParameterError,
     ["n_steps", "1000000000", "1e+08"]),
    ("verify-just-above-the-cap", lambda f, k, s: elman.verify_keras(k, n_samples=MAX_VERIFY_VALUES // 16 + 1),
     ParameterError, ["n_samples", f"{MAX_VERIFY_VALUES // 16 + 1} x 16 x 1", "1e+08"]),
    ("verify-n_samples-zero", lambda f, k, s: elman.verify_keras(k, n_samples=0), ParameterError,
     ["n_samples", "positive integer", "0"]),
    # 6. truthy strings where a bool is expected
    ("to_keras-return_sequences-str", lambda f, k, s: elman.to_keras(small(), return_sequences="no"),
     ParameterError, ["return_sequences", "'no'", "True, False or None"]),
    ("to_keras-stateful-str", lambda f, k, s: elman.to_keras(small(), stateful="no", batch_size=2),
     ParameterError, ["stateful", "'no'", "True or False"]),
    ("to_keras-stateful-int", lambda f, k, s: elman.to_keras(small(), stateful=1, batch_size=2),
     ParameterError, ["stateful", "1", "True or False"]),
    # 7. an elman .npz renamed to .keras (or .h5)
    ("renamed-npz-keras", lambda f, k, s: load_keras_model(f["renamed.keras"]), ModelFileError,
     ["renamed.keras", "elman model", "rename it to .npz"]),
    ("renamed-npz-h5", lambda f, k, s: load_keras_model(f["renamed.h5"]), ModelFileError,
     ["renamed.h5", "elman model", "rename it to .npz"]),
    ("renamed-npz-upper", lambda f, k, s: load_keras_model(f["RENAMED.KERAS"]), ModelFileError,
     ["elman model", "rename it to .npz"]),
    ("renamed-npz-from_keras", lambda f, k, s: elman.from_keras(f["renamed.keras"]), ModelFileError,
     ["elman model", "rename it to .npz"]),
    # 8. the state functions given something that is not a Keras model
    ("get_states-str", lambda f, k, s: elman.get_states("x"), InputTypeError, ["model", "keras.Model", "str"]),
    ("set_states-str", lambda f, k, s: elman.set_states("x", []), InputTypeError, ["model", "keras.Model", "str"]),
    ("reset_states-str", lambda f, k, s: elman.reset_states("x"), InputTypeError, ["model", "keras.Model", "str"]),
    ("get_states-elman", lambda f, k, s: elman.get_states(small()), InputTypeError, ["keras.Model", "ElmanRNN"]),
    ("set_states-text", lambda f, k, s: elman.set_states(s, [np.array([["a", "b"], ["c", "d"]])]),
     InputTypeError, ["states[0]", "real numbers"]),
    ("set_states-nan", lambda f, k, s: elman.set_states(s, [np.full((2, 2), np.nan)]), NonFiniteError,
     ["states[0]", "NaN or inf"]),
]


@pytest.mark.parametrize("call, exc, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_case(call, exc, words, files, km, km_stateful, request):
    fifos = [files[n] for n in ("fifo.keras", "fifo.h5", "fifo.npz", "save_fifo.npz")]
    guard = watchdog(fifos) if "fifo" in request.node.callspec.id else nullcontext()
    with guard, pytest.raises(exc) as info:
        call(files, km, km_stateful)
    assert isinstance(info.value, ElmanError)
    msg = one_line(str(info.value), files["d"])
    for w in words:
        assert w in msg, (w, msg)
    # Nothing was replaced: the special files are still what they were.
    for p in fifos:
        assert stat.S_ISFIFO(os.lstat(p).st_mode), p
    for name, target in (("link_fifo.npz", "save_fifo.npz"), ("link_fifo.keras", "fifo.keras"),
                         ("dangling.npz", "nowhere.npz")):
        assert os.readlink(files[name]) == str(files["d"] / target)
    assert files["folder.npz"].is_dir() and not any(files["folder.npz"].iterdir())
    assert not (files["d"] / "nowhere.npz").exists()
    assert not [p.name for p in files["d"].iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_set_states_is_all_or_nothing(keras):
    """A bad second state leaves the first layer's state as it was."""
    layers = [elman.ElmanRNN.init(1, 2, seed=0), elman.ElmanRNN.init(2, 3, seed=1)]
    k = elman.to_keras(elman.StackedRNN(layers), stateful=True, batch_size=2)
    before = elman.get_states(k)
    with pytest.raises(NonFiniteError, match=r"states\[1\]"):
        elman.set_states(k, [np.ones((2, 2)), np.full((2, 3), np.inf)])
    for a, b in zip(elman.get_states(k), before):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ 2. save through a symbolic link


def test_save_through_a_link_writes_the_target_and_keeps_the_link(tmp_path):
    """The choice: a symbolic link to a regular file is followed (the link stays a link
    and points to the new model), as open() or np.save would; the temporary file is made
    next to the target, so the rename stays on the target's file system."""
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "model.npz"
    target.write_bytes(b"old")
    link = tmp_path / "latest.npz"
    os.symlink(os.path.join("runs", "model.npz"), link)  # relative, as users make them
    elman.save(overflowing(), link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "model.npz")
    assert elman.load(target).C[0, 0] == 200.0 and elman.load(link).C[0, 0] == 200.0
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["latest.npz", "model.npz", "runs"]


def test_save_replaces_a_regular_file(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    elman.save(small(), path)
    assert not path.is_symlink() and elman.load(path).state_dim == 2


# ------------------------------------------------------------------ 4. verify_keras on NaN and inf


def test_verify_fails_when_both_outputs_overflow(keras):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no RuntimeWarning from the comparison (nor from elman's predict)
        report = elman.verify_keras(elman.to_keras(overflowing()))
    assert not report.passed and math.isnan(report.max_abs_err)
    assert "Keras's output holds inf" in report.note and "and so does elman's" in report.note
    text = str(report)
    assert "FAILED" in text and "PASSED" not in text and "overflows on this input" in text


def test_verify_fails_when_only_elman_overflows(keras, monkeypatch):
    real = elman.keras.from_keras
    monkeypatch.setattr(elman.keras, "from_keras",
                        lambda m: real(m).replace(C=[[200.0]], output_activation="exponential"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        linear = elman.ElmanRNN([[0.0]], [[1.0]], [0.0], C=[[1.0]], d=[0.0], dtype=np.float32)
        report = elman.verify_keras(elman.to_keras(linear))
    assert not report.passed and "elman's output holds inf" in report.note and "Keras's does not" in report.note


def test_verify_fails_when_the_difference_overflows(keras, monkeypatch):
    """Finite outputs near the float64 limit, of opposite signs: the difference is inf."""
    rnn = elman.ElmanRNN([[0.0]], [[1.0]], [0.0], C=[[1e308]], d=[0.0], dtype=np.float64)
    real = elman.keras.from_keras
    monkeypatch.setattr(elman.keras, "from_keras", lambda m: real(m).replace(C=[[-1e308]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = elman.verify_keras(elman.to_keras(rnn))
    assert not report.passed and "difference of the outputs overflows" in report.note


def test_verify_fails_on_a_stateful_model_that_overflows(keras):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = elman.verify_keras(elman.to_keras(overflowing(), stateful=True, batch_size=4))
    assert report.stateful and not report.passed and "call" in report.note and "holds inf" in report.note
    assert math.isnan(report.max_abs_err) and any(math.isnan(err) for _, err in report.calls)


def test_verify_restores_a_state_that_is_not_finite(keras):
    """verify_keras restores the model's state as it found it, even an overflowed one."""
    k = elman.to_keras(small(), stateful=True, batch_size=2)
    k.layers[1].states[0].assign(np.full((2, 2), np.inf, np.float32))
    assert elman.verify_keras(k).passed
    assert np.isinf(elman.get_states(k)[0]).all()


def test_verify_still_passes_and_takes_a_generator(km):
    report = elman.verify_keras(km, seed=np.random.default_rng(5))
    assert report.passed and report.note == "" and math.isfinite(report.max_abs_err)


# ------------------------------------------------------------------ the command line, in subprocesses

# (id, arguments (file names from `files`), exit code, words on stderr (exit 2) or stdout (exit 1))
CLI = [
    ("inspect-fifo-keras", ["inspect", "fifo.keras"], 2, ["fifo.keras", "not a regular file"]),
    ("verify-fifo-keras", ["verify", "fifo.keras"], 2, ["fifo.keras", "not a regular file"]),
    ("inspect-fifo-h5", ["inspect", "fifo.h5"], 2, ["fifo.h5", "not a regular file"]),
    ("verify-fifo-npz", ["verify", "fifo.npz"], 2, ["fifo.npz", "not a regular file"]),
    ("verify-overflow", ["verify", "overflow.npz"], 1, ["FAILED", "holds inf", "overflows on this input"]),
    ("inspect-renamed-npz", ["inspect", "renamed.keras"], 2, ["elman model", "rename it to .npz"]),
    ("verify-samples-huge", ["verify", "good.npz", "--samples", "1000000000"], 2, ["n_samples", "1e+08"]),
]


@pytest.fixture(scope="module")
def cli_runs(files):
    """All the command-line cases, run at once (each a fresh `python -m elman`), with a timeout."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    procs = {}
    for case, args, _, _ in CLI:
        argv = [str(files[a]) if a in files else a for a in args]
        procs[case] = subprocess.Popen([sys.executable, "-m", "elman", *argv], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
    out, deadline = {}, time.monotonic() + TIMEOUT
    for case, p in procs.items():
        try:
            stdout, stderr = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            out[case] = (p.returncode, stdout, stderr)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            out[case] = (None, "", f"timed out after {TIMEOUT} s (blocked on a FIFO?)")
    return out


@pytest.mark.parametrize("case, code, words", [(c[0], c[2], c[3]) for c in CLI], ids=[c[0] for c in CLI])
def test_cli(case, code, words, cli_runs, files):
    rc, stdout, stderr = cli_runs[case]
    assert rc == code, (rc, stdout, stderr)
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    if code == 2:
        assert stderr.count("\n") == 1 and stderr.startswith("elman "), stderr
        text = stderr
    else:
        assert stderr == "", stderr
        text = stdout
    for w in words:
        assert w in text, (w, text)
    assert stat.S_ISFIFO(os.lstat(files["fifo.keras"]).st_mode)
