"""The streaming pipeline: capture -> preprocess -> engine (modulate + LUTs + votes) -> sinks.

Threads: one capture thread per source (read and preprocess into a slot of a
preallocated ring) and one engine thread (everything waiting, as one batch, in
one fused call, then the sinks); the caller's thread only watches for Ctrl-C,
the end of the stream and the time limit.  Each extra thread hop costs tens of
microseconds and, on a 2-core machine, a scheduler tick now and then; hence
sinks run on the engine thread and should be quick.  Between threads travel slot
numbers only; frame data, scores and timestamps live in arrays allocated
once.  Per batch (not per frame), the delivery to sinks gathers the batch's
rows of those arrays into small new ones.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lutrun.engines.base import Engine
from lutrun.errors import ConfigError, HardwareError, LutrunError, PipelineError
from lutrun.model import Model
from lutrun.preprocess import Preprocessor
from lutrun.stream.handoff import Closed, Handoff, SlotPool
from lutrun.stream.sinks import Batch, Sink
from lutrun.stream.sources import Source, SourceFrame
from lutrun.stream.stats import ARRIVAL, CAPTURED, DELIVERED, DEQUEUED, INFERRED, PREPROCESSED, STAMPS, StreamStats
from lutrun.votes import predict

POLICIES = ("latest", "all")
_JOIN_TIMEOUT_S = 2.0


@dataclass
class PipelineOptions:
    """``policy``: ``latest`` (drop the oldest waiting frame when the engine is behind) or ``all`` (never drop);
    None picks ``latest`` for live sources and ``all`` otherwise."""

    policy: str | None = None
    queue: int = 4
    max_batch: int = 256
    retry_s: tuple[float, float] = (0.25, 8.0)
    stats_capacity: int = 1 << 20
    # Python hands the GIL to a waiting thread only every switch interval (default 5 ms), which
    # caps the tail latency of a multi-threaded pipeline; run() shortens it and restores it after.
    switch_interval_s: float | None = 0.0002
    preprocess: dict[str, Any] = field(default_factory=dict)
    # Threads that decode and preprocess each decoding source's frames (MJPEG, packed YUV), in turn,
    # frames still reaching the engine in order: a board's ARM core decodes a VGA MJPEG frame in more
    # than a millisecond (docs/streaming.md), so 1000 fps needs the decode spread over cores.
    decoders: int = 1

    def __post_init__(self) -> None:
        if self.policy is not None and self.policy not in POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.queue < 1 or self.max_batch < 1:
            raise ConfigError("queue and max_batch must be >= 1")
        if not 1 <= self.decoders <= 16:
            raise ConfigError(f"decoders must be 1..16, got {self.decoders}")


def check_same_input(running: Model, new: Model) -> None:
    """A model may replace a running one only if it reads the same input geometry."""
    if new.input_shape != running.input_shape:
        raise ConfigError(f"the model's input is {'x'.join(map(str, new.input_shape))}; the running stream's is "
                          f"{'x'.join(map(str, running.input_shape))}")


class _Turns:
    """What the capture threads of one source share when several decode its frames: reads take turns and
    number the frames, and each frame waits for its turn to go on to the engine, so that order holds."""

    def __init__(self, threads: int) -> None:
        self.read_lock = threading.Lock()
        self.next_read = 0  # frame number of the next read (under read_lock)
        self.ended = False  # the source has no more frames (under read_lock)
        self._turn = threading.Condition()
        self._next_out = 0
        self._threads = threads

    def hand_on(self, seq: int, stop: threading.Event, hand: Callable[[], None]) -> bool:
        """Run ``hand`` once every earlier frame has been handed on; False (nothing run) once stopping."""
        with self._turn:
            while self._next_out != seq:
                if stop.is_set():
                    return False
                self._turn.wait(0.05)
            try:
                hand()
            finally:
                self._next_out += 1
                self._turn.notify_all()
        return True

    def leave(self) -> bool:
        """A thread is done; True for the last one."""
        with self._turn:
            self._threads -= 1
            return self._threads == 0


def _ring_run(slots: np.ndarray) -> slice | np.ndarray:
    """``slots`` as a slice of the ring where they are one ascending run, else as they are.  A block's slots
    usually are one (the slot pool hands back blocks as it took them): numpy then copies rows as one range,
    and the engine reads them in place, instead of gathering them slot by slot."""
    n = len(slots)
    if n and slots[-1] - slots[0] == n - 1 and (n == 1 or (np.diff(slots) == 1).all()):
        return slice(int(slots[0]), int(slots[0]) + n)
    return slots


class Pipeline:
    """Sources -> preprocess -> engine -> sinks, one capture thread per source and one engine thread.

    >>> import lutrun
    >>> from lutrun.stream import Pipeline, open_source
    >>> engine = lutrun.create_engine("cpu", lutrun.load_model(lutrun.DEFAULT_MODEL))
    >>> summary = Pipeline(open_source("builtin?loop=1&rate=0&limit=200"), engine).run()
    >>> summary["frames"], summary["accuracy"] > 0.95
    (200, True)
    """

    def __init__(self, sources: Source | Sequence[Source], engine: Engine, sinks: Sequence[Sink] = (),
                 options: PipelineOptions | None = None) -> None:
        self.sources = [sources] if isinstance(sources, Source) else list(sources)
        if not self.sources:
            raise ConfigError("a pipeline needs at least one source")
        self._check_temporal(engine)
        self.engine, self.sinks = engine, list(sinks)
        self.options = options or PipelineOptions()
        opts = self.options
        policy = opts.policy or ("latest" if any(s.live for s in self.sources) else "all")
        self.policy = policy
        model = engine.model
        # One per capture thread: a preprocessor owns scratch buffers.
        self.preprocessors = [Preprocessor(model.input_shape, **opts.preprocess) for _ in self.sources]
        for source, preprocessor in zip(self.sources, self.preprocessors):
            source.target(model.input_shape, preprocessor.crop)
        self.keep_frames = any(s.needs_frames for s in self.sinks)
        size = opts.queue * len(self.sources) + 2 * opts.max_batch + 2
        # The frame ring: everything a frame carries, one row per slot.
        self.inputs = np.zeros((size, model.n_inputs), np.uint8)
        self.scores = np.zeros((size, model.n_classes), np.int32)
        self.stamps = np.zeros((size, len(STAMPS)), np.int64)
        self.seq = np.zeros(size, np.int64)
        self.stream = np.zeros(size, np.int64)
        self.labels = np.zeros(size, np.int64)
        self.frames: list[np.ndarray | None] = [None] * size
        self._rows = np.zeros((opts.max_batch, model.n_inputs), np.uint8)
        self._batch_scores = np.zeros((opts.max_batch, model.n_classes), np.int32)
        self._pool = SlotPool(size)
        self._to_engine = Handoff(opts.queue * len(self.sources), drop_oldest=policy == "latest")
        self._done = threading.Event()
        self.stats = StreamStats(opts.stats_capacity)
        self._stop = threading.Event()
        self._live_sources = len(self.sources)
        self._count_lock = threading.Lock()
        self._failure: BaseException | None = None
        self._threads: list[threading.Thread] = []
        self.model_digest = model.digest()[:16]
        # Per source: idle, streaming, reconnecting (device lost, retrying), ended or failed.
        self.source_state = ["idle"] * len(self.sources)
        self._swap_lock = threading.Lock()
        self._pending: tuple[Engine, Future[Engine]] | None = None
        self._engine_live = False  # the engine thread installs swaps while this holds
        self._label_maps: dict[int, tuple[list[str], tuple[str, ...], np.ndarray]] = {}

    # -- control ----------------------------------------------------------------

    def stop(self) -> None:
        """Ask every stage to finish; frames already captured are still delivered."""
        self._stop.set()
        self._to_engine.close()

    def swap_engine(self, engine: Engine) -> Future[Engine]:
        """Classify from the next batch on with ``engine``; the future gives the engine it replaced.

        The engine thread installs it between two batches, so every frame is classified by exactly one
        of the two engines; a stopped or finished pipeline installs it at once.  The class count may
        change; the input geometry may not.
        """
        check_same_input(self.engine.model, engine.model)
        self._check_temporal(engine)
        replaced: Future[Engine] = Future()
        with self._swap_lock:
            if self._pending is not None:  # a swap not yet installed is superseded: its engine is handed back
                self._pending[1].set_result(self._pending[0])
            self._pending = (engine, replaced)
            engine_thread_live = self._engine_live
        if not engine_thread_live:
            self._install_pending()
        return replaced

    def _label_map(self, index: int) -> np.ndarray | None:
        """Source ``index``'s label -> the running model's class index, matched by name (a class the model
        lacks is unknown, -1, rather than counted as a miss); None when its labels are class indices."""
        names = self.sources[index].label_names
        if names is None:
            return None
        classes = self.engine.model.class_names
        cached = self._label_maps.get(index)
        if cached is None or cached[0] is not classes or cached[1] is not names:
            index_of = {name: c for c, name in enumerate(classes)}
            cached = (classes, names, np.array([index_of.get(name, -1) for name in names], np.int64))
            self._label_maps[index] = cached
        return cached[2]

    def _label(self, index: int, label: int) -> int:
        return label if self.sources[index].label_names is None else int(self._labels(index, np.array([label]))[0])

    def _labels(self, index: int, labels: np.ndarray) -> np.ndarray:
        """Source ``index``'s labels as the running model's class indices."""
        mapping = self._label_map(index)
        if mapping is None:
            return labels
        known = (labels >= 0) & (labels < len(mapping))
        return np.where(known, mapping[np.where(known, labels, 0)], np.where(labels < 0, labels, -1))

    def _check_temporal(self, engine: Engine) -> None:
        if engine.temporal is not None and len(self.sources) > 1:
            raise ConfigError("temporal mode averages one stream's scores; run one source per engine")

    def _install_pending(self) -> None:
        with self._swap_lock:
            if self._pending is None:
                return
            (engine, replaced), self._pending = self._pending, None
            old, self.engine = self.engine, engine
            self.model_digest = engine.model.digest()[:16]
            n_classes = engine.model.n_classes
            if n_classes != self.scores.shape[1]:
                self.scores = np.zeros((len(self.scores), n_classes), np.int32)
                self._batch_scores = np.zeros((self.options.max_batch, n_classes), np.int32)
        replaced.set_result(old)

    def run(self, duration: float | None = None, max_frames: int | None = None) -> dict[str, Any]:
        """Stream until the sources end, ``duration`` seconds pass, ``max_frames`` are delivered or Ctrl-C.

        Returns the summary; raises the first stage failure (after shutting down cleanly).
        """
        interrupted = False
        switch_interval = sys.getswitchinterval()
        try:
            for source in self.sources:
                source.open()  # a missing camera or file fails here, before any thread starts
            if self.options.switch_interval_s:
                sys.setswitchinterval(self.options.switch_interval_s)
            for sink in self.sinks:
                sink.open(self)
            self._start()
            deadline = None if duration is None else time.monotonic() + duration
            while not self._done.is_set():
                try:
                    self._done.wait(0.05)
                    if (deadline is not None and time.monotonic() >= deadline) or \
                            (max_frames is not None and self.stats.frames >= max_frames):
                        self.stop()
                except KeyboardInterrupt:
                    interrupted = True
                    self.stop()
        finally:
            sys.setswitchinterval(switch_interval)
            self.stop()
            self._pool.close()
            self._join()
            for part in (*self.sources, *self.sinks):
                try:
                    part.close()
                except OSError as exc:  # e.g. a sink's file on a full disk: reported, the rest still closed
                    if self._failure is None:
                        self._failure = PipelineError(f"closing {type(part).__name__} failed: {exc}")
        if self._failure is not None:
            raise self._failure
        return self.summary(interrupted)

    def summary(self, interrupted: bool = False) -> dict[str, Any]:
        return {**self.stats.summary(), "policy": self.policy, "interrupted": interrupted, "model": self.model_digest,
                "sources": [s.describe() for s in self.sources], "engine": self.engine.describe()}

    def _start(self) -> None:
        for index, source in enumerate(self.sources):
            n = self.options.decoders if source.decodes and not source.blocks else 1
            turns = _Turns(n) if n > 1 else None
            for worker in range(n):
                # A preprocessor owns scratch buffers: one per thread.
                preprocess = self.preprocessors[index] if worker == 0 else \
                    Preprocessor(self.engine.model.input_shape, **self.options.preprocess)
                self._threads.append(threading.Thread(target=self._capture, args=(index, source, preprocess, turns),
                                                      name=f"lutrun-capture-{index}" + (f".{worker}" if worker else ""),
                                                      daemon=True))
        self._threads.append(threading.Thread(target=self._infer, name="lutrun-engine", daemon=True))
        self._engine_live = True
        for thread in self._threads:
            thread.start()

    def _join(self) -> None:
        stuck = []
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT_S)
            if thread.is_alive():
                stuck.append(thread.name)
        if stuck and self._failure is None:
            self._failure = PipelineError(f"threads did not stop within {_JOIN_TIMEOUT_S} s: {', '.join(stuck)} "
                                          "(a source blocked in read?)")

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self.stop()

    # -- stages -----------------------------------------------------------------

    def _capture(self, index: int, source: Source, preprocess: Preprocessor, turns: _Turns | None = None) -> None:
        """Capture thread: frames of ``source`` preprocessed into the ring and on to the engine.  With ``turns``
        this is one of several threads that read the source in turn, decode and preprocess at once, and hand
        frames on in the order they were read."""
        seq = 0
        self.source_state[index] = "streaming"
        try:
            while not self._stop.is_set():
                if source.blocks:
                    seq = self._capture_block(index, source, seq)
                    if seq is None:
                        self.source_state[index] = "ended"
                        break
                    continue
                if turns is None:
                    frame = self._next_frame(index, source, raw=False)
                else:
                    with turns.read_lock:
                        frame = None if turns.ended else self._next_frame(index, source, raw=True)
                        turns.ended = frame is None
                        seq, turns.next_read = turns.next_read, turns.next_read + 1
                if frame is None:
                    break
                captured = time.monotonic_ns()
                slot = self._pool.acquire()
                image = frame.image if turns is None else self._decoded(source, frame.image)
                if image is not None:
                    preprocess.levels = source.levels  # set by the decoder the source opened with
                    preprocess(image, out=self.inputs[slot].reshape(preprocess.shape))
                    if self.keep_frames:
                        self._keep(slot, image)
                    stamps = self.stamps[slot]
                    stamps[ARRIVAL], stamps[CAPTURED], stamps[PREPROCESSED] = frame.arrival_ns, captured, time.monotonic_ns()
                    self.seq[slot], self.stream[slot], self.labels[slot] = seq, index, self._label(index, frame.label)
                if turns is None:
                    seq += 1
                    self._evict(self._to_engine.put_many([slot]))
                elif not turns.hand_on(seq, self._stop, lambda: self._hand_on(slot, image is not None)):
                    break
        except Closed:
            pass
        except LutrunError as exc:
            self.source_state[index] = "failed"
            self._fail(exc)
        except Exception as exc:  # a bug or an OpenCV failure: stop everything, report it
            self.source_state[index] = "failed"
            self._fail(PipelineError(f"capture from {source.spec} failed: {type(exc).__name__}: {exc}"))
        finally:
            if turns is None or turns.leave():
                if self.source_state[index] == "streaming":
                    self.source_state[index] = "stopped"
                with self._count_lock:
                    self._live_sources -= 1
                    if self._live_sources == 0:
                        self._to_engine.close()

    def _next_frame(self, index: int, source: Source, raw: bool) -> SourceFrame | None:
        """The source's next frame (undecoded if ``raw``), reopening a live source that failed; None at the end
        of the stream or once stopping."""
        while not self._stop.is_set():
            try:
                frame = source.read_raw() if raw else source.read()
            except HardwareError as exc:
                if not source.live:
                    raise
                self.source_state[index] = "reconnecting"
                if not self._reconnect(source, exc):
                    return None  # asked to stop while the device was away
                self.source_state[index] = "streaming"
                continue
            self.stats.source_errors.extend(source.take_errors())
            if frame is None:
                self.source_state[index] = "ended"
            return frame
        return None

    def _decoded(self, source: Source, image: np.ndarray) -> np.ndarray | None:
        """A raw frame decoded; None for a live source's frame that does not decode (counted, skipped)."""
        try:
            return source.decode(image)
        except HardwareError as exc:
            if not source.live:
                raise
            self.stats.source_errors.append(str(exc))
            return None

    def _hand_on(self, slot: int, ready: bool) -> None:
        if ready:
            self._evict(self._to_engine.put_many([slot]))
        else:
            self._pool.release([slot])

    def _capture_block(self, index: int, source: Source, seq: int) -> int | None:
        """One block of ``source``'s frames into the ring and on to the engine: the next frame number, or None at
        the end.  Frames already in the model's shape are copied as one array, the others preprocessed one by one."""
        block = source.read_block(self.options.max_batch)
        if block is None:
            return None
        captured, k = time.monotonic_ns(), len(block.labels)
        slots = self._pool.acquire_many(k)
        preprocess = self.preprocessors[index]
        preprocess.levels = source.levels
        images = block.images[..., 0] if block.images.ndim == 4 and block.images.shape[3] == 1 else block.images
        at = _ring_run(slots)
        if preprocess.passes(images.shape[1:]):
            self.inputs[at] = images.reshape(k, -1)
        else:
            for slot, image in zip(slots, images):
                preprocess(image, out=self.inputs[slot].reshape(preprocess.shape))
        if self.keep_frames:
            for slot, image in zip(slots, images):
                self._keep(slot, image)
        self.stamps[at, ARRIVAL], self.stamps[at, CAPTURED] = block.arrival_ns, captured
        self.stamps[at, PREPROCESSED] = time.monotonic_ns()
        self.seq[at], self.stream[at] = np.arange(seq, seq + k), index
        self.labels[at] = self._labels(index, block.labels)
        self._evict(self._to_engine.put_many(slots.tolist()))
        return seq + k

    def _evict(self, evicted: list[int]) -> None:
        """Frames the hand-off dropped (latest-wins): counted, their sources told, their slots freed."""
        if evicted:
            self.stats.add_drops(len(evicted))
            for slot in evicted:
                self.sources[self.stream[slot]].dropped(int(self.seq[slot]))
            self._pool.release(evicted)

    def _reconnect(self, source: Source, error: HardwareError) -> bool:
        """Report ``error`` and reopen ``source`` with exponential backoff; False once stopping."""
        delay, ceiling = self.options.retry_s
        self.stats.source_errors.append(str(error))
        source.close()
        while not self._stop.wait(delay):
            try:
                source.open()
                self.stats.reconnects += 1
                return True
            except HardwareError as exc:
                self.stats.source_errors.append(str(exc))
                delay = min(delay * 2, ceiling)
        return False

    def _keep(self, slot: int, image: np.ndarray) -> None:
        kept = self.frames[slot]
        if kept is None or kept.shape != image.shape:
            kept = self.frames[slot] = np.empty_like(image)
        np.copyto(kept, image)

    def _infer(self) -> None:
        slots = np.zeros(self.options.max_batch, np.intp)  # indices: 32 bits on a 32-bit board
        try:
            while True:
                try:
                    n = self._to_engine.get_into(slots)
                except Closed:
                    break
                batch = slots[:n]
                self.stamps[batch, DEQUEUED] = time.monotonic_ns()
                if self._pending is not None:
                    self._install_pending()
                scores, at = self._batch_scores[:n], _ring_run(batch)
                if isinstance(at, slice):  # the engine reads the ring's rows in place
                    rows = self.inputs[at]
                else:
                    rows = self._rows[:n]
                    np.take(self.inputs, batch, axis=0, out=rows, mode="clip")  # "raise" copies through a buffer
                for a, b in self._runs(batch):
                    self.engine.classify_into(rows[a:b], scores[a:b], int(self.seq[batch[a]]) % 2**32)
                self.stamps[batch, INFERRED] = time.monotonic_ns()
                self.scores[batch] = scores
                self._deliver(batch)
        except Closed:
            pass
        except LutrunError as exc:
            self._fail(exc)
        except Exception as exc:
            self._fail(PipelineError(f"engine {self.engine.name} failed: {type(exc).__name__}: {exc}"))
        finally:
            with self._swap_lock:
                self._engine_live = False
            self._install_pending()  # a swap asked for at the end still completes
            self._done.set()

    def _runs(self, batch: np.ndarray) -> list[tuple[int, int]]:
        """Spans of the batch with consecutive frame numbers of one stream: one engine call each,
        so that position-dependent (stochastic) modulation matches the batch path exactly."""
        if len(batch) == 1:
            return [(0, 1)]
        seq, stream = self.seq[batch], self.stream[batch]
        breaks = np.flatnonzero((np.diff(seq) != 1) | (np.diff(stream) != 0)) + 1
        edges = [0, *breaks.tolist(), len(batch)]
        return list(zip(edges[:-1], edges[1:]))

    def _deliver(self, slots: np.ndarray) -> None:
        scores = self.scores[slots]
        batch = Batch(slots=slots, seq=self.seq[slots], stream=self.stream[slots], labels=self.labels[slots],
                      scores=scores, predictions=predict(scores), stamps=self.stamps[slots],
                      frames=[self.frames[s] for s in slots] if self.keep_frames else None,
                      class_names=self.engine.model.class_names, model=self.model_digest)
        try:
            for sink in self.sinks:
                sink.write(batch)
        except LutrunError as exc:
            self._fail(exc)
        except OSError as exc:
            self._fail(PipelineError(f"sink failed: {exc}"))
        batch.stamps[:, DELIVERED] = time.monotonic_ns()
        self.stats.add(batch.stamps, batch.labels, batch.predictions)
        self._pool.release(slots)
