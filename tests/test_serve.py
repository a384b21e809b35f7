"""`lutrun serve`, the real service on loopback: config, API and token, model swaps under a 1000 fps stream,
a camera lost and found, the overlay fallback, the WebSocket feed, systemd's protocol and SIGTERM."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("aiohttp")

from conftest import LUTRUN  # noqa: E402

import lutrun  # noqa: E402
from lutrun.datasets import load_idx_dataset  # noqa: E402
from lutrun.errors import ConfigError, HardwareError  # noqa: E402
from lutrun.serve import ServeConfig, Server, Service  # noqa: E402
from lutrun.stream.sources import DatasetSource, builtin_dataset_dir  # noqa: E402

TOKEN = "s3cret-token-for-tests"


def make_config(**overrides) -> ServeConfig:
    base = {"http.bind": "127.0.0.1:0", "model.engine": "cpu", "model.specialise": False, "http.token": TOKEN}
    return ServeConfig.load(overrides={**base, **overrides})


def call(url: str, method: str = "GET", body: bytes | None = None, token: str | None = None,
         content_type: str = "application/octet-stream") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(predicate, timeout: float = 15.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def model_bytes(tmp_path: Path, model: lutrun.Model, name: str) -> bytes:
    return lutrun.save_model(model, tmp_path / name).read_bytes()


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("[htp]\nbind = 'x'\n", "htp: unknown section"),
    ("[http]\nbnd = 'x'\n", "http.bnd: unknown key"),
    ("[http]\nbind = 8080\n", "http.bind: must be str, got 8080"),
    ("[http]\nbind = 'localhost'\n", "http.bind: must be HOST:PORT"),
    ("[http]\ntoken = 'short'\n", "http.token: must be at least 16 characters"),
    ("[http]\ntoken_file = '/nonexistent/token'\n", "http.token_file: cannot read /nonexistent/token"),
    ("[model]\nengine = 'gpu'\n", "model.engine: must be one of auto, cpu, fpga, sim, numpy"),
    ("[model]\nframes = 5000\n", "model.frames: must be 1..4096"),
    ("[stream]\nsources = ['webcam']\n", "stream.sources: unknown source 'webcam'"),
    ("[stream]\npolicy = 'some'\n", "stream.policy: must be one of latest, all"),
    ("[mqtt]\nqos = 3\n", "mqtt.qos: must be 0, 1 or 2"),
    ("[mqtt]\ntopic = 'a/#'\n", "mqtt.topic: must be a non-empty topic without wildcards"),
    ("[log]\nformat = 'xml'\n", "log.format: must be one of text, json"),
    ("[http\n", "not valid TOML"),
])
def test_config_errors_name_the_key_and_the_reason(tmp_path, text, message):
    path = tmp_path / "lutrun.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[").replace("(", r"\(")):
        ServeConfig.load(path)
    result = subprocess.run([*LUTRUN, "serve", "--config", str(path), "--check-config"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_flags_override_the_file_and_check_config_withholds_the_token(tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    path = tmp_path / "lutrun.toml"
    path.write_text("[http]\nbind = '127.0.0.1:9000'\n[model]\nengine = 'numpy'\n")
    result = subprocess.run([*LUTRUN, "serve", "--config", str(path), "--engine", "cpu", "--token-file",
                             str(tmp_path / "token"), "--check-config"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["http"]["bind"] == "127.0.0.1:9000" and shown["model"]["engine"] == "cpu"
    assert shown["http"]["token"] == "(set)" and TOKEN not in result.stdout


# -- the API ---------------------------------------------------------------------------


def test_reads_are_open_and_changes_need_the_token():
    with Server(make_config()) as server:
        url = server.url
        wait_for(lambda: server.service.hub.frames > 50)
        status, body = call(f"{url}/api/status")
        assert status == 200 and body["state"] == "running" and body["engine"]["engine"] == "cpu"
        assert body["model"]["digest"] == lutrun.load_model(lutrun.DEFAULT_MODEL).digest()[:16]
        assert body["sources"][0]["state"] == "streaming" and body["frames"] > 50
        status, result = call(f"{url}/api/result")
        assert status == 200 and result["class"] == result["class_names"][result["class_index"]]
        with urllib.request.urlopen(f"{url}/metrics") as response:
            text = response.read().decode()
        assert 'lutrun_model_info{digest="%s"' % body["model"]["digest"] in text
        assert 'lutrun_stage_latency_seconds_bucket{le="+Inf",stage="e2e"}' in text
        frames = int(float(next(line.split()[-1] for line in text.splitlines() if line.startswith("lutrun_frames_total"))))
        assert frames > 50
        model = (lutrun.DEFAULT_MODEL).read_bytes()
        assert call(f"{url}/api/model", "POST", model)[0] == 401
        code, answer = call(f"{url}/api/model", "POST", model, token="wrong-token-wrong-token")
        assert code == 401 and "Bearer" in answer["error"]
        assert call(f"{url}/api/source", "POST", b'{"source": "builtin"}', content_type="application/json")[0] == 401
        with urllib.request.urlopen(f"{url}/") as response:
            assert b"/static/app.js" in response.read()
    with Server(make_config(**{"http.token": ""})) as server:
        code, answer = call(f"{server.url}/api/model", "POST", model, token=TOKEN)
        assert code == 403 and "no API token is configured" in answer["error"]


def test_hostile_api_calls_get_one_clear_answer_and_the_stream_goes_on(tmp_path):
    import aiohttp

    async def ws_status(url: str, query: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{url}/api/ws?{query}"):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    with Server(make_config(**{"http.max_upload_mb": 1})) as server:
        url = server.url
        for query in ("results_hz=nan", "results_hz=-1", "preview_fps=inf", "preview_fps=abc"):
            assert asyncio.run(ws_status(url, query)) == 400, query
        assert asyncio.run(ws_status(url, "results_hz=1e9&preview_fps=0")) == 101  # lowered to the cap
        model = lutrun.DEFAULT_MODEL.read_bytes()
        for body, name, code, reason in [(b"", "x", 400, "empty upload"), (bytes(2 << 20), "x", 413, "exceeds"),
                                         (model, "a" * 201, 400, "1..200 printable"),
                                         (model, "bad%0Aname", 400, "1..200 printable")]:
            answer = call(f"{url}/api/model?name={name}", "POST", body, token=TOKEN)
            assert answer[0] == code and reason in answer[1]["error"], answer
        for body in (b"not json", b"[]", b'{"source": 5}', b'{"sources": "builtin"}', b'{"sources": []}',
                     b'{"source": "camera:99"}', b'{"source": "builtin?rate=-5"}'):
            code, answer = call(f"{url}/api/source", "POST", body, token=TOKEN, content_type="application/json")
            assert code == 400 and answer["error"], body
        status = call(f"{url}/api/status")[1]
        assert status["sources"][0]["state"] == "streaming" and status["model_swaps"] == 0
    (tmp_path / "token").write_bytes(b"x" * 10_000)
    with pytest.raises(ConfigError, match="over 4096 bytes"):
        ServeConfig.load(overrides={"http.token_file": str(tmp_path / "token")})


def zip_bomb(path: Path) -> bytes:
    """A .lutnet whose one member unpacks to 200 MB of zeros (about 200 kB packed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("layer0_tables.npy", "w") as member:
        block = bytes(1 << 20)
        for _ in range(200):
            member.write(block)
    return path.read_bytes()


@pytest.mark.slow  # timing-bound: 1000 fps, rates; too slow under emulation
def test_model_swaps_under_a_1000_fps_stream_lose_no_frame_and_each_frame_has_one_model(tmp_path):
    """Good, corrupt, wrongly shaped and zip-bomb uploads while the built-in stream runs at 1000 fps: every frame
    is delivered once, in order, and scored exactly as the numpy reference scores it with the model then installed."""
    default = lutrun.load_model(lutrun.DEFAULT_MODEL)
    other = lutrun.random_model((28, 28, 1), (300, 60, 30), fan_in=6, n_classes=10, seed=7)
    three = lutrun.random_model((28, 28, 1), (200, 30), fan_in=(6, 4), n_classes=3, seed=8)
    uploads = {"other": model_bytes(tmp_path, other, "other.lutnet"),
               "three": model_bytes(tmp_path, three, "three.lutnet"),
               "small": model_bytes(tmp_path, lutrun.random_model((14, 14, 1), (20, 10), seed=1), "small.lutnet"),
               "bomb": zip_bomb(tmp_path / "bomb.lutnet"), "corrupt": os.urandom(5000)}
    jsonl = tmp_path / "frames.jsonl"
    with Server(make_config(**{"stream.jsonl": str(jsonl)})) as server:
        url, service = server.url, server.service
        plan = [("other", 200), ("corrupt", 400), ("small", 400), ("bomb", 400), ("three", 200)]
        for name, expected in plan:
            wait_for(lambda: service.hub.frames > 300 * (1 + plan.index((name, expected))))
            code, answer = call(f"{url}/api/model?name={name}.lutnet", "POST", uploads[name], token=TOKEN)
            assert code == expected, answer
            if expected != 200:
                assert answer["error"].startswith("model rejected, the running model keeps serving")
        reasons = [call(f"{url}/api/model", "POST", uploads[n], token=TOKEN)[1]["error"] for n in ("small", "bomb")]
        assert "input is 14x14x1; the running stream's is 28x28x1" in reasons[0]
        assert "over the 67108864 byte limit" in reasons[1]
        wait_for(lambda: service.hub.frames > 2000)
        status = call(f"{url}/api/status")[1]
    assert status["model_swaps"] == 2 and status["model_swap_failures"] == 5 and status["dropped"] == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    seqs = np.array([r["seq"] for r in records])
    assert np.array_equal(seqs, np.arange(len(records)))  # none lost, none twice, in order
    digests = [m.digest()[:16] for m in (default, other, three)]
    switches = [records[0]["model"]] + [b["model"] for a, b in zip(records, records[1:]) if a["model"] != b["model"]]
    assert switches == digests
    images = load_idx_dataset(builtin_dataset_dir(), "test").images
    for model, digest in zip((default, other, three), digests):
        mine = [r for r in records if r["model"] == digest]
        expected = lutrun.create_engine("numpy", model).classify(images[[r["seq"] % len(images) for r in mine]])
        assert np.array_equal(np.array([r["scores"] for r in mine]), expected), digest
    print(json.dumps({"swaps": status["model_swaps"], "rejected": status["model_swap_failures"],
                      "frames": len(records), "frames_lost": int(len(records) - len(set(seqs.tolist())))}))


def test_a_multipart_upload_is_installed_and_a_wide_bind_is_announced(tmp_path, caplog):
    import aiohttp

    other = lutrun.random_model((28, 28, 1), (100, 20), seed=5)

    async def post(url: str) -> tuple[int, dict]:
        form = aiohttp.FormData()
        form.add_field("model", model_bytes(tmp_path, other, "form.lutnet"), filename="form.lutnet")
        async with aiohttp.ClientSession() as session, session.post(
                f"{url}/api/model", data=form, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            return response.status, await response.json()

    with caplog.at_level("WARNING", logger="lutrun.serve"), Server(make_config(**{"http.bind": "0.0.0.0:0"})) as server:
        url = server.url.replace("0.0.0.0", "127.0.0.1")
        code, answer = asyncio.run(post(url))
        assert code == 200 and answer["model"] == "form.lutnet" and answer["digest"] == other.digest()[:16]
        wait_for(lambda: call(f"{url}/api/status")[1]["model"]["digest"] == other.digest()[:16])
    assert any("beyond loopback" in r.getMessage() for r in caplog.records)


# -- resilience ------------------------------------------------------------------------


class UnpluggableCamera(DatasetSource):
    """A live source whose device the test unplugs and plugs back (``plugged`` cleared and set)."""

    live = True

    def __init__(self, plugged: bool = True):
        super().__init__(str(builtin_dataset_dir()), rate=1000.0, loop=0)
        self.spec = "camera:test"
        self.plugged = threading.Event()
        if plugged:
            self.plugged.set()

    def open(self):
        if not self.plugged.is_set():
            raise HardwareError("camera:test: no camera at /dev/video9")
        super().open()

    def read(self):
        if not self.plugged.is_set():
            raise HardwareError("camera:test: no frame (camera unplugged or stalled)")
        return super().read()


def test_a_camera_lost_is_reported_retried_and_resumed_without_restart():
    camera = UnpluggableCamera()
    with Server(make_config(), Service(make_config(), sources=[camera])) as server:
        url, service = server.url, server.service
        wait_for(lambda: service.hub.frames > 200)
        camera.plugged.clear()
        wait_for(lambda: call(f"{url}/api/status")[1]["sources"][0]["state"] == "reconnecting")
        status = call(f"{url}/api/status")[1]
        assert "camera unplugged" in " ".join(status["source_errors"])
        frames = service.hub.frames
        time.sleep(0.3)
        camera.plugged.set()
        plugged = time.monotonic()
        wait_for(lambda: service.hub.frames > frames + 100)
        resumed_s = time.monotonic() - plugged
        status = call(f"{url}/api/status")[1]
        assert status["sources"][0]["state"] == "streaming" and status["reconnects"] == 1
        assert status["state"] == "running" and resumed_s < 5
        print(json.dumps({"camera_resumed_s": round(resumed_s, 3)}))


def test_a_camera_missing_at_start_is_waited_for():
    camera = UnpluggableCamera(plugged=False)
    with Server(make_config(), Service(make_config(), sources=[camera])) as server:
        status = wait_for(lambda: (s := call(f"{server.url}/api/status")[1])["stream_error"] and s)
        assert "no camera at /dev/video9 (retrying in" in status["stream_error"]
        camera.plugged.set()
        wait_for(lambda: server.service.hub.frames > 100)
        assert call(f"{server.url}/api/status")[1]["stream_error"] is None


def test_an_overlay_that_does_not_load_falls_back_to_the_cpu_and_says_so(tmp_path):
    config = make_config(**{"model.engine": "fpga", "model.overlay": str(tmp_path / "missing.bit")})
    with Server(config) as server:
        engine = call(f"{server.url}/api/status")[1]["engine"]
    assert engine["engine"] == "cpu" and "missing.bit" in engine["note"] and "CPU engine" in engine["note"]


def test_a_source_switch_is_checked_before_the_stream_changes(tmp_path):
    with Server(make_config()) as server:
        code, answer = call(f"{server.url}/api/source", "POST", json.dumps({"source": f"images:{tmp_path}"}).encode(),
                            token=TOKEN, content_type="application/json")
        assert code == 400 and "no image files" in answer["error"]
        assert call(f"{server.url}/api/status")[1]["sources"][0]["source"] == "builtin"
        code, answer = call(f"{server.url}/api/source", "POST", json.dumps({"source": "builtin?rate=500&loop=0"}).encode(),
                            token=TOKEN, content_type="application/json")
        assert code == 200, answer
        # The new source's own state, not the frame rate: under emulation the old one may already run below 700 fps.
        wait_for(lambda: (s := call(f"{server.url}/api/status")[1]["sources"][0])["rate"] == 500.0 and s["state"] == "streaming")
        wait_for(lambda: 0 < call(f"{server.url}/api/status")[1]["fps"] < 700)


# -- the WebSocket feed ------------------------------------------------------------------


@pytest.mark.slow  # timing-bound: 1000 fps, rates; too slow under emulation
def test_the_websocket_feed_sends_results_status_and_previews_at_the_clients_rate():
    import aiohttp

    async def listen(url: str) -> list:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/api/ws?results_hz=20&preview_fps=5") as ws:
            received, end = [], time.monotonic() + 2.0
            while time.monotonic() < end:
                message = await ws.receive(timeout=2.0)
                received.append(message.data)
            return received

    with Server(make_config()) as server:
        wait_for(lambda: server.service.hub.frames > 10)
        received = asyncio.run(listen(server.url))
    texts = [json.loads(m) for m in received if isinstance(m, str)]
    results = [t for t in texts if t["type"] == "result"]
    previews = [m for m in received if isinstance(m, bytes)]
    assert 20 <= len(results) <= 44  # 20 a second asked, of about 2,000 frames
    assert all(a["seq"] < b["seq"] for a, b in zip(results, results[1:]))
    assert any(t["type"] == "status" and t["histogram"]["counts"] for t in texts)
    assert 5 <= len(previews) <= 12 and all(p[:4] == b"LRPV" and len(p) == 16 + 28 * 28 for p in previews)


@pytest.mark.slow  # timing-bound: 1000 fps, rates; too slow under emulation
def test_a_client_that_never_reads_does_not_slow_the_stream():
    with Server(make_config(**{"http.preview_fps": 1000.0, "http.results_hz": 1000.0})) as server:
        host, port = server.url.removeprefix("http://").split(":")
        stalled = socket.create_connection((host, int(port)))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /api/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert b" 101 " in stalled.recv(1024)
        before, t0 = server.service.hub.frames, time.monotonic()
        time.sleep(3.0)
        rate = (server.service.hub.frames - before) / (time.monotonic() - t0)
        t1 = time.monotonic()
        status = call(f"{server.url}/api/status")[1]
        assert time.monotonic() - t1 < 1.0 and status["dropped"] == 0
        stalled.close()
    assert rate > 900


# -- as systemd runs it -------------------------------------------------------------------


def test_lutrun_serve_notifies_systemd_logs_json_and_stops_cleanly_on_sigterm(tmp_path):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(60)
    config = tmp_path / "lutrun.toml"
    config.write_text("[model]\nengine = 'cpu'\nspecialise = false\n[http]\nbind = '127.0.0.1:0'\n"
                      "[log]\nformat = 'json'\n")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "200000"}
    process = subprocess.Popen([*LUTRUN, "serve", "--config", str(config)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        messages = [notify.recv(256).decode()]
        assert messages == ["READY=1"]
        line = json.loads(process.stderr.readline())
        while "serving on" not in line["message"]:
            line = json.loads(process.stderr.readline())
        url = line["message"].split()[-1]
        wait_for(lambda: call(f"{url}/api/status")[1]["frames"] > 100)
        while "WATCHDOG=1" not in messages:
            messages.append(notify.recv(256).decode())
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        while "STOPPING=1" not in messages:
            messages.append(notify.recv(256).decode())
        rest = [json.loads(line) for line in process.stderr.read().splitlines()]
        assert rest[-1]["message"].startswith("stopped after") and all(r["level"] for r in rest)
    finally:
        process.kill()
        notify.close()


APPS = Path(__file__).resolve().parent.parent / "apps"


def test_the_shipped_unit_passes_systemd_analyze_with_this_lutrun(tmp_path):
    import shutil
    import sys

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (APPS / "systemd" / "lutrun.service").read_text()
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "Restart=on-failure" in unit
    (tmp_path / "lutrun.service").write_text(unit.replace("@VENV@", str(Path(sys.executable).parent.parent)))
    result = subprocess.run([analyze, "verify", str(tmp_path / "lutrun.service")], capture_output=True, text=True)
    assert result.returncode == 0 and "lutrun.service" not in result.stderr, result.stderr


def test_the_shipped_config_is_valid_and_the_install_script_parses(tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    config = ServeConfig.load(APPS / "systemd" / "lutrun.toml", {"http.token_file": str(tmp_path / "token")})
    assert config.stream.sources[0].startswith("camera:0") and config.http.token == TOKEN
    assert not config.http.loopback() and config.log.format == "json"
    assert subprocess.run(["bash", "-n", str(APPS / "install-pynq.sh")]).returncode == 0
