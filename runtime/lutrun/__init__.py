"""lutrun: streaming real-time inference for LUT-networks.

Data flows ``sources -> preprocess -> modulate -> engines -> votes -> sinks``;
``model`` and ``native`` sit underneath, ``cli`` on top.
"""
from lutrun.engines import create_engine, engine_names
from lutrun.errors import LutrunError, ModelFormatError
from lutrun.model import Layer, Model, Modulation, random_model
from lutrun.modelfile import load_model, save_model
from lutrun.rtl import export_rtl
from lutrun.temporal import Temporal

__version__ = "0.1.0"

__all__ = [
    "Layer",
    "LutrunError",
    "Model",
    "ModelFormatError",
    "Modulation",
    "Temporal",
    "create_engine",
    "engine_names",
    "export_rtl",
    "load_model",
    "random_model",
    "save_model",
]
