"""Training settings: one dataclass, filled from a TOML file and/or command-line flags."""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lutrun.errors import ConfigError
from lutrun.model import METHODS
from lutrun.train.wiring import parse_conv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

WIRINGS = ("random", "local")


@dataclass
class TrainConfig:
    data: str = ""
    out: str = "model.lutnet"
    layers: list[int] = field(default_factory=lambda: [2000, 800, 400])
    fan_in: int = 6
    wiring: list[str] = field(default_factory=lambda: ["local", "random", "random"])
    window: int = 7
    conv: list[str] = field(default_factory=list)
    shift: int = 0
    method: str = "thermometer"
    frames: int = 15
    train_frames: int = 5
    epochs: int = 10
    batch: int = 128
    lr: float = 0.01
    temperature: float = 0.05
    seed: int = 1
    limit: int | None = None
    validation: int = 5000
    checkpoint: str = ""
    name: str = "lutnet"

    def __post_init__(self) -> None:
        if not self.layers or min(self.layers) < 1:
            raise ConfigError("layers must be positive widths")
        if len(self.wiring) == 1:
            self.wiring = self.wiring * len(self.layers)
        if len(self.wiring) != len(self.layers) or any(w not in WIRINGS for w in self.wiring):
            raise ConfigError(f"wiring needs one of {WIRINGS} per layer, got {self.wiring}")
        for spec in self.conv:
            try:
                parse_conv(spec)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if not 1 <= self.fan_in <= 6:
            raise ConfigError("fan_in must be 1..6")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}")
        if not 1 <= self.train_frames <= self.frames:
            raise ConfigError("train_frames must be in 1..frames")
        if not 0 <= self.shift <= 4:
            raise ConfigError("shift (augmentation, pixels) must be in 0..4")
        if self.epochs < 1 or self.batch < 1 or self.lr <= 0 or self.temperature <= 0:
            raise ConfigError("epochs, batch, lr and temperature must be positive")

    @classmethod
    def load(cls, path: str | Path | None, **overrides: Any) -> TrainConfig:
        """Settings from a TOML file (its keys are the field names), then non-None overrides."""
        values: dict[str, Any] = {}
        if path is not None:
            try:
                values = tomllib.loads(Path(path).read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{path}: {exc}") from None
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
        return dataclasses.asdict(self)
