"""Running the service: the HTTP server, systemd's readiness and watchdog, and a clean stop.

``run(config)`` is ``lutrun serve``: it blocks until SIGTERM or SIGINT, lets
the frames in flight finish, says offline on MQTT and returns 0.
``Server`` embeds the same thing in a program or a test, on a thread of its own.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

from aiohttp import web

from lutrun.serve import systemd
from lutrun.serve.config import ServeConfig
from lutrun.serve.service import Service
from lutrun.serve.web import make_app

log = logging.getLogger("lutrun.serve")


class Server:
    """The service and its HTTP server; ``async start/stop``, or ``with Server(...)`` to run it on a thread.

    >>> from lutrun.serve import ServeConfig, Server
    >>> config = ServeConfig.load(overrides={"http.bind": "127.0.0.1:0", "model.engine": "cpu",
    ...                                      "model.specialise": False})
    >>> with Server(config) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, config: ServeConfig, service: Service | None = None) -> None:
        self.config = config
        self.service = service or Service(config)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.service.start)  # compiling a kernel takes a while: off the loop
        self._runner = web.AppRunner(make_app(self.service), access_log=None)
        await self._runner.setup()
        host, port = self.config.http.address()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError:
            await self._runner.cleanup()
            await loop.run_in_executor(None, self.service.stop)
            raise
        bound = self._runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}"
        if not self.config.http.loopback():
            log.warning("listening on %s, beyond loopback, as http.bind asks: anyone who reaches this host sees "
                        "the stream", self.url)
        log.info("serving on %s", self.url)
        systemd.notify("READY=1")
        systemd.notify(f"STATUS=serving on {self.url}")
        period = systemd.watchdog_period_s()
        if period:
            self._watchdog = asyncio.create_task(self._ping(period))

    async def _ping(self, period: float) -> None:
        """WATCHDOG=1 while the stream is healthy; silence lets systemd restart a wedged service."""
        while True:
            if self.service.healthy():
                systemd.notify("WATCHDOG=1")
            await asyncio.sleep(period)

    async def stop(self) -> None:
        systemd.notify("STOPPING=1")
        if self._watchdog is not None:
            self._watchdog.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.service.stop)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- on a thread of its own ----------------------------------------------------

    def __enter__(self) -> Server:
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=main, name="lutrun-serve", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


def run(config: ServeConfig) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean stop."""
    async def main() -> None:
        server = Server(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        await stop.wait()
        log.info("stopping: finishing the frames in flight")
        await server.stop()
        log.info("stopped after %d frames", server.service.hub.frames)

    asyncio.run(main())
    return 0
