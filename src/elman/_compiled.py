"""The compiled training kernel of one-layer models, built at install, called through ctypes.

``elman._ckernel`` is a C extension compiled by ``pip install`` (setup.py,
``src/elman/_ckernel.c``); this module loads its file with ctypes and wraps it.
Importing this module and loading the library cost about a millisecond and nothing is
compiled at run time, so the first ``fit`` of a process is as fast as the next. The
kernel does what the NumPy reference does (``bptt.forward_backward`` and the updates of
:mod:`elman.optim`), tested equal to it (tests/test_compiled.py); a whole epoch
(batches, BPTT, clipping, optimizer updates) is one call.

The kernel is refused, with :class:`KernelUnavailable` and a one-line reason, when it
is missing (no C compiler at install), cannot be loaded, was built from other
activation or loss tables than the registries here, from another version of its
structures, or from another ``_ckernel.c`` than the one beside it (an editable
install not rebuilt after an edit: ``pip install -e .``). Callers fall back to NumPy.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from . import activations, losses, optim
from .errors import ParameterError, ShapeError
from .losses import HUBER_DELTA

__all__ = ["available", "KernelUnavailable", "CompiledTrainer"]

_ABI = 1  # ELMAN_ABI in _ckernel.c
_HERE = Path(__file__).resolve().parent
_SOURCES = ("_ckernel.c", "_ckernel_tables.h")  # hashed in this order, as setup.py does

# NumPy 2 (NEP 50) makes a float64 scalar times a float32 array float64 (NumPy 1: float32);
# Adam's step m * alpha, alpha a float64 scalar, follows it; the kernel is told which.
_ALPHA_DOUBLE = (np.ones(1, np.float32) * np.float64(1e-3)).dtype == np.float64


class KernelUnavailable(Exception):
    """The compiled kernel is not built, cannot be loaded or does not match this elman."""


_lib = None
_broken: str | None = None  # why the kernel was refused in this process (not retried)
_types = None


def _ctypes_types():
    """The ctypes mirrors of the C structures (built once, on first use)."""
    global _types
    if _types is None:
        import ctypes as c

        i64, f64, ptr = c.c_int64, c.c_double, c.c_void_p

        class Problem(c.Structure):
            _fields_ = [("theta", ptr), ("U", ptr), ("Y", ptr), ("W", ptr), ("work", ptr),
                        ("N", i64), ("T", i64), ("D", i64), ("M", i64), ("K", i64), ("Tout", i64),
                        ("has_C", i64), ("act", i64), ("oact", i64), ("loss", i64), ("go_backwards", i64),
                        ("return_sequences", i64), ("delta", f64), ("value", f64)]

        class Opt(c.Structure):
            _fields_ = [("kind", i64), ("clip_kind", i64), ("clip", f64), ("lr", f64), ("momentum", f64),
                        ("nesterov", i64), ("centered", i64), ("rho", f64), ("epsilon", f64),
                        ("beta_1", f64), ("beta_2", f64), ("beta_1c", f64), ("beta_2c", f64),
                        ("alpha_double", i64), ("s0", ptr), ("s1", ptr), ("s2", ptr)]

        class EpochResult(c.Structure):
            _fields_ = [("total", f64), ("seen", i64), ("stop_kind", i64), ("stop_batch", i64),
                        ("iterations", i64)]

        _types = c, Problem, Opt, EpochResult
    return _types


def _source_hash() -> str | None:
    """sha256 of the kernel's source beside this module (None where it is not shipped)."""
    h = hashlib.sha256()
    for name in _SOURCES:
        try:
            h.update((_HERE / name).read_bytes())
        except OSError:
            return None
    return h.hexdigest()


