"""``lutrun serve``: the on-board service around one ``stream.Pipeline`` (docs/serve.md).

A live web page, a JSON API with model upload and source switching, a
WebSocket feed, Prometheus metrics, MQTT results and health, systemd
readiness and watchdog.  Needs the ``serve`` extra (aiohttp,
prometheus-client, paho-mqtt).
"""
from lutrun.serve.app import Server, run
from lutrun.serve.config import ServeConfig
from lutrun.serve.service import Service

__all__ = ["ServeConfig", "Server", "Service", "run"]
