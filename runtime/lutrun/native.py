"""Access to the compiled ``lutrun._native`` extension.

Importing lutrun never fails because the extension is missing; asking for it
does, with BackendUnavailableError saying how to build it.  C status codes
become NativeError here and nowhere else.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lutrun.errors import BackendUnavailableError, NativeError
from lutrun.model import METHODS

try:
    from lutrun._native import ffi, lib
except ImportError as exc:  # not built: only the numpy engine is available
    ffi = lib = None
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

_MESSAGES = {} if lib is None else {lib.LR_EINVAL: "invalid argument", lib.LR_ENOMEM: "out of memory"}
# The modulation methods' codes, from the header's enum (LR_MOD_SIGMA_DELTA for "sigma-delta").
METHOD_CODES = {} if lib is None else {m: getattr(lib, "LR_MOD_" + m.upper().replace("-", "_")) for m in METHODS}


def require() -> tuple[Any, Any]:
    """The (ffi, lib) pair, or BackendUnavailableError if the extension is not built."""
    if lib is None:
        raise BackendUnavailableError(
            f"the C extension lutrun._native is not built ({_IMPORT_ERROR}); "
            "reinstall with `pip install -e .` (needs a C compiler)"
        )
    return ffi, lib


def check(rc: int, what: str) -> None:
    if rc != 0:
        raise NativeError(f"{what} failed: {_MESSAGES.get(rc, f'status {rc}')}")


def buffer(array: np.ndarray, ctype: str) -> Any:
    """A typed C view (``ctype`` like ``"uint64_t[]"``) of a C-contiguous numpy array, no copy."""
    if not array.flags.c_contiguous:
        raise NativeError("internal: array passed to C is not contiguous")
    return ffi.from_buffer(ctype, array)


def simd_name() -> str:
    _, c = require()
    return ffi.string(c.lr_simd_name()).decode()


def lanes_name() -> str:
    """The LUT-parallel path of calls of up to LR_LANES_MAX_SAMPLES samples (a single frame at F <= 16), or ""."""
    _, c = require()
    return ffi.string(c.lr_lanes_name()).decode()


def area_scratch(cols: int) -> int:
    """The uint32 scratch ``area_resize`` needs for an image ``cols`` wide (lr_area_u8 in native/lutrun.h)."""
    return cols + (cols + 1) // 2


def area_resize(image: np.ndarray, out: np.ndarray, acc: np.ndarray) -> None:
    """The exact area mean of a uint8 [rows, cols] view with any positive strides (the Y samples of packed
    YUV are two bytes apart), of at most LR_AREA_MAX_PIXELS, into C-contiguous uint8 ``out`` no larger than
    ``image``; rounded half up, so within a grey level of OpenCV's INTER_AREA.  ``acc``: uint32 scratch of at least ``area_scratch(cols)``."""
    _, c = require()
    rows, cols = image.shape
    if image.dtype != np.uint8 or out.dtype != np.uint8 or out.ndim != 2 or out.shape[0] > rows \
            or out.shape[1] > cols or min(image.strides) < 1 or not out.flags.c_contiguous \
            or acc.dtype != np.uint32 or acc.size < area_scratch(cols) or rows * cols > c.LR_AREA_MAX_PIXELS:
        raise NativeError(f"internal: cannot reduce {image.dtype} {image.shape} {image.strides} to {out.shape}")
    check(c.lr_area_u8(ffi.cast("const uint8_t *", image.ctypes.data), image.strides[0], image.strides[1], rows,
                       cols, buffer(out, "uint8_t[]"), out.shape[0], out.shape[1], buffer(acc, "uint32_t[]")),
          "lr_area_u8")
