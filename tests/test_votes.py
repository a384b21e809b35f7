"""The C engine's bit-sliced vote accumulator against the numpy reference's plain sums: narrow and very wide
last layers (1 to 100,000 outputs per class), any class count, outputs that do not vote, F from 1 to 4,096, and
frame counts that do not fill a 512-sample block."""
from __future__ import annotations

import numpy as np
import pytest

from lutrun.bits import pack_bits
from lutrun.engines import create_engine
from lutrun.model import Modulation, random_model
from lutrun.votes import class_scores


def vote_engine(n_out: int, n_classes: int, frames: int, seed: int, silent: float = 0.0):
    """A one-layer model whose last layer is ``n_out`` wide; some outputs (``silent`` of them) vote for no class."""
    model = random_model((2, 2, 1), (n_out,), fan_in=1, n_classes=n_classes, seed=seed,
                         modulation=Modulation(frames=frames))
    if silent:
        rng = np.random.default_rng(seed)
        model.output_classes[rng.random(n_out) < silent] = -1
    return create_engine("cpu", model), model


@pytest.mark.parametrize("n_out, n_classes, frames, n_frames", [
    (10, 10, 15, 1), (1000, 10, 15, 37), (1000, 10, 1, 513), (7, 3, 4, 1000), (64, 1, 64, 9), (65, 2, 65, 9),
    (300, 7, 1000, 3), (40, 4, 4096, 2), (200_000, 2, 1, 100), (8000, 10, 1, 130), (513, 5, 3, 171),
    # one word of samples (a single frame's path): several frames in it, exactly 64, F = 1
    (1000, 10, 15, 4), (50, 3, 64, 1), (30, 2, 1, 64), (12, 5, 7, 9), (100_000, 3, 1, 1),
])
def test_bitsliced_votes_equal_the_reference(n_out, n_classes, frames, n_frames):
    for silent in (0.0, 0.3):
        engine, model = vote_engine(n_out, n_classes, frames, seed=n_out + frames, silent=silent)
        bits = np.random.default_rng(n_frames).integers(0, 2, (n_frames * frames, n_out), dtype=np.uint8)
        expected = class_scores(bits, model.output_classes, n_classes, frames)
        np.testing.assert_array_equal(engine.votes_packed(pack_bits(bits), n_frames), expected)


def test_all_ones_reach_the_largest_count_without_wrapping():
    """100,000 outputs of one class all set: the planes hold the full count (17 bits)."""
    engine, model = vote_engine(100_000, 1, 3, seed=1)
    bits = np.ones((3 * 5, 100_000), np.uint8)
    assert engine.votes_packed(pack_bits(bits), 5).tolist() == [[300_000]] * 5


@pytest.mark.parametrize("shape", [(4096, 10), (33, 3), (0, 10), (7, 1), (100, 37)])
def test_predict_takes_the_lowest_class_among_ties_as_numpys_argmax_does(shape, rng):
    """The C path (int32 rows) on scores full of ties, beside np.argmax; strided rows and other dtypes agree too."""
    from lutrun.votes import predict

    scores = rng.integers(0, 3, shape, dtype=np.int32)  # three values over many classes: ties everywhere
    np.testing.assert_array_equal(predict(scores), np.argmax(scores, axis=-1))
    np.testing.assert_array_equal(predict(scores[::2, ::-1]), np.argmax(scores[::2, ::-1], axis=-1))
    np.testing.assert_array_equal(predict(scores.astype(np.int64)), np.argmax(scores, axis=-1))
    if len(scores):  # one frame's scores, 1-D
        np.testing.assert_array_equal(predict(scores[0]), np.argmax(scores[0]))
