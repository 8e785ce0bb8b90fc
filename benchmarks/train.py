"""elman.fit against Keras model.fit: wall time and test error, in one process.

    .venv/bin/python benchmarks/train.py [--seeds 5] [--setup sunspots|sine]
    .venv/bin/python benchmarks/train.py --grid [--lines sunspots sine m32 m128 m256]
                                         [--epochs E] [--quick] [--no-torch] [--no-cold]

Without ``--grid``: the two setups below, test errors over several seeds. With
``--grid``: the size grid (see ``GRID`` and ``run_grid`` further down), final training
losses and times of Keras, elman and (when importable) PyTorch on the same batches, a
cold-start measurement of the sunspots line, and a Markdown table for the README.

Two setups, each trained for several seeds from the same initial weights (Keras's,
read with from_keras before anything trains):

- sunspots (the SimpleRNN tutorial): monthly sunspots scaled to [0, 1], first 80% for
  training, non-overlapping windows of 12, SimpleRNN(3, tanh) + Dense(1, tanh),
  Adam 1e-3, batch 1, 20 epochs.
- sine (the universal-approximation notebook): 500 points of sin on [0, 50], sliding
  windows of 5, SimpleRNN(50, tanh) + Dense(1), Adam 1e-3, batch 32, 100 epochs;
  trained on the first 80% of the windows, tested on the rest.

Each seed trains three times, each run timed (the fit call alone):

1. ``keras``: ``model.fit(X, y, ...)`` as users call it, Keras shuffling its own way.
   Under ``keras.utils.set_random_seed`` Keras 3 (TensorFlow backend) draws one
   permutation and reuses it in every epoch; elman.fit draws a new one each epoch.
2. ``keras, same batches``: a twin of the same Keras model and weights, given the very
   batches elman.fit(seed=seed) draws (a tf.data pipeline holding elman's permutation of
   each epoch, one fit call). Only the implementation differs between this run and 3.
3. ``elman``: ``elman.fit(start, X, y, ..., seed=seed)``.

Speed: the ratio of 1 to 3 (and of 2 to 3, for reference). Accuracy: the test RMSE of
3 against 2, mean over the seeds. Holding the batches equal is what "the same initial
weights" does for the start: on the sine setup the order of the batches alone moves a
seed's test RMSE by about 20% (coefficient of variation over shuffles of one start),
so a comparison of 1 and 3, which differ in their shuffles, measures the shuffles as
much as the training. It is printed too, with that spread.

elman's compiled kernel (whatever engine="auto" uses) is loaded before timing; that
one-time cost is printed separately.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable, NamedTuple

# PyTorch's registry build bundles Triton (GPU kernels), whose start-up crashes a process
# that has already loaded TensorFlow (a segfault, seen with torch 2.14.1 + triton 3.8 beside
# tensorflow-cpu 2.21; Triton first, then TensorFlow, is fine). elman runs torch on the CPU
# and never needs Triton: hide it, and torch reports it absent instead of importing it.
sys.modules.setdefault("triton", None)  # type: ignore[assignment]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

import elman  # noqa: E402

TARGET_SPEEDUP = {"sunspots": 30.0, "sine": 10.0}
TARGET_RMSE_EXCESS = 0.05


def sunspots_data():
    _, x = elman.datasets.sunspots()
    x = ((x - x.min()) / (x.max() - x.min())).astype(np.float32)  # the tutorial scales the whole series
    split = int(len(x) * 0.8)
    train = elman.data.windows(x[:split], 12, stride=12)
    test = elman.data.windows(x[split:], 12, stride=12)
    return train, test


def sine_data():
    _, x = elman.datasets.sine(500, 50.0)
    X, y = elman.data.windows(x.astype(np.float32), 5)
    n = int(0.8 * len(X))
    return (X[:n], y[:n]), (X[n:], y[n:])


SETUPS = {
    "sunspots": dict(data=sunspots_data, units=3, act="tanh", out="tanh", T=12, batch=1, epochs=20),
    "sine": dict(data=sine_data, units=50, act="tanh", out="linear", T=5, batch=32, epochs=100),
}


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def keras_model(cfg):
    import keras

    model = keras.Sequential([
        keras.Input((cfg["T"], 1)),
        keras.layers.SimpleRNN(cfg["units"], activation=cfg["act"]),
        keras.layers.Dense(1, activation=cfg["out"]),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def elman_batches(X, y, batch_size: int, epochs: int, seed: int):
    """The batches elman.fit(seed=seed) trains on, in order, as a tf.data pipeline.

    elman.fit draws ``default_rng(seed).permutation(N)`` at the start of each epoch and
    keeps the last partial batch; the quick test of this benchmark fails if that changes.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(len(X)) for _ in range(epochs)])  # (epochs, N)
    per_epoch = tf.data.Dataset.from_tensor_slices((X[orders], y[orders]))
    return per_epoch.flat_map(lambda Xe, ye: tf.data.Dataset.from_tensor_slices((Xe, ye)).batch(batch_size))


