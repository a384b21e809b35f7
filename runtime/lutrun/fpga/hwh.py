"""The block design's hardware handoff (.hwh), as Vivado writes it for overlays/vivado/build.tcl.

A board gets the real file from Vivado.  Without Vivado, the simulated device
needs the same description so that ``pynq.Overlay`` parses it, binds the real
AXI DMA driver and lutrun's driver by VLNV, and hands out the same addresses.
Names, VLNVs, parameters and addresses here are the Tcl script's; a test holds
the two to each other.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from lutrun.rtl.boards import CORE_NAME, CORE_VLNV, DMA_NAME, DMA_VLNV, LENGTH_WIDTH, REGION, Board
from lutrun.rtl.design import OverlayLayout

AXIMM = "xilinx.com:interface:aximm:1.0"
AXIS = "xilinx.com:interface:axis:1.0"


def _sub(parent: ET.Element, tag: str, **attrs: object) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})


def _ps_clock_parameters(board: Board, clock_hz: int) -> dict[str, object]:
    """The PS's fabric clock settings: clock 0 at ``clock_hz`` from a 1 GHz PLL, the others off."""
    params: dict[str, object] = {}
    divisor = max(1, round(1e9 / clock_hz))
    for i in range(4):
        on = int(i == 0)
        if board.arch == "zynq":
            params.update({f"PCW_FPGA_FCLK{i}_ENABLE": on, f"PCW_FCLK{i}_PERIPHERAL_DIVISOR0": divisor if on else 1,
                           f"PCW_FCLK{i}_PERIPHERAL_DIVISOR1": 1, f"PCW_FCLK{i}_PERIPHERAL_CLKSRC": "IO PLL",
                           f"PCW_ACT_FPGA{i}_PERIPHERAL_FREQMHZ": f"{1e3 / divisor if on else 10:.6f}"})
        else:
            params.update({f"PSU__FPGA_PL{i}_ENABLE": on, f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR0": divisor if on else 1,
                           f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR1": 1, f"PSU__CRL_APB__PL{i}_REF_CTRL__SRCSEL": "IOPLL",
                           f"PSU__CRL_APB__PL{i}_REF_CTRL__ACT_FREQMHZ": f"{1e3 / divisor if on else 10:.6f}"})
    return params


def _module(modules: ET.Element, name: str, vlnv: str, params: dict[str, object]) -> ET.Element:
    modtype = vlnv.split(":")[2]
    module = _sub(modules, "MODULE", FULLNAME=f"/{name}", INSTANCE=name, IPTYPE="PERIPHERAL", IS_ENABLE=1,
                  MODCLASS="PERIPHERAL", MODTYPE=modtype, VLNV=vlnv, HWVERSION=vlnv.split(":")[3])
    plist = _sub(module, "PARAMETERS")
    for key, value in params.items():  # Vivado writes each parameter twice: C_NAME and c_name
        _sub(plist, "PARAMETER", NAME=key, VALUE=value)
        _sub(plist, "PARAMETER", NAME=key.lower(), VALUE=value)
    _sub(module, "PORTS")
    _sub(module, "BUSINTERFACES")
    return module


def _port(module: ET.Element, name: str, direction: str, signal: str, peer: tuple[str, str],
          width: int = 1, sigis: str = "undef", **extra: object) -> None:
    attrs: dict[str, object] = {"DIR": direction, "NAME": name, "SIGIS": sigis, "SIGNAME": signal, **extra}
    if width > 1:
        attrs.update(LEFT=width - 1, RIGHT=0)
    port = _sub(module.find("PORTS"), "PORT", **attrs)
    _sub(_sub(port, "CONNECTIONS"), "CONNECTION", INSTANCE=peer[0], PORT=peer[1])


def _bus(module: ET.Element, name: str, kind: str, busname: str, vlnv: str, maps: dict[str, str],
         params: dict[str, object]) -> None:
    bus = _sub(module.find("BUSINTERFACES"), "BUSINTERFACE", BUSNAME=busname, NAME=name, TYPE=kind, VLNV=vlnv)
    for key, value in params.items():
        _sub(bus, "PARAMETER", NAME=key, VALUE=value)
    maps_el = _sub(bus, "PORTMAPS")
    for logical, physical in maps.items():
        _sub(maps_el, "PORTMAP", LOGICAL=logical, PHYSICAL=physical)


