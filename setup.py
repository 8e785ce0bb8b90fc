"""Declares the optional compiled training kernel; pyproject.toml holds the metadata.

The kernel (src/elman/_ckernel.c) is plain C99 compiled at install into the extension
elman._ckernel and called through ctypes (elman/_compiled.py). ``optional=True``: without
a C compiler the install still succeeds and fit uses the NumPy path.
"""

import hashlib
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
SOURCES = ["src/elman/_ckernel.c", "src/elman/_ckernel_tables.h"]


def source_hash() -> str:
    """sha256 of the kernel's source and tables, compiled in so that elman can refuse a
    library older than its source (an editable install not rebuilt after an edit)."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((HERE / name).read_bytes())
    return h.hexdigest()


setup(
    ext_modules=[
        Extension(
            "elman._ckernel",
            ["src/elman/_ckernel.c"],
            depends=["src/elman/_ckernel_tables.h"],
            define_macros=[("ELMAN_SOURCE_HASH", source_hash())],
            optional=True,
            # -ffp-contract=off: no fused multiply-adds (baseline on arm64), so that the
            # kernel rounds each product as NumPy does; -fno-math-errno only lets the
            # compiler reuse the value of exp/tanh. Neither changes a result otherwise.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
            libraries=[] if sys.platform == "win32" else ["m"],
        )
    ]
)