def run_setup(name: str, seeds: list[int], epochs: int | None = None) -> dict:
    import keras

    cfg = SETUPS[name]
    epochs = epochs or cfg["epochs"]
    (Xtr, ytr), (Xte, yte) = cfg["data"]()
    steps = math.ceil(len(Xtr) / cfg["batch"])
    rows = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = keras_model(cfg)
        start = elman.from_keras(model)  # the same initial weights for all three runs
        twin = keras_model(cfg)
        twin.set_weights(model.get_weights())
        batches = elman_batches(Xtr, ytr, cfg["batch"], epochs, seed)

        t0 = time.perf_counter()
        model.fit(Xtr, ytr, epochs=epochs, batch_size=cfg["batch"], verbose=0)
        t_keras = time.perf_counter() - t0
        t0 = time.perf_counter()
        twin.fit(batches, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0)
        t_same = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = elman.fit(start, Xtr, ytr, epochs=epochs, batch_size=cfg["batch"], seed=seed, verbose=0)
        t_elman = time.perf_counter() - t0

        row = dict(seed=seed, keras_s=t_keras, same_s=t_same, elman_s=t_elman, engine=res.engine,
                   keras_rmse=rmse(model.predict(Xte, verbose=0), yte),
                   same_rmse=rmse(twin.predict(Xte, verbose=0), yte),
                   elman_rmse=rmse(res.model.predict(Xte), yte))
        rows.append(row)
        print(f"  {name:<8s} seed {seed:2d}: keras {t_keras:6.2f} s rmse {row['keras_rmse']:.4f} | "
              f"keras, same batches {t_same:6.2f} s rmse {row['same_rmse']:.4f} | "
              f"elman ({res.engine}) {t_elman:6.3f} s rmse {row['elman_rmse']:.4f} | {t_keras / t_elman:6.1f}x")

    mean = {k: float(np.mean([r[k] for r in rows])) for k in
            ("keras_s", "same_s", "elman_s", "keras_rmse", "same_rmse", "elman_rmse")}
    out = dict(name=name, epochs=epochs, rows=rows, **mean,
               ratio=mean["keras_s"] / mean["elman_s"], ratio_same=mean["same_s"] / mean["elman_s"],
               rmse_excess=mean["elman_rmse"] / mean["same_rmse"] - 1,
               rmse_excess_independent=mean["elman_rmse"] / mean["keras_rmse"] - 1)
    log_ratio = np.log([r["elman_rmse"] / r["keras_rmse"] for r in rows])
    spread = float(np.std(log_ratio, ddof=1)) if len(rows) > 1 else float("nan")
    fast = out["ratio"] >= TARGET_SPEEDUP[name]
    good = out["rmse_excess"] <= TARGET_RMSE_EXCESS
    print(f"  {name}: mean over {len(seeds)} seeds, {epochs} epochs")
    print(f"    time: keras {mean['keras_s']:.2f} s, elman {mean['elman_s']:.3f} s: {out['ratio']:.1f}x faster "
          f"(target {TARGET_SPEEDUP[name]:.0f}x: {'met' if fast else 'NOT met'}); "
          f"{out['ratio_same']:.1f}x against the same-batches run")
    print(f"    test RMSE, same batches: keras {mean['same_rmse']:.4f} vs elman {mean['elman_rmse']:.4f} "
          f"({100 * out['rmse_excess']:+.1f}%; target <= {100 * TARGET_RMSE_EXCESS:+.0f}%: "
          f"{'met' if good else 'NOT met'})")
    print(f"    test RMSE, each its own shuffle: keras {mean['keras_rmse']:.4f} vs elman {mean['elman_rmse']:.4f} "
          f"({100 * out['rmse_excess_independent']:+.1f}%; per-seed log ratio spread {spread:.2f})\n")
    return out


