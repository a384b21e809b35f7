"""The boards an overlay is built for, and the names and addresses of its block design.

One statement of what the Vivado script creates, what the simulated ``.hwh``
describes and what the PYNQ driver binds to.
"""
from __future__ import annotations

from dataclasses import dataclass

DMA_NAME = "axi_dma_0"
CORE_NAME = "lutnet_0"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
CORE_VLNV = "xilinx.com:module_ref:lutnet_axis:1.0"
REGION = 0x1_0000
LENGTH_WIDTH = 26  # DMA buffer length register: 64 MiB per transfer (Vivado's default, 14, caps it at 16,383 bytes)


@dataclass(frozen=True)
class Board:
    """What the block design needs to know of a board."""

    name: str
    part: str
    board_part: str
    ps: str            # processing system IP
    ps_vlnv: str
    ps_master: str     # the PS's general-purpose AXI master
    ps_hp: str         # the PS's high-performance slave port for the DMA
    ps_clock: str      # its fabric clock output
    arch: str
    dma_address: int   # where the block design puts the DMA's and the core's registers
    core_address: int


BOARDS = {
    "pynq-z2": Board("pynq-z2", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", "processing_system7_0",
                     "xilinx.com:ip:processing_system7:5.5", "M_AXI_GP0", "S_AXI_HP0", "FCLK_CLK0", "zynq",
                     0x4040_0000, 0x43C0_0000),
    "zcu104": Board("zcu104", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1", "zynq_ultra_ps_e_0",
                    "xilinx.com:ip:zynq_ultra_ps_e:3.4", "M_AXI_HPM0_FPD", "S_AXI_HP0_FPD", "pl_clk0", "zynquplus",
                    0xA000_0000, 0xA001_0000),
    "kv260": Board("kv260", "xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.3", "zynq_ultra_ps_e_0",
                   "xilinx.com:ip:zynq_ultra_ps_e:3.4", "M_AXI_HPM0_FPD", "S_AXI_HP0_FPD", "pl_clk0", "zynquplus",
                    0xA000_0000, 0xA001_0000),
}
