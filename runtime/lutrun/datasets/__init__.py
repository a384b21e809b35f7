"""Labelled image sets for training and evaluation, in three layouts found by looking at the path.

* a directory of idx files (MNIST and friends: ``train-images-idx3-ubyte[.gz]``, ...);
* an image-folder tree, ``DIR/train/<class>/<image>`` with optional ``val/`` and ``test/``;
* an ``.npz`` with ``x`` uint8 [N, H, W(, C)] and ``y`` labels (lutrun.datasets.npzfile).

Every reader returns LabelledImages: uint8 [N, H, W, C], int64 labels and the class names.
"""
from __future__ import annotations

import os
from pathlib import Path

from lutrun.datasets.convert import Shape, to_model_input
from lutrun.datasets.folder import IMAGE_SUFFIXES, folder_splits, is_folder_dataset, load_folder, read_image
from lutrun.datasets.idx import idx_splits, load_idx_dataset, read_idx
from lutrun.datasets.labelled import LabelledImages, check_labels
from lutrun.datasets.npzfile import load_npz, npz_splits
from lutrun.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "LabelledImages", "check_labels", "dataset_splits", "load_dataset", "load_idx_dataset",
           "read_idx", "read_image"]


def _kind(path: Path) -> str:
    if path.suffix.lower() == ".npz":
        return "npz"
    if not path.exists():
        raise DataError(f"{path}: dataset not found")
    if path.is_dir():
        if idx_splits(path):
            return "idx"
        if is_folder_dataset(path):
            return "folder"
    raise DataError(f"{path}: not a dataset: expected a directory of idx files, an image-folder tree "
                    "(DIR/train/<class>/<image>) or an .npz with x and y")


def dataset_splits(path: str | os.PathLike) -> tuple[str, ...]:
    """The splits present: of train, val, test (idx files have no val)."""
    path = Path(path)
    kind = _kind(path)
    return idx_splits(path) if kind == "idx" else folder_splits(path) if kind == "folder" else npz_splits(path)


def load_dataset(path: str | os.PathLike, split: str = "test", limit: int | None = None,
                 input_shape: Shape | None = None) -> LabelledImages:
    """One split of the dataset at ``path``, at most ``limit`` images, resized to ``input_shape`` if given.

    Without ``input_shape`` an image folder's images must all share one size and colour.

    >>> from lutrun.resources import DATA
    >>> digits = load_dataset(DATA / "sample", "test", limit=3)
    >>> digits.images.shape, digits.labels.tolist()
    ((3, 28, 28, 1), [7, 0, 9])
    >>> load_dataset(DATA / "sample", "test", limit=3, input_shape=(14, 14, 3)).images.shape
    (3, 14, 14, 3)
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "folder":
        return load_folder(path, split, limit, input_shape)
    data = load_npz(path, split, limit) if kind == "npz" else load_idx_dataset(path, split, limit)
    if input_shape is None or tuple(data.images.shape[1:]) == tuple(input_shape):
        return data
    images = to_model_input(((f"{data.source}[{i}]", image) for i, image in enumerate(data.images)), len(data.images),
                            input_shape, data.source)
    return LabelledImages(images, data.labels, data.source, data.class_names)
