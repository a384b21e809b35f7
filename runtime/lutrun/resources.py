"""Files shipped inside the package: the model zoo (the default among it) and the built-in frame sample."""
from __future__ import annotations

from pathlib import Path

from lutrun.errors import ConfigError
from lutrun.model import Model
from lutrun.modelfile import load_model
from lutrun.zoo import DEFAULT_NAME, ZOO, names, zoo_path

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_MODEL = ZOO / f"{DEFAULT_NAME}.lutnet"


def model_path(spec: str | Path | None) -> Path:
    """The file a model argument means: a path, a zoo name (``mnist-700``) or None for the default.

    A file wins over a zoo model of the same name; a name that is neither is an error listing the zoo.
    """
    if spec is None:
        if not DEFAULT_MODEL.exists():
            raise ConfigError(f"no model given and the default model {DEFAULT_MODEL} is not installed")
        return DEFAULT_MODEL
    path = Path(spec)
    if path.exists():
        return path
    found = zoo_path(str(spec))
    if found is not None:
        return found
    raise ConfigError(f"{spec}: no such model file, and no zoo model of that name "
                      f"(the zoo: {', '.join(names()) or 'not installed'}; `lutrun models` describes them)")


def resolve_model(spec: str | Path | None) -> Model:
    """Load the model ``spec`` names: a ``.lutnet`` path, a zoo name, or None for the shipped default.

    >>> import lutrun
    >>> lutrun.resolve_model("mnist-3200").n_luts
    3200
    """
    return load_model(model_path(spec))
