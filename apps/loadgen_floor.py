#!/usr/bin/env python3
"""LoadGen's own cost in the Offline scenario: a system under test that answers every sample at once.

`lutrun bench latency --scenario Offline` compares the pipeline with the fused engine call, but LoadGen's
Python binding costs time of its own per sample (a QuerySample read, a QuerySampleResponse built and
handed back). This prints, as JSON, the samples/s LoadGen reaches with no engine and no pipeline at all:
the ceiling of any Offline figure on the same cores. Pin it as the benchmark was (``taskset -c 0``).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.bench.latency import _loadgen, _read_summary, _settings


# LoadGen issues an Offline test's samples in one call, each a Python object: bound what that holds.
MAX_SAMPLES = 10_000_000


def loadgen_floor(samples: int, block: int = 4096) -> dict[str, Any]:
    """LoadGen's samples/s answering ``samples`` Offline samples at once, ``block`` responses a call."""
    lg = _loadgen()
    build_s: list[float] = []
    issued: list[int] = []

    def issue(queries: list) -> None:
        ids = np.fromiter((q.id for q in queries), np.uint64, len(queries)).tolist()
        issued.append(len(ids))
        for start in range(0, len(ids), block):
            began = time.perf_counter()
            responses = [lg.QuerySampleResponse(i, 0, 0) for i in ids[start:start + block]]
            build_s.append(time.perf_counter() - began)
            lg.QuerySamplesComplete(responses)

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(10000, 10000, lambda _: None, lambda _: None)
    # Offline issues expected_qps x min_duration samples in one call.
    settings = _settings(lg, "Offline", 0.0, 1.0, 1, float(samples))
    with tempfile.TemporaryDirectory() as tmp:
        log = lg.LogSettings()
        log.log_output.outdir = tmp
        log.log_output.copy_summary_to_stdout = False
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
        summary = _read_summary(Path(tmp))
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    return {"benchmark": "loadgen-floor", "scenario": "Offline", "samples": sum(issued),
            "samples_per_s": summary.get("Samples per second"),
            "response_build_us_per_sample": 1e6 * sum(build_s) / max(sum(issued), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_350_000,
                        help="samples LoadGen issues (default 1350000: what the 10 s Offline benchmark issues at 900 k frames/s)")
    args = parser.parse_args()
    if not 1 <= args.samples <= MAX_SAMPLES:
        parser.error(f"--samples must be from 1 to {MAX_SAMPLES}")
    print(json.dumps(loadgen_floor(args.samples), indent=2))


if __name__ == "__main__":
    main()