def _open():
    c, Problem, Opt, EpochResult = _ctypes_types()
    from ._gen_ckernel import tables_signature

    spec = importlib.util.find_spec("elman._ckernel")
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise KernelUnavailable("the compiled kernel elman._ckernel is not built (no C compiler when elman "
                                "was installed?); reinstall elman where a C compiler is available")
    try:
        lib = c.CDLL(spec.origin)
    except OSError as exc:
        raise KernelUnavailable(f"the compiled kernel {spec.origin} cannot be loaded: {exc}") from None
    for name in ("elman_abi", "elman_sizeof"):
        getattr(lib, name).restype = c.c_int64
    lib.elman_sizeof.argtypes = [c.c_int64]
    lib.elman_work_size.argtypes, lib.elman_work_size.restype = [c.c_int64] * 4, c.c_int64
    for name in ("elman_tables", "elman_source_hash"):
        getattr(lib, name).restype = c.c_char_p
    rebuild = "rebuild it (pip install -e . in a source checkout, else reinstall elman)"
    sizes = tuple(lib.elman_sizeof(i) for i in range(3))
    if lib.elman_abi() != _ABI or sizes != tuple(c.sizeof(t) for t in (Problem, Opt, EpochResult)):
        raise KernelUnavailable(f"the compiled kernel {spec.origin} was built for another version of elman; {rebuild}")
    built, wanted = lib.elman_tables().decode(), tables_signature()
    if built != wanted:
        raise KernelUnavailable(f"the compiled kernel was built with other activation/loss tables ({built!r}, "
                                f"elman has {wanted!r}); run python -m elman._gen_ckernel and {rebuild}")
    built_hash, source_hash = lib.elman_source_hash().decode(), _source_hash()
    if built_hash and source_hash and built_hash != source_hash:
        raise KernelUnavailable(f"the compiled kernel {spec.origin} is out of date (built from another _ckernel.c "
                                f"or _ckernel_tables.h than the ones beside it); {rebuild}")
    ptr, i64 = c.c_void_p, c.c_int64
    for prec in ("f32", "f64"):
        fn = getattr(lib, f"elman_loss_grad_{prec}")
        fn.argtypes, fn.restype = [ptr, ptr, i64, ptr], i64
        fn = getattr(lib, f"elman_epoch_{prec}")
        fn.argtypes, fn.restype = [ptr, ptr, ptr, i64, i64, i64, ptr, ptr, ptr], i64
    return lib


def _load():
    """The loaded library, or KernelUnavailable (the reason is kept: one try per process)."""
    global _lib, _broken
    if _lib is not None:
        return _lib
    if _broken is not None:
        raise KernelUnavailable(_broken)
    try:
        _lib = _open()
    except KernelUnavailable as exc:
        _broken = str(exc)
        raise
    except Exception as exc:  # a loader fault of any kind must not stop training
        _broken = f"the compiled kernel cannot be used: {type(exc).__name__}: {exc}"
        raise KernelUnavailable(_broken) from None
    return _lib


def available() -> bool:
    """True when the compiled kernel is built, loads, and matches this elman. Never raises."""
    try:
        _load()
    except Exception:
        return False
    return True


_OPTIMIZERS = (optim.SGD, optim.RMSprop, optim.Adam)


