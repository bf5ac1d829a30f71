"""The bot's own HTTP endpoints: /healthz, /readyz, /metrics and a read-only status page."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from bot.health import DEFAULT_FAILURE_THRESHOLD
from bot.metrics import Metrics
from bot.status_page import CSP, RECENT_ALERTS, RefusedEdit, esc, render_page
from bot.store import Store
from bot.store._maintenance import OutboxSummary

__all__ = ["CSP", "Readiness", "RefusedEdit", "StatusServer", "esc", "render_page"]

log = logging.getLogger("bot.web")

# `ready` answers with one flag, or with named flags ({"rules": True, "scheduler": False}).
Readiness = Callable[[], bool | Mapping[str, bool]]

DB_TIMEOUT_S = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class StatusServer:
    """A small aiohttp server over the store and the metrics registry.

    It may start before the store is open (`store=None`, then `attach`), so that /healthz
    answers at once and /readyz says 503 until the database, the rules and the scheduler are
    all there.
    """

    def __init__(
        self,
        store: Store | None,
        ready: Readiness,
        host: str,
        port: int,
        *,
        metrics: Metrics | None = None,
        now: Callable[[], datetime] = utc_now,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        name: str = "news-alert-bot",
        refused_edit: Callable[[], RefusedEdit | None] | None = None,
    ) -> None:
        self.store: Store | None = None
        self.ready = ready
        self.host = host
        self.port = port
        self.metrics = metrics if metrics is not None else Metrics(CollectorRegistry())
        self.now = now
        self.failure_threshold = failure_threshold
        self.name = name
        self.refused_edit = refused_edit or (lambda: None)
        self._runner: web.AppRunner | None = None
        if store is not None:
            self.attach(store)

    def attach(self, store: Store) -> None:
        """Serve from `store` from now on; /metrics reads its gauges at each scrape."""
        self.store = store
        self.metrics.watch_store(lambda: store.gauges(self.now()))

    @property
    def url(self) -> str:
        """The base URL the server listens on (the real port when started on port 0)."""
        port = self.port
        if self._runner is not None and self._runner.addresses:
            port = int(self._runner.addresses[0][1])
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
        return f"http://{host}:{port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_security_headers])
        app.router.add_get("/", self._status_page)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    # -- probes ----------------------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readiness(self) -> dict[str, str]:
        """Each check by name: "ok", or what is missing."""
        checks: dict[str, str] = {}
        if self.store is None:
            checks["database"] = "not open yet"
        else:
            try:
                await asyncio.wait_for(self.store.call(self.store.ping), DB_TIMEOUT_S)
                checks["database"] = "ok"
            except TimeoutError:
                checks["database"] = f"no answer within {DB_TIMEOUT_S:g}s"
            except Exception as exc:
                checks["database"] = f"unreachable ({type(exc).__name__})"
        try:
            flags = self.ready()
        except Exception as exc:  # a broken callback means "not ready", never a 500
            flags = {"ready": False}
            log.warning("web.ready_check_failed", extra={"error": type(exc).__name__})
        if isinstance(flags, bool):
            flags = {"scheduler and rules": flags}
        for name, ok in flags.items():
            checks[name] = "ok" if ok else "not ready"
        return checks

    def warnings(self) -> tuple[list[str], dict[str, Any]]:
        """What an operator must hear of although the bot stays ready: one line each, and the
        details by name (today: a rules/ edit that was refused)."""
        refused = self.refused_edit()
        if refused is None:
            return [], {}
        line = (
            f"rules: an edit was refused ({len(refused.problems)} problem"
            f"{'s' if len(refused.problems) != 1 else ''}); the last good rules keep running"
        )
        detail = {
            "state": "refused",
            "at": refused.at.astimezone(UTC).isoformat(timespec="seconds"),
            "failures": refused.failures,
            "problems": list(refused.problems),
        }
        return [line], {"rules_edit": detail}

    async def _readyz(self, _request: web.Request) -> web.Response:
        checks = await self.readiness()
        problems = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
        warnings, details = self.warnings()
        return web.json_response(
            {
                "status": "unready" if problems else "ok",
                "checks": checks,
                "problems": problems,
                "warnings": warnings,
                **details,
            },
            status=503 if problems else 200,
        )

    # -- /metrics --------------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        registry = self.metrics.registry
        # The store gauges query the database: never on the event loop.
        if self.store is not None:
            body = await self.store.call(encoder, registry)
        else:
            body = await asyncio.to_thread(encoder, registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    # -- the status page -------------------------------------------------------------------

    async def _status_page(self, _request: web.Request) -> web.Response:
        now = self.now()
        checks = await self.readiness()
        store = self.store
        if store is None or checks.get("database") != "ok":
            page = render_page(
                name=self.name,
                now=now,
                checks=checks,
                feeds=[],
                alerts=[],
                outbox=OutboxSummary({}, None, []),
                suppressed={},
                threshold=self.failure_threshold,
                refused=self.refused_edit(),
            )
            return _html(page, status=503)
        feeds = await store.call(store.feed_overview)
        alerts = await store.call(store.recent_alerts, RECENT_ALERTS)
        outbox = await store.call(store.outbox_summary)
        page = render_page(
            name=self.name,
            now=now,
            checks=checks,
            feeds=feeds,
            alerts=alerts,
            outbox=outbox,
            suppressed=self.metrics.suppressed_counts(),
            threshold=self.failure_threshold,
            refused=self.refused_edit(),
        )
        return _html(page)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("web.started", extra={"host": self.host, "port": self.port, "url": self.url})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
    return response


def _html(page: str, status: int = 200) -> web.Response:
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
