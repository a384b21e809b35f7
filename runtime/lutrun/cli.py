"""The ``lutrun`` command line.  Errors end in a one-line message and a non-zero exit code."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from lutrun.errors import LutrunError
from lutrun.model import Model, random_model


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


def _int_list(_ctx: Any, _param: Any, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        items = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None
    if not items or min(items) < 1:
        raise click.BadParameter("every entry must be a positive integer")
    return items


def _model(path: str | None, layers: tuple[int, ...] | None = None, k: int = 6, seed: int = 0) -> Model:
    """The model a command works on: --layers builds a random one, else PATH or the default."""
    from lutrun.resources import DEFAULT_MODEL, resolve_model

    if layers is not None:
        return random_model(widths=layers, fan_in=k, seed=seed)
    if path is None and not DEFAULT_MODEL.exists():
        return random_model(seed=seed)
    return resolve_model(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lutrun")
def cli() -> None:
    """lutrun: real-time inference for LUT-networks, bit-exact on CPU and FPGA."""


@cli.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False))
def info(model: str | None) -> None:
    """Describe MODEL (default: the shipped default model)."""
    from lutrun.resources import resolve_model

    _emit(resolve_model(model).summary())


@cli.group()
def bench() -> None:
    """Benchmarks; each prints one JSON object."""


_model_option = click.option("--model", "model_path", type=click.Path(dir_okay=False),
                             help="A .lutnet file (default: the shipped model, or a random one of the default shape).")
_layers_option = click.option("--layers", callback=_int_list, help="Random model of these widths, e.g. 2304,384,64,360,60,10.")


@bench.command("engine")
@_model_option
@_layers_option
@click.option("--k", default=6, show_default=True, type=click.IntRange(1, 6), help="Fan-in of the random model's LUTs.")
@click.option("--samples", default=1 << 16, show_default=True, type=click.IntRange(64), help="Sub-frame samples per timed call.")
@click.option("--threads", type=click.IntRange(1), help="Threads for the all-cores figure (default: all cores).")
def bench_engine_cmd(model_path: str | None, layers: tuple[int, ...] | None, k: int, samples: int, threads: int | None) -> None:
    """LUT-samples per second of the C engine (one core and all cores) and of the numpy reference."""
    from lutrun.bench.engine import bench_engine

    _emit(bench_engine(_model(model_path, layers, k), samples=samples, threads=threads))


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lutrun: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LutrunError as exc:
        click.echo(f"lutrun: error: {exc}", err=True)
        sys.exit(1)
