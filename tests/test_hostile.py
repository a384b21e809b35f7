"""Hostile inputs end in one clear error with bounded memory: datasets, labels, and the CLI on them."""
from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lutrun.datasets import load_idx_dataset, read_idx
from lutrun.engines import create_engine
from lutrun.errors import DataError
from lutrun.evaluate import evaluate
from lutrun.resources import resolve_model

from conftest import run_cli


def _idx(dtype_code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, dtype_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def _write_dataset(directory, images: np.ndarray, labels: np.ndarray, label_code: int = 0x08) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_idx(0x08, images.shape, images.astype(np.uint8).tobytes())))
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(_idx(label_code, labels.shape, labels.tobytes())))


def test_a_gzip_bomb_is_read_no_further_than_its_header_declares(tmp_path):
    """Header: 20 images of 28x28; then 1 GB of zeros (4.7 MB compressed). Refused under a 512 MB address space."""
    bomb = tmp_path / "t10k-images-idx3-ubyte.gz"
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(bomb, "wb") as f:
        f.write(packer.compress(_idx(0x08, (20, 28, 28), b"")))
        chunk = bytes(64 << 20)
        for _ in range(16):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
            "from lutrun.datasets import read_idx\n"
            "from lutrun.errors import DataError\n"
            f"try:\n    read_idx({str(bomb)!r})\nexcept DataError as e:\n    print(e)\n")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert "more than 15696 bytes, but its header (20, 28, 28) needs 15696" in result.stdout
    assert time.monotonic() - start < 20


def test_declared_sizes_are_bounded_and_cannot_overflow(tmp_path):
    huge = tmp_path / "huge"
    huge.write_bytes(_idx(0x08, (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), b"\0" * 16))
    with pytest.raises(DataError, match="over the .* byte limit"):
        read_idx(huge)
    with pytest.raises(DataError, match="not a regular file"):
        read_idx(tmp_path)


def test_negative_labels_are_refused_with_their_index(tmp_path):
    images = np.zeros((5, 28, 28), np.uint8)
    _write_dataset(tmp_path / "d", images, np.array([1, 2, -1, 3, 4], np.int8), label_code=0x09)
    with pytest.raises(DataError, match="label -1 at index 2 is not non-negative"):
        load_idx_dataset(tmp_path / "d")


def test_labels_outside_the_models_classes_are_refused_not_miscounted(tmp_path):
    model = resolve_model(None)
    images = np.zeros((4, 28, 28, 1), np.uint8)
    with pytest.raises(DataError, match="label 10 at index 3 is not in 0..9"):
        evaluate(create_engine("cpu", model), images, np.array([0, 1, 2, 10]))
    _write_dataset(tmp_path / "d", images[..., 0], np.array([0, 1, 200, 3], np.uint8))
    result = run_cli("eval", "--data", str(tmp_path / "d"))
    assert result.returncode == 1 and result.stderr.strip() == \
        "lutrun: error: evaluation: label 200 at index 2 is not in 0..9 (the model's classes)"


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null"])
def test_the_cli_refuses_a_device_as_a_model_at_once(target):
    start = time.monotonic()
    result = run_cli("info", target, timeout=30)
    assert result.returncode == 1 and "is not a regular file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and time.monotonic() - start < 10


def test_limits_can_be_raised_and_a_bad_setting_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTRUN_MAX_DATASET_BYTES", "100")
    big = tmp_path / "big"
    big.write_bytes(_idx(0x08, (2, 10, 10), bytes(200)))
    with pytest.raises(DataError, match="200 bytes, over the 100 byte limit"):
        read_idx(big)
    monkeypatch.setenv("LUTRUN_MAX_DATASET_BYTES", "1000")
    assert read_idx(big).shape == (2, 10, 10)
    result = run_cli("info", env={**os.environ, "LUTRUN_MAX_MODEL_BYTES": "lots"})
    assert result.returncode == 1 and result.stderr.strip() == \
        "lutrun: error: LUTRUN_MAX_MODEL_BYTES must be a positive number of bytes, got 'lots'"


@pytest.mark.parametrize("frame0", [float("nan"), 1.5, "3", True, None])
def test_a_frame_counter_must_be_an_integer(frame0):
    from lutrun.errors import ConfigError

    engine = create_engine("numpy", resolve_model(None))
    with pytest.raises(ConfigError, match="frame0 must be an integer"):
        engine.classify(np.zeros((1, 28, 28), np.uint8), frame0=frame0)


