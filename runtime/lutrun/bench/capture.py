"""``lutrun bench capture``: what a camera frame costs before the engine, per format and size.

Frames are MNIST digits printed on paper as a camera would see them (dark ink on a lit,
slightly shaded white page, sensor noise), encoded in each format a UVC camera sends.  Each
is timed through lutrun's path (lutrun.stream.decode, then the Preprocessor) and through
the general one it replaces (OpenCV's full BGR decode, then the same Preprocessor).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lutrun.bench.timing import latencies_us
from lutrun.errors import ConfigError
from lutrun.model import Model
from lutrun.opencv import cv2
from lutrun.preprocess import Preprocessor
from lutrun.stream.decode import FrameDecoder

# (format, width, height): VGA from a webcam, BinaryBrain's 640x132 1000 fps window, 720p MJPEG.
CASES = (("MJPG", 640, 480), ("YUYV", 640, 480), ("GREY", 640, 132), ("MJPG", 1280, 720))


def paper_frame(digit: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 MNIST digit as dark ink on white paper filling the centre of a BGR ``width`` x ``height`` frame."""
    side = min(width, height)
    ink = cv2.resize(digit.reshape(28, 28), (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    page = np.linspace(235, 205, width, dtype=np.float32)[None, :].repeat(height, 0)  # light falling off
    y0, x0 = (height - side) // 2, (width - side) // 2
    page[y0:y0 + side, x0:x0 + side] *= 1 - 0.85 * ink
    page += rng.normal(0, 2, page.shape).astype(np.float32)
    grey = np.clip(page, 0, 255).astype(np.uint8)
    return cv2.merge([grey, grey, np.clip(grey.astype(np.int16) + 6, 0, 255).astype(np.uint8)])  # a warm cast


def encode(frame: np.ndarray, fourcc: str, quality: int = 85) -> np.ndarray:
    """A BGR frame as the bytes a camera sends in ``fourcc`` (MJPG, YUYV, UYVY, NV12, GREY)."""
    h, w = frame.shape[:2]
    if fourcc == "MJPG":
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return data.reshape(-1)
    if fourcc == "GREY":
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).reshape(-1)
    i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).reshape(-1)  # Y, then U and V at quarter size
    y, u, v = i420[:h * w].reshape(h, w), i420[h * w:h * w * 5 // 4], i420[h * w * 5 // 4:]
    if fourcc == "NV12":
        return np.concatenate([y.reshape(-1), np.stack([u, v], 1).reshape(-1)])
    u2 = u.reshape(h // 2, w // 2).repeat(2, 0)  # 4:2:2 from 4:2:0: each chroma row twice
    v2 = v.reshape(h // 2, w // 2).repeat(2, 0)
    packed = np.empty((h, w // 2, 4), np.uint8)
    order = (y[:, 0::2], u2, y[:, 1::2], v2) if fourcc == "YUYV" else (u2, y[:, 0::2], v2, y[:, 1::2])
    for i, plane in enumerate(order):
        packed[:, :, i] = plane
    return packed.reshape(-1)


def general_decode(data: np.ndarray, fourcc: str, width: int, height: int) -> np.ndarray:
    """What OpenCV's conversion delivers when left on: a full-size BGR frame."""
    if fourcc == "MJPG":
        return cv2.imdecode(data, cv2.IMREAD_COLOR)
    if fourcc == "GREY":
        return cv2.cvtColor(data.reshape(height, width), cv2.COLOR_GRAY2BGR)
    if fourcc == "NV12":
        return cv2.cvtColor(data.reshape(height * 3 // 2, width), cv2.COLOR_YUV2BGR_NV12)
    code = cv2.COLOR_YUV2BGR_YUYV if fourcc == "YUYV" else cv2.COLOR_YUV2BGR_UYVY
    return cv2.cvtColor(data.reshape(height, width, 2), code)


def write_paper_video(path: str, digits: np.ndarray, width: int = 640, height: int = 480, fps: float = 30.0) -> int:
    """An MJPEG AVI of ``digits`` on paper, as a USB camera records it; returns its frame count."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise ConfigError(f"{path}: OpenCV cannot write an MJPEG AVI here")
    rng = np.random.default_rng(0)
    for digit in digits:
        writer.write(paper_frame(digit, width, height, rng))
    writer.release()
    return len(digits)


def bench_capture(model: Model, digits: np.ndarray, repeats: int = 300, cases: tuple = CASES) -> dict[str, Any]:
    """Median µs per frame of decode and preprocess, lutrun's path and the general one, per case."""
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"model_input": list(model.input_shape), "frames_per_case": len(digits), "cases": []}
    for fourcc, width, height in cases:
        raw = [encode(paper_frame(d, width, height, rng), fourcc) for d in digits]
        decoder = FrameDecoder.for_model(fourcc, width, height, model.input_shape)
        preprocess = Preprocessor(model.input_shape, invert=True)
        target = np.empty(model.input_shape, np.uint8)
        case: dict[str, Any] = {"format": fourcc, "width": width, "height": height, "jpeg_scale": decoder.scale
                                if fourcc == "MJPG" else None, "bytes_per_frame": int(np.median([r.size for r in raw]))}
        for path, decode in (("lutrun", decoder), ("general", lambda r: general_decode(r, fourcc, width, height))):
            frames = iter(raw * (repeats // len(raw) + 2))
            decode_us = float(np.median(latencies_us(lambda: decode(next(frames)), repeats)))
            decoded = [decode(r) for r in raw]
            images = iter(decoded * (repeats // len(decoded) + 2))
            preprocess_us = float(np.median(latencies_us(lambda: preprocess(next(images), out=target), repeats)))
            case[path] = {"decode_us": round(decode_us, 1), "preprocess_us": round(preprocess_us, 1),
                          "total_us": round(decode_us + preprocess_us, 1),
                          "decoded_shape": list(decoded[0].shape)}
        case["speedup"] = round(case["general"]["total_us"] / case["lutrun"]["total_us"], 2)
        out["cases"].append(case)
    return out
