"""cffi build script for ``lutrun._native`` (API mode, compiled at install time).

The ABI is declared once, in ``native/lutrun.h``; cdef reads that header with its
preprocessor lines removed, so Python and C cannot disagree about a signature.
No ``-march=native``: wide SIMD paths are compiled per target and picked at run
time, so one build runs on any CPU of its architecture (and on the board's ARM).
"""
from pathlib import Path

from cffi import FFI

NATIVE = Path(__file__).resolve().parent
ROOT = NATIVE.parent
SOURCES = ["net.c", "pack.c", "votes.c", "modulate.c", "session.c"]


def _declarations() -> str:
    header = (NATIVE / "lutrun.h").read_text()
    return "\n".join(line for line in header.splitlines() if not line.lstrip().startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(_declarations())
ffibuilder.set_source(
    "lutrun._native",
    '#include "lutrun.h"',
    # setuptools wants source paths relative to the project root.
    sources=[str((NATIVE / s).relative_to(ROOT)) for s in SOURCES],
    include_dirs=[str(NATIVE.relative_to(ROOT))],
    extra_compile_args=["-O3", "-std=gnu11", "-Wall", "-Wno-psabi", "-fno-strict-aliasing"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
