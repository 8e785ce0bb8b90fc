"""Each activation against Keras's own function, and its derivative against central differences."""

from __future__ import annotations

import numpy as np
import pytest

from elman import activations

ACTS = activations.names()
# Points away from the kinks (0 for relu-likes, -3/3 for hard_sigmoid, 6 for relu6),
# where a derivative is defined and central differences are accurate.
X = np.concatenate([np.linspace(-7.3, 7.3, 147), [-30.0, -12.5, 12.5, 30.0]])
X = X[np.min(np.abs(X[:, None] - np.array([0.0, -3.0, 3.0, 6.0])), axis=1) > 1e-3]


@pytest.mark.parametrize("name", ACTS)
def test_derivative_against_central_differences(name):
    act = activations.get(name)
    h = 1e-6
    fd = (act.f(X + h) - act.f(X - h)) / (2 * h)
    rel = np.abs(act.df(X) - fd) / np.maximum(1.0, np.abs(fd))
    assert np.max(rel) < 1e-7, f"{name}: max rel err {np.max(rel):.2e} at x = {X[np.argmax(rel)]}"


@pytest.mark.parametrize("name", ACTS)
def test_value_equals_keras_float64(keras, name):
    x = np.linspace(-8, 8, 801)
    theirs = np.asarray(keras.activations.get(name)(keras.ops.convert_to_tensor(x)))
    tol = 1e-8 if name == "gelu" else 1e-14  # TensorFlow's float64 erfc; see test_keras_parity
    np.testing.assert_allclose(activations.get(name).f(x), theirs, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(name, dtype):
    x = np.linspace(-2, 2, 9, dtype=dtype)
    act = activations.get(name)
    assert act.f(x).dtype == dtype and act.df(x).dtype == dtype


def test_no_overflow_warnings_far_out():
    x = np.array([-1000.0, 1000.0])
    for name in ("sigmoid", "softplus", "elu", "selu", "silu"):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            act = activations.get(name)
            assert np.all(np.isfinite(act.f(x))) and np.all(np.isfinite(act.df(x)))


def test_names_and_aliases():
    assert activations.get(None).name == "linear"
    assert activations.get("swish").name == "silu"
    assert activations.get("TANH").name == "tanh"
    assert set(ACTS) == {"linear", "tanh", "relu", "sigmoid", "hard_sigmoid", "softplus", "softsign", "elu",
                         "selu", "exponential", "silu", "gelu", "relu6", "leaky_relu"}
