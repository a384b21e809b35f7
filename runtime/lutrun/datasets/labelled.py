"""A labelled image set as every reader returns it, and the checks its labels get."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lutrun.errors import DataError


@dataclass(frozen=True)
class LabelledImages:
    images: np.ndarray  # uint8 [N, H, W, C]
    labels: np.ndarray  # int64 [N], indices into class_names
    source: str
    class_names: tuple[str, ...] = ()  # empty: the labels are class indices and name nothing (idx files)

    def relabelled(self, class_names: Sequence[str]) -> LabelledImages:
        """The same images with labels indexing ``class_names`` (a model's), matched by name.

        A class of the data that ``class_names`` lacks is an error, not a silent miss.
        """
        names = list(class_names)
        if list(self.class_names) == names[:len(self.class_names)]:  # also unnamed labels: indices already
            return self
        missing = [name for name in self.class_names if name not in names]
        if missing:
            raise DataError(f"{self.source}: class(es) {', '.join(missing[:5])} are not among the model's "
                            f"({', '.join(names[:12])}{', ...' if len(names) > 12 else ''})")
        mapping = np.array([names.index(name) for name in self.class_names], np.int64)
        return LabelledImages(self.images, mapping[self.labels], self.source, tuple(names))


def check_labels(labels: np.ndarray, n_classes: int | None, where: str) -> None:
    """Labels are class indices: integers in 0..n_classes-1; DataError names the first that is not."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be integers, got {labels.dtype}")
    bad = (labels < 0) if n_classes is None else (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.argmax(bad))
        span = "non-negative" if n_classes is None else f"in 0..{n_classes - 1} (the model's classes)"
        raise DataError(f"{where}: label {int(labels[i])} at index {i} is not {span}")
