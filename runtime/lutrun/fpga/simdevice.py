"""A ``pynq.Device`` whose fabric is the Verilator model of an overlay, with a simulated AXI DMA.

pynq finds devices through ``Device`` subclasses with ``_probe_``; this one
answers with a simulated board when ``LUTRUN_PYNQ_SIM=1`` (so an unmodified
PYNQ notebook runs against the simulator) or when lutrun's ``sim`` engine asks.
Registers are reached through pynq's REGISTER_RW path: every MMIO access of
the real drivers lands in ``read_registers`` / ``write_registers`` here.  The
AXI DMA (simple mode, PG021) is modelled at its register interface: MM2S
streams a buffer into the overlay with TLAST on its last beat; S2MM fills a
buffer until a TLAST beat or its length, as the IP does.

The "bitstream" of a simulated overlay is a small JSON file naming the
Verilator library; the ``.hwh`` beside it is the block design's.
"""
from __future__ import annotations

import json
import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from pynq import Device
from pynq.buffer import PynqBuffer

from lutrun.errors import HardwareError
from lutrun.rtl.boards import CORE_NAME, DMA_NAME, REGION
from lutrun.rtl.design import OverlayLayout
from lutrun.rtl.verilator import RtlSimulator

SIM_BITSTREAM = "lutrun-sim-bitstream"
_MEMORY_BASE = 0x1000_0000
# AXI DMA register offsets (PG021, simple mode) and status bits.
_MM2S, _S2MM = 0x00, 0x30
_CR, _SR, _ADDR, _LENGTH = 0x00, 0x04, 0x18, 0x28
_HALTED, _IDLE, _DEC_ERR, _IOC = 0x1, 0x2, 0x40, 0x1000


class _Channel:
    def __init__(self) -> None:
        self.regs = {_CR: 0, _SR: _HALTED, _ADDR: 0, _ADDR + 4: 0, _LENGTH: 0}
        self.armed: tuple[int, int] | None = None  # S2MM: (next address, room left)
        self.received = 0


