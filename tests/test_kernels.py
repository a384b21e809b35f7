"""The C engine's kernels: pruning of LUTs that reach no output, the specialised kernel's build/load contract,
`lutrun compile`, and the C engine cross-compiled for the boards' ARM cores, run under qemu-user against golden
values from the numpy reference."""
from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool, run_cli
from golden import QEMU, area_image, cross_build, run_golden, write_case

import lutrun
from lutrun.bits import empty_rows
from lutrun.codegen import (LUTS_PER_FUNCTION, TARGETS, best_input_orders, compile_kernel, expand_table,
                            generate_sources, kernel_for, load_kernel, lut_expression, prebuilt_name, schedule)
from lutrun.datasets import load_idx_dataset
from lutrun.engines import create_engine
from lutrun import native
from lutrun.errors import BackendUnavailableError, InputShapeError
from lutrun.model import METHODS, Modulation, random_model
from lutrun.stream.sources import builtin_dataset_dir



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


def test_a_model_with_dead_luts_evaluates_its_live_luts_only():
    model = lutrun.resolve_model("mnist-local-3200")  # 263 of its LUTs reach no vote
    assert model.live_luts() == model.pruned().n_luts == 2937 < model.n_luts == 3200
    assert model.summary()["live_luts"] == 2937


def evaluate_expression(code: str, inputs: list[int]) -> int:
    """The value of a generated LUT expression, one bit per sample, with the template's T3 and MUX."""
    def t3(imm, c, b, a):
        return sum(((imm >> ((c >> s & 1) << 2 | (b >> s & 1) << 1 | (a >> s & 1))) & 1) << s for s in range(64))

    def mux(a, b, s):
        return (a & ~s) | (b & s)

    names = {f"x{m}": v for m, v in enumerate(inputs)}
    return eval(code, {"T3": t3, "MUX": mux, "z": 0, **names}) & (2**64 - 1)  # noqa: S307 (our own generated C)


@pytest.mark.parametrize("k", range(1, 7))
def test_each_lut_in_its_cheapest_input_order_computes_its_table(k, rng):
    """Any table, in the input order the search picks, a random one, or its own: the expression is the table
    (64 samples: every input combination)."""
    columns = [sum(((j >> m) & 1) << j for j in range(64)) for m in range(6)]  # sample j: input m = bit m of j
    tables = [int(t) for t in rng.integers(0, 2**63, 40, dtype=np.uint64)] + [0, 2**64 - 1, 0xAAAAAAAAAAAAAAAA]
    tables = [t & ((1 << (1 << k)) - 1) for t in tables]
    expanded = np.array([expand_table(t, k) for t in tables], np.uint64)
    for table, order in zip(tables, best_input_orders(expanded)):
        for chosen in (order, rng.permutation(6), None):
            code = lut_expression(table, k, chosen)
            inputs = [columns[m] for m in range(k)] + [columns[0]] * (6 - k)  # inputs k..5 repeat input 0
            x = inputs if chosen is None else [inputs[i] for i in chosen]
            expected = sum(((table >> (sum(((j >> m) & 1) << m for m in range(k)))) & 1) << j for j in range(64))
            assert evaluate_expression(code, x) == expected, (k, hex(table), chosen, code)


def test_the_input_order_search_saves_a_tenth_of_the_default_models_operations():
    model = lutrun.load_model(lutrun.DEFAULT_MODEL).pruned()
    tables = np.array([expand_table(int(t), 6) for layer in model.layers for t in layer.tables], np.uint64)
    ops = [sum(lut_expression(int(t), 6, o).count("(") for t, o in zip(tables, orders))
           for orders in (best_input_orders(tables), [None] * len(tables))]
    assert ops[0] < 0.9 * ops[1], ops


