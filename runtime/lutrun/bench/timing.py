"""Small timing helpers shared by the benchmarks: medians over repeats, since machines are noisy."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_seconds(fn: Callable[[], object], repeats: int, min_seconds: float = 0.0) -> float:
    """Median wall time of ``fn()`` over at least ``repeats`` calls (more until ``min_seconds`` pass)."""
    fn()  # warm caches and lazy initialisation
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def latencies_us(fn: Callable[[], object], count: int) -> np.ndarray:
    """Per-call latencies in microseconds of ``count`` calls."""
    fn()
    out = np.empty(count, np.float64)
    clock = time.perf_counter_ns
    for i in range(count):
        t0 = clock()
        fn()
        out[i] = clock() - t0
    return out / 1e3
