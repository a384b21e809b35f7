"""Shared fixtures.  MNIST is found through LUTRUN_DATA (a directory holding mnist/),
defaulting to the shared data folder beside the checkout."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lutrun.engines import create_engine
from lutrun.model import Model

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("LUTRUN_DATA", ROOT.parent / "shared" / "data"))
LUTRUN = [sys.executable, "-c", "from lutrun.cli import main; main()"]


def run_cli(*args: str, timeout: float = 600, **options) -> subprocess.CompletedProcess:
    """``lutrun ARGS...`` as a user runs it, in a subprocess of this interpreter."""
    return subprocess.run([*LUTRUN, *args], capture_output=True, text=True, timeout=timeout, **options)


def require_tool(name: str) -> str:
    """The path of program ``name``; a skip where it is missing, a failure in CI (LUTRUN_CI=1 installs them all)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("LUTRUN_CI"):
            pytest.fail(f"{name} is not installed, and CI must run the tests that need it (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = DATA_ROOT / "mnist"
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found under {path} (set LUTRUN_DATA)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def engines(model: Model, **options):
    """The numpy reference and the C engine for the same model."""
    return create_engine("numpy", model, **options), create_engine("cpu", model, **options)
