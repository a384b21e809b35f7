"""Turning real camera/video frames into the model's input: gray/colour, crop, resize, polarity, contrast.

Uses OpenCV; every step writes into buffers allocated once, so the per-frame
path allocates nothing when an ``out`` array is passed.
"""
from __future__ import annotations

import numpy as np

from lutrun import native
from lutrun.errors import ConfigError, InputShapeError
from lutrun.opencv import cv2

CROPS = ("center", "none")
# Colour frames: halve with OpenCV's exact 2x2 area path while at least this many pixels per output pixel
# remain; the final fractional area resize then reads a quarter of the pixels.  Within +-1 grey level of one
# area resize from the full crop on camera frames (tests/test_decode.py; docs/streaming.md).
HALVE_WHILE = 16
# (frame channels, model channels) -> OpenCV conversion (looked up when used: cv2 loads lazily)
_CONVERSIONS = {(3, 1): "COLOR_BGR2GRAY", (4, 1): "COLOR_BGRA2GRAY", (1, 3): "COLOR_GRAY2BGR", (4, 3): "COLOR_BGRA2BGR"}


def crop_size(frame: tuple[int, int], shape: tuple[int, int, int], crop: str) -> tuple[int, int]:
    """(rows, cols) of a frame's region the Preprocessor keeps: the centred crop of the model's aspect ratio."""
    fh, fw = frame
    h, w, _ = shape
    if crop == "none":
        return fh, fw
    return (fw * h // w, fw) if fh * w > fw * h else (fh, fh * w // h)


class Preprocessor:
    """Maps uint8 frames (gray HxW, BGR HxWx3 or BGRA HxWx4) to the model's [H, W, C]."""

    def __init__(self, input_shape: tuple[int, int, int], crop: str = "center", invert: bool = False,
                 normalize: bool = False) -> None:
        if crop not in CROPS:
            raise ConfigError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
        if input_shape[2] not in (1, 3):
            raise ConfigError(f"preprocessing supports 1 or 3 channel models, not {input_shape[2]}")
        self.shape, self.crop, self.invert, self.normalize = tuple(input_shape), crop, invert, normalize
        h, w, c = self.shape
        self._resized = np.empty((h, w) if c == 1 else (h, w, 3), np.uint8)
        self._halves: dict[tuple[int, ...], np.ndarray] = {}  # buffers of the 2x2 reductions, by shape
        self._acc = np.empty(0, np.uint32)  # the C area reduction's column sums
        # A 256-entry grey-level map applied after the resize (the source's: video-range luma), or None.
        self.levels: np.ndarray | None = None

    def _colour(self, frame: np.ndarray) -> np.ndarray:
        """Frame (gray frames are 2-d here) with the model's channel count."""
        channels = 1 if frame.ndim == 2 else frame.shape[2]
        if channels == self.shape[2]:
            return frame
        return cv2.cvtColor(frame, getattr(cv2, _CONVERSIONS[(channels, self.shape[2])]))

    def _cropped(self, frame: np.ndarray) -> np.ndarray:
        fh, fw = frame.shape[:2]
        rows, cols = crop_size((fh, fw), self.shape, self.crop)
        return frame[(fh - rows) // 2:(fh - rows) // 2 + rows, (fw - cols) // 2:(fw - cols) // 2 + cols]

    def _halved(self, image: np.ndarray) -> np.ndarray:
        """``image`` reduced by 2x2 means while at least HALVE_WHILE pixels per output pixel remain each way."""
        h, w, _ = self.shape
        while image.shape[0] >= HALVE_WHILE * h and image.shape[1] >= HALVE_WHILE * w:
            shape = (image.shape[0] // 2, image.shape[1] // 2, *image.shape[2:])
            half = self._halves.get(shape)
            if half is None:
                half = self._halves[shape] = np.empty(shape, np.uint8)
            cv2.resize(image[:shape[0] * 2, :shape[1] * 2], (shape[1], shape[0]), dst=half,
                       interpolation=cv2.INTER_AREA)
            image = half
        return image

    def _resize(self, image: np.ndarray) -> None:
        """``image`` (the crop, in the model's colours) area-resized into ``self._resized``.

        A grey image (up to 16.8 M pixels) is reduced by the C engine in one pass, in place: the luma of
        YUYV is a view whose samples are two bytes apart, which OpenCV would first copy whole."""
        h, w, _ = self.shape
        rows, cols = image.shape[:2]
        if image.ndim == 2 and rows >= h and cols >= w and native.lib is not None \
                and rows * cols <= native.lib.LR_AREA_MAX_PIXELS \
                and 1 <= image.strides[1] and image.strides[1] * cols <= image.strides[0]:
            if self._acc.size < native.area_scratch(cols):
                self._acc = np.empty(native.area_scratch(cols), np.uint32)
            native.area_resize(image, self._resized, self._acc)
        else:
            cv2.resize(self._halved(image), (w, h), dst=self._resized, interpolation=cv2.INTER_AREA)

    def passes(self, frame_shape: tuple[int, ...]) -> bool:
        """Whether a uint8 frame of ``frame_shape`` (grey frames 2-d) is the model's input as it is: nothing to
        crop, resize, map, stretch or invert.  The pipeline then copies whole blocks of such frames at once."""
        return frame_shape == self._resized.shape and not (self.normalize or self.invert) and self.levels is None

    def __call__(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """One frame -> uint8 [H, W, C] (into ``out`` if given)."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
            raise InputShapeError(f"frames must be uint8 HxW, HxWx1, HxWx3 or HxWx4; got {frame.dtype} {frame.shape}")
        if frame.ndim == 3 and frame.shape[2] == 1:
            frame = frame[:, :, 0]
        if min(frame.shape[:2]) < 1:
            raise InputShapeError(f"empty frame {frame.shape}")
        h, w, _ = self.shape
        if out is not None and self.passes(frame.shape):
            np.copyto(out, frame.reshape(self.shape))  # already the model's input: one copy, nothing else
            return out
        image = self._colour(self._cropped(frame))  # crop first: convert only the pixels kept
        if image.shape[:2] == (h, w):
            np.copyto(self._resized, image.reshape(self._resized.shape))
        else:
            self._resize(image)
        if self.levels is not None:
            cv2.LUT(self._resized, self.levels, dst=self._resized)
        if self.normalize:
            cv2.normalize(self._resized, self._resized, 0, 255, cv2.NORM_MINMAX)
        if self.invert:
            cv2.bitwise_not(self._resized, self._resized)
        if out is None:
            out = np.empty(self.shape, np.uint8)
        np.copyto(out, self._resized.reshape(self.shape))
        return out
