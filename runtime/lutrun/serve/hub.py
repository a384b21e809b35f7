"""The service's one sink: what the web page, the API, the metrics and MQTT read.

It runs on the pipeline's engine thread, so it does per batch only what is
cheap (a dict for the newest frame, a few numpy updates, at most
``preview_fps`` frame copies a second) and never waits on a reader: readers
(web clients, the MQTT publisher, Prometheus) take the newest state at their
own pace, so a slow or dead reader can never hold the stream back.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from lutrun.stream.sinks import Batch, Sink
from lutrun.stream.stats import ARRIVAL, INFERRED, STAGES

if TYPE_CHECKING:
    from lutrun.stream.pipeline import Pipeline

# Latency buckets (seconds) of the Prometheus histograms and of the page's histogram.
BUCKETS_S = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
# Stage name -> (from stamp, to stamp); "e2e" is arrival -> result, as the pipeline's summary counts it.
HISTOGRAM_STAGES = {**STAGES, "e2e": (ARRIVAL, INFERRED)}
RATE_MARK_NS = 250_000_000  # the frame rate is measured over the last 8 such steps (~2 s)
RECENT = 4096  # end-to-end latencies kept for the page's percentiles and histogram
PREVIEW_WIDTH = 320  # preview frames wider than this are decimated by an integer step


class ResultHub(Sink):
    needs_frames = True

    def __init__(self, preview_fps: float = 10.0) -> None:
        self.preview_period_ns = int(1e9 / preview_fps)
        self._lock = threading.Lock()  # the engine thread writes, readers copy under it
        self.frames = 0  # over every pipeline the service has run
        self.version = 0  # bumped per batch: readers compare it to what they last sent
        self.latest: dict[str, Any] | None = None
        self.preview: np.ndarray | None = None
        self.preview_result = (0, 0)  # the preview frame's sequence number and predicted class
        self.preview_version = 0
        self._last_preview_ns = 0
        self._recent = np.zeros(RECENT, np.int64)
        self._recent_n = 0
        # Cumulative histogram state: counts per bucket (+Inf last) and sums, per stage.
        edges = np.array(BUCKETS_S) * 1e9
        self._edges_ns = edges
        self.bucket_counts = {name: np.zeros(len(edges) + 1, np.int64) for name in HISTOGRAM_STAGES}
        self.sums_s = dict.fromkeys(HISTOGRAM_STAGES, 0.0)
        self._marks: list[tuple[int, int]] = []  # (monotonic ns, frames) every RATE_MARK_NS
        self.listeners: list[Any] = []  # callables taking the newest result (e.g. the MQTT publisher's offer)

    def open(self, pipeline: Pipeline) -> None:
        """Keeps the counts of earlier pipelines: the service's totals span source switches."""

    def write(self, batch: Batch) -> None:
        n = len(batch)
        stamps = batch.stamps
        i = n - 1
        e2e = stamps[:, INFERRED] - stamps[:, ARRIVAL]
        prediction = int(batch.predictions[i])
        label = int(batch.labels[i])
        latest = {"seq": int(batch.seq[i]), "stream": int(batch.stream[i]), "class_index": prediction,
                  "class": batch.class_names[prediction], "scores": batch.scores[i].tolist(),
                  "class_names": batch.class_names, "label": label if label >= 0 else None, "model": batch.model,
                  "e2e_ms": round(float(e2e[i]) / 1e6, 3), "time": time.time()}
        now = time.monotonic_ns()
        with self._lock:
            for name, (a, b) in HISTOGRAM_STAGES.items():
                ns = stamps[:, b] - stamps[:, a]
                self.bucket_counts[name] += np.bincount(np.searchsorted(self._edges_ns, ns),
                                                        minlength=len(self._edges_ns) + 1)
                self.sums_s[name] += float(ns.sum()) / 1e9
            take = min(n, RECENT)
            idx = (self._recent_n + np.arange(take)) % RECENT
            self._recent[idx] = e2e[-take:]
            self._recent_n += take
            if batch.frames is not None and now - self._last_preview_ns >= self.preview_period_ns:
                frame = batch.frames[i]
                assert frame is not None
                step = -(-frame.shape[1] // PREVIEW_WIDTH)
                self.preview = np.ascontiguousarray(frame[::step, ::step])
                self.preview_result = (latest["seq"], prediction)
                self.preview_version += 1
                self._last_preview_ns = now
            self.frames += n
            if not self._marks or now - self._marks[-1][0] >= RATE_MARK_NS:
                self._marks.append((now, self.frames))
                del self._marks[:-9]
            self.latest = latest
            self.version += 1
        for listener in self.listeners:
            listener(latest)

    def newest_preview(self) -> tuple[int, np.ndarray | None, tuple[int, int]]:
        """The newest preview frame: its version, pixels, and (sequence number, predicted class)."""
        with self._lock:
            return self.preview_version, self.preview, self.preview_result

    def fps(self) -> float:
        """Frames per second over the last ~2 s; 0 once no frame has come for that long."""
        with self._lock:
            marks, frames = list(self._marks), self.frames
        now = time.monotonic_ns()
        if not marks or now - marks[-1][0] > 9 * RATE_MARK_NS:
            return 0.0
        then, before = marks[0]
        return (frames - before) / ((now - then) / 1e9) if now > then else 0.0

    def recent_e2e_ns(self) -> np.ndarray:
        with self._lock:
            held = min(self._recent_n, RECENT)
            return self._recent[:held].copy()

    def histogram(self) -> dict[str, Any]:
        """Recent end-to-end latencies in the metrics' buckets, for the page: edges (ms) and counts."""
        recent = self.recent_e2e_ns()
        counts = np.bincount(np.searchsorted(self._edges_ns, recent), minlength=len(self._edges_ns) + 1)
        return {"edges_ms": [b * 1e3 for b in BUCKETS_S], "counts": counts.tolist()}

    def snapshot(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Copies of the cumulative histograms (bucket counts, sums in seconds) for a metrics scrape."""
        with self._lock:
            return {k: v.copy() for k, v in self.bucket_counts.items()}, dict(self.sums_s)
