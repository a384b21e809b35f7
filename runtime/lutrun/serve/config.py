"""The service's settings: a TOML file (docs/serve.md), validated whole before anything starts.

Every error names the key (``http.bind``) and the reason.  Sections and keys::

    [stream]  sources, policy, invert, normalize, jsonl
    [model]   path, engine, overlay, specialise, frames, temporal, temporal_shift
    [http]    bind, token, token_file, preview_fps, results_hz, max_upload_mb
    [mqtt]    host, port, topic, qos, results_hz, buffer, keepalive, client_id
    [log]     level, format
"""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lutrun.errors import ConfigError
from lutrun.resources import model_path
from lutrun.stream.pipeline import POLICIES
from lutrun.stream.sources import open_source
from lutrun.tomlfile import read_toml

ENGINES = ("auto", "cpu", "fpga", "sim", "numpy")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


def _fail(key: str, reason: str) -> ConfigError:
    return ConfigError(f"{key}: {reason}")


@dataclass
class StreamConfig:
    sources: list[str] = field(default_factory=lambda: ["builtin?loop=0"])
    policy: str = ""  # "" : latest for cameras, all otherwise
    invert: bool = False
    normalize: bool = False
    jsonl: str = ""  # also append one JSON line per frame here (an audit trail; it grows without bound)
    decoders: int = 1  # threads decoding each MJPEG or YUV source's frames, in order

    def check(self) -> None:
        if not 1 <= self.decoders <= 16:
            raise _fail("stream.decoders", f"must be 1..16, got {self.decoders}")
        if self.jsonl and not Path(self.jsonl).resolve().parent.is_dir():
            raise _fail("stream.jsonl", f"the folder of {self.jsonl} does not exist")
        if not self.sources:
            raise _fail("stream.sources", "give at least one source")
        for spec in self.sources:
            try:
                open_source(spec)
            except ConfigError as exc:
                raise _fail("stream.sources", str(exc)) from None
        if self.policy and self.policy not in POLICIES:
            raise _fail("stream.policy", f"must be one of {', '.join(POLICIES)} (or empty), got {self.policy!r}")


