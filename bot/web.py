"""The bot's own HTTP endpoints: /healthz (alive) and /readyz (able to work)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bot.store import Store

log = logging.getLogger("bot.web")


class StatusServer:
    """A small aiohttp server; `ready` reports whether the scheduler runs and rules are loaded."""

    def __init__(self, store: Store, ready: Callable[[], bool], host: str, port: int) -> None:
        self.store = store
        self.ready = ready
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        problems: list[str] = []
        try:
            await self.store.call(self.store.count, "feeds")
        except Exception as exc:
            problems.append(f"database: {type(exc).__name__}")
        if not self.ready():
            problems.append("scheduler not running or rules not loaded")
        status = 503 if problems else 200
        return web.json_response(
            {"status": "ok" if not problems else "unready", "problems": problems}, status=status
        )

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("web.started", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
