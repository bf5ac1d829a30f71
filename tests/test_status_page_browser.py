"""The status page in a real browser: Debian's headless Chromium, driven over the DevTools
protocol (aiohttp's WebSocket client, so no browser-automation package to install)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.metrics import Metrics
from bot.web import StatusServer
from tests.status_rig import HOSTILE_TITLE, add_hostile_alert, seeded_bot

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0


def chromium_binary() -> str:
    """Debian's chromium; a skip saying why where it is absent, a failure under CI."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        reason = "chromium not installed (apt-get install chromium): browser test skipped"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; .ci/run must install it under CI")
        pytest.skip(reason)
    return found


class Page:
    """One browser tab: send DevTools commands, keep every console and log event."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str) -> None:
        self.ws = ws
        self.session = session
        self.events: list[dict[str, Any]] = []
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._loaded = asyncio.Event()

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await send(self.ws, self, method, params, session=self.session)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries (CSP, network, …)."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args"))[:300])
            elif method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails"))[:300])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", "")[:300])
        return found


async def send(
    ws: aiohttp.ClientWebSocketResponse,
    router: Any,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    session: str | None = None,
) -> dict[str, Any]:
    router._next += 1
    message: dict[str, Any] = {"id": router._next, "method": method, "params": params or {}}
    if session is not None:
        message["sessionId"] = session
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    router._waiting[router._next] = future
    await ws.send_str(json.dumps(message))
    reply = await asyncio.wait_for(future, CALL_TIMEOUT_S)
    if "error" in reply:
        raise AssertionError(f"{method}: {reply['error']}")
    result: dict[str, Any] = reply.get("result", {})
    return result


class Browser:
    """A throwaway headless Chromium with a fresh profile, on a DevTools WebSocket."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Browser:
        self.proc = await asyncio.create_subprocess_exec(
            self.binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self.profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.returncode is not None:
                raise AssertionError(f"chromium exited at start with {self.proc.returncode}")
            if loop.time() > deadline:
                raise AssertionError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)  # a subprocess starting: poll its port file
        port, path = port_file.read_text().splitlines()[:2]
        self._http = aiohttp.ClientSession()
        self.ws = await self._http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            page = self._pages.get(data.get("sessionId", ""))
            router: Any = page if page is not None else self
            if "id" in data:
                future = router._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif page is not None:
                page.events.append(data)
                if data.get("method") == "Page.loadEventFired":
                    page._loaded.set()

    async def new_page(self) -> Page:
        assert self.ws is not None
        target = await send(self.ws, self, "Target.createTarget", {"url": "about:blank"})
        attached = await send(
            self.ws,
            self,
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
        )
        page = Page(self.ws, attached["sessionId"])
        self._pages[page.session] = page
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        return page

    async def open(self, url: str) -> Page:
        page = await self.new_page()
        navigated = await page.send("Page.navigate", {"url": url})
        assert "errorText" not in navigated, navigated
        await asyncio.wait_for(page._loaded.wait(), CALL_TIMEOUT_S)
        return page

    async def __aexit__(self, *_exc: object) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):  # the browser may already be gone
                await send(self.ws, self, "Browser.close")
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._http is not None:
            await self._http.close()
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    binary = chromium_binary()
    async with Browser(binary, tmp_path / "chromium-profile") as b:
        yield b


async def test_the_status_page_lists_the_alerts_of_a_seed_replay_with_no_console_errors(
    seeds: Path, tmp_path: Path, browser: Browser
) -> None:
    async with seeded_bot(seeds, tmp_path) as rig:
        store = rig.store
        hostile = await store.call(add_hostile_alert, store, rig.clock.now())
        matches = store.list_matches()
        from prometheus_client import CollectorRegistry

        server = StatusServer(
            store,
            lambda: True,
            "127.0.0.1",
            0,
            metrics=Metrics(CollectorRegistry(), replica="browser-test", process=False),
            now=rig.clock.now,
        )
        await server.start()
        try:
            page = await browser.open(f"{server.url}/")
            shown = await page.evaluate(
                """[...document.querySelectorAll('article.alert')].map(a => ({
                    id: a.id,
                    title: a.querySelector('h3').textContent,
                    rule: a.dataset.rule,
                    evidence: [...a.querySelectorAll('blockquote')].map(b => b.textContent),
                    source: a.querySelector('p.source').textContent,
                }))"""
            )
            feeds = await page.evaluate(
                "[...document.querySelectorAll('#feed-table tbody tr')].map(r => r.dataset.feed)"
            )
            title = await page.evaluate("document.title")
            pwned = await page.evaluate("window.__pwned === undefined ? null : window.__pwned")
            source_links = await page.evaluate(
                "[...document.querySelectorAll('p.source a')].map(a => a.protocol)"
            )
            errors = page.errors()
        finally:
            await server.stop()
    assert title == "news-alert-bot status"
    assert errors == []
    assert pwned is None  # nothing from the article ran
    replayed = [m for m in matches if m["alert_id"] != hostile]
    assert len(replayed) >= 3
    by_id = {a["id"]: a for a in shown}
    assert len(shown) == len(matches)
    for m in replayed:
        card = by_id[f"alert-{m['alert_id']}"]
        assert card["title"] == m["title"]
        assert card["rule"] == m["rule_id"]
        assert card["evidence"] == m["evidence"]
    assert by_id[f"alert-{hostile}"]["title"] == "<i>Alert</i> title with </article> in it"
    assert by_id[f"alert-{hostile}"]["source"].startswith(HOSTILE_TITLE)  # text, not markup
    assert set(source_links) == {"http:"}  # the javascript: URL is no link
    assert sorted(feeds) == sorted(rig.server.outlets)
