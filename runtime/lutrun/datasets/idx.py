"""Labelled image sets in the standard idx format (MNIST and friends).

Files may be gzip-compressed.  Every defect (missing file, bad magic, wrong
size, mismatched counts, negative labels) raises DataError naming the file.
Files are read as a stream: the header first, then exactly the bytes it
declares, so a compressed file cannot unpack more than that (docs/limits.md).
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from lutrun.datasets.labelled import LabelledImages, check_labels
from lutrun.errors import DataError
from lutrun.limits import DATASET_BYTES, limit

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
SPLITS = {"train": "train", "test": "t10k"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One idx file (``.gz`` or plain) as an array of its declared shape and type."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES or magic[3] == 0:
                raise DataError(f"{path}: not an idx file (bad magic number)")
            ndim, dtype = magic[3], np.dtype(_DTYPES[magic[2]])
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DataError(f"{path}: truncated header")
            shape = struct.unpack(f">{ndim}I", dims)
            nbytes = dtype.itemsize
            for d in shape:
                nbytes *= d
            header = 4 + 4 * ndim
            most = limit(DATASET_BYTES)
            if nbytes > most:
                raise DataError(f"{path}: its header declares {shape}, {nbytes} bytes, over the {most} byte "
                                "limit (LUTRUN_MAX_DATASET_BYTES raises it; docs/limits.md)")
            data = np.empty(nbytes, np.uint8)
            got = _read_into(f, data)
            if got != nbytes or f.read(1):
                size = f"{header + got}" if got != nbytes else f"more than {header + nbytes}"
                raise DataError(f"{path}: {size} bytes, but its header {shape} needs {header + nbytes}")
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({exc})") from None
    return data.view(dtype).reshape(shape)


def _read_into(f: io.BufferedIOBase, buffer: np.ndarray) -> int:
    """Fill ``buffer`` from ``f``; returns the bytes read (fewer at the end of the file)."""
    view, got = memoryview(buffer).cast("B"), 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _exists(directory: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem, f"{stem.replace('-idx', '.idx')}.gz", stem.replace("-idx", ".idx")):
        if (directory / name).exists():
            return directory / name
    return None


def _find(directory: Path, stem: str) -> Path:
    found = _exists(directory, stem)
    if found is None:
        raise DataError(f"{directory}: no {stem}[.gz] here (expected the standard idx files)")
    return found


def load_idx_dataset(directory: str | os.PathLike, split: str = "test", limit: int | None = None) -> LabelledImages:
    """``{train,t10k}-images-idx3-ubyte`` + labels from ``directory`` as uint8 [N, H, W, 1] and labels."""
    if split == "val":
        raise DataError(f"{directory}: idx files hold train and test splits only; the trainer's validation images are "
                        "the first --validation training images (5000 by default: --split train --limit 5000)")
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
    check_labels(labels, None, f"{directory}: {split} labels")
    return LabelledImages(images[..., None].copy(), labels.astype(np.int64), f"{directory}:{split}")


def idx_splits(directory: Path) -> tuple[str, ...]:
    """The splits whose idx image files ``directory`` holds."""
    return tuple(split for split, prefix in SPLITS.items() if _exists(directory, f"{prefix}-images-idx3-ubyte"))

