"""The C engine: bit-sliced LUT evaluation and the fused frame call, via cffi.

Calls release the GIL, so ``threads > 1`` splits large batches over cores.
Native objects are freed by cffi's garbage hooks; a session only borrows the
net and modulator, and freeing it never touches them, so order is irrelevant.
"""
from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from lutrun import native
from lutrun.bits import empty_rows, words_for
from lutrun.engines.base import Engine
from lutrun.errors import ConfigError, InputShapeError
from lutrun.model import Model, Modulation
from lutrun.temporal import Temporal

def _packed_rows(packed: np.ndarray, rows: int | None, what: str) -> np.ndarray:
    """``packed`` checked as uint64 [rows, words] and made C-contiguous (what native code reads)."""
    if not isinstance(packed, np.ndarray) or packed.dtype != np.uint64 or packed.ndim != 2 or \
            (rows is not None and packed.shape[0] != rows):
        raise InputShapeError(f"{what} must be uint64 [{rows if rows is not None else 'rows'}, words], got "
                              f"{getattr(packed, 'dtype', type(packed).__name__)} {getattr(packed, 'shape', '')}")
    return np.ascontiguousarray(packed)


# Below this many frames per thread, splitting costs more than it gains.
_MIN_FRAMES_PER_THREAD = 256


