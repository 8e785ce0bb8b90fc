"""Standalone code for an Elman network: Python, NumPy or C with the weights inline.

    export(rnn, "net.py")               # plain Python, only the standard library (math)
    export(rnn, "net_np.py", "numpy")   # NumPy: predict over a batch, exactly as rnn.predict
    export(rnn, "net.c", "c")           # net.h + net.c: C99, float or double, no allocation

The file needs nothing but its language: no elman, no SciPy. Every model elman holds
is written: ElmanRNN and StackedRNN, every activation (state and output), go_backwards
layers, return_sequences, with or without a readout. The weights are written so that
they read back as the same numbers: repr() in Python, "%.17g" for a C double, "%.9g"f
for a C float.

What each file computes:

- "python": ``predict(U, z0=None)`` for ONE sequence U (T lists of D floats), the last
  output (K floats) or every output (with return_sequences), as ``rnn.predict(U[None])[0]``;
  also ``step`` (one state update per layer: ``step`` or ``step_1``, ``step_2`` ...),
  ``output`` (the readout) and ``predict_batch``. Python floats are doubles: a float32
  model is computed in double from its float32 weights.
- "numpy": ``predict(U, z0=None)`` for a batch U (N, T, D), what ``rnn.predict`` returns,
  in the model's dtype, with elman's own operations.
- "c": ``int <p>_predict(const <p>_real *U, int T, <p>_real *Y)`` for one sequence (U
  row-major T x D; Y the last K outputs, or T x K with return_sequences; returns 0, or
  -1 for a T it cannot take), where ``<p>`` is the file stem made a C identifier
  ("my-net.c" -> my_net) and ``<p>_real`` is float (float32 models) or double. Every
  model also gets the stateful ``<p>_init`` / ``<p>_reset`` / ``<p>_step`` (``<P>_HAS_STEP``
  is 1): one time step of every layer per call (reads u, updates the state, writes that
  step's y), which is elman's ``rnn.stateful(1).predict(U[:, k:k+1])`` called for k = 0,
  1, ... (a go_backwards layer reverses a sequence of one step: no change). Where no
  layer after the first reads backwards, predict is a run of steps (a backwards first
  layer is fed u_{T-1} first by predict, while step reads the inputs in the order
  given). A layer after the first that reads backwards needs the whole sequence below
  it before its first step: there predict goes layer by layer through a static buffer
  of ``<P>_MAX_T`` steps (1024 unless defined at compile time), and a run of steps is
  not predict. ``cc -DELMAN_SELFTEST net.c -lm``
  builds a self-test that runs ``n_tests`` random sequences stored at export against
  what ``rnn.predict`` returned for them and exits 1 on a mismatch (|error| over
  max(1, |y|) above 1e-9 for double, 1e-4 for float). Activations come from the C
  expressions of :mod:`elman.activations` (``c_f``), computed in double.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from . import _codegen_c, _codegen_py
from .errors import OutputError, ParameterError, as_path
from .validation import _as_dtype, _check_model, _count

__all__ = ["export", "python_source", "c_source", "LANGUAGES"]

#: The languages :func:`export` writes.
LANGUAGES = ("python", "numpy", "c")
#: The most self-test sequences a C export stores (``n_tests``).
MAX_TESTS = 1000


def _model(rnn, dtype):
    """``rnn`` checked, in ``dtype`` when one is given."""
    _check_model(rnn, "rnn")
    return rnn if dtype is None else rnn.astype(_as_dtype(dtype))


def python_source(rnn, numpy: bool = False, *, dtype=None) -> str:
    """The text of the module :func:`export` writes for "python" (or "numpy" with ``numpy=True``).

    >>> from elman import ElmanRNN
    >>> source = python_source(ElmanRNN(A=[[0.5]], B=[[1.0]], b=[0.0], activation="linear"))
    >>> module = {}
    >>> exec(source, module)
    >>> module["predict"]([[1.0], [1.0], [1.0]])      # z = 1, 1.5, 1.75
    [1.75]
    """
    rnn = _model(rnn, dtype)
    return _codegen_py.numpy_source(rnn) if numpy else _codegen_py.python_source(rnn)


def c_source(rnn, name: str = "elman", *, dtype=None, n_tests: int = 3) -> tuple[str, str]:
    """(header, source): the texts of ``<name>.h`` and ``<name>.c`` that :func:`export` writes.

    ``name`` is the file stem (the source includes ``"<name>.h"``; the functions are
    prefixed with it made a C identifier). float32 models give ``float``, float64
    ``double``; ``dtype`` overrides. ``n_tests`` (1 .. 1000) random sequences go into the self-test.

    >>> from elman import ElmanRNN
    >>> header, source = c_source(ElmanRNN.init(2, 3, 1, seed=0), "net")
    >>> "int net_predict(const net_real *U, int T, net_real *Y);" in header
    True
    """
    if not isinstance(name, str) or not name or any(c in name for c in '"\\/\n\r\x00'):
        raise ParameterError(f"name must be a file stem (no quotes, slashes or line breaks), got {name!r}")
    return _codegen_c.sources(_model(rnn, dtype), name, _n_tests(n_tests))


def _n_tests(n_tests) -> int:
    """A positive count of self-test sequences, at most MAX_TESTS (each is stored in the source)."""
    n = _count(n_tests, "n_tests")
    if n > MAX_TESTS:
        raise ParameterError(f"n_tests must be at most {MAX_TESTS} (each test is a stored sequence of "
                             f"{_codegen_c.T_TEST} steps in the C source), got {n}")
    return n


def _targets(path: Path, language: str) -> list[Path]:
    """The files to write: ``path`` with ".py" added when it lacks it (Python, NumPy);
    for C the stem of ``path`` (a ".c" or ".h" suffix dropped) with ".h" and ".c"."""
    if path.name in ("", ".", "..") or path.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: it is a directory; expected a file name")
    if language == "c":
        stem = path.with_suffix("") if path.suffix in (".c", ".h") else path
        return [stem.with_name(stem.name + ".h"), stem.with_name(stem.name + ".c")]
    return [path if path.suffix == ".py" else path.with_name(path.name + ".py")]


def _refuse_non_files(paths: list[Path]) -> None:
    """A directory, FIFO or device where a file goes is refused before anything is written."""
    for p in paths:
        try:
            mode = os.stat(p).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise OutputError(f"cannot write {str(p)!r}: it is {what}; expected a new file name or a file to replace")


def _write(files: dict[Path, str]) -> None:
    """Write every file, atomically: each to a temporary file beside it, flushed to disk,
    then renamed over it, so that no reader ever sees half a file. An existing link to a
    file is followed (the file it points to is replaced). Failures are OutputErrors."""
    _refuse_non_files(list(files))
    temps: dict[str, Path] = {}
    current = next(iter(files))
    try:
        for current, text in files.items():
            target = Path(os.path.realpath(current)) if current.is_symlink() else current
            tmp = str(target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp"))
            # 0o666 less the umask, as for any new file (mkstemp would give 0o600)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            temps[tmp] = target
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        for tmp, target in list(temps.items()):
            current = target
            os.replace(tmp, target)
            del temps[tmp]
    except OSError as exc:
        raise OutputError(f"cannot write {str(current)!r}: {exc.strerror or exc}") from None
    finally:
        for tmp in temps:  # interrupted: leave no temporary file behind
            if os.path.exists(tmp):
                os.unlink(tmp)


def export(rnn, path, language: str = "python", *, dtype=None, n_tests: int = 3) -> list[Path]:
    """Write ``rnn`` as standalone code in ``language`` ("python", "numpy" or "c").

    path : the file to write. Python and NumPy: a ".py" file (".py" is added when
        missing). C: the ".c" file or the stem; the header ``<stem>.h`` goes beside it.
    dtype : float32 or float64 (None: the model's own). It sets the C ``real`` and
        the NumPy arithmetic; plain Python computes in double in any case.
    n_tests : random sequences stored in the C self-test (``-DELMAN_SELFTEST``), 1 .. 1000.
    Returns the files written ([header, source] for C). Writes are atomic; a path that
    cannot be written gives an :class:`~elman.errors.OutputError`.

    >>> import pathlib, tempfile
    >>> from elman import ElmanRNN
    >>> rnn = ElmanRNN.init(2, 3, 1, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in export(rnn, pathlib.Path(tmp) / "net.c", "c")]
    ['net.h', 'net.c']
    """
    if not isinstance(language, str) or language.lower() not in LANGUAGES:
        raise ParameterError(f"language must be one of {', '.join(map(repr, LANGUAGES))}, got {language!r}")
    language = language.lower()
    _check_model(rnn, "rnn")
    n_tests = _n_tests(n_tests)
    files = _targets(as_path(path), language)
    if language == "c":
        texts = c_source(rnn, files[0].stem, dtype=dtype, n_tests=n_tests)
    else:
        texts = (python_source(rnn, numpy=language == "numpy", dtype=dtype),)
    _write(dict(zip(files, texts)))
    return files