def warm_up() -> float:
    """Load elman's compiled kernel (if any) once, outside the timings."""
    t0 = time.perf_counter()
    X = np.zeros((2, 3, 1), np.float32)
    for dt in (np.float32, np.float64):
        rnn = elman.ElmanRNN.init(1, 2, 1, seed=0, dtype=dt)
        elman.fit(rnn, X, np.zeros((2, 1), dt), epochs=1, verbose=0)
    return time.perf_counter() - t0



# --------------------------------------------------------------------------- the size grid
#
# Each line trains SimpleRNN(M, tanh) + Dense(1) (Dense(1, tanh) on sunspots, as the
# tutorial does) on float32 data, Adam 1e-3, MSE, three times in this process from the
# same initial weights (Keras's, read with from_keras before anything trains) and on
# the same batches (elman.fit(seed=seed)'s permutation of each epoch):
#
# - Keras: model.fit on the elman_batches pipeline (shuffle=False).
# - elman: elman.fit(start, X, y, seed=seed), engine "auto" (whatever fit picks today).
# - PyTorch, when importable: torch.nn.RNN(D, M, tanh, batch_first) + nn.Linear(M, 1)
#   with weight_ih = B, weight_hh = A, bias_ih = b, bias_hh = 0 (frozen: two trainable
#   biases would each get the full gradient and Adam would move their sum twice as
#   fast as Keras's one bias), Linear weight = C, bias = d; torch.optim.Adam(lr=1e-3,
#   eps=1e-7), torch's default thread count.
#
# Each run's final training loss is its last epoch's mean batch loss, weighted by batch
# size (Keras's history["loss"][-1], elman's res.history["loss"][-1], the same sum for
# torch), so the three agree when the training does. Times are the fit call (Keras's
# includes tracing its train function: that is what a user waits for); the data, the
# tf.data pipeline and the torch tensors are built before the clock starts.

TARGET_GRID_SPEEDUP = 1.5     # every line: Keras time / elman time
TARGET_TORCH_LINES = ("m128", "m256")  # elman at least as fast as torch on these
TARGET_COLD = 100.0           # sunspots: Keras time / elman's first fit in a fresh process
TARGET_WARM = 300.0           # sunspots: Keras time / elman's second fit in that process
TARGET_LOSS_REL = 1e-4        # |loss - Keras's loss| / Keras's loss
COLD_LINES = ("sunspots",)    # the lines whose cold start is measured


class Line(NamedTuple):
    """One line of the size grid. ``data`` () -> (X (N, T, D), y (N, 1)) float32; None
    means ``smooth_data(N, T, D)``."""

    name: str
    M: int
    T: int
    N: int
    batch: int
    epochs: int
    D: int = 4
    out: str = "linear"
    quick_epochs: int = 1
    data: Callable | None = None
    note: str = ""


def sunspots_train():
    return sunspots_data()[0]


def sine_all():
    """All 495 windows of the sine notebook (it trains on all of them)."""
    _, x = elman.datasets.sine(500, 50.0)
    return elman.data.windows(x.astype(np.float32), 5)


