"""The in-memory LUT-network model and every rule a valid model obeys.

The same object feeds the numpy reference, the C engine and the RTL
generator, so all geometry they need lives here.  Validation names the field
as it is called in the ``.lutnet`` file (docs/model-format.md).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lutrun.errors import ModelFormatError
from lutrun.limits import MODEL_BYTES, limit

FORMAT = "lutnet"
VERSION = 1
MAX_FAN_IN = 6
MAX_LAYERS = 256
MAX_WIDTH = 1 << 24
MAX_FRAMES = 4096
MAX_CLASSES = 1 << 16
METHODS = ("thermometer", "stochastic", "sigma-delta")


@dataclass(frozen=True)
class Modulation:
    """How one 8-bit frame becomes F binary sub-frames (docs/modulation.md)."""

    method: str = "thermometer"
    frames: int = 15
    seed: int = 0
    range: tuple[int, int] = (0, 255)

    def __post_init__(self) -> None:
        where = "meta.modulation"
        if self.method not in METHODS:
            raise ModelFormatError(f"{where}.method", f"{self.method!r} is not one of {', '.join(METHODS)}")
        if not _is_int(self.frames) or not 1 <= self.frames <= MAX_FRAMES:
            raise ModelFormatError(f"{where}.frames", f"must be an integer in 1..{MAX_FRAMES}, got {self.frames!r}")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ModelFormatError(f"{where}.seed", f"must be an integer in 0..2**32-1, got {self.seed!r}")
        lo_hi = tuple(self.range) if isinstance(self.range, (list, tuple)) else ()
        if len(lo_hi) != 2 or not all(_is_int(v) for v in lo_hi) or not 0 <= lo_hi[0] < lo_hi[1] <= 255:
            raise ModelFormatError(f"{where}.range", f"must be integers [lo, hi] with 0 <= lo < hi <= 255, got {self.range!r}")
        object.__setattr__(self, "range", (int(lo_hi[0]), int(lo_hi[1])))

    def replace(self, **changes: Any) -> Modulation:
        """A copy with some settings overridden (None means keep)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        return Modulation(**{**self.to_json(), **kept})

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "frames": self.frames, "seed": self.seed, "range": list(self.range)}


