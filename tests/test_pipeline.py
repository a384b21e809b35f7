"""The pipeline: ordering and accounting under both policies, shutdown, reconnection, sinks."""
from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import EMULATED
from lutrun.engines import create_engine
from lutrun.engines.cpu import CpuEngine
from lutrun.errors import HardwareError, InputShapeError
from lutrun.resources import resolve_model
from lutrun.stream import ConsoleSink, JsonlSink, Pipeline, PipelineOptions, VideoSink, open_source
from lutrun.stream.sinks import Batch, Sink
from lutrun.stream.sources import DatasetSource, builtin_dataset_dir
from lutrun.votes import predict
from lutrun.datasets import load_idx_dataset


@pytest.fixture(scope="module")
def model():
    # Stochastic modulation depends on each frame's position: the strictest check of frame accounting.
    return resolve_model(None).with_modulation(method="stochastic")


@pytest.fixture(scope="module")
def sample():
    return load_idx_dataset(builtin_dataset_dir(), "test")


class Collect(Sink):
    def __init__(self):
        self.seq, self.pred, self.labels, self.batches = [], [], [], 0

    def write(self, batch: Batch) -> None:
        self.seq += batch.seq.tolist()
        self.pred += batch.predictions.tolist()
        self.labels += batch.labels.tolist()
        self.batches += 1


class SlowEngine(CpuEngine):
    """The C engine made slower than the source, to overload the pipeline on purpose."""

    def classify_into(self, rows, scores, frame0=0):
        time.sleep(0.002)
        super().classify_into(rows, scores, frame0)


def lutrun_threads():
    return [t for t in threading.enumerate() if t.name.startswith("lutrun-")]


def test_never_drop_source_delivers_every_frame_once_in_order(model, sample):
    sink = Collect()
    with create_engine("cpu", model) as engine:
        summary = Pipeline(open_source("builtin?rate=0&loop=1"), engine, [sink]).run()
        batch_path = predict(engine.classify(sample.images, frame0=0))
    assert summary["policy"] == "all" and summary["dropped_frames"] == 0
    assert sink.seq == list(range(1000))
    assert sink.pred == batch_path.tolist()
    assert sink.labels == sample.labels.tolist()
    assert summary["frames"] == 1000 and summary["accuracy"] == pytest.approx(np.mean(batch_path == sample.labels))
    assert summary["e2e_max_ms"] > 0 and not lutrun_threads()


def test_two_streams_keep_their_own_order(model, sample):
    sink = Collect()
    streams = []

    class ByStream(Sink):
        def write(self, batch):
            streams.extend(zip(batch.stream.tolist(), batch.seq.tolist(), batch.predictions.tolist()))

    sources = [open_source("builtin?rate=0&loop=1&limit=300"), open_source("builtin?rate=0&loop=1&limit=200")]
    with create_engine("cpu", model) as engine:
        Pipeline(sources, engine, [sink, ByStream()]).run()
        expected = predict(engine.classify(sample.images[:300])).tolist()
    for s, n in ((0, 300), (1, 200)):
        mine = [(seq, p) for stream, seq, p in streams if stream == s]
        assert [seq for seq, _ in mine] == list(range(n))
        assert [p for _, p in mine] == expected[:n]


class OneAtATime(DatasetSource):
    """The same dataset read frame by frame: the path a paced or live source takes."""

    @property
    def blocks(self):
        return False


@pytest.mark.parametrize("preprocess", [{}, {"invert": True}])
def test_blocks_of_an_unpaced_dataset_give_what_frame_by_frame_reading_gives(model, sample, preprocess):
    """Held and looped frames, copied as one array or preprocessed one by one: the same frames, numbers,
    labels and (stochastic, position-dependent) predictions as the per-frame path and the batch call."""
    options = {"hold": 3, "loop": 2, "limit": 100}
    results = []
    for source in (open_source("builtin?rate=0&hold=3&loop=2&limit=100"),
                   OneAtATime(str(builtin_dataset_dir()), **options)):
        sink = Collect()
        with create_engine("cpu", model) as engine:
            Pipeline(source, engine, [sink], PipelineOptions(preprocess=preprocess)).run()
        results.append(sink)
    assert results[0].seq == results[1].seq == list(range(600))
    assert results[0].pred == results[1].pred and results[0].labels == results[1].labels
    images = np.repeat(sample.images[:100], 3, axis=0)
    with create_engine("cpu", model) as engine:
        frames = 255 - images if preprocess else images
        expected = predict(engine.classify(np.concatenate([frames, frames]), frame0=0))
    assert results[0].pred == expected.tolist()
    assert results[0].labels == np.tile(np.repeat(sample.labels[:100], 3), 2).tolist()