class CpuEngine(Engine):
    name = "cpu"

    def __init__(self, model: Model, modulation: Modulation | None = None, threads: int = 1,
                 specialise: bool = False, temporal: Temporal | None = None) -> None:
        """``specialise``: compile (or take from the cache) C generated for this model, tables folded in."""
        super().__init__(model, modulation, temporal)
        if not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        self.ffi, self.lib = native.require()
        self.threads = threads
        self._net = self._new_net()
        self._kernel = self._install_specialised_kernel() if specialise else None
        self._mod = self._new_modulator()
        self._classes = np.ascontiguousarray(model.output_classes, np.int32)
        self._sessions: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(threads):
            self._sessions.put(self._new_session())
        self._scratch_words = int(self.lib.lr_net_scratch_words(self._net))
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="lutrun-cpu") if threads > 1 else None

    def _new_net(self) -> Any:
        layers = self.model.pruned().layers  # LUTs that reach no output are never evaluated
        widths = np.array([layer.width for layer in layers], np.int32)
        fan_in = np.array([layer.fan_in for layer in layers], np.int32)
        inputs = np.concatenate([layer.inputs.ravel() for layer in layers]).astype(np.int32)
        tables = np.concatenate([layer.tables for layer in layers]).astype(np.uint64)
        out = self.ffi.new("lr_net **")
        native.check(self.lib.lr_net_new(self.model.n_inputs, len(layers), native.buffer(widths, "int32_t[]"),
                                         native.buffer(fan_in, "int32_t[]"), native.buffer(inputs, "int32_t[]"),
                                         native.buffer(tables, "uint64_t[]"), out), "lr_net_new")
        return self.ffi.gc(out[0], self.lib.lr_net_free)

    def _install_specialised_kernel(self) -> Any:
        from lutrun.codegen import kernel_for

        kernel = kernel_for(self.model)
        native.check(self.lib.lr_net_set_kernel(self._net, self.ffi.cast("lr_kernel_fn", kernel.address)),
                     "lr_net_set_kernel")
        return kernel  # keeps the shared library loaded as long as the engine lives

    def _new_modulator(self) -> Any:
        m = self.modulation
        out = self.ffi.new("lr_modulator **")
        native.check(self.lib.lr_modulator_new(native.METHOD_CODES[m.method], m.frames, m.seed, m.range[0],
                                               m.range[1], self.model.n_inputs, out), "lr_modulator_new")
        return self.ffi.gc(out[0], self.lib.lr_modulator_free)

    def _new_session(self) -> Any:
        out = self.ffi.new("lr_session **")
        native.check(self.lib.lr_session_new(self._net, self._mod, native.buffer(self._classes, "int32_t[]"),
                                             self.model.n_classes, out), "lr_session_new")
        return self.ffi.gc(out[0], self.lib.lr_session_free)

    # -- the LUT network alone ------------------------------------------------

    def run_packed(self, packed: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Packed inputs [n_inputs, words] -> packed outputs [n_outputs, words] (all words evaluated)."""
        packed = _packed_rows(packed, self.model.n_inputs, "packed inputs")
        stride = packed.shape[1]
        if out is None:
            out = empty_rows(self.model.n_outputs, stride)
        elif not isinstance(out, np.ndarray) or out.shape != (self.model.n_outputs, stride) or out.dtype != np.uint64 \
                or not out.flags.c_contiguous or not out.flags.writeable:
            raise InputShapeError(f"out must be writable C-contiguous uint64 [{self.model.n_outputs}, {stride}]")
        bounds = np.linspace(0, stride, self.threads + 1).astype(np.int64) // 8 * 8
        bounds[-1] = stride
        spans = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        p_in, p_out = native.buffer(packed, "uint64_t[]"), native.buffer(out, "uint64_t[]")

        def work(span: tuple[int, int]) -> None:
            scratch = empty_rows(1, self._scratch_words)
            native.check(self.lib.lr_eval(self._net, p_in, p_out, stride, span[0], span[1],
                                          native.buffer(scratch, "uint64_t[]")), "lr_eval")

        self._map(work, spans)
        return out

    def run_bits(self, bits: np.ndarray) -> np.ndarray:
        bits = self.check_bits(bits)
        n = bits.shape[0]
        return self.unpack(self.run_packed(self.pack(bits)), n)

    def pack(self, bits: np.ndarray) -> np.ndarray:
        """0/1 uint8 [S, n] -> packed [n, words] (the C twin of lutrun.bits.pack_bits)."""
        bits = np.asarray(bits)
        if bits.dtype != np.uint8 or bits.ndim != 2:
            raise InputShapeError(f"bits must be uint8 [samples, features], got {bits.dtype} {bits.shape}")
        bits = np.ascontiguousarray(bits)
        packed = empty_rows(bits.shape[1], words_for(bits.shape[0]))
        native.check(self.lib.lr_pack(native.buffer(bits, "uint8_t[]"), bits.shape[0], bits.shape[1],
                                      native.buffer(packed, "uint64_t[]"), packed.shape[1]), "lr_pack")
        return packed

    def unpack(self, packed: np.ndarray, n_samples: int) -> np.ndarray:
        """packed [n, words] -> 0/1 uint8 [n_samples, n] (the C twin of lutrun.bits.unpack_bits)."""
        packed = _packed_rows(packed, None, "packed rows")
        if not 0 <= n_samples <= packed.shape[1] * 64:
            raise InputShapeError(f"{packed.shape[1]} words hold at most {packed.shape[1] * 64} samples, not {n_samples}")
        bits = np.empty((n_samples, packed.shape[0]), np.uint8)
        native.check(self.lib.lr_unpack(native.buffer(packed, "uint64_t[]"), packed.shape[1], n_samples,
                                        packed.shape[0], native.buffer(bits, "uint8_t[]")), "lr_unpack")
        return bits

    # -- the oversampling path, step by step and fused --------------------------

    def modulate_packed(self, frames: np.ndarray, frame0: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """uint8 frames -> packed sub-frame samples [n_inputs, words] (C modulator), into ``out`` if given."""
        rows = self.frames_as_rows(frames)
        shape = (self.model.n_inputs, words_for(rows.shape[0] * self.modulation.frames))
        if out is not None and (not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.uint64
                                or not out.flags.c_contiguous or not out.flags.writeable):
            raise InputShapeError(f"out must be writable C-contiguous uint64 [{shape[0]}, {shape[1]}]")
        packed = empty_rows(*shape) if out is None else out
        packed[:, -1:] = 0  # the last word's unused samples are zero; the modulator writes every other word
        native.check(self.lib.lr_modulate(self._mod, native.buffer(rows, "uint8_t[]"), rows.shape[0],
                                          int(frame0) % 2**32, native.buffer(packed, "uint64_t[]"),
                                          packed.shape[1]), "lr_modulate")
        return packed

    def votes_packed(self, outputs: np.ndarray, n_frames: int) -> np.ndarray:
        """Packed outputs [n_outputs, words] -> int32 scores [n_frames, n_classes] (C vote accumulator)."""
        outputs = _packed_rows(outputs, self.model.n_outputs, "packed outputs")
        if not 0 <= n_frames * self.modulation.frames <= outputs.shape[1] * 64:
            raise InputShapeError(f"{outputs.shape[1]} words hold at most {outputs.shape[1] * 64 // self.modulation.frames}"
                                  f" frames of F = {self.modulation.frames}, not {n_frames}")
        scores = np.empty((n_frames, self.model.n_classes), np.int32)
        native.check(self.lib.lr_votes(native.buffer(outputs, "uint64_t[]"), outputs.shape[1], outputs.shape[0],
                                       native.buffer(self._classes, "int32_t[]"), self.model.n_classes,
                                       self.modulation.frames, n_frames, native.buffer(scores, "int32_t[]")),
                     "lr_votes")
        return scores

    def _native_classify(self, rows: np.ndarray, scores: np.ndarray, frame0: int) -> None:
        """One fused native call on a session of its own (sessions are per thread)."""
        session = self._sessions.get()
        try:
            p_rows, p_scores = self.ffi.from_buffer("uint8_t[]", rows), self.ffi.from_buffer("int32_t[]", scores)
            if self.temporal is None:
                rc = self.lib.lr_classify(session, p_rows, rows.shape[0], frame0, p_scores)
                if rc:
                    native.check(rc, "lr_classify")
            else:
                native.check(self.lib.lr_classify_temporal(session, p_rows, rows.shape[0], frame0, self.temporal.shift,
                                                           native.buffer(self._temporal_state, "int64_t[]"), p_scores),
                             "lr_classify_temporal")
        finally:
            self._sessions.put(session)

    def _classify_into(self, rows: np.ndarray, scores: np.ndarray, frame0: int) -> None:
        """Large batches split over the engine's threads (the native calls release the GIL)."""
        if self.threads == 1 or rows.shape[0] < 2 * _MIN_FRAMES_PER_THREAD:  # single frames: no splitting arithmetic
            self._native_classify(rows, scores, frame0)
            return
        parts = min(self.threads, rows.shape[0] // _MIN_FRAMES_PER_THREAD)
        bounds = np.linspace(0, rows.shape[0], parts + 1).astype(np.int64)
        spans = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._map(lambda s: self._native_classify(rows[s[0]:s[1]], scores[s[0]:s[1]], (frame0 + s[0]) % 2**32),
                  spans)

    # One call in stream order: each frame's scores depend on the one before.
    _classify_temporal_into = _native_classify

    def _map(self, fn: Any, items: list[Any]) -> None:
        if self._pool is None or len(items) < 2:
            for item in items:
                fn(item)
        else:
            for future in [self._pool.submit(fn, item) for item in items]:
                future.result()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "simd": native.simd_name(), "threads": self.threads,
                "specialised": self._kernel is not None,
                # calls of up to 16 samples (a single frame at F <= 16): eight LUTs a vector, or the kernel
                "lanes": native.lanes_name() or "none"}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
