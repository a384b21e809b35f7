"""The one engine interface: numpy reference, C, FPGA overlay and its simulation.

An engine answers two questions about its model, both with bit-exact results:
``run_bits`` (binary sub-frame samples -> output bits, the LUT network alone)
and ``classify`` (uint8 frames -> class scores: modulate, evaluate, vote),
which is what a pipeline calls and what an FPGA overlay computes in fabric.
With ``temporal`` set, ``classify`` follows lutrun.temporal instead: one
sub-frame per frame and scores averaged over frames, the state kept by the
engine across calls until ``reset_temporal``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from lutrun.errors import BackendUnavailableError, ConfigError, InputShapeError
from lutrun.model import Model, Modulation
from lutrun.temporal import Temporal, ema_update
from lutrun.votes import SCORE_MAX, largest_score


def frame_counter(frame0: Any) -> int:
    """A stream position as the modulator counts it (mod 2**32); only integers are positions."""
    if isinstance(frame0, bool) or not isinstance(frame0, (int, np.integer)):
        raise ConfigError(f"frame0 must be an integer stream position, got {frame0!r}")
    return int(frame0) % 2**32


class Engine(ABC):
    name: str = "abstract"

    def __init__(self, model: Model, modulation: Modulation | None = None, temporal: Temporal | None = None) -> None:
        self.model = model
        self.modulation = modulation or model.modulation
        self.temporal = temporal
        self._temporal_state = np.zeros(model.n_classes, np.int64)
        most = largest_score(model.output_classes, self.modulation.frames, temporal.shift if temporal else None)
        if most > SCORE_MAX:  # never wrap: refuse the pair up front
            raise ConfigError(f"scores could reach {most}, beyond the int32 they are kept in: lower F (now "
                              f"{self.modulation.frames}) or give the fullest class fewer outputs")

    @abstractmethod
    def run_bits(self, bits: np.ndarray) -> np.ndarray:
        """0/1 uint8 samples [S, n_inputs] -> 0/1 uint8 outputs [S, n_outputs]."""

    # Each back end implements one primitive; the public methods below validate once and call it.

    @abstractmethod
    def _classify_into(self, rows: np.ndarray, scores: np.ndarray, frame0: int) -> None:
        """Checked uint8 rows [B, n_inputs] -> ``scores`` (checked int32 [B, n_classes]), in place."""

    def _temporal_votes(self, rows: np.ndarray, frame0: int) -> np.ndarray:
        """Checked uint8 rows [B, n_inputs] -> int32 votes [B, n_classes] of each frame's one sub-frame."""
        raise BackendUnavailableError(f"engine {self.name} has no temporal mode")

    def _classify_temporal_into(self, rows: np.ndarray, scores: np.ndarray, frame0: int) -> None:
        """Temporal mode's primitive: by default the votes of ``_temporal_votes`` averaged here."""
        assert self.temporal is not None
        scores[...] = ema_update(self._temporal_votes(rows, frame0), self._temporal_state, self.temporal.shift)

    def _run(self, rows: np.ndarray, scores: np.ndarray, frame0: Any) -> None:
        primitive = self._classify_into if self.temporal is None else self._classify_temporal_into
        primitive(rows, scores, frame_counter(frame0))

    def classify(self, frames: np.ndarray, frame0: int = 0) -> np.ndarray:
        """uint8 frames [B, H, W, C] (C may be dropped when 1, B when one frame) -> int32 scores [B, classes].

        ``frame0`` is the stream position of the first frame; the stochastic
        modulator and temporal mode depend on it.

        >>> import numpy as np, lutrun
        >>> engine = lutrun.create_engine("numpy", lutrun.load_model(lutrun.DEFAULT_MODEL))
        >>> frame = np.zeros((28, 28), np.uint8)
        >>> frame[4:24, 13:15] = 255                     # a vertical stroke
        >>> int(engine.classify(frame).argmax())         # a "1"
        1
        """
        rows = self.frames_as_rows(frames)
        scores = np.empty((rows.shape[0], self.model.n_classes), np.int32)
        self._run(rows, scores, frame0)
        return scores

    def classify_into(self, rows: np.ndarray, scores: np.ndarray, frame0: int = 0) -> None:
        """uint8 rows [B, n_inputs] -> ``scores`` int32 [B, classes], in place, allocating nothing (the
        pipeline's call); both arrays are checked (shape, dtype, contiguity) before any native code sees them."""
        self.check_into(rows, scores)
        self._run(rows, scores, frame0)

    def reset_temporal(self) -> None:
        """Forget the temporal scores: the next frame starts from zero, as after a reset."""
        self._temporal_state[...] = 0

    def frames_as_rows(self, frames: np.ndarray) -> np.ndarray:
        """Check frames against the model's input geometry; return C-contiguous uint8 [B, n_inputs]."""
        frames = np.asarray(frames)
        h, w, c = self.model.input_shape
        if frames.dtype != np.uint8:
            raise InputShapeError(f"frames must be uint8, got {frames.dtype}")
        shape, ndim = frames.shape, frames.ndim
        if not (ndim in (3, 4) and shape[-3:] == (h, w, c) or c == 1 and ndim in (2, 3) and shape[-2:] == (h, w)):
            raise InputShapeError(f"frames of shape {shape} do not match the model's input {h}x{w}x{c} "
                                  "(expected [B, H, W, C] or [H, W, C])")
        return np.ascontiguousarray(frames.reshape(-1, h * w * c))

    def check_into(self, rows: np.ndarray, scores: np.ndarray) -> None:
        """What ``classify_into`` writes through: uint8 rows [B, n_inputs] and int32 scores [B, classes], both
        C-contiguous, scores writable (a native engine would otherwise read or write out of bounds)."""
        n_in, n_cl = self.model.n_inputs, self.model.n_classes
        if not isinstance(rows, np.ndarray) or rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != n_in \
                or not rows.flags.c_contiguous:
            raise InputShapeError(f"rows must be C-contiguous uint8 [B, {n_in}], got "
                                  f"{getattr(rows, 'dtype', type(rows).__name__)} {getattr(rows, 'shape', '')}")
        if not isinstance(scores, np.ndarray) or scores.dtype != np.int32 or scores.shape != (rows.shape[0], n_cl) \
                or not scores.flags.c_contiguous or not scores.flags.writeable:
            raise InputShapeError(f"scores must be writable C-contiguous int32 [{rows.shape[0]}, {n_cl}], got "
                                  f"{getattr(scores, 'dtype', type(scores).__name__)} {getattr(scores, 'shape', '')}")

    def check_bits(self, bits: np.ndarray) -> np.ndarray:
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] != self.model.n_inputs:
            raise InputShapeError(f"bits must be [samples, {self.model.n_inputs}], got shape {bits.shape}")
        if bits.dtype != np.uint8 or (bits.size and bits.max() > 1):
            raise InputShapeError("bits must be uint8 zeros and ones")
        return np.ascontiguousarray(bits)

    def describe(self) -> dict[str, Any]:
        temporal = None if self.temporal is None else {"shift": self.temporal.shift}
        return {"engine": self.name, "modulation": self.modulation.to_json(), "temporal": temporal}

    def close(self) -> None:
        """Release native or hardware resources (idempotent)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
