"""Argument checks shared by every module: each turns a wrong value into an exception
from :mod:`elman.errors` that names the argument, what was given and what was expected.

The helpers keep their leading underscore (they are not part of the public API); this is
the one module whose private names the others import.
"""

from __future__ import annotations

import math
import os
import stat
from typing import Any

import numpy as np

from .errors import InputTypeError, NonFiniteError, ParameterError, ShapeError

_FLOATS = (np.float32, np.float64)
# 64 GiB: beyond this an Elman network's matrices are a typo, not a model (M ~ 65,000).
_MAX_INIT_BYTES = 64 * 2**30


# --------------------------------------------------------------------------- checks


def _as_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.type not in _FLOATS:
        raise ParameterError(f"{name} must be float32 or float64, got {dtype!r}")
    return dt


def _numeric(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array of numbers, or an InputTypeError naming ``name``."""
    if x is None:
        raise InputTypeError(f"{name} is None; expected an array of numbers")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise InputTypeError(f"{name} cannot be read as an array of numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InputTypeError(
            f"{name} must hold real numbers, got an array of dtype {arr.dtype} "
            f"(e.g. {arr.flat[0]!r})" if arr.size else f"{name} must hold real numbers, got dtype {arr.dtype}"
        )
    return arr


def _count(v: Any, name: str, low: int = 1) -> int:
    """``v`` as an int >= ``low`` (bools refused), or a ParameterError naming ``name``."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        want = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ParameterError(f"{name} must be {want}, got {v!r}")
    return int(v)


def _flag(v: Any, name: str, *, allow_none: bool = False) -> bool | None:
    """``v`` as a bool (True/False or NumPy's), or a ParameterError: a string such as
    "no" or "false" is truthy in Python and would silently mean True."""
    if v is None and allow_none:
        return None
    if not isinstance(v, (bool, np.bool_)):
        want = "True, False or None" if allow_none else "True or False"
        raise ParameterError(f"{name} must be {want}, got {v!r}")
    return bool(v)


def _rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """A NumPy Generator from ``seed``: None, an int >= 0, or a Generator (used as is)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"{name} must be None, an integer >= 0 or a numpy.random.Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(
            f"{name} holds NaN or inf (first at index {tuple(int(i) for i in bad)}: "
            f"{arr[tuple(bad)]}); expected finite numbers"
        )


def _finite_as(arr: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``arr`` checked finite, then cast to ``dtype``; a finite value that the cast turns
    into inf (1e39 given to a float32 model) is named as out of range, not as NaN."""
    _finite(arr, name)
    with np.errstate(over="ignore"):  # checked on the next line, with a better message
        out = arr.astype(dtype, copy=False)
    if out is not arr and not np.isfinite(out).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        big = float(np.finfo(dtype).max)
        raise NonFiniteError(
            f"{name} holds {float(arr[bad]):g} (at index {bad}), beyond the {np.dtype(dtype).name} range "
            f"(|x| <= {big:.3g}) this model computes in; scale the data or use rnn.astype(np.float64)"
        )
    return out


def _validate(A, B, b, C=None, d=None, dtype=None):
    """Check the five parameters together and infer D, M, K from their shapes.

    Returns ``(A, B, b, C, d, dtype)`` as read-only arrays of one float dtype (C and
    d stay None when there is no readout). The error names the wrong matrix, its
    shape and the shape it should have.
    """
    given = {"A": A, "B": B, "b": b}
    if C is not None:
        given["C"] = C
    if d is not None:
        given["d"] = d
    arrs = {k: _numeric(v, k) for k, v in given.items()}
    if dtype is None:
        # Keep float32 only when every parameter already is float32 (Keras's case).
        all32 = all(a.dtype == np.float32 for a in arrs.values())
        dtype = np.float32 if all32 else np.float64
    dt = _as_dtype(dtype)

    A_ = arrs["A"]
    if A_.ndim != 2 or A_.shape[0] != A_.shape[1]:
        raise ShapeError(f"A has shape {A_.shape} but should be square (M, M)")
    M = A_.shape[0]
    if M == 0:
        raise ShapeError("A has shape (0, 0); the state needs at least one unit (M >= 1)")
    B_ = arrs["B"]
    if B_.ndim != 2 or B_.shape[0] != M or B_.shape[1] == 0:
        raise ShapeError(f"B has shape {B_.shape} but should be (M, D) = ({M}, D) with D >= 1")
    D = B_.shape[1]
    b_ = arrs["b"]
    if b_.shape != (M,):
        raise ShapeError(f"b has shape {b_.shape} but should be (M,) = ({M},)")
    if C is None:
        if d is not None:
            raise ShapeError("d was given without C; give both or neither (no readout)")
        K = M
    else:
        C_ = arrs["C"]
        if C_.ndim != 2 or C_.shape[1] != M or C_.shape[0] == 0:
            raise ShapeError(f"C has shape {C_.shape} but should be (K, M) = (K, {M}) with K >= 1")
        K = C_.shape[0]
        if d is None:
            arrs["d"] = np.zeros(K)
        elif arrs["d"].shape != (K,):
            raise ShapeError(f"d has shape {arrs['d'].shape} but should be (K,) = ({K},)")
    out = {}
    for k, a in arrs.items():
        a = np.array(_finite_as(a, dt, k))  # a copy: the model owns its matrices
        a.flags.writeable = False
        out[k] = a
    return out["A"], out["B"], out["b"], out.get("C"), out.get("d"), dt, (D, M, K)


def _check_U(U: Any, D: int, dtype: np.dtype, name: str = "U") -> np.ndarray:
    """U as an (N, T, D) array of ``dtype``; every wrong case named and explained."""
    arr = _numeric(U, name)
    if arr.ndim != 3:
        if arr.ndim == 2:
            hint = (
                f"for {arr.shape[0]} samples of {arr.shape[1]} steps of one feature use "
                f"{name}.reshape({arr.shape[0]}, {arr.shape[1]}, 1); for one sample of "
                f"{arr.shape[0]} steps with {arr.shape[1]} features use {name}[None]"
            )
        elif arr.ndim == 1:
            hint = f"for one sample of {arr.shape[0]} steps of one feature use {name}.reshape(1, -1, 1)"
        else:
            hint = "arrange the data as (samples, time steps, features)"
        raise ShapeError(
            f"{name} has shape {arr.shape} ({arr.ndim}-D) but (N, T, D) = (samples, time steps, "
            f"features) is needed; {hint}"
        )
    N, T, Df = arr.shape
    if Df != D:
        raise ShapeError(f"{name} has {Df} features ({name}.shape[2] = {Df}) but the model expects D = {D}")
    if T == 0:
        raise ShapeError(f"{name} has shape {arr.shape}: zero time steps; expected T >= 1")
    if N == 0:
        raise ShapeError(f"{name} has shape {arr.shape}: zero samples; expected N >= 1")
    return _finite_as(arr, dtype, name)


def _check_z0(z0: Any, N: int, M: int, dtype: np.dtype, name: str = "z0") -> np.ndarray:
    """z0 as an (N, M) array: None is zeros, an (M,) vector is used for every sample."""
    if z0 is None:
        return np.zeros((N, M), dtype=dtype)
    arr = _numeric(z0, name)
    if arr.shape == (M,):
        arr = np.broadcast_to(arr, (N, M))
    elif arr.shape != (N, M):
        raise ShapeError(f"{name} has shape {arr.shape} but should be (M,) = ({M},) or (N, M) = ({N}, {M})")
    return np.array(_finite_as(arr, dtype, name))  # a copy: the caller may update it in place


def _check_model(rnn, name: str = "rnn") -> None:
    from .model import ElmanRNN, StackedRNN  # the model modules import this one

    if not isinstance(rnn, (ElmanRNN, StackedRNN)):
        raise InputTypeError(f"{name} must be an ElmanRNN or StackedRNN, got {type(rnn).__name__}")


def _check_Y(Y, N: int, T: int, K: int, rs: bool, dtype, name: str = "Y") -> np.ndarray:
    """Y as (N, T, K) (sequences) or (N, K); a trailing K = 1 may be left out, as in Keras."""
    arr = _numeric(Y, name)
    want = (N, T, K) if rs else (N, K)
    if K == 1 and arr.shape == want[:-1]:
        arr = arr[..., None]
    if arr.shape != want:
        mode = "(N, T, K) for return_sequences" if rs else "(N, K) for many-to-one"
        raise ShapeError(f"{name} has shape {arr.shape} but the model's output is {want} {mode}")
    return _finite_as(arr, dtype, name)


def _check_weights(sample_weight, N: int, T: int, rs: bool, dtype) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = _numeric(sample_weight, "sample_weight")
    if w.shape not in ((N,), (N, T) if rs else (N,)):
        want = "(N,) or (N, T)" if rs else "(N,)"
        raise ShapeError(f"sample_weight has shape {w.shape} but should be {want} with N = {N}, T = {T}")
    w = _finite_as(w, dtype, "sample_weight")
    if np.any(w < 0):
        raise ParameterError("sample_weight has negative entries; expected weights >= 0")
    return w


# --------------------------------------------------------------------------- values in messages


def _brief(v: Any) -> str:
    """A value for a one-line message: its repr when short, else its type."""
    text = repr(v)
    return text if len(text) <= 60 and "\n" not in text else f"a {type(v).__name__}"


def _is_real(v: Any) -> bool:
    """A real number: Python's or NumPy's int or float, not a bool (nor a string, None, complex)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _float(v: Any) -> float:
    """A real number as a float; an integer beyond the float64 range becomes +-inf."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


# --------------------------------------------------------------------------- files

_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a FIFO (named pipe)")."""
    return next((what for test, what in _FILE_KINDS if test(mode)), "not a regular file")


def _check_file(path, error: type, what: str, expected: str, *, directory: str = "file",
                missing_ok: bool = False):
    """The ``os.stat`` of ``path``, a file to read that must be a regular file (a link
    to one is fine); else ``error`` (an elman exception class) with a one-line message
    "{what} 'path' does not exist; {expected}" and the like. A FIFO or a device is
    refused, never opened for reading (it could block or never end): the file is opened
    without blocking and looked at again, so one put in its place since the stat is
    refused too. ``directory`` ends "is a directory, not a ...". With ``missing_ok`` a
    missing file gives None (the caller says what is wrong with the name first)."""
    p = str(path)
    if "\x00" in p:
        raise error(f"{what} {p!r} contains a null byte; expected a file name without one")
    try:
        st = os.stat(path)  # follows links: a link to a regular file is fine
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return None
        raise error(f"{what} {p!r} does not exist; {expected}") from None
    except (OSError, ValueError) as exc:  # permission, a name too long
        raise error(f"{what} {p!r} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {p!r} is a directory, not a {directory}; {expected}")
    mode = st.st_mode
    if stat.S_ISREG(mode):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
            try:
                mode = os.fstat(fd).st_mode
            finally:
                os.close(fd)
        except OSError as exc:
            raise error(f"{what} {p!r} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise error(f"{what} {p!r} is not a regular file but {_file_kind(mode)}; {expected}")
    return st
