"""Results and health to an MQTT broker through paho-mqtt.

``TOPIC/result``: the newest result at most ``results_hz`` times a second
(class, score, timestamp, sequence).  ``TOPIC/health``: retained; "online"
with counters on every (re)connect and every ``HEALTH_EVERY_S``, "offline"
as the last will and on a clean stop.  While the broker is away, results
wait in a bounded buffer (the oldest dropped and counted) and are sent on
reconnect; paho reconnects with exponential backoff on its own thread.
Nothing here runs on the pipeline's threads except ``offer``, which only
stores a reference.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from lutrun.errors import ConfigError
from lutrun.serve.config import MqttConfig

log = logging.getLogger("lutrun.serve.mqtt")
HEALTH_EVERY_S = 10.0
RECONNECT_S = (0.5, 30)  # paho's backoff: first delay, ceiling


class MqttReporter:
    def __init__(self, config: MqttConfig, client_id: str, health: Callable[[], dict[str, Any]]) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise ConfigError("mqtt.host is set but paho-mqtt is not installed: pip install 'lutrun[serve]'") from None
        self.config, self._health = config, health
        self.result_topic, self.health_topic = f"{config.topic}/result", f"{config.topic}/health"
        self.connected = False
        self.connects = 0
        self.buffered: deque[str] = deque(maxlen=config.buffer or None)
        self.dropped = 0  # results lost: buffer overflow while the broker was away
        self.sent = 0
        self.flushed_last = 0  # results sent from the buffer at the last reconnect
        self._latest: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.will_set(self.health_topic, json.dumps({"state": "offline", "reason": "connection lost"}),
                              qos=1, retain=True)
        self._client.reconnect_delay_set(*RECONNECT_S)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._thread = threading.Thread(target=self._publish_loop, name="lutrun-mqtt", daemon=True)

    def start(self) -> None:
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()
        self._thread.start()

    def offer(self, result: dict[str, Any]) -> None:
        """The newest result (called from the pipeline's engine thread: a reference store, nothing more)."""
        self._latest = result

    def status(self) -> dict[str, Any]:
        return {"broker": f"{self.config.host}:{self.config.port}", "connected": self.connected,
                "connects": self.connects, "sent": self.sent, "buffered": len(self.buffered),
                "dropped": self.dropped, "flushed_at_last_connect": self.flushed_last}

    def stop(self) -> None:
        """Say "offline" (retained) if connected, then disconnect."""
        self._stop.set()
        self._thread.join(2.0)
        if self.connected:
            info = self._client.publish(self.health_topic, json.dumps({"state": "offline", "reason": "stopped"}),
                                        qos=1, retain=True)
            try:
                info.wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho's thread ----------------------------------------------------------

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.config.host, self.config.port, reason)
            return
        self.connects += 1
        self.connected = True
        flushed = 0
        while self.buffered:
            client.publish(self.result_topic, self.buffered.popleft(), qos=self.config.qos)
            flushed += 1
        self.sent += flushed
        self.flushed_last = flushed
        self._publish_health()
        log.info("MQTT connected to %s:%s (connection %d; %d buffered results sent, %d dropped so far)",
                 self.config.host, self.config.port, self.connects, flushed, self.dropped)

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self.connected:
            log.warning("MQTT broker %s:%s lost (%s); reconnecting with backoff", self.config.host, self.config.port,
                        reason)
        self.connected = False

    # -- the publisher thread ---------------------------------------------------

    def _publish_health(self) -> None:
        health = {"state": "online", "time": time.time(), **self._health(), "mqtt": self.status()}
        self._client.publish(self.health_topic, json.dumps(health), qos=1, retain=True)

    def _publish_loop(self) -> None:
        period = 1.0 / self.config.results_hz
        sent_for, next_health = None, time.monotonic() + HEALTH_EVERY_S
        while not self._stop.wait(period):
            latest = self._latest
            if latest is not None and latest is not sent_for:
                sent_for = latest
                message = json.dumps({"seq": latest["seq"], "class": latest["class"],
                                      "class_index": latest["class_index"],
                                      "score": latest["scores"][latest["class_index"]], "time": latest["time"],
                                      "model": latest["model"]})
                if self.connected:
                    self._client.publish(self.result_topic, message, qos=self.config.qos)
                    self.sent += 1
                else:
                    if not self.config.buffer or len(self.buffered) == self.config.buffer:
                        self.dropped += 1  # no room: the oldest goes (or, without a buffer, this one)
                    if self.config.buffer:
                        self.buffered.append(message)
            if self.connected and time.monotonic() >= next_health:
                self._publish_health()
                next_health = time.monotonic() + HEALTH_EVERY_S