def test_classify_into_checks_what_it_writes_through():
    """Rows [4, 784] into scores [1, 10] used to corrupt the heap; wrong widths and dtypes passed silently."""
    from lutrun.errors import InputShapeError

    engine = create_engine("cpu", resolve_model(None))
    good_rows, good_scores = np.zeros((4, 784), np.uint8), np.zeros((4, 10), np.int32)
    for rows, scores in [(good_rows, np.zeros((1, 10), np.int32)), (np.zeros((4, 100), np.uint8), good_scores),
                         (good_rows.astype(np.float64), good_scores), (good_rows, good_scores.astype(np.int64)),
                         (np.zeros((784, 4), np.uint8).T, good_scores)]:
        with pytest.raises(InputShapeError):
            engine.classify_into(rows, scores)
    engine.classify_into(good_rows, good_scores)


def test_every_packed_level_call_checks_its_arrays():
    from lutrun.errors import InputShapeError

    engine = create_engine("cpu", resolve_model(None))
    words = np.zeros((784, 4), np.uint64)
    bad_calls = [lambda: engine.run_packed(words[:100]), lambda: engine.run_packed(words.astype(np.int64)),
                 lambda: engine.run_packed(words, out=np.zeros((1, 4), np.uint64)),
                 lambda: engine.run_packed(words, out=np.zeros((4, 1000), np.uint64).T),
                 lambda: engine.unpack(words, 4 * 64 + 1), lambda: engine.pack(np.zeros((3, 4), np.float32)),
                 lambda: engine.votes_packed(np.zeros((399, 4), np.uint64), 10),  # the model has 400 outputs
                 lambda: engine.votes_packed(np.zeros((400, 4), np.int64), 17),
                 lambda: engine.votes_packed(np.zeros((400, 4), np.uint64), 18)]  # 18 x F=15 > 256 samples
    for call in bad_calls:
        with pytest.raises(InputShapeError):
            call()
    assert engine.votes_packed(engine.run_packed(words), 17).shape == (17, 10)


def test_scores_that_would_overflow_int32_are_refused_not_wrapped():
    """600,000 outputs of one class at F = 4,096 owe it 2,457,600,000 votes: more than int32 holds."""
    from lutrun.errors import ConfigError
    from lutrun.model import Modulation, random_model

    model = random_model((2, 2, 1), (4, 600_000), fan_in=(4, 1), n_classes=1,
                         modulation=Modulation("thermometer", 4096, 0, (0, 255)))
    for name in ("numpy", "cpu"):
        with pytest.raises(ConfigError, match="scores could reach 2457600000"):
            create_engine(name, model)
    assert create_engine("cpu", model.with_modulation(frames=3000)).classify(
        np.full((1, 2, 2), 255, np.uint8))[0, 0] <= 2**31 - 1


