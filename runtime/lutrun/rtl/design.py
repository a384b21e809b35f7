"""Writes a model's RTL: the generated core and votes, the fixed HDL, and manifest.json.

``OverlayLayout`` is the one statement of what the generated top, the
Verilator harness, the PYNQ driver and the manifest agree on: beat format,
frame size, score width, latencies.  Timing figures are in clocks, derived
from the pipeline in overlays/rtl and checked by the co-simulation tests.
"""
from __future__ import annotations

import json
import re
from enum import IntEnum
import shutil
import subprocess
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.errors import ConfigError
from lutrun.model import Model
from lutrun.rtl.netlist import class_counts, core_verilog, count_width, register_after, votes_verilog
from lutrun.temporal import Temporal
from lutrun.votes import largest_score

METHOD_CODES = {"thermometer": 0, "sigma-delta": 2}
PIXELS_PER_BEAT = (1, 2, 4, 8)
FIXED_HDL = ("lut6_sim.v", "lutnet_pixel_code.v", "lutnet_modulator.v", "lutnet_accumulator.v", "lutnet_regs.v")
# Files a synthesis tool takes (lut6_sim.v is for simulators only).
SYNTH_FILES = ("lutnet_core.v", "lutnet_votes.v", "lutnet_pixel_code.v", "lutnet_modulator.v",
               "lutnet_accumulator.v", "lutnet_regs.v", "lutnet_axis.v")
SIM_FILES = ("lut6_sim.v", *SYNTH_FILES)
MAX_SCORE_BITS = 31  # scores leave as non-negative int32
MAGIC = 0x4C55544E  # "LUTN", register MAGIC


class Reg(IntEnum):
    """Byte offsets of the AXI4-Lite registers (overlays/rtl/lutnet_regs.v, docs/fpga.md)."""

    MAGIC = 0x00     # RO "LUTN"
    CTRL = 0x04      # RW bit 0: temporal mode; W bit 1: zero the temporal scores
    ERROR = 0x08     # RO malformed frames (TLAST before a frame's last beat); write: clear
    COUNTER = 0x0C   # RW frame counter: the next frame's stream position
    DONE = 0x10      # RO frames whose scores have left
    BATCH = 0x14     # RW frames per output packet (TLAST); 0 acts as 1
    PIXELS = 0x18    # RO pixels per frame
    SHAPE = 0x1C     # RO classes << 16 | F
    LAYOUT = 0x20    # RO pixels per beat << 24 | method << 16 | temporal shift << 8 | core latency
    DIGEST = 0x24    # RO first 32 bits of the model digest


