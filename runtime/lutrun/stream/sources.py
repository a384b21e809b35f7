"""Frame sources behind one interface, chosen by a URI-like spec.

``camera:0``, ``video:PATH``, ``images:DIR``, ``dataset:PATH`` and ``builtin``;
options follow a ``?`` as ``key=value&...`` (for example
``dataset:../shared/data/mnist?rate=1000&jitter=0.2&shift=2&noise=8``).
A source returns one frame per ``read()``; it paces itself when given a rate
and reports each frame's arrival time (monotonic ns): the moment a camera
would have delivered it, so pacing lateness counts as latency.  A source whose
frames are all there at once (an unpaced dataset) also hands out blocks of
them (``read_block``), so that the pipeline spends one Python call per block.
"""
from __future__ import annotations

import math
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from lutrun.datasets import IMAGE_SUFFIXES, load_dataset, read_image
from lutrun.datasets.folder import class_dirs, image_files
from lutrun.errors import ConfigError, DataError, HardwareError
from lutrun.opencv import cv2
from lutrun.stream.decode import FORMATS, FrameDecoder, fourcc_text

NO_LABEL = -1


@dataclass
class SourceFrame:
    image: np.ndarray  # uint8 HxW or HxWxC; valid until the next read()
    label: int  # NO_LABEL when unknown
    arrival_ns: int  # time.monotonic_ns() of delivery


@dataclass
class FrameBlock:
    images: np.ndarray  # uint8 [k, H, W] or [k, H, W, C]; valid until the next read
    labels: np.ndarray  # int64 [k], NO_LABEL when unknown
    arrival_ns: np.ndarray  # int64 [k]


class Pacer:
    """Delivery schedule at ``rate`` frames/s (None or 0: as fast as read): fixed period,
    uniform jitter (a fraction of the period) or Poisson arrivals."""

    def __init__(self, rate: float | None, jitter: float = 0.0, poisson: bool = False, seed: int = 0) -> None:
        if rate is not None and rate < 0:
            raise ConfigError(f"rate must be >= 0 (0: unpaced), got {rate}")
        if not 0 <= jitter < 1:
            raise ConfigError(f"jitter is a fraction of the frame period in [0, 1), got {jitter}")
        self.period_ns = 1e9 / rate if rate else 0.0
        self.jitter, self.poisson = jitter, poisson
        self._rng = np.random.default_rng(seed)
        self._next: float | None = None

    def wait(self) -> int:
        """Sleep until the next frame is due; return its due time."""
        now = time.monotonic_ns()
        if not self.period_ns:
            return now
        if self._next is None:
            self._next = float(now)
        due = self._next
        if self.jitter:
            due += self._rng.uniform(-self.jitter, self.jitter) * self.period_ns
        gap = self._rng.exponential(self.period_ns) if self.poisson else self.period_ns
        self._next += gap
        if due > now:
            time.sleep((due - now) / 1e9)
        return int(due)


