"""The command line: JSON out, one-line errors with a non-zero exit code."""
from __future__ import annotations

import importlib.util
import json

import pytest

from lutrun import native

from conftest import run_cli


def test_info_default_model():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["luts"] <= 3200


def test_bench_engine_keys():
    result = run_cli("bench", "engine", "--layers", "64,10", "--samples", "4096", "--generic")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("lut_samples_per_s", "lut_samples_per_s_all_cores", "samples_per_s", "ns_per_lut_vector", "numpy_lut_samples_per_s"):
        assert out[key] > 0


def test_bench_fused_keys():
    result = run_cli("bench", "fused", "--count", "200", "--batch", "256", "--generic")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("single_frame_p50_us", "single_frame_p99_us", "batch_frames_per_s", "numpy_batch_frames_per_s"):
        assert out[key] > 0
    assert out["single_frame_path"] == (native.lanes_name() or "kernel")  # the default model's F = 15


@pytest.mark.parametrize("args, message", [
    (("info", "missing.lutnet"), "no such model file, and no zoo model of that name"),
    (("eval", "--data", "/nonexistent"), "not found"),
    (("train",), "no dataset"),
])
def test_errors_are_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_eval_and_frames_study(mnist_dir, tmp_path):
    result = run_cli("eval", "--data", str(mnist_dir), "--limit", "300")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["frames"] == 300 and out["accuracy"] > 0.9 and len(out["confusion"]) == 10
    plot = tmp_path / "study.png"
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    result = run_cli("eval", "--data", str(mnist_dir), "--limit", "200", "--frames", "1,15",
                     "--method", "thermometer,stochastic", *(["--plot", str(plot)] if has_matplotlib else []))
    assert result.returncode == 0, result.stderr
    study = json.loads(result.stdout)
    assert set(study["accuracy"]) == {"thermometer", "stochastic"}
    assert not has_matplotlib or plot.read_bytes()[:4] == b"\x89PNG"
