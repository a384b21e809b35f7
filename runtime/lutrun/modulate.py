"""Binary oversampling, numpy reference (the rules are in docs/modulation.md).

Each uint8 pixel ``v`` becomes F bits.  With ``a = clip(v, lo, hi) - lo`` and
``d = hi - lo`` everything is integer arithmetic, so numpy, C and RTL agree
bit for bit:

- thermometer: bit f is 1 iff ``(2f + 1) * d < 2F * a``  (x > (f + 0.5) / F)
- stochastic:  bit f is 1 iff ``a * 2**24 > t * d`` with the 24-bit threshold
  ``t = mix32(mix32(mix32(seed ^ frame) ^ f) ^ pixel) >> 8``
- sigma-delta: first-order error feedback per pixel, error e starting at 0:
  ``s = e + 2a; bit = s >= d; e = s - 2d * bit``
"""
from __future__ import annotations

import numpy as np

from lutrun.model import Modulation


def mix32(x: np.ndarray) -> np.ndarray:
    """lowbias32 (C. Wellons), on uint32 arrays with wrap-around."""
    x = np.asarray(x, np.uint32).copy()
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def modulate(frames: np.ndarray, modulation: Modulation, frame0: int = 0) -> np.ndarray:
    """uint8 frames [B, P] -> 0/1 uint8 sub-frame samples [B * F, P] (sample = frame * F + f)."""
    lo, hi = modulation.range
    n_frames, n_pixels = frames.shape
    F, d = modulation.frames, hi - lo
    a = (np.clip(frames, lo, hi).astype(np.int64) - lo)[:, None, :]  # [B, 1, P]
    f = np.arange(F, dtype=np.int64)[None, :, None]  # [1, F, 1]
    if modulation.method == "thermometer":
        bits = (2 * f + 1) * d < 2 * F * a
    elif modulation.method == "stochastic":
        frame_ids = (frame0 + np.arange(n_frames, dtype=np.int64)) % 2**32
        h_frame = mix32(np.uint32(modulation.seed) ^ frame_ids.astype(np.uint32))
        h_sub = mix32(h_frame[:, None] ^ np.arange(F, dtype=np.uint32)[None, :])
        t = mix32(h_sub[:, :, None] ^ np.arange(n_pixels, dtype=np.uint32)[None, None, :]) >> np.uint32(8)
        bits = (a << 24) > t.astype(np.int64) * d
    else:
        bits = np.empty((n_frames, F, n_pixels), bool)
        err = np.zeros((n_frames, n_pixels), np.int64)
        for sub in range(F):
            s = err + 2 * a[:, 0, :]
            bits[:, sub, :] = s >= d
            err = s - 2 * d * bits[:, sub, :]
    return np.broadcast_to(bits, (n_frames, F, n_pixels)).reshape(n_frames * F, n_pixels).astype(np.uint8)