class Source(ABC):
    """One stream of frames.  ``live`` sources (cameras) may drop frames; the others never should."""

    live = False
    spec = ""
    # The names its labels index, matched to the model's classes by the pipeline; None: labels are class indices.
    label_names: tuple[str, ...] | None = None
    _target: tuple[tuple[int, int, int], str] | None = None
    _decoder: FrameDecoder | None = None

    @property
    def levels(self) -> np.ndarray | None:
        """The grey-level map this source's frames need after resizing (lutrun.stream.decode), once open."""
        return self._decoder.levels if self._decoder is not None else None

    def target(self, shape: tuple[int, int, int], crop: str = "center") -> None:
        """The model's input and the Preprocessor's crop, told before ``open``: a source that decodes may then
        decode only what they need (grey, at a reduced scale)."""
        self._target = (shape, crop)

    def open(self) -> None:
        """Acquire the device or files (called again to reconnect a live source)."""

    @abstractmethod
    def read(self) -> SourceFrame | None:
        """The next frame, or None at the end of the stream; HardwareError when a device fails."""

    @property
    def decodes(self) -> bool:
        """Whether frames arrive compressed or packed and are decoded here (once open): ``read_raw`` and
        ``decode`` then split ``read``, so that the pipeline may decode on several threads."""
        return self._decoder is not None

    def read_raw(self) -> SourceFrame | None:
        """As ``read``, the image left undecoded, in a buffer of its own (it outlives the next read)."""
        return self.read()

    def decode(self, image: np.ndarray) -> np.ndarray:
        """A frame from ``read_raw`` as ``read`` would have given it."""
        return self._decoder(image) if self._decoder is not None else image

    @property
    def blocks(self) -> bool:
        """Whether ``read_block`` may be used instead of ``read`` (set once open)."""
        return False

    def read_block(self, limit: int) -> FrameBlock | None:
        """Up to ``limit`` (>= 1) next frames at once, or None at the end of the stream; only where ``blocks``."""
        raise NotImplementedError(f"{type(self).__name__} reads one frame at a time")

    def close(self) -> None:
        """Release the device (idempotent)."""

    def dropped(self, seq: int) -> None:
        """The pipeline dropped frame ``seq`` (latest-wins policy); sources that must answer for every frame hear of it."""

    def take_errors(self) -> list[str]:
        """Items skipped since the last call (an unreadable file in a folder), for the pipeline's error count."""
        return []

    def describe(self) -> dict[str, Any]:
        decode = {"decode": self._decoder.describe()} if self._decoder is not None else {}
        return {"source": self.spec, "live": self.live, **decode}


class CameraSource(Source):
    """A V4L2 camera through OpenCV, tuned for latency: a one-frame buffer, the format asked for once after opening.

    ``format`` MJPG, YUYV, UYVY, NV12 or GREY: frames arrive undecoded (OpenCV's RGB conversion off) and
    are decoded here for the model (lutrun.stream.decode): MJPEG grey at a reduced scale, the Y plane of
    YUV, GREY as it comes.  ``format=BGR`` leaves the conversion to OpenCV (any format the camera picks).
    The format, size and rate the driver granted are in ``describe()``.
    """

    live = True

    def __init__(self, device: str, width: int | None = None, height: int | None = None, fps: float | None = None,
                 format: str = "MJPG", fourcc: str | None = None) -> None:
        self.device = int(device) if device.isdigit() else device
        self.width, self.height, self.fps = width, height, fps
        chosen = (fourcc or format).upper()
        chosen = {"RAW": "BGR", "Y8": "GREY", "Y800": "GREY", "MJPEG": "MJPG"}.get(chosen, chosen)
        if chosen not in (*FORMATS, "BGR"):
            raise ConfigError(f"camera format must be one of {', '.join((*FORMATS, 'BGR'))}, got {chosen!r}")
        self.format = chosen
        self.spec = f"camera:{device}"
        self._cap: cv2.VideoCapture | None = None
        self._buffer: np.ndarray | None = None
        self._decoder: FrameDecoder | None = None
        self.granted: dict[str, Any] = {}

    def open(self) -> None:
        self.close()
        path = f"/dev/video{self.device}" if isinstance(self.device, int) else self.device
        if not Path(path).exists():
            raise HardwareError(f"{self.spec}: no camera at {path}")
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise HardwareError(f"{self.spec}: cannot open {path} (busy, or not a capture device)")
        if self.format != "BGR":
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.format.ljust(4)))
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, self.width), (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
                            (cv2.CAP_PROP_FPS, self.fps)):
            if value:
                cap.set(prop, value)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.granted = {"format": fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)), "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                        "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), "fps": cap.get(cv2.CAP_PROP_FPS)}
        try:
            self._decoder = self._raw_decoder(cap)
        except HardwareError:
            cap.release()
            raise
        self._cap = cap

    def _raw_decoder(self, cap: cv2.VideoCapture) -> FrameDecoder | None:
        """Turn OpenCV's conversion off and decode here, if the camera granted the format asked for."""
        if self.format == "BGR":
            return None
        granted = self.granted["format"]
        if granted != self.format:
            raise HardwareError(f"{self.spec}: asked for {self.format}, the camera gave {granted or 'an unknown format'} "
                                f"{self.granted['width']}x{self.granted['height']}; ask for format={granted or 'BGR'} "
                                "(or format=BGR to let OpenCV convert whatever it sends)")
        cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
        width, height = self.granted["width"], self.granted["height"]
        shape, crop = self._target or ((height, width, 3), "none")  # untold: the whole frame in colour
        return FrameDecoder.for_model(granted, width, height, shape, crop)

    def read(self) -> SourceFrame | None:
        frame = self._grab(self._buffer)
        self._buffer = frame.image
        return SourceFrame(self.decode(frame.image), NO_LABEL, frame.arrival_ns)

    def read_raw(self) -> SourceFrame | None:
        return self._grab(None)

    def _grab(self, buffer: np.ndarray | None) -> SourceFrame:
        if self._cap is None:
            raise HardwareError(f"{self.spec}: not open")
        ok, image = self._cap.read(buffer)
        if not ok or image is None:
            raise HardwareError(f"{self.spec}: no frame (camera unplugged or stalled)")
        return SourceFrame(image, NO_LABEL, time.monotonic_ns())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "asked": {"format": self.format, "width": self.width, "height": self.height,
                                                "fps": self.fps},
                "granted": self.granted}

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class _Replay(Source):
    """Frames from files or memory, optionally paced like a camera and repeated ``loop`` times (0 = forever)."""

    def __init__(self, rate: float | None = None, jitter: float = 0.0, poisson: bool = False, loop: int = 1,
                 seed: int = 0) -> None:
        if loop < 0:
            raise ConfigError(f"loop must be >= 0 (0 repeats forever), got {loop}")
        self.rate, self.jitter, self.poisson, self.loop, self.seed = rate, jitter, poisson, loop, seed
        self.pacer = Pacer(rate, jitter, poisson, seed)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "rate": self.rate, "jitter": self.jitter, "poisson": self.poisson, "loop": self.loop}


