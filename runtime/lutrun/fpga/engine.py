"""Engines ``fpga`` (the overlay on a board) and ``sim`` (the same driver on the Verilator model).

One inference is: frames copied into a contiguous buffer allocated once,
frame counter and packet size written to the core, receive then send DMA
transfers started, both waited for under a deadline (pynq's own ``wait()``
spins forever), the frames-done counter and the byte count checked.  Frames
are batched so that Python's per-transfer cost (~100 us on a Zynq) is paid
once per batch, and a batch never exceeds the DMA's length register.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.cache import cache_root
from lutrun.engines.base import Engine
from lutrun.errors import BackendUnavailableError, ConfigError, HardwareError
from lutrun.model import Model, Modulation
from lutrun.rtl.design import Reg, export_rtl
from lutrun.temporal import Temporal

DEFAULT_BATCH = 1024
DEFAULT_TIMEOUT_S = 2.0


def _pynq() -> Any:
    try:
        import pynq
    except ImportError as exc:
        raise BackendUnavailableError("the fpga and sim engines need pynq, which needs numpy < 2: pip install "
                                      "'lutrun[fpga]' in a numpy-1.26 environment (make test's .venv-np1), or run on "
                                      f"a PYNQ image ({exc})") from None
    return pynq


class FpgaEngine(Engine):
    """The overlay built by ``lutrun export overlay``: ``overlay`` is its ``.bit`` (the ``.hwh`` beside it)."""

    name = "fpga"

    def __init__(self, model: Model, modulation: Modulation | None = None, temporal: Temporal | None = None,
                 overlay: str | os.PathLike[str] | None = None, batch: int = DEFAULT_BATCH,
                 timeout: float = DEFAULT_TIMEOUT_S, device: Any = None, download: bool = True) -> None:
        super().__init__(model, modulation, temporal)
        if self.modulation != model.modulation:
            raise ConfigError("the overlay's modulation is fixed in its RTL: it runs the model's own "
                              f"{model.modulation.to_json()}, not {self.modulation.to_json()}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigError(f"batch must be a positive integer, got {batch!r}")
        if not timeout > 0:
            raise ConfigError(f"timeout must be positive, got {timeout!r}")
        path = overlay or os.environ.get("LUTRUN_OVERLAY")
        if not path:
            raise BackendUnavailableError("no overlay: give --overlay X.bit (Python: overlay=...), the bitstream "
                                          "`lutrun export overlay` builds, or set LUTRUN_OVERLAY")
        if not Path(path).is_file():
            raise BackendUnavailableError(f"overlay {path} does not exist")
        pynq = _pynq()
        import lutrun.fpga.driver  # noqa: F401  (registers the core's driver by VLNV)

        self.timeout = float(timeout)
        if device is None and not pynq.Device.devices:
            raise BackendUnavailableError("pynq finds no device here (no Zynq fabric); --engine sim runs the overlay "
                                          "in simulation")
        try:
            self.overlay = pynq.Overlay(str(Path(path).resolve()), download=download, device=device)
        except (RuntimeError, OSError, ValueError) as exc:  # pynq's ways of saying the overlay cannot load
            raise HardwareError(f"cannot load overlay {path}: {exc}") from None
        try:
            self.core, self.dma = self.overlay.lutnet_0, self.overlay.axi_dma_0
        except AttributeError as exc:
            raise HardwareError(f"overlay {path} has no lutnet_0 / axi_dma_0 block: {exc}") from None
        self.info = self.core.info()
        self._check_matches(path)
        self.frame_bytes = self.info["pixels_per_beat"] * -(-self.info["pixels"] // self.info["pixels_per_beat"])
        per_transfer = self.dma.buffer_max_size // max(self.frame_bytes, 4 * model.n_classes)
        if per_transfer < 1:
            raise HardwareError(f"one frame ({self.frame_bytes} bytes) exceeds the DMA's transfer limit "
                                f"({self.dma.buffer_max_size} bytes): rebuild with a wider length register")
        self.batch = min(batch, per_transfer)
        self._in = pynq.allocate((self.batch, self.frame_bytes), np.uint8, target=self.overlay.device)
        self._in[:] = 0
        self._out = pynq.allocate((self.batch, model.n_classes), np.int32, target=self.overlay.device)
        self.transfers_us: list[float] = []
        self.core.set(Reg.CTRL, 0b10 | int(temporal is not None))  # mode, and temporal scores from zero

    def _check_matches(self, path: str | os.PathLike[str]) -> None:
        info, model = self.info, self.model
        expected = {"digest": model.digest()[:8], "pixels": model.n_inputs, "classes": model.n_classes,
                    "frames": model.modulation.frames, "method": model.modulation.method}
        wrong = {k: (info[k], v) for k, v in expected.items() if info[k] != v}
        if wrong:
            detail = ", ".join(f"{k} {got} (model: {want})" for k, (got, want) in wrong.items())
            raise HardwareError(f"overlay {path} was built for another model: {detail}")
        if self.temporal is not None and self.temporal.shift != info["temporal_shift"]:
            raise ConfigError(f"the overlay's temporal shift is {info['temporal_shift']} (fixed at export), "
                              f"not {self.temporal.shift}")

    def run_bits(self, bits: np.ndarray) -> np.ndarray:
        raise BackendUnavailableError("the overlay computes frames to scores only; run_bits is the cpu engine's")

    def _classify_into(self, rows: np.ndarray, scores: np.ndarray, frame0: int) -> None:
        self.transfers_us = []
        for i0 in range(0, rows.shape[0], self.batch):
            n = min(self.batch, rows.shape[0] - i0)
            scores[i0:i0 + n] = self._transfer(rows[i0:i0 + n], (frame0 + i0) % 2**32)

    _classify_temporal_into = _classify_into  # the fabric keeps the temporal state

    def reset_temporal(self) -> None:
        super().reset_temporal()
        self.core.set(Reg.CTRL, 0b10 | int(self.temporal is not None))

    def _transfer(self, frames: np.ndarray, frame0: int) -> np.ndarray:
        start = time.perf_counter()
        n = frames.shape[0]
        in_bytes, out_bytes = n * self.frame_bytes, n * 4 * self.model.n_classes
        self._in[:n, :frames.shape[1]] = frames  # the pad bytes of each frame stay 0
        done = self.core.get(Reg.DONE)
        self.core.set(Reg.COUNTER, frame0)
        self.core.set(Reg.BATCH, n)
        self.dma.recvchannel.transfer(self._out, nbytes=out_bytes)
        self.dma.sendchannel.transfer(self._in, nbytes=in_bytes)
        self._wait(self.dma.sendchannel, "send (frames to the overlay)")
        self._wait(self.dma.recvchannel, "receive (scores from the overlay)")
        finished = (self.core.get(Reg.DONE) - done) % 2**32
        if finished != n or self.dma.recvchannel.transferred != out_bytes:
            raise HardwareError(f"the overlay finished {finished} of {n} frames and returned "
                                f"{self.dma.recvchannel.transferred} of {out_bytes} score bytes")
        errors = self.core.get(Reg.ERROR)
        if errors:
            self.core.set(Reg.ERROR, 0)
            raise HardwareError(f"the overlay saw {errors} malformed frame(s) (TLAST before a frame's end)")
        self.transfers_us.append((time.perf_counter() - start) * 1e6)
        return np.array(self._out[:n])

    def _wait(self, channel: Any, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not channel.idle:
            if channel.error:
                try:
                    channel.wait()  # raises pynq's description of the error
                except RuntimeError as exc:
                    raise HardwareError(f"DMA {what} failed: {exc}") from None
            if time.monotonic() > deadline:
                channel.stop()
                channel.start()
                raise HardwareError(f"DMA {what} did not complete within {self.timeout:g} s; "
                                    "is the overlay clocked and out of reset?")
        channel.wait()  # idle already: pynq's bookkeeping (cache invalidation, byte count)

    def describe(self) -> dict[str, Any]:
        timing = {"transfers": len(self.transfers_us),
                  "transfer_us_median": float(np.median(self.transfers_us)) if self.transfers_us else None}
        return {**super().describe(), "overlay": self.overlay.bitfile_name, "batch": self.batch,
                "hardware": self.info, **timing}

    def close(self) -> None:
        for buffer in ("_in", "_out"):
            if hasattr(self, buffer):
                getattr(self, buffer).freebuffer()
                delattr(self, buffer)


def sim_overlay(model: Model, board: str = "pynq-z2", clock_hz: int = 200_000_000, **rtl_options: Any) -> Path:
    """A simulated overlay for ``model``: its ``.bit`` names the Verilator library, its ``.hwh`` is the block design's.

    Built once per model and options, under the lutrun cache.
    """
    from lutrun.fpga.hwh import block_design_hwh
    from lutrun.rtl.boards import BOARDS
    from lutrun.fpga.simdevice import SIM_BITSTREAM
    from lutrun.rtl.verilator import build_simulator

    with tempfile.TemporaryDirectory() as tmp:
        layout = export_rtl(model, tmp, **rtl_options)
        library = build_simulator(tmp)
    folder = cache_root() / "overlays" / library.stem
    folder.mkdir(parents=True, exist_ok=True)
    bit = folder / "lutnet.bit"
    bit.write_text(json.dumps({"format": SIM_BITSTREAM, "simulator": str(library), "layout": layout.to_json()}))
    bit.with_suffix(".hwh").write_text(block_design_hwh(layout, BOARDS[board], clock_hz))
    return bit


class SimEngine(FpgaEngine):
    """``fpga``'s driver code, unchanged, against the Verilator model on a simulated pynq device.

    ``p_valid`` / ``p_ready`` add random gaps and back-pressure on the overlay's streams.
    """

    name = "sim"

    def __init__(self, model: Model, modulation: Modulation | None = None, temporal: Temporal | None = None,
                 batch: int = DEFAULT_BATCH, timeout: float = DEFAULT_TIMEOUT_S, p_valid: float = 1.0,
                 p_ready: float = 1.0, seed: int = 0, **rtl_options: Any) -> None:
        _pynq()
        from lutrun.fpga.simdevice import SimDevice

        if not (0 < p_valid <= 1 and 0 < p_ready <= 1):
            raise ConfigError(f"p_valid and p_ready must be in (0, 1], got {p_valid}, {p_ready}")
        if rtl_options.get("temporal_shift") is None and temporal is not None:
            rtl_options["temporal_shift"] = temporal.shift
        self.device = SimDevice(p_valid=p_valid, p_ready=p_ready, seed=seed)
        super().__init__(model, modulation, temporal, overlay=sim_overlay(model, **rtl_options), batch=batch,
                         timeout=timeout, device=self.device, download=False)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "cycles_last_transfer": self.device.last_stream_cycles}
