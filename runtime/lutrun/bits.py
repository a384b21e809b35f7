"""The bit-sliced ("packed") layout, in numpy: the twin of native/pack.c.

Packed rows are feature-major: ``packed[j, s // 64] >> (s % 64) & 1`` is
feature ``j`` of sample ``s``.  For frames, sample ``s = frame * F + subframe``.
"""
from __future__ import annotations

import numpy as np

from lutrun.errors import InputShapeError


def words_for(n_samples: int) -> int:
    """uint64 words needed for ``n_samples`` samples."""
    return (n_samples + 63) // 64


def empty_rows(n_rows: int, words: int) -> np.ndarray:
    """An uninitialised uint64 [n_rows, words] array that starts on a 64-byte boundary.

    The C kernel reads and writes rows 512 samples (64 bytes) at a time; numpy's own arrays start
    16 bytes past a cache line, so that every such access straddles two lines (measured: the
    kernel 15-20 % slower, docs/performance.md).  Packed rows passed to ``run_packed`` run
    fastest in arrays made here.
    """
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in (n_rows, words)):
        raise InputShapeError(f"rows and words must be integers >= 0, got {n_rows!r} and {words!r}")
    nbytes = int(n_rows) * int(words) * 8
    raw = np.empty(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(np.uint64).reshape(n_rows, words)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """0/1 array [samples, features] -> uint64 rows [features, words]."""
    n_samples, n_features = bits.shape
    padded = np.zeros((words_for(n_samples) * 64, n_features), np.uint8)
    padded[:n_samples] = bits
    as_bytes = np.packbits(padded, axis=0, bitorder="little")  # [words*8, features]
    return np.ascontiguousarray(as_bytes.T).view("<u8").astype(np.uint64)


def unpack_bits(packed: np.ndarray, n_samples: int) -> np.ndarray:
    """uint64 rows [features, words] -> 0/1 uint8 [samples, features]."""
    as_bytes = np.ascontiguousarray(packed.astype("<u8")).view(np.uint8)  # [features, words*8]
    bits = np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :n_samples]
    return np.ascontiguousarray(bits.T)
