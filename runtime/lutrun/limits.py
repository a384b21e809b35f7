"""Limits a user can raise through the environment (docs/limits.md), read when they are checked."""
from __future__ import annotations

import os

from lutrun.errors import ConfigError

MODEL_BYTES = ("LUTRUN_MAX_MODEL_BYTES", 1 << 30)
DATASET_BYTES = ("LUTRUN_MAX_DATASET_BYTES", 2 << 30)


def limit(setting: tuple[str, int]) -> int:
    """The limit's value: its environment variable if set (a positive integer of bytes), else its default."""
    name, default = setting
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a positive number of bytes, got {raw!r}")
    return value
