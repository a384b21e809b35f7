"""Helpers every command group shares: JSON output, list options, which model a command works on."""
from __future__ import annotations

import json
from typing import Any

import click

from lutrun.model import Model, random_model


def emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


def int_list(_ctx: Any, _param: Any, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        items = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None
    if not items or min(items) < 1:
        raise click.BadParameter("every entry must be a positive integer")
    return items


def model_for(path: str | None, layers: tuple[int, ...] | None = None, k: int = 6, seed: int = 0) -> Model:
    """The model a command works on: --layers builds a random one, else PATH or the default."""
    from lutrun.resources import DEFAULT_MODEL, resolve_model

    if layers is not None:
        return random_model(widths=layers, fan_in=k, seed=seed)
    if path is None and not DEFAULT_MODEL.exists():
        return random_model(seed=seed)
    return resolve_model(path)


def engine_options(engine: str, model: Model, specialise: bool = False, overlay: str | None = None,
                   temporal: bool = False, temporal_shift: int | None = None) -> dict[str, Any]:
    """Constructor options for ``engine`` from the flags every engine-taking command shares."""
    from lutrun.errors import ConfigError
    from lutrun.temporal import Temporal

    options: dict[str, Any] = {}
    if specialise and engine == "cpu":
        options["specialise"] = True
    if overlay is not None:
        if engine != "fpga":
            raise ConfigError("--overlay names the bitstream of --engine fpga")
        options["overlay"] = overlay
    if temporal or temporal_shift is not None:
        options["temporal"] = Temporal.for_frames(model.modulation.frames, temporal_shift)
    return options


overlay_option = click.option("--overlay", type=click.Path(dir_okay=False),
                              help="fpga: the overlay's .bit (its .hwh beside it), built by `lutrun export overlay`.")
temporal_options = [
    click.option("--temporal", is_flag=True, help="Temporal mode: one sub-frame per frame, scores averaged over "
                 "frames (docs/modulation.md)."),
    click.option("--temporal-shift", type=click.IntRange(0, 16),
                 help="Temporal EMA shift (default ceil(log2 F)); implies --temporal."),
]


def with_options(options: list[Any]) -> Any:
    """Apply several click options as one decorator."""
    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return apply