def test_the_reference_engine_works_in_bounded_chunks():
    """200 frames at F = 4,096 used to take 12 GiB at once; under a 1.5 GB address space it now just runs."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
            "import numpy as np, lutrun\n"
            "from lutrun.model import random_model, Modulation\n"
            "m = random_model((28, 28, 1), (300, 100, 10), n_classes=10, modulation=Modulation('thermometer', 4096, 0, (0, 255)))\n"
            "x = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)\n"
            "a = lutrun.create_engine('numpy', m).classify(x)\n"
            "b = lutrun.create_engine('cpu', m).classify(x)\n"
            "print(bool((a == b).all()))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr[-2000:]


def test_random_model_sizes_are_bounded_before_allocating():
    result = run_cli("bench", "engine", "--layers", "100000000000")
    assert result.returncode == 1 and "1..16777216 LUTs" in result.stderr
    result = run_cli("bench", "engine", "--layers", "10000000,10000000,10000000")
    assert result.returncode == 1 and "give fewer --samples" in result.stderr


def test_a_damaged_kernel_in_the_cache_is_rebuilt(tmp_path, monkeypatch):
    from lutrun.codegen import compile_kernel
    from lutrun.model import random_model

    monkeypatch.setenv("LUTRUN_CACHE", str(tmp_path))
    model = random_model((3, 3, 1), (12, 5), n_classes=5, seed=11)
    path = compile_kernel(model)
    path.write_bytes(path.read_bytes()[:100])  # truncated, as a killed build or a full disk leaves it
    engine = create_engine("cpu", model, specialise=True)
    x = np.random.default_rng(0).integers(0, 256, (50, 3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(engine.classify(x), create_engine("numpy", model).classify(x))


def test_unwritable_and_misnamed_outputs_are_one_line(tmp_path):
    result = run_cli("demo", "--jsonl", "/dev/full", "--duration", "1", "--headless", timeout=60)
    assert result.returncode == 1 and "No space left on device" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("eval", "--data", "x", "--frames", "1", "--plot", str(tmp_path / "study.foo"))
    assert result.returncode == 2 and "must end in .png" in result.stderr
    result = run_cli("demo", "--record", str(tmp_path / "out.mkv"))
    assert result.returncode == 2 and "must end in .mp4, .avi" in result.stderr


# -- property-based: mutated files give the documented error or something exact, nothing else ----------------

def _small_model_bytes() -> bytes:
    import io
    import zipfile

    from lutrun.model import Modulation, random_model
    from lutrun.modelfile import save_model

    model = random_model((3, 3, 1), (8, 6), fan_in=(3, 2), n_classes=3, seed=5,
                         modulation=Modulation("sigma-delta", 5, 1, (0, 255)))
    buffer = io.BytesIO()
    path = __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "m.lutnet"
    save_model(model, path)
    # Stored rather than deflated, so that flipped bytes land in headers and arrays, not only in the CRC.
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return buffer.getvalue()


SMALL_MODEL = _small_model_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_model_files_load_exactly_or_fail_with_a_format_error(data):
    from lutrun.errors import LutrunError, ModelFormatError
    from lutrun.modelfile import load_model

    blob = bytearray(SMALL_MODEL)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete", "set"]))
        at = data.draw(st.integers(0, len(blob) - 1))
        if kind == "flip":
            blob[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "truncate":
            del blob[at:]
        elif kind == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del blob[at:at + data.draw(st.integers(1, 16))]
        else:
            blob[at] = data.draw(st.integers(0, 255))
        if not blob:
            break
    try:
        model = load_model(bytes(blob))
    except ModelFormatError:
        return
    try:  # a file that loads is a valid model: both engines must agree on it, bit for bit
        reference, cpu = create_engine("numpy", model), create_engine("cpu", model)
    except LutrunError:
        return
    frames = np.random.default_rng(0).integers(0, 256, (7, *model.input_shape), dtype=np.uint8)
    np.testing.assert_array_equal(cpu.classify(frames), reference.classify(frames))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_idx_files_read_exactly_or_fail_with_a_data_error(data, tmp_path_factory):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    raw = bytearray(_idx(0x08, images.shape, images.tobytes()))
    at = data.draw(st.integers(0, len(raw) - 1))
    kind = data.draw(st.sampled_from(["flip", "truncate", "grow", "gzip"]))
    if kind == "flip":
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        del raw[at:]
    elif kind == "grow":
        raw += data.draw(st.binary(min_size=1, max_size=64))
    path = tmp_path_factory.mktemp("idx") / ("f.gz" if kind == "gzip" else "f")
    path.write_bytes(gzip.compress(bytes(raw))[:at + 10] if kind == "gzip" else bytes(raw))
    try:
        array = read_idx(path)
    except DataError:
        return
    assert array.size * array.itemsize == len(raw) - 4 - 4 * raw[3]  # exactly what the header declares


def test_two_processes_building_the_same_kernel_both_end_with_a_working_one(tmp_path):
    code = ("import numpy as np, lutrun\n"
            "m = lutrun.random_model((3, 3, 1), (20, 6), n_classes=3, seed=21)\n"
            "x = np.random.default_rng(1).integers(0, 256, (40, 3, 3), dtype=np.uint8)\n"
            "a = lutrun.create_engine('cpu', m, specialise=True).classify(x)\n"
            "b = lutrun.create_engine('numpy', m).classify(x)\n"
            "print(bool((a == b).all()))\n")
    env = {**os.environ, "LUTRUN_CACHE": str(tmp_path)}
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env) for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0 and out.strip() == "True", err[-2000:]
    assert len(list((tmp_path / "kernels").glob("*.so"))) == 1  # one entry, no half-written leftovers


def test_a_model_declaring_gigabytes_is_refused_within_200_mb(tmp_path):
    """A 4 GB-declared model (zip64 sizes) is refused from its directory under a 200 MB address-space cap."""
    import zipfile

    path = tmp_path / "huge.lutnet"
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for i in range(3):
            info = zipfile.ZipInfo(f"layer{i}_tables.npy")
            zf.writestr(info, b"\0" * 16)
    data = bytearray(path.read_bytes())
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        data[start + 24:start + 28] = (1400 << 20).to_bytes(4, "little")  # 3 x 1.4 GB declared
        start += 4
    path.write_bytes(bytes(data))
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (200 << 20, 200 << 20))\n"
            "from lutrun.modelfile import load_model\n"
            "from lutrun.errors import ModelFormatError\n"
            f"try:\n    load_model({str(path)!r})\nexcept ModelFormatError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0 and "over the 1073741824 byte limit" in result.stdout, result.stderr[-1500:]
