"""The numpy reference engine: the oracle every fast path is held to.

Slow and obviously correct on purpose: unpacked 0/1 arrays, one table lookup
per LUT and sample, exactly as docs/model-format.md states the semantics.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lutrun.engines.base import Engine
from lutrun.modulate import modulate
from lutrun.temporal import phases
from lutrun.votes import class_scores


# 0/1 samples x features held at once: the peak (bits, int64 modulator temporaries, uint64 table
# addresses of one layer) stays near 100 MB whatever the batch or F.
CHUNK_VALUES = 1 << 22


class ReferenceEngine(Engine):
    name = "numpy"

    def run_bits(self, bits: np.ndarray) -> np.ndarray:
        x = self.check_bits(bits)
        for layer in self.model.layers:
            address = np.zeros((x.shape[0], layer.width), np.uint64)
            for m in range(layer.fan_in):  # input m is bit m of the table address
                address |= x[:, layer.inputs[:, m]].astype(np.uint64) << np.uint64(m)
            x = ((layer.tables[None, :] >> address) & np.uint64(1)).astype(np.uint8)
        return x

    def _chunks(self, frames: np.ndarray, frame0: int) -> Iterator[tuple[np.ndarray, int]]:
        """Frames in runs small enough that F sub-frames of the widest layer stay under CHUNK_VALUES."""
        widest = max(self.model.n_inputs, *self.model.widths)
        step = max(1, CHUNK_VALUES // (self.modulation.frames * widest))
        for i in range(0, frames.shape[0], step):
            yield frames[i:i + step], (frame0 + i) % 2**32

    def _classify_into(self, rows: np.ndarray, scores: np.ndarray, frame0: int) -> None:
        F, classes, i = self.modulation.frames, self.model.output_classes, 0
        for chunk, start in self._chunks(rows, frame0):
            scores[i:i + len(chunk)] = class_scores(self.run_bits(modulate(chunk, self.modulation, start)), classes,
                                                    self.model.n_classes, F)
            i += len(chunk)

    def _temporal_votes(self, frames: np.ndarray, frame0: int) -> np.ndarray:
        F, parts = self.modulation.frames, []
        for chunk, start in self._chunks(frames, frame0):
            every = modulate(chunk, self.modulation, start)  # all F sub-frames, then keep each frame's own
            bits = every[np.arange(chunk.shape[0]) * F + phases(start, chunk.shape[0], F)]
            parts.append(class_scores(self.run_bits(bits), self.model.output_classes, self.model.n_classes, 1))
        return np.concatenate(parts) if parts else np.zeros((0, self.model.n_classes), np.int32)
