"""The service against real parts: a Mosquitto broker that goes away and comes back, and the live page in
headless Chromium (Debian's chromium and chromium-driver, driven by Selenium)."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

from conftest import free_port, require_tool  # noqa: E402
from test_serve import make_config, wait_for  # noqa: E402

from lutrun.serve import Server  # noqa: E402

pytestmark = pytest.mark.slow


class Broker:
    """``mosquitto`` on a loopback port, started and stopped by the test."""

    def __init__(self, port: int) -> None:
        self.port, self.process = port, None

    def start(self) -> None:
        self.process = subprocess.Popen([require_tool("mosquitto"), "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(self._listening, timeout=10)

    def _listening(self) -> bool:
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Subscriber:
    """Every message on TOPIC/#, with the time it came."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[float, str, dict]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lutrun-test-subscriber")
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{topic}/#", qos=1)
        self.client.on_message = self._message
        self.client.connect_async("127.0.0.1", port, 10)
        self.client.loop_start()

    def _message(self, _client, _userdata, message) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), message.topic, json.loads(message.payload)))

    def on(self, topic: str, since: float = 0.0) -> list[dict]:
        with self.lock:
            return [m for t, name, m in self.messages if name == topic and t >= since]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_results_and_health_survive_the_broker_going_away():
    port = free_port()
    broker = Broker(port)
    broker.start()
    subscriber = Subscriber(port, "lutrun/test")
    config = make_config(**{"mqtt.host": "127.0.0.1", "mqtt.port": port, "mqtt.topic": "lutrun/test",
                            "mqtt.results_hz": 20.0, "mqtt.buffer": 30, "mqtt.qos": 1})
    try:
        with Server(config) as server:
            mqtt = server.service.mqtt
            wait_for(lambda: len(subscriber.on("lutrun/test/result")) >= 10)
            health = subscriber.on("lutrun/test/health")
            assert health and health[-1]["state"] == "online" and health[-1]["engine"] == "cpu"
            result = subscriber.on("lutrun/test/result")[-1]
            assert set(result) == {"seq", "class", "class_index", "score", "time", "model"}
            broker.stop()
            wait_for(lambda: not mqtt.connected)
            time.sleep(2.5)  # 50 results at 20 a second: 30 kept, the rest dropped and counted
            assert len(mqtt.buffered) == 30 and mqtt.dropped > 0
            broker.start()
            restarted = time.monotonic()
            wait_for(lambda: mqtt.connected, timeout=40)
            reconnect_s = time.monotonic() - restarted
            back = wait_for(lambda: [h for h in subscriber.on("lutrun/test/health", restarted)
                                     if h["state"] == "online"], timeout=20)
            assert back[-1]["mqtt"]["flushed_at_last_connect"] == 30 and back[-1]["mqtt"]["dropped"] > 0
            assert back[-1]["mqtt"]["connects"] == 2
            wait_for(lambda: len(subscriber.on("lutrun/test/result", restarted)) >= 30)
            status = server.service.status()
            assert status["mqtt"]["connected"] and status["dropped"] == 0
        # a clean stop says offline, retained
        wait_for(lambda: subscriber.on("lutrun/test/health")[-1]["state"] == "offline")
        print(json.dumps({"broker_reconnect_s": round(reconnect_s, 2)}))
    finally:
        subscriber.close()
        broker.stop()


def test_the_live_page_in_headless_chromium_shows_the_prediction_changing(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = require_tool("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,760"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=require_tool("chromedriver")))
    try:
        with Server(make_config(**{"stream.sources": ["builtin?loop=0&rate=1000"]})) as server:
            driver.get(server.url)
            text = lambda element: driver.find_element(By.ID, element).text  # noqa: E731
            wait_for(lambda: text("prediction") not in ("", "–"), timeout=20)
            seen = set()
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                seen.add(text("prediction"))
                time.sleep(0.05)
            assert len(seen) >= 3 and seen <= {str(d) for d in range(10)}
            wait_for(lambda: text("fps") not in ("", "–") and float(text("fps")) > 500, timeout=10)
            assert "engine cpu" in text("engine") and "mnist-3200" in text("model")
            assert text("connection") == "live" and "builtin: streaming" in text("source")
            assert len(driver.find_elements(By.CSS_SELECTOR, "#scores .score")) == 10
            assert len(driver.find_elements(By.CSS_SELECTOR, "#histogram div")) > 5
            preview = driver.execute_script(
                "const c = document.getElementById('preview');"
                "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).some(v => v > 0 && v < 255);")
            assert preview  # a grey-level digit was drawn
            assert text("preview-caption").startswith("frame ")
            shot = Path(os.environ.get("LUTRUN_SCREENSHOT") or tmp_path / "serve.png")
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()
