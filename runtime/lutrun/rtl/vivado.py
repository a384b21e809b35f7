"""A Vivado project for a board around a model's RTL (``lutrun export overlay``).

Writes ``rtl/`` (``export_rtl``), ``build.tcl`` (batch: block design, synthesis,
implementation, bitstream, and the ``.hwh`` copied beside the ``.bit``) and a
``Makefile`` that runs it when ``vivado`` is on PATH.  Nothing here needs
Vivado; running the script does.  Names and addresses are the ones
``lutrun.fpga.hwh`` describes and the driver binds to.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from lutrun.errors import ConfigError
from lutrun.rtl.boards import BOARDS, CORE_NAME, DMA_NAME, Board
from lutrun.model import Model
from lutrun.rtl.design import SYNTH_FILES, OverlayLayout, export_rtl, fill_template, write_files

_ZYNQ_SETUP = """apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \\
    -config {make_external "FIXED_IO, DDR" apply_board_preset "1"} $ps
set_property -dict [list CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {CLOCK} CONFIG.PCW_USE_S_AXI_HP0 {1} \\
    CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {64}] $ps"""
_ZYNQMP_SETUP = """apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e \\
    -config {apply_board_preset "1"} $ps
set_property -dict [list CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {CLOCK} CONFIG.PSU__USE__S_AXI_GP2 {1} \\
    CONFIG.PSU__SAXIGP2__DATA_WIDTH {64} CONFIG.PSU__USE__M_AXI_GP0 {1} CONFIG.PSU__USE__M_AXI_GP1 {0}] $ps"""


def board(name: str) -> Board:
    if name not in BOARDS:
        raise ConfigError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]


def _template(name: str) -> str:
    return resources.files("lutrun.overlays").joinpath("vivado").joinpath(name).read_text()


def export_overlay(model: Model, out_dir: str | os.PathLike[str], board_name: str = "pynq-z2",
                   clock_mhz: float = 200.0, **rtl_options: Any) -> OverlayLayout:
    """Write the Vivado project for ``model`` on ``board_name`` into ``out_dir``; returns the RTL's layout."""
    from lutrun import __version__

    target = board(board_name)
    if not 10 <= clock_mhz <= 500:
        raise ConfigError(f"clock must be 10..500 MHz, got {clock_mhz}")
    out = Path(out_dir)
    layout = export_rtl(model, out / "rtl", **rtl_options)
    setup = (_ZYNQ_SETUP if target.arch == "zynq" else _ZYNQMP_SETUP).replace("{CLOCK}", "{" + f"{clock_mhz:g}" + "}")
    values = {
        "VERSION": __version__, "DIGEST": layout.digest, "BOARD": target.name, "PART": target.part,
        "BOARD_PART": target.board_part, "PS": target.ps, "PS_VLNV": target.ps_vlnv, "PS_MASTER": target.ps_master,
        "PS_HP": target.ps_hp, "PS_CLOCK": target.ps_clock, "PS_SETUP": setup, "TDATA_W": layout.tdata_width,
        "DMA_ADDRESS": f"0x{target.dma_address:08X}", "CORE_ADDRESS": f"0x{target.core_address:08X}",
        "RTL_FILES": " ".join(f"$here/rtl/{name}" for name in SYNTH_FILES), "JOBS": 4,
        "VIVADO_HINT": "written for Vivado 2022.1 or later; not run by lutrun's CI", "DMA": DMA_NAME, "CORE": CORE_NAME,
    }
    write_files(out, {"build.tcl": fill_template(_template("build.tcl.in"), values),
                      "Makefile": fill_template(_template("Makefile.in"), values)})
    return layout
