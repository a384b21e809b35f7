"""``lutrun bench fused``: the fused frame -> class-scores call, single-frame latency and batch throughput."""
from __future__ import annotations

from typing import Any

import numpy as np

from lutrun import native
from lutrun.bench.timing import latencies_us, median_seconds
from lutrun.engines import create_engine
from lutrun.model import Model


def bench_fused(model: Model, count: int = 100_000, batch: int = 8192, numpy_batch: int = 64,
                frames: np.ndarray | None = None, specialise: bool = True) -> dict[str, Any]:
    """Single frames through the allocation-free call, then a batch, then the numpy path, one core."""
    if frames is None:
        frames = np.random.default_rng(0).integers(0, 256, (batch, *model.input_shape), dtype=np.uint8)
    rows = np.ascontiguousarray(np.resize(frames, (batch, *model.input_shape)).reshape(batch, -1))
    scores = np.empty((batch, model.n_classes), np.int32)
    with create_engine("cpu", model, specialise=specialise) as engine:
        n = len(rows)
        cursor = iter(range(count + 1))

        def one_frame() -> None:
            i = next(cursor) % n
            engine.classify_into(rows[i:i + 1], scores[i:i + 1])

        lat = latencies_us(one_frame, count)
        t_batch = median_seconds(lambda: engine.classify_into(rows, scores), 5)
        described = engine.describe()
        # One stage at a time (each stage's output kept for the next), on one chunk of the fused call's size
        # (its rows stay in L2 as the fused call's do; the whole batch's rows would not), many times over.
        chunk = min(batch, max(1, 64 * native.require()[1].LR_CHUNK_WORDS // model.modulation.frames))
        images = rows[:chunk].reshape(chunk, *model.input_shape)
        packed = engine.modulate_packed(images)
        outputs = engine.run_packed(packed)
        stages = {"modulate": lambda: engine.modulate_packed(images, out=packed),
                  "kernel": lambda: engine.run_packed(packed, outputs),
                  "votes": lambda: engine.votes_packed(outputs, chunk)}
        calls = max(1, batch // chunk)
        stage_ns = {name: median_seconds(lambda: [fn() for _ in range(calls)], 5) / (calls * chunk) * 1e9
                    for name, fn in stages.items()}
    reference = create_engine("numpy", model)
    t_numpy = median_seconds(lambda: reference.classify(rows[:numpy_batch].reshape(-1, *model.input_shape)), 3)
    return {
        "benchmark": "fused",
        "model": model.summary(),
        "simd": described["simd"],
        "specialised": described["specialised"],
        # eight LUTs a vector (lr_eval_lanes) where the CPU has it and a frame fits its samples, else the kernel
        "single_frame_path": "kernel" if model.modulation.frames > native.require()[1].LR_LANES_MAX_SAMPLES
        or described["lanes"] == "none" else described["lanes"],
        "frames_per_sample": model.modulation.frames,
        "single_frame_count": count,
        "single_frame_p50_us": float(np.percentile(lat, 50)),
        "single_frame_p90_us": float(np.percentile(lat, 90)),
        "single_frame_p99_us": float(np.percentile(lat, 99)),
        "single_frame_max_us": float(lat.max()),
        "batch_size": batch,
        "batch_frames_per_s": batch / t_batch,
        "stage_ns_per_frame": stage_ns,
        "numpy_batch_frames_per_s": numpy_batch / t_numpy,
        "batch_speedup_vs_numpy": (batch / t_batch) / (numpy_batch / t_numpy),
    }
