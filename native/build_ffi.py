"""cffi build script for ``lutrun._native`` (API mode, compiled at install time).

The ABI is declared once, in ``native/lutrun.h`` and (for the model-specialised kernel's
contract) ``runtime/lutrun/codegen/lr_kernel.h``; cdef reads those headers with their
preprocessor lines removed, so Python and C cannot disagree about a signature.
No ``-march=native``: wide SIMD paths are compiled per target and picked at run
time, so one build runs on any CPU of its architecture (and on the board's ARM).
"""
import importlib.util
from pathlib import Path

from cffi import FFI

NATIVE = Path(__file__).resolve().parent
ROOT = NATIVE.parent
CODEGEN = ROOT / "runtime" / "lutrun" / "codegen"
SOURCES = ["net.c", "pack.c", "votes.c", "modulate.c", "session.c", "image.c", "lanes.c"]
CFLAGS = ["-O3", "-std=gnu11", "-Wall", "-Wno-psabi", "-fno-strict-aliasing"]

# lutrun.codegen.cheader, loaded by path: the package itself cannot be imported while it is being built.
_spec = importlib.util.spec_from_file_location("lutrun_cheader", CODEGEN / "cheader.py")
cheader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cheader)

ffibuilder = FFI()
ffibuilder.cdef(cheader.declarations(cheader.KERNEL_HEADER, until=cheader.ENGINE_PART_END) + "\n"
                + cheader.declarations(NATIVE / "lutrun.h"))
ffibuilder.set_source(
    "lutrun._native",
    '#include "lutrun.h"',
    # setuptools wants source paths relative to the project root.
    sources=[str((NATIVE / s).relative_to(ROOT)) for s in SOURCES],
    include_dirs=[str(NATIVE.relative_to(ROOT)), str(CODEGEN.relative_to(ROOT))],
    extra_compile_args=CFLAGS,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