def _stream(dma: ET.Element, core: ET.Element, src: tuple[ET.Element, str, str], dst: tuple[ET.Element, str, str],
            width: int) -> None:
    """An AXI4-Stream link: ports and bus interfaces on both ends."""
    (src_mod, src_bus, src_prefix), (dst_mod, dst_bus, dst_prefix) = src, dst
    src_name, dst_name = src_mod.get("INSTANCE"), dst_mod.get("INSTANCE")
    busname = f"{src_name}_{src_bus}"
    for sig, w, driver in (("tdata", width, "src"), ("tvalid", 1, "src"), ("tready", 1, "dst"), ("tlast", 1, "src")):
        net = f"{src_name}_{src_prefix}_{sig}"
        _port(src_mod, f"{src_prefix}_{sig}", "O" if driver == "src" else "I", net, (dst_name, f"{dst_prefix}_{sig}"), w)
        _port(dst_mod, f"{dst_prefix}_{sig}", "I" if driver == "src" else "O", net, (src_name, f"{src_prefix}_{sig}"), w)
    params = {"TDATA_NUM_BYTES": width // 8, "HAS_TREADY": 1, "HAS_TLAST": 1, "HAS_TKEEP": 0, "HAS_TSTRB": 0}
    maps = {s.upper(): s for s in ("tdata", "tvalid", "tready", "tlast")}
    _bus(src_mod, src_bus, "INITIATOR", busname, AXIS, {k: f"{src_prefix}_{v}" for k, v in maps.items()}, params)
    _bus(dst_mod, dst_bus, "TARGET", busname, AXIS, {k: f"{dst_prefix}_{v}" for k, v in maps.items()}, params)


def block_design_hwh(layout: OverlayLayout, board: Board, clock_hz: int) -> str:
    """The .hwh of the block design that overlays/vivado/build.tcl.in builds for ``layout`` on ``board``."""
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="lutrun", VIVADOVERSION="2023.2")
    _sub(root, "SYSTEMINFO", ARCH=board.arch, DEVICE=board.part, NAME="lutnet", PACKAGE="", SPEEDGRADE="")
    _sub(root, "EXTERNALPORTS")
    _sub(root, "EXTERNALINTERFACES")
    modules = _sub(root, "MODULES")
    ps = _module(modules, board.ps, board.ps_vlnv, _ps_clock_parameters(board, clock_hz))
    ps.set("IS_PL", "FALSE")
    dma = _module(modules, DMA_NAME, DMA_VLNV, {
        "C_INCLUDE_SG": 0, "C_SG_LENGTH_WIDTH": LENGTH_WIDTH, "C_INCLUDE_MM2S": 1, "C_INCLUDE_S2MM": 1,
        "C_M_AXI_MM2S_DATA_WIDTH": 64, "C_M_AXI_S2MM_DATA_WIDTH": 64, "C_M_AXIS_MM2S_TDATA_WIDTH": layout.tdata_width,
        "C_S_AXIS_S2MM_TDATA_WIDTH": 32, "C_MICRO_DMA": 0, "C_INCLUDE_MM2S_DRE": 0, "C_INCLUDE_S2MM_DRE": 0,
        "C_MM2S_BURST_SIZE": 16, "C_S2MM_BURST_SIZE": 16, "C_BASEADDR": hex(board.dma_address),
        "C_HIGHADDR": hex(board.dma_address + REGION - 1)})
    core = _module(modules, CORE_NAME, CORE_VLNV, {
        "C_BASEADDR": hex(board.core_address), "C_HIGHADDR": hex(board.core_address + REGION - 1)})
    clock_net = f"{board.ps}_{board.ps_clock}"
    clock_users = []
    for module, lite, clock in ((dma, "S_AXI_LITE", "s_axi_lite_aclk"), (core, "s_axi", "aclk")):
        name = module.get("INSTANCE")
        _port(module, clock, "I", clock_net, (board.ps, board.ps_clock), sigis="clk", CLKFREQUENCY=clock_hz)
        clock_users.append((name, clock))
        prefix = "s_axi_lite" if module is dma else "s_axi"
        maps = {sig.upper(): f"{prefix}_{sig}" for sig in ("awaddr", "awvalid", "awready", "wdata", "wvalid", "wready",
                                                           "bresp", "bvalid", "bready", "araddr", "arvalid",
                                                           "arready", "rdata", "rresp", "rvalid", "rready")}
        # The PS's general-purpose master reaches each slave (Vivado puts an interconnect between).
        for logical, physical in maps.items():
            out = logical in ("AWREADY", "WREADY", "BRESP", "BVALID", "ARREADY", "RDATA", "RRESP", "RVALID")
            net, master_port = f"ps_{name}_{physical}", f"{board.ps_master}_{name}_{logical}"
            _port(module, physical, "O" if out else "I", net, (board.ps, master_port))
            _port(ps, master_port, "I" if out else "O", net, (name, physical))
        _bus(module, lite, "SLAVE", f"ps_{name}_axi", AXIMM, maps, {"PROTOCOL": "AXI4LITE", "DATA_WIDTH": 32})
    clock = _sub(ps.find("PORTS"), "PORT", DIR="O", NAME=board.ps_clock, SIGIS="clk", SIGNAME=clock_net,
                 CLKFREQUENCY=clock_hz)
    connections = _sub(clock, "CONNECTIONS")
    for name, port in clock_users:
        _sub(connections, "CONNECTION", INSTANCE=name, PORT=port)
    _stream(dma, core, (dma, "M_AXIS_MM2S", "m_axis_mm2s"), (core, "s_axis", "s_axis"), layout.tdata_width)
    _stream(dma, core, (core, "m_axis", "m_axis"), (dma, "S_AXIS_S2MM", "s_axis_s2mm"), 32)
    _bus(ps, board.ps_master, "MASTER", f"{board.ps}_{board.ps_master}", AXIMM, {}, {"PROTOCOL": "AXI4"})
    memory = _sub(ps, "MEMORYMAP")
    for name, base, bus in ((DMA_NAME, board.dma_address, "S_AXI_LITE"), (CORE_NAME, board.core_address, "s_axi")):
        _sub(memory, "MEMRANGE", ADDRESSBLOCK="Reg", BASENAME="C_BASEADDR", BASEVALUE=hex(base), HIGHNAME="C_HIGHADDR",
             HIGHVALUE=hex(base + REGION - 1), INSTANCE=name, IS_DATA="TRUE", IS_INSTRUCTION="TRUE",
             MASTERBUSINTERFACE=board.ps_master, MEMTYPE="REGISTER", SLAVEBUSINTERFACE=bus)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"