def smooth_data(N: int, T: int, D: int, seed: int = 0):
    """N sliding windows of T steps of a smooth D-channel series (sines of random
    frequencies and phases plus a little noise), target the next value of channel 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(N + T, dtype=np.float64)[:, None]
    freq = rng.uniform(0.02, 0.2, D)
    phase = rng.uniform(0, 2 * np.pi, D)
    series = np.sin(freq * t + phase) + 0.05 * rng.standard_normal((N + T, D))
    X, y = elman.data.windows(series, T)
    return X.astype(np.float32), y[:, :1].astype(np.float32)


GRID = (
    Line("sunspots", 3, 12, 187, 1, 20, D=1, out="tanh", quick_epochs=2, data=sunspots_train,
         note="sunspots tutorial"),
    Line("sine", 50, 5, 495, 32, 100, D=1, quick_epochs=10, data=sine_all, note="sine notebook"),
    Line("m32", 32, 50, 4096, 64, 3),
    Line("m128", 128, 50, 4096, 64, 3),
    Line("m256", 256, 100, 2048, 128, 3),
)


def line_data(line: Line, seed: int = 0):
    X, y = line.data() if line.data is not None else smooth_data(line.N, line.T, line.D, seed)
    X, y = np.ascontiguousarray(X, np.float32), np.ascontiguousarray(y, np.float32)
    assert X.shape == (line.N, line.T, line.D) and y.shape == (line.N, 1), (line, X.shape, y.shape)
    return X, y


def epoch_orders(N: int, epochs: int, seed: int) -> list[np.ndarray]:
    """elman.fit(seed=seed)'s permutation of each epoch (as elman_batches draws them)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(N) for _ in range(epochs)]


