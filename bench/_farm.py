"""Loopback servers for the benchmarks, run as a child process by `bench._harness.ServerProcess`.

Two kinds, spread over many loopback addresses (one listening socket per address, the same port
on each where it is free) so that per-host limits see many hosts, as they would in the wild:

- a feed farm (`--feeds N`): N RSS feeds of `--items` items each, with ETag and Last-Modified,
  answering 304 to a conditional GET while unchanged. `bump` changes every feed's document (its
  build date and description; the items stay the same, so a reader parses the whole document
  and finds nothing new, and no page is fetched). Item pages answer 404, so a bot that stores
  a feed's items for the first time keeps their summaries without extracting anything.
- real pages (`--aeb FOLDER`): the article-extraction benchmark's pages as they are, listed
  by `--outlets` feeds.
- replay servers (`--replay CORPUS`): `bot.replay.ReplayServer`, one per address, each serving
  the outlets assigned to it; `--clock all` releases every article, `--clock live` releases
  each one when the real time passes its publication time.

`--receiver` adds a `bot.replay.AlertReceiver` on 127.0.0.1 for webhook deliveries.

It prints one JSON line (what it serves), then answers each line on stdin with one JSON line:
`bump`, `delay SECONDS`, `stats`, `received`. It exits when stdin closes or after `--ttl` s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

BASE_TIME = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
LEAD = (
    "Negotiators met again on Tuesday to discuss the framework for a ceasefire, officials said, "
    "as delegations exchanged drafts on security guarantees, prisoner exchanges and the "
    "reconstruction fund. No date was set for the next round of talks."
)


def hosts(n: int) -> list[str]:
    return [f"127.0.0.{i}" for i in range(1, n + 1)]


async def bind_all(runner: web.AppRunner, addresses: list[str]) -> dict[str, int]:
    """One TCPSite per address, all on the first one's port where that port is free."""
    ports: dict[str, int] = {}
    port = 0
    for address in addresses:
        try:
            site = web.TCPSite(runner, address, port, backlog=4096)
            await site.start()
        except OSError:
            site = web.TCPSite(runner, address, 0, backlog=4096)
            await site.start()
        server = site._server  # the asyncio server: the only way to learn a port-0 bind
        assert server is not None and server.sockets
        ports[address] = server.sockets[0].getsockname()[1]
        port = port or ports[address]
    return ports