class DatasetSource(_Replay):
    """A labelled dataset (idx, image folder or .npz: lutrun.datasets) replayed as a stream, optionally with
    random shifts and noise so it looks like a camera."""

    def __init__(self, path: str, split: str = "test", limit: int | None = None, shift: int = 0, noise: float = 0.0,
                 hold: int = 1, **replay: Any) -> None:
        """``hold``: frames each image stays in view, like a still scene before a camera (temporal mode's case)."""
        super().__init__(**replay)
        if not 0 <= shift <= 8 or noise < 0:
            raise ConfigError(f"shift must be 0..8 pixels and noise >= 0, got shift={shift}, noise={noise}")
        if not 1 <= hold <= 1_000_000:
            raise ConfigError(f"hold must be 1..1000000 frames, got {hold}")
        self.path, self.split, self.limit, self.shift, self.noise, self.hold = path, split, limit, shift, noise, hold
        self.spec = f"dataset:{path}"
        self._data: tuple[np.ndarray, np.ndarray] | None = None
        self._rng = np.random.default_rng(self.seed)

    def open(self) -> None:
        if self._data is None:
            data = load_dataset(self.path, self.split, self.limit)
            if len(data.labels) == 0:
                raise DataError(f"{self.path}: the {self.split} split is empty")
            self._data = (data.images, data.labels)
            self.label_names = data.class_names or None
            self._work = np.empty(data.images.shape[1:], np.int16)
            self._frame = np.empty(data.images.shape[1:], np.uint8)
        self._index = 0

    def read(self) -> SourceFrame | None:
        assert self._data is not None, "open() first"
        images, labels = self._data
        n = len(labels)
        if self.loop and self._index >= n * self.hold * self.loop:
            return None
        i = (self._index // self.hold) % n
        self._index += 1
        image = images[i]
        if self.shift or self.noise:
            image = self._disturb(image)
        arrival = self.pacer.wait()
        return SourceFrame(image, int(labels[i]), arrival)

    @property
    def blocks(self) -> bool:
        """Unpaced and undisturbed: every frame is an image of the dataset, due at once."""
        return not (self.live or self.pacer.period_ns or self.shift or self.noise)

    def read_block(self, limit: int) -> FrameBlock | None:
        assert self._data is not None, "open() first"
        images, labels = self._data
        end = len(labels) * self.hold * self.loop if self.loop else self._index + limit
        positions = np.arange(self._index, min(self._index + limit, end))
        if len(positions) == 0:
            return None
        self._index += len(positions)
        chosen = (positions // self.hold) % len(labels)
        return FrameBlock(images[chosen], labels[chosen].astype(np.int64),
                          np.full(len(chosen), time.monotonic_ns(), np.int64))

    def _disturb(self, image: np.ndarray) -> np.ndarray:
        """Shift by up to ``shift`` pixels (wrapping around the edges, as np.roll does) and add Gaussian noise,
        into preallocated buffers."""
        dy, dx = self._rng.integers(-self.shift, self.shift + 1, 2) if self.shift else (0, 0)
        shifted = np.roll(image, (int(dy), int(dx)), axis=(0, 1)) if (dy or dx) else image
        np.copyto(self._work, shifted, casting="unsafe")
        if self.noise:
            self._work += self._rng.normal(0, self.noise, self._work.shape).astype(np.int16)
        np.clip(self._work, 0, 255, out=self._work)
        np.copyto(self._frame, self._work, casting="unsafe")
        return self._frame


class VideoSource(_Replay):
    """Any file OpenCV can decode; unpaced by default (as fast as it decodes).

    An MJPEG file (the format of most USB cameras' recordings) is read as undecoded packets and
    decoded for the model (lutrun.stream.decode), as the camera source decodes a live MJPEG stream.
    """

    def __init__(self, path: str, **replay: Any) -> None:
        super().__init__(**replay)
        self.path = path
        self.spec = f"video:{path}"
        self._cap: cv2.VideoCapture | None = None
        self._decoder: FrameDecoder | None = None
        self._buffer: np.ndarray | None = None
        self._pass = 0

    def open(self) -> None:
        self.close()
        if not Path(self.path).is_file():
            raise DataError(f"{self.path}: video file not found")
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise DataError(f"{self.path}: OpenCV cannot decode this file")
        self._decoder = None
        if self._target is not None and fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)) == "MJPG" \
                and cap.set(cv2.CAP_PROP_FORMAT, -1):  # FFmpeg hands over the packets: JPEG files, decoded here
            self._decoder = FrameDecoder.for_model("MJPG", int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                                   int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), *self._target)
        self._cap = cap
        self._pass = 1

    def read(self) -> SourceFrame | None:
        frame = self._grab(self._buffer)
        if frame is None:
            return None
        self._buffer = frame.image
        return SourceFrame(self.decode(frame.image), NO_LABEL, frame.arrival_ns)

    def read_raw(self) -> SourceFrame | None:
        return self._grab(None)

    def _grab(self, buffer: np.ndarray | None) -> SourceFrame | None:
        assert self._cap is not None, "open() first"
        ok, image = self._cap.read(buffer)
        if not ok:
            if self._pass == 0 or (self.loop and self._pass >= self.loop):
                return None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._pass += 1
            ok, image = self._cap.read(buffer)
            if not ok:
                return None
        return SourceFrame(image, NO_LABEL, self.pacer.wait())



    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImagesSource(_Replay):
    """Image files of a directory in name order; a name starting ``<digits>_`` gives the label.

    A directory of class folders (``DIR/<class>/<image>``, a split of an image-folder dataset) is
    played folder by folder, each image labelled with its folder's name.
    """

    def __init__(self, path: str, **replay: Any) -> None:
        super().__init__(**replay)
        self.path = path
        self.spec = f"images:{path}"
        self._files: list[Path] = []
        self._labels: list[int] = []
        self._errors: list[str] = []
        self._misses = 0  # unreadable files in a row: a whole pass of them ends the stream

    def open(self) -> None:
        directory = Path(self.path)
        if not directory.is_dir():
            raise DataError(f"{self.path}: image directory not found")
        self._files, self._labels, self.label_names = image_files(directory), [], None
        if not self._files:
            classes = [folder for folder in class_dirs(directory) if image_files(folder)]
            for label, folder in enumerate(classes):
                files = image_files(folder)
                self._files += files
                self._labels += [label] * len(files)
            self.label_names = tuple(folder.name for folder in classes) if classes else None
        if not self._files:
            raise DataError(f"{self.path}: no image files ({', '.join(IMAGE_SUFFIXES)}), nor class folders holding some")
        self._index = 0

    def read(self) -> SourceFrame | None:
        """The next readable image; unreadable files are skipped and reported (``take_errors``)."""
        n = len(self._files)
        while not (self.loop and self._index >= n * self.loop):
            i = self._index % n
            path = self._files[i]
            self._index += 1
            image = read_image(path)
            if image is None:
                self._errors.append(f"{path}: not a readable 8-bit image; skipped")
                self._misses += 1
                if self._misses >= n:
                    raise DataError(f"{self.path}: none of its {n} image files is a readable 8-bit image")
                continue
            self._misses = 0
            if self._labels:
                return SourceFrame(image, self._labels[i], self.pacer.wait())
            match = re.match(r"(\d+)_", path.name)
            return SourceFrame(image, int(match.group(1)) if match else NO_LABEL, self.pacer.wait())
        return None

    def take_errors(self) -> list[str]:
        errors, self._errors = self._errors, []
        return errors


