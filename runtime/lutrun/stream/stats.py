"""Per-frame timestamps of a running pipeline, kept in a preallocated ring, and their summary."""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

# Timestamps (monotonic ns) every frame collects, in pipeline order.
STAMPS = ("arrival", "captured", "preprocessed", "dequeued", "inferred", "delivered")
ARRIVAL, CAPTURED, PREPROCESSED, DEQUEUED, INFERRED, DELIVERED = range(len(STAMPS))
# Stage name -> (from stamp, to stamp).  End to end is arrival -> inferred: the result exists.
STAGES = {
    "capture": (ARRIVAL, CAPTURED),
    "preprocess": (CAPTURED, PREPROCESSED),
    "queue": (PREPROCESSED, DEQUEUED),
    "infer": (DEQUEUED, INFERRED),
    "sink": (INFERRED, DELIVERED),
}


def percentiles_ms(ns: np.ndarray) -> dict[str, float]:
    if len(ns) == 0:
        return {"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    p50, p90, p99 = np.percentile(ns, [50, 90, 99]) / 1e6
    return {"p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99), "max_ms": float(ns.max() / 1e6)}


class ErrorLog(deque):
    """The last ``KEEP`` error lines, and how many there were: a stream that runs for months stays bounded."""

    KEEP = 100

    def __init__(self) -> None:
        super().__init__(maxlen=self.KEEP)
        self.count = 0

    def append(self, line: str) -> None:
        super().append(line)
        self.count += 1

    def extend(self, lines: Any) -> None:
        for line in lines:
            self.append(line)


class StreamStats:
    """Counters plus the stamps of the last ``capacity`` frames (older ones roll off)."""

    def __init__(self, capacity: int = 1 << 20) -> None:
        self.capacity = capacity
        self._stamps = np.zeros((capacity, len(STAMPS)), np.int64)
        self._lock = threading.Lock()
        self.frames = self.labelled = self.correct = 0
        self.dropped = 0
        self.reconnects = 0  # a live source reopened after a failure
        self.source_errors = ErrorLog()
        self._first_arrival: int | None = None
        self._last_result = 0

    def add(self, stamps: np.ndarray, labels: np.ndarray, predictions: np.ndarray) -> None:
        """Record delivered frames: stamps [n, len(STAMPS)], labels (-1 = unknown), predictions."""
        n = len(stamps)
        with self._lock:
            # Into the ring as at most two slices (an index array per frame cost ~0.1 µs a frame in Offline).
            kept = stamps[-self.capacity:]  # a block longer than the ring keeps its last frames
            start = (self.frames + n - len(kept)) % self.capacity
            first = min(len(kept), self.capacity - start)
            self._stamps[start:start + first] = kept[:first]
            self._stamps[:len(kept) - first] = kept[first:]
            self.frames += n
            known = labels >= 0
            self.labelled += int(known.sum())
            self.correct += int((labels[known] == predictions[known]).sum())
            arrival = int(stamps[:, ARRIVAL].min())
            self._first_arrival = arrival if self._first_arrival is None else min(self._first_arrival, arrival)
            self._last_result = max(self._last_result, int(stamps[:, INFERRED].max()))

    def add_drops(self, n: int) -> None:
        with self._lock:
            self.dropped += n

    def recent(self, count: int | None = None) -> np.ndarray:
        """Stamps of the last ``count`` frames held (all held when None), oldest first."""
        with self._lock:
            held = min(self.frames, self.capacity)
            count = held if count is None else min(count, held)
            end = self.frames % self.capacity
            idx = (np.arange(end - count, end)) % self.capacity
            return self._stamps[idx]

    def e2e_ns(self, stamps: np.ndarray) -> np.ndarray:
        return stamps[:, INFERRED] - stamps[:, ARRIVAL]

    def summary(self) -> dict[str, Any]:
        stamps = self.recent()
        e2e = percentiles_ms(self.e2e_ns(stamps))
        span_s = (self._last_result - self._first_arrival) / 1e9 if self._first_arrival is not None else 0.0
        return {
            "frames": self.frames,
            "dropped_frames": self.dropped,
            "fps": self.frames / span_s if span_s > 0 else 0.0,
            "e2e_p50_ms": e2e["p50_ms"],
            "e2e_p90_ms": e2e["p90_ms"],
            "e2e_p99_ms": e2e["p99_ms"],
            "e2e_max_ms": e2e["max_ms"],
            "accuracy": self.correct / self.labelled if self.labelled else None,
            "labelled_frames": self.labelled,
            "stages": {name: percentiles_ms(stamps[:, b] - stamps[:, a]) for name, (a, b) in STAGES.items()},
            "stamped_frames": len(stamps),
            "source_errors": list(self.source_errors),
            "source_error_count": self.source_errors.count,
            "reconnects": self.reconnects,
        }
