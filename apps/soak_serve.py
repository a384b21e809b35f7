#!/usr/bin/env python3
"""Soak `lutrun serve`: the built-in stream at 1000 fps for a while, with the live page open in headless
Chromium, a WebSocket client, an MQTT subscriber on a local Mosquitto, and a model upload every
``--swap-every`` seconds.  Prints one JSON object: frames, drops, frames lost (gaps in the per-frame
log), end-to-end latency percentiles over every frame, resident memory at start and end, swaps.

    python apps/soak_serve.py --duration 120

Needs the serve and test extras (aiohttp, paho-mqtt, selenium); Chromium, chromedriver and mosquitto are
used when installed (Debian: chromium chromium-driver mosquitto) and reported as absent otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

import lutrun

TOKEN = "soak-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def upload(url: str, data: bytes, name: str) -> dict:
    request = urllib.request.Request(f"{url}/api/model?name={name}", data=data, method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def websocket_client(url: str, stop: threading.Event, counts: dict) -> None:
    import aiohttp

    async def run() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url.replace('http', 'ws')}/api/ws") as ws:
            while not stop.is_set():
                try:
                    message = await ws.receive(timeout=1.0)
                except asyncio.TimeoutError:
                    continue
                counts["binary" if isinstance(message.data, bytes) else "text"] += 1

    asyncio.run(run())


def browser(url: str) -> object | None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    page = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    page.get(url)
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of soak [default: 120]")
    parser.add_argument("--rate", type=float, default=1000.0, help="frames per second [default: 1000]")
    parser.add_argument("--swap-every", type=float, default=30.0, help="seconds between model uploads [default: 30]")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lutrun-soak-"))
    other = lutrun.save_model(lutrun.random_model((28, 28, 1), (1000, 200, 100), seed=3), work / "other.lutnet")
    models = [other.read_bytes(), lutrun.DEFAULT_MODEL.read_bytes()]
    broker = None
    mqtt_port = free_port()
    if shutil.which("mosquitto"):
        broker = subprocess.Popen(["mosquitto", "-p", str(mqtt_port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    config = work / "lutrun.toml"
    config.write_text(f"""
[stream]
sources = ["builtin?loop=0&rate={args.rate}"]
jsonl = "{work / 'frames.jsonl'}"
[http]
bind = "127.0.0.1:0"
token = "{TOKEN}"
[mqtt]
host = "{'127.0.0.1' if broker else ''}"
port = {mqtt_port}
topic = "lutrun/soak"
[log]
format = "json"
""")
    service = subprocess.Popen([sys.executable, "-c", "from lutrun.cli import main; main()", "serve", "--config",
                                str(config)], stderr=subprocess.PIPE, text=True)
    url = ""
    for line in service.stderr:  # type: ignore[union-attr]
        message = json.loads(line)["message"]
        if message.startswith("serving on "):
            url = message.split()[-1]
            break
    threading.Thread(target=service.stderr.read, daemon=True).start()  # type: ignore[union-attr]  # keep the pipe flowing

    stop = threading.Event()
    ws_counts = {"text": 0, "binary": 0}
    threading.Thread(target=websocket_client, args=(url, stop, ws_counts), daemon=True).start()
    mqtt_messages = [0]
    subscriber = None
    if broker:
        import paho.mqtt.client as mqtt

        subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscriber.on_connect = lambda c, *_: c.subscribe("lutrun/soak/#")
        subscriber.on_message = lambda *_: mqtt_messages.__setitem__(0, mqtt_messages[0] + 1)
        subscriber.connect("127.0.0.1", mqtt_port)
        subscriber.loop_start()
    page = browser(url)

    time.sleep(5.0)  # warm up: the page loads, the kernel cache is warm
    rss_start, frames_start, t0 = rss_mb(service.pid), get(f"{url}/api/status")["frames"], time.monotonic()
    swaps, next_swap, p99_samples = 0, t0 + args.swap_every, []
    while time.monotonic() - t0 < args.duration:
        time.sleep(1.0)
        p99_samples.append(get(f"{url}/api/status")["e2e_p99_ms"])
        if time.monotonic() >= next_swap:
            upload(url, models[swaps % 2], f"soak-{swaps}.lutnet")
            swaps += 1
            next_swap += args.swap_every
    status, elapsed = get(f"{url}/api/status"), time.monotonic() - t0
    rss_end = rss_mb(service.pid)
    stop.set()
    if page is not None:
        page.quit()  # type: ignore[attr-defined]
    service.send_signal(signal.SIGTERM)
    exit_code = service.wait(60)
    if subscriber is not None:
        subscriber.loop_stop()
    if broker is not None:
        broker.terminate()

    seqs, e2e = [], []
    with open(work / "frames.jsonl") as lines:
        for line in lines:
            record = json.loads(line)
            seqs.append(record["seq"])
            e2e.append(sum(record["stages_us"].values()) / 1e3)
    seq = np.array(seqs)
    lost = int(seq[-1] + 1 - len(np.unique(seq))) if len(seq) else 0
    p50, p99 = np.percentile(e2e, [50, 99])
    print(json.dumps({
        "duration_s": args.duration, "rate": args.rate, "frames": status["frames"],
        "frames_during_soak": status["frames"] - frames_start, "fps": round((status["frames"] - frames_start) / elapsed, 1),
        "dropped": status["dropped"], "frames_lost": lost, "frames_logged": len(seq),
        "e2e_p50_ms": round(float(p50), 3), "e2e_p99_ms": round(float(p99), 3),
        "e2e_p99_ms_worst_window": max(p99_samples), "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(rss_end, 1), "model_swaps": status["model_swaps"], "websocket_messages": ws_counts,
        "mqtt_messages": mqtt_messages[0] if broker else None, "browser": page is not None,
        "engine": status["engine"]["engine"], "specialised": status["engine"].get("specialised"),
        "exit_code": exit_code}, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