def torch_fit(start, X, y, batch: int, orders, out: str):
    """(seconds, final loss) of torch.nn.RNN + nn.Linear from ``start``'s weights on the
    batches given by ``orders``; None when PyTorch is not importable."""
    try:
        import torch
    except ImportError:
        return None
    D, M = X.shape[2], start.A.shape[0]
    rnn = torch.nn.RNN(D, M, nonlinearity="tanh", batch_first=True)
    lin = torch.nn.Linear(M, 1)
    with torch.no_grad():
        for param, value in ((rnn.weight_ih_l0, start.B), (rnn.weight_hh_l0, start.A), (rnn.bias_ih_l0, start.b),
                             (lin.weight, start.C), (lin.bias, start.d)):
            param.copy_(torch.tensor(np.asarray(value, np.float32)))
        rnn.bias_hh_l0.zero_()
    rnn.bias_hh_l0.requires_grad_(False)  # Keras and elman have one bias b
    params = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, lin.weight, lin.bias]
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    batches = [[torch.from_numpy(order[i:i + batch]) for i in range(0, len(order), batch)] for order in orders]
    squash = torch.tanh if out == "tanh" else (lambda o: o)

    t0 = time.perf_counter()
    final = float("nan")
    for epoch in batches:
        total, seen = 0.0, 0
        for idx in epoch:
            xb, yb = Xt[idx], yt[idx]
            _, h = rnn(xb)                                  # h (1, batch, M): the last state
            loss = torch.nn.functional.mse_loss(squash(lin(h[0])), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        final = total / seen
    return time.perf_counter() - t0, final


_COLD_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import elman
t_import = time.perf_counter() - t0
model_path, data_path, epochs, batch, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
start = elman.load(model_path)
with np.load(data_path) as f:
    X, y = f["X"], f["y"]
times, losses, engines = [], [], []
for _ in range(2):
    t0 = time.perf_counter()
    res = elman.fit(start, X, y, epochs=epochs, batch_size=batch, seed=seed, verbose=0)
    times.append(time.perf_counter() - t0)
    losses.append(res.history["loss"][-1])
    engines.append(res.engine)
print("COLD " + json.dumps(dict(import_s=t_import, cold_s=times[0], warm_s=times[1], loss=losses[0],
                                warm_loss=losses[1], engine=engines[0])))
"""


def cold_start(start, X, y, epochs: int, batch: int, seed: int) -> dict:
    """elman.fit timed in a fresh Python process: its first call (cold: whatever elman
    loads or prepares on first use happens inside it) and its second (warm). Only the fit
    calls are timed; the import of numpy and elman is reported beside them."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path, data_path = os.path.join(tmp, "start.npz"), os.path.join(tmp, "data.npz")
        start.save(model_path)
        np.savez(data_path, X=X, y=y)
        proc = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, model_path, data_path, str(epochs), str(batch),
                               str(seed)], capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("COLD ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the cold-start subprocess failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("COLD "):])


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else abs(a - b)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _grid_keras_model(line: Line):
    import keras

    model = keras.Sequential([
        keras.Input((line.T, line.D)),
        keras.layers.SimpleRNN(line.M, activation="tanh"),
        keras.layers.Dense(1, activation=line.out),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def run_line(line: Line, epochs: int, seed: int = 0, torch: bool = True, cold: bool = False,
             repeat: int = 1) -> dict:
    """One grid line. With ``repeat`` > 1 Keras's and elman's fits alternate that many
    times from the same start on the same batches, and each side's fastest run counts
    (the machine's noise only ever adds time)."""
    import keras

    X, y = line_data(line, seed)
    keras.utils.set_random_seed(seed)
    model = _grid_keras_model(line)
    start = elman.from_keras(model)  # the same initial weights for all runs
    weights = model.get_weights()
    steps = math.ceil(line.N / line.batch)
    keras_times, elman_times = [], []
    for i in range(repeat):
        if i:
            model = _grid_keras_model(line)
            model.set_weights(weights)
        batches = elman_batches(X, y, line.batch, epochs, seed)
        t0 = time.perf_counter()
        hist = model.fit(batches, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0)
        keras_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = elman.fit(start, X, y, epochs=epochs, batch_size=line.batch, seed=seed, verbose=0)
        elman_times.append(time.perf_counter() - t0)
    t_keras, t_elman = min(keras_times), min(elman_times)
    if repeat > 1:
        print(f"  {line.name}: {repeat} runs each, the fastest counts; keras "
              f"{' '.join(f'{x:.3g}' for x in keras_times)} s, elman {' '.join(f'{x:.3g}' for x in elman_times)} s")
    loss_keras, loss_elman = float(hist.history["loss"][-1]), float(res.history["loss"][-1])

    r = dict(name=line.name, M=line.M, T=line.T, N=line.N, batch=line.batch, D=line.D, epochs=epochs,
             keras_s=t_keras, elman_s=t_elman, engine=res.engine, ratio=t_keras / t_elman,
             keras_loss=loss_keras, elman_loss=loss_elman, loss_rel=_rel(loss_elman, loss_keras),
             torch_s=None, torch_loss=None, torch_ratio=None, torch_loss_rel=None)
    tr = torch_fit(start, X, y, line.batch, epoch_orders(line.N, epochs, seed), line.out) if torch else None
    if tr is not None:
        r.update(torch_s=tr[0], torch_loss=tr[1], torch_ratio=tr[0] / t_elman, torch_loss_rel=_rel(tr[1], loss_keras))

    head = f"{line.name} ({line.note}): " if line.note else f"{line.name}: "
    print(f"  {head}M={line.M} T={line.T} N={line.N} batch={line.batch} D={line.D} epochs={epochs}")
    print(f"    keras {t_keras:8.3f} s          final loss {loss_keras:.7g}")
    print(f"    elman {t_elman:8.3f} s ({res.engine:5s})  final loss {loss_elman:.7g}   keras/elman {r['ratio']:7.2f}x "
          f"(target >= {TARGET_GRID_SPEEDUP}x: {_met(r['ratio'] >= TARGET_GRID_SPEEDUP)})")
    if tr is not None:
        extra = f" (target >= 1x: {_met(r['torch_ratio'] >= 1)})" if line.name in TARGET_TORCH_LINES else ""
        print(f"    torch {tr[0]:8.3f} s          final loss {tr[1]:.7g}   torch/elman {r['torch_ratio']:7.2f}x{extra}")
    print(f"    final loss rel diff to keras: elman {r['loss_rel']:.1e} (target <= {TARGET_LOSS_REL:.0e}: "
          f"{_met(r['loss_rel'] <= TARGET_LOSS_REL)})"
          + ("" if tr is None else f", torch {r['torch_loss_rel']:.1e}"))
    if cold:
        c = cold_start(start, X, y, epochs, line.batch, seed)
        c.update(cold_ratio=t_keras / c["cold_s"], warm_ratio=t_keras / c["warm_s"],
                 loss_rel=_rel(c["loss"], loss_elman))
        r["cold"] = c
        print(f"    elman in a fresh process (its import of numpy and elman, {c['import_s']:.2f} s, not counted):")
        print(f"      first fit  {c['cold_s']:8.3f} s ({c['engine']}), keras/elman {c['cold_ratio']:7.1f}x "
              f"(target >= {TARGET_COLD:.0f}x: {_met(c['cold_ratio'] >= TARGET_COLD)})")
        print(f"      second fit {c['warm_s']:8.3f} s, keras/elman {c['warm_ratio']:7.1f}x "
              f"(target >= {TARGET_WARM:.0f}x: {_met(c['warm_ratio'] >= TARGET_WARM)}); "
              f"final loss rel diff to this process's fit {c['loss_rel']:.1e}")
    print(flush=True)
    return r


def _fmt_s(x) -> str:
    return "—" if x is None else f"{x:.0f}" if x >= 1000 else f"{x:#.3g}".rstrip(".")


def _fmt_x(x) -> str:
    return "—" if x is None else f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _fmt_e(x) -> str:
    return "—" if x is None else f"{x:.1e}"


def grid_table(results: list[dict]) -> str:
    """The Markdown table of the grid (one row per line) and, when measured, the cold start."""
    rows = ["| line | M | T | N | batch | epochs | Keras s | elman s | Keras/elman | torch s | torch/elman "
            "| loss rel diff | torch loss rel diff |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        rows.append(f"| {r['name']} | {r['M']} | {r['T']} | {r['N']} | {r['batch']} | {r['epochs']} "
                    f"| {_fmt_s(r['keras_s'])} | {_fmt_s(r['elman_s'])} ({r['engine']}) | {_fmt_x(r['ratio'])} "
                    f"| {_fmt_s(r['torch_s'])} | {_fmt_x(r['torch_ratio'])} | {_fmt_e(r['loss_rel'])} "
                    f"| {_fmt_e(r['torch_loss_rel'])} |")
    for r in results:
        c = r.get("cold")
        if c is None:
            continue
        rows += ["", f"| {r['name']}: elman.fit | s | Keras/elman |", "|---|--:|--:|",
                 f"| in the benchmark's process | {_fmt_s(r['elman_s'])} | {_fmt_x(r['ratio'])} |",
                 f"| fresh process, first fit (cold) | {_fmt_s(c['cold_s'])} | {_fmt_x(c['cold_ratio'])} |",
                 f"| fresh process, second fit (warm) | {_fmt_s(c['warm_s'])} | {_fmt_x(c['warm_ratio'])} |"]
    return "\n".join(rows)


def grid_targets(results: list[dict]) -> list[tuple[str, bool]]:
    """(description, met) for each target the results can be checked against."""
    out = []
    for r in results:
        out.append((f"{r['name']}: elman >= {TARGET_GRID_SPEEDUP}x faster than Keras ({r['ratio']:.2f}x)",
                    r["ratio"] >= TARGET_GRID_SPEEDUP))
    for r in results:
        if r["name"] in TARGET_TORCH_LINES and r["torch_ratio"] is not None:
            out.append((f"{r['name']}: elman at least as fast as torch (torch/elman {r['torch_ratio']:.2f}x)",
                        r["torch_ratio"] >= 1))
    for r in results:
        c = r.get("cold")
        if c is not None:
            out.append((f"{r['name']}: cold elman >= {TARGET_COLD:.0f}x Keras ({c['cold_ratio']:.0f}x)",
                        c["cold_ratio"] >= TARGET_COLD))
            out.append((f"{r['name']}: warm elman >= {TARGET_WARM:.0f}x Keras ({c['warm_ratio']:.0f}x)",
                        c["warm_ratio"] >= TARGET_WARM))
    for r in results:
        out.append((f"{r['name']}: elman's final loss within {TARGET_LOSS_REL:.0e} of Keras's ({r['loss_rel']:.1e})",
                    r["loss_rel"] <= TARGET_LOSS_REL))
        # torch's distance to Keras is in the table, for reference: not a target of elman's
        # (its Adam adds epsilon to the bias-corrected root, Keras to the uncorrected one).
    return out


def run_grid(lines=None, epochs: int | None = None, quick: bool = False, seed: int = 0, torch: bool = True,
             cold: bool = True, repeat: int = 1) -> list[dict]:
    """Train every line of ``lines`` (Line tuples or names from GRID; default all of GRID),
    print each, the targets and the Markdown table; return one dict per line.
    ``epochs`` overrides every line's count; ``quick`` uses each line's quick_epochs.
    ``cold`` measures the cold start of the COLD_LINES (sunspots) when they run;
    ``repeat``: Keras's and elman's fits of each line alternate that many times, the
    fastest of each counting."""
    by_name = {line.name: line for line in GRID}
    chosen = [by_name[x] if isinstance(x, str) else x for x in (GRID if lines is None else lines)]
    try:
        import torch as _torch

        torch_note = f"torch {_torch.__version__}, {_torch.get_num_threads()} threads" if torch else "torch skipped"
    except ImportError:
        torch_note = "torch not importable: no torch column"
    load = f", load average {os.getloadavg()[0]:.2f} (other work on the machine skews the times)" \
        if hasattr(os, "getloadavg") else ""
    print(f"size grid, float32, Adam 1e-3, MSE, seed {seed}; {torch_note}; {os.cpu_count()} CPUs{load}")
    print(f"elman kernel load/compile (one time): {warm_up():.2f} s\n")
    results = []
    for line in chosen:
        n_epochs = epochs or (line.quick_epochs if quick else line.epochs)
        results.append(run_line(line, n_epochs, seed, torch=torch, cold=cold and line.name in COLD_LINES,
                                repeat=repeat))
    print("targets:")
    for text, ok in grid_targets(results):
        print(f"  [{_met(ok)}] {text}")
    print("\n" + grid_table(results) + "\n")
    return results


def main(seeds: int = 5, setups=("sunspots", "sine"), epochs: int | None = None, grid: bool = False,
         lines=None, quick: bool = False, torch: bool = True, cold: bool = True, seed: int = 0,
         repeat: int = 1) -> list[dict]:
    """The two setups over ``seeds`` seeds (default), or with ``grid`` the size grid, which
    ends with its Markdown table."""
    if grid:
        return run_grid(lines, epochs, quick, seed, torch, cold, repeat)
    print(f"elman kernel load/compile (one time): {warm_up():.2f} s\n")
    return [run_setup(name, list(range(seeds)), epochs) for name in setups]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds per setup (without --grid)")
    p.add_argument("--setup", choices=list(SETUPS), action="append", help="a setup (without --grid)")
    p.add_argument("--epochs", type=int, help="override the epoch counts (for a quick look)")
    p.add_argument("--grid", action="store_true", help="run the size grid and print its Markdown table")
    p.add_argument("--lines", nargs="+", metavar="NAME",
                   help=f"grid lines to run (implies --grid; comma or space separated): "
                        f"{', '.join(line.name for line in GRID)}")
    p.add_argument("--quick", action="store_true", help="grid with few epochs (sunspots 2, sine 10, others 1)")
    p.add_argument("--no-torch", action="store_true", help="grid without the PyTorch runs")
    p.add_argument("--no-cold", action="store_true", help="grid without the sunspots cold-start subprocess")
    p.add_argument("--seed", type=int, default=0, help="the grid's seed (initial weights and shuffles)")
    p.add_argument("--repeat", type=int, default=1,
                   help="grid: alternate Keras's and elman's fits this many times, the fastest of each counting")
    a = p.parse_args()
    names = None
    if a.lines:
        names = [n for item in a.lines for n in item.split(",") if n]
        unknown = sorted(set(names) - {line.name for line in GRID})
        if unknown:
            p.error(f"unknown grid line(s) {', '.join(unknown)}; choose from {', '.join(l.name for l in GRID)}")
    main(a.seeds, tuple(a.setup or SETUPS), a.epochs, grid=a.grid or bool(names) or a.quick, lines=names,
         quick=a.quick, torch=not a.no_torch, cold=not a.no_cold, seed=a.seed, repeat=max(1, a.repeat))
