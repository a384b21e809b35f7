"""Image-folder datasets, torchvision's ``ImageFolder`` layout: ``DIR/<split>/<class>/<image>``.

Class names are the sorted folder names of ``DIR/train``; ``val`` and ``test`` may hold
fewer classes but none that training lacks.  Files are decoded as the ``images:`` source
decodes them and preprocessed by the pipeline's code (lutrun.datasets.convert).
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import numpy as np

from lutrun.datasets.convert import Shape, to_model_input
from lutrun.datasets.labelled import LabelledImages
from lutrun.errors import DataError
from lutrun.opencv import cv2

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
SPLITS = ("train", "val", "test")


def image_files(directory: Path) -> list[Path]:
    """The image files of one directory, by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: Path) -> np.ndarray | None:
    """An 8-bit image as stored (grey HxW, BGR or BGRA), or None if it is not one."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return image if image is not None and image.dtype == np.uint8 and image.ndim in (2, 3) else None


def class_dirs(directory: Path) -> list[Path]:
    return sorted((p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def is_folder_dataset(root: Path) -> bool:
    return (root / "train").is_dir() and bool(class_dirs(root / "train"))


def folder_splits(root: Path) -> tuple[str, ...]:
    return tuple(split for split in SPLITS if (root / split).is_dir())


def folder_classes(root: Path) -> tuple[str, ...]:
    """The class names: ``DIR/train``'s sub-folders, sorted; at least two, none empty."""
    train = root / "train"
    if not train.is_dir():
        raise DataError(f"{root}: no train/ folder (expected DIR/train/<class>/<image>)")
    classes = class_dirs(train)
    if len(classes) < 2:
        raise DataError(f"{train}: {len(classes)} class folder(s); a classifier needs at least two")
    for folder in classes:
        if not image_files(folder):
            raise DataError(f"{folder}: class {folder.name!r} has no image files ({', '.join(IMAGE_SUFFIXES)})")
    return tuple(p.name for p in classes)


def load_folder(root: Path, split: str, limit: int | None = None, input_shape: Shape | None = None) -> LabelledImages:
    """One split as uint8 [N, H, W, C] with labels indexing the training classes."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    names = folder_classes(root)
    directory = root / split
    if not directory.is_dir():
        raise DataError(f"{root}: no {split}/ folder")
    files: list[tuple[Path, int]] = []
    for folder in class_dirs(directory):
        if folder.name not in names:
            raise DataError(f"{folder}: class {folder.name!r} is not one of the training classes ({', '.join(names)})")
        files += [(path, names.index(folder.name)) for path in image_files(folder)]
    if not files:
        raise DataError(f"{directory}: no image files in its class folders")
    files = interleaved(files)[:limit]

    def decoded() -> Iterator[tuple[str, np.ndarray]]:
        for path, _ in files:
            image = read_image(path)
            if image is None:
                raise DataError(f"{path}: not a readable 8-bit image")
            yield str(path), image

    images = to_model_input(decoded(), len(files), input_shape, str(directory))
    labels = np.array([label for _, label in files], np.int64)
    return LabelledImages(images, labels, f"{root}:{split}", names)


def interleaved(files: list[tuple[Path, int]]) -> list[tuple[Path, int]]:
    """The classes in turn, one file each: any first N (``--limit``, the held-out validation) are balanced."""
    by_class: dict[int, list[tuple[Path, int]]] = {}
    for item in files:
        by_class.setdefault(item[1], []).append(item)
    return [item for row in itertools.zip_longest(*by_class.values()) for item in row if item is not None]
