#!/usr/bin/env python3
"""Instructions per frame of the C engine on the boards' ARM cores, counted under qemu-user, as JSON.

The fused call (modulator, LUT kernel, votes) of tests/native/golden.c, cross-compiled static as the package
and lutrun.codegen build it, runs on built-in MNIST frames under ``-singlestep``; one frame in a batch costs
(count for 2T frames - count for T) / T, T the frames of a whole number of kernel tiles (T * F a multiple of
512 samples), so that both runs take the same path and the difference is whole tiles.  What a core does per
cycle is not emulated: ``frames_per_s`` assumes one instruction per cycle on a 650 MHz Cortex-A9 (PYNQ-Z2) or a 1.2 GHz Cortex-A53 (ZCU104, KV260).
The camera path's C reduction (lr_area_u8, ``golden --area``) is counted the same way, one call against two,
for the crops of a VGA YUYV frame and of BinaryBrain's 640x132 GREY window to 28x28, and so is libjpeg's
decode of an MJPEG frame as the camera path asks for it (grey, DCT-scaled to 1/8: tests/native/jpeg_scaled.c,
linked static against the target's libjpeg, which Debian's multiarch ``libjpeg62-turbo-dev:armhf`` and
``:arm64`` provide; a target without it is reported as such).
Needs Debian's gcc-arm-linux-gnueabihf, gcc-aarch64-linux-gnu and qemu-user-static; run from a checkout:

    python apps/arm_instructions.py [MODEL] [--frames 15,4] [--targets armv7,aarch64]
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402

import lutrun  # noqa: E402
from golden import QEMU, count_instructions, cross_build, write_case  # noqa: E402
from lutrun.codegen import TARGETS  # noqa: E402
from lutrun import native  # noqa: E402
from lutrun.bench.capture import encode, paper_frame  # noqa: E402
from lutrun.datasets import load_idx_dataset  # noqa: E402
from lutrun.stream.sources import builtin_dataset_dir  # noqa: E402

CLOCK_HZ = {"armv7": 650e6, "aarch64": 1.2e9}
CORE = {"armv7": "Cortex-A9 at 650 MHz", "aarch64": "Cortex-A53 at 1.2 GHz"}
# name -> golden --area ROWS COLS STEP OUT_ROWS OUT_COLS: the centred crops lutrun.preprocess reduces
CROPS = {"area_yuyv_640x480": (480, 480, 2, 28, 28), "area_grey_640x132": (132, 132, 1, 28, 28)}
# name -> MJPEG frame size of the camera path's decode, grey at 1/8 (lutrun.stream.decode's scale for 28x28)
JPEGS = {"mjpeg_640x480_grey_1_8": (640, 480), "mjpeg_1280x720_grey_1_8": (1280, 720)}
JPEG_SCALE = 8


def write_jpegs(work: Path, digit: np.ndarray) -> dict[str, Path]:
    """The frames of ``lutrun bench capture``: a digit on lit paper, encoded as a camera's MJPEG."""
    rng = np.random.default_rng(0)
    paths = {}
    for name, (width, height) in JPEGS.items():
        paths[name] = work / f"{name}.jpg"
        paths[name].write_bytes(encode(paper_frame(digit, width, height, rng), "MJPG").tobytes())
    return paths


def jpeg_build(cc: str, out: Path) -> Path | None:
    """tests/native/jpeg_scaled.c static for the compiler's target, or None without that target's libjpeg."""
    out.parent.mkdir(parents=True, exist_ok=True)
    source = Path(__file__).resolve().parents[1] / "tests" / "native" / "jpeg_scaled.c"
    result = subprocess.run([cc, "-O2", "-static", str(source), "-ljpeg", "-o", str(out)], capture_output=True)
    return out if result.returncode == 0 else None


def one_call(instructions: int, target: str) -> dict[str, float]:
    return {"instructions_per_frame": instructions, "us_at_1_ipc": round(instructions / CLOCK_HZ[target] * 1e6, 1)}


