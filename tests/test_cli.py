"""The command line: verify and inspect, with their exit codes (0 pass, 1 fail, 2 bad input)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import elman
from elman import cli
from helpers import build


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "m.keras"
    build(keras, 3, [5], 2, return_sequences=True, seed=3).save(path)
    return path


def test_verify_passes(saved, capsys):
    assert cli.main(["verify", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "max abs err" in out


def test_verify_fails_with_exit_1(saved, capsys, monkeypatch):
    # A broken reproduction (b off by 0.01) must be caught and reported.
    real = elman.keras.from_keras

    def off(model):
        rnn = real(model)
        return rnn.replace(b=rnn.b + np.float32(0.01))

    monkeypatch.setattr(elman.keras, "from_keras", off)
    assert cli.main(["verify", str(saved)]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_verify_bad_input_exit_2(keras, tmp_path, capsys):
    assert cli.main(["verify", str(tmp_path / "missing.keras")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err
    lstm = tmp_path / "lstm.keras"
    keras.Sequential([keras.Input((4, 2)), keras.layers.LSTM(3)]).save(lstm)
    assert cli.main(["verify", str(lstm)]) == 2
    err = capsys.readouterr().err
    assert "(LSTM) is not supported" in err and "Traceback" not in err


def test_inspect_keras_and_npz(saved, tmp_path, capsys):
    assert cli.main(["inspect", str(saved)]) == 0
    out = capsys.readouterr().out
    for part in ("D (input_dim)  = 3", "M (state_dim)  = 5", "K (output_dim) = 2", "spectral radius of A",
                 "tanh(A z + B u + b)", "C (2, 5)", "stateful = False"):
        assert part in out, part
    npz = tmp_path / "m.npz"
    elman.from_keras(saved).save(npz)
    assert cli.main(["inspect", str(npz)]) == 0
    assert "M (state_dim)  = 5" in capsys.readouterr().out


def test_python_dash_m_in_a_real_process(saved, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    ok = subprocess.run([sys.executable, "-m", "elman", "verify", str(saved)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "elman", "inspect", str(tmp_path / "none.npz")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "does not exist" in bad.stderr


def test_verify_stateful_keras_file(keras, tmp_path, capsys):
    path = tmp_path / "stateful.keras"
    build(keras, 2, [4, 3], 1, stateful=True, batch_size=3, return_sequences=True, seed=8).save(path)
    assert cli.main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stateful" in out and "call 4 after reset" in out and "PASSED" in out
