"""Session fixtures; Keras is imported once (TensorFlow backend, CPU only)."""

import os
import sys

# PyTorch's registry build bundles Triton (GPU kernels), whose start-up crashes a process
# that has already loaded TensorFlow (a segfault, seen with torch 2.14.1 + triton 3.8 beside
# tensorflow-cpu 2.21; Triton first, then TensorFlow, is fine). elman runs torch on the CPU
# and never needs Triton: hide it, and torch reports it absent instead of importing it.
sys.modules.setdefault("triton", None)  # type: ignore[assignment]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def keras():
    import keras as k

    assert k.backend.backend() == "tensorflow"
    return k


@pytest.fixture
def keras64(keras):
    """Keras with floatx float64 for the duration of one test (a float64 model end to end)."""
    from helpers import floatx

    with floatx(keras, "float64"):
        yield keras
