"""The HTTP side of the service, on aiohttp: the live page, the JSON API, the WebSocket feed and /metrics.

Reads are open; the two mutating endpoints need ``Authorization: Bearer
TOKEN`` (compared in constant time) and are off when no token is configured.
Each WebSocket client gets its own feed task that sends the newest result
and preview at the rate it asked for (capped by the config) and is closed
when a send stalls, so a slow or dead client costs nobody else anything.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import struct
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from lutrun.errors import ConfigError, LutrunError
from lutrun.serve import metrics
from lutrun.serve.service import Service, UploadBusy

log = logging.getLogger("lutrun.serve.web")
SERVICE = web.AppKey("service", Service)
REGISTRY = web.AppKey("registry", object)
STATIC = resources.files("lutrun.serve") / "static"
SEND_TIMEOUT_S = 5.0  # a WebSocket client that takes longer than this for one message is dropped
STATUS_EVERY_S = 1.0
# b"LRPV", height, width, channels, the frame's sequence number and predicted class; then the pixels, row-major.
PREVIEW_HEADER = struct.Struct("<4sHHHIH")


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, allow_nan=False), **kwargs)


def error(status: int, message: str, **kwargs: Any) -> web.Response:
    return json_response({"ok": False, "error": message}, status, **kwargs)


def _refused(request: web.Request) -> web.Response | None:
    """None when the request carries the API token; else the answer to send."""
    token = request.app[SERVICE].config.http.token
    if not token:
        return error(403, "changes are off: no API token is configured (http.token or http.token_file)")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return error(401, "missing or wrong API token: send 'Authorization: Bearer TOKEN'",
                     headers={"WWW-Authenticate": 'Bearer realm="lutrun"'})
    return None


async def index(_request: web.Request) -> web.Response:
    return web.Response(body=(STATIC / "index.html").read_bytes(), content_type="text/html")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    types = {".js": "text/javascript", ".css": "text/css"}
    suffix = name[name.rfind("."):] if "." in name else ""
    path = STATIC / name
    if "/" in name or suffix not in types or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), content_type=types[suffix])


async def status(request: web.Request) -> web.Response:
    return json_response(request.app[SERVICE].status())


async def result(request: web.Request) -> web.Response:
    latest = request.app[SERVICE].hub.latest
    return json_response(latest) if latest is not None else error(503, "no frame classified yet")


async def metrics_page(request: web.Request) -> web.Response:
    body = metrics.render(request.app[REGISTRY])  # type: ignore[arg-type]
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


async def _upload(request: web.Request, limit: int) -> tuple[bytes, str]:
    """The .lutnet's bytes and name: the body itself, or the first file of a multipart form."""
    if request.content_type != "multipart/form-data":
        return await request.read(), _model_name(request.query.get("name", "upload.lutnet"))
    reader = await request.multipart()
    async for part in reader:
        if getattr(part, "filename", None):
            data = bytearray()
            while chunk := await part.read_chunk(1 << 16):  # type: ignore[union-attr]
                data += chunk
                if len(data) > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(data))
            return bytes(data), _model_name(part.filename)  # type: ignore[union-attr,arg-type]
    raise ConfigError("the form has no file: send the .lutnet as a file field, or as the request body")


def _model_name(name: str) -> str:
    """The label an upload is shown and logged under: printable, at most 200 characters."""
    if not name or len(name) > 200 or not name.isprintable():
        raise ConfigError("the model's name must be 1..200 printable characters")
    return name


async def post_model(request: web.Request) -> web.Response:
    if (refusal := _refused(request)) is not None:
        return refusal
    service = request.app[SERVICE]
    try:
        data, name = await _upload(request, service.config.http.max_upload_mb << 20)
        if not data:
            raise ConfigError("empty upload: send the .lutnet file's bytes")
        answer = await asyncio.get_running_loop().run_in_executor(None, service.swap_model, data, name)
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"the upload exceeds http.max_upload_mb ({service.config.http.max_upload_mb} MB)")
    except UploadBusy as exc:
        return error(409, str(exc))
    except LutrunError as exc:
        return error(400, f"model rejected, the running model keeps serving: {exc}")
    return json_response(answer)