class FeedFarm:
    """N feeds whose documents change only when told to."""

    def __init__(self, feeds: int, items: int, addresses: list[str], delay: float) -> None:
        self.feeds = feeds
        self.items = items
        self.addresses = addresses
        self.delay = delay
        self.version = 0
        self.pool = max(100, items * 10)
        self.statuses: Counter[int] = Counter()
        self.ports: dict[str, int] = {}
        self._cache: dict[int, tuple[int, bytes, str, str, datetime]] = {}

    def host_of(self, i: int) -> str:
        address = self.addresses[i % len(self.addresses)]
        return f"{address}:{self.ports[address]}"

    def feed_url(self, i: int) -> str:
        return f"http://{self.host_of(i)}/f/{i}.xml"

    def _document(self, i: int) -> tuple[int, bytes, str, str, datetime]:
        cached = self._cache.get(i)
        if cached is not None and cached[0] == self.version:
            return cached
        built = BASE_TIME + timedelta(minutes=self.version)
        wire = self.host_of(0)
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
            f"<title>Feed {i}</title><link>http://{self.host_of(i)}/</link>",
            f"<description>Feed {i}, edition {self.version}</description>",
            f"<lastBuildDate>{format_datetime(built, usegmt=True)}</lastBuildDate>",
        ]
        for k in range(self.items):
            j = (i * 3 + k) % self.pool
            published = BASE_TIME - timedelta(hours=j)
            parts.append(
                f"<item><title>Talks resume, day {j}</title>"
                f"<link>http://{wire}/a/{j}.html</link>"
                f'<guid isPermaLink="false">story-{j}</guid>'
                f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
                f"<description>{LEAD} (Item {j}.)</description></item>"
            )
        parts.append("</channel></rss>\n")
        body = "".join(parts).encode()
        etag = f'"{i}-{self.version}"'
        document = (self.version, body, etag, format_datetime(built, usegmt=True), built)
        self._cache[i] = document
        return document

    async def feed(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            i = int(request.match_info["n"])
        except ValueError:
            i = -1
        if not 0 <= i < self.feeds:
            self.statuses[404] += 1
            return web.Response(status=404, text="no such feed\n")
        _, body, etag, modified, built = self._document(i)
        headers = {"ETag": etag, "Last-Modified": modified}
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None:
            fresh = etag in (t.strip().removeprefix("W/") for t in inm.split(","))
        elif ims:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                fresh = built <= parsedate_to_datetime(ims)
        if fresh:
            self.statuses[304] += 1
            return web.Response(status=304, headers=headers)
        self.statuses[200] += 1
        headers["Content-Type"] = "application/rss+xml; charset=utf-8"
        return web.Response(body=body, headers=headers)

    async def page(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.statuses[404] += 1
        return web.Response(status=404, text="gone\n")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/f/{n}.xml", self.feed)
        app.router.add_get("/a/{n}.html", self.page)
        return app


class PageFarm:
    """Real article pages (the article-extraction benchmark's), served as they are, listed by
    `outlets` RSS feeds; every item was published an hour before the farm started."""

    def __init__(self, folder: Path, outlets: int, addresses: list[str]) -> None:
        import gzip
        import re

        self.pages: dict[str, bytes] = {}
        self.titles: dict[str, str] = {}
        for path in sorted((folder / "html").glob("*.html.gz")):
            key = path.name.removesuffix(".html.gz")
            body = gzip.decompress(path.read_bytes())
            self.pages[key] = body
            found = re.search(rb"<title[^>]*>(.*?)</title>", body, re.S | re.I)
            title = found.group(1).decode("utf-8", "replace") if found else key
            self.titles[key] = " ".join(title.split())[:200] or key
        self.outlets = outlets
        self.addresses = addresses
        self.ports: dict[str, int] = {}
        self.published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self._feeds: dict[int, bytes] = {}

    def outlet_of(self, key: str) -> int:
        return sorted(self.pages).index(key) % self.outlets

    def base(self, outlet: int) -> str:
        address = self.addresses[outlet % len(self.addresses)]
        return f"http://{address}:{self.ports[address]}"

    def feed_url(self, outlet: int) -> str:
        return f"{self.base(outlet)}/aeb/{outlet}.xml"

    def page_url(self, key: str) -> str:
        return f"{self.base(self.outlet_of(key))}/aeb/p/{key}.html"

    def _feed(self, outlet: int) -> bytes:
        from xml.sax.saxutils import escape

        if outlet not in self._feeds:
            stamp = format_datetime(self.published, usegmt=True)
            items = [
                f"<item><title>{escape(self.titles[k])}</title><link>{self.page_url(k)}</link>"
                f"<guid>{k}</guid><pubDate>{stamp}</pubDate></item>"
                for k in sorted(self.pages)
                if self.outlet_of(k) == outlet
            ]
            self._feeds[outlet] = (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>Outlet {outlet}</title><link>{self.base(outlet)}/</link>"
                f"<description>Outlet {outlet}</description>{''.join(items)}"
                "</channel></rss>\n"
            ).encode()
        return self._feeds[outlet]

    async def feed(self, request: web.Request) -> web.Response:
        try:
            outlet = int(request.match_info["n"])
        except ValueError:
            outlet = -1
        if not 0 <= outlet < self.outlets:
            return web.Response(status=404, text="no such feed\n")
        return web.Response(body=self._feed(outlet), content_type="application/rss+xml")

    async def page(self, request: web.Request) -> web.Response:
        body = self.pages.get(request.match_info["key"])
        if body is None:
            return web.Response(status=404, text="no such page\n")
        return web.Response(body=body, content_type="text/html")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024)
        app.router.add_get("/aeb/{n}.xml", self.feed)
        app.router.add_get("/aeb/p/{key}.html", self.page)
        return app


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    commands: asyncio.Queue[str | None] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, None)

    threading.Thread(target=read_stdin, daemon=True).start()
    loop.call_later(args.ttl, stop.set)
    info: dict[str, Any] = {}
    cleanup: list[Any] = []
    farm: FeedFarm | None = None
    replays: list[Any] = []
    receiver: Any = None
    background: list[asyncio.Task[None]] = []

    if args.feeds:
        farm = FeedFarm(args.feeds, args.items, hosts(args.hosts), args.delay)
        runner = web.AppRunner(farm.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        cleanup.append(runner.cleanup)
        farm.ports = await bind_all(runner, farm.addresses)
        info["feeds"] = [farm.feed_url(i) for i in range(args.feeds)]
    if args.aeb:
        pages = PageFarm(Path(args.aeb), args.outlets, hosts(min(args.hosts, args.outlets)))
        runner = web.AppRunner(pages.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        cleanup.append(runner.cleanup)
        pages.ports = await bind_all(runner, pages.addresses)
        info["aeb"] = [pages.feed_url(k) for k in range(args.outlets)]
        info["pages"] = {k: pages.page_url(k) for k in pages.pages}
    if args.replay:
        from bot.replay import ReplayClock, ReplayServer, load_corpus

        articles = load_corpus(Path(args.replay))
        outlets = sorted({a.outlet for a in articles})
        addresses = hosts(min(args.hosts, len(outlets)))
        host_of = {o: addresses[n % len(addresses)] for n, o in enumerate(outlets)}
        if args.clock == "all":
            clock = ReplayClock(articles[-1].published + timedelta(seconds=1))
        else:
            clock = ReplayClock(min(datetime.now(UTC), articles[0].published))
        for address in addresses:
            mine = [a for a in articles if host_of[a.outlet] == address]
            server = ReplayServer(mine, clock, host=address, delay=args.delay)
            await server.start()
            cleanup.append(server.stop)
            replays.append(server)
        info["replay"] = {o: s.feed_url(o) for s in replays for o in s.outlets}
        info["pages"] = {a.id: s.page_url(a.id) for s in replays for a in s.articles}
        if args.clock == "live":

            async def follow_real_time() -> None:
                while True:
                    now = datetime.now(UTC)
                    if now > clock.now():
                        clock.advance_to(now)
                    for server in replays:
                        server.requests.clear()  # a soak runs long: keep this process small
                    await asyncio.sleep(0.5)

            background.append(asyncio.create_task(follow_real_time()))
    if args.receiver:
        from bot.replay import AlertReceiver

        receiver = AlertReceiver()
        await receiver.start()
        cleanup.append(receiver.stop)
        info["receiver"] = receiver.url

    print(json.dumps(info), flush=True)

    async def answer() -> None:
        while True:
            line = await commands.get()
            if line is None:
                stop.set()
                return
            word, _, rest = line.partition(" ")
            out: dict[str, Any] = {"ok": True}
            if word == "bump" and farm is not None:
                farm.version += 1
                out["version"] = farm.version
            elif word == "delay":
                value = float(rest)
                if farm is not None:
                    farm.delay = value
                for server in replays:
                    server.delay = value
            elif word == "stats":
                out["statuses"] = dict(farm.statuses) if farm is not None else {}
            elif word == "received" and receiver is not None:
                delivered = receiver.delivered
                out["delivered"] = len(delivered)
                out["ids"] = [r.headers.get("webhook-id") for r in delivered]
                receiver.received.clear()
            else:
                out = {"ok": False, "error": f"unknown command {line!r}"}
            print(json.dumps(out), flush=True)

    responder = asyncio.create_task(answer())
    await stop.wait()
    responder.cancel()
    for task in background:
        task.cancel()
    for close in reversed(cleanup):
        with contextlib.suppress(Exception):
            await close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--feeds", type=int, default=0)
    ap.add_argument("--items", type=int, default=10)
    ap.add_argument("--hosts", type=int, default=250)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--replay", default="")
    ap.add_argument("--aeb", default="", help="the article-extraction benchmark's folder")
    ap.add_argument("--outlets", type=int, default=10, help="feeds listing the --aeb pages")
    ap.add_argument("--clock", choices=["all", "live"], default="all")
    ap.add_argument("--receiver", action="store_true")
    ap.add_argument("--ttl", type=float, default=3600.0)
    args = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
