"""Side-by-side ensembles: several trained LUT networks merged into one.

The merged network runs every part's layers in parallel on the same input bits and
concatenates their outputs, so its class votes are exactly the sum of the parts' votes.
It is a single ordinary ``.lutnet`` (block-diagonal wiring), so every engine runs it
unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lutrun.errors import ConfigError
from lutrun.model import Layer, Model


def ensemble(models: Sequence[Model], name: str = "ensemble") -> Model:
    """One model whose votes are the sum of ``models``' votes, frame by frame."""
    if len(models) < 2:
        raise ConfigError("an ensemble needs at least two models")
    first = models[0]
    for i, model in enumerate(models[1:], start=1):
        _check_compatible(first, model, i)
    layers, offsets = [], [0] * len(models)  # where each part's outputs start in the layer below
    for depth in range(len(first.layers)):
        parts = [model.layers[depth] for model in models]
        inputs = np.concatenate([part.inputs + offset for part, offset in zip(parts, offsets)])
        layers.append(Layer(inputs.astype(np.int32), np.concatenate([part.tables for part in parts])))
        offsets = np.cumsum([0] + [part.width for part in parts[:-1]]).tolist()
    classes = np.concatenate([model.output_classes for model in models]).astype(np.int32)
    info: dict[str, Any] = {"name": name, "ensemble_of": [_provenance(model) for model in models]}
    return Model(first.input_shape, layers, classes, first.class_names, first.modulation, info)


def _check_compatible(first: Model, other: Model, index: int) -> None:
    """Parts must read the same bits, vote for the same classes, and stack layer by layer."""
    what = f"model {index + 1} does not match model 1"
    if other.input_shape != first.input_shape:
        raise ConfigError(f"{what}: input shape {list(other.input_shape)} vs {list(first.input_shape)}")
    if other.class_names != first.class_names:
        raise ConfigError(f"{what}: classes {other.class_names} vs {first.class_names}")
    if other.modulation != first.modulation:
        raise ConfigError(f"{what}: modulation {other.modulation.to_json()} vs {first.modulation.to_json()}")
    if len(other.layers) != len(first.layers):
        raise ConfigError(f"{what}: {len(other.layers)} layers vs {len(first.layers)}")
    for depth, (a, b) in enumerate(zip(first.layers, other.layers)):
        if a.fan_in != b.fan_in:
            raise ConfigError(f"{what}: layer {depth} has {b.fan_in}-input LUTs vs {a.fan_in}")


def _provenance(model: Model) -> dict[str, Any]:
    keep = ("name", "command", "seed", "epochs", "accuracy")
    return {"digest": model.digest(), "luts": model.n_luts, "layers": model.widths,
            **{k: model.info[k] for k in keep if k in model.info}}
