"""The PYNQ driver through pynq's own classes (Overlay, allocate, the AXI DMA driver) on the simulated device.

pynq pins numpy < 2, so these run in the numpy-1.26 environment of ``make test`` (``.venv-np1``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

pynq = pytest.importorskip("pynq")

from pynq.buffer import PynqBuffer  # noqa: E402
from pynq.lib.dma import DMA  # noqa: E402

from lutrun.datasets import load_idx_dataset  # noqa: E402
from lutrun.engines import create_engine  # noqa: E402
from lutrun.errors import BackendUnavailableError, ConfigError, HardwareError  # noqa: E402
from lutrun.fpga.driver import LutnetCore  # noqa: E402
from lutrun.fpga.engine import sim_overlay  # noqa: E402
from lutrun.model import Modulation, random_model  # noqa: E402
from lutrun.resources import resolve_model  # noqa: E402
from lutrun.stream.sources import builtin_dataset_dir  # noqa: E402
from lutrun.temporal import Temporal  # noqa: E402

from conftest import run_cli  # noqa: E402


@pytest.fixture(scope="module")
def mnist():
    data = load_idx_dataset(builtin_dataset_dir(), "test")
    return data.images, data.labels


@pytest.fixture(scope="module")
def default_sim():
    with create_engine("sim", resolve_model(None), batch=300, p_valid=0.8, p_ready=0.6, seed=4) as engine:
        yield engine


def test_mnist_frames_round_trip_through_the_driver_as_the_cpu_engine_scores_them(default_sim, mnist):
    images, _ = mnist
    expected = create_engine("cpu", resolve_model(None)).classify(images, frame0=9)
    got = default_sim.classify(images, frame0=9)  # 1,000 frames: four DMA transfers of at most 300
    np.testing.assert_array_equal(got, expected)
    described = default_sim.describe()
    assert described["transfers"] == 4 and described["batch"] == 300
    assert described["hardware"]["digest"] == resolve_model(None).digest()[:8]


def test_the_real_pynq_classes_are_in_play(default_sim):
    assert isinstance(default_sim.overlay, pynq.Overlay)
    assert isinstance(default_sim.core, LutnetCore) and isinstance(default_sim.dma, DMA)
    assert isinstance(default_sim._in, PynqBuffer) and default_sim._in.physical_address % 64 == 0
    assert default_sim.dma.sendchannel._max_size == (1 << 26) - 1  # the length register the Tcl script sets
    assert default_sim.overlay.ip_dict["lutnet_0"]["type"] == "xilinx.com:module_ref:lutnet_axis:1.0"


def test_temporal_mode_through_the_driver(mnist):
    images, _ = mnist
    model = resolve_model(None)
    with create_engine("sim", model, temporal=Temporal(4), batch=128) as engine:
        got = engine.classify(images[:400], frame0=2**32 - 100)
    want = create_engine("cpu", model, temporal=Temporal(4)).classify(images[:400], frame0=2**32 - 100)
    np.testing.assert_array_equal(got, want)


def test_a_dma_that_never_completes_ends_in_the_timeout_error(mnist):
    images, _ = mnist
    model = random_model((28, 28, 1), (50, 20), n_classes=10, seed=2)
    engine = create_engine("sim", model, timeout=0.3)
    engine.device.faults.add("s2mm-stall")
    start = time.monotonic()
    with pytest.raises(HardwareError, match="did not complete within 0.3 s"):
        engine.classify(images[:10])
    assert time.monotonic() - start < 5
    engine.device.faults.clear()  # the channel was restarted: the next call works
    np.testing.assert_array_equal(engine.classify(images[:10]), create_engine("cpu", model).classify(images[:10]))


def test_an_overlay_for_another_model_is_refused_by_its_registers(tmp_path):
    model = random_model((4, 4, 1), (12, 6), n_classes=3, seed=1, modulation=Modulation("sigma-delta", 7, 0, (0, 255)))
    other = random_model((4, 4, 1), (12, 6), n_classes=3, seed=2, modulation=Modulation("sigma-delta", 7, 0, (0, 255)))
    from lutrun.fpga.simdevice import SimDevice

    bit = sim_overlay(model)
    with pytest.raises(HardwareError, match="built for another model: digest"):
        create_engine("fpga", other, overlay=str(bit), device=SimDevice(), download=False)
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        create_engine("fpga", model, overlay=str(tmp_path / "none.bit"))
    with pytest.raises(ConfigError, match="p_valid and p_ready"):
        create_engine("sim", model, p_valid=0)
    bit_copy = tmp_path / "copy.bit"
    bit_copy.write_text(bit.read_text())  # no .hwh beside it
    with pytest.raises(HardwareError, match="hwh must sit beside the .bit"):
        create_engine("fpga", model, overlay=str(bit_copy), device=SimDevice(), download=False)


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_without_a_board_the_fpga_engine_says_so():
    bit = sim_overlay(random_model((2, 2, 1), (4,), n_classes=2, modulation=Modulation("thermometer", 3, 0, (0, 255))))
    result = _python("import lutrun\n"
                     "m = lutrun.random_model((2, 2, 1), (4,), n_classes=2, "
                     "modulation=lutrun.Modulation('thermometer', 3, 0, (0, 255)))\n"
                     f"lutrun.create_engine('fpga', m, overlay={str(bit)!r})", LUTRUN_PYNQ_SIM="0")
    assert result.returncode != 0 and "pynq finds no device here" in result.stderr


def test_an_unmodified_pynq_script_runs_on_the_simulated_device():
    """LUTRUN_PYNQ_SIM=1: pynq's probe finds the simulated board; a script written for a real one runs as is."""
    model = random_model((3, 3, 1), (10, 6), n_classes=2, seed=6, modulation=Modulation("thermometer", 5, 0, (0, 255)))
    bit = sim_overlay(model)
    frames = np.random.default_rng(0).integers(0, 256, (5, 9), dtype=np.uint8)
    code = f"""
import json, numpy as np, pynq
import lutrun.fpga.simdevice, lutrun.fpga.driver
ol = pynq.Overlay({str(bit)!r}, download=False)
core, dma = ol.lutnet_0, ol.axi_dma_0
src = pynq.allocate((5, 16), np.uint8)
dst = pynq.allocate((5, 2), np.int32)
src[:, :9] = np.array({frames.tolist()})
core.write(0x14, 5)
dma.recvchannel.transfer(dst)
dma.sendchannel.transfer(src)
dma.sendchannel.wait(); dma.recvchannel.wait()
print(json.dumps({{"device": type(pynq.Device.active_device).__name__, "scores": dst.tolist()}}))
"""
    result = _python(code, LUTRUN_PYNQ_SIM="1")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["device"] == "SimDevice"
    assert out["scores"] == create_engine("cpu", model).classify(frames.reshape(5, 3, 3)).tolist()


def test_cli_eval_and_demo_run_on_the_sim_engine(default_sim):
    result = run_cli("eval", "--engine", "sim", "--data", str(builtin_dataset_dir()), "--limit", "300")
    assert result.returncode == 0, result.stderr
    cpu = run_cli("eval", "--engine", "cpu", "--data", str(builtin_dataset_dir()), "--limit", "300")
    assert json.loads(result.stdout)["confusion"] == json.loads(cpu.stdout)["confusion"]
    result = run_cli("demo", "--engine", "sim", "--source", "builtin?loop=1&rate=0&limit=200", "--headless")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["frames"] == 200 and summary["engine"]["engine"] == "sim"
    bad = run_cli("eval", "--engine", "cpu", "--overlay", "x.bit", "--data", str(builtin_dataset_dir()))
    assert bad.returncode == 1 and "--overlay names the bitstream of --engine fpga" in bad.stderr
