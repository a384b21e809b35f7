"""Modulator, votes and the fused call: C equals numpy bit for bit; statistics mean what they say."""
from __future__ import annotations

import numpy as np
import pytest

from lutrun.bits import pack_bits, words_for
from lutrun.engines import create_engine
from lutrun.model import METHODS, Modulation, random_model
from lutrun.modulate import modulate
from lutrun.votes import Smoother, class_scores, margin, predict

from conftest import engines

FRAME_COUNTS = [1, 7, 15, 63, 64, 65, 100, 130]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("frames", FRAME_COUNTS)
@pytest.mark.parametrize("shape", [(5, 3, 1), (7, 9, 3)])
def test_c_modulator_equals_numpy(method, frames, shape, rng):
    model = random_model(shape, (5,), seed=1)
    mod = Modulation(method, frames, seed=int(rng.integers(0, 2**32)), range=(7, 240))
    _, cpu = engines(model, modulation=mod)
    batch = rng.integers(0, 256, (13, *shape), dtype=np.uint8)
    frame0 = int(rng.integers(0, 2**32))
    expected = pack_bits(modulate(batch.reshape(13, -1), mod, frame0))
    np.testing.assert_array_equal(cpu.modulate_packed(batch, frame0), expected)


def test_stochastic_mean_converges_to_pixel_value():
    values = np.arange(256, dtype=np.uint8)[None, :]
    bits = modulate(values, Modulation("stochastic", 4096, seed=5), frame0=3)
    error = np.abs(bits.mean(axis=0) - values[0] / 255.0)
    assert error.max() < 0.04  # 5 sigma of a binomial with F = 4096
    assert bits[:, 0].sum() == 0 and bits[:, 255].sum() == 4096


def test_stochastic_depends_on_frame_counter_and_seed():
    frame = np.full((1, 50), 128, np.uint8)
    a = modulate(frame, Modulation("stochastic", 16, seed=1), 0)
    assert not np.array_equal(a, modulate(frame, Modulation("stochastic", 16, seed=1), 1))
    assert not np.array_equal(a, modulate(frame, Modulation("stochastic", 16, seed=2), 0))
    np.testing.assert_array_equal(a, modulate(frame, Modulation("stochastic", 16, seed=1), 0))


@pytest.mark.parametrize("frames", [1, 4, 15, 32])
def test_thermometer_counts_and_sigma_delta_means(frames):
    values = np.arange(256, dtype=np.uint8)[None, :]
    x = values[0] / 255.0
    thermo = modulate(values, Modulation("thermometer", frames)).sum(axis=0)
    assert np.all(np.abs(thermo - np.floor(x * frames)) <= 1)
    assert thermo[0] == 0 and thermo[255] == frames
    sd = modulate(values, Modulation("sigma-delta", frames)).mean(axis=0)
    assert np.all(np.abs(sd - x) <= 1.0 / frames + 1e-12)


def test_thermometer_literal_bits():
    # x = 128/255 ~ 0.502 with F = 4: thresholds 0.125, 0.375, 0.625, 0.875 -> 1, 1, 0, 0
    bits = modulate(np.array([[128]], np.uint8), Modulation("thermometer", 4))
    assert bits[:, 0].tolist() == [1, 1, 0, 0]


def test_votes_literal_ties_and_no_vote():
    classes = np.array([0, 0, 1, -1, 2], np.int32)
    # two frames of F = 2 sub-frames each: rows are samples, columns outputs
    outputs = np.array([[1, 1, 1, 1, 0],
                        [0, 1, 1, 1, 1],
                        [0, 0, 1, 1, 1],
                        [0, 0, 1, 1, 1]], np.uint8)
    scores = class_scores(outputs, classes, 3, 2)
    assert scores.tolist() == [[3, 2, 1], [0, 2, 2]]
    assert predict(scores).tolist() == [0, 1]  # the tie 1 vs 2 goes to the lower class
    assert margin(scores).tolist() == [1, 0]
    model = random_model((1, 4, 1), (5,), n_classes=3, seed=0)
    model.output_classes = classes
    _, cpu = engines(model, modulation=Modulation(frames=2))
    np.testing.assert_array_equal(cpu.votes_packed(pack_bits(outputs), 2), scores)


