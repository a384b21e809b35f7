"""Preprocessing real frames into the model's input geometry."""
from __future__ import annotations

import numpy as np
import pytest

from lutrun.errors import ConfigError, InputShapeError
from lutrun.preprocess import Preprocessor


def test_colour_frame_is_cropped_resized_and_grayed():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = (0, 0, 255)  # the central square is red, the side bands black
    out = Preprocessor((28, 28, 1))(frame)
    assert out.shape == (28, 28, 1) and out.dtype == np.uint8
    assert np.all(out == out[0, 0, 0]) and out[0, 0, 0] > 50  # the crop kept only the red square


def test_invert_normalize_and_reused_output():
    frame = np.full((28, 28), 100, np.uint8)
    frame[10:18, 10:18] = 150
    out = np.empty((28, 28, 1), np.uint8)
    result = Preprocessor((28, 28, 1), invert=True, normalize=True)(frame, out=out)
    assert result is out
    assert out[0, 0, 0] == 255 and out[12, 12, 0] == 0


def test_gray_to_colour_model():
    out = Preprocessor((8, 8, 3))(np.full((16, 16), 7, np.uint8))
    assert out.shape == (8, 8, 3) and np.all(out == 7)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4), np.uint8)])
def test_bad_frames(bad):
    with pytest.raises(InputShapeError):
        Preprocessor((28, 28, 1))(bad)


def test_bad_config():
    with pytest.raises(ConfigError):
        Preprocessor((28, 28, 1), crop="zoom")
