"""RTL from a model: the overlay's Verilog, its co-simulation and its reports.

``export_rtl`` writes the Verilog (``lutrun export rtl``), ``lutrun.rtl.verilator``
builds it into a library driven from Python, ``lutrun.rtl.yosys`` reports its
resources, ``lutrun.rtl.vivado`` wraps it into a Vivado project for a board.
"""
from lutrun.rtl.design import OverlayLayout, export_rtl, overlay_layout

__all__ = ["OverlayLayout", "export_rtl", "overlay_layout"]
