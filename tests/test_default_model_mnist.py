"""The shipped default model on real MNIST frames (its accuracy: test_zoo.py), and the idx reader on real and broken files."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from lutrun.datasets import load_idx_dataset, read_idx
from lutrun.engines import create_engine
from lutrun.errors import DataError
from lutrun.resources import DEFAULT_MODEL, resolve_model


def test_default_model_is_shipped_and_small():
    model = resolve_model(None)
    assert DEFAULT_MODEL.exists()
    assert model.n_luts <= 3200
    assert model.modulation.frames == 15
    assert model.info["accuracy"]["engine"] == "cpu"


def test_default_model_c_equals_numpy_on_real_frames(mnist_dir):
    model = resolve_model(None)
    images = load_idx_dataset(mnist_dir, "test", limit=40).images
    np.testing.assert_array_equal(create_engine("cpu", model).classify(images), create_engine("numpy", model).classify(images))


def test_idx_errors_name_the_file(tmp_path, mnist_dir):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "none.gz")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="magic"):
        read_idx(tmp_path / "bad")
    raw = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "cut.gz").write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(DataError, match="bytes"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "notgz.gz").write_bytes(b"plain")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "notgz.gz")
    with pytest.raises(DataError, match="no t10k-images"):
        load_idx_dataset(tmp_path, "test")
