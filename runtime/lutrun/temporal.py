"""Temporal modulation: one sub-frame per camera frame, votes averaged over frames.

BinaryBrain's 1000 fps camera demo runs its network once per camera frame and
lets the threshold advance frame by frame, so accuracy builds up over F frames
while the work per frame falls F-fold.  The rules (docs/modulation.md), shared
bit for bit by this numpy reference, the C engine and the RTL top:

- frame ``n`` of the stream (``n`` = its frame counter, mod 2**32) is modulated
  into its sub-frame ``f = n mod F`` only, by the model's own rule for ``f``;
- its votes ``v`` (one sub-frame's) update a per-class state
  ``s <- s - (s >> shift) + v``, starting from 0; the frame's scores are ``s``.

In steady state ``s`` is about ``2**shift`` times the mean vote per recent sub-frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lutrun.errors import ConfigError

MAX_SHIFT = 16


def default_shift(frames: int) -> int:
    """ceil(log2 F) - 1: the average spans about half a modulation period.

    Measured on MNIST with the default model (F = 15), accuracy per camera frame after
    warm-up for shifts 1..6: 97.3, 98.0, 98.3, 97.3, 85.5, 58.3 % (docs/fpga.md).
    """
    return max(0, max(0, int(frames) - 1).bit_length() - 1)


@dataclass(frozen=True)
class Temporal:
    """Temporal mode settings; ``shift`` is the EMA's power of two (0 = no smoothing).

    >>> import lutrun
    >>> model = lutrun.load_model(lutrun.DEFAULT_MODEL)
    >>> engine = lutrun.create_engine("cpu", model, temporal=lutrun.Temporal.for_frames(model.modulation.frames))
    >>> engine.temporal
    Temporal(shift=3)
    """

    shift: int

    def __post_init__(self) -> None:
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or not 0 <= self.shift <= MAX_SHIFT:
            raise ConfigError(f"temporal shift must be an integer in 0..{MAX_SHIFT}, got {self.shift!r}")

    @classmethod
    def for_frames(cls, frames: int, shift: int | None = None) -> Temporal:
        return cls(default_shift(frames) if shift is None else shift)


def phases(frame0: int, n_frames: int, frames: int) -> np.ndarray:
    """Sub-frame index of each frame: (frame counter mod 2**32) mod F."""
    counters = (int(frame0) + np.arange(n_frames, dtype=np.int64)) % 2**32
    return counters % frames


def ema_update(votes: np.ndarray, state: np.ndarray, shift: int) -> np.ndarray:
    """Votes [B, classes] -> int32 scores [B, classes]; ``state`` (int64 [classes]) is updated in place."""
    scores = np.empty(votes.shape, np.int32)
    for i, v in enumerate(np.asarray(votes, np.int64)):
        state += v - (state >> shift)
        scores[i] = state
    return scores
