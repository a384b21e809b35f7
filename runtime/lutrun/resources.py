"""Files shipped inside the package: the default model and the built-in frame sample."""
from __future__ import annotations

from pathlib import Path

from lutrun.errors import ConfigError
from lutrun.model import Model
from lutrun.modelfile import load_model

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_MODEL = DATA / "default.lutnet"


def resolve_model(path: str | Path | None) -> Model:
    """Load ``path``, or the shipped default model when ``path`` is None."""
    if path is not None:
        return load_model(path)
    if not DEFAULT_MODEL.exists():
        raise ConfigError(f"no model given and the default model {DEFAULT_MODEL} is not installed")
    return load_model(DEFAULT_MODEL)