@pytest.mark.parametrize("frames", [1, 15, 64, 100])
def test_c_votes_equal_numpy_on_random_outputs(frames, rng):
    model = random_model((1, 4, 1), (37,), n_classes=5, seed=2)
    model.output_classes = rng.integers(-1, 5, 37).astype(np.int32)
    _, cpu = engines(model, modulation=Modulation(frames=frames))
    outputs = rng.integers(0, 2, (9 * frames, 37), dtype=np.uint8)
    np.testing.assert_array_equal(cpu.votes_packed(pack_bits(outputs), 9), class_scores(outputs, model.output_classes, 5, frames))


def test_smoothing():
    window = Smoother("window", window=2)
    assert window.update([1, 0]).tolist() == [1, 0]
    assert window.update([0, 3]).tolist() == [1, 3]
    assert window.update([0, 3]).tolist() == [0, 6]
    ema = Smoother("exponential", alpha=0.5)
    ema.update([4, 0])
    assert ema.update([0, 4]).tolist() == [2, 2]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("frames", [1, 15, 64, 65])
def test_fused_call_equals_numpy_composition(method, frames, rng):
    model = random_model((9, 7, 1), (120, 40, 20), n_classes=4, seed=frames,
                         modulation=Modulation(method, frames, seed=9))
    reference, cpu = engines(model)
    batch = rng.integers(0, 256, (300, 9, 7, 1), dtype=np.uint8)
    expected = class_scores(reference.run_bits(modulate(batch.reshape(300, -1), model.modulation, 11)),
                            model.output_classes, 4, frames)
    np.testing.assert_array_equal(cpu.classify(batch, frame0=11), expected)
    np.testing.assert_array_equal(reference.classify(batch, frame0=11), expected)
    for i in (0, 1, 150, 299):  # single frames keep their stream position
        np.testing.assert_array_equal(cpu.classify(batch[i], frame0=11 + i)[0], expected[i])
    for n in (2, 4, 5, 64, 65):  # batches that fill one word (rows a word apart) and just more
        np.testing.assert_array_equal(cpu.classify(batch[:n], frame0=11), expected[:n])


def test_fused_call_threads_split_matches(rng):
    model = random_model((6, 6, 1), (64, 10), seed=3, modulation=Modulation("stochastic", 15))
    batch = rng.integers(0, 256, (1500, 6, 6), dtype=np.uint8)
    with create_engine("cpu", model, threads=2) as many:
        np.testing.assert_array_equal(many.classify(batch, 5), create_engine("cpu", model).classify(batch, 5))


def test_specialised_kernel_equals_reference(rng, tmp_path, monkeypatch):
    monkeypatch.setenv("LUTRUN_CACHE", str(tmp_path))
    model = random_model((8, 8, 1), (90, 31, 12), fan_in=(6, 4, 2), n_classes=3, seed=4,
                         modulation=Modulation("sigma-delta", 20))
    reference = create_engine("numpy", model)
    special = create_engine("cpu", model, specialise=True)
    assert special.describe()["specialised"]
    # Rows farther apart than a block of tiles (2,100 and 4,795 samples: 33 and 75 words) have their inputs
    # copied a block at a time: whole blocks, a last part-block and a tail of single words.
    for n in (1, 63, 64, 65, 600, 2100, 4795):
        bits = rng.integers(0, 2, (n, 64), dtype=np.uint8)
        np.testing.assert_array_equal(special.run_bits(bits), reference.run_bits(bits))
    with create_engine("cpu", model, specialise=True, threads=2) as split:  # ranges that start mid-row
        np.testing.assert_array_equal(split.run_bits(bits), reference.run_bits(bits))
    frames = rng.integers(0, 256, (250, 8, 8), dtype=np.uint8)
    np.testing.assert_array_equal(special.classify(frames), reference.classify(frames))
    for n in (1, 3, 4):  # F = 20: up to 3 frames in one word, the kernel's one-word path
        np.testing.assert_array_equal(special.classify(frames[:n], 7), reference.classify(frames[:n], 7))
    assert len(list((tmp_path / "kernels").glob("*.so"))) == 1  # cached, reused on the next build
    create_engine("cpu", model, specialise=True)
    assert len(list((tmp_path / "kernels").glob("*.so"))) == 1


