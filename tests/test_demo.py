"""The demo and the latency benchmark as a user runs them: subprocesses, JSON out, bounded shutdown."""
from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import EMULATED, LUTRUN, run_cli


def test_demo_runs_headless_on_the_builtin_stream(tmp_path):
    result = run_cli("demo", "--duration", "2", "--headless", "--jsonl", str(tmp_path / "f.jsonl"), timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (0 if EMULATED else 1500) < summary["frames"] <= 2100 and summary["dropped_frames"] == 0
    assert summary["accuracy"] > 0.95 and summary["sources"][0]["source"] == "builtin"
    assert "fps" in result.stderr and "accuracy" in result.stderr  # the live status lines
    assert len((tmp_path / "f.jsonl").read_text().splitlines()) == summary["frames"]


def test_display_falls_back_to_headless():
    result = run_cli("demo", "--duration", "0.3", "--display", timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "running headless" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_ctrl_c_stops_an_endless_stream_quickly(sig):
    proc = subprocess.Popen([*LUTRUN, "demo", "--source", "builtin?loop=0", "--status-every", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Signalled once streaming (a status line every 50 frames), however long the interpreter takes to start.
    lines = [proc.stderr.readline()]
    while lines[-1] and "fps" not in lines[-1]:
        lines.append(proc.stderr.readline())
    assert proc.poll() is None, "".join(lines)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["frames"] >= 50


def test_missing_camera_fails_fast_with_one_line():
    t0 = time.monotonic()
    result = run_cli("demo", "--source", "camera:47", timeout=60)
    assert result.returncode == 1 and time.monotonic() - t0 < 30
    assert result.stderr.strip() == "lutrun: error: camera:47: no camera at /dev/video47"


HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None,
                    reason="MLCommons LoadGen is not installed (no wheel for this platform: docs/boards.md)")
@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_latency_benchmark_scenarios(scenario, tmp_path):
    png = tmp_path / "h.png"
    histogram = ["--histogram", str(png)] if HAS_MATPLOTLIB else []
    result = subprocess.run([sys.executable, "apps/bench_latency.py", "--scenario", scenario, "--duration", "1",
                             "--generic", "--logdir", str(tmp_path / "logs"), *histogram], capture_output=True, text=True, timeout=300,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["scenario"] == scenario and out["harness"] == "mlcommons-loadgen"
    for key in ("frames", "dropped_frames", "fps", "e2e_p50_ms", "e2e_p99_ms", "e2e_max_ms"):
        assert out[key] >= 0, key
    assert out["frames"] > 0 and out["e2e_p50_ms"] <= out["e2e_p99_ms"] <= out["e2e_max_ms"]
    assert set(out["stage_p50_ms"]) == {"capture", "preprocess", "queue", "infer", "sink"}
    estimate = out["infer_split_p50_ms_estimated"]
    assert set(estimate) == {"modulate", "engine", "vote"}
    assert sum(estimate.values()) == pytest.approx(out["stage_p50_ms"]["infer"])
    assert out["accuracy"] > 0.9 and "valid" in out["loadgen"]
    # LoadGen's summary and detail kept; no per-sample trace (it cost more CPU than the engine in Offline)
    assert {p.name for p in (tmp_path / "logs").iterdir()} >= {"mlperf_log_summary.txt", "mlperf_log_detail.txt"}
    trace = tmp_path / "logs" / "mlperf_log_trace.json"
    assert not trace.exists() or trace.stat().st_size == 0
    assert not HAS_MATPLOTLIB or png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="MLCommons LoadGen is not installed")
def test_loadgen_floor_answers_every_sample_and_reports_its_rate():
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    script = [sys.executable, str(root / "apps" / "loadgen_floor.py")]
    result = subprocess.run([*script, "--samples", "20000"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # LoadGen ends only once every sample is answered, and rounds the Offline query up.
    assert out["samples"] >= 20000 and out["samples_per_s"] > 0 and out["answer_us_per_sample"] > 0
    for value in ("0", "-5", "10000001", "1e9", "many"):
        bad = subprocess.run([*script, "--samples", value], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 2 and "--samples" in bad.stderr, value


def test_loadgen_responses_answer_each_id_once_from_a_pool_per_thread():
    """LoadGen's binding copies the responses of each call, so ``Responses`` refills one pool per thread:
    every id reaches the call it was given to, in blocks, and threads never share a pool."""
    import threading
    import types

    from lutrun.bench.latency import Responses

    calls: list[tuple[str, list[int], set[int]]] = []

    def complete(responses: list) -> None:  # what the binding keeps: a copy of each id, at the call
        calls.append((threading.current_thread().name, [r.id for r in responses], {id(r) for r in responses}))

    fake = types.SimpleNamespace(QuerySampleResponse=lambda i, data, size: types.SimpleNamespace(id=i),
                                 QuerySamplesComplete=complete)
    answer = Responses(fake, block=100)
    answer(list(range(250)))
    assert [len(ids) for _, ids, _ in calls] == [100, 100, 50]
    assert sum((ids for _, ids, _ in calls), []) == list(range(250))
    other = threading.Thread(target=answer, args=([7, 8],), name="other")
    other.start()
    other.join()
    assert calls[-1][:2] == ("other", [7, 8]) and not calls[-1][2] & calls[0][2]


def test_loadgen_source_answers_every_sample_once_whatever_the_order():
    """The benchmark's source: blocks cut across LoadGen's queries, answers out of order, a drop, and
    close() answering exactly the samples still open (LoadGen waits for every id, once)."""
    import numpy as np

    from lutrun.bench.latency import QuerySource

    def issue(first: int, stop: int) -> None:  # as LoadGen's fast issue callback hands them over
        source.issue([1000 + i for i in range(first, stop)], [i % 7 for i in range(first, stop)])

    images, labels = np.arange(7 * 4, dtype=np.uint8).reshape(7, 2, 2), np.arange(7) % 3
    answered: list[int] = []
    source = QuerySource(images, labels, answered.extend)
    issue(0, 5)
    issue(5, 5)
    issue(5, 12)
    first = source.read_block(3)
    assert first.images.tolist() == images[[0, 1, 2]].tolist() and first.labels.tolist() == [0, 1, 2]
    second = source.read_block(6)  # the rest of the first query and four of the second
    assert second.labels.tolist() == (np.arange(3, 9) % 7 % 3).tolist() and len(set(second.arrival_ns)) == 2
    source.complete(np.array([7, 1, 3]))
    source.dropped(0)
    assert sorted(answered) == [1000, 1001, 1003, 1007]
    source.complete([1, 3])  # answered already: not again
    assert sorted(answered) == [1000, 1001, 1003, 1007]
    source.close()  # frames 2, 4, 5, 6, 8 read and open, 9..11 never read
    assert sorted(answered) == list(range(1000, 1012))
    source.complete([2, 4])  # after close() answered everything (a failed run): nothing more
    assert len(answered) == 12


def test_the_offline_completion_thread_answers_everything_written_before_close():
    import types

    import numpy as np

    from lutrun.bench.latency import CompletionSink, QuerySource

    answered: list[int] = []
    source = QuerySource(np.zeros((1, 2, 2), np.uint8), np.zeros(1, np.int64), answered.extend)
    source.issue(list(range(50, 350)), [0] * 300)
    sink = CompletionSink(source, own_thread=True)
    sink.open(None)
    seq = 0
    for _ in range(5):  # 64, 64, 64, 64 and 44 frames
        k = len(source.read_block(64).labels)
        sink.write(types.SimpleNamespace(seq=np.arange(seq, seq + k)))
        seq += k
    sink.close()
    assert sorted(answered) == list(range(50, 350))
