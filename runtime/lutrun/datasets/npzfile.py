"""Datasets as one ``.npz``: ``x`` uint8 [N, H, W] or [N, H, W, C] and ``y`` integer labels.

Optional keys: ``x_val``/``y_val``, ``x_test``/``y_test`` (the other splits) and
``class_names`` (strings; default "0", "1", ...).  Arrays are read member by member
after their headers are checked against the dataset limit, never unpickled.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lutrun.datasets.labelled import LabelledImages, check_labels
from lutrun.errors import DataError
from lutrun.limits import DATASET_BYTES, limit

KEYS = {"train": ("x", "y"), "val": ("x_val", "y_val"), "test": ("x_test", "y_test")}
_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read(archive: zipfile.ZipFile, key: str, where: Path) -> np.ndarray:
    try:
        with archive.open(f"{key}.npy") as f:
            version = np.lib.format.read_magic(f)
            if version not in _HEADERS:
                raise DataError(f"{where}: {key} is in .npy format version {version}, not 1.0 or 2.0")
            shape, _, dtype = _HEADERS[version](f)  # the header alone: the size is known before the data
            if dtype.hasobject:
                raise DataError(f"{where}: {key} holds Python objects; store numbers (uint8 images, integer labels)")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if size > limit(DATASET_BYTES):
                raise DataError(f"{where}: {key} {shape} needs {size} bytes, over the {limit(DATASET_BYTES)} byte limit "
                                "(LUTRUN_MAX_DATASET_BYTES raises it; docs/limits.md)")
        with archive.open(f"{key}.npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{where}: cannot read {key} ({exc})") from None


def _archive(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not an .npz archive ({exc})") from None


def npz_splits(path: Path) -> tuple[str, ...]:
    with _archive(path) as archive:
        members = set(archive.namelist())
    return tuple(split for split, (x, _) in KEYS.items() if f"{x}.npy" in members)


def load_npz(path: Path, split: str, limit_n: int | None = None) -> LabelledImages:
    """One split as stored: uint8 [N, H, W, C] (resizing is lutrun.datasets.load_dataset's)."""
    if split not in KEYS:
        raise DataError(f"split must be one of {', '.join(KEYS)}, got {split!r}")
    with _archive(path) as archive:
        members = set(archive.namelist())
        x_key, y_key = KEYS[split]
        for key in (x_key, y_key):
            if f"{key}.npy" not in members:
                raise DataError(f"{path}: no {key!r} array (the {split} split needs {x_key} and {y_key})")
        x, y = _read(archive, x_key, path), _read(archive, y_key, path)
        names = _read(archive, "class_names", path) if "class_names.npy" in members else None
    if x.dtype != np.uint8 or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)):
        raise DataError(f"{path}: {x_key} must be uint8 [N, H, W] or [N, H, W, C] with C 1 or 3, got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: {y_key} {y.shape} does not give one label per image of {x_key} {x.shape}")
    check_labels(y, None, f"{path}: {y_key}")
    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "U":
            raise DataError(f"{path}: class_names must be a 1-d array of strings, got {names.dtype} {names.shape}")
        class_names = tuple(str(n) for n in names)
        check_labels(y, len(class_names), f"{path}: {y_key}")
    else:
        class_names = ()
    if limit_n is not None:
        x, y = x[:limit_n], y[:limit_n]
    return LabelledImages(np.ascontiguousarray(x if x.ndim == 4 else x[..., None]), y.astype(np.int64),
                          f"{path}:{split}", class_names)
