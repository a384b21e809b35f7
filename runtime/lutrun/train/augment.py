"""Augmentation shared by the LUT network's training and a convolutional teacher's."""
from __future__ import annotations

import numpy as np
import torch

ELASTIC_SIGMA = 4.0  # pixels: the smoothness of an elastic displacement field (Simard et al. 2003)


def shifted(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """The batch moved by one random offset of up to ``max_shift`` pixels, zero-filled."""
    dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def distorted(images: np.ndarray, rng: np.random.Generator, alpha: float) -> np.ndarray:
    """uint8 [N, H, W, C] -> the same, each image warped by its own elastic distortion: a random field of
    displacements in [-1, 1], smoothed by a Gaussian of ``ELASTIC_SIGMA`` pixels and scaled by ``alpha``,
    sampled bilinearly, zero outside.  Small local warps of strokes, as handwriting varies, that shifts
    alone do not give (Simard et al. 2003: 34 for 28 x 28 digits)."""
    n, h, w, c = images.shape
    field = torch.from_numpy(rng.uniform(-1, 1, (n * 2, 1, h, w)).astype(np.float32))
    radius = int(3 * ELASTIC_SIGMA)
    taps = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2 / (2 * ELASTIC_SIGMA ** 2))
    taps = taps / taps.sum()
    field = torch.nn.functional.conv2d(field, taps.view(1, 1, 1, -1), padding=(0, radius))
    field = torch.nn.functional.conv2d(field, taps.view(1, 1, -1, 1), padding=(radius, 0))
    dx, dy = (alpha * field.view(n, 2, h, w)).unbind(1)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    # grid_sample's coordinates run from -1 to 1 across the image (align_corners: pixel centres at the ends).
    grid = torch.stack([(xs + dx) * 2 / max(w - 1, 1) - 1, (ys + dy) * 2 / max(h - 1, 1) - 1], dim=-1)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()
    warped = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return warped.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
