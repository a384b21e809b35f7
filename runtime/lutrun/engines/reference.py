"""The numpy reference engine: the oracle every fast path is held to.

Slow and obviously correct on purpose: unpacked 0/1 arrays, one table lookup
per LUT and sample, exactly as docs/model-format.md states the semantics.
"""
from __future__ import annotations

import numpy as np

from lutrun.engines.base import Engine
from lutrun.modulate import modulate
from lutrun.temporal import phases
from lutrun.votes import class_scores


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

    def _classify(self, frames: np.ndarray, frame0: int) -> np.ndarray:
        bits = modulate(frames, self.modulation, frame0)
        outputs = self.run_bits(bits)
        return class_scores(outputs, self.model.output_classes, self.model.n_classes, self.modulation.frames)

    def _temporal_votes(self, frames: np.ndarray, frame0: int) -> np.ndarray:
        F = self.modulation.frames
        every = modulate(frames, self.modulation, frame0)  # all F sub-frames, then keep each frame's own
        bits = every[np.arange(frames.shape[0]) * F + phases(frame0, frames.shape[0], F)]
        return class_scores(self.run_bits(bits), self.model.output_classes, self.model.n_classes, 1)
