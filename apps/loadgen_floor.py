#!/usr/bin/env python3
"""LoadGen's own cost in the Offline scenario: a system under test that answers every sample at once.

`lutrun bench latency --scenario Offline` compares the pipeline with the fused engine call, but LoadGen's
Python binding costs time of its own per sample (ids handed over as Python lists, a response object
refilled and copied back). This prints, as JSON, the samples/s LoadGen reaches with no engine and no
pipeline at all, through the same calls the benchmark makes (``ConstructFastSUT``, ``Responses``): the
ceiling of any Offline figure on the same cores. Pin it as the benchmark was (``taskset -c 0``).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lutrun.bench.latency import Responses, _loadgen, _log_settings, _read_summary, _settings


# LoadGen issues an Offline test's samples in one call, each id a Python int: bound what that holds.
MAX_SAMPLES = 10_000_000


def loadgen_floor(samples: int) -> dict[str, Any]:
    """LoadGen's samples/s answering ``samples`` Offline samples at once."""
    lg = _loadgen()
    answer = Responses(lg)
    answer_s: list[float] = []
    issued: list[int] = []

    def issue(ids: list[int], indices: list[int]) -> None:
        issued.append(len(ids))
        began = time.perf_counter()
        answer(ids)
        answer_s.append(time.perf_counter() - began)

    sut = lg.ConstructFastSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(10000, 10000, lambda _: None, lambda _: None)
    # Offline issues expected_qps x min_duration samples in one call.
    settings = _settings(lg, "Offline", 0.0, 1.0, 1, float(samples))
    with tempfile.TemporaryDirectory() as tmp:
        lg.StartTestWithLogSettings(sut, qsl, settings, _log_settings(lg, tmp))
        summary = _read_summary(Path(tmp))
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    return {"benchmark": "loadgen-floor", "scenario": "Offline", "samples": sum(issued),
            "samples_per_s": summary.get("Samples per second"),
            "answer_us_per_sample": 1e6 * sum(answer_s) / max(sum(issued), 1)}


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
