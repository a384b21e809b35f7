"""The C engine outside Python, for the boards' ARM cores: tests/native/golden.c built static for a target
(native/ as the package compiles it, plus optionally a model's specialised kernel as lutrun.codegen builds it),
case files whose every expected value comes from the numpy reference, and instruction counts under
qemu-user's single-step mode.  Used by tests/test_kernels.py and apps/arm_instructions.py."""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np

import lutrun
from lutrun import native
from lutrun.bits import pack_bits
from lutrun.codegen import KERNEL_HEADER, TARGETS, compile_objects, kernel_flags
from lutrun.engines import create_engine
from lutrun.modulate import modulate

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "native"
QEMU = {"armv7": "qemu-arm-static", "aarch64": "qemu-aarch64-static"}  # Debian: qemu-user-static


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
    """native/build_ffi.py, whose source list and flags are what the package compiles."""
    spec = importlib.util.spec_from_file_location("lutrun_build_ffi", NATIVE / "build_ffi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cross_build(target: str, cc: str, out: Path, kernel_model: lutrun.Model | None = None) -> Path:
    """golden.c built static for ``target`` by ``cc`` into ``out``: native/ with the package's flags, and
    ``kernel_model``'s specialised kernel with lutrun.codegen's (its parts compiled in parallel)."""
    build = native_build()
    flags = [*TARGETS[target].flags, "-I", str(NATIVE), "-I", str(KERNEL_HEADER.parent)]
    out.parent.mkdir(parents=True, exist_ok=True)
    objects: list[str] = []
    if kernel_model is not None:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
        kernel = compile_objects(kernel_model, cc, kernel_flags(target, version), out.parent)
        objects = ["-DLR_GOLDEN_KERNEL", *map(str, kernel)]
    command = [cc, "-static", *build.CFLAGS, *flags,
               *(str(NATIVE / f) for f in build.SOURCES), str(ROOT / "tests" / "native" / "golden.c"), *objects,
               "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return out


def run_golden(qemu: str, binary: Path, *args: str) -> subprocess.CompletedProcess:
    """``binary ARGS`` (golden.c's command line) under ``qemu``."""
    return subprocess.run([qemu, str(binary), *args], capture_output=True, text=True, timeout=600)


def count_instructions(qemu: str, binary: Path, *args: str) -> int:
    """Instructions ``binary ARGS`` executes (``CASE --classify-only``: the fused call), one logged translation
    block per instruction under ``-singlestep``."""
    process = subprocess.Popen([qemu, "-singlestep", "-d", "exec,nochain", "-D", "/dev/stderr", str(binary), *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    count = sum(line.startswith(b"Trace") for line in process.stderr)
    if process.wait() != 0:
        raise RuntimeError(f"{binary} {' '.join(args)} failed under {qemu}")
    return count


def area_image(rows: int, cols: int, step: int) -> np.ndarray:
    """The image of ``golden --area``: byte b of row r is (131 r + 71 b + (r ^ b)) mod 256, every step-th byte."""
    r, b = np.arange(rows)[:, None], np.arange(cols * step)[None, :]
    return ((131 * r + 71 * b + (r ^ b)) % 256).astype(np.uint8)[:, ::step]
