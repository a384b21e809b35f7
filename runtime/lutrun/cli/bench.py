"""``lutrun bench``: benchmarks, each printing one JSON object (medians, measured in one run)."""
from __future__ import annotations

import click

from lutrun.cli.common import (IMAGE_FILE, OutputDir, OutputFile, emit, engine_option, engine_options, frames_option,
                               generic_option, int_list, model_for, model_input, overlay_option)
from lutrun.model import METHODS


@click.group()
def bench() -> None:
    """Benchmarks; each prints one JSON object."""


@bench.command("engine")
@model_input
@click.option("--layers", callback=int_list, help="Instead of MODEL, a random model of these widths, "
              "e.g. 2304,384,64,360,60,10.")
@click.option("--k", default=6, type=click.IntRange(1, 6), help="Fan-in of the random model's LUTs.")
@click.option("--samples", default=1 << 16, type=click.IntRange(64), help="Sub-frame samples per timed call.")
@click.option("--threads", type=click.IntRange(1), help="Threads for the all-cores figure [default: all cores].")
@generic_option
def bench_engine_cmd(model: str | None, layers: tuple[int, ...] | None, k: int, samples: int, threads: int | None,
                     generic: bool) -> None:
    """LUT-samples per second of the C engine (one core and all cores) and of the numpy reference."""
    from lutrun.bench.engine import bench_engine

    emit(bench_engine(model_for(model, layers, k), samples=samples, threads=threads, specialise=not generic))


@bench.command("fused")
@model_input
@click.option("--layers", callback=int_list, help="Instead of MODEL, a random model of these widths, e.g. "
              "8000,8000,8000,8000,8000,8000 (with --k 2: difflogic's MNIST-small shape).")
@click.option("--k", default=6, type=click.IntRange(1, 6), help="Fan-in of the random model's LUTs.")
@click.option("--input", "input_shape", default="28,28,1", callback=int_list, help="The random model's H,W,C.")
@click.option("--classes", default=10, type=click.IntRange(1, 4096), help="The random model's classes "
              "(its last layer's outputs vote round robin).")
@frames_option
@click.option("--method", type=click.Choice(list(METHODS)), help="Modulation [default: the model's].")
@click.option("--count", default=100_000, type=click.IntRange(1), help="Single frames timed.")
@click.option("--batch", default=8192, type=click.IntRange(1), help="Frames per batch call.")
@generic_option
def bench_fused_cmd(model: str | None, layers: tuple[int, ...] | None, k: int, input_shape: tuple[int, ...],
                    classes: int, frames: int | None, method: str | None, count: int, batch: int,
                    generic: bool) -> None:
    """Fused frame -> scores call: single-frame p50/p99 latency, batch frames/s and the per-stage split (one core)."""
    from lutrun.bench.fused import bench_fused

    lutnet = model_for(model, layers, k, input_shape=input_shape, classes=classes).with_modulation(
        frames=frames, method=method)
    emit(bench_fused(lutnet, count=count, batch=batch, specialise=not generic))


@bench.command("latency")
@model_input
@click.option("--scenario", default="Server", type=click.Choice(["SingleStream", "MultiStream", "Server", "Offline"]))
@click.option("--rate", default=1000.0, type=click.FloatRange(0, min_open=True),
              help="Server: frames per second (Poisson arrivals, as LoadGen issues them).")
@click.option("--duration", default=60.0, type=click.FloatRange(0, min_open=True), help="Minimum seconds of the run.")
@engine_option
@overlay_option
@click.option("--data", help="idx dataset directory [default: the built-in sample].")
@click.option("--streams", default=4, type=click.IntRange(1), help="MultiStream: frames per query.")
@frames_option
@click.option("--policy", type=click.Choice(["latest", "all"]), help="Override the scenario's drop policy.")
@click.option("--queue", default=32, type=click.IntRange(1), help="Frames that may wait before "
              "the oldest is dropped (latest policy).")
@click.option("--histogram", type=IMAGE_FILE, help="Also save a latency histogram PNG here (needs lutrun[plot]).")
@click.option("--logdir", type=OutputDir(), help="Keep LoadGen's logs (mlperf_log_*) in this folder.")
@generic_option
def bench_latency_cmd(model: str | None, scenario: str, rate: float, duration: float, engine_name: str,
                      overlay: str | None, data: str | None, streams: int, frames: int | None, policy: str | None,
                      queue: int, histogram: str | None, logdir: str | None, generic: bool) -> None:
    """End-to-end latency of the whole pipeline under an MLPerf scenario (MLCommons LoadGen)."""
    from lutrun.bench.latency import bench_latency, save_histogram

    lutnet = model_for(model).with_modulation(frames=frames)
    options = engine_options(engine_name, lutnet, specialise=not generic, overlay=overlay)
    result, latencies_ms = bench_latency(lutnet, scenario, rate, duration, engine_name, data, streams, policy, queue,
                                         engine_options=options, logdir=logdir)
    emit(result)  # the results first: a side file cannot lose them
    if histogram:
        save_histogram(latencies_ms, histogram, f"{scenario}, {result['frames']} frames")


@bench.command("capture")
@model_input
@click.option("--data", help="idx dataset directory whose test digits are printed on the frames "
              "[default: the built-in sample].")
@click.option("--frames", "count", default=50, type=click.IntRange(1, 10_000), help="Distinct frames per case.")
@click.option("--repeats", default=500, type=click.IntRange(10), help="Timed calls per stage and path.")
@click.option("--video", type=OutputFile(), help="Instead, write the --frames digits on paper as a VGA MJPEG AVI "
              "(a webcam's recording) for `lutrun demo --source video:FILE --invert`.")
def bench_capture_cmd(model: str | None, data: str | None, count: int, repeats: int, video: str | None) -> None:
    """Camera frame -> model input: µs per frame of decode and preprocess for MJPEG, YUYV and GREY at camera sizes."""
    from lutrun.bench.capture import bench_capture, write_paper_video
    from lutrun.datasets import load_idx_dataset
    from lutrun.stream.sources import builtin_dataset_dir

    digits = load_idx_dataset(data or builtin_dataset_dir(), "test", count).images
    if video:
        emit({"video": video, "frames": write_paper_video(video, digits), "format": "MJPG", "size": [640, 480]})
        return
    emit(bench_capture(model_for(model), digits, repeats))


@bench.command("rtl")
@model_input
@click.option("--data", help="idx dataset directory [default: the built-in sample of 1,000 MNIST frames].")
@click.option("--limit", type=click.IntRange(1), help="Only the first N frames.")
@click.option("--clock-mhz", default=200.0, type=click.FloatRange(1, 1000))
@click.option("--temporal", is_flag=True, help="Temporal mode (one sub-frame per frame).")
@click.option("--stages-every", default=1, type=click.IntRange(1))
@click.option("--pixels-per-beat", default="8", type=click.Choice(["1", "2", "4", "8"]))
def bench_rtl_cmd(model: str | None, data: str | None, limit: int | None, clock_mhz: float, temporal: bool,
                  stages_every: int, pixels_per_beat: str) -> None:
    """Co-simulate the overlay (Verilator) on real frames: mismatches against the C engine, clocks, frames/s."""
    from lutrun.bench.rtl import bench_rtl
    from lutrun.datasets import load_idx_dataset
    from lutrun.stream.sources import builtin_dataset_dir

    images = load_idx_dataset(data or builtin_dataset_dir(), "test", limit).images
    emit(bench_rtl(model_for(model), images, clock_mhz, temporal, stages_every=stages_every,
                   pixels_per_beat=int(pixels_per_beat)))
