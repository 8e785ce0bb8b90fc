"""``.pt`` files of :mod:`elman.torch` (for ``elman convert``).

A file is ``torch.save`` of a plain dict::

    {"state_dict": to_torch(rnn).state_dict(),   # tensors only
     "config": {"format": "elman-torch", "format_version": 1, "dtype": ..., "input_dim": D,
                "state_dims": [M_1, ...], "output_dim": K or None, "has_readout": ...,
                "activations": [...], "go_backwards": [...], "output_activation": g,
                "return_sequences": ..., "batch_first": ..., "kind": ..., "elman_version": ...}}

It is read back with ``torch.load(path, weights_only=True, map_location="cpu")`` only:
tensors and plain data, never pickled code. The config is checked key by key, the module
it describes is built (with no weights drawn), and the state_dict must have exactly its
keys, shapes and dtype; the weights then go through :func:`elman.torch.from_torch`, the
one place of the mapping. Anything else is a one-line :class:`ModelFileError`.
"""

from __future__ import annotations

import os
import secrets

import numpy as np

from . import __version__
from .errors import ElmanError, ModelFileError, OutputError, UnsupportedModelError, as_path, one_line
from .model import ElmanRNN
from .stacked import StackedRNN, from_layers
from .validation import _check_file, _check_model

__all__ = ["save_pt", "load_pt", "PT_FORMAT", "PT_VERSION"]

