"""What a board's Python needs: no OpenCV or numpy of lutrun's own (32-bit correctness is proven by the
whole suite on emulated armhf, .ci/boards.sh: on x86-64 numpy's intp is int64, so no test here could tell)."""
from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

import numpy as np
import pytest

from lutrun import opencv
from lutrun.errors import BackendUnavailableError


def test_installing_lutrun_never_asks_for_opencv_or_a_newer_numpy_than_a_board_has():
    base = {}
    for requirement in importlib.metadata.requires("lutrun") or []:
        if "extra ==" not in requirement:
            name, _, floor = re.match(r"([A-Za-z0-9_.-]+)\s*(>=\s*([0-9.]+))?", requirement).groups()
            base[name.lower()] = floor
    assert not any(name.startswith("opencv") for name in base)
    assert tuple(map(int, base["numpy"].split("."))) <= (1, 21)  # Ubuntu 22.04's numpy, PYNQ v3's
    assert tuple(map(int, base["cffi"].split("."))) <= (1, 15)


def test_importing_lutrun_and_its_stream_does_not_load_opencv():
    code = "import sys, lutrun, lutrun.stream, lutrun.preprocess; print('cv2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr


def test_a_missing_opencv_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    with pytest.raises(BackendUnavailableError, match="python3-opencv.*lutrun\\[opencv\\]"):
        opencv.cv2.resize
    from lutrun.preprocess import Preprocessor

    with pytest.raises(BackendUnavailableError, match="OpenCV"):
        Preprocessor((28, 28, 1))(np.zeros((480, 640, 3), np.uint8))
