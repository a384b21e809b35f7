"""The generated RTL: lint-clean, the core's port contract (Icarus), refusals, manifest, Vivado project."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lutrun.engines import create_engine
from lutrun.errors import ConfigError
from lutrun.rtl.boards import BOARDS, CORE_NAME, CORE_VLNV, DMA_NAME, LENGTH_WIDTH
from lutrun.model import Modulation, random_model
from lutrun.resources import DEFAULT_MODEL, resolve_model
from lutrun.rtl import export_rtl, overlay_layout
from lutrun.rtl.design import SIM_FILES, SYNTH_FILES
from lutrun.rtl.netlist import register_after
from lutrun.rtl.vivado import export_overlay

from conftest import run_cli

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="Verilator is not installed")
needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")


def _lint(rtl: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "lutnet_axis",
                           *(str(rtl / f) for f in SIM_FILES)], capture_output=True, text=True)


@needs_verilator
@pytest.mark.parametrize("case", [
    dict(shape=(28, 28, 1), widths=(40, 20, 10), fan_in=6, classes=10, method="thermometer", frames=15, ppb=8, every=1,
         range=(7, 240)),
    dict(shape=(4, 4, 3), widths=(9, 7, 5), fan_in=(1, 6, 2), classes=3, method="sigma-delta", frames=64, ppb=2, every=2,
         range=(7, 240)),
    dict(shape=(2, 3, 1), widths=(9, 5), fan_in=4, classes=3, method="sigma-delta", frames=15, ppb=8, every=1,
         range=(0, 255)),
    dict(shape=(1, 1, 1), widths=(1,), fan_in=1, classes=1, method="thermometer", frames=1, ppb=1, every=1,
         range=(0, 255)),
    dict(shape=(3, 5, 1), widths=(8, 8, 8, 4), fan_in=3, classes=2, method="thermometer", frames=300, ppb=4, every=3,
         range=(0, 1)),
])
def test_every_generated_file_is_verilator_lint_clean(case, tmp_path):
    model = random_model(case["shape"], case["widths"], fan_in=case["fan_in"], n_classes=case["classes"], seed=3,
                         modulation=Modulation(case["method"], case["frames"], 1, case["range"]))
    export_rtl(model, tmp_path, stages_every=case["every"], pixels_per_beat=case["ppb"])
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stderr


@needs_verilator
def test_default_model_rtl_is_lint_clean(tmp_path):
    export_rtl(resolve_model(None), tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stderr


def test_core_instantiates_one_lut6_per_lut_with_its_table(tmp_path):
    model = random_model((3, 3, 1), (6, 4), fan_in=(2, 6), n_classes=2, seed=9)
    export_rtl(model, tmp_path)
    core = (tmp_path / "lutnet_core.v").read_text()
    assert core.count("LUT6 #(.INIT(") == model.n_luts
    table = int(model.layers[1].tables[2])
    inputs = model.layers[1].inputs[2]
    assert (f"LUT6 #(.INIT(64'h{table:016x})) l1_2 (.O(d1[2]), " + ", ".join(
        f".I{m}(q0[{int(i)}])" for m, i in enumerate(inputs)) + ");") in core
    first = model.layers[0]
    assert f".I1(in_bits[{int(first.inputs[0, 1])}]), .I2(1'b0)" in core  # unused pins tied low
    assert "module lutnet_core #(" in core and "input wire [N_INPUTS-1:0] in_bits," in core


def _core_testbench(n_in: int, n_out: int, cycles: int) -> str:
    return f"""`timescale 1ns/1ps
module tb;
    reg clk = 0, rst = 1, ce = 0, in_valid = 0;
    reg [{n_in - 1}:0] in_bits = 0;
    wire out_valid;
    wire [{n_out - 1}:0] out_bits;
    lutnet_core dut(.clk(clk), .rst(rst), .ce(ce), .in_valid(in_valid), .in_bits(in_bits),
                    .out_valid(out_valid), .out_bits(out_bits));
    reg [{n_in - 1}:0] vec [0:{cycles - 1}];
    reg [2:0] ctl [0:{cycles - 1}];
    integer t, fd;
    initial begin
        $readmemb("vec.txt", vec);
        $readmemb("ctl.txt", ctl);
        fd = $fopen("out.txt", "w");
        for (t = 0; t < {cycles}; t = t + 1) begin
            {{rst, ce, in_valid}} = ctl[t];
            in_bits = vec[t];
            #1 clk = 1;
            #1 clk = 0;
            $fwrite(fd, "%b %b\\n", out_valid, out_bits);
        end
        $fclose(fd);
        $finish;
    end
endmodule
"""


@needs_iverilog
@pytest.mark.parametrize("every", [1, 2, 3])
def test_core_port_contract_in_icarus(every, tmp_path):
    """One sub-frame per enabled clock; nothing moves while ce is low; out follows in after latency enabled
    clocks; a synchronous reset drops what is in flight.  Outputs equal the numpy reference."""
    model = random_model((3, 4, 1), (11, 9, 7, 5), fan_in=(6, 2, 4, 1), n_classes=3, seed=every)
    layout = export_rtl(model, tmp_path, stages_every=every)
    latency = layout.latency_cycles
    assert latency == sum(register_after(4, every))
    rng = np.random.default_rng(every)
    cycles = 400
    bits = rng.integers(0, 2, (cycles, model.n_inputs), dtype=np.uint8)
    rst = np.zeros(cycles, bool)
    rst[:2] = rst[200] = True
    ce = rng.random(cycles) < 0.7
    valid = rng.random(cycles) < 0.8
    (tmp_path / "vec.txt").write_text("\n".join("".join(map(str, row[::-1])) for row in bits) + "\n")
    (tmp_path / "ctl.txt").write_text("\n".join(f"{int(r)}{int(c)}{int(v)}" for r, c, v in zip(rst, ce, valid)) + "\n")
    (tmp_path / "tb.v").write_text(_core_testbench(model.n_inputs, model.n_outputs, cycles))
    subprocess.run(["iverilog", "-o", "sim", "tb.v", "lutnet_core.v", "lut6_sim.v"], cwd=tmp_path, check=True)
    subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, check=True, capture_output=True)
    lines = (tmp_path / "out.txt").read_text().split()
    out_valid = np.array([int(v) for v in lines[0::2]], bool)
    out_bits = [s for s in lines[1::2]]
    # The contract, modelled: a shift register of `latency` (valid, sample) stages, enabled by ce.
    expected = create_engine("numpy", model).run_bits(bits)
    pipe: list[tuple[bool, int]] = [(False, -1)] * latency
    checked = 0
    for t in range(cycles):
        if rst[t]:
            pipe = [(False, -1)] * latency
        elif ce[t]:
            pipe = [(bool(valid[t]), t)] + pipe[:-1]
        want_valid, sample = pipe[-1]
        assert out_valid[t] == want_valid, f"clock {t}"
        if want_valid:
            got = np.array([int(c) for c in out_bits[t][::-1]], np.uint8)
            np.testing.assert_array_equal(got, expected[sample], err_msg=f"clock {t}, sample {sample}")
            checked += 1
    assert checked > 150


def test_stochastic_modulation_is_refused_at_export_with_the_reason(tmp_path):
    model = random_model((4, 4, 1), (8, 4), n_classes=2, modulation=Modulation("stochastic", 8, 5, (0, 255)))
    with pytest.raises(ConfigError, match="stochastic.*multiplications"):
        export_rtl(model, tmp_path)
    assert not (tmp_path / "lutnet_core.v").exists()


def test_bad_rtl_options_and_output_paths_get_one_clear_error(tmp_path):
    model = random_model((2, 2, 1), (4,), n_classes=2)
    with pytest.raises(ConfigError, match="pixels per beat"):
        export_rtl(model, tmp_path, pixels_per_beat=3)
    with pytest.raises(ConfigError, match="stages-every"):
        export_rtl(model, tmp_path, stages_every=0)
    with pytest.raises(ConfigError, match="temporal shift"):
        export_rtl(model, tmp_path, temporal_shift=17)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot create the output directory"):
        export_rtl(model, blocker / "rtl")
    (tmp_path / "taken" / "lutnet_core.v").mkdir(parents=True)  # a directory where a file must go
    with pytest.raises(ConfigError, match="cannot write .*lutnet_core.v"):
        export_rtl(model, tmp_path / "taken")
    wide = random_model((2, 2, 1), (4, 1 << 16), n_classes=1, modulation=Modulation("thermometer", 4096, 0, (0, 255)))
    with pytest.raises(ConfigError, match="scores need"):
        overlay_layout(wide, temporal_shift=16)


def test_manifest_states_geometry_timing_and_tools(tmp_path):
    model = resolve_model(None)
    layout = export_rtl(model, tmp_path, stages_every=2)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["digest"] == model.digest()
    assert manifest["latency_cycles"] == (len(model.layers) + 1) // 2 and manifest["stages_every"] == 2
    assert manifest["n_pixels"] == 784 and manifest["pixels_per_beat"] == 8 and manifest["beats"] == 98
    assert manifest["score_width"] == layout.score_width and layout.score_width >= (15 * model.n_outputs // 10).bit_length()
    assert manifest["modulation"] == model.modulation.to_json()
    assert manifest["tdata_width"] == {"in": 64, "out": 32}
    assert set(manifest["files"]["synthesis"]) == set(SYNTH_FILES)
    assert "verilator" in manifest["tools"] and "yosys" in manifest["tools"]
    # 1 M frames/s at 200 MHz is 200 clocks a frame: the input stream bounds it at 98.
    assert layout.cycles_per_frame == 98 and layout.frames_per_second(200e6) > 2_000_000


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_vivado_project_names_what_the_driver_binds_to(board, tmp_path):
    layout = export_overlay(resolve_model(None), tmp_path, board, clock_mhz=187.5)
    tcl = (tmp_path / "build.tcl").read_text()
    spec = BOARDS[board]
    assert f"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 {DMA_NAME}" in tcl
    assert f"create_bd_cell -type module -reference lutnet_axis {CORE_NAME}" in tcl
    assert CORE_VLNV == "xilinx.com:module_ref:lutnet_axis:1.0"  # what a module reference is called in the .hwh
    assert f"CONFIG.c_sg_length_width {{{LENGTH_WIDTH}}}" in tcl and "CONFIG.c_include_sg {0}" in tcl
    assert f"CONFIG.c_m_axis_mm2s_tdata_width {{{layout.tdata_width}}}" in tcl
    assert f"0x{spec.dma_address:08X}" in tcl and f"0x{spec.core_address:08X}" in tcl
    assert f"set part {spec.part}" in tcl and "{187.5}" in tcl
    assert "lutnet.hwh" in tcl and "lutnet.bit" in tcl and "{{" not in tcl
    for name in SYNTH_FILES:
        assert (tmp_path / "rtl" / name).exists() and f"$here/rtl/{name}" in tcl
    assert "lut6_sim.v" not in tcl  # Vivado has the real LUT6
    if shutil.which("make"):  # (the emulated board roots have no make)
        make = subprocess.run(["make", "-C", str(tmp_path), "VIVADO=no-such-vivado"], capture_output=True, text=True)
        assert make.returncode != 0 and "vivado is not on PATH" in make.stderr


def test_export_cli_writes_rtl_and_overlay_and_refuses_bad_input(tmp_path):
    result = run_cli("export", "rtl", str(DEFAULT_MODEL), "--out", str(tmp_path / "rtl"), "--stages-every", "3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["latency_cycles"] == 1
    result = run_cli("export", "overlay", "--board", "zcu104", "--out", str(tmp_path / "ov"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ov" / "build.tcl").exists() and (tmp_path / "ov" / "rtl" / "lutnet_axis.v").exists()
    bad = run_cli("export", "rtl", "--out", str(tmp_path / "x"), "--pixels-per-beat", "3")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    (tmp_path / "f").write_text("")
    bad = run_cli("export", "rtl", "--out", str(tmp_path / "f" / "sub"))  # checked before any work
    assert bad.returncode == 2 and "is a file, so" in bad.stderr
    assert "Traceback" not in bad.stderr
