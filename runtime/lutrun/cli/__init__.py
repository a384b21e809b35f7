"""The ``lutrun`` command line: one group, one module per family of commands.

Conventions every command keeps (tested in tests/test_cli_convention.py): a command that
works on a model takes it as ``[MODEL]`` (or ``--model MODEL``), defaulting to the shipped
model; ``--help`` shows every default; output paths are checked before any work; JSON
results are printed before side files are written; errors end in one line and exit code 1
(2 for a malformed command line).
"""
from __future__ import annotations

import sys
from typing import Any

import click

from lutrun.cli import bench, hardware, models, serve, stream
from lutrun.errors import LutrunError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="lutrun")
def cli() -> None:
    """lutrun: real-time inference for LUT-networks, bit-exact on CPU and FPGA."""


for command in (*models.COMMANDS, stream.demo, serve.serve, bench.bench, hardware.export_group,
                hardware.report_group, hardware.compile_cmd):
    cli.add_command(command)


def main(command: click.Command = cli, prog_name: str | None = None, args: list[str] | None = None) -> None:
    """Run ``command`` (the whole CLI by default) with lutrun's error handling."""
    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lutrun: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LutrunError as exc:
        click.echo(f"lutrun: error: {exc}", err=True)
        sys.exit(1)
    except MemoryError:
        click.echo("lutrun: error: out of memory (docs/limits.md lists what lutrun bounds, and how)", err=True)
        sys.exit(1)
    except OSError as exc:  # a disk full or gone while writing a result: still one line
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"lutrun: error: {exc.strerror or exc}{where}", err=True)
        sys.exit(1)


__all__: list[Any] = ["cli", "main"]
