"""``lutrun export`` and ``lutrun report``: the model as RTL, as a Vivado project, and as resources."""
from __future__ import annotations

from typing import Any

import click

from lutrun.cli.common import OutputDir, emit, model_for, model_input, with_options

_stages_option = click.option("--stages-every", default=1, type=click.IntRange(1),
                              help="A register stage after every N LUT layers (and always after the last).")
_beat_option = click.option("--pixels-per-beat", default="8", type=click.Choice(["1", "2", "4", "8"]),
                            help="uint8 pixels per AXI4-Stream beat (8 = a 64-bit stream).")
_rtl_options = [
    _stages_option, _beat_option,
    click.option("--temporal-shift", type=click.IntRange(0, 16),
                 help="EMA shift of temporal mode [default: ceil(log2 F) - 1]."),
]

_with_rtl_options = with_options(_rtl_options)


def _rtl_kwargs(stages_every: int, pixels_per_beat: str, temporal_shift: int | None) -> dict[str, Any]:
    return {"stages_every": stages_every, "pixels_per_beat": int(pixels_per_beat), "temporal_shift": temporal_shift}


@click.group("export")
def export_group() -> None:
    """Write a model out for hardware: RTL, or a Vivado project for a board."""


@export_group.command("rtl")
@model_input
@click.option("--out", required=True, type=OutputDir(), help="Directory for the Verilog and manifest.json.")
@_with_rtl_options
def export_rtl_cmd(model: str | None, out: str, **options: Any) -> None:
    """Verilog of MODEL (default: the shipped model): lutnet_core, the AXI4-Stream top, manifest.json."""
    from lutrun.rtl import export_rtl

    layout = export_rtl(model_for(model), out, **_rtl_kwargs(**options))
    emit({"out": out, **layout.to_json()})


@export_group.command("overlay")
@model_input
@click.option("--board", default="pynq-z2", type=click.Choice(["pynq-z2", "zcu104", "kv260"]))
@click.option("--out", required=True, type=OutputDir(), help="Directory for rtl/, build.tcl, Makefile.")
@click.option("--clock-mhz", default=200.0, type=click.FloatRange(10, 500), help="Fabric clock.")
@_with_rtl_options
def export_overlay_cmd(model: str | None, board: str, out: str, clock_mhz: float, **options: Any) -> None:
    """A Vivado project for MODEL on BOARD: `make` in OUT builds lutnet.bit and lutnet.hwh (needs Vivado)."""
    from lutrun.rtl.vivado import export_overlay

    layout = export_overlay(model_for(model), out, board, clock_mhz, **_rtl_kwargs(**options))
    emit({"out": out, "board": board, "clock_mhz": clock_mhz, "build": f"make -C {out}", **layout.to_json()})


@click.group("report")
def report_group() -> None:
    """Reports on generated hardware."""


@report_group.command("rtl")
@model_input
@click.option("--clock-mhz", default=200.0, type=click.FloatRange(1, 1000), help="Clock for the frames/s figures.")
@click.option("--core-only", is_flag=True, help="Synthesize lutnet_core only (seconds, not a minute).")
@_stages_option
@_beat_option
def report_rtl_cmd(model: str | None, clock_mhz: float, core_only: bool, stages_every: int,
                   pixels_per_beat: str) -> None:
    """Yosys synth_xilinx of MODEL's core and top: LUT/FF/carry counts, xc7z020 share, logic levels, frames/s."""
    from lutrun.rtl.yosys import report_rtl

    emit(report_rtl(model_for(model), clock_mhz, stages_every, int(pixels_per_beat), top=not core_only))


@click.command("compile")
@model_input
@click.option("--target", default="native", type=click.Choice(["native", "armv7", "aarch64"]),
              help="native: this machine (-march=native); armv7: a Zynq-7000's Cortex-A9 (PYNQ-Z2); aarch64: a "
                   "ZynqMP's Cortex-A53 (ZCU104, KV260), cross-compiled.")
@click.option("--out", type=OutputDir(), help="Folder for the library; copy it into the board's kernel cache "
              "(~/.cache/lutrun/kernels) [default: this machine's kernel cache].")
def compile_cmd(model: str | None, target: str, out: str | None) -> None:
    """Compile MODEL's specialised C kernel for TARGET, so that a board does not spend minutes in gcc at start-up."""
    import time
    from pathlib import Path

    from lutrun.codegen import compile_kernel

    lutnet = model_for(model)
    started = time.monotonic()
    path = compile_kernel(lutnet, target, Path(out) if out else None)
    emit({"kernel": str(path), "target": target, "net_digest": lutnet.net_digest()[:16],
          "evaluated_luts": lutnet.pruned().n_luts, "luts": lutnet.n_luts,
          "seconds": round(time.monotonic() - started, 2)})
