"""Decoded frames to the model's input, through the pipeline's own Preprocessor.

Training and inference must see the same pixels, so a dataset's images are
resized and converted by exactly the code that treats camera frames.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from lutrun.errors import DataError
from lutrun.limits import DATASET_BYTES, limit
from lutrun.preprocess import Preprocessor

Shape = tuple[int, int, int]


def frame_shape(frame: np.ndarray) -> Shape:
    """(H, W, C) of a decoded frame as a model would take it: grey C = 1, colour (BGR or BGRA) C = 3."""
    channels = 1 if frame.ndim == 2 or frame.shape[2] == 1 else 3
    return int(frame.shape[0]), int(frame.shape[1]), channels


def to_model_input(frames: Iterable[tuple[str, np.ndarray]], count: int, input_shape: Shape | None,
                   where: str) -> np.ndarray:
    """``count`` named frames as uint8 [count, H, W, C].

    Without ``input_shape`` the first frame sets it and every other frame must match: a
    silent resize of mixed sizes would train on pixels the user never chose.
    """
    out: np.ndarray | None = None
    first = ""
    preprocess: Preprocessor | None = None
    for i, (name, frame) in enumerate(frames):
        if out is None:
            shape = input_shape or frame_shape(frame)
            size = count * shape[0] * shape[1] * shape[2]
            if size > limit(DATASET_BYTES):
                raise DataError(f"{where}: {count} images of {shape} need {size} bytes, over the {limit(DATASET_BYTES)} "
                                "byte limit (LUTRUN_MAX_DATASET_BYTES raises it; docs/limits.md)")
            out, first, preprocess = np.empty((count, *shape), np.uint8), name, Preprocessor(shape)
        elif input_shape is None and frame_shape(frame) != out.shape[1:]:
            raise DataError(f"{where}: images differ in size or colour ({first}: {'x'.join(map(str, out.shape[1:]))}, "
                            f"{name}: {'x'.join(map(str, frame_shape(frame)))}); give the model's "
                            "--input-shape H,W,C and they are all resized to it")
        assert preprocess is not None
        preprocess(frame, out=out[i])
    if out is None:
        raise DataError(f"{where}: no images")
    return out