def test_a_block_larger_than_the_queue_waits_for_it_to_empty_or_evicts_the_oldest():
    from lutrun.stream.handoff import Handoff

    keep = Handoff(4, drop_oldest=False)
    assert keep.put_many([1, 2, 3, 4, 5, 6]) == []  # empty: the whole block goes in
    threading.Timer(0.05, lambda: keep.get_into(np.zeros(8, np.intp))).start()
    t0 = time.monotonic()
    assert keep.put_many([7]) == [] and time.monotonic() - t0 >= 0.04  # full: waited for the reader
    latest = Handoff(4, drop_oldest=True)
    assert latest.put_many([1, 2, 3]) == [] and latest.put_many([4, 5, 6]) == [1, 2]
    out = np.zeros(8, np.intp)
    assert latest.get_into(out) == 4 and out[:4].tolist() == [3, 4, 5, 6]


def test_live_overload_drops_oldest_and_newest_wins(model, sample):
    sink = Collect()
    engine = SlowEngine(model)
    source = open_source("builtin?rate=2000&loop=1&limit=400")
    summary = Pipeline(source, engine, [sink], PipelineOptions(policy="latest", queue=2)).run()
    assert summary["dropped_frames"] > 100  # the engine manages ~500 calls/s, the source sends 2000 frames/s
    assert summary["frames"] + summary["dropped_frames"] == 400
    assert sink.seq == sorted(set(sink.seq)) and sink.seq[-1] == 399  # in order, once each, newest frame last
    with create_engine("cpu", model) as reference:
        expected = predict(reference.classify(sample.images[:400]))
    assert sink.pred == expected[sink.seq].tolist()  # dropped frames do not shift anyone's modulation


def test_duration_stops_an_endless_stream_and_leaves_no_thread(model):
    with create_engine("cpu", model) as engine:
        t0 = time.monotonic()
        summary = Pipeline(open_source("builtin?loop=0"), engine).run(duration=0.5)
    assert time.monotonic() - t0 < 3
    assert 0 < summary["frames"] < 700
    if not EMULATED:
        assert summary["frames"] > 300 and summary["fps"] == pytest.approx(1000, rel=0.1)
    assert not lutrun_threads()


class FlakyCamera(DatasetSource):
    """A live source whose device fails twice mid-stream and then comes back (as an unplugged camera does)."""

    live = True

    def __init__(self):
        super().__init__(str(builtin_dataset_dir()), limit=50, rate=2000.0, loop=1)
        self.failures, self.opens = 0, 0

    def open(self):
        self.opens += 1
        if self.opens == 2:
            raise HardwareError("camera:flaky: cannot open (still unplugged)")
        if self._data is None:
            super().open()

    def read(self):
        if self._index == 20 and self.failures == 0:
            self.failures += 1
            raise HardwareError("camera:flaky: no frame (camera unplugged or stalled)")
        return super().read()


def test_live_source_failure_is_reported_and_retried(model):
    source = FlakyCamera()
    with create_engine("cpu", model) as engine:
        summary = Pipeline(source, engine, options=PipelineOptions(policy="all", retry_s=(0.01, 0.05))).run()
    assert summary["frames"] == 50 and source.opens == 3
    assert summary["source_errors"] == ["camera:flaky: no frame (camera unplugged or stalled)",
                                        "camera:flaky: cannot open (still unplugged)"]


class UnpluggedCamera(DatasetSource):
    """Fails after 10 frames and never comes back."""

    live = True

    def __init__(self):
        super().__init__(str(builtin_dataset_dir()), limit=50, rate=2000.0, loop=1)
        self.opens = 0

    def open(self):
        self.opens += 1
        if self.opens > 1:
            raise HardwareError("camera:gone: cannot open")
        super().open()

    def read(self):
        if self._index == 10:
            raise HardwareError("camera:gone: no frame")
        return super().read()


