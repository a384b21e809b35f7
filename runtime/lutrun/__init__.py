"""lutrun: streaming real-time inference for LUT-networks, bit-exact on CPU and FPGA.

A model file (``.lutnet``) holds LUT layers, input geometry, modulation and class voting;
an engine turns uint8 frames into class scores with it; a pipeline streams frames from
sources through an engine to sinks.

>>> import numpy as np, lutrun
>>> model = lutrun.resolve_model("mnist-3200")        # a zoo name (`lutrun models`) or a .lutnet path
>>> engine = lutrun.create_engine("cpu", model)        # or "numpy", "sim", "fpga"
>>> scores = engine.classify(np.zeros((2, 28, 28), np.uint8))
>>> scores.shape, scores.dtype
((2, 10), dtype('int32'))

Data flows ``sources -> preprocess -> modulate -> engines -> votes -> sinks``;
``model`` and ``native`` sit underneath, ``cli`` on top.  Streaming (``Pipeline``,
``open_source``, sources and sinks) is ``lutrun.stream``, which needs OpenCV.
"""
from __future__ import annotations

from lutrun.engines import Engine, create_engine, engine_names, register_engine
from lutrun.errors import (BackendUnavailableError, ConfigError, DataError, HardwareError, InputShapeError,
                           LutrunError, ModelFormatError, NativeError, PipelineError)
from lutrun.model import Layer, Model, Modulation, random_model
from lutrun.modelfile import load_model, save_model
from lutrun.resources import DEFAULT_MODEL, resolve_model
from lutrun.rtl import export_rtl
from lutrun.temporal import Temporal

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "BackendUnavailableError",
    "ConfigError",
    "DataError",
    "Engine",
    "HardwareError",
    "InputShapeError",
    "Layer",
    "LutrunError",
    "Model",
    "ModelFormatError",
    "Modulation",
    "NativeError",
    "PipelineError",
    "Temporal",
    "create_engine",
    "engine_names",
    "export_rtl",
    "load_model",
    "random_model",
    "register_engine",
    "resolve_model",
    "save_model",
]
