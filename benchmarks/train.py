"""elman.fit against Keras model.fit: wall time and test error, in one process.

    .venv/bin/python benchmarks/train.py [--seeds 5]

Two setups, each trained by both from the same initial weights (Keras's, read with
from_keras before Keras trains), for several seeds:

- sunspots (the SimpleRNN tutorial): monthly sunspots scaled to [0, 1], first 80% for
  training, non-overlapping windows of 12, SimpleRNN(3, tanh) + Dense(1, tanh),
  Adam 1e-3, batch 1, 20 epochs.
- sine (the universal-approximation notebook): 500 points of sin on [0, 50], sliding
  windows of 5, SimpleRNN(50, tanh) + Dense(1), Adam 1e-3, batch 32, 100 epochs;
  trained on the first 80% of the windows, tested on the rest.

Times are the fit calls alone. elman's compiled kernel is loaded (from numba's cache,
or compiled on a first run) before timing; that one-time cost is printed separately.

Each side shuffles with its own random generator, and on the sine setup that alone
moves the test RMSE of a seed by tens of percent either way. So the test errors are
also compared with the batches held equal ("same batches"): Keras is then given
elman's order of samples for each epoch (one ``fit(..., shuffle=False)`` call per
epoch, its optimizer state carried over), which isolates the training algorithm from
the luck of the shuffle. That run is not timed.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

import elman  # noqa: E402


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


def run_setup(name: str, seeds: list[int], paired: bool = True) -> dict:
    import keras

    cfg = SETUPS[name]
    (Xtr, ytr), (Xte, yte) = cfg["data"]()
    rows = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.Input((cfg["T"], 1)),
            keras.layers.SimpleRNN(cfg["units"], activation=cfg["act"]),
            keras.layers.Dense(1, activation=cfg["out"]),
        ])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        start = elman.from_keras(model)  # the same initial weights for both

        t0 = time.perf_counter()
        model.fit(Xtr, ytr, epochs=cfg["epochs"], batch_size=cfg["batch"], verbose=0)
        t_keras = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = elman.fit(start, Xtr, ytr, epochs=cfg["epochs"], batch_size=cfg["batch"], seed=seed, verbose=0)
        t_elman = time.perf_counter() - t0
        row = dict(seed=seed, keras_s=t_keras, elman_s=t_elman, engine=res.engine,
                   keras_rmse=rmse(model.predict(Xte, verbose=0), yte), elman_rmse=rmse(res.model.predict(Xte), yte))
        if paired:
            row["keras_same_rmse"] = keras_same_batches(start, cfg, Xtr, ytr, Xte, yte, seed)
        rows.append(row)
        same = f"   same batches: keras rmse {row['keras_same_rmse']:.4f}" if paired else ""
        print(f"  {name:<8s} seed {seed}: keras {t_keras:6.2f} s  rmse {row['keras_rmse']:.4f}  |  "
              f"elman ({res.engine}) {t_elman:6.3f} s  rmse {row['elman_rmse']:.4f}  |  ratio {t_keras / t_elman:6.1f}x"
              + same)
    keys = ["keras_s", "elman_s", "keras_rmse", "elman_rmse"] + (["keras_same_rmse"] if paired else [])
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    ratio = mean["keras_s"] / mean["elman_s"]
    excess = mean["elman_rmse"] / mean["keras_rmse"] - 1
    print(f"  {name}: mean over {len(seeds)} seeds: time ratio {ratio:.1f}x; test RMSE keras "
          f"{mean['keras_rmse']:.4f} vs elman {mean['elman_rmse']:.4f} ({100 * excess:+.1f}%)")
    out = dict(name=name, rows=rows, ratio=ratio, rmse_excess=excess, **mean)
    if paired:
        out["rmse_excess_same_batches"] = mean["elman_rmse"] / mean["keras_same_rmse"] - 1
        print(f"  {name}: with the same batches: keras {mean['keras_same_rmse']:.4f} vs elman "
              f"{mean['elman_rmse']:.4f} ({100 * out['rmse_excess_same_batches']:+.1f}%)")
    print()
    return out


def keras_same_batches(start, cfg, Xtr, ytr, Xte, yte, seed) -> float:
    """Keras trained from ``start`` on the batches elman.fit(seed=seed) draws."""
    import keras

    model = elman.to_keras(start)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    rng = np.random.default_rng(seed)  # elman.fit's generator: one permutation per epoch
    for _ in range(cfg["epochs"]):
        order = rng.permutation(len(Xtr))
        model.fit(Xtr[order], ytr[order], epochs=1, batch_size=cfg["batch"], shuffle=False, verbose=0)
    return rmse(model.predict(Xte, verbose=0), yte)


def warm_up() -> float:
    """Load (or compile) the numba kernel once, outside the timings."""
    t0 = time.perf_counter()
    X = np.zeros((2, 3, 1), np.float32)
    for dt in (np.float32, np.float64):
        rnn = elman.ElmanRNN.init(1, 2, 1, seed=0, dtype=dt)
        elman.fit(rnn, X, np.zeros((2, 1), dt), epochs=1, verbose=0)
    return time.perf_counter() - t0


def main(seeds: int = 5, setups=("sunspots", "sine"), paired: bool = True) -> list[dict]:
    print(f"elman kernel load/compile (one time): {warm_up():.2f} s\n")
    return [run_setup(name, list(range(seeds)), paired) for name in setups]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--setup", choices=list(SETUPS), action="append")
    p.add_argument("--no-same-batches", action="store_true", help="skip the untimed same-batches Keras run")
    a = p.parse_args()
    main(a.seeds, tuple(a.setup or SETUPS), paired=not a.no_same_batches)