@pytest.mark.parametrize("widths", [(7,), (40, 9), (60, 30, 12), (50, 40, 30, 20, 6)])
def test_the_schedule_runs_every_lut_once_after_its_inputs_and_keeps_the_ping_pong_buffers_valid(widths, rng,
                                                                                                  tmp_path,
                                                                                                  monkeypatch):
    """The kernel interleaves the last layer with the one below (each of its LUTs right after its inputs):
    every LUT once, after its inputs, and no layer overwriting the buffer of layer l - 2 before layer l - 1
    has read all of it; then the kernel built from that order gives the reference's bits."""
    model = random_model((5, 5, 1), widths, fan_in=4, n_classes=3, seed=len(widths))
    steps = schedule(model)
    assert sorted(steps) == [(l, j) for l, w in enumerate(widths) for j in range(w)]
    position = {step: n for n, step in enumerate(steps)}
    for l in range(1, len(widths)):
        for j in range(widths[l]):
            assert all(position[(l - 1, int(i))] < position[(l, j)] for i in model.layers[l].inputs[j])
        if 2 <= l < len(widths) - 1:  # a hidden layer writes the buffer that layer l - 1 reads
            assert max(position[(l - 1, j)] for j in range(widths[l - 1])) < position[(l, 0)]
    interleaved = [l for l, _ in steps if l >= len(widths) - 2]
    assert len(widths) == 1 or interleaved != sorted(interleaved)
    monkeypatch.setenv("LUTRUN_CACHE", str(tmp_path))
    special, reference = create_engine("cpu", model, specialise=True), create_engine("numpy", model)
    bits = rng.integers(0, 2, (1100, 25), dtype=np.uint8)
    np.testing.assert_array_equal(special.run_bits(bits), reference.run_bits(bits))


@pytest.mark.parametrize("samples", [1728, 3904, 4160])
def test_the_specialised_kernel_runs_its_functions_over_blocks_of_tiles_exactly(samples, rng, tmp_path, monkeypatch):
    """Each generated function runs over LR_BLOCK_TILES tiles before the next: 27 words (a block, then a tile
    alone, then a tail of words), 61 words (rows far apart: four tiles staged, then three) and 65 (eight tiles
    and one word), with more LUTs than one function holds."""
    model = random_model((6, 6, 1), (200, 120, 30), fan_in=6, n_classes=3, seed=samples)
    assert model.pruned().n_luts > LUTS_PER_FUNCTION
    monkeypatch.setenv("LUTRUN_CACHE", str(tmp_path))
    special, reference = create_engine("cpu", model, specialise=True), create_engine("numpy", model)
    bits = rng.integers(0, 2, (samples, 36), dtype=np.uint8)
    np.testing.assert_array_equal(special.run_bits(bits), reference.run_bits(bits))


def test_the_rows_the_engine_allocates_start_on_cache_lines(rng):
    """The kernel moves rows 64 bytes at a time: a row that straddles two lines costs it ~15 %."""
    for n_rows, words in ((1, 1), (7, 3), (784, 1024)):
        rows = empty_rows(n_rows, words)
        assert rows.shape == (n_rows, words) and rows.dtype == np.uint64 and rows.flags.c_contiguous
        assert rows.ctypes.data % 64 == 0 and rows.flags.writeable
    model = random_model((5, 5, 1), (40, 9), n_classes=3, seed=2)
    engine = create_engine("cpu", model)
    packed = engine.pack(rng.integers(0, 2, (700, 25), dtype=np.uint8))
    modulated = engine.modulate_packed(rng.integers(0, 256, (50, 5, 5), dtype=np.uint8))
    for array in (packed, modulated, engine.run_packed(packed)):
        assert array.ctypes.data % 64 == 0


@pytest.mark.parametrize("n_rows, words", [(-1, 4), (4, -1), (2.5, 4), ("3", 4), (None, 1), (True, 1)])
def test_empty_rows_refuses_sizes_that_are_not_counts(n_rows, words):
    with pytest.raises(InputShapeError, match="integers >= 0"):
        empty_rows(n_rows, words)


def _cpu_flags() -> set[str]:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    return next((set(line.partition(":")[2].split()) for line in lines if line.startswith("flags")), set())


def test_calls_of_up_to_16_samples_take_the_lut_parallel_path_where_the_cpu_has_its_instructions():
    needs = {"avx512f", "avx512bw", "avx512vl", "avx512vbmi", "avx512_bitalg", "gfni"}
    expected = "avx512-bitalg" if platform.machine() == "x86_64" and needs <= _cpu_flags() else ""
    assert native.lanes_name() == expected


