"""``lutrun bench engine``: LUT-samples per second of the C engine beside the numpy reference."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from lutrun.bench.timing import median_seconds
from lutrun.bits import empty_rows
from lutrun.engines import create_engine
from lutrun.errors import ConfigError
from lutrun.model import Model

WORK_BYTES = 4 << 30  # the packed inputs, outputs and scratch the benchmark allocates


def bench_engine(model: Model, samples: int = 1 << 16, repeats: int = 7, numpy_samples: int = 1024,
                 threads: int | None = None, specialise: bool = True) -> dict[str, Any]:
    """Time ``run_packed`` on random packed inputs and the numpy reference.

    The headline keys are the engine as used (model-specialised unless ``specialise`` is False);
    ``generic_*`` is the table-driven kernel, for comparison.
    """
    rng = np.random.default_rng(0)
    words = (samples + 63) // 64
    samples = words * 64
    buffers = (model.n_inputs + model.n_outputs + 2 * max(model.widths)) * words * 8
    if buffers > WORK_BYTES:
        raise ConfigError(f"{samples} samples of this model need {buffers} bytes of buffers, over {WORK_BYTES}: "
                          "give fewer --samples")
    packed = empty_rows(model.n_inputs, words)  # on cache lines, as the engine's own arrays are
    packed[...] = rng.integers(0, 2**64, (model.n_inputs, words), dtype=np.uint64)
    threads = threads or os.cpu_count() or 1
    out = empty_rows(model.n_outputs, words)
    with create_engine("cpu", model) as generic:
        t_generic = median_seconds(lambda: generic.run_packed(packed, out), repeats)
        simd = generic.describe()["simd"]
    with create_engine("cpu", model, specialise=specialise) as one:
        t_one = median_seconds(lambda: one.run_packed(packed, out), repeats)
    with create_engine("cpu", model, threads=threads, specialise=specialise) as many:
        t_all = median_seconds(lambda: many.run_packed(packed, out), repeats)
    bits = rng.integers(0, 2, (numpy_samples, model.n_inputs), dtype=np.uint8)
    reference = create_engine("numpy", model)
    t_ref = median_seconds(lambda: reference.run_bits(bits), 3)
    luts = model.n_luts
    return {
        "benchmark": "engine",
        "model": model.summary(),
        "simd": simd,
        "specialised": specialise,
        "samples": samples,
        "threads_all_cores": threads,
        "lut_samples_per_s": luts * samples / t_one,
        "lut_samples_per_s_all_cores": luts * samples / t_all,
        "samples_per_s": samples / t_one,
        "ns_per_lut_vector": t_one / (luts * samples / 512) * 1e9,
        "generic_lut_samples_per_s": luts * samples / t_generic,
        "numpy_lut_samples_per_s": luts * numpy_samples / t_ref,
        "speedup_vs_numpy": (luts * samples / t_one) / (luts * numpy_samples / t_ref),
    }
