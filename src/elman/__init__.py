"""elman: simple (Elman) recurrent networks in the state-space form of the theorems.

    z_{k+1} = s(A z_k + B u_k + b),    y_k = g(C z_{k+1} + d)

The core needs NumPy only; the Keras, PyTorch and ONNX bridges import their library
when first used.
"""

__version__ = "0.1.0"

from . import activations, data, datasets, errors, metrics, plot  # noqa: E402
from .forecast import forecast  # noqa: E402
from .errors import ElmanError, UnsupportedModelError  # noqa: E402
from .model import ElmanRNN, StackedRNN, StatefulRunner, Trajectory  # noqa: E402
from .io import load, save  # noqa: E402
from . import optim  # noqa: E402
from .train import FitResult, Grads, StackedGrads, fit, loss_and_grad  # noqa: E402
from .keras import (  # noqa: E402
    ParityReport,
    from_keras,
    get_states,
    reset_states,
    set_states,
    to_keras,
    verify_keras,
)
from .torch import from_torch, to_torch  # noqa: E402
from .onnx import to_onnx  # noqa: E402
from .codegen import export  # noqa: E402
from .runs import Run, load_run  # noqa: E402
from . import analysis  # noqa: E402

__all__ = [
    "__version__",
    "ElmanRNN",
    "StackedRNN",
    "StatefulRunner",
    "Trajectory",
    "ElmanError",
    "UnsupportedModelError",
    "ParityReport",
    "from_keras",
    "to_keras",
    "verify_keras",
    "from_torch",
    "to_torch",
    "to_onnx",
    "export",
    "Run",
    "load_run",
    "analysis",
    "reset_states",
    "get_states",
    "set_states",
    "load",
    "fit",
    "loss_and_grad",
    "FitResult",
    "Grads",
    "StackedGrads",
    "optim",
    "save",
    "activations",
    "data",
    "datasets",
    "metrics",
    "plot",
    "forecast",
    "errors",
]
