"""Shared fixtures.  MNIST is found through LUTRUN_DATA (a directory holding mnist/),
defaulting to the shared data folder beside the checkout."""
from __future__ import annotations

import gzip
import os
import shutil
import struct
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
# Set by .ci/boards.sh inside the boards' roots: Python under qemu-user runs an order of magnitude slower,
# too slow to keep a 1000 fps pace, so tests that check a pace only check that frames flow there.
EMULATED = bool(os.environ.get("LUTRUN_EMULATED"))


def run_cli(*args: str, timeout: float = 600, **options) -> subprocess.CompletedProcess:
    """``lutrun ARGS...`` as a user runs it, in a subprocess of this interpreter."""
    return subprocess.run([*LUTRUN, *args], capture_output=True, text=True, timeout=timeout, **options)


def make_shapes(root: Path, train: int = 6, val: int = 2, test: int = 3, size: int = 24) -> Path:
    """The worked example's generator (apps/make_shapes.py): twelve colour classes."""
    subprocess.run([sys.executable, str(ROOT / "apps" / "make_shapes.py"), "--out", str(root), "--train", str(train),
                    "--val", str(val), "--test", str(test), "--size", str(size)], check=True, capture_output=True)
    return root


def write_idx(directory: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(directory / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">BBBB3I", 0, 0, 8, 3, *images.shape) + images.tobytes())
    with gzip.open(directory / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">BBBBI", 0, 0, 8, 1, len(labels)) + labels.astype(np.uint8).tobytes())


def digit_folders(root: Path, count: int = 300) -> np.ndarray:
    """The shipped sample's first ``count`` digits as train/ and test/ class folders, without a "0" folder, so
    that folder k holds the digit model's class k+1: labels are right only if matched by name.  Returns the
    sample's labels."""
    from lutrun.datasets import load_idx_dataset
    from lutrun.opencv import cv2
    from lutrun.resources import DATA

    sample = load_idx_dataset(DATA / "sample", "test", count)
    for split in ("train", "test"):
        for i, (image, label) in enumerate(zip(sample.images, sample.labels)):
            if label:
                folder = root / split / str(label)
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{i:04d}.png"), image[:, :, 0])
    return sample.labels


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