class CompiledTrainer:
    """Loss, gradient and whole epochs of a one-layer model, by the compiled kernel.

    theta : (P,) float32 or float64, C-contiguous: A (M,M), B (M,D), b (M,), then C (K,M),
        d (K,) when ``has_C`` (row-major, like ``bptt.Layout``). The trainer keeps this very
        array: ``epoch`` updates it in place, and every call reads its current values.
    D, M, K : input, state and output sizes (K = M without a readout).
    activation, output_activation : names (or Activations) of s and g.
    loss : a :class:`elman.losses.Loss` or its name; ``delta`` is Huber's.
    U : (N, T, D) inputs; Y : (N, K), or (N, T, K) with ``return_sequences`` (in the
        model's output order); W : None, (N,) or, with return_sequences, (N, T) weights.
    Data are converted to theta's dtype once (no copy when they already are).

    Raises :class:`KernelUnavailable` when the kernel cannot be used here. One trainer
    is not to be called from two threads at once (its buffers are shared by its calls).
    """

    def __init__(self, theta, D, M, K, has_C, activation, output_activation, go_backwards, return_sequences,
                 loss, U, Y, W, delta=HUBER_DELTA):
        lib = _load()
        c, Problem, _, _ = _ctypes_types()
        if not (isinstance(theta, np.ndarray) and theta.ndim == 1 and theta.dtype in (np.float32, np.float64)
                and theta.flags.c_contiguous and theta.flags.writeable):
            raise ParameterError("theta must be a writeable, contiguous 1-D float32 or float64 array")
        D, M, K = int(D), int(M), int(K)
        has_C, gb, rs = bool(has_C), bool(go_backwards), bool(return_sequences)
        if min(D, M, K) < 1 or (not has_C and K != M):
            raise ShapeError(f"sizes D={D}, M={M}, K={K} (has_C={has_C}) are not a one-layer model")
        P = M * M + M * D + M + (K * M + K if has_C else 0)
        if theta.size != P:
            raise ShapeError(f"theta has {theta.size} entries; D={D}, M={M}, K={K} (has_C={has_C}) need {P}")
        dt = theta.dtype
        U = np.ascontiguousarray(U, dtype=dt)
        if U.ndim != 3 or U.shape[2] != D or U.shape[1] < 1:
            raise ShapeError(f"U must be (N, T, {D}) with T >= 1, got {U.shape}")
        N, T, _ = U.shape
        Tout = T if rs else 1
        Y = np.asarray(Y)
        if Y.shape != ((N, T, K) if rs else (N, K)):
            raise ShapeError(f"Y must be {(N, T, K) if rs else (N, K)}, got {Y.shape}")
        Y = np.ascontiguousarray(Y.reshape(N, Tout, K), dtype=dt)
        if W is not None:
            W = np.asarray(W, dtype=dt)
            if W.shape == (N,):
                W = W[:, None]
            elif not (rs and W.shape == (N, T)):
                raise ShapeError(f"W must be None, ({N},){f' or ({N}, {T})' if rs else ''}, got {W.shape}")
            W = np.ascontiguousarray(np.broadcast_to(W, (N, Tout)))
        self.theta, self.U, self.Y, self.W = theta, U, Y, W
        self.loss = losses.get(loss)
        acts = activations.names()
        self._work = np.zeros(lib.elman_work_size(T, D, M, K), dt)
        self._grad = np.zeros_like(theta)
        self._last_good = np.zeros_like(theta)
        self._prob = Problem(
            theta=theta.ctypes.data, U=U.ctypes.data, Y=Y.ctypes.data, W=None if W is None else W.ctypes.data,
            work=self._work.ctypes.data, N=N, T=T, D=D, M=M, K=K, Tout=Tout, has_C=has_C,
            act=acts.index(activations.get(activation).name),
            oact=acts.index(activations.get(output_activation).name),
            loss=self.loss.code, go_backwards=gb, return_sequences=rs, delta=float(delta), value=0.0)
        self._prob_addr = c.addressof(self._prob)
        self._grad_addr = self._grad.ctypes.data
        prec = "f32" if dt == np.float32 else "f64"
        self._loss_grad = getattr(lib, f"elman_loss_grad_{prec}")
        self._epoch = getattr(lib, f"elman_epoch_{prec}")
        self.N = N

    def loss_grad(self, idx):
        """(loss, gradient) of the batch U[idx] at the current theta; idx: sample indices.

        The gradient (like theta) is a buffer that the next call overwrites."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        if idx.ndim != 1 or self._loss_grad(self._prob_addr, idx.ctypes.data, idx.size, self._grad_addr):
            raise IndexError(f"idx must be a non-empty 1-D array of sample indices in [0, {self.N})")
        return self._prob.value, self._grad

    @staticmethod
    def supports(optimizer) -> bool:
        """True for the optimizers the kernel implements: elman.optim.SGD, RMSprop, Adam
        (exactly those classes; a subclass may change the formulas)."""
        return type(optimizer) in _OPTIMIZERS

    def epoch(self, order, batch_size: int, optimizer):
        """One epoch over the batches order[i*batch_size:(i+1)*batch_size] (the last one
        partial), as fit's loop: loss and gradient, then ``optimizer``'s (clipping and)
        update of theta, its state vectors and ``optimizer.iterations``.

        Returns (total, seen, stop_kind, stop_batch): the sum of batch loss times batch
        length and the number of samples over the batches done; stop_kind 0 (all done),
        1 (a batch's loss or gradient was NaN or inf: not applied) or 2 (an update made a
        weight NaN or inf: theta is restored to its values before that update); stop_batch
        the index of the batch that stopped the epoch, else -1.
        """
        if not self.supports(optimizer):
            raise ParameterError(f"the compiled kernel has no {type(optimizer).__name__} optimizer "
                                 "(elman.optim.SGD, RMSprop and Adam only)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
        c, _, Opt, EpochResult = _ctypes_types()
        order = np.ascontiguousarray(order, dtype=np.int64)
        if order.ndim != 1:
            raise IndexError(f"order must be a 1-D array of sample indices in [0, {self.N})")
        # The slots are held here until the kernel returns: the C side writes through their
        # addresses with the GIL released, while another thread could rebuild them.
        opt, slots = self._optimizer(Opt, optimizer)
        res = EpochResult()
        batch_size = min(int(batch_size), max(order.size, 1))  # a larger batch is the whole order (no int64 overflow)
        rc = self._epoch(self._prob_addr, c.addressof(opt), order.ctypes.data, order.size, batch_size,
                         int(optimizer.iterations), self._grad_addr, self._last_good.ctypes.data,
                         c.addressof(res))
        del slots
        if rc:
            raise IndexError(f"order must hold sample indices in [0, {self.N})")
        optimizer.iterations += res.iterations
        return res.total, res.seen, res.stop_kind, res.stop_batch

    def _optimizer(self, Opt, o: optim.Optimizer):
        """(the C description of ``o``: its settings and the addresses of its state vectors
        for theta, those state vectors), the second to be kept alive while C uses them."""
        slots = o.slots(self.theta)
        for arr in slots.values():  # they are the optimizer's own (zeros_like theta): checked, never copied
            if arr.shape != self.theta.shape or arr.dtype != self.theta.dtype or not arr.flags.c_contiguous:
                raise ParameterError(f"the state of {type(o).__name__} does not match theta")
        ptrs = [a.ctypes.data for a in slots.values()] + [None] * (3 - len(slots))
        if o.clipnorm:
            clip_kind, clip = 1, o.clipnorm
        elif o.global_clipnorm:
            clip_kind, clip = 2, o.global_clipnorm
        elif o.clipvalue:
            clip_kind, clip = 3, o.clipvalue
        else:
            clip_kind, clip = 0, 0.0
        spec = Opt(clip_kind=clip_kind, clip=clip, lr=o.learning_rate, alpha_double=_ALPHA_DOUBLE,
                   s0=ptrs[0], s1=ptrs[1], s2=ptrs[2])
        if isinstance(o, optim.SGD):
            spec.kind, spec.momentum, spec.nesterov = 0, optim.keras_cast(o.momentum), o.nesterov
        elif isinstance(o, optim.RMSprop):
            spec.kind, spec.rho, spec.momentum, spec.epsilon, spec.centered = 1, o.rho, o.momentum, o.epsilon, o.centered
        else:
            spec.kind, spec.epsilon = 2, o.epsilon
            spec.beta_1, spec.beta_2 = o.beta_1, o.beta_2
            spec.beta_1c, spec.beta_2c = optim.keras_cast(o.beta_1), optim.keras_cast(o.beta_2)
        return spec, slots
