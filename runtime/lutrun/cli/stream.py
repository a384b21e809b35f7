"""``lutrun demo``: classify a live stream through the pipeline."""
from __future__ import annotations

from typing import Any

import click

from lutrun.cli.common import (VIDEO_FILE, OutputFile, emit, engine_option, engine_options, frames_option, model_for, model_input,
                               overlay_option, temporal_options, with_options)


@click.command()
@model_input
@click.option("--source", "source_specs", multiple=True, default=["builtin"],
              help="builtin, camera:N, video:PATH, images:DIR or dataset:DIR, options after '?', "
                   "e.g. dataset:DIR?rate=1000&shift=2 (docs/streaming.md). Repeat for several streams.")
@engine_option
@click.option("--specialise", is_flag=True, help="cpu: compile C for this model first (~4 s once on 2 cores, then cached).")
@overlay_option
@with_options(temporal_options)
@frames_option
@click.option("--display/--headless", default=False, help="Show an annotated window (needs OpenCV's GUI build: "
              "the gui extra, docs/streaming.md).")
@click.option("--record", type=VIDEO_FILE, help="Write an annotated video (.mp4 or .avi).")
@click.option("--jsonl", type=OutputFile(), help="Write one JSON line per frame.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), help="Stop after S seconds.")
@click.option("--policy", type=click.Choice(["latest", "all"]), help="Drop stale frames or never drop "
              "[default: latest for cameras, all otherwise].")
@click.option("--status-every", type=click.IntRange(1), help="A status line every N frames [default: every second].")
@click.option("--invert", is_flag=True, help="Swap black and white (dark digits on white paper).")
@click.option("--normalize", is_flag=True, help="Stretch each frame's contrast to 0..255 (uneven lighting).")
@click.option("--decoders", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Threads decoding each MJPEG or YUV source's frames, in order (a board's ARM cores: docs/streaming.md).")
def demo(model: str | None, source_specs: tuple[str, ...], engine_name: str, specialise: bool, overlay: str | None,
         temporal: bool, temporal_shift: int | None, frames: int | None, display: bool, record: str | None,
         jsonl: str | None, duration: float | None, policy: str | None, status_every: int | None, invert: bool,
         normalize: bool, decoders: int) -> None:
    """Classify a live stream with MODEL and print a running status, then a JSON summary.

    With no options: the shipped model on the built-in stream (1,000 MNIST test images, five times, at 1000 fps).
    """
    from lutrun.engines import create_engine
    from lutrun.stream import ConsoleSink, DisplaySink, JsonlSink, Pipeline, PipelineOptions, VideoSink, open_source
    from lutrun.stream.sinks import display_available

    lutnet = model_for(model).with_modulation(frames=frames)
    sources = [open_source(spec) for spec in source_specs]
    sinks: list[Any] = [ConsoleSink(every_frames=status_every)]
    if display:
        why_not = display_available()
        if why_not:
            click.echo(f"lutrun: no window ({why_not}); running headless", err=True)
        else:
            sinks.append(DisplaySink())
    if record:
        sinks.append(VideoSink(record))
    if jsonl:
        sinks.append(JsonlSink(jsonl))
    options = engine_options(engine_name, lutnet, specialise, overlay, temporal, temporal_shift)
    with create_engine(engine_name, lutnet, **options) as engine:
        pipeline = Pipeline(sources, engine, sinks, PipelineOptions(policy=policy, decoders=decoders,
                                                                    preprocess={"invert": invert, "normalize": normalize}))
        emit(pipeline.run(duration=duration))
