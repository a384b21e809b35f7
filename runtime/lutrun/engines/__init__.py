"""Engine registry: one interface (lutrun.engines.base.Engine), several back ends.

Back ends are named by import path so that one needing optional packages
(pynq for ``fpga``, Verilator for ``sim``) costs nothing until it is asked for.
"""
from __future__ import annotations

import importlib
from typing import Any

from lutrun.engines.base import Engine
from lutrun.errors import ConfigError
from lutrun.model import Model

_REGISTRY: dict[str, str] = {
    "numpy": "lutrun.engines.reference:ReferenceEngine",
    "cpu": "lutrun.engines.cpu:CpuEngine",
    "fpga": "lutrun.fpga.engine:FpgaEngine",
    "sim": "lutrun.fpga.engine:SimEngine",
}


def register_engine(name: str, target: str) -> None:
    """Register ``"package.module:Class"`` under ``name`` (for plug-in back ends)."""
    _REGISTRY[name] = target


def engine_names() -> list[str]:
    return sorted(_REGISTRY)


def create_engine(name: str, model: Model, **options: Any) -> Engine:
    """Build engine ``name`` for ``model``; options go to its constructor.

    ``numpy`` (the reference), ``cpu`` (``threads=``, ``specialise=``), ``sim`` and ``fpga``
    (``overlay=`` a .bit); every engine takes ``modulation=`` and ``temporal=``.

    >>> import lutrun
    >>> engine = lutrun.create_engine("cpu", lutrun.random_model((4, 4, 1), (8, 3), n_classes=3), threads=1)
    >>> engine.name, engine_names()
    ('cpu', ['cpu', 'fpga', 'numpy', 'sim'])
    """
    if name not in _REGISTRY:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(engine_names())}")
    module_name, class_name = _REGISTRY[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(model, **options)


__all__ = ["Engine", "create_engine", "engine_names", "register_engine"]
