"""Where compiled per-model artefacts (C kernels, Verilator simulators) are kept between runs."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$LUTRUN_CACHE``, else ``$XDG_CACHE_HOME/lutrun``, else ``~/.cache/lutrun``."""
    root = os.environ.get("LUTRUN_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lutrun"
    return Path(root)
