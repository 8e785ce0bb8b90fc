"""The five worked examples run top to bottom in a fresh kernel, and keep to the rules:
stored without outputs, public elman names only, Keras 3 APIs that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# The public names of ../shared/DESIGN.md (and the modules it names).
PUBLIC = {
    "ElmanRNN", "StackedRNN", "from_keras", "to_keras", "verify_keras", "reset_states", "get_states", "set_states",
    "loss_and_grad", "fit", "forecast", "load", "save", "datasets", "data", "metrics", "plot", "analysis",
}


def test_the_six_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "01_universal_approximation.ipynb", "02_forward_by_hand.ipynb", "03_simple_rnn_in_keras.ipynb",
        "04_memory_sum.ipynb", "05_rnn_from_scratch.ipynb", "06_dynamics.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_clean_and_public_api_only(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    used = set(re.findall(r"\belman\.([A-Za-z_]\w*)", code))
    assert used <= PUBLIC, f"not public: {used - PUBLIC}"
    for old in ("vis_utils", "batch_input_shape", "reset_states()", "from tensorflow import keras"):
        assert old not in code, old
    assert "assert " in nb.cells[-1].source  # ends with its checks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executes_top_to_bottom(path, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # A fresh kernel of this venv; a failing cell or assert raises CellExecutionError.
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
