"""Vote accumulation: class scores from output bits, decisions, and smoothing.

A frame's score for class c is the number of (sub-frame, output) pairs whose
output is 1 and whose ``output_classes`` entry is c; -1 outputs do not vote.
The prediction is the argmax, ties going to the lowest class index.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from lutrun import native
from lutrun.errors import ConfigError


def class_scores(outputs: np.ndarray, output_classes: np.ndarray, n_classes: int, frames: int) -> np.ndarray:
    """0/1 outputs [B * F, n_out] -> int32 scores [B, n_classes]; numpy twin of lr_votes."""
    per_output = outputs.reshape(-1, frames, outputs.shape[1]).sum(axis=1, dtype=np.int64)  # [B, n_out]
    scores = np.zeros((per_output.shape[0], n_classes), np.int64)
    for c in range(n_classes):
        scores[:, c] = per_output[:, output_classes == c].sum(axis=1)
    return scores.astype(np.int32)


SCORE_MAX = 2**31 - 1  # scores are int32 in every engine and leave the fabric as int32


def largest_score(output_classes: np.ndarray, frames: int, temporal_shift: int | None = None) -> int:
    """The highest score any frame can reach: F votes per output of the fullest class, or the temporal
    average's bound 2**shift * (outputs + 1) - 1 (lutrun.temporal)."""
    voting = output_classes[output_classes >= 0]
    most = int(np.bincount(voting).max()) if voting.size else 0
    if temporal_shift is None:
        return frames * most
    return ((most + 1) << temporal_shift) - 1


def predict(scores: np.ndarray) -> np.ndarray:
    """Class per frame: the first maximum, i.e. the lowest class on ties.  The engines' int32 score rows go to
    the C extension where it is built (numpy's argmax costs ~40 ns a row of ten: a sixth of the pipeline's
    own time per frame in Offline); anything else to np.argmax, which agrees."""
    if native.lib is None or scores.dtype != np.int32 or scores.ndim != 2 or scores.shape[1] < 1:
        return np.argmax(scores, axis=-1)
    scores = np.ascontiguousarray(scores)
    classes = np.empty(len(scores), np.int64)
    native.check(native.lib.lr_predict(native.buffer(scores, "int32_t[]"), len(scores), scores.shape[1],
                                       native.buffer(classes, "int64_t[]")), "lr_predict")
    return classes


def margin(scores: np.ndarray) -> np.ndarray:
    """Winner's score minus the runner-up's: 0 means a tie, a confidence-like measure otherwise."""
    if scores.shape[-1] < 2:
        return scores[..., 0].astype(np.int64)
    top2 = np.sort(scores, axis=-1)[..., -2:]
    return (top2[..., 1] - top2[..., 0]).astype(np.int64)


class Smoother:
    """Temporal smoothing of live-video scores: a sliding-window sum or an exponential average."""

    def __init__(self, mode: str = "window", window: int = 4, alpha: float = 0.5) -> None:
        if mode not in ("window", "exponential", "none"):
            raise ConfigError(f"smoothing mode {mode!r} is not one of window, exponential, none")
        if window < 1 or not 0.0 < alpha <= 1.0:
            raise ConfigError("smoothing needs window >= 1 and 0 < alpha <= 1")
        self.mode, self.alpha = mode, alpha
        self._recent: deque[np.ndarray] = deque(maxlen=window)
        self._ema: np.ndarray | None = None

    def update(self, scores: np.ndarray) -> np.ndarray:
        """Feed one frame's scores; returns the smoothed scores (float64)."""
        scores = np.asarray(scores, np.float64)
        if self.mode == "none":
            return scores
        if self.mode == "window":
            self._recent.append(scores)
            return np.sum(self._recent, axis=0)
        self._ema = scores if self._ema is None else self.alpha * scores + (1 - self.alpha) * self._ema
        return self._ema

    def reset(self) -> None:
        self._recent.clear()
        self._ema = None
