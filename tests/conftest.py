"""Session fixtures; Keras is imported once (TensorFlow backend, CPU only)."""

import os

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