@pytest.mark.parametrize("k", range(1, 7))
def test_the_lut_parallel_path_gives_the_references_scores_for_every_fan_in_and_sample_count(k, rng):
    """Eight LUTs a vector for calls of up to 16 samples: widths that leave partial groups (and a layer
    narrower than one group), every F up to 16, every batch that fits 16 samples and the first that does not."""
    frames = rng.integers(0, 256, (20, 6, 5), dtype=np.uint8)
    for f in (1, 2, 3, 7, 8, 9, 15, 16):
        model = random_model((6, 5, 1), (29, 13, 6), fan_in=k, n_classes=3, seed=10 * k + f,
                             modulation=Modulation(METHODS[f % len(METHODS)], f, seed=f))
        cpu, reference = create_engine("cpu", model), create_engine("numpy", model)
        for n in range(1, 16 // f + 2):
            np.testing.assert_array_equal(cpu.classify(frames[:n], frame0=f), reference.classify(frames[:n], frame0=f))


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
    assert f'#define LRX_DIGEST "{a.net_digest()}"' in generate_sources(a)["lutnet_decl.h"]


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


def build(target: str, out: Path, kernel_model: lutrun.Model | None = None) -> Path:
    return cross_build(target, require_tool(TARGETS[target].compilers[0]), out, kernel_model)


def check_golden(target: str, binary: Path, case: Path) -> str:
    result = run_golden(require_tool(QEMU[target]), binary, str(case))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exact" in result.stdout and "neon" in result.stdout, result.stdout
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("target", ["armv7", "aarch64"])
def test_the_c_engine_cross_compiled_for_the_board_matches_the_reference_under_qemu(target, tmp_path):
    """The default model on the built-in MNIST frames (all three modulations), and random models of every
    fan-in with their specialised kernels, bit for bit: modulator rows, LUT outputs and scores; and the camera
    path's area mean as this machine's build computes it (itself checked against numpy in test_decode)."""
    generic = build(target, tmp_path / "golden")
    images = load_idx_dataset(builtin_dataset_dir(), "test", limit=120).images
    default = lutrun.load_model(lutrun.DEFAULT_MODEL)
    # F over 32 and over 64: patterns that a 32-bit core writes in several words; 37 frames end mid-word.
    for method, frames, count in (("thermometer", 15, 120), ("stochastic", 4, 120), ("sigma-delta", 4, 120),
                                  ("thermometer", 40, 37), ("sigma-delta", 70, 37)):
        case = tmp_path / f"default-{method}-{frames}.case"
        write_case(case, default.with_modulation(method=method, frames=frames), images[:count])
        check_golden(target, generic, case)
    rng = np.random.default_rng(5)
    for k in range(1, 7):
        method = METHODS[k % 3]
        model = random_model((6, 6, 1), (150, 40, 12), fan_in=k, n_classes=3, seed=10 + k,
                             modulation=Modulation(method=method, frames=[1, 3, 7][k % 3], seed=k))
        case = tmp_path / f"k{k}.case"
        write_case(case, model, rng.integers(0, 256, (37, 6, 6), dtype=np.uint8))
        check_golden(target, generic, case)
        special = build(target, tmp_path / f"k{k}" / "golden", kernel_model=model)
        assert "specialised" in check_golden(target, special, case)
    # The camera path's area mean (NEON's uint16 row sums; over 257 rows per output row in the last case).
    for rows, cols, step, out in ((480, 480, 2, (28, 28)), (132, 132, 1, (28, 28)), (121, 333, 3, (5, 7)),
                                  (600, 40, 1, (2, 3))):
        result = run_golden(require_tool(QEMU[target]), generic, "--area", *map(str, (rows, cols, step, *out, 1)))
        assert result.returncode == 0, result.stderr
        expected = np.empty(out, np.uint8)
        image = area_image(rows, cols, step)
        native.area_resize(image, expected, np.empty(native.area_scratch(cols), np.uint32))
        assert result.stdout.strip() == expected.tobytes().hex()
