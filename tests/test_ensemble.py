"""Side-by-side ensembles: the merged model's votes are exactly the sum of its parts' votes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lutrun.datasets import load_dataset, load_idx_dataset
from lutrun.engines import create_engine
from lutrun.ensemble import ensemble
from lutrun.errors import ConfigError
from lutrun.model import Modulation, random_model
from lutrun.modelfile import load_model, save_model
from lutrun.resources import resolve_model
from lutrun.votes import predict
from conftest import digit_folders, engines, run_cli

STOCHASTIC = Modulation("stochastic", 7, 3, (0, 255))


def parts(modulation: Modulation = STOCHASTIC):
    """Three random models of different widths that stack layer by layer."""
    return [random_model((8, 8, 1), widths, (6, 3, 5), 4, seed, modulation)
            for seed, widths in enumerate([(40, 20, 8), (17, 9, 12), (64, 5, 4)])]


@pytest.mark.parametrize("engine_index", [0, 1], ids=["numpy", "cpu"])
def test_votes_are_the_sum_of_the_parts(rng, tmp_path, engine_index):
    models = parts()
    merged = load_model(save_model(ensemble(models), tmp_path / "merged.lutnet"))
    assert merged.n_luts == sum(m.n_luts for m in models)
    assert merged.widths == [121, 34, 24]
    frames = rng.integers(0, 256, size=(300, 8, 8, 1), dtype=np.uint8)
    expected = sum(engines(m)[engine_index].classify(frames, frame0=11) for m in models)
    assert np.array_equal(engines(merged)[engine_index].classify(frames, frame0=11), expected)


def test_provenance_names_every_part():
    models = parts()
    info = ensemble(models, "trio").info
    assert info["name"] == "trio"
    assert [p["digest"] for p in info["ensemble_of"]] == [m.digest() for m in models]
    assert [p["luts"] for p in info["ensemble_of"]] == [68, 38, 73]


def test_default_model_twice_predicts_as_the_default(mnist_dir):
    """On real frames: doubling every vote changes no prediction."""
    default = resolve_model(None)
    test = load_idx_dataset(mnist_dir, "test", 2000)
    with create_engine("cpu", default) as one, create_engine("cpu", ensemble([default, default])) as two:
        single, double = one.classify(test.images), two.classify(test.images)
    assert np.array_equal(double, 2 * single)
    assert np.array_equal(predict(double), predict(single))


@pytest.mark.parametrize("change, message", [
    (lambda m: random_model((8, 8, 2), (40, 20, 8), (6, 3, 5), 4, 9, STOCHASTIC), "input shape"),
    (lambda m: random_model((8, 8, 1), (40, 20, 8), (6, 3, 5), 5, 9, STOCHASTIC), "classes"),
    (lambda m: m.with_modulation(frames=8), "modulation"),
    (lambda m: random_model((8, 8, 1), (40, 8), (6, 5), 4, 9, STOCHASTIC), "2 layers vs 3"),
    (lambda m: random_model((8, 8, 1), (40, 20, 8), (6, 4, 5), 4, 9, STOCHASTIC), "layer 1 has 4-input LUTs vs 3"),
])
def test_parts_that_do_not_stack_are_refused(change, message):
    first = parts()[0]
    with pytest.raises(ConfigError, match=message):
        ensemble([first, change(first)])


def test_one_model_is_not_an_ensemble():
    with pytest.raises(ConfigError, match="at least two"):
        ensemble(parts()[:1])


def test_cli_merges_and_measures(tmp_path, mnist_dir):
    default = resolve_model(None)
    paths = [save_model(default, tmp_path / f"{i}.lutnet") for i in range(2)]
    out = tmp_path / "merged.lutnet"
    result = run_cli("ensemble", *map(str, paths), "--out", str(out), "--data", str(mnist_dir), "--validation", "1000")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["luts"] == 2 * default.n_luts
    accuracy = load_model(out).info["accuracy"]
    assert accuracy["test"] == pytest.approx(default.info["accuracy"]["test"], abs=1e-9)
    assert 0.9 < accuracy["validation"] <= 1.0


def test_cli_measures_on_an_image_folder_by_class_name(tmp_path):
    """Class folders without a "0": folder k must be scored as the digit model's class k, not index k - 1."""
    labels = digit_folders(tmp_path / "digits")
    default = resolve_model(None)
    paths = [save_model(default, tmp_path / f"{i}.lutnet") for i in range(2)]
    out = tmp_path / "merged.lutnet"
    result = run_cli("ensemble", *map(str, paths), "--out", str(out), "--data", str(tmp_path / "digits"),
                     "--validation", "50")
    assert result.returncode == 0, result.stderr
    accuracy = load_model(out).info["accuracy"]
    folder = load_dataset(tmp_path / "digits", "test", None, default.input_shape).relabelled(default.class_names)
    assert len(folder.labels) == int(np.count_nonzero(labels))
    with create_engine("cpu", default) as engine:
        expected = float(np.mean(predict(engine.classify(folder.images)) == folder.labels))
    assert accuracy["test"] == pytest.approx(expected, abs=1e-9) and expected > 0.9
    assert 0.8 < accuracy["validation"] <= 1.0


def test_cli_mismatch_is_a_one_line_error(tmp_path):
    a = save_model(parts()[0], tmp_path / "a.lutnet")
    b = save_model(parts(Modulation("thermometer", 7, 3, (0, 255)))[1], tmp_path / "b.lutnet")
    result = run_cli("ensemble", str(a), str(b), "--out", str(tmp_path / "c.lutnet"))
    assert result.returncode != 0
    assert "model 2 does not match model 1: modulation" in result.stderr
    assert not (tmp_path / "c.lutnet").exists()
