"""elman train / demo on the command line; the files and plots they write; plot functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import elman
from elman import cli

SUNSPOTS = ["train", "--data", "sunspots", "--steps", "12", "--stride", "12", "--hidden", "3", "--activation", "tanh",
            "--output-activation", "tanh", "--epochs", "20", "--batch-size", "1", "--seed", "0", "--quiet"]
FILES = ("model.npz", "metrics.json", "history.json", "forecast.png", "loss.png")


def assert_png_not_blank(path):
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, path
    assert float(np.var(img[..., :3])) > 1e-3, f"{path} looks blank"


def test_sunspots_command_meets_the_tutorial_and_repeats_exactly(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(SUNSPOTS + ["--out", str(a)]) == 0
    out = capsys.readouterr().out
    assert "RMSE (scaled)" in out and "RMSE (units)" in out and "time" in out
    assert cli.main(SUNSPOTS + ["--out", str(b)]) == 0
    for name in FILES:
        assert (a / name).is_file(), name
    m = json.loads((a / "metrics.json").read_text())
    assert m["test_rmse"] <= 0.10 and m["n_train_windows"] == 187 and m["n_test_windows"] == 46
    assert {"train_rmse", "test_rmse"} <= set(m)
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    assert json.loads((a / "history.json").read_text())["loss"] == json.loads((b / "history.json").read_text())["loss"]
    for png in ("forecast.png", "loss.png"):
        assert_png_not_blank(a / png)
    # The saved model carries the scaler and window settings, and predicts as trained.
    meta = elman.io.load_metadata(a / "model.npz")
    assert meta["extra"]["steps"] == 12 and meta["extra"]["stride"] == 12 and "min" in meta["extra"]["scaler"]
    assert meta["elman_version"] == elman.__version__ and meta["format_version"] == 1
    rnn = elman.load(a / "model.npz")
    sc = elman.data.MinMaxScaler.from_dict(meta["extra"]["scaler"])
    _, x = elman.datasets.sunspots()
    test = sc.transform(elman.data.split(x, 0.8)[1])
    X, y = elman.data.windows(test, 12, stride=12)
    np.testing.assert_allclose(elman.metrics.rmse(y, rnn.predict(X)), m["test_rmse"], rtol=1e-12)


def _noisy_sine_csv(path, n=400, bad=None):
    rng = np.random.default_rng(0)
    lines = ["date,level"]
    for i in range(n):
        lines.append(f"2000-01-{i:04d},{np.sin(i / 8) + 0.05 * rng.standard_normal():.6f}")
    if bad is not None:
        lines = bad(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_on_a_users_csv(tmp_path, capsys):
    csv = _noisy_sine_csv(tmp_path / "levels.csv")
    assert cli.main(["train", "--data", str(csv), "--steps", "8", "--hidden", "6", "--epochs", "30",
                     "--learning-rate", "0.01", "--quiet", "--out", str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["test_rmse_units"] < 0.3  # learned the sine under the noise
    assert "levels.csv" in capsys.readouterr().out
    assert_png_not_blank(tmp_path / "o" / "forecast.png")


@pytest.mark.parametrize("bad,extra,pattern", [
    (lambda L: L[:5] + ["2000-02-01,abc"] + L[6:], [], r"line 6, column 'level': 'abc' is not a finite number"),
    (lambda L: L[:9] + ["2000-02-01,"] + L[10:], [], r"line 10, column 'level': the cell is empty"),
    (None, ["--column", "height"], r"no column 'height'"),
    (lambda L: L[:12], [], r"11 values, fewer than a training and a test window need \(2 x \(steps \+ horizon\) = 18\)"),
    (lambda L: L[:22], ["--train-fraction", "0.9"], r"the test part has 3 rows, fewer than one window needs \(steps \+ horizon = 9\)"),
])
def test_broken_csv_exits_2_naming_line_or_column(tmp_path, capsys, bad, extra, pattern):
    import re

    csv = _noisy_sine_csv(tmp_path / "levels.csv", bad=bad)
    code = cli.main(["train", "--data", str(csv), "--steps", "8", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path / "o")] + extra)
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(pattern, err), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_bad_options_exit_2(tmp_path, capsys):
    assert cli.main(["train", "--data", str(tmp_path / "missing.csv"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["train", "--data", "sine", "--steps", "0", "--quiet"]) == 2
    assert "argument --steps: 0 is below 1; expected an integer >= 1" in capsys.readouterr().err
    assert cli.main(["train", "--epochs", "many"]) == 2
    assert "argument --epochs: 'many' is not an integer" in capsys.readouterr().err
    assert cli.main(["train", "--data", "sine", "--train-fraction", "2", "--quiet"]) == 2
    assert "train_fraction must be a number in (0, 1), got 2.0" in capsys.readouterr().err
    # --debug shows the traceback (raises) instead
    with pytest.raises(elman.errors.ParameterError):
        cli.main(["--debug", "train", "--data", "sine", "--train-fraction", "2", "--quiet"])


def test_train_with_keras_engine_then_inspect_and_verify_npz(keras, tmp_path, capsys):
    out = tmp_path / "k"
    assert cli.main(["train", "--data", "sine", "--steps", "5", "--hidden", "4", "--epochs", "2", "--engine", "keras",
                     "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["config"]["engine"] == "keras"
    capsys.readouterr()
    assert cli.main(["inspect", str(out / "model.npz")]) == 0
    assert "M (state_dim)  = 4" in capsys.readouterr().out
    assert cli.main(["verify", str(out / "model.npz")]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_python_dash_m_train_bad_input_exit_code(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, "-m", "elman", "train", "--data", str(tmp_path / "x.csv"), "--quiet"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "does not exist" in r.stderr


def test_demo_prints_both_rmses_times_parity_and_writes_plots(tmp_path):
    # As `make demo` runs it: a fresh process, whose stderr must stay empty (no
    # TensorFlow start-up lines, no retracing warnings, no progress-bar remnants).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-m", "elman", "demo", "--out", str(tmp_path / "d"), "--epochs", "5"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stderr == "", r.stderr[-3000:]
    out = r.stdout
    assert "parity figure" in out and "test RMSE (scaled)" in out and "training time (s)" in out
    for png in ("sine.png", "eigenvalues.png", "states.png", "sunspots-elman/forecast.png",
                "sunspots-elman/loss.png", "sunspots-keras/forecast.png", "sunspots-keras/loss.png"):
        assert_png_not_blank(tmp_path / "d" / png)


def test_plot_functions_draw_on_a_given_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from elman import plot

    rnn = elman.ElmanRNN.init(1, 5, 1, seed=0)
    X = np.random.default_rng(0).standard_normal((3, 20, 1))
    fig, axes = plt.subplots(2, 2)
    assert plot.actual_vs_predicted(np.sin(np.arange(30.0)), np.cos(np.arange(30.0)), split=20, ax=axes[0, 0]) is axes[0, 0]
    assert plot.loss_curves({"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.6, 0.4]}, ax=axes[0, 1]) is axes[0, 1]
    assert plot.state_trajectories(rnn.run(X).states, ax=axes[1, 0]) is axes[1, 0]
    assert plot.eigenvalues(rnn, ax=axes[1, 1]) is axes[1, 1]
    assert len(axes[0, 0].lines) == 3 and len(axes[0, 1].lines) == 2 and len(axes[1, 0].lines) == 5
    assert len(axes[1, 1].collections) == 1  # the eigenvalue dots
    plt.close(fig)
    ax = plot.eigenvalues(np.diag([0.5, 2.0]))  # a new figure when no Axes is given
    assert ax.get_xlim()[1] >= 2.0
    plt.close(ax.figure)
