"""``lutrun bench rtl``: the overlay co-simulated on real frames against the C engine, in clocks.

Streams a dataset through the generated top under Verilator (full rate, then
with random gaps and back-pressure), counts score mismatches against
``CpuEngine``, and turns the measured clocks into frames/s at a stated clock.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from lutrun.engines import create_engine
from lutrun.model import Model
from lutrun.rtl.design import pack_frames
from lutrun.rtl.verilator import RtlSimulator
from lutrun.temporal import Temporal


def bench_rtl(model: Model, images: np.ndarray, clock_mhz: float = 200.0, temporal: bool = False,
              p_valid: float = 0.7, p_ready: float = 0.5, **rtl_options: Any) -> dict[str, Any]:
    """Co-simulate ``images`` [N, H, W, C]; returns frames, mismatches, clocks a frame, latency, frames/s."""
    start = time.perf_counter()
    sim = RtlSimulator.for_model(model, **rtl_options)
    built = time.perf_counter() - start
    lay = sim.layout
    rows = np.ascontiguousarray(images.reshape(len(images), -1))
    mode = Temporal.for_frames(model.modulation.frames, rtl_options.get("temporal_shift")) if temporal else None
    with create_engine("cpu", model, temporal=mode) as cpu:
        expected = cpu.classify(images)
        if mode is not None:
            cpu.reset_temporal()
        stressed_expected = cpu.classify(images)
    t0 = time.perf_counter()
    got, full = sim.classify(rows, temporal=temporal)
    simulated_s = time.perf_counter() - t0
    if temporal:
        sim.clear_temporal()
    stressed, slow = sim.classify(rows, temporal=temporal, p_valid=p_valid, p_ready=p_ready, seed=1)
    idle = sim.stream(pack_frames(rows[:1], lay.frame_bytes))  # one frame into an idle overlay
    sim.take()
    per_frame = full.cycles / len(rows)
    return {
        "benchmark": "rtl", "model": model.info.get("name", ""), "frames": int(len(rows)),
        "mode": "temporal" if temporal else "oversampled", "clock_mhz": clock_mhz,
        "mismatched_frames": int(np.any(got != expected, axis=1).sum()),
        "mismatched_frames_under_backpressure": int(np.any(stressed != stressed_expected, axis=1).sum()),
        "backpressure": {"p_valid": p_valid, "p_ready": p_ready, "cycles": slow.cycles},
        "cycles": full.cycles, "cycles_per_frame": round(per_frame, 3),
        "cycles_per_frame_stated": lay.temporal_cycles_per_frame if temporal else lay.cycles_per_frame,
        "frames_per_second": round(clock_mhz * 1e6 / per_frame),
        "frame_latency_cycles": idle.latency_min, "frame_latency_us": round(idle.latency_min / clock_mhz, 3),
        "core_latency_cycles": lay.latency_cycles, "pixels_per_beat": lay.pixels_per_beat,
        "build_s": round(built, 1), "simulated_clocks_per_s": round(full.cycles / simulated_s),
    }
