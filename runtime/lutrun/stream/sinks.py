"""Where results go: console progress, JSON Lines, an annotated video file, a window.

Sinks run on the pipeline's delivering thread and see one ``Batch`` at a time.
"""
from __future__ import annotations

import json
import os
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from lutrun.errors import ConfigError, PipelineError
from lutrun.opencv import cv2
from lutrun.stream.stats import ARRIVAL, STAGES, StreamStats, percentiles_ms

if TYPE_CHECKING:
    from lutrun.stream.pipeline import Pipeline


@dataclass
class Batch:
    """Delivered frames, in order.  ``frames`` (raw images) is set when a sink asked for them;
    they are ring buffers, valid only during ``write``."""

    slots: np.ndarray
    seq: np.ndarray
    stream: np.ndarray
    labels: np.ndarray  # -1 where unknown
    scores: np.ndarray  # int32 [n, classes]
    predictions: np.ndarray
    stamps: np.ndarray  # int64 [n, len(STAMPS)]
    frames: list[np.ndarray | None] | None
    class_names: list[str]
    model: str = ""  # the digest (16 hex digits) of the model that classified these frames

    def __len__(self) -> int:
        return len(self.slots)


class Sink(ABC):
    needs_frames = False  # True: the pipeline keeps each raw frame for write()

    def open(self, pipeline: Pipeline) -> None:
        """Called once before the first frame."""

    @abstractmethod
    def write(self, batch: Batch) -> None: ...

    def close(self) -> None:
        """Flush and release (idempotent)."""


class ConsoleSink(Sink):
    """A live status: a tqdm bar on a terminal, otherwise a line every ``every_s`` seconds
    (or every ``every_frames`` frames when given): fps, latency p50/p99, drops, accuracy."""

    def __init__(self, every_s: float = 1.0, stream: IO[str] | None = None, bar: bool | None = None,
                 every_frames: int | None = None) -> None:
        self.every_s, self.every_frames, self.stream = every_s, every_frames, stream or sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self._stats: StreamStats | None = None
        self._seen = self._last_frames = 0
        self._last = 0.0
        self._tqdm: Any = None

    def open(self, pipeline: Pipeline) -> None:
        self._stats = pipeline.stats
        self._last = time.monotonic()
        if self.bar:
            from tqdm import tqdm

            self._tqdm = tqdm(unit=" frames", file=self.stream, dynamic_ncols=True, mininterval=self.every_s)

    def _due(self, now: float) -> bool:
        if self.every_frames:
            return self._seen // self.every_frames > self._last_frames // self.every_frames
        return now - self._last >= self.every_s

    def write(self, batch: Batch) -> None:
        self._seen += len(batch)
        if self._tqdm is not None:
            self._tqdm.update(len(batch))
        now = time.monotonic()
        if not self._due(now):
            return
        assert self._stats is not None
        stats, interval = self._stats, self._seen - self._last_frames
        lat = percentiles_ms(stats.e2e_ns(stats.recent(interval)))  # the stats lag this batch: near enough
        text = (f"{self._seen} frames, {interval / max(now - self._last, 1e-9):.0f} fps, "
                f"e2e p50 {lat['p50_ms']:.3f} ms p99 {lat['p99_ms']:.3f} ms, dropped {stats.dropped}")
        if stats.labelled:
            text += f", accuracy {100 * stats.correct / stats.labelled:.2f}%"
        if stats.source_errors.count:
            text += f", source errors {stats.source_errors.count}"
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(text.split(", ", 2)[2], refresh=False)
        else:
            print(text, file=self.stream, flush=True)
        self._last, self._last_frames = now, self._seen

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None


