"""The C engine's kernels: pruning of LUTs that reach no output, the specialised kernel's build/load contract,
`lutrun compile`, and the C engine cross-compiled for the boards' ARM cores, run under qemu-user against golden
values from the numpy reference."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, require_tool, run_cli

import lutrun
from lutrun import native
from lutrun.bits import pack_bits
from lutrun.codegen import TARGETS, compile_kernel, generate_body, kernel_for, load_kernel, prebuilt_name
from lutrun.datasets import load_idx_dataset
from lutrun.engines import create_engine
from lutrun.errors import BackendUnavailableError
from lutrun.model import METHODS, Modulation, random_model
from lutrun.modulate import modulate
from lutrun.stream.sources import builtin_dataset_dir

NATIVE = ROOT / "native"
CODEGEN = ROOT / "runtime" / "lutrun" / "codegen"
QEMU = {"armv7": "qemu-arm-static", "aarch64": "qemu-aarch64-static"}  # Debian: qemu-user-static


@pytest.mark.parametrize("k", range(1, 7))
def test_pruning_removes_dead_luts_and_never_changes_an_output_bit(k, rng):
    model = random_model((5, 5, 1), (120, 40, 9), fan_in=k, n_classes=3, seed=k)
    pruned = model.pruned()
    assert pruned.n_luts < model.n_luts and pruned.layers[-1].width == model.n_outputs
    assert pruned.n_luts == sum(int(m.sum()) for m in model.live_masks(votes_only=False))
    bits = rng.integers(0, 2, (300, model.n_inputs), dtype=np.uint8)
    reference = create_engine("numpy", model)
    np.testing.assert_array_equal(create_engine("numpy", pruned).run_bits(bits), reference.run_bits(bits))
    frames = rng.integers(0, 256, (70, 5, 5), dtype=np.uint8)
    expected = reference.classify(frames)
    for specialise in (False, True):
        engine = create_engine("cpu", model, specialise=specialise)
        np.testing.assert_array_equal(engine.run_bits(bits), reference.run_bits(bits))
        np.testing.assert_array_equal(engine.classify(frames), expected)


def test_the_default_model_evaluates_its_live_luts_only():
    model = lutrun.load_model(lutrun.DEFAULT_MODEL)
    assert model.live_luts() == model.pruned().n_luts == 2937 < model.n_luts == 3200
    assert model.summary()["live_luts"] == 2937


def test_a_kernel_names_its_network_and_refuses_another(tmp_path):
    a = random_model((4, 4, 1), (30, 6), fan_in=3, n_classes=2, seed=1)
    b = random_model((4, 4, 1), (30, 6), fan_in=3, n_classes=2, seed=2)
    path = compile_kernel(a, "native", tmp_path)
    assert load_kernel(path, a).address and load_kernel(path, a.with_modulation(frames=3)).address
    with pytest.raises(BackendUnavailableError, match=f"built for network {a.net_digest()[:16]}"):
        load_kernel(path, b)
    (tmp_path / "junk.so").write_bytes(b"\x7fELF not really")
    with pytest.raises(BackendUnavailableError, match="not a kernel library"):
        load_kernel(tmp_path / "junk.so", a)
    assert f'#define LRX_DIGEST "{a.net_digest()}"' in generate_body(a)


def test_a_prebuilt_kernel_in_the_cache_is_used_on_its_target(tmp_path, monkeypatch):
    """`lutrun compile --target T` output copied into a board's cache is what the engine there loads."""
    import lutrun.codegen as codegen

    monkeypatch.setenv("LUTRUN_CACHE", str(tmp_path / "cache"))
    model = random_model((4, 4, 1), (40, 8), fan_in=4, n_classes=4, seed=3)
    # Stand-in for an aarch64 board: this machine's own library, named as the board's prebuilt kernel.
    built = compile_kernel(model, "native", tmp_path)
    monkeypatch.setattr(codegen, "machine_target", lambda: "aarch64")
    prebuilt = codegen.cache_dir() / prebuilt_name(model, "aarch64")
    prebuilt.parent.mkdir(parents=True)
    shutil.copy(built, prebuilt)
    assert kernel_for(model).path == prebuilt
    frames = np.random.default_rng(0).integers(0, 256, (40, 4, 4), dtype=np.uint8)
    np.testing.assert_array_equal(create_engine("cpu", model, specialise=True).classify(frames),
                                  create_engine("numpy", model).classify(frames))