PT_FORMAT, PT_VERSION = "elman-torch", 1
EXPECTED = "expected a .pt file written by elman.torch.save_pt"
# key: (type check, what it should be)
CONFIG_KEYS = {
    "format_version": (lambda v: _is_int(v) and 1 <= v <= PT_VERSION, f"an integer 1 .. {PT_VERSION}"),
    "dtype": (lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
    "input_dim": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "state_dims": (lambda v: isinstance(v, list) and v and all(_is_int(m) and m >= 1 for m in v),
                   "a non-empty list of positive integers"),
    "output_dim": (lambda v: v is None or (_is_int(v) and v >= 1), "a positive integer or None"),
    "activations": (lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v), "a list of names"),
    "go_backwards": (lambda v: isinstance(v, list) and all(isinstance(g, bool) for g in v), "a list of bools"),
    "output_activation": (lambda v: isinstance(v, str), "a name"),
    "return_sequences": (lambda v: isinstance(v, bool), "True or False"),
    "batch_first": (lambda v: isinstance(v, bool), "True or False"),
    "has_readout": (lambda v: isinstance(v, bool), "True or False"),
    "kind": (lambda v: v in ("ElmanRNN", "StackedRNN"), "'ElmanRNN' or 'StackedRNN'"),
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def pt_config(rnn: ElmanRNN | StackedRNN, batch_first: bool = True) -> dict:
    """The plain (JSON-able) description of ``rnn`` that a .pt file stores beside its weights."""
    layers = list(rnn.layers) if isinstance(rnn, StackedRNN) else [rnn]
    return {
        "format": PT_FORMAT, "format_version": PT_VERSION, "elman_version": __version__,
        "kind": type(rnn).__name__, "dtype": rnn.dtype.name, "input_dim": rnn.input_dim,
        "state_dims": [l.state_dim for l in layers],
        "output_dim": rnn.output_dim if rnn.C is not None else None,
        "has_readout": rnn.C is not None,
        "activations": [l.activation for l in layers],
        "go_backwards": [l.go_backwards for l in layers],
        "output_activation": rnn.output_activation,
        "return_sequences": rnn.return_sequences, "batch_first": batch_first,
    }


def save_pt(rnn: ElmanRNN | StackedRNN, path) -> None:
    """Write ``rnn`` as a ``.pt`` file: ``{"state_dict": to_torch(rnn).state_dict(),
    "config": {...}}`` (see the module docstring), atomically (a temporary file in the same
    folder, then renamed). Load it with :func:`load_pt`, or in plain torch with
    ``torch.load(path, weights_only=True)``.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "rnn.pt")
    >>> save_pt(ElmanRNN.init(1, 2, 1, seed=0), path)
    >>> load_pt(path).state_dim
    2
    """
    from .torch import STATE_ACTIVATIONS, import_torch, to_torch

    _check_model(rnn)
    p = as_path(path)
    for j, layer in enumerate(rnn.layers if isinstance(rnn, StackedRNN) else [rnn]):
        if layer.activation not in STATE_ACTIVATIONS:
            raise UnsupportedModelError(
                f"cannot write {str(p)!r}: layer {j} has state activation {layer.activation!r}, which "
                f"torch.nn.RNN lacks (nonlinearity 'tanh' or 'relu' only), and a .pt file is the state dict "
                f"of torch.nn.RNN modules; save it as .npz, .keras or .onnx, which keep {layer.activation!r}")
    torch = import_torch()
    obj = {"state_dict": to_torch(rnn).state_dict(), "config": pt_config(rnn)}
    if p.is_dir():
        raise OutputError(f"cannot write model file {str(p)!r}: it is a directory; expected a file name")
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:  # opened here: an OSError with its reason, not torch's C++ text
            torch.save(obj, f)
        os.replace(tmp, p)
    except OSError as exc:  # the reason only: the temporary file's name would mislead
        raise OutputError(f"cannot write model file {str(p)!r}: {exc.strerror or one_line(exc)}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def load_pt(path) -> ElmanRNN | StackedRNN:
    """The model of a ``.pt`` file written by :func:`save_pt`.

    Read with ``torch.load(weights_only=True, map_location="cpu")``: no code in the file
    runs. A missing or unreadable file, a file that is not PyTorch's, or a .pt that is not
    elman's (another dict, keys or shapes that do not fit its config) raise ModelFileError.

    >>> load_pt("missing.pt")
    Traceback (most recent call last):
    ...
    elman.errors.ModelFileError: model file 'missing.pt' does not exist; expected a .pt file written by elman.torch.save_pt
    """
    from .torch import from_torch, import_torch, to_torch

    p = as_path(path)
    _check_file(p, ModelFileError, "model file", EXPECTED)
    torch = import_torch()
    config, state = _checked_content(_torch_load(torch, p), p)
    try:
        module = to_torch(_blank_model(config, state, p), batch_first=config["batch_first"])
    except ModelFileError:
        raise
    except ElmanError as exc:  # an unknown activation name, sizes that do not chain
        raise ModelFileError(f"model file {str(p)!r} has a config elman cannot build: {one_line(exc)}") from None
    _check_state(module.state_dict(), state, p)
    with torch.no_grad():
        module.load_state_dict(state, strict=True)
    try:
        rnn = from_torch(module)
    except ElmanError as exc:  # NaN or inf among the weights
        raise ModelFileError(f"model file {str(p)!r} holds weights elman refuses: {one_line(exc)}") from None
    if config["kind"] == "StackedRNN" and isinstance(rnn, ElmanRNN):  # a one-layer StackedRNN stays one
        layer = rnn.replace(C=None, d=None, output_activation="linear", return_sequences=False)
        return StackedRNN([layer], rnn.C, rnn.d, rnn.output_activation, rnn.return_sequences, dtype=rnn.dtype)
    return rnn


def _torch_load(torch, p):
    """torch.load(weights_only=True) of a checked path; its failures as one-line ModelFileErrors."""
    import pickle

    with open(p, "rb") as f:
        head = f.read(2)
    # torch.save writes a zip archive ("PK"); torch before 1.6 a pickle (protocol opcode 0x80).
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise ModelFileError(f"model file {str(p)!r} is not a PyTorch file (neither a zip archive nor a "
                             f"pickle: it begins {head!r}); {EXPECTED}")
    try:
        return torch.load(p, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Weights only" in str(exc):
            raise ModelFileError(
                f"model file {str(p)!r} holds Python objects other than tensors and plain data, which "
                f"weights_only loading refuses (no code from a file is run); {EXPECTED}") from None
        raise ModelFileError(f"model file {str(p)!r} is not a PyTorch file ({one_line(exc, 100)}); {EXPECTED}") from None
    except Exception as exc:  # torch raises many kinds (RuntimeError, EOFError, ...) for a broken file
        from .io import is_model_file

        if is_model_file(p):
            raise ModelFileError(f"model file {str(p)!r} is an elman .npz model, not a .pt file; rename it to "
                                 ".npz and load it with elman.load()") from None
        raise ModelFileError(f"model file {str(p)!r} is not a PyTorch file or is damaged "
                             f"({type(exc).__name__}: {one_line(exc, 100)}); {EXPECTED}") from None


def _checked_content(obj, p) -> tuple[dict, dict]:
    """(config, state_dict) of a loaded file, the config checked key by key."""
    name = f"model file {str(p)!r}"
    if not isinstance(obj, dict) or set(obj) != {"state_dict", "config"}:
        got = f"a dict with keys {sorted(map(str, obj))[:6]}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        hint = ""
        if isinstance(obj, dict) and any(str(k).startswith("weight_ih_l") for k in obj):
            hint = " (it looks like an nn.RNN state_dict: load it into torch.nn.RNN and use from_torch)"
        raise ModelFileError(f"{name} holds {got}{hint}; {EXPECTED} (a dict of 'state_dict' and 'config')")
    config, state = obj["config"], obj["state_dict"]
    if not isinstance(config, dict) or config.get("format") != PT_FORMAT:
        raise ModelFileError(f"{name} has no elman config (config['format'] != {PT_FORMAT!r}); {EXPECTED}")
    if not isinstance(state, dict):
        raise ModelFileError(f"{name} has a state_dict of type {type(state).__name__}; expected a dict of tensors")
    for key, (ok, want) in CONFIG_KEYS.items():
        if key not in config:
            raise ModelFileError(f"{name} has no config[{key!r}]; {EXPECTED}")
        if not ok(config[key]):
            raise ModelFileError(f"{name} has config[{key!r}] = {config[key]!r:.60}; expected {want}")
    L = len(config["state_dims"])
    for key in ("activations", "go_backwards"):
        if len(config[key]) != L:
            raise ModelFileError(f"{name} has {len(config[key])} config[{key!r}] for {L} layers; expected {L}")
    if config["kind"] == "ElmanRNN" and L != 1:
        raise ModelFileError(f"{name} has config['kind'] = 'ElmanRNN' but {L} layers; expected one layer")
    if config["has_readout"] != (config["output_dim"] is not None):
        raise ModelFileError(f"{name} has has_readout={config['has_readout']} but output_dim="
                             f"{config['output_dim']}; expected an output_dim exactly with a readout")
    return config, state


def _blank_model(config: dict, state: dict, p) -> ElmanRNN | StackedRNN:
    """The model the config describes, with zero matrices (the weights come next)."""
    dims = [config["input_dim"], *config["state_dims"]]
    # The file's tensors are in memory already; a config asking for more numbers than they
    # hold cannot fit them, and is refused before anything of its size is allocated.
    need = sum(m * m + m * n + 2 * m for n, m in zip(dims, dims[1:]))
    have = sum(t.numel() for t in state.values() if hasattr(t, "numel"))
    if need > have:
        raise ModelFileError(f"model file {str(p)!r} has config sizes {dims} ({need} weights) but its "
                             f"state_dict holds {have} numbers; {EXPECTED}")
    dt = np.dtype(config["dtype"])
    layers = [ElmanRNN(np.zeros((m, m)), np.zeros((m, n)), np.zeros(m), activation=act, go_backwards=gb, dtype=dt)
              for n, m, act, gb in zip(dims, dims[1:], config["activations"], config["go_backwards"])]
    C = d = None
    if config["has_readout"]:
        C, d = np.zeros((config["output_dim"], dims[-1])), np.zeros(config["output_dim"])
    return from_layers(layers, C, d, config["output_activation"], config["return_sequences"], dtype=dt)


def _check_state(want: dict, state: dict, p) -> None:
    """The file's state_dict has exactly the keys, shapes and dtype of the module its config describes."""
    name = f"model file {str(p)!r}"
    missing, extra = sorted(set(want) - set(state)), sorted(map(str, set(state) - set(want)))
    if missing or extra:
        raise ModelFileError(f"{name} has a state_dict that does not fit its config: missing {missing[:4]}, "
                             f"unexpected {extra[:4]}; {EXPECTED}")
    for key, w in want.items():
        t = state[key]
        if not hasattr(t, "shape") or tuple(t.shape) != tuple(w.shape) or t.dtype != w.dtype:
            got = f"{tuple(t.shape)} {t.dtype}" if hasattr(t, "dtype") else type(t).__name__
            raise ModelFileError(f"{name} has state_dict[{key!r}] = {got}; expected {tuple(w.shape)} {w.dtype} "
                                 "as its config says")
