"""C declarations for cffi's ``cdef`` from a header: preprocessor lines dropped, optionally only up to a marker.

Standalone (no lutrun imports), because native/build_ffi.py loads it by path at build time, before
the package (or numpy) can be imported.
"""
from __future__ import annotations

from pathlib import Path

KERNEL_HEADER = Path(__file__).with_name("lr_kernel.h")
ENGINE_PART_END = "-- exported by a kernel library"  # the C engine declares only what precedes this line


def declarations(header: Path, until: str | None = None) -> str:
    lines = []
    for line in header.read_text().splitlines():
        if until is not None and until in line:
            break
        if not line.lstrip().startswith("#"):
            lines.append(line)
    return "\n".join(lines)