def builtin_dataset_dir() -> Path:
    from lutrun.resources import DATA

    return DATA / "sample"


def _number(kind: type, lo: float, hi: float) -> Any:
    """A parser of finite numbers in [lo, hi]; its ValueError says the range."""
    def parse(text: str) -> Any:
        value = kind(text)
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ValueError(f"must be a finite number in {lo:g}..{hi:g}")
        return value
    return parse


def _flag(text: str) -> bool:
    if text.lower() not in ("1", "true", "yes", "0", "false", "no", ""):
        raise ValueError("must be 1/true/yes or 0/false/no")
    return text.lower() in ("1", "true", "yes")


# option name -> parser, per source kind
_REPLAY_OPTIONS = {"rate": _number(float, 0, 1e7), "jitter": _number(float, 0, 1), "poisson": _flag,
                   "loop": _number(int, 0, 1 << 31), "seed": _number(int, 0, 2**32 - 1)}
_OPTIONS: dict[str, dict[str, Any]] = {
    "camera": {"width": _number(int, 1, 16384), "height": _number(int, 1, 16384), "fps": _number(float, 0.1, 10000),
               "format": str, "fourcc": str},
    "video": _REPLAY_OPTIONS,
    "images": _REPLAY_OPTIONS,
    "dataset": {**_REPLAY_OPTIONS, "split": str, "limit": _number(int, 1, 1 << 40), "shift": _number(int, 0, 8),
                "noise": _number(float, 0, 255), "hold": _number(int, 1, 1_000_000)},
}
_OPTIONS["builtin"] = _OPTIONS["dataset"]
_KINDS = {"camera": CameraSource, "video": VideoSource, "images": ImagesSource, "dataset": DatasetSource}
# The built-in stream: the shipped sample played five times at 1000 frames/s, like a fast camera.
BUILTIN_DEFAULTS = {"rate": 1000.0, "loop": 5}


def open_source(spec: str) -> Source:
    """Build (not yet open) the source named by ``spec``; ConfigError names what is wrong with it."""
    head, _, query = spec.partition("?")
    kind, _, target = head.partition(":")
    if kind not in _OPTIONS or (kind == "builtin" and target):
        raise ConfigError(f"unknown source {spec!r}: use builtin, camera:N, video:PATH, images:DIR or dataset:DIR")
    if kind != "builtin" and not target:
        raise ConfigError(f"source {spec!r} needs a target after '{kind}:'")
    options: dict[str, Any] = dict(BUILTIN_DEFAULTS) if kind == "builtin" else {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in _OPTIONS[kind]:
            raise ConfigError(f"source {spec!r}: unknown option {key!r} (known: {', '.join(sorted(_OPTIONS[kind]))})")
        try:
            options[key] = _OPTIONS[kind][key](value)
        except ValueError as exc:
            reason = str(exc) if str(exc).startswith("must") else "is not a number of the right kind"
            raise ConfigError(f"source {spec!r}: {key}={value!r} {reason}") from None
    if kind == "builtin":
        source = DatasetSource(str(builtin_dataset_dir()), **options)
        source.spec = "builtin"
        return source
    return _KINDS[kind](target, **options)
