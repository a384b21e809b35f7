"""Training settings: one dataclass, filled from a TOML file and/or command-line flags."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lutrun.errors import ConfigError
from lutrun.model import METHODS
from lutrun.tomlfile import read_toml
from lutrun.train.wiring import parse_conv

WIRINGS = ("random", "local")
DEVICES = ("auto", "cpu", "cuda")
# Keys that steer a run rather than the model: accepted in a config file, kept out of the model's provenance.
RUN_KEYS = ("resume", "quiet", "device")


# What a value of each annotated type may be: a config file's TOML or an API caller's Python object
# reaches here without the flags' type conversion.
_TYPES: dict[str, tuple[str, Any]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "int | None": ("an integer", lambda v: v is None or isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "list[int]": ("a list of integers", lambda v: isinstance(v, list)
                  and all(isinstance(x, int) and not isinstance(x, bool) for x in v)),
    "list[str]": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
}


def _check_type(name: str, annotation: Any, value: Any) -> None:
    what, accepts = _TYPES[str(annotation)]
    if not accepts(value):
        raise ConfigError(f"{name} must be {what}, got {value!r}")


@dataclass
class TrainConfig:
    """Every setting of a training run; the defaults are the shipped model's recipe (docs/models.md).

    A config file's keys are these names, which are also the flags' (``fan_in`` or ``fan-in``).
    """

    data: str = ""
    out: str = "model.lutnet"
    input_shape: list[int] = field(default_factory=list)
    layers: list[int] = field(default_factory=lambda: [2000, 800, 400])
    fan_in: int = 6
    wiring: list[str] = field(default_factory=list)  # empty: local for the first layer, random above
    window: int = 7
    teacher: str = ""
    distill: float = 0.5
    learn_wiring: bool = False
    conv: list[str] = field(default_factory=list)
    shift: int = 1
    elastic: float = 0.0
    method: str = "thermometer"
    frames: int = 15
    train_frames: int = 5
    epochs: int = 30
    batch: int = 128
    lr: float = 0.03
    temperature: float = 0.05
    seed: int = 1
    limit: int | None = None
    validation: int = 5000
    checkpoint: str = ""
    name: str = "lutnet"
    device: str = "auto"
    resume: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, f.type, getattr(self, f.name))
        if self.input_shape and (len(self.input_shape) != 3 or min(self.input_shape) < 1 or self.input_shape[2] not in (1, 3)):
            raise ConfigError(f"input_shape is H,W,C with C 1 (grey) or 3 (colour), got {self.input_shape}")
        if self.device.partition(":")[0] not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {self.device!r}")
        if not self.layers or min(self.layers) < 1:
            raise ConfigError("layers must be positive widths")
        if not self.wiring:
            self.wiring = ["local"] + ["random"] * (len(self.layers) - 1)
        if len(self.wiring) == 1:
            self.wiring = self.wiring * len(self.layers)
        if len(self.wiring) != len(self.layers) or any(w not in WIRINGS for w in self.wiring):
            raise ConfigError(f"wiring needs one of {WIRINGS} per layer, got {self.wiring}")
        for spec in self.conv:
            try:
                parse_conv(spec)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.learn_wiring and self.conv:
            raise ConfigError("learn_wiring learns the first LUT layer's connections to the image; a conv stage "
                              "shares its tables by position and cannot (drop one of them)")
        if not 0 <= self.distill <= 1:
            raise ConfigError("distill (the teacher's weight) must be in 0..1")
        if not 1 <= self.fan_in <= 6:
            raise ConfigError("fan_in must be 1..6")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}")
        if not 1 <= self.train_frames <= self.frames:
            raise ConfigError("train_frames must be in 1..frames")
        if not 0 <= self.shift <= 4:
            raise ConfigError("shift (augmentation, pixels) must be in 0..4")
        if not 0 <= self.elastic <= 100:
            raise ConfigError("elastic (augmentation, pixels) must be in 0..100")
        if self.epochs < 1 or self.batch < 1 or self.lr <= 0 or self.temperature <= 0:
            raise ConfigError("epochs, batch, lr and temperature must be positive")

    @classmethod
    def load(cls, path: str | Path | None, **overrides: Any) -> TrainConfig:
        """Settings from a TOML file (its keys are the field names), then non-None overrides."""
        values: dict[str, Any] = {}
        if path is not None:
            values = {k.replace("-", "_"): v for k, v in read_toml(path, "train").items()}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """The settings that decide the model (run keys left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in RUN_KEYS}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each setting's default, as ``--help`` shows it."""
        return {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in dataclasses.fields(cls)}
