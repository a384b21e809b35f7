"""Frames as cameras send them (MJPEG, YUYV, UYVY, NV12, GREY), decoded at the cost of the model's input.

A model reads a few hundred pixels; a VGA frame holds 307,200.  So a compressed
frame is decoded grey when the model is grey and at the largest libjpeg scale
(1/2, 1/4, 1/8: the DCT is scaled, the skipped coefficients never computed) whose
crop still covers the model's input, and a packed YUV frame gives its Y plane as
a view, with no colour conversion at all.  The Preprocessor then crops and resizes
what is left (docs/streaming.md, "Camera formats").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lutrun.errors import HardwareError
from lutrun.opencv import cv2
from lutrun.preprocess import crop_size

# Pixel formats a V4L2 camera offers that the pipeline takes without OpenCV's BGR conversion.
FORMATS = ("MJPG", "YUYV", "UYVY", "NV12", "GREY")
JPEG_SCALES = (8, 4, 2, 1)
# YUV cameras send BT.601 "video range" luma, 16 (black) to 235 (white); OpenCV's conversion to BGR stretches
# it to 0..255, and models are trained on full-range pixels.  Applied to the model's few output pixels
# (Preprocessor.levels), not to the frame.
VIDEO_RANGE = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_JPEG_FLAGS = {  # scale -> (grey, colour); resolved when used (cv2 loads lazily)
    1: ("IMREAD_GRAYSCALE", "IMREAD_COLOR"),
    2: ("IMREAD_REDUCED_GRAYSCALE_2", "IMREAD_REDUCED_COLOR_2"),
    4: ("IMREAD_REDUCED_GRAYSCALE_4", "IMREAD_REDUCED_COLOR_4"),
    8: ("IMREAD_REDUCED_GRAYSCALE_8", "IMREAD_REDUCED_COLOR_8"),
}


def fourcc_text(code: float) -> str:
    """OpenCV's numeric FOURCC as its four letters ('' when unset)."""
    value = int(code)
    return "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ") if value > 0 else ""


def jpeg_scale(frame: tuple[int, int], shape: tuple[int, int, int], crop: str = "center") -> int:
    """The largest libjpeg reduction whose crop still has at least the model's rows and columns."""
    rows, cols = crop_size(frame, shape, crop)
    return next(k for k in JPEG_SCALES if k == 1 or (rows // k >= shape[0] and cols // k >= shape[1]))


@dataclass
class FrameDecoder:
    """Raw camera or file buffers of one format and size -> the smallest image that serves the model.

    ``grey``: the model has one channel, so colour is never reconstructed.
    """

    fourcc: str
    width: int
    height: int
    grey: bool
    scale: int = 1  # JPEG only: 1, 2, 4 or 8

    @classmethod
    def for_model(cls, fourcc: str, width: int, height: int, shape: tuple[int, int, int],
                  crop: str = "center") -> FrameDecoder:
        scale = jpeg_scale((height, width), shape, crop) if fourcc == "MJPG" else 1
        return cls(fourcc, width, height, shape[2] == 1, scale)

    @property
    def levels(self) -> np.ndarray | None:
        """The grey-level map the Preprocessor applies after resizing: the luma of YUV formats is video range."""
        return VIDEO_RANGE if self.grey and self.fourcc in ("YUYV", "UYVY", "NV12") else None

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """One buffer as delivered (any shape; its bytes in order) -> uint8 grey HxW or BGR HxWx3."""
        data = raw.reshape(-1) if raw.flags.c_contiguous else np.ascontiguousarray(raw).reshape(-1)
        if self.fourcc == "MJPG":
            flag = getattr(cv2, _JPEG_FLAGS[self.scale][0 if self.grey else 1])
            image = cv2.imdecode(data, flag)
            if image is None:
                raise HardwareError(f"a {self.width}x{self.height} MJPEG frame of {data.size} bytes does not decode")
            return image
        h, w = self.height, self.width
        need = {"YUYV": 2 * h * w, "UYVY": 2 * h * w, "NV12": h * w * 3 // 2, "GREY": h * w}[self.fourcc]
        if data.size < need:
            raise HardwareError(f"a {self.fourcc} {w}x{h} frame needs {need} bytes, the device gave {data.size}")
        if self.fourcc == "GREY":
            image = data[:need].reshape(h, w)
            return image if self.grey else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if self.fourcc == "NV12":
            return data[:h * w].reshape(h, w) if self.grey else cv2.cvtColor(data[:need].reshape(h * 3 // 2, w),
                                                                             cv2.COLOR_YUV2BGR_NV12)
        packed = data[:need].reshape(h, w, 2)
        if not self.grey:
            return cv2.cvtColor(packed, cv2.COLOR_YUV2BGR_YUYV if self.fourcc == "YUYV" else cv2.COLOR_YUV2BGR_UYVY)
        return packed[:, :, 0 if self.fourcc == "YUYV" else 1]  # the Y samples: a strided view, nothing copied

    def describe(self) -> dict[str, object]:
        return {"format": self.fourcc, "width": self.width, "height": self.height, "grey": self.grey,
                "jpeg_scale": self.scale if self.fourcc == "MJPG" else None}
