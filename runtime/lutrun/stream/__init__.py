"""Streaming: sources -> preprocess -> engine -> sinks, with per-frame timestamps."""
from lutrun.stream.pipeline import Pipeline, PipelineOptions
from lutrun.stream.sinks import Batch, ConsoleSink, DisplaySink, JsonlSink, Sink, VideoSink
from lutrun.stream.sources import Source, SourceFrame, open_source

__all__ = ["Batch", "ConsoleSink", "DisplaySink", "JsonlSink", "Pipeline", "PipelineOptions", "Sink", "Source",
           "SourceFrame", "VideoSink", "open_source"]