@dataclass(frozen=True)
class OverlayLayout:
    """Geometry and timing of one generated overlay."""

    digest: str
    n_pixels: int
    pixels_per_beat: int
    beats: int
    frames: int
    method: str
    pixel_bits: int              # bits a buffered pixel: k(v) for thermometer with F < 255, else the byte
    lo: int
    hi: int
    n_outputs: int
    n_classes: int
    count_width: int
    score_width: int
    temporal_shift: int
    latency_cycles: int          # lutnet_core: in_valid -> out_valid, enabled clocks
    frame_latency_cycles: int    # top: last pixel beat accepted -> first score beat accepted
    cycles_per_frame: int        # top, steady state, no back-pressure

    @property
    def frame_bytes(self) -> int:
        return self.beats * self.pixels_per_beat

    @property
    def tdata_width(self) -> int:
        return 8 * self.pixels_per_beat

    def frames_per_second(self, clock_hz: float, temporal: bool = False) -> float:
        return clock_hz / (self.temporal_cycles_per_frame if temporal else self.cycles_per_frame)

    @property
    def temporal_cycles_per_frame(self) -> int:
        # Thermometer jumps straight to its sub-frame; sigma-delta steps up to it (worst case F).
        busy = 1 if self.method == "thermometer" else self.frames
        return max(self.beats, busy + 1, self.n_classes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pack_frames(rows: np.ndarray, frame_bytes: int) -> np.ndarray:
    """uint8 rows [B, n_pixels] -> the stream's bytes [B, frame_bytes]: each frame padded to whole beats.

    With 3 pixels and 2 pixels per beat, frame [7, 8, 9] becomes [7, 8, 9, 0]: beats 0x0807, 0x0009.
    """
    out = np.zeros((rows.shape[0], frame_bytes), np.uint8)
    out[:, :rows.shape[1]] = rows
    return out


def overlay_layout(model: Model, stages_every: int = 1, pixels_per_beat: int = 8,
                   temporal_shift: int | None = None) -> OverlayLayout:
    """The layout of ``model``'s overlay, or ConfigError naming why it cannot be generated."""
    mod = model.modulation
    if mod.method not in METHOD_CODES:
        raise ConfigError(f"the RTL modulator does not implement {mod.method!r} modulation: its thresholds need two "
                          f"32-bit multiplications per pixel and sub-frame ({model.n_inputs} in parallel), more "
                          "than a Zynq's DSPs; use thermometer or sigma-delta (lutrun train --method)")
    if pixels_per_beat not in PIXELS_PER_BEAT:
        raise ConfigError(f"pixels per beat must be one of {PIXELS_PER_BEAT}, got {pixels_per_beat!r}")
    if isinstance(stages_every, bool) or not isinstance(stages_every, int) or stages_every < 1:
        raise ConfigError(f"stages-every must be a positive integer, got {stages_every!r}")
    shift = Temporal.for_frames(mod.frames, temporal_shift).shift
    score_bits = max(count_width(model) + 1, largest_score(model.output_classes, mod.frames).bit_length(),
                     largest_score(model.output_classes, mod.frames, shift).bit_length())
    if score_bits > MAX_SCORE_BITS:
        raise ConfigError(f"scores need {score_bits} bits (F={mod.frames}, {int(class_counts(model).max())} outputs "
                          f"in the fullest class, temporal shift {shift}); at most {MAX_SCORE_BITS} fit the 32-bit "
                          "output")
    beats = -(-model.n_inputs // pixels_per_beat)
    latency = sum(register_after(len(model.layers), stages_every))
    modulator = 3 if mod.method == "thermometer" else 2  # clocks from the last beat to sub-frame 0's bits
    return OverlayLayout(
        digest=model.digest(), n_pixels=model.n_inputs, pixels_per_beat=pixels_per_beat, beats=beats,
        frames=mod.frames, method=mod.method,
        pixel_bits=min(8, mod.frames.bit_length()) if mod.method == "thermometer" else 8, lo=mod.range[0], hi=mod.range[1], n_outputs=model.n_outputs, n_classes=model.n_classes,
        count_width=count_width(model), score_width=score_bits, temporal_shift=shift, latency_cycles=latency,
        frame_latency_cycles=modulator + mod.frames + latency + 2,
        cycles_per_frame=max(beats, mod.frames + 1, model.n_classes))


def hdl_source(name: str) -> str:
    """A fixed HDL file shipped in lutrun.overlays.rtl."""
    return resources.files("lutrun.overlays").joinpath("rtl").joinpath(name).read_text()


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def top_verilog(layout: OverlayLayout, version: str) -> str:
    values = {
        "VERSION": version, "DIGEST": layout.digest, "DIGEST32": f"32'h{layout.digest[:8]}",
        "PPB": layout.pixels_per_beat, "TDATA_W": layout.tdata_width, "BEATS": layout.beats,
        "BEAT_W": _bits(layout.beats), "N_PIXELS": layout.n_pixels, "FRAMES": layout.frames,
        "F_W": _bits(layout.frames), "PIX_W": layout.pixel_bits, "N_OUTPUTS": layout.n_outputs, "N_CLASSES": layout.n_classes,
        "CLS_W": _bits(layout.n_classes), "COUNT_W": layout.count_width, "ACC_W": layout.score_width,
        "METHOD": METHOD_CODES[layout.method], "LO": layout.lo, "HI": layout.hi, "SHIFT": layout.temporal_shift,
        "INFO_SHAPE": f"32'h{layout.n_classes:04x}{layout.frames:04x}",
        "INFO_LAYOUT": "32'h" + "".join(f"{v:02x}" for v in (layout.pixels_per_beat, METHOD_CODES[layout.method],
                                                              layout.temporal_shift, layout.latency_cycles)),
    }
    return fill_template(hdl_source("lutnet_axis.v.in"), values)


def fill_template(text: str, values: dict[str, Any]) -> str:
    """Replace ``{{NAME}}`` placeholders; every placeholder must have a value."""
    missing = sorted(set(re.findall(r"\{\{([A-Z0-9_]+)\}\}", text)) - set(values))
    if missing:
        raise ConfigError(f"internal: template placeholders without values: {', '.join(missing)}")
    return re.sub(r"\{\{([A-Z0-9_]+)\}\}", lambda m: str(values[m.group(1)]), text)


def tool_versions() -> dict[str, str | None]:
    """Versions of the HDL tools on PATH (None where absent), for the manifest."""
    found: dict[str, str | None] = {}
    for tool, flag in (("verilator", "--version"), ("yosys", "-V"), ("vivado", "-version")):
        path = shutil.which(tool)
        found[tool] = subprocess.run([path, flag], capture_output=True, text=True).stdout.splitlines()[0].strip() \
            if path else None
    return found


def export_rtl(model: Model, out_dir: str | Path, stages_every: int = 1, pixels_per_beat: int = 8,
               temporal_shift: int | None = None) -> OverlayLayout:
    """Write ``model``'s overlay RTL and manifest.json into ``out_dir``; returns its layout.

    >>> import tempfile, lutrun
    >>> layout = lutrun.export_rtl(lutrun.load_model(lutrun.DEFAULT_MODEL), tempfile.mkdtemp())
    >>> layout.latency_cycles, layout.cycles_per_frame, layout.frame_latency_cycles
    (2, 98, 22)
    """
    from lutrun import __version__

    layout = overlay_layout(model, stages_every, pixels_per_beat, temporal_shift)
    files = {name: hdl_source(name) for name in FIXED_HDL}
    files["lutnet_core.v"] = core_verilog(model, stages_every)
    files["lutnet_votes.v"] = votes_verilog(model)
    files["lutnet_axis.v"] = top_verilog(layout, __version__)
    manifest = {"format": "lutrun-overlay", "version": 1, "lutrun": __version__, "top": "lutnet_axis",
                "files": {"synthesis": list(SYNTH_FILES), "simulation": list(SIM_FILES)},
                "stages_every": stages_every, "layers": model.widths, "luts": model.n_luts,
                "modulation": model.modulation.to_json(), "input_shape": list(model.input_shape),
                "class_names": model.class_names, "tdata_width": {"in": layout.tdata_width, "out": 32},
                **layout.to_json(), "tools": tool_versions()}
    files["manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    write_files(out_dir, files)
    return layout


def write_files(out_dir: str | Path, files: dict[str, str]) -> None:
    """Create ``out_dir`` and write ``files`` (name -> text) into it; ConfigError names a path that cannot be."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output directory {out}: {exc.strerror}") from None
    for name, text in files.items():
        try:
            (out / name).write_text(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {out / name}: {exc.strerror}") from None