def frame_counts(text: str) -> list[int]:
    """--frames: sub-frame counts of 1..64 (a case at F frames runs 512 / gcd(F, 512) frames twice)."""
    try:
        counts = [int(f) for f in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not counts or not all(1 <= f <= 64 for f in counts):
        raise argparse.ArgumentTypeError(f"sub-frame counts must be 1..64, got {text!r}")
    return counts


def board_targets(text: str) -> list[str]:
    targets = text.split(",")
    if not targets or any(t not in CLOCK_HZ for t in targets):
        raise argparse.ArgumentTypeError(f"targets are armv7 and aarch64, got {text!r}")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None, help="a .lutnet path or a zoo name [default: the shipped model]")
    parser.add_argument("--frames", default="15,4", type=frame_counts, help="sub-frames F to count, comma-separated")
    parser.add_argument("--targets", default="armv7,aarch64", type=board_targets, help="armv7, aarch64 or both")
    args = parser.parse_args()
    try:
        model = lutrun.resolve_model(args.model)
    except lutrun.LutrunError as exc:
        sys.exit(f"arm_instructions: {exc}")
    images = load_idx_dataset(builtin_dataset_dir(), "test").images
    frames = args.frames
    samples = 64 * native.require()[1].LR_TILE_WORDS  # one tile of the kernel
    tile = {f: samples // math.gcd(f, samples) for f in frames}  # T
    report = {"benchmark": "arm_instructions", "model": model.summary().get("name", str(args.model)),
              "live_luts": model.live_luts(), "method": "(count(2T frames) - count(T frames)) / T, qemu -singlestep",
              "tile_frames": tile, "targets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jpegs = write_jpegs(work, images[0])
        for f in frames:
            for n in (tile[f], 2 * tile[f]):
                write_case(work / f"F{f}-{n}.case", model.with_modulation(frames=f), np.resize(images, (n, *images.shape[1:])))
        for target in args.targets:
            cc, qemu = shutil.which(TARGETS[target].compilers[0]), shutil.which(QEMU[target])
            if cc is None or qemu is None:
                sys.exit(f"arm_instructions: {TARGETS[target].compilers[0]} and {QEMU[target]} are needed")
            binaries = {"generic": cross_build(target, cc, work / target / "generic" / "golden"),
                        "specialised": cross_build(target, cc, work / target / "special" / "golden", model)}
            counts = {}
            with ThreadPoolExecutor() as pool:
                jobs = {(kernel, f, n): pool.submit(count_instructions, qemu, binary, str(work / f"F{f}-{n}.case"),
                                                    "--classify-only")
                        for kernel, binary in binaries.items() for f in frames for n in (tile[f], 2 * tile[f])}
                areas = {(crop, n): pool.submit(count_instructions, qemu, binaries["generic"], "--area",
                                                *map(str, (*shape, n)))
                         for crop, shape in CROPS.items() for n in (1, 2)}
                decoder = jpeg_build(cc, work / target / "jpeg_scaled")
                decodes = {(name, n): pool.submit(count_instructions, qemu, decoder, str(path), str(n), str(JPEG_SCALE))
                           for name, path in jpegs.items() for n in (1, 2)} if decoder else {}
                for kernel in binaries:
                    for f in frames:
                        per_frame = (jobs[kernel, f, 2 * tile[f]].result() - jobs[kernel, f, tile[f]].result()) / tile[f]
                        counts[f"{kernel}_F{f}"] = {"instructions_per_frame": round(per_frame),
                                                    "frames_per_s_at_1_ipc": round(CLOCK_HZ[target] / per_frame)}
                for crop in CROPS:
                    counts[crop] = one_call(areas[crop, 2].result() - areas[crop, 1].result(), target)
                for name in JPEGS:
                    if not decoder:
                        counts[name] = {"skipped": f"no libjpeg for {target}: apt-get install libjpeg62-turbo-dev:"
                                                   f"{'armhf' if target == 'armv7' else 'arm64'}"}
                        continue
                    counts[name] = one_call(decodes[name, 2].result() - decodes[name, 1].result(), target)
            report["targets"][target] = {"core": CORE[target], **counts}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
