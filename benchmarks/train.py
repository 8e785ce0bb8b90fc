"""elman.fit against Keras model.fit: wall time and test error, in one process.

    .venv/bin/python benchmarks/train.py [--seeds 5] [--setup sunspots|sine]

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

elman's compiled kernel is loaded (from numba's cache, or compiled on a first run)
before timing; that one-time cost is printed separately.
"""

from __future__ import annotations

import argparse
import math
import os
import time

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
    """Load (or compile) the numba kernel once, outside the timings."""
    t0 = time.perf_counter()
    X = np.zeros((2, 3, 1), np.float32)
    for dt in (np.float32, np.float64):
        rnn = elman.ElmanRNN.init(1, 2, 1, seed=0, dtype=dt)
        elman.fit(rnn, X, np.zeros((2, 1), dt), epochs=1, verbose=0)
    return time.perf_counter() - t0


def main(seeds: int = 5, setups=("sunspots", "sine"), epochs: int | None = None) -> list[dict]:
    print(f"elman kernel load/compile (one time): {warm_up():.2f} s\n")
    return [run_setup(name, list(range(seeds)), epochs) for name in setups]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--setup", choices=list(SETUPS), action="append")
    p.add_argument("--epochs", type=int, help="override the setups' epoch counts (for a quick look)")
    a = p.parse_args()
    main(a.seeds, tuple(a.setup or SETUPS), a.epochs)