def test_lutrun_compile_reports_json_and_rejects_unknown_targets(tmp_path):
    model = lutrun.save_model(random_model((4, 4, 1), (20, 5), n_classes=5, seed=4), tmp_path / "m.lutnet")
    result = run_cli("compile", str(model), "--out", str(tmp_path / "kernels"))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert Path(answer["kernel"]).is_file() and answer["target"] == "native" and answer["luts"] == 25
    result = run_cli("compile", str(model), "--target", "riscv")
    assert result.returncode == 2 and "'riscv' is not one of" in result.stderr


# -- the boards' ARM cores, under qemu-user -----------------------------------------------------------


def write_case(path: Path, model: lutrun.Model, frames: np.ndarray) -> None:
    """The golden case tests/native/golden.c reads, every expected value from the numpy reference."""
    m, reference = model.modulation, create_engine("numpy", model)
    rows = frames.reshape(len(frames), -1)
    bits = modulate(rows, m, 0)
    head = [model.n_inputs, len(model.layers), model.n_classes, native.METHOD_CODES[m.method], m.frames, m.range[0],
            m.range[1], m.seed]
    parts = [b"LRGC", np.array(head, "<i4").tobytes(), np.array(model.widths, "<i4").tobytes(),
             np.array([layer.fan_in for layer in model.layers], "<i4").tobytes(),
             *(np.ascontiguousarray(layer.inputs, "<i4").tobytes() for layer in model.layers),
             *(np.ascontiguousarray(layer.tables, "<u8").tobytes() for layer in model.layers),
             np.ascontiguousarray(model.output_classes, "<i4").tobytes(), np.array([len(rows)], "<i8").tobytes(),
             np.ascontiguousarray(rows, np.uint8).tobytes(), pack_bits(bits).astype("<u8").tobytes(),
             pack_bits(reference.run_bits(bits)).astype("<u8").tobytes(),
             reference.classify(frames).astype("<i4").tobytes()]
    path.write_bytes(b"".join(parts))


def native_build():
    """native/build_ffi.py, whose source list is what the package compiles."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lutrun_build_ffi", NATIVE / "build_ffi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cross_build(target: str, out: Path, kernel_model: lutrun.Model | None = None) -> Path:
    """A static harness for ``target``: native/ as the package builds it, plus a model's specialised kernel."""
    spec = TARGETS[target]
    cc = require_tool(spec.compilers[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = [str(NATIVE / f) for f in native_build().SOURCES]
    command = [cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Wno-psabi", *spec.flags, "-I", str(NATIVE), "-I",
               str(CODEGEN), *sources, str(ROOT / "tests" / "native" / "golden.c"), "-o", str(out)]
    if kernel_model is not None:
        (out.parent / "lutnet_body.h").write_text(generate_body(kernel_model))
        command[1:1] = ["-DLR_GOLDEN_KERNEL", "-I", str(out.parent)]
        command.insert(-2, str(CODEGEN / "specialised_kernel.c"))
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def run_golden(target: str, binary: Path, case: Path) -> str:
    result = subprocess.run([require_tool(QEMU[target]), str(binary), str(case)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exact" in result.stdout and "neon" in result.stdout, result.stdout
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("target", ["armv7", "aarch64"])
def test_the_c_engine_cross_compiled_for_the_board_matches_the_reference_under_qemu(target, tmp_path):
    """The default model on the built-in MNIST frames (all three modulations), and random models of every
    fan-in with their specialised kernels, bit for bit: modulator rows, LUT outputs and scores."""
    generic = cross_build(target, tmp_path / "golden")
    images = load_idx_dataset(builtin_dataset_dir(), "test", limit=120).images
    default = lutrun.load_model(lutrun.DEFAULT_MODEL)
    for method, frames in (("thermometer", 15), ("stochastic", 4), ("sigma-delta", 4)):
        case = tmp_path / f"default-{method}.case"
        write_case(case, default.with_modulation(method=method, frames=frames), images)
        run_golden(target, generic, case)
    rng = np.random.default_rng(5)
    for k in range(1, 7):
        method = METHODS[k % 3]
        model = random_model((6, 6, 1), (150, 40, 12), fan_in=k, n_classes=3, seed=10 + k,
                             modulation=Modulation(method=method, frames=[1, 3, 7][k % 3], seed=k))
        case = tmp_path / f"k{k}.case"
        write_case(case, model, rng.integers(0, 256, (37, 6, 6), dtype=np.uint8))
        run_golden(target, generic, case)
        special = cross_build(target, tmp_path / f"k{k}" / "golden", kernel_model=model)
        assert "specialised" in run_golden(target, special, case)
