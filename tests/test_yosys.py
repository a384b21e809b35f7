"""Yosys synth_xilinx of the generated RTL: the core is the model's live LUTs; the top stays in its bound."""
from __future__ import annotations

import json
import shutil

import pytest

from lutrun.model import random_model
from lutrun.modelfile import save_model
from lutrun.resources import resolve_model
from lutrun.rtl.yosys import report_rtl

from conftest import run_cli

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None, reason="Yosys is not installed")


def test_default_core_is_one_lut_and_one_flip_flop_per_live_lut():
    model = resolve_model(None)
    report = report_rtl(model, top=False)
    core = report["core"]
    # LUTs that reach no vote are dropped by synthesis, which keeps one LUT and one register for each other:
    # a LUT6, or a smaller LUT where learnt wiring gave a LUT the same pixel on several inputs.
    live = model.live_luts()
    lut_cells = sum(n for cell, n in core["cells"].items() if cell.startswith("LUT"))
    assert report["live_luts"] == live and core["luts"] == lut_cells == live <= model.n_luts
    assert core["cells"]["LUT6"] >= 0.99 * live
    assert core["ffs"] == live + report["core_latency_cycles"]  # plus the valid bit of each stage
    assert core["carry4"] == 0 and core["logic_levels"]["levels"] == 1
    assert report["frames_per_second"]["oversampled"] >= 1_000_000


def test_random_model_core_with_fewer_stages_is_deeper_not_larger():
    model = random_model((6, 6, 1), (60, 30, 20, 10), fan_in=(6, 4, 3, 2), n_classes=5, seed=4)
    every1 = report_rtl(model, top=False)["core"]
    every2 = report_rtl(model, top=False, stages_every=2)["core"]
    assert every1["logic_levels"]["levels"] == 1 and every2["logic_levels"]["levels"] == 2
    assert every2["ffs"] < every1["ffs"] and every1["luts"] <= model.live_luts()


@pytest.mark.slow
def test_default_top_fits_in_the_model_plus_the_stated_bound():
    """Bound (docs/fpga.md): 3 LUTs a pixel for pre-coding and comparing, 2 a voting output, 1,500 for control."""
    model = resolve_model(None)
    report = report_rtl(model)
    bound = model.n_luts + 3 * model.n_inputs + 2 * model.n_outputs + 1500
    assert report["core"]["luts"] < report["top"]["luts"] <= bound
    assert report["top"]["share_of_xc7z020"]["luts"] < 0.2


def test_report_cli_prints_json(tmp_path):
    path = tmp_path / "m.lutnet"
    save_model(random_model((3, 3, 1), (8, 4), n_classes=2, seed=1), path)
    result = run_cli("report", "rtl", str(path), "--core-only", "--clock-mhz", "100")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clock_mhz"] == 100 and "top" not in report and report["core"]["luts"] <= 12
