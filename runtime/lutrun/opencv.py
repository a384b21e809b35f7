"""OpenCV from whatever provides ``cv2``: a board image's ``python3-opencv``, or the ``opencv`` extra's wheel.

lutrun does not depend on an OpenCV wheel, so that installing it on a board never replaces
the image's OpenCV (or drags in a numpy the image's modules cannot load).  Modules use
``cv2 = opencv.cv2``: the real module is imported at its first use, and a missing one is a
BackendUnavailableError saying how to install it, not an ImportError at ``import lutrun``.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from lutrun.errors import BackendUnavailableError

INSTALL_HINT = ("OpenCV (the cv2 module) is not installed: on a board, `sudo apt install python3-opencv` "
                "(PYNQ images have it); elsewhere, `pip install 'lutrun[opencv]'`")


def require() -> ModuleType:
    """The cv2 module, or BackendUnavailableError with the install command."""
    try:
        return importlib.import_module("cv2")
    except ImportError as exc:
        raise BackendUnavailableError(f"{INSTALL_HINT} ({exc})") from None


class _LazyModule:
    """Stands for cv2 until an attribute is asked for."""

    def __getattr__(self, name: str) -> Any:
        return getattr(require(), name)


cv2: Any = _LazyModule()