def test_stopping_while_a_camera_is_away_is_a_clean_finish(model):
    source = UnpluggedCamera()
    with create_engine("cpu", model) as engine:
        t0 = time.monotonic()
        summary = Pipeline(source, engine, options=PipelineOptions(retry_s=(0.02, 0.1))).run(duration=0.5)
    assert time.monotonic() - t0 < 2.5 and not lutrun_threads()
    assert summary["frames"] + summary["dropped_frames"] == 10 and source.opens >= 3
    assert summary["source_errors"][0] == "camera:gone: no frame"
    assert set(summary["source_errors"][1:]) == {"camera:gone: cannot open"}


def test_bad_frame_stops_the_pipeline_with_a_clear_error(model, tmp_path):
    cv2.imwrite(str(tmp_path / "0_a.png"), np.zeros((4, 4, 3), np.uint16))
    with create_engine("cpu", model) as engine, pytest.raises(Exception, match="8-bit"):
        Pipeline(open_source(f"images:{tmp_path}"), engine).run()
    assert not lutrun_threads()
    with pytest.raises(InputShapeError):
        from lutrun.preprocess import Preprocessor
        Preprocessor((28, 28, 1))(np.zeros((4, 4), np.float32))


def test_jsonl_and_annotated_video(model, tmp_path):
    jsonl, video = tmp_path / "out.jsonl", tmp_path / "out.avi"
    with create_engine("cpu", model) as engine:
        Pipeline(open_source("builtin?rate=0&loop=1&limit=40"), engine, [JsonlSink(jsonl), VideoSink(video)]).run()
        expected = predict(engine.classify(load_idx_dataset(builtin_dataset_dir(), "test", 40).images))
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["seq"] for r in records] == list(range(40))
    assert [r["prediction"] for r in records] == expected.tolist()
    assert all(sum(r["scores"]) > 0 and r["stages_us"]["infer"] > 0 for r in records)
    cap = cv2.VideoCapture(str(video))
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        assert frame.shape[0] == 240 and frame.shape[1] > 240
    assert count == 40


def test_console_status_every_n_frames(model):
    import io

    out = io.StringIO()
    with create_engine("cpu", model) as engine:
        Pipeline(open_source("builtin?rate=0&loop=1&limit=500"), engine,
                 [ConsoleSink(stream=out, bar=False, every_frames=100)], PipelineOptions(max_batch=1)).run()
    lines = out.getvalue().splitlines()
    assert [int(line.split()[0]) for line in lines] == [100, 200, 300, 400, 500]
    assert all("fps" in line and "p99" in line and "dropped 0" in line and "accuracy" in line for line in lines[1:])


@pytest.mark.parametrize("blocks", [[3, 4, 2, 5], [11], [2, 9, 1], [7, 7, 7]])
def test_the_stats_ring_holds_the_last_capacity_frames_in_order(blocks):
    """Blocks that fill the ring exactly, wrap around it, or are longer than it: recent() gives the stamps of
    the last ``capacity`` frames, oldest first, and the counters count every frame."""
    from lutrun.stream.stats import STAMPS, StreamStats

    stats = StreamStats(capacity=7)
    every = np.arange(sum(blocks) * len(STAMPS), dtype=np.int64).reshape(-1, len(STAMPS))
    at = 0
    for n in blocks:
        stats.add(every[at:at + n], np.zeros(n, np.int64), np.zeros(n, np.int64))
        at += n
        np.testing.assert_array_equal(stats.recent(), every[max(0, at - 7):at])
    assert stats.frames == stats.correct == sum(blocks)
    np.testing.assert_array_equal(stats.recent(2), every[at - 2:at])


def test_slots_are_read_as_one_range_only_when_they_are_an_ascending_run():
    from lutrun.stream.pipeline import _ring_run

    assert _ring_run(np.array([5, 6, 7])) == slice(5, 8) and _ring_run(np.array([7])) == slice(7, 8)
    for slots in ([5, 7, 6], [3, 4, 6], [6, 5, 4], [4, 6, 5], []):
        np.testing.assert_array_equal(_ring_run(np.array(slots, np.intp)), slots)
