"""Augmentation shared by the LUT network's training and a convolutional teacher's."""
from __future__ import annotations

import numpy as np


def shifted(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """The batch moved by one random offset of up to ``max_shift`` pixels, zero-filled."""
    dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out
