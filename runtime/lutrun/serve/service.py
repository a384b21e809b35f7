"""The service: one ``stream.Pipeline`` kept running, its engine chosen and swapped, its state reported.

The pipeline runs on its own thread and owns the hot path; everything here
happens beside it.  A model upload is validated and compiled on the caller's
thread (the web server's executor) and handed to ``Pipeline.swap_engine``,
which installs it between two batches.  A source switch or a camera that is
missing at start replaces the pipeline; a camera lost mid-stream is the
pipeline's own reconnect loop.  Counters span pipelines.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.engines import Engine, create_engine
from lutrun.errors import ConfigError, HardwareError, LutrunError
from lutrun.model import Model
from lutrun.modelfile import load_model
from lutrun.resources import DEFAULT_MODEL, model_path
from lutrun.serve.config import ServeConfig
from lutrun.serve.hub import ResultHub
from lutrun.stream import JsonlSink, Pipeline, PipelineOptions, Sink, Source, open_source
from lutrun.stream.pipeline import check_same_input
from lutrun.stream.stats import percentiles_ms
from lutrun.temporal import Temporal

log = logging.getLogger("lutrun.serve")
RETRY_S = (0.25, 8.0)  # a source missing at start: first retry, ceiling (doubling)
SWAP_WAIT_S = 5.0  # an upload's answer waits this long for the next frame to carry the new model
STATS_CAPACITY = 1 << 14  # stamps each pipeline keeps for its own summary; the hub keeps the service's


class UploadBusy(ConfigError):
    """Another upload is being compiled."""


class Service:
    """What ``lutrun serve`` runs, usable from Python (``sources`` overrides the config's specs)::

        service = Service(ServeConfig.load("lutrun.toml"))
        service.start()
        ...
        service.stop()
    """

    def __init__(self, config: ServeConfig, sources: Sequence[Source] | None = None) -> None:
        self.config = config
        self._given_sources = list(sources) if sources is not None else None
        self.hub = ResultHub(config.http.preview_fps)
        self.started = time.time()
        self.state = "starting"
        self.engine: Engine | None = None
        self.engine_kind = ""  # what uploads are built for: the engine that actually loaded
        self.engine_note: str | None = None  # why auto or fpga fell back to the CPU
        self.model_name = ""
        self.pipeline: Pipeline | None = None
        self.pipeline_error: str | None = None
        self.swaps = self.swap_failures = 0
        self.last_swap: dict[str, Any] | None = None
        self.websocket_clients = 0
        self.mqtt: Any = None
        self._lock = threading.Lock()  # pipeline replacement and engine swaps
        self._upload_lock = threading.Lock()  # one upload compiles at a time
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._dropped_before = self._reconnects_before = 0
        self._last_sources: tuple[list[dict[str, Any]], list[str]] = ([], [])

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Load the model, choose the engine, start the streaming thread and (if configured) MQTT."""
        path = self.config.model.path or None
        self.model_name = Path(path).name if path else f"{DEFAULT_MODEL.stem} (built in)"
        model = load_model(model_path(path))
        self.engine, self.engine_kind, self.engine_note = self._first_engine(model)
        log.info("engine %s for model %s (%s)", self.engine.name, self.model_name, model.digest()[:16])
        sources = self._given_sources or [open_source(spec) for spec in self.config.stream.sources]
        self._start_pipeline(sources)
        if self.config.mqtt.host:
            from lutrun.serve.mqtt import MqttReporter

            client_id = self.config.mqtt.client_id or f"lutrun-{self.model_digest()[:8]}-{int(self.started)}"
            self.mqtt = MqttReporter(self.config.mqtt, client_id, self.health)
            self.hub.listeners.append(self.mqtt.offer)
            self.mqtt.start()
        self.state = "running"

    def stop(self) -> None:
        """Finish the frames in flight, then stop MQTT (saying offline) and release the engine."""
        self.state = "stopping"
        self._stopping.set()
        self._stop_pipeline()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.engine is not None:
            self.engine.close()
        self.state = "stopped"

    def healthy(self) -> bool:
        """For the watchdog: the pipeline thread runs (streaming, or waiting for a source) or ended on purpose."""
        thread = self._thread
        return thread is None or thread.is_alive() or self.pipeline_error is None

    # -- engines ------------------------------------------------------------------

    def _prepared(self, model: Model) -> tuple[Model, dict[str, Any]]:
        cfg = self.config.model
        if cfg.frames:
            model = model.with_modulation(frames=cfg.frames)
        options: dict[str, Any] = {}
        if cfg.temporal or cfg.temporal_shift >= 0:
            options["temporal"] = Temporal.for_frames(model.modulation.frames,
                                                      cfg.temporal_shift if cfg.temporal_shift >= 0 else None)
        return model, options

    def _build(self, kind: str, model: Model) -> Engine:
        model, options = self._prepared(model)
        if kind == "cpu":
            options["specialise"] = self.config.model.specialise
        elif kind == "fpga" and self.config.model.overlay:
            options["overlay"] = self.config.model.overlay
        return create_engine(kind, model, **options)

    def _first_engine(self, model: Model) -> tuple[Engine, str, str | None]:
        """``auto`` and ``fpga``: the overlay if it loads, else the CPU engine with a note saying why."""
        kind = self.config.model.engine
        if kind not in ("auto", "fpga"):
            return self._build(kind, model), kind, None
        try:
            return self._build("fpga", model), "fpga", None
        except (LutrunError, ImportError) as exc:
            note = f"no FPGA overlay ({exc}); running on the CPU engine"
            log.warning("%s", note)
            return self._build("cpu", model), "cpu", note

    def swap_model(self, data: bytes, name: str = "upload.lutnet") -> dict[str, Any]:
        """Validate ``data`` (a .lutnet's bytes), build its engine here, install it between two frames.

        Raises ModelFormatError or ConfigError (the old model keeps serving); blocks while compiling.
        """
        if not self._upload_lock.acquire(blocking=False):
            raise UploadBusy("another model upload is being compiled; try again when it is done")
        try:
            try:
                model = load_model(data, max_bytes=self.config.http.max_upload_mb << 20)
                check_same_input(self._engine().model, model)  # before compiling for nothing
                started = time.monotonic()
                engine = self._build(self.engine_kind, model)
            except LutrunError as exc:
                self.swap_failures += 1
                log.warning("model upload %s rejected: %s", name, exc)
                raise
            compile_s = time.monotonic() - started
            with self._lock:
                pipeline, self.model_name = self.pipeline, name
                if pipeline is None:
                    replaced: Future[Engine] = Future()
                    replaced.set_result(self._engine())
                    self.engine = engine
                else:
                    replaced = pipeline.swap_engine(engine)
                    self.engine = engine
            # The engine handed back (the old one, or this one if a later upload superseded it) is closed
            # once the engine thread has let go of it.
            replaced.add_done_callback(lambda done: done.result().close())
            try:
                replaced.result(SWAP_WAIT_S)
                installed = True
            except FutureTimeout:  # no frame came (a camera away): it is installed before the next one
                installed = False
            self.swaps += 1
            digest = model.digest()[:16]
            self.last_swap = {"model": name, "digest": digest, "time": time.time(),
                              "compile_s": round(compile_s, 3), "installed": installed}
            log.info("model %s (%s) %s after %.2f s of preparation", name, digest,
                     "installed" if installed else "queued for the next frame", compile_s)
            return {"ok": True, **self.last_swap, "engine": engine.describe()}
        finally:
            self._upload_lock.release()

    def _engine(self) -> Engine:
        """The engine classifying now (a swap not yet installed is not counted)."""
        pipeline = self.pipeline
        engine = pipeline.engine if pipeline is not None else self.engine
        if engine is None:
            raise ConfigError("the service has not started")
        return engine

    def model_digest(self) -> str:
        """The classifying model's digest (16 hex digits): the pipeline's copy, hashed once per model."""
        pipeline = self.pipeline
        return pipeline.model_digest if pipeline is not None else self._engine().model.digest()[:16]

    # -- sources and pipelines ----------------------------------------------------

    def switch_source(self, specs: Sequence[str]) -> dict[str, Any]:
        """Check that ``specs`` open, then replace the running pipeline; the old one keeps running if they do not."""
        if not specs:
            raise ConfigError("give at least one source")
        sources = [open_source(spec) for spec in specs]
        opened: list[Source] = []
        try:
            for source in sources:
                source.open()
                opened.append(source)
        finally:
            for source in opened:
                source.close()
        self._stop_pipeline()
        self._start_pipeline(sources)
        log.info("source switched to %s", ", ".join(specs))
        return {"ok": True, "sources": list(specs)}

    def _start_pipeline(self, sources: list[Source]) -> None:
        self._stopping.clear()
        self.pipeline_error = None
        # What /api/status reports until the thread below has made the pipeline: the sources, not yet streaming.
        self._last_sources = [s.describe() for s in sources], ["idle"] * len(sources)
        self._thread = threading.Thread(target=self._run, args=(sources,), name="lutrun-service", daemon=True)
        self._thread.start()

    def _new_pipeline(self, sources: list[Source]) -> Pipeline:
        cfg = self.config.stream
        sinks: list[Sink] = [self.hub]
        if cfg.jsonl:
            sinks.append(JsonlSink(cfg.jsonl, append=True))
        options = PipelineOptions(policy=cfg.policy or None, stats_capacity=STATS_CAPACITY, decoders=cfg.decoders,
                                  preprocess={"invert": cfg.invert, "normalize": cfg.normalize})
        return Pipeline(sources, self._engine(), sinks, options)

    def _run(self, sources: list[Source]) -> None:
        """Run pipelines until stopped or the stream ends; a source missing at start is retried with backoff."""
        delay = RETRY_S[0]
        while True:
            with self._lock:  # a stop either sees this pipeline or prevents it
                if self._stopping.is_set():
                    return
                try:
                    pipeline = self.pipeline = self._new_pipeline(sources)
                except LutrunError as exc:
                    self.pipeline_error = str(exc)
                    log.error("stream failed: %s", exc)
                    return
            try:
                pipeline.run()
                self.pipeline_error = None
                return
            except HardwareError as exc:
                if not any(s.live for s in sources) or pipeline.stats.frames:
                    self.pipeline_error = str(exc)
                    log.error("stream failed: %s", exc)
                    return
                self.pipeline_error = f"{exc} (retrying in {delay:g} s)"
                log.warning("source not available: %s; retrying in %g s", exc, delay)
            except LutrunError as exc:
                self.pipeline_error = str(exc)
                log.error("stream failed: %s", exc)
                return
            finally:
                with self._lock:
                    self._dropped_before += pipeline.stats.dropped
                    self._reconnects_before += pipeline.stats.reconnects
                    self.pipeline = None
                    self.engine = pipeline.engine  # a swap installed as the pipeline ended
                    self._last_sources = [s.describe() for s in pipeline.sources], list(pipeline.source_state)
            self._stopping.wait(delay)
            delay = min(delay * 2, RETRY_S[1])

    def _stop_pipeline(self) -> None:
        with self._lock:
            self._stopping.set()
            pipeline, thread = self.pipeline, self._thread
        if pipeline is not None:
            pipeline.stop()
        if thread is not None:
            thread.join()

    # -- reports ----------------------------------------------------------------------

    def fps(self) -> float:
        return self.hub.fps()

    def sources_status(self) -> list[dict[str, Any]]:
        pipeline = self.pipeline
        if pipeline is not None:
            described, states = [s.describe() for s in pipeline.sources], pipeline.source_state
        else:
            described, states = self._last_sources
        return [{**d, "state": state} for d, state in zip(described, states)]

    def counters(self) -> dict[str, int]:
        pipeline = self.pipeline
        dropped, reconnects = self._dropped_before, self._reconnects_before
        if pipeline is not None:
            dropped += pipeline.stats.dropped
            reconnects += pipeline.stats.reconnects
        return {"frames": self.hub.frames, "dropped": dropped, "reconnects": reconnects, "model_swaps": self.swaps,
                "model_swap_failures": self.swap_failures}

    def engine_info(self) -> dict[str, Any]:
        return {**self._engine().describe(), "note": self.engine_note}

    def model_info(self) -> dict[str, Any]:
        model = self._engine().model
        return {"name": self.model_name, "digest": self.model_digest(), "input_shape": list(model.input_shape),
                "classes": model.class_names, "luts": model.n_luts, "frames": model.modulation.frames}

    def health(self) -> dict[str, Any]:
        """The short form MQTT's health topic carries."""
        return {"engine": self._engine().name, "model": self.model_digest(), "fps": round(self.fps(), 1),
                **self.counters(), "sources": [s["state"] for s in self.sources_status()]}

    def stream_error(self) -> str | None:
        """Why the stream is not running, while it is not (a retry's error is void once its sources opened)."""
        pipeline = self.pipeline
        return self.pipeline_error if pipeline is None or "idle" in pipeline.source_state else None

    def status(self) -> dict[str, Any]:
        pipeline = self.pipeline
        errors = list(pipeline.stats.source_errors)[-5:] if pipeline is not None else []
        latency = percentiles_ms(self.hub.recent_e2e_ns())
        return {"state": self.state, "uptime_s": round(time.time() - self.started, 3),
                "sources": self.sources_status(), "source_errors": errors, "stream_error": self.stream_error(),
                "engine": self.engine_info(), "model": self.model_info(),
                **self.counters(), "fps": round(self.fps(), 1),
                "e2e_p50_ms": round(latency["p50_ms"], 3), "e2e_p99_ms": round(latency["p99_ms"], 3),
                "last_swap": self.last_swap, "websocket_clients": self.websocket_clients,
                "mqtt": self.mqtt.status() if self.mqtt is not None else None}

    def preview(self) -> tuple[int, np.ndarray | None, tuple[int, int]]:
        return self.hub.newest_preview()
