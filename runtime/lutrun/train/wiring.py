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


def parse_conv(spec: str) -> tuple[int, int, int]:
    """``"16x5s2"`` -> (channels 16, kernel 5, stride 2); the stride defaults to 1."""
    import re

    match = re.fullmatch(r"(\d+)x(\d+)(?:s(\d+))?", spec)
    if match is None or min(int(g) for g in match.groups(default="1")) < 1:
        raise ValueError(f"conv stage {spec!r} is not CHANNELSxKERNEL[sSTRIDE], e.g. 16x5s2")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)


def conv_wiring(rng: np.random.Generator, k: int, in_shape: tuple[int, int, int], channels: int, kernel: int,
                stride: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """A convolution made of LUTs: per output channel, k random taps (dy, dx, c) of a kernel x kernel
    window, repeated at every stride-th position (edges replicated).

    Returns inputs [n, k], the table row (= channel) of each LUT, and the output grid (h, w, channels);
    LUTs are ordered position-major, channel-minor, like an HWC image.  Training shares one table
    per channel; export unrolls it, so the model file and the engines see plain layers.
    """
    h, w, c = in_shape
    taps = np.stack([np.stack(np.unravel_index(rng.choice(kernel * kernel * c, size=k, replace=kernel * kernel * c < k),
                                               (kernel, kernel, c)), axis=1) for _ in range(channels)])  # [C, k, 3]
    oh, ow = (h + stride - 1) // stride, (w + stride - 1) // stride
    ys = np.arange(oh)[:, None, None, None] * stride + taps[None, None, :, :, 0] - kernel // 2
    xs = np.arange(ow)[None, :, None, None] * stride + taps[None, None, :, :, 1] - kernel // 2
    index = (np.clip(ys, 0, h - 1) * w + np.clip(xs, 0, w - 1)) * c + taps[None, None, :, :, 2]
    rows = np.tile(np.arange(channels), oh * ow)
    return index.reshape(-1, k).astype(np.int32), rows.astype(np.int64), (oh, ow, channels)
