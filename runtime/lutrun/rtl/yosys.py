"""Resources and speed of a model's overlay from Yosys ``synth_xilinx`` (``lutrun report rtl``).

Counts are Yosys' mapping to 7-series cells, with unused logic removed, as a
first estimate before Vivado: LUT1..LUT6 (and INV, which Vivado packs into
LUTs), flip-flops, CARRY4 and wide muxes.  Logic levels come from a second,
generic 6-LUT mapping of the same design (``ltp`` between flip-flops): there a
carry chain counts as LUT levels, so adders and comparators look deeper than
they are on the fabric.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lutrun.errors import BackendUnavailableError
from lutrun.model import Model
from lutrun.rtl.design import SYNTH_FILES, export_rtl

XC7Z020 = {"part": "xc7z020", "luts": 53_200, "ffs": 106_400}
_LUTS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV")
_FFS = ("FDRE", "FDSE", "FDCE", "FDPE")


def yosys_version() -> str:
    path = shutil.which("yosys")
    if path is None:
        raise BackendUnavailableError("Yosys is not installed (Debian: apt-get install yosys)")
    return subprocess.run([path, "-V"], capture_output=True, text=True).stdout.strip()


def synthesize(rtl_dir: str | Path, top: str) -> dict[str, Any]:
    """``synth_xilinx`` of ``top`` from the RTL in ``rtl_dir``: cell counts and logic levels."""
    version = yosys_version()
    rtl = Path(rtl_dir)
    files = ["lutnet_core.v"] if top == "lutnet_core" else list(SYNTH_FILES)
    with tempfile.TemporaryDirectory() as tmp:
        stat = Path(tmp) / "stat.json"
        levels = Path(tmp) / "ltp.txt"
        script = "\n".join([
            "read_verilog -lib +/xilinx/cells_sim.v",  # LUT6 and friends as the primitives they are
            "read_verilog " + " ".join(str(rtl / f) for f in files),
            f"hierarchy -top {top}",
            "design -save rtl",
            f"synth_xilinx -top {top} -family xc7 -noiopad -flatten",
            f"tee -q -o {stat} stat -json",
            "design -load rtl",
            f"synth -top {top} -flatten",
            "abc -lut 6",
            "opt_clean",
            f"tee -q -o {levels} ltp -noff"])
        (Path(tmp) / "synth.ys").write_text(script)
        result = subprocess.run(["yosys", "-q", "-s", str(Path(tmp) / "synth.ys")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BackendUnavailableError(f"Yosys failed on {top}: {(result.stderr or result.stdout).strip()[-2000:]}")
        cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
        path = _longest_path(levels.read_text())
    return {
        "luts": sum(cells.get(c, 0) for c in _LUTS),
        "ffs": sum(cells.get(c, 0) for c in _FFS),
        "carry4": cells.get("CARRY4", 0),
        "muxf7": cells.get("MUXF7", 0), "muxf8": cells.get("MUXF8", 0),
        "cells": dict(sorted(cells.items())),
        "logic_levels": path,
        "yosys": version,
    }


def _longest_path(ltp: str) -> dict[str, Any]:
    """Yosys ``ltp`` output -> levels and the named ends of the longest path."""
    length = re.search(r"\(length=(\d+)\)", ltp)
    nodes = re.findall(r"^\s+(?:\d+|ff): (\S+(?: \[\d+\])?)", ltp, re.MULTILINE)
    return {"levels": int(length.group(1)) if length else None,
            "from": nodes[0].replace(" ", "").lstrip("\\") if nodes else None,
            "to": nodes[-1].replace(" ", "").lstrip("\\") if nodes else None}


def report_rtl(model: Model, clock_mhz: float = 200.0, stages_every: int = 1, pixels_per_beat: int = 8,
               top: bool = True) -> dict[str, Any]:
    """The resource and speed report of ``model``'s core and (with ``top``) its frame-level top."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = export_rtl(model, tmp, stages_every=stages_every, pixels_per_beat=pixels_per_beat)
        parts = {"core": synthesize(tmp, "lutnet_core")}
        if top:
            parts["top"] = synthesize(tmp, "lutnet_axis")
    clock_hz = clock_mhz * 1e6
    for part in parts.values():
        part["share_of_xc7z020"] = {"luts": round(part["luts"] / XC7Z020["luts"], 4),
                                    "ffs": round(part["ffs"] / XC7Z020["ffs"], 4)}
    return {
        "model": model.info.get("name", ""), "digest": model.digest()[:16], "luts_in_model": model.n_luts,
        "live_luts": model.live_luts(),
        "layers": model.widths, "stages_every": stages_every, "clock_mhz": clock_mhz, **parts,
        "core_latency_cycles": layout.latency_cycles, "frame_latency_cycles": layout.frame_latency_cycles,
        "cycles_per_frame": {"oversampled": layout.cycles_per_frame, "temporal": layout.temporal_cycles_per_frame},
        "frames_per_second": {"oversampled": round(layout.frames_per_second(clock_hz)),
                              "temporal": round(layout.frames_per_second(clock_hz, temporal=True))},
        "frame_latency_us": round(layout.frame_latency_cycles / clock_mhz, 3),
    }