def test_frames_shape_errors():
    from lutrun.errors import InputShapeError

    model = random_model((4, 4, 1), (8,), seed=0)
    for engine in engines(model):
        with pytest.raises(InputShapeError):
            engine.classify(np.zeros((2, 5, 4), np.uint8))
        with pytest.raises(InputShapeError):
            engine.classify(np.zeros((2, 4, 4), np.float32))
        assert engine.classify(np.zeros((4, 4), np.uint8)).shape == (1, 10)
    assert words_for(65) == 2


@pytest.mark.parametrize("method, frames", [("thermometer", 1), ("sigma-delta", 1), ("thermometer", 4),
                                           ("thermometer", 15), ("thermometer", 100), ("sigma-delta", 4),
                                           ("thermometer", 3), ("thermometer", 2), ("thermometer", 5),
                                           ("thermometer", 63), ("thermometer", 64)])
@pytest.mark.parametrize("value_range", [(0, 255), (40, 200), (0, 1), (254, 255)])
@pytest.mark.parametrize("shape, n_frames", [((20, 20, 1), 130), ((28, 28, 1), 64), ((3, 5, 1), 7), ((9, 9, 3), 200),
                                             ((5, 13, 1), 33), ((1, 1, 1), 70)])
def test_the_step_front_end_is_bit_exact(method, frames, value_range, shape, n_frames, rng):
    """Sub-frames whose bit is a step of the value (thermometer; sigma-delta at F = 1): the C modulator compares
    16 pixels at once and transposes 64 x 64 bit blocks into rows (64 pixels and a vector transpose, up to F = 4,
    with AVX-512 BW, VBMI and GFNI), or (thermometer, F <= 64, AVX-512 VBMI) looks up 64 pixels' bit counts at
    once and appends their patterns to 64 rows; the rest take the pattern path."""
    from lutrun.bits import pack_bits
    from lutrun.model import Modulation, random_model
    from lutrun.modulate import modulate

    modulation = Modulation(method=method, frames=frames, range=value_range)
    model = random_model(shape, (8, 3), n_classes=3, modulation=modulation)
    frames = rng.integers(0, 256, (n_frames, *shape), dtype=np.uint8)
    frames[:3] = np.array([0, 255, value_range[0]], np.uint8)[:, None, None, None]  # the edges of the step
    expected = pack_bits(modulate(frames.reshape(n_frames, -1), modulation, 0))
    got = create_engine("cpu", model).modulate_packed(frames)
    np.testing.assert_array_equal(got, expected)


def test_modulate_packed_into_a_reused_array_equals_a_fresh_one(rng):
    """The benchmark's stage timing reuses one array: old contents never leak, a wrong array is refused."""
    from lutrun.errors import InputShapeError

    model = random_model((7, 9, 1), (8, 3), n_classes=3, modulation=Modulation("thermometer", 15))
    engine = create_engine("cpu", model)
    frames = rng.integers(0, 256, (37, 7, 9), dtype=np.uint8)
    reused = np.full_like(engine.modulate_packed(frames), np.uint64(2**64 - 1))
    np.testing.assert_array_equal(engine.modulate_packed(frames, out=reused), engine.modulate_packed(frames))
    with pytest.raises(InputShapeError, match="out must be writable C-contiguous uint64"):
        engine.modulate_packed(frames, out=reused[:, :-1])
