"""``lutrun serve``: the on-board service (docs/serve.md)."""
from __future__ import annotations

import json
from typing import Any

import click

from lutrun.cli.common import model_input


@click.command()
@model_input
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="A lutrun.toml (docs/serve.md); "
              "the flags below override it [default: built-in settings].")
@click.option("--source", "sources", multiple=True, help="Source spec, as for demo; repeat for several "
              "[default: the config's, else the built-in stream, looped].")
@click.option("--engine", "engine_name", type=click.Choice(["auto", "cpu", "fpga", "sim", "numpy"]),
              help="auto: the FPGA overlay if it loads, else cpu [default: the config's, else auto].")
@click.option("--overlay", type=click.Path(dir_okay=False), help="fpga/auto: the overlay's .bit.")
@click.option("--bind", help="HOST:PORT to listen on [default: the config's, else 127.0.0.1:8080].")
@click.option("--token-file", type=click.Path(dir_okay=False), help="A file holding the API token that model "
              "uploads and source switches need.")
@click.option("--mqtt", "mqtt_host", metavar="HOST[:PORT]", help="Publish results and health to this broker.")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="json: one JSON object a line.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--check-config", is_flag=True, help="Validate the settings, print them as JSON and exit.")
def serve(model: str | None, config_path: str | None, sources: tuple[str, ...], engine_name: str | None,
          overlay: str | None, bind: str | None, token_file: str | None, mqtt_host: str | None,
          log_format: str | None, log_level: str | None, check_config: bool) -> None:
    """Serve MODEL's live results: web page, HTTP API, Prometheus metrics, MQTT; stops cleanly on SIGTERM."""
    from lutrun.errors import ConfigError

    try:
        from lutrun.serve import ServeConfig, run
        from lutrun.serve.logs import setup_logging
    except ImportError as exc:
        raise ConfigError(f"lutrun serve needs the serve extra ({exc.name} is missing): "
                          "pip install 'lutrun[serve]'") from None
    overrides: dict[str, Any] = {"model.path": model, "stream.sources": list(sources) or None,
                                 "model.engine": engine_name, "model.overlay": overlay, "http.bind": bind,
                                 "http.token_file": token_file, "log.format": log_format, "log.level": log_level}
    if mqtt_host is not None:
        host, _, port = mqtt_host.partition(":")
        if port and not port.isdigit():
            raise click.BadParameter(f"{mqtt_host!r} is not HOST or HOST:PORT", param_hint="--mqtt")
        overrides["mqtt.host"] = host
        if port:
            overrides["mqtt.port"] = int(port)
    config = ServeConfig.load(config_path, {k: v for k, v in overrides.items() if v is not None})
    if check_config:
        click.echo(json.dumps(config.to_json(), indent=2))
        return
    setup_logging(config.log.level, config.log.format)
    run(config)
