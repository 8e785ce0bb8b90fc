"""The tour ``elman demo`` (and ``make demo``) runs: a sine model trained in Keras,
its matrices taken out, and ``model.predict`` reproduced three ways."""

from __future__ import annotations

import math
import time

import numpy as np

from .data import windows
from .errors import as_path
from .keras import from_keras, import_keras

__all__ = ["sine_model", "numpy_loop", "python_loop", "run_demo"]


def sine_model(*, steps: int = 5, units: int = 50, epochs: int = 100, batch_size: int = 32, seed: int = 0):
    """The universal-approximation notebook's model, trained with a fixed seed.

    500 points of sin(t) on [0, 50], sliding windows of ``steps`` predicting the next
    value, SimpleRNN(units, tanh) + Dense(1), Adam, MSE. Returns (model, X, y).
    """
    keras = import_keras()
    t = np.linspace(0.0, 50.0, 500)
    X, y = windows(np.sin(t), steps)  # X (495, 5, 1), y (495, 1)
    X, y = X.astype(np.float32), y.astype(np.float32)
    keras.utils.set_random_seed(seed)  # Keras draws its initial weights and shuffles from this
    model = keras.Sequential([
        keras.Input(shape=(steps, 1)),
        keras.layers.SimpleRNN(units, activation="tanh"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model, X, y


def numpy_loop(A, B, b, C, d, X):
    """model.predict in plain NumPy, one sample at a time, from the five matrices.

    X (N, T, D) -> Y (N, K). The same ten lines the README shows.
    """
    Y = np.empty((len(X), C.shape[0]))
    for n, u in enumerate(X):  # u: (T, D), one sample
        z = np.zeros(A.shape[0])  # z_0 = 0
        for u_k in u:  # z_{k+1} = tanh(A z_k + B u_k + b)
            z = np.tanh(A @ z + B @ u_k + b)
        Y[n] = C @ z + d  # y = C z_T + d
    return Y


def python_loop(A, B, b, C, d, X):
    """The same in plain Python: lists of floats and math.tanh, no NumPy."""
    A, B, b, C, d = (np.asarray(m, dtype=float).tolist() for m in (A, B, b, C, d))
    M, K = len(A), len(C)
    out = []
    for u in np.asarray(X, dtype=float).tolist():
        z = [0.0] * M
        for u_k in u:
            z = [
                math.tanh(sum(A[i][j] * z[j] for j in range(M)) + sum(B[i][j] * u_k[j] for j in range(len(u_k))) + b[i])
                for i in range(M)
            ]
        out.append([sum(C[i][j] * z[j] for j in range(M)) + d[i] for i in range(K)])
    return out


def run_demo(*, epochs: int = 100, seed: int = 0, out="demo-out", echo=print) -> dict:
    """The tour: train, extract, reproduce; then the sunspots forecast by elman and by
    Keras side by side. Prints as it goes, writes plots to ``out``, returns the figures."""
    from ._outdir import RunFolder
    from .workflow import RUN_FILES

    out = as_path(out)
    # One folder written whole, like a training run: checked before the work starts (a
    # folder of the user's own files is refused, never overwritten), published at the end.
    with RunFolder(out, DEMO_FILES, folders={f"sunspots-{e}": RUN_FILES for e in ("elman", "keras")}) as stage:
        figures = _demo(epochs, seed, stage, out, echo)
    return figures


#: The files ``elman demo`` writes besides its two runs (sunspots-elman/, sunspots-keras/).
DEMO_FILES = ("sine.png", "eigenvalues.png", "states.png")


def _demo(epochs, seed, out, shown_out, echo) -> dict:
    echo("elman demo, part 1: a SimpleRNN(50) + Dense(1) on a sine wave, in Keras then in NumPy\n")
    t0 = time.perf_counter()
    model, X, y = sine_model(epochs=epochs, seed=seed)
    t_train = time.perf_counter() - t0
    echo(f"trained in Keras: X {X.shape}, {epochs} epochs, {t_train:.1f} s")
    rnn = from_keras(model)
    echo("\nz_{k+1} = tanh(A z_k + B u_k + b),  y = C z_T + d")
    for name, m in rnn.params.items():
        echo(f"  {name}: shape {m.shape}")
    echo(f"  spectral radius of A: {rnn.spectral_radius():.4f}")

    y_keras = model.predict(X, verbose=0)
    t0 = time.perf_counter()
    y_elman = rnn.predict(X)
    t_elman = time.perf_counter() - t0
    A, B, b, C, d = (np.asarray(m, dtype=np.float64) for m in rnn.params.values())
    y_numpy = numpy_loop(A, B, b, C, d, X)
    y_python = np.array(python_loop(A, B, b, C, d, X))
    figures = {
        "train_mse": float(np.mean((y_keras - y) ** 2)),
        "max_abs_diff_elman": float(np.max(np.abs(y_keras - y_elman))),
        "max_abs_diff_numpy_loop": float(np.max(np.abs(y_keras - y_numpy))),
        "max_abs_diff_python_loop": float(np.max(np.abs(y_keras - y_python))),
        "elman_predict_seconds": t_elman,
    }
    echo(f"\ntraining MSE: {figures['train_mse']:.2e}")
    echo("max |model.predict - ...| over all 495 windows (the parity figure):")
    echo(f"  elman rnn.predict        {figures['max_abs_diff_elman']:.2e}  (float32, {t_elman * 1e3:.2f} ms)")
    echo(f"  plain NumPy loop         {figures['max_abs_diff_numpy_loop']:.2e}  (float64)")
    echo(f"  plain Python loop        {figures['max_abs_diff_python_loop']:.2e}  (float64, math.tanh)")
    _sine_plots(out, rnn, X, y, y_elman)

    echo("\nelman demo, part 2: the sunspots tutorial (windows of 12, SimpleRNN(3, tanh) + Dense(1, tanh),")
    echo("batch 1, 20 epochs), trained from the same initial weights by elman and by Keras\n")
    from .workflow import TrainConfig, train_series

    runs = {}
    for name, engine in (("elman", "auto"), ("keras", "keras")):
        cfg = TrainConfig(data="sunspots", steps=12, stride=12, hidden=3, activation="tanh",
                          output_activation="tanh", epochs=20, batch_size=1, scale_on="all", engine=engine,
                          seed=seed)
        runs[name] = train_series(cfg, out / f"sunspots-{name}", verbose=0)
    elman_run, keras_run = runs["elman"], runs["keras"]
    echo(f"{'':18s}{'elman':>12s}{'Keras':>12s}")
    for key, label in (("train_rmse", "train RMSE"), ("test_rmse", "test RMSE")):
        echo(f"{label + ' (scaled)':18s}{elman_run['metrics'][key]:12.4f}{keras_run['metrics'][key]:12.4f}")
    echo(f"{'test RMSE (units)':18s}{elman_run['metrics']['test_rmse_units']:12.2f}"
         f"{keras_run['metrics']['test_rmse_units']:12.2f}")
    echo(f"{'training time (s)':18s}{elman_run['seconds']:12.2f}{keras_run['seconds']:12.2f}"
         f"   (elman engine: {elman_run['engine']})")
    echo(f"\nplots written to {shown_out}/: sine.png, eigenvalues.png, states.png, "
         "sunspots-elman/{forecast,loss}.png, sunspots-keras/{forecast,loss}.png")
    figures["sunspots"] = {e: {**r["metrics"], "seconds": r["seconds"]} for e, r in runs.items()}
    return figures


def _sine_plots(out, rnn, X, y, y_pred) -> None:
    from . import plot

    with plot.figure_file(out / "sine.png", figsize=(9, 3.5)) as ax:
        plot.actual_vs_predicted(y, y_pred, ax=ax, title="sine: original and elman's reproduction of model.predict")
    with plot.figure_file(out / "eigenvalues.png", figsize=(4.5, 4.5)) as ax:
        plot.eigenvalues(rnn, ax=ax)
    with plot.figure_file(out / "states.png", figsize=(6, 4)) as ax:
        plot.state_trajectories(rnn.run(X[:1]).states, ax=ax)
