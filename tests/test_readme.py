"""The README's code runs as printed: the tour, the ten-line loop, the training section."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_and_ten_line_loop(keras):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 4
    keras.utils.set_random_seed(0)
    ns: dict = {}
    exec(blocks[0].replace("model.predict(X)", "model.predict(X, verbose=0)"), ns)
    exec(blocks[1], ns)
    y_keras = ns["model"].predict(ns["X"], verbose=0)
    assert np.max(np.abs(y_keras - ns["Y"])) <= 1e-5
    assert np.max(np.abs(y_keras - ns["rnn"].predict(ns["X"]))) <= 1e-5
    # The training section, on the same X, y.
    exec(blocks[3], ns)
    assert ns["result"].history["val_loss"][-1] < 1e-3
    assert ns["grads"].A.shape == (50, 50) and np.isfinite(ns["loss"])


def test_readme_forecasting_commands_and_load_run(tmp_path, monkeypatch, capsys):
    """The forecasting section's two commands, as printed, on a generated sales.csv; then
    its Python lines on the run folder they wrote."""
    import shlex

    from elman import cli
    from test_forecasting import monthly_csv

    text = README.read_text()
    sh = next(b for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S) if "elman forecast" in b)
    commands = [shlex.split(line) for line in sh.replace("\\\n", " ").splitlines() if line.strip()]
    monkeypatch.chdir(tmp_path)
    _, x = monthly_csv(tmp_path / "sales.csv", years=12)
    monthly_csv(tmp_path / "sales-updated.csv", years=13)
    for words in commands:
        assert words[0] == ".venv/bin/elman"
        args, redirect = words[1:], None
        if ">" in args:
            args, redirect = args[: args.index(">")], args[args.index(">") + 1]
        capsys.readouterr()
        assert cli.main(args + (["--quiet"] if args[0] == "train" else [])) == 0, args
        if redirect:
            (tmp_path / redirect).write_text(capsys.readouterr().out)
    rows = (tmp_path / "next-year.csv").read_text().splitlines()
    assert rows[0] == "month,sales,lower,upper" and rows[1].startswith("2023-01,") and len(rows) == 13
    block = re.findall(r"```python\n(.*?)```", text, flags=re.S)[2]
    ns = {"elman": __import__("elman"), "x": x}
    exec(block, ns)
    assert ns["run"].transforms.spec == "log,seasonal-diff" and ns["run"].target == "sales"
    assert len(ns["run"].forecast(x, 12)) == 12