async def post_source(request: web.Request) -> web.Response:
    if (refusal := _refused(request)) is not None:
        return refusal
    service = request.app[SERVICE]
    try:
        body = await request.json()
        specs = body.get("sources") or [body.get("source")] if isinstance(body, dict) else None
        if not isinstance(specs, list) or not specs or not all(isinstance(s, str) and s for s in specs):
            raise ConfigError('send {"source": "SPEC"} or {"sources": ["SPEC", ...]}')
        answer = await asyncio.get_running_loop().run_in_executor(None, service.switch_source, specs)
    except json.JSONDecodeError:
        return error(400, 'the body must be JSON: {"source": "SPEC"}')
    except LutrunError as exc:
        return error(400, f"source not switched, the stream goes on: {exc}")
    return json_response(answer)


def _rate(request: web.Request, key: str, cap: float) -> float:
    """A client's rate from the query: a finite number >= 0 (0: none), lowered to the config's cap."""
    try:
        value = float(request.query.get(key, cap))
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error": f"{key} must be a number >= 0 (at most "
                                                  f"{cap:g} is sent), got {request.query.get(key)!r}"}),
                                 content_type="application/json")
    return min(value, cap)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Per-client feed: ``?results_hz=`` and ``?preview_fps=`` (0: none), each capped by the config."""
    service = request.app[SERVICE]
    results_hz = _rate(request, "results_hz", service.config.http.results_hz)
    preview_fps = _rate(request, "preview_fps", service.config.http.preview_fps)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=1 << 12)
    await ws.prepare(request)
    service.websocket_clients += 1
    feed = asyncio.create_task(_feed(ws, service, results_hz, preview_fps))
    try:
        async for message in ws:  # clients send nothing we need; this loop notices them leave
            if message.type == WSMsgType.ERROR:
                break
    finally:
        feed.cancel()
        service.websocket_clients -= 1
    return ws


async def _feed(ws: web.WebSocketResponse, service: Service, results_hz: float, preview_fps: float) -> None:
    loop = asyncio.get_running_loop()
    periods = [p for p in (1 / results_hz if results_hz else 0, 1 / preview_fps if preview_fps else 0) if p]
    tick = min([*periods, STATUS_EVERY_S])
    sent_result = sent_preview = -1
    next_result = next_preview = next_status = loop.time()
    try:
        while not ws.closed:
            now = loop.time()
            if now >= next_status:
                await _send(ws.send_str(json.dumps({"type": "status", **service.status(),
                                                    "histogram": service.hub.histogram()})))
                next_status = now + STATUS_EVERY_S
            if results_hz and now >= next_result and service.hub.version != sent_result:
                sent_result, latest = service.hub.version, service.hub.latest
                if latest is not None:
                    await _send(ws.send_str(json.dumps({"type": "result", **latest})))
                next_result = now + 1 / results_hz
            version, frame, (seq, predicted) = service.preview()
            if preview_fps and now >= next_preview and frame is not None and version != sent_preview:
                sent_preview = version
                h, w = frame.shape[:2]
                c = frame.shape[2] if frame.ndim == 3 else 1
                header = PREVIEW_HEADER.pack(b"LRPV", h, w, c, seq % 2**32, predicted)
                await _send(ws.send_bytes(header + frame.tobytes()))
                next_preview = now + 1 / preview_fps
            await asyncio.sleep(tick)
    except (asyncio.TimeoutError, ConnectionError):
        log.info("dropping a WebSocket client that stopped reading")
        await ws.close()


async def _send(sending: Any) -> None:
    await asyncio.wait_for(sending, SEND_TIMEOUT_S)


def make_app(service: Service) -> web.Application:
    app = web.Application(client_max_size=service.config.http.max_upload_mb << 20)
    app[SERVICE] = service
    app[REGISTRY] = metrics.registry_for(service)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/result", result)
    app.router.add_get("/api/ws", websocket)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_post("/api/model", post_model)
    app.router.add_post("/api/source", post_source)
    return app