class JsonlSink(Sink):
    """One JSON object per frame: sequence, label, prediction, scores, the model's digest and stage latencies (µs)."""

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path, self.append = Path(path), append
        self._file: IO[str] | None = None

    def open(self, pipeline: Pipeline) -> None:
        try:
            self._file = self.path.open("a" if self.append else "w", buffering=1 << 16)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write the JSON Lines file ({exc.strerror})") from None

    def write(self, batch: Batch) -> None:
        assert self._file is not None
        stamps = batch.stamps
        stage_us = {name: (stamps[:, b] - stamps[:, a]) / 1e3 for name, (a, b) in STAGES.items() if name != "sink"}
        for i in range(len(batch)):
            label = int(batch.labels[i])
            record = {"seq": int(batch.seq[i]), "stream": int(batch.stream[i]),
                      "label": label if label >= 0 else None, "prediction": int(batch.predictions[i]),
                      "class": batch.class_names[batch.predictions[i]], "scores": batch.scores[i].tolist(), "model": batch.model,
                      "arrival_ns": int(stamps[i, ARRIVAL]),
                      "stages_us": {name: round(float(v[i]), 1) for name, v in stage_us.items()}}
            self._file.write(json.dumps(record) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def annotate(frame: np.ndarray, scores: np.ndarray, prediction: int, class_names: list[str], label: int,
             out: np.ndarray | None = None, height: int = 240) -> np.ndarray:
    """BGR picture: the frame scaled to ``height`` and, beside it, the class and a bar per class score."""
    panel_w = 160
    image = frame if frame.ndim == 3 else frame[:, :, None]
    if image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    shape = (height, width + panel_w, 3)
    if out is None or out.shape != shape:
        out = np.empty(shape, np.uint8)
    small = image.shape[0] < height
    cv2.resize(image, (width, height), dst=out[:, :width], interpolation=cv2.INTER_NEAREST if small else cv2.INTER_AREA)
    panel = out[:, width:]
    panel[:] = 32
    good = (0, 200, 0) if label < 0 or label == prediction else (0, 0, 230)
    cv2.putText(panel, class_names[prediction], (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.1, good, 2, cv2.LINE_AA)
    top = max(int(scores.max()), 1)
    n = len(scores)
    row = max(1, (height - 48) // n)
    for c in range(n):
        y = 48 + c * row
        length = int((panel_w - 40) * max(int(scores[c]), 0) / top)
        colour = good if c == prediction else (160, 160, 160)
        cv2.putText(panel, class_names[c][:3], (4, y + row - 3), cv2.FONT_HERSHEY_PLAIN, 0.8, (220, 220, 220), 1)
        cv2.rectangle(panel, (36, y + 2), (36 + length, y + row - 2), colour, -1)
    return out


class VideoSink(Sink):
    """Annotated frames into a video file (``.mp4``: mp4v, ``.avi``: MJPG) at ``fps``."""

    needs_frames = True
    _CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}

    def __init__(self, path: str | os.PathLike, fps: float = 30.0) -> None:
        self.path, self.fps = Path(path), fps
        if self.path.suffix.lower() not in self._CODECS:
            raise ConfigError(f"{self.path}: record to one of {', '.join(self._CODECS)}")
        self._writer: cv2.VideoWriter | None = None
        self._canvas: np.ndarray | None = None

    def write(self, batch: Batch) -> None:
        assert batch.frames is not None
        for i, frame in enumerate(batch.frames):
            assert frame is not None
            self._canvas = annotate(frame, batch.scores[i], int(batch.predictions[i]), batch.class_names,
                                    int(batch.labels[i]), self._canvas)
            if self._writer is None:
                h, w = self._canvas.shape[:2]
                self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self._CODECS[self.path.suffix.lower()]),
                                               self.fps, (w, h))
                if not self._writer.isOpened():
                    raise PipelineError(f"{self.path}: OpenCV cannot write this video file")
            self._writer.write(self._canvas)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def display_available() -> str | None:
    """None when cv2.imshow can open a window here, else why not."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no $DISPLAY"
    try:
        cv2.namedWindow("lutrun")
        cv2.destroyWindow("lutrun")
    except cv2.error:
        return ("this OpenCV build has no GUI (opencv-python-headless); for windows: "
                "pip uninstall -y opencv-python-headless && pip install 'lutrun[gui]'")
    return None


class DisplaySink(Sink):
    """The annotated latest frame in a window, refreshed at most ``max_fps`` times a second; q or Esc stops."""

    needs_frames = True

    def __init__(self, max_fps: float = 30.0) -> None:
        self.period = 1.0 / max_fps
        self._last = 0.0
        self._canvas: np.ndarray | None = None
        self._pipeline: Pipeline | None = None

    def open(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def write(self, batch: Batch) -> None:
        now = time.monotonic()
        if now - self._last < self.period or batch.frames is None:
            return
        self._last = now
        frame = batch.frames[-1]
        assert frame is not None
        self._canvas = annotate(frame, batch.scores[-1], int(batch.predictions[-1]), batch.class_names,
                                int(batch.labels[-1]), self._canvas)
        cv2.imshow("lutrun", self._canvas)
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27) and self._pipeline is not None:
            self._pipeline.stop()

    def close(self) -> None:
        if self._canvas is not None:
            cv2.destroyAllWindows()
            self._canvas = None
