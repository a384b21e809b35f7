"""Import of BinaryBrain's Verilog LUT layers, on a small hand-written file in that format."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lutrun.errors import ModelFormatError
from lutrun.importers.binarybrain import import_binarybrain, read_binarybrain_layers
from lutrun.model import Modulation
from lutrun.modelfile import load_model
from conftest import engines, run_cli

SMALL = Path(__file__).parent / "data" / "binarybrain_small.v"
MOD = Modulation("thermometer", 4, 1, (0, 255))


def expected_outputs(x: np.ndarray) -> np.ndarray:
    """What the file's comments say each LUT computes, written out by hand."""
    lut0 = x[:, 0:6].all(axis=1)
    lut1 = x[:, 7].astype(bool)
    lut2 = x[:, 12].astype(bool)
    lut3 = x[:, 10:16].sum(axis=1) % 2 == 1
    return np.stack([lut0 ^ lut1, lut2 & ~lut3], axis=1).astype(np.uint8)


def test_layers_wiring_and_tables():
    n_inputs, layers = read_binarybrain_layers(SMALL.read_text())
    assert n_inputs == 16 and [layer.width for layer in layers] == [4, 2]
    assert layers[0].inputs[1].tolist() == [7, 2, 3, 6, 8, 9]  # input 0 is the concatenation's last entry
    assert layers[0].inputs[2].tolist() == [0, 1, 2, 3, 4, 12]  # LUT6 primitive: I0..I5
    assert int(layers[0].tables[3]) == 0x6996966996696996
    assert layers[1].inputs.tolist() == [[0, 1], [3, 2]]


def test_imported_model_computes_what_the_verilog_says(rng, tmp_path):
    model = import_binarybrain(SMALL, (4, 4, 1), 2, MOD)
    x = rng.integers(0, 2, (4096, 16), dtype=np.uint8)
    x[:64, :6] = 1  # make the 6-input AND fire too
    for engine in engines(model):
        np.testing.assert_array_equal(engine.run_bits(x), expected_outputs(x))
    out = tmp_path / "small.lutnet"
    result = run_cli("import", "binarybrain", str(SMALL), "--out", str(out), "--shape", "4,4,1", "--classes", "2",
                     "--frames", "4", timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["luts"] == 6
    assert load_model(out).digest() == model.digest()


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace(".INIT(64'h8000000000000000),", ""), "no .INIT"),
    (lambda t: t.replace("64'h8000000000000000", "32'h80000000"), "32 bits wide"),
    (lambda t: t.replace("in_data[9],\n", "", 1), "but 5 inputs wired"),
    (lambda t: t.replace("output wire [1:0]  out_data", "output wire [2:0]  out_data"), "3 bits but 2 LUTs"),
    (lambda t: t.replace(".I5 (in_data[12])", ".I5 (in_data[16])"), "inputs"),
    (lambda t: t.replace("bb_lut", "bb_lux").replace("LUT6", "LUTX"), "no bb_lut"),
])
def test_bad_verilog_names_the_problem(tmp_path, edit, message):
    path = tmp_path / "bad.v"
    path.write_text(edit(SMALL.read_text()))
    with pytest.raises(ModelFormatError, match=message):
        import_binarybrain(path, (4, 4, 1), 2, MOD)


def test_shape_and_classes_are_checked():
    with pytest.raises(ModelFormatError, match="the Verilog reads 16 bits"):
        import_binarybrain(SMALL, (28, 28, 1), 2, MOD)
    with pytest.raises(ModelFormatError, match="do not split evenly"):
        import_binarybrain(SMALL, (4, 4, 1), 3, MOD)