class SimDevice(Device):
    """A simulated Zynq board: its PL is an ``RtlSimulator``."""

    _probe_priority_ = 1000

    @classmethod
    def _probe_(cls) -> list[SimDevice]:
        return [cls()] if os.environ.get("LUTRUN_PYNQ_SIM") == "1" else []

    def __init__(self, tag: str = "lutrun_sim", p_valid: float = 1.0, p_ready: float = 1.0, seed: int = 0) -> None:
        super().__init__(tag)
        self.name = tag
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.backpressure = (p_valid, p_ready, seed)
        self.faults: set[str] = set()  # "s2mm-stall": the receive side never completes
        self.sim: RtlSimulator | None = None
        self.last_stream_cycles = 0
        self._buffers: dict[int, PynqBuffer] = {}
        self._next_address = _MEMORY_BASE
        self._channels = {_MM2S: _Channel(), _S2MM: _Channel()}
        self._pending: deque[tuple[int, int]] = deque()  # score beats (data, tlast) not yet received
        self._dma_base = self._core_base = -1

    # -- programming ------------------------------------------------------------

    def get_bitfile_metadata(self, bitfile_name: str) -> Any:
        from pynqmetadata.frontends import Metadata
        from pynqmetadata.views.runtime import RuntimeMetadataParser

        hwh = Path(bitfile_name).with_suffix(".hwh")
        if not hwh.exists():
            raise HardwareError(f"{hwh} is missing: the .hwh must sit beside the .bit with the same name")
        return RuntimeMetadataParser(Metadata(input=str(hwh)))

    def set_bitfile_name(self, bitfile_name: str) -> None:
        """Loading an overlay's metadata: the simulated fabric takes that overlay's design."""
        super().set_bitfile_name(bitfile_name)
        try:
            spec = json.loads(Path(bitfile_name).read_text())
            if spec.get("format") != SIM_BITSTREAM:
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise HardwareError(f"{bitfile_name} is a real bitstream; the simulated device runs only overlays "
                                "made by the sim engine (lutrun.fpga.engine.sim_overlay)") from None
        self.sim = RtlSimulator(spec["simulator"], OverlayLayout(**spec["layout"]))
        self._dma_base = self.ip_dict[DMA_NAME]["phys_addr"]
        self._core_base = self.ip_dict[CORE_NAME]["phys_addr"]
        self._channels = {_MM2S: _Channel(), _S2MM: _Channel()}
        self._pending.clear()

    def download(self, bitstream: Any, parser: Any = None, name: str = "Unknown") -> None:
        self.set_bitfile_name(bitstream.bitfile_name)

    # -- memory -------------------------------------------------------------------

    def allocate(self, shape: Any, dtype: Any, **kwargs: Any) -> PynqBuffer:
        """A buffer with a physical address the simulated DMA can reach (64-byte aligned)."""
        buffer = PynqBuffer(shape, dtype, device=self, device_address=self._next_address, coherent=True)
        self._buffers[self._next_address] = buffer
        self._next_address += (buffer.nbytes + 63) // 64 * 64
        return buffer

    def flush(self, *args: Any) -> None:
        """Coherent memory: nothing to flush."""

    def invalidate(self, *args: Any) -> None:
        """Coherent memory: nothing to invalidate."""

    def _memory(self, address: int, nbytes: int) -> np.ndarray | None:
        for base, buffer in self._buffers.items():
            if base <= address and address + nbytes <= base + buffer.nbytes:
                raw = buffer.reshape(-1).view(np.uint8)
                return raw[address - base:address - base + nbytes]
        return None

    # -- registers ------------------------------------------------------------------

    def _region(self, address: int) -> tuple[str, int]:
        for name, base in (("dma", self._dma_base), ("core", self._core_base)):
            if base <= address < base + REGION:
                return name, address - base
        raise HardwareError(f"bus error: nothing is mapped at {address:#x}")

    def read_registers(self, address: int, length: int) -> bytes:
        if self.sim is None:
            raise HardwareError("the simulated device has no overlay loaded")
        region, offset = self._region(address)
        if region == "core":
            value = self.sim.read(offset)
        else:
            which = _S2MM if offset >= _S2MM else _MM2S
            value = self._channels[which].regs.get(offset - which, 0)
        return int(value).to_bytes(4, "little")[:length]

    def write_registers(self, address: int, data: bytes) -> None:
        if self.sim is None:
            raise HardwareError("the simulated device has no overlay loaded")
        region, offset = self._region(address)
        value = int.from_bytes(bytes(data)[:4], "little")
        if region == "core":
            self.sim.write(offset, value)
            return
        which = _S2MM if offset >= _S2MM else _MM2S
        channel, reg = self._channels[which], offset - which
        if reg == _CR:
            channel.regs[_CR] = value
            channel.regs[_SR] = (channel.regs[_SR] & ~_HALTED & ~_IDLE) | (_IDLE if value & 1 else _HALTED)
        elif reg == _SR:
            channel.regs[_SR] &= ~(value & _IOC)  # write 1 to clear the interrupt flag
        elif reg == _LENGTH:
            channel.regs[_LENGTH] = value
            if not channel.regs[_SR] & _HALTED:
                self._start(which, channel, value)
        elif reg in channel.regs:
            channel.regs[reg] = value

    # -- the DMA's data movement --------------------------------------------------------

    def _start(self, which: int, channel: _Channel, length: int) -> None:
        address = channel.regs[_ADDR] | channel.regs[_ADDR + 4] << 32
        if self._memory(address, length) is None:
            channel.regs[_SR] |= _DEC_ERR | _HALTED
            return
        channel.regs[_SR] &= ~_IDLE
        if which == _S2MM:
            channel.armed, channel.received = (address, length), 0
        else:
            p_valid, p_ready, seed = self.backpressure
            stats = self.sim.stream(self._memory(address, length).copy(), p_valid=p_valid, p_ready=p_ready,
                                    seed=seed)
            self.last_stream_cycles = stats.cycles
            data, last = self.sim.take()
            self._pending.extend(zip(data.tolist(), last.tolist()))
            channel.regs[_SR] |= _IDLE | _IOC
        self._receive()

    def _receive(self) -> None:
        channel = self._channels[_S2MM]
        if channel.armed is None or "s2mm-stall" in self.faults:
            return
        address, capacity = channel.armed
        words: list[int] = []
        ended = False
        while self._pending and len(words) * 4 < capacity:
            value, last = self._pending.popleft()
            words.append(value)
            if last:
                ended = True
                break
        n = len(words) * 4
        self._memory(address, n)[:] = np.array(words, "<u4").view(np.uint8)
        channel.received += n
        if ended or n >= capacity:
            channel.regs[_LENGTH] = channel.received
            channel.regs[_SR] |= _IDLE | _IOC
            channel.armed = None
        else:  # keep what came: the rest arrives with the next MM2S transfer
            channel.armed = (address + n, capacity - n)
