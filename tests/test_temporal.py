"""Temporal mode: one sub-frame per frame, scores averaged over frames; numpy and C agree bit for bit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lutrun.datasets import load_idx_dataset
from lutrun.engines import create_engine
from lutrun.errors import ConfigError
from lutrun.model import Modulation, random_model
from lutrun.resources import resolve_model
from lutrun.stream import Pipeline
from lutrun.stream.sources import builtin_dataset_dir, open_source
from lutrun.study import temporal_accuracy
from lutrun.temporal import Temporal, default_shift, ema_update, phases

from conftest import run_cli


@pytest.mark.parametrize("method", ["thermometer", "stochastic", "sigma-delta"])
@pytest.mark.parametrize("frames", [1, 2, 15, 64, 100])
def test_c_engine_equals_reference_across_calls_and_the_counter_wrap(method, frames, rng):
    model = random_model((5, 5, 1), (30, 20, 12), fan_in=(6, 3, 2), n_classes=4, seed=frames,
                         modulation=Modulation(method, frames, 3, (5, 250)))
    temporal = Temporal.for_frames(frames)
    reference = create_engine("numpy", model, temporal=temporal)
    cpu = create_engine("cpu", model, temporal=temporal)
    x = rng.integers(0, 256, (300, 5, 5), dtype=np.uint8)
    start = 2**32 - 37
    want = np.concatenate([reference.classify(x[:100], start), reference.classify(x[100:], start + 100)])
    got = np.concatenate([cpu.classify(x[:151], start), cpu.classify(x[151:], start + 151)])
    np.testing.assert_array_equal(got, want)
    assert want.max() > 0


def test_each_frame_gets_its_own_sub_frame_and_the_average_is_the_stated_integer_rule():
    # One input, one LUT that copies it, one class: the vote of frame n is thermometer bit (n mod F) of its pixel.
    model = random_model((1, 1, 1), (1,), fan_in=1, n_classes=1, modulation=Modulation("thermometer", 4, 0, (0, 255)))
    model.layers[0].tables[...] = 0b10  # output = input
    engine = create_engine("numpy", model, temporal=Temporal(1))
    pixel = np.full((8, 1, 1), 128, np.uint8)  # thermometer bits of 128 at F = 4: 1, 1, 0, 0
    scores = engine.classify(pixel, frame0=2)[:, 0]  # sub-frames 2, 3, 0, 1, 2, 3, 0, 1
    votes = [0, 0, 1, 1, 0, 0, 1, 1]
    state, expected = 0, []
    for v in votes:
        state = state - (state >> 1) + v
        expected.append(state)
    assert scores.tolist() == expected
    np.testing.assert_array_equal(phases(2, 8, 4), [2, 3, 0, 1, 2, 3, 0, 1])
    engine.reset_temporal()
    np.testing.assert_array_equal(engine.classify(pixel, frame0=2)[:, 0], expected)


def test_ema_and_settings_validate():
    state = np.zeros(2, np.int64)
    out = ema_update(np.array([[4, 0], [4, 0], [0, 8]]), state, 2)
    assert out.tolist() == [[4, 0], [7, 0], [6, 8]] and state.tolist() == [6, 8]
    assert [default_shift(f) for f in (1, 2, 3, 15, 16, 17, 64)] == [0, 0, 1, 3, 3, 4, 5]
    for bad in (-1, 17, True, 2.0):
        with pytest.raises(ConfigError, match="temporal shift"):
            Temporal(bad)


def test_default_model_per_camera_frame_accuracy_builds_up_on_real_frames():
    model = resolve_model(None)
    data = load_idx_dataset(builtin_dataset_dir(), "test")
    with create_engine("cpu", model, temporal=Temporal.for_frames(15)) as engine:
        study = temporal_accuracy(engine, data.images[:400], data.labels[:400], hold=32)
    by_frame = study["by_frame"]
    assert by_frame[0] < 0.3  # the previous image still dominates the average
    assert study["after_warm_up"] > 0.93 and by_frame[-1] > 0.93
    with create_engine("numpy", model, temporal=Temporal.for_frames(15)) as reference:
        assert temporal_accuracy(reference, data.images[:40], data.labels[:40], hold=20)["by_frame"] == \
            temporal_accuracy(create_engine("cpu", model, temporal=Temporal.for_frames(15)),
                              data.images[:40], data.labels[:40], hold=20)["by_frame"]


def test_pipeline_refuses_several_streams_in_temporal_mode():
    engine = create_engine("cpu", resolve_model(None), temporal=Temporal(4))
    with pytest.raises(ConfigError, match="temporal"):
        Pipeline([open_source("builtin"), open_source("builtin")], engine)


def test_demo_and_eval_take_temporal_flags():
    # Each image held for 32 frames, as a camera sees a still digit; the stream is the one eval --temporal
    # builds, so the pipeline's accuracy over all frames is the mean of eval's accuracy per frame of a hold.
    result = run_cli("demo", "--temporal", "--source", "builtin?hold=32&loop=1&rate=0&limit=100", "--headless")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["engine"]["temporal"] == {"shift": 3} and summary["frames"] == 3200
    result = run_cli("eval", "--data", str(builtin_dataset_dir()), "--limit", "100", "--temporal", "--hold", "32")
    assert result.returncode == 0, result.stderr
    study = json.loads(result.stdout)
    assert study["temporal_shift"] == 3 and len(study["by_frame"]) == 32
    assert summary["accuracy"] == pytest.approx(np.mean(study["by_frame"]), abs=1e-6)
    assert study["after_warm_up"] > 0.9