@dataclass(frozen=True, eq=False)
class Layer:
    """``width`` LUTs of ``fan_in`` inputs: input indices [n, k] and LUT6.INIT-style tables [n]."""

    inputs: np.ndarray
    tables: np.ndarray

    @property
    def width(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def fan_in(self) -> int:
        return int(self.inputs.shape[1])


@dataclass(eq=False)
class Model:
    """A validated LUT-network; construct it and it is checked, or it raises ModelFormatError."""

    input_shape: tuple[int, int, int]
    layers: list[Layer]
    output_classes: np.ndarray
    class_names: list[str]
    modulation: Modulation = field(default_factory=Modulation)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.input_shape = _check_shape(self.input_shape)
        self.class_names = _check_class_names(self.class_names)
        if not isinstance(self.modulation, Modulation):
            raise ModelFormatError("meta.modulation", "must be a Modulation")
        self.layers = _check_layers(self.layers, self.n_inputs)
        self.output_classes = _check_output_classes(self.output_classes, self.layers[-1].width, self.n_classes)
        if not isinstance(self.info, dict):
            raise ModelFormatError("meta", "provenance must be a JSON object")

    @property
    def n_inputs(self) -> int:
        h, w, c = self.input_shape
        return h * w * c

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].width

    @property
    def n_luts(self) -> int:
        return sum(layer.width for layer in self.layers)

    @property
    def widths(self) -> list[int]:
        return [layer.width for layer in self.layers]

    def digest(self) -> str:
        """SHA-256 over everything that decides the model's outputs (cache key for compiled forms)."""
        h = hashlib.sha256(json.dumps([self.input_shape, self.class_names, self.modulation.to_json()]).encode())
        for layer in self.layers:
            h.update(np.ascontiguousarray(layer.inputs, "<i4").tobytes())
            h.update(np.ascontiguousarray(layer.tables, "<u8").tobytes())
        h.update(np.ascontiguousarray(self.output_classes, "<i4").tobytes())
        return h.hexdigest()

    def net_digest(self) -> str:
        """SHA-256 of the LUT network alone (input count and layers): all a compiled kernel depends on."""
        h = hashlib.sha256(str(self.n_inputs).encode())
        for layer in self.layers:
            h.update(np.ascontiguousarray(layer.inputs, "<i4").tobytes())
            h.update(np.ascontiguousarray(layer.tables, "<u8").tobytes())
        return h.hexdigest()

    def live_masks(self, votes_only: bool = True) -> list[np.ndarray]:
        """Per layer, which LUTs reach the last layer (``votes_only``: an output of it that votes).

        >>> m = random_model((4, 4, 1), (64, 8), fan_in=2, n_classes=2, seed=1)
        >>> int(m.live_masks()[0].sum()) <= 16 < 64     # 8 two-input LUTs read at most 16 of layer 0
        True
        """
        live = self.output_classes >= 0 if votes_only else np.ones(self.n_outputs, bool)
        masks = [live]
        for layer, below in zip(self.layers[:0:-1], self.layers[-2::-1]):
            feeding = np.zeros(below.width, bool)
            feeding[layer.inputs[live].ravel()] = True
            masks.insert(0, live := feeding)
        return masks

    def live_luts(self) -> int:
        """LUTs whose output reaches a vote: what an engine evaluates and synthesis keeps."""
        return int(sum(mask.sum() for mask in self.live_masks()))

    def pruned(self) -> Model:
        """The same outputs from fewer LUTs: those of the hidden layers that reach no output are removed
        (every output bit, voting or not, is unchanged; the last layer is kept whole)."""
        masks = self.live_masks(votes_only=False)
        if all(mask.all() for mask in masks):
            return self
        layers, renumber = [], None
        for layer, keep in zip(self.layers, masks):
            inputs = layer.inputs[keep] if renumber is None else renumber[layer.inputs[keep]]
            layers.append(Layer(inputs.astype(np.int32), layer.tables[keep]))
            renumber = np.cumsum(keep) - 1
        return Model(self.input_shape, layers, self.output_classes, self.class_names, self.modulation, dict(self.info))

    def with_modulation(self, **changes: Any) -> Model:
        """The same network with some modulation settings overridden."""
        return Model(self.input_shape, self.layers, self.output_classes, self.class_names,
                     self.modulation.replace(**changes), dict(self.info))

    def summary(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "classes": self.n_classes,
            "layers": [f"{layer.width}x{layer.fan_in}" for layer in self.layers],
            "luts": self.n_luts,
            "live_luts": self.live_luts(),
            "modulation": self.modulation.to_json(),
            "digest": self.digest()[:16],
            **{k: v for k, v in self.info.items() if k in ("name", "dataset", "accuracy", "created")},
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_shape(shape: Any) -> tuple[int, int, int]:
    dims = tuple(shape) if isinstance(shape, (list, tuple)) else ()
    if len(dims) != 3 or not all(_is_int(d) and 1 <= d <= 65536 for d in dims):
        raise ModelFormatError("meta.input_shape", f"must be [H, W, C] of positive integers, got {shape!r}")
    if dims[0] * dims[1] * dims[2] > MAX_WIDTH:
        raise ModelFormatError("meta.input_shape", f"{dims} has more than {MAX_WIDTH} inputs")
    return (int(dims[0]), int(dims[1]), int(dims[2]))


def _check_class_names(names: Any) -> list[str]:
    if not isinstance(names, (list, tuple)) or not 1 <= len(names) <= MAX_CLASSES:
        raise ModelFormatError("meta.class_names", f"must be a list of 1..{MAX_CLASSES} names")
    if not all(isinstance(n, str) for n in names):
        raise ModelFormatError("meta.class_names", "every class name must be a string")
    return list(names)


def _check_layers(layers: Any, n_inputs: int) -> list[Layer]:
    if not isinstance(layers, (list, tuple)) or not 1 <= len(layers) <= MAX_LAYERS:
        raise ModelFormatError("layer0_inputs", f"a model needs 1..{MAX_LAYERS} layers")
    checked, prev = [], n_inputs
    for i, layer in enumerate(layers):
        inputs, tables = np.asarray(layer.inputs), np.asarray(layer.tables)
        name = f"layer{i}_inputs"
        if inputs.dtype != np.int32 or inputs.ndim != 2:
            raise ModelFormatError(name, f"must be a 2-d int32 array, got {inputs.dtype} with shape {inputs.shape}")
        n, k = inputs.shape
        if not 1 <= n <= MAX_WIDTH or not 1 <= k <= MAX_FAN_IN:
            raise ModelFormatError(name, f"shape {inputs.shape}: need 1..{MAX_WIDTH} LUTs of 1..{MAX_FAN_IN} inputs")
        if inputs.min() < 0 or inputs.max() >= prev:
            raise ModelFormatError(name, f"indices must lie in 0..{prev - 1} (the previous layer's outputs)")
        name = f"layer{i}_tables"
        if tables.dtype != np.uint64 or tables.shape != (n,):
            raise ModelFormatError(name, f"must be uint64 of shape ({n},), got {tables.dtype} {tables.shape}")
        if k < MAX_FAN_IN and np.any(tables >> np.uint64(1 << k)):
            raise ModelFormatError(name, f"a {k}-input LUT has only {1 << k} table bits; higher bits are set")
        checked.append(Layer(np.ascontiguousarray(inputs), np.ascontiguousarray(tables)))
        prev = n
    return checked


def _check_output_classes(classes: Any, n_out: int, n_classes: int) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.dtype != np.int32 or classes.shape != (n_out,):
        raise ModelFormatError("output_classes", f"must be int32 of shape ({n_out},), got {classes.dtype} {classes.shape}")
    if classes.min() < -1 or classes.max() >= n_classes:
        raise ModelFormatError("output_classes", f"class ids must lie in -1..{n_classes - 1}")
    return np.ascontiguousarray(classes)


def round_robin_classes(n_outputs: int, n_classes: int) -> np.ndarray:
    """The usual voting: output o votes for class o mod n_classes (int32 [n_outputs]).

    >>> round_robin_classes(5, 2).tolist()
    [0, 1, 0, 1, 0]
    """
    return (np.arange(n_outputs) % n_classes).astype(np.int32)


def random_model(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    widths: tuple[int, ...] = (2304, 384, 64, 360, 60, 10),
    fan_in: int | tuple[int, ...] = 6,
    n_classes: int = 10,
    seed: int = 0,
    modulation: Modulation | None = None,
) -> Model:
    """A model with random wiring and tables: for benchmarks and cross-checks, not for accuracy.

    >>> random_model((4, 4, 1), (8, 3), fan_in=(6, 2), n_classes=3).summary()["layers"]
    ['8x6', '3x2']
    """
    rng = np.random.default_rng(seed)
    fan_ins = (fan_in,) * len(widths) if isinstance(fan_in, int) else tuple(fan_in)
    if len(fan_ins) != len(widths):
        raise ModelFormatError("layer0_inputs", "give one fan-in per layer")
    # The size a model file may have (docs/limits.md), checked before anything is allocated.
    if not 1 <= len(widths) <= MAX_LAYERS or any(not 1 <= w <= MAX_WIDTH for w in widths):
        raise ModelFormatError("layer0_inputs", f"a model has 1..{MAX_LAYERS} layers of 1..{MAX_WIDTH} LUTs")
    nbytes = sum(w * (4 * k + 8) for w, k in zip(widths, fan_ins))
    if nbytes > limit(MODEL_BYTES):
        raise ModelFormatError("layer0_inputs", f"{sum(widths)} LUTs take {nbytes} bytes, over the "
                               f"{limit(MODEL_BYTES)} byte limit (LUTRUN_MAX_MODEL_BYTES raises it)")
    prev = input_shape[0] * input_shape[1] * input_shape[2]
    layers = []
    for n, k in zip(widths, fan_ins):
        inputs = rng.integers(0, prev, size=(n, k), dtype=np.int32)
        tables = rng.integers(0, 2**64, size=n, dtype=np.uint64)
        if k < MAX_FAN_IN:
            tables &= np.uint64((1 << (1 << k)) - 1)
        layers.append(Layer(inputs, tables))
        prev = n
    classes = round_robin_classes(prev, n_classes)
    return Model(input_shape, layers, classes, [str(c) for c in range(n_classes)],
                 modulation or Modulation(), {"name": f"random-{seed}"})
