"""Model files by their extension: read any, write any (``elman convert IN OUT``).

=========  =============================================  ============================
suffix     format                                         needs
=========  =============================================  ============================
``.npz``   elman's own (:func:`elman.save`, no pickle)    NumPy
``.keras`` Keras 3 (``.h5`` read too), safe_mode loading   ``elman[keras]``
``.pt``    a PyTorch state dict + a JSON-able config,     ``elman[torch]``
           read with ``torch.load(weights_only=True)``
``.onnx``  the native ONNX ``RNN`` operator per layer     ``elman[onnx]``
=========  =============================================  ============================

An elman ``.npz`` is recognised whatever its suffix (it is a zip with elman's metadata).
Reading ``.pt`` and ``.onnx`` takes back the files that elman wrote; a foreign file is
refused with :class:`~elman.errors.UnsupportedModelError`.

>>> import tempfile, os, numpy as np
>>> from elman import ElmanRNN
>>> rnn = ElmanRNN.init(2, 3, 1, seed=0)
>>> folder = tempfile.mkdtemp()
>>> out = convert(rnn, os.path.join(folder, "copy.npz"))
>>> np.array_equal(read_model(out).A, rnn.A)
True
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputTypeError, ModelFileError, OutputError, ParameterError, as_path, one_line
from .io import is_model_file

__all__ = ["SUFFIXES", "read_model", "write_model", "convert"]

#: The model file suffixes elman reads and writes, and what each is.
SUFFIXES = {
    ".npz": "elman (NumPy arrays + JSON metadata)",
    ".keras": "Keras 3",
    ".h5": "Keras (legacy HDF5; read only)",
    ".pt": "PyTorch state dict + config",
    ".onnx": "ONNX",
}


def _kind(p: Path, role: str) -> str:
    suffix = p.suffix.lower()
    if role == "input" and not p.exists():
        raise ModelFileError(f"model file {str(p)!r} does not exist; expected one of {', '.join(SUFFIXES)}")
    if role == "input" and suffix != ".npz" and suffix not in (".keras", ".h5") and is_model_file(p):
        return ".npz"  # an elman model saved under another name
    if suffix not in SUFFIXES or (role == "output" and suffix == ".h5"):
        allowed = [s for s in SUFFIXES if role == "input" or s != ".h5"]
        raise ParameterError(f"{role} file {str(p)!r} has suffix {suffix or '(none)'!r}; expected one of "
                             f"{', '.join(allowed)} (the format is chosen by the suffix)")
    return suffix


def read_model(path):
    """The ElmanRNN or StackedRNN stored in ``path``, by its suffix (see the table above)."""
    p = as_path(path)
    kind = _kind(p, "input")
    if kind == ".npz":
        from .io import load

        return load(p)
    if kind in (".keras", ".h5"):
        from .keras import from_keras

        return from_keras(p)
    if kind == ".pt":
        from .torch import load_pt

        return load_pt(p)
    from .onnx import from_onnx

    return from_onnx(p)


def _write_keras(rnn, p: Path) -> None:
    """Keras saves in place; write a temporary file beside the target and rename it,
    so that a failed save never leaves half a file under the target's name."""
    from .keras import to_keras

    model = to_keras(rnn)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(suffix=".keras", prefix=f".{p.name}.", dir=p.parent if str(p.parent) else ".")
        os.close(fd)
        model.save(tmp)
        os.replace(tmp, p)
    except OSError as exc:  # the reason only: the temporary file's name would mislead
        raise OutputError(f"cannot write model file {str(p)!r}: {exc.strerror or one_line(exc)}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _check_target(p: Path) -> None:
    """The folder of ``p`` exists and is a folder; ``p`` itself is not a folder."""
    folder = p.parent
    if folder != Path("") and not folder.is_dir():
        if folder.exists():
            raise OutputError(f"cannot write model file {str(p)!r}: {str(folder)!r} is not a folder "
                              "(it is a file); expected the path of a file in an existing folder")
        raise OutputError(f"cannot write model file {str(p)!r}: output folder {str(folder)!r} does not exist; "
                          "create it first")
    if p.is_dir():
        raise OutputError(f"cannot write model file {str(p)!r}: it is a directory; expected a file name")


def write_model(rnn, path) -> Path:
    """Write ``rnn`` (ElmanRNN or StackedRNN) to ``path`` in the format its suffix names;
    returns the path. The folder must exist; an existing file is replaced. A path that
    cannot be written (no such folder, a directory, no permission) is an OutputError
    naming ``path`` and the reason."""
    from .model import ElmanRNN, StackedRNN

    if not isinstance(rnn, (ElmanRNN, StackedRNN)):
        raise InputTypeError(f"rnn must be an ElmanRNN or StackedRNN, got {type(rnn).__name__}")
    p = as_path(path)
    kind = _kind(p, "output")
    _check_target(p)
    if kind == ".npz":
        from .io import save

        save(rnn, p)
    elif kind == ".keras":
        _write_keras(rnn, p)
    elif kind == ".pt":
        from .torch import save_pt

        save_pt(rnn, p)
    else:
        from .onnx import to_onnx

        to_onnx(rnn, p)
    return p


def convert(source, target) -> Path:
    """Read a model (a path, or an ElmanRNN / StackedRNN) and write it to ``target`` in
    the format of its suffix. Returns the target path."""
    if isinstance(source, (str, os.PathLike)):
        p_in, p_out = as_path(source), as_path(target)
        if p_in.exists() and p_out.exists() and os.path.samefile(p_in, p_out):
            raise ParameterError(f"input and output are the same file ({str(p_in)!r}); name a new output file")
        source = read_model(p_in)
    return write_model(source, target)