@dataclass
class ModelConfig:
    path: str = ""  # a .lutnet path or a zoo name ("" : the shipped default model)
    engine: str = "auto"
    overlay: str = ""  # the fpga engine's .bit ("" : $LUTRUN_OVERLAY)
    specialise: bool = True  # cpu: compile C for the model (cached by digest)
    frames: int = 0  # 0 : the model's own F
    temporal: bool = False
    temporal_shift: int = -1  # -1 : ceil(log2 F) - 1

    def check(self) -> None:
        if self.path:
            try:
                model_path(self.path)
            except ConfigError as exc:
                raise _fail("model.path", str(exc)) from None
        if self.engine not in ENGINES:
            raise _fail("model.engine", f"must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.overlay and self.engine not in ("auto", "fpga"):
            raise _fail("model.overlay", f"names the bitstream of engine fpga or auto, not {self.engine}")
        if not 0 <= self.frames <= 4096:
            raise _fail("model.frames", f"must be 1..4096 (0: the model's own), got {self.frames}")
        if not -1 <= self.temporal_shift <= 16:
            raise _fail("model.temporal_shift", f"must be 0..16 (-1: the default), got {self.temporal_shift}")


@dataclass
class HttpConfig:
    bind: str = "127.0.0.1:8080"
    token: str = ""
    token_file: str = ""
    preview_fps: float = 10.0
    results_hz: float = 20.0
    max_upload_mb: int = 64  # the largest model upload, as sent and as unpacked

    def check(self) -> None:
        self.address()
        if self.token and self.token_file:
            raise _fail("http.token_file", "give token or token_file, not both")
        if self.token_file:
            self.token = _read_token(self.token_file)
        if self.token and len(self.token) < 16:
            raise _fail("http.token", "must be at least 16 characters (e.g. `openssl rand -hex 16`)")
        for key in ("preview_fps", "results_hz"):
            if not 0 < getattr(self, key) <= 1000:
                raise _fail(f"http.{key}", f"must be in (0, 1000], got {getattr(self, key)}")
        if not 1 <= self.max_upload_mb <= 1024:
            raise _fail("http.max_upload_mb", f"must be 1..1024, got {self.max_upload_mb}")

    def address(self) -> tuple[str, int]:
        host, sep, port = self.bind.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise _fail("http.bind", f"must be HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080), got {self.bind!r}")
        return host, int(port)

    def loopback(self) -> bool:
        host = self.address()[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False  # a host name: whatever it resolves to may be reachable from outside


TOKEN_FILE_BYTES = 4096  # a token file is one short line; more is not a token file


def _read_token(path: str) -> str:
    try:
        with open(path, "rb") as file:
            token = file.read(TOKEN_FILE_BYTES + 1).decode().strip()
    except OSError as exc:
        raise _fail("http.token_file", f"cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise _fail("http.token_file", f"{path} is not a text file") from None
    if len(token) > TOKEN_FILE_BYTES:
        raise _fail("http.token_file", f"{path} is over {TOKEN_FILE_BYTES} bytes: not a token file")
    if not token or len(token.splitlines()) != 1:
        raise _fail("http.token_file", f"{path} must hold the token on one line")
    return token


@dataclass
class MqttConfig:
    host: str = ""  # "" : no MQTT
    port: int = 1883
    topic: str = "lutrun"  # results on TOPIC/result, health (retained) on TOPIC/health
    qos: int = 0
    results_hz: float = 10.0
    buffer: int = 1000  # results kept while the broker is away; older ones are dropped and counted
    keepalive: int = 30
    client_id: str = ""

    def check(self) -> None:
        if not 1 <= self.port <= 65535:
            raise _fail("mqtt.port", f"must be 1..65535, got {self.port}")
        if not self.topic or any(c in self.topic for c in "#+\0"):
            raise _fail("mqtt.topic", f"must be a non-empty topic without wildcards, got {self.topic!r}")
        if self.qos not in (0, 1, 2):
            raise _fail("mqtt.qos", f"must be 0, 1 or 2, got {self.qos}")
        if not 0 < self.results_hz <= 1000:
            raise _fail("mqtt.results_hz", f"must be in (0, 1000], got {self.results_hz}")
        if not 0 <= self.buffer <= 1_000_000:
            raise _fail("mqtt.buffer", f"must be 0..1000000, got {self.buffer}")
        if not 5 <= self.keepalive <= 3600:
            raise _fail("mqtt.keepalive", f"must be 5..3600 s, got {self.keepalive}")


@dataclass
class LogConfig:
    level: str = "info"
    format: str = "text"

    def check(self) -> None:
        if self.level not in LOG_LEVELS:
            raise _fail("log.level", f"must be one of {', '.join(LOG_LEVELS)}, got {self.level!r}")
        if self.format not in LOG_FORMATS:
            raise _fail("log.format", f"must be one of {', '.join(LOG_FORMATS)}, got {self.format!r}")


@dataclass
class ServeConfig:
    stream: StreamConfig = field(default_factory=StreamConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ServeConfig:
        """The file's settings (defaults where it is silent), then ``overrides`` ({"http.bind": ...}), checked.

        >>> config = ServeConfig.load(overrides={"http.bind": "127.0.0.1:9000", "stream.sources": ["builtin"]})
        >>> config.http.address(), config.model.engine
        (('127.0.0.1', 9000), 'auto')
        """
        table = read_toml(path, "serve") if path is not None else {}
        config = cls()
        for name, value in table.items():
            section = getattr(config, name, None) if name in _SECTIONS else None
            if section is None or not isinstance(value, dict):
                raise _fail(name, f"unknown section (known: {', '.join(_SECTIONS)})")
            for key, item in value.items():
                _set(section, f"{name}.{key}", item)
        for dotted, value in (overrides or {}).items():
            name, _, key = dotted.partition(".")
            _set(getattr(config, name), dotted, value)
        for name in _SECTIONS:
            getattr(config, name).check()
        return config

    def to_json(self) -> dict[str, Any]:
        """The settings, the token withheld."""
        data = dataclasses.asdict(self)
        data["http"]["token"] = "(set)" if self.http.token else ""
        return data


_SECTIONS = tuple(f.name for f in dataclasses.fields(ServeConfig))


def _set(section: Any, dotted: str, value: Any) -> None:
    key = dotted.rpartition(".")[2]
    fields = {f.name: f for f in dataclasses.fields(section)}
    if key not in fields:
        raise _fail(dotted, f"unknown key (known: {', '.join(fields)})")
    current = getattr(section, key)
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        kind = "a list of strings" if isinstance(current, list) else type(current).__name__
        raise _fail(dotted, f"must be {kind}, got {value!r}")
    setattr(section, key, value)
