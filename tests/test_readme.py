"""The README's code runs as printed: the tour, the ten-line loop, the training section."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_and_ten_line_loop(keras):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 3
    keras.utils.set_random_seed(0)
    ns: dict = {}
    exec(blocks[0].replace("model.predict(X)", "model.predict(X, verbose=0)"), ns)
    exec(blocks[1], ns)
    y_keras = ns["model"].predict(ns["X"], verbose=0)
    assert np.max(np.abs(y_keras - ns["Y"])) <= 1e-5
    assert np.max(np.abs(y_keras - ns["rnn"].predict(ns["X"]))) <= 1e-5
    # The training section, on the same X, y.
    exec(blocks[2], ns)
    assert ns["result"].history["val_loss"][-1] < 1e-3
    assert ns["grads"].A.shape == (50, 50) and np.isfinite(ns["loss"])
