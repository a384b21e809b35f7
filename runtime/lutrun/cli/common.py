"""What every command family shares: the model convention, output paths, engine flags, JSON output.

The convention (README "Using it"): a command that works on a model takes it as its first
positional argument, ``[MODEL]``, a ``.lutnet`` path, a zoo name or nothing for the shipped model;
``--model MODEL`` is accepted too.  Output paths are checked when the command line is
parsed, before any work, and results are printed before side files are written.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Callable

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


def model_for(path: str | None, layers: tuple[int, ...] | None = None, k: int = 6, seed: int = 0,
              input_shape: tuple[int, ...] | None = None, classes: int = 10) -> Model:
    """The model a command works on: --layers builds a random one (of ``input_shape`` and ``classes``),
    else PATH or the default."""
    from lutrun.resources import DEFAULT_MODEL, resolve_model

    if layers is not None:
        if path is not None:
            raise click.UsageError("give a MODEL or --layers, not both")
        shape = tuple(input_shape) if input_shape else (28, 28, 1)
        if len(shape) != 3:
            raise click.BadParameter(f"{','.join(map(str, shape))} is not H,W,C", param_hint="--input")
        return random_model(shape, widths=layers, fan_in=k, n_classes=classes, seed=seed)  # type: ignore[arg-type]
    if path is None and not DEFAULT_MODEL.exists():
        return random_model(seed=seed)
    return resolve_model(path)


def model_input(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``[MODEL]`` or ``--model MODEL`` (the same thing, both spellings); the command gets ``model``."""
    @functools.wraps(fn)
    def command(*args: Any, model: str | None, model_option: str | None, **kwargs: Any) -> Any:
        if model and model_option and model != model_option:
            raise click.UsageError(f"the model is given twice ({model} and --model {model_option})")
        return fn(*args, model=model or model_option, **kwargs)

    command = click.option("--model", "model_option", type=click.Path(dir_okay=False), metavar="MODEL",
                           help="The same as the MODEL argument: a .lutnet path or a zoo name (`lutrun models`).")(command)
    return click.argument("model", required=False, type=click.Path(dir_okay=False))(command)


class OutputFile(click.ParamType):
    """A file the command will write: its folder must exist and take files, it must not be a folder, and it
    must end in one of ``suffixes`` when the format follows from the name."""

    name = "file"

    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        self.suffixes = suffixes

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        path = Path(value)
        folder = path.parent
        if self.suffixes and path.suffix.lower() not in self.suffixes:
            self.fail(f"{value}: the name must end in {', '.join(self.suffixes)} (it sets the format)", param, ctx)
        if path.is_dir():
            self.fail(f"{value} is a directory, not a file", param, ctx)
        if not folder.is_dir():
            self.fail(f"the folder {folder} does not exist", param, ctx)
        if not os.access(folder, os.W_OK | os.X_OK):
            self.fail(f"the folder {folder} is not writable", param, ctx)
        return str(path)


class OutputDir(click.ParamType):
    """A folder the command will create or fill: what exists of it must be a writable folder."""

    name = "dir"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        path = Path(value)
        existing = next(p for p in (path, *path.parents) if p.exists())  # "." or "/" at the latest
        if existing.exists() and not existing.is_dir():
            self.fail(f"{existing} is a file, so {value} cannot be a folder", param, ctx)
        if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
            self.fail(f"{existing} is not writable", param, ctx)
        return str(path)


IMAGE_FILE = OutputFile((".png", ".svg", ".pdf", ".jpg", ".jpeg"))
VIDEO_FILE = OutputFile((".mp4", ".avi"))


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


def with_options(options: list[Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Apply several click options as one decorator."""
    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return apply


engine_option = click.option("--engine", "engine_name", default="cpu", help="cpu, numpy (the reference), "
                             "fpga (a board: --overlay), sim (the overlay in Verilator).")
overlay_option = click.option("--overlay", type=click.Path(dir_okay=False),
                              help="fpga: the overlay's .bit (its .hwh beside it), built by `lutrun export overlay`.")
temporal_options = [
    click.option("--temporal", is_flag=True, help="Temporal mode: one sub-frame per frame, scores averaged over "
                 "frames (docs/modulation.md)."),
    click.option("--temporal-shift", type=click.IntRange(0, 16),
                 help="Temporal EMA shift [default: ceil(log2 F) - 1]; implies --temporal."),
]
frames_option = click.option("--frames", type=click.IntRange(1, 4096), help="Sub-frames F [default: the model's].")
generic_option = click.option("--generic", is_flag=True, help="cpu: only the table-driven kernel, no per-model C "
                              "compile (~4 s once per model on 2 cores, then cached).")
