"""lutrun's pynq driver for the ``lutnet_axis`` block, bound by its VLNV like any PYNQ IP driver."""
from __future__ import annotations

from typing import Any

from pynq import DefaultIP

from lutrun.errors import HardwareError
from lutrun.rtl.boards import CORE_VLNV
from lutrun.rtl.design import MAGIC, Reg

METHODS = {0: "thermometer", 2: "sigma-delta"}


class LutnetCore(DefaultIP):
    """The overlay's register block (docs/fpga.md): ``ol.lutnet_0`` once the overlay is loaded."""

    bindto = [CORE_VLNV]

    def __init__(self, description: dict[str, Any]) -> None:
        super().__init__(description=description)

    def get(self, reg: Reg) -> int:
        return int(self.read(int(reg)))

    def set(self, reg: Reg, value: int) -> None:
        self.write(int(reg), int(value) & 0xFFFFFFFF)

    def info(self) -> dict[str, Any]:
        """What the bitstream was built for, read from its registers."""
        if self.get(Reg.MAGIC) != MAGIC:
            raise HardwareError(f"no lutrun overlay answers at {self.mmio.base_addr:#x} (wrong MAGIC register)")
        shape, layout = self.get(Reg.SHAPE), self.get(Reg.LAYOUT)
        return {"pixels": self.get(Reg.PIXELS), "classes": shape >> 16, "frames": shape & 0xFFFF,
                "pixels_per_beat": layout >> 24, "method": METHODS.get((layout >> 16) & 0xFF, "unknown"),
                "temporal_shift": (layout >> 8) & 0xFF, "latency_cycles": layout & 0xFF,
                "digest": f"{self.get(Reg.DIGEST):08x}"}
