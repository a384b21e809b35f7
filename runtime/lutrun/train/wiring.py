"""Connection patterns: which outputs of the layer below each LUT reads (seeded, numpy only)."""
from __future__ import annotations

import numpy as np


def random_wiring(rng: np.random.Generator, n: int, k: int, n_prev: int) -> np.ndarray:
    """k distinct random inputs per LUT (repeats only when n_prev < k)."""
    if n_prev >= k:
        return np.argsort(rng.random((n, n_prev)), axis=1)[:, :k].astype(np.int32)
    return rng.integers(0, n_prev, (n, k), dtype=np.int32)


def local_image_wiring(rng: np.random.Generator, n: int, k: int, shape: tuple[int, int, int], window: int) -> np.ndarray:
    """Each LUT reads k distinct pixels of a window x window patch around a random centre.

    LUTs are ordered by centre (row-major), so that a ``local`` layer above reads
    spatially neighbouring LUTs.
    """
    h, w, c = shape
    out = np.empty((n, k), np.int32)
    centres = np.sort(rng.integers(0, h * w, n))
    for j, centre in enumerate(centres):
        cy, cx = divmod(int(centre), w)
        ys = np.clip(np.arange(cy - window // 2, cy + window // 2 + 1), 0, h - 1)
        xs = np.clip(np.arange(cx - window // 2, cx + window // 2 + 1), 0, w - 1)
        cells = np.unique((ys[:, None] * w + xs[None, :]).ravel()[:, None] * c + np.arange(c)[None, :])
        out[j] = rng.choice(cells, size=k, replace=len(cells) < k)
    return out


def local_wiring(rng: np.random.Generator, n: int, k: int, n_prev: int) -> np.ndarray:
    """LUT j reads k neighbouring outputs of the layer below, starting near j's relative position."""
    starts = (np.arange(n) * n_prev // n + rng.integers(0, max(1, n_prev // n), n)) % n_prev
    return ((starts[:, None] + np.arange(k)[None, :]) % n_prev).astype(np.int32)
