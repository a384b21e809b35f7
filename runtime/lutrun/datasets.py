"""Reading labelled image sets in the standard idx format (MNIST and friends).

Files may be gzip-compressed.  Every defect (missing file, bad magic, wrong
size, mismatched counts) raises DataError naming the file.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lutrun.errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
SPLITS = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class LabelledImages:
    images: np.ndarray  # uint8 [N, H, W, C]
    labels: np.ndarray  # int64 [N]
    source: str


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One idx file (``.gz`` or plain) as an array of its declared shape and type."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or raw[3] == 0:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    ndim, dtype = raw[3], np.dtype(_DTYPES[raw[2]])
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, but its header {shape} needs {expected}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem, f"{stem.replace('-idx', '.idx')}.gz", stem.replace("-idx", ".idx")):
        if (directory / name).exists():
            return directory / name
    raise DataError(f"{directory}: no {stem}[.gz] here (expected the standard idx files)")


def load_idx_dataset(directory: str | os.PathLike, split: str = "test", limit: int | None = None) -> LabelledImages:
    """``{train,t10k}-images-idx3-ubyte`` + labels from ``directory`` as uint8 [N, H, W, 1] and labels."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: dataset directory not found")
    prefix = SPLITS[split]
    images = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{directory}: {split} images {images.shape} and labels {labels.shape} do not pair up")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return LabelledImages(images[..., None].copy(), labels.astype(np.int64), f"{directory}:{split}")
