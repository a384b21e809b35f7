"""The generated RTL as a library driven from Python: Verilator builds, cffi loads.

``RtlSimulator`` is the overlay seen cycle by cycle through its real ports
(AXI4-Stream in and out, AXI4-Lite), so what it returns is what the fabric
computes.  Builds are cached by the hash of the RTL, the harness and the
Verilator version (about 35 s for the default model on two cores, then free).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.cache import cache_root
from lutrun.errors import BackendUnavailableError, ConfigError, HardwareError
from lutrun.model import Model
from lutrun.rtl.design import SIM_FILES, OverlayLayout, Reg, export_rtl, pack_frames

_CDEF = """
void *lrs_new(void);
void lrs_free(void *);
void lrs_reset(void *, int);
uint64_t lrs_cycle(void *);
int lrs_write(void *, uint32_t, uint32_t);
uint32_t lrs_read(void *, uint32_t, int *);
int64_t lrs_stream(void *, const uint64_t *, const uint8_t *, int64_t, double, double, uint64_t, int64_t,
                   int64_t, int64_t, int64_t, int64_t *);
int64_t lrs_take(void *, uint32_t *, uint8_t *, int64_t);
"""
# -O1 for the generated C++: -O3 builds take twice as long for a few percent of speed.
_MAKEFLAGS = "OPT_FAST=-O1 OPT_SLOW=-O1"


def verilator_version() -> str:
    path = shutil.which("verilator")
    if path is None:
        raise BackendUnavailableError("Verilator is not installed (Debian: apt-get install verilator)")
    return subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()


def build_simulator(rtl_dir: str | Path) -> Path:
    """Compile the RTL in ``rtl_dir`` with the harness into a shared library (cached); returns its path."""
    rtl = Path(rtl_dir)
    harness = resources.files("lutrun.overlays").joinpath("sim").joinpath("harness.cpp").read_text()
    version = verilator_version()
    digest = hashlib.sha256("\0".join([version, _MAKEFLAGS, harness,
                                       *((rtl / name).read_text() for name in SIM_FILES)]).encode())
    target = cache_root() / "sim" / f"lutnet-{digest.hexdigest()[:24]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        (Path(tmp) / "harness.cpp").write_text(harness)
        cmd = ["verilator", "--cc", "--exe", "--build", "-O3", "-j", str(min(4, os.cpu_count() or 1)),
               "--top-module", "lutnet_axis", "-CFLAGS", "-fPIC", "-LDFLAGS", "-shared -Wl,-Bsymbolic",
               "-MAKEFLAGS", _MAKEFLAGS, "--Mdir", str(Path(tmp) / "obj"), "-o", "liblutnet_sim.so",
               str(Path(tmp) / "harness.cpp"), *(str(rtl / name) for name in SIM_FILES)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise BackendUnavailableError(f"Verilator could not build the overlay: {result.stderr.strip()[-2000:]}")
        os.replace(Path(tmp) / "obj" / "liblutnet_sim.so", target)
    return target


@dataclass
class StreamStats:
    """What one ``stream`` call measured, in clocks."""

    cycles: int
    frames_out: int
    latency_min: int
    latency_max: int
    latency_mean: float


class RtlSimulator:
    """One instance of the overlay's top, ``lutnet_axis``, under Verilator."""

    def __init__(self, library: str | Path, layout: OverlayLayout) -> None:
        import cffi

        self.layout = layout
        self._ffi = cffi.FFI()
        self._ffi.cdef(_CDEF)
        self._lib = self._ffi.dlopen(str(library))
        self._sim = self._ffi.gc(self._lib.lrs_new(), self._lib.lrs_free)
        self.reset()

    @classmethod
    def for_model(cls, model: Model, **rtl_options: Any) -> RtlSimulator:
        """Generate ``model``'s RTL (options as ``export_rtl``), build it (cached) and start it."""
        with tempfile.TemporaryDirectory() as tmp:
            layout = export_rtl(model, tmp, **rtl_options)
            library = build_simulator(tmp)
        return cls(library, layout)

    # -- ports ----------------------------------------------------------------

    def reset(self, cycles: int = 4) -> None:
        """aresetn low for ``cycles`` clocks: frames in flight are lost, registers return to their reset values."""
        self._lib.lrs_reset(self._sim, cycles)

    @property
    def cycle(self) -> int:
        return int(self._lib.lrs_cycle(self._sim))

    def read(self, offset: int) -> int:
        ok = self._ffi.new("int *")
        value = self._lib.lrs_read(self._sim, int(offset), ok)
        if not ok[0]:
            raise HardwareError(f"AXI4-Lite read of {offset:#x} got no response")
        return int(value)

    def write(self, offset: int, value: int) -> None:
        if self._lib.lrs_write(self._sim, int(offset), int(value) & 0xFFFFFFFF) < 0:
            raise HardwareError(f"AXI4-Lite write of {offset:#x} got no response")

    def stream(self, data: bytes | np.ndarray, tlast: np.ndarray | None = None, p_valid: float = 1.0,
               p_ready: float = 1.0, seed: int = 0) -> StreamStats:
        """Send bytes (whole beats) on the pixel stream while taking score beats (see ``take``).

        ``tlast`` flags beats (default: the last one, as a DMA transfer ends); ``p_valid``
        and ``p_ready`` are the chances per clock that the sender offers a beat and that
        the receiver takes one: random gaps and back-pressure.
        """
        if not (0 < p_valid <= 1 and 0 <= p_ready <= 1):
            raise ConfigError(f"p_valid must be in (0, 1] and p_ready in [0, 1], got {p_valid}, {p_ready}")
        raw = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(), np.uint8)
        ppb = self.layout.pixels_per_beat
        if raw.size % ppb:
            raise HardwareError(f"the pixel stream moves whole beats of {ppb} bytes, got {raw.size} bytes")
        beats = np.ascontiguousarray(raw.view(f"<u{ppb}").astype(np.uint64))
        if tlast is None:
            tlast = np.zeros(beats.size, np.uint8)
            if beats.size:
                tlast[-1] = 1
        tlast = np.ascontiguousarray(tlast, np.uint8)
        lay = self.layout
        slow = 1.0 / max(min(p_valid, p_ready), 1e-3)
        drain = int((lay.frame_latency_cycles + lay.frames + lay.n_classes + 16) * slow) + 64
        frames = beats.size // lay.beats + 1
        budget = int((beats.size + frames * (lay.cycles_per_frame + lay.frames + lay.n_classes)) * slow * 4) + 4 * drain
        stats = np.zeros(4, np.int64)
        cycles = self._lib.lrs_stream(
            self._sim, self._ffi.from_buffer("uint64_t[]", beats), self._ffi.from_buffer("uint8_t[]", tlast),
            beats.size, float(p_valid), float(p_ready), int(seed), drain, budget, lay.beats, lay.n_classes,
            self._ffi.from_buffer("int64_t[]", stats))
        n = int(stats[0])
        return StreamStats(int(cycles), n, int(stats[1]), int(stats[2]), float(stats[3]) / n if n else 0.0)

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """Score beats received so far: (uint32 data, uint8 TLAST), oldest first."""
        cap = 1 << 16
        chunks: list[tuple[np.ndarray, np.ndarray]] = []
        while True:
            data, last = np.empty(cap, np.uint32), np.empty(cap, np.uint8)
            n = int(self._lib.lrs_take(self._sim, self._ffi.from_buffer("uint32_t[]", data),
                                       self._ffi.from_buffer("uint8_t[]", last), cap))
            chunks.append((data[:n], last[:n]))
            if n < cap:
                break
        return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])

    # -- frames ---------------------------------------------------------------

    def classify(self, rows: np.ndarray, frame0: int = 0, temporal: bool = False, **stream_options: Any
                 ) -> tuple[np.ndarray, StreamStats]:
        """uint8 rows [B, n_pixels] -> (int32 scores [B, classes], stats), through the AXI ports.

        Sets the frame counter to ``frame0`` and the mode first; temporal scores carry on
        from the previous call (``clear_temporal`` zeroes them).
        """
        self.write(Reg.COUNTER, int(frame0) % 2**32)
        self.write(Reg.CTRL, int(temporal))
        stats = self.stream(pack_frames(rows, self.layout.frame_bytes), **stream_options)
        data, _ = self.take()
        expected = rows.shape[0] * self.layout.n_classes
        if data.size != expected:
            raise HardwareError(f"the overlay returned {data.size} score beats for {rows.shape[0]} frames "
                                f"(expected {expected})")
        return data.view(np.int32).reshape(rows.shape[0], self.layout.n_classes), stats

    def clear_temporal(self) -> None:
        self.write(Reg.CTRL, 0b10 | (self.read(Reg.CTRL) & 1))
