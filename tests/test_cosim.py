"""Co-simulation: the generated overlay under Verilator, driven through its AXI ports, equals the C engine.

Every test streams frames through ``lutnet_axis`` (AXI4-Stream in and out, AXI4-Lite registers) and
compares the score beats with ``CpuEngine`` bit for bit.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from lutrun.datasets import load_idx_dataset
from lutrun.engines import create_engine
from lutrun.model import Modulation, random_model
from lutrun.resources import resolve_model
from lutrun.rtl.design import MAGIC, Reg, pack_frames
from lutrun.rtl.verilator import RtlSimulator
from lutrun.stream.sources import builtin_dataset_dir
from lutrun.temporal import Temporal
from lutrun.zoo import DEFAULT_NAME, names

pytestmark = pytest.mark.skipif(shutil.which("verilator") is None, reason="Verilator is not installed")

CASES = {  # fan-in, widths, F, method, pixels per beat, stages every, input shape, range
    "k1-one-layer-F1": ((1,), (6,), 1, "thermometer", 1, 1, (3, 3, 1), (0, 255)),
    "k2-two-layers-sd15": ((2, 2), (20, 9), 15, "sigma-delta", 2, 1, (4, 5, 1), (0, 255)),
    "k3-three-layers-F64": ((3, 3, 3), (30, 20, 12), 64, "thermometer", 4, 2, (5, 5, 1), (10, 250)),
    "k4-four-layers": ((4, 4, 4, 4), (24, 16, 12, 8), 15, "thermometer", 8, 3, (6, 6, 1), (0, 255)),
    "k5-sd64": ((5, 5), (25, 15), 64, "sigma-delta", 8, 1, (5, 5, 1), (3, 200)),
    "k6-sd1": ((6, 6, 6), (30, 20, 10), 1, "sigma-delta", 4, 2, (5, 5, 1), (0, 255)),
    "mixed-colour": ((6, 1, 3, 2), (40, 20, 15, 9), 15, "thermometer", 8, 1, (4, 4, 3), (20, 230)),
    "byte-thresholds-F300": ((6, 4), (20, 9), 300, "thermometer", 8, 1, (3, 4, 1), (0, 255)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    fan_in, widths, frames, method, ppb, every, shape, value_range = CASES[request.param]
    model = random_model(shape, widths, fan_in=fan_in, n_classes=3, seed=len(request.param),
                         modulation=Modulation(method, frames, 7, value_range))
    return model, RtlSimulator.for_model(model, pixels_per_beat=ppb, stages_every=every)


def _frames(model, n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, model.n_inputs), dtype=np.uint8)


def test_random_models_equal_c_engine_back_to_back_and_under_backpressure(case):
    model, sim = case
    rows = _frames(model, 150, 1)
    expected = create_engine("cpu", model).classify(rows.reshape(-1, *model.input_shape), frame0=5)
    got, stats = sim.classify(rows, frame0=5)
    np.testing.assert_array_equal(got, expected)
    assert stats.frames_out == 150
    # One frame into an idle overlay: its last beat to its first score beat takes the stated latency.
    single = sim.stream(pack_frames(rows[:1], sim.layout.frame_bytes))
    sim.take()
    assert single.latency_min == single.latency_max == sim.layout.frame_latency_cycles
    for p_valid, p_ready, seed in ((0.3, 1.0, 11), (1.0, 0.2, 12), (0.6, 0.5, 13)):
        got, _ = sim.classify(rows, frame0=5, p_valid=p_valid, p_ready=p_ready, seed=seed)
        np.testing.assert_array_equal(got, expected, err_msg=f"p_valid={p_valid} p_ready={p_ready}")


def test_random_models_temporal_mode_equals_c_engine_across_calls_and_counter_wrap(case):
    model, sim = case
    rows = _frames(model, 120, 2)
    engine = create_engine("cpu", model, temporal=Temporal.for_frames(model.modulation.frames))
    frame0 = 2**32 - 50  # the frame counter wraps inside the stream
    expected = np.concatenate([engine.classify(rows[:70].reshape(-1, *model.input_shape), frame0),
                               engine.classify(rows[70:].reshape(-1, *model.input_shape), frame0 + 70)])
    sim.clear_temporal()
    first, _ = sim.classify(rows[:70], frame0=frame0, temporal=True, p_ready=0.7, seed=3)
    second, _ = sim.classify(rows[70:], frame0=(frame0 + 70) % 2**32, temporal=True)
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)


def test_default_model_on_mnist_frames_with_backpressure_and_its_throughput():
    model = resolve_model(None)
    sim = RtlSimulator.for_model(model)
    images = load_idx_dataset(builtin_dataset_dir(), "test").images[:600]
    rows = images.reshape(len(images), -1)
    cpu = create_engine("cpu", model)
    expected = cpu.classify(images, frame0=100)
    got, stats = sim.classify(rows, frame0=100)
    np.testing.assert_array_equal(got, expected)
    # Full rate, output always ready: the input stream (98 beats) is the bound; nothing else stalls it.
    per_frame = stats.cycles / 600
    assert per_frame < sim.layout.cycles_per_frame + 0.5, per_frame
    assert 200e6 / per_frame >= 1_000_000
    # Thermometer F = 15: 3 clocks to pre-code, buffer and modulate, 15 sub-frames, a register stage per layer,
    # 1 popcount, 1 to the score bank.
    assert stats.latency_min == sim.layout.frame_latency_cycles == 3 + 15 + len(model.layers) + 2
    got, _ = sim.classify(rows[:200], frame0=100, p_valid=0.7, p_ready=0.3, seed=21)
    np.testing.assert_array_equal(got, expected[:200])
    temporal = create_engine("cpu", model, temporal=Temporal.for_frames(15))
    sim.clear_temporal()
    got, _ = sim.classify(rows[:300], frame0=77, temporal=True)
    np.testing.assert_array_equal(got, temporal.classify(images[:300], frame0=77))


@pytest.mark.parametrize("name", [name for name in names() if name != DEFAULT_NAME])
def test_the_small_zoo_models_on_mnist_frames(name):
    model = resolve_model(name)
    images = load_idx_dataset(builtin_dataset_dir(), "test").images[:300]
    got, _ = RtlSimulator.for_model(model).classify(images.reshape(len(images), -1), frame0=9)
    np.testing.assert_array_equal(got, create_engine("cpu", model).classify(images, frame0=9))


def test_registers_describe_the_overlay_and_batch_sets_tlast(case):
    model, sim = case
    lay = sim.layout
    assert sim.read(Reg.MAGIC) == MAGIC
    assert sim.read(Reg.PIXELS) == model.n_inputs
    assert sim.read(Reg.SHAPE) == (model.n_classes << 16 | model.modulation.frames)
    assert sim.read(Reg.LAYOUT) == (lay.pixels_per_beat << 24 | {"thermometer": 0, "sigma-delta": 2}[lay.method] << 16
                                    | lay.temporal_shift << 8 | lay.latency_cycles)
    assert sim.read(Reg.DIGEST) == int(model.digest()[:8], 16)
    done = sim.read(Reg.DONE)
    sim.write(Reg.BATCH, 3)
    sim.write(Reg.CTRL, 0)
    sim.stream(pack_frames(_frames(model, 7, 3), lay.frame_bytes))
    data, last = sim.take()
    assert data.size == 7 * model.n_classes
    ends = np.flatnonzero(last)
    assert list(ends) == [3 * model.n_classes - 1, 6 * model.n_classes - 1]  # after frames 3 and 6; frame 7 open
    assert sim.read(Reg.DONE) == done + 7
    sim.write(Reg.BATCH, 1)
    sim.reset()  # the open packet is dropped with the reset


def test_early_tlast_drops_the_partial_frame_and_is_counted():
    model = random_model((4, 4, 1), (12, 6), fan_in=4, n_classes=3, seed=5)
    sim = RtlSimulator.for_model(model, pixels_per_beat=4)
    rows = _frames(model, 4, 4)
    stream = pack_frames(rows, sim.layout.frame_bytes)
    beats = stream.size // 4
    cut = np.concatenate([stream[0], stream[1, :8], stream[2], stream[3]])  # frame 1 ends after 2 of 4 beats
    tlast = np.zeros(beats - 2, np.uint8)
    tlast[[3, 5, 9, 13]] = 1  # TLAST on every (true or cut) frame end
    sim.write(Reg.COUNTER, 0)
    sim.stream(cut, tlast)
    data, _ = sim.take()
    expected = create_engine("cpu", model).classify(rows[[0, 2, 3]].reshape(-1, 4, 4, 1))
    # Frames 0, 2, 3 survive; frame counter positions 0, 1, 2 (the dropped frame never entered the modulator).
    np.testing.assert_array_equal(data.view(np.int32).reshape(3, 3)[0], expected[0])
    assert sim.read(Reg.ERROR) == 1
    sim.write(Reg.ERROR, 0)
    assert sim.read(Reg.ERROR) == 0


def test_reset_in_the_middle_of_a_stream_starts_clean():
    model = random_model((5, 5, 1), (20, 10), fan_in=5, n_classes=2, seed=8,
                         modulation=Modulation("sigma-delta", 15, 0, (0, 255)))
    sim = RtlSimulator.for_model(model)
    rows = _frames(model, 10, 5)
    stream = pack_frames(rows, sim.layout.frame_bytes)
    sim.write(Reg.BATCH, 4)
    sim.write(Reg.CTRL, 1)
    # Two and a half frames in, then reset with scores still in flight.
    half = np.concatenate([stream[0], stream[1], stream[2, :16]])
    sim.stream(half, np.zeros(half.size // 8, np.uint8), p_ready=0.0)
    sim.reset()
    sim.take()  # whatever left before the reset
    assert (sim.read(Reg.CTRL), sim.read(Reg.DONE), sim.read(Reg.BATCH), sim.read(Reg.COUNTER)) == (0, 0, 1, 0)
    got, _ = sim.classify(rows, frame0=0)
    np.testing.assert_array_equal(got, create_engine("cpu", model).classify(rows.reshape(-1, 5, 5, 1)))
