"""Polling: N loopback feeds, unchanged (304) and changed (200, parsed), feeds per second.

Every client polls the same feeds of one feed farm (`bench/_farm.py`, in its own process,
spread over many loopback addresses), all feeds at once as the scheduler would start them when
they fall due together, at most 4 requests per host (the bot's `per_host_limit`):

- the bot: `Pipeline.poll(feed, force=True)` on every feed, SQLite store, as `bot run --once`
  does (lease claimed, conditional GET, parse, known-URL check, poll recorded); with its
  default transport (aiohttp's pool, called directly) and with `BOT_NET_TRANSPORT=httpx`
  (httpx's own connection pool);
- the bot's parts alone: its store (lease and poll record, no network) and its `Http` client
  (the bare loop below, through `Http.get`);
- a bare aiohttp loop with conditional headers: the practical limit of the harness;
- bare httpx loops: the default `AsyncClient`, one client per host, the `httpx-aiohttp`
  transport (DESIGN.md: "httpx, measured");
- rss2email's own `run` (sequential, urllib), if it is installed.

Passes, each client in turn: a first pass that learns validators (not reported), the 304 pass,
then every feed's document changes (same items, new build date) and the changed pass, where
each client parses every document. With `--delay` (default 0.1 s) both passes are repeated with
that delay on every response; rss2email, strictly sequential, is then timed on
`--sequential-feeds` feeds only (it would take N × delay).

    .venv/bin/python bench/bench_polling.py [--feeds 2000] [--items 10] [--hosts 250]
        [--delay 0.1] [--clients bot,aiohttp,rss2email,...] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import io
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import feedparser  # noqa: E402
import httpx  # noqa: E402

from bench._harness import (  # noqa: E402
    PYTHON,
    ServerProcess,
    Summary,
    command_line,
    load_average,
    py_spy,
    table,
    verdict,
    write_rules_dir,
)
from bench.results import write_section  # noqa: E402

ALL_CLIENTS = (
    "bot",
    "bot-httpx",
    "store-only",
    "http-only",
    "aiohttp",
    "httpx",
    "httpx-capped",
    "httpx-per-host",
    "httpx-aiohttp",
    "rss2email",
)
LABELS = {
    "bot": "bot pipeline (Pipeline.poll, default aiohttp transport)",
    "bot-httpx": "bot pipeline, BOT_NET_TRANSPORT=httpx (httpx's own pool)",
    "store-only": "bot's store alone: lease claimed + poll recorded (group commit), no network",
    "http-only": "bot's HTTP client alone: Http.get (SSRF guard, slots, deadline), no store",
    "aiohttp": "bare aiohttp loop (the harness's limit)",
    "httpx": "bare httpx, default AsyncClient",
    "httpx-capped": "bare httpx, default AsyncClient, ≤ 100 requests in its pool at once",
    "httpx-per-host": "bare httpx, one AsyncClient per host",
    "httpx-aiohttp": "bare httpx, httpx-aiohttp transport",
    "rss2email": "rss2email 3.14 `run` (sequential)",
}
PER_HOST = 4  # the bot's NetSettings.per_host_limit


@dataclass
class PassResult:
    seconds: float
    feeds: int
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.feeds / self.seconds if self.seconds > 0 else 0.0


class Client:
    """One way of polling the feeds; keeps its own validators between passes."""

    name = ""

    async def start(self, urls: list[str]) -> None:
        self.urls = urls

    async def poll(self, urls: list[str]) -> PassResult:
        raise NotImplementedError

    async def close(self) -> None:
        pass


# -- the bot ----------------------------------------------------------------------------------


class BotClient(Client):
    def __init__(self, name: str, tmp: Path, transport: str) -> None:
        self.name = name
        self.tmp = tmp / name
        self.transport = transport

    async def start(self, urls: list[str]) -> None:
        from bot.app import Bot
        from bot.config import Settings, load_config
        from bot.net import NetSettings

        self.urls = urls
        feeds = [(f"f{i}", u) for i, u in enumerate(urls)]
        rules = write_rules_dir(self.tmp / "rules", feeds)
        env = {
            "BOT_DB_URL": f"sqlite:///{self.tmp / 'bot.db'}",
            "BOT_REPLICA_ID": f"bench-{self.name}",
            "BOT_WORKERS": "1",
        }
        net = NetSettings(allow=("127.0.0.0/8",), transport=self.transport)
        self.bot = await asyncio.to_thread(
            Bot.build, Settings.from_env(env), load_config(rules, env), net=net
        )
        self.spec = {spec.url: spec for spec in self.bot.feeds}

    async def warm(self, urls: list[str]) -> PassResult:
        """The first poll stores the feeds' items (a shared pool): a few feeds one at a time
        first, so that the rest find every item already stored and fetch no page."""
        start = time.perf_counter()
        head = urls[:40]
        for url in head:
            await self.bot.pipeline.poll(self.spec[url], force=True)
        rest = await self.poll(urls[40:])
        rest.seconds = time.perf_counter() - start
        rest.feeds += len(head)
        return rest

    async def poll(self, urls: list[str]) -> PassResult:
        pipeline = self.bot.pipeline
        start = time.perf_counter()
        outcomes = await asyncio.gather(
            *(pipeline.poll(self.spec[u], force=True) for u in urls), return_exceptions=True
        )
        seconds = time.perf_counter() - start
        statuses: Counter[str] = Counter()
        for o in outcomes:
            if isinstance(o, BaseException):
                statuses[f"raised {type(o).__name__}"] += 1
            elif o is None:
                statuses["skipped"] += 1
            else:
                statuses[o.status] += 1
        return PassResult(seconds, len(urls), statuses)

    async def close(self) -> None:
        await self.bot.aclose()


class StoreOnlyClient(BotClient):
    """The bot's store work of a 304 poll alone (lease claimed, poll recorded, both through
    the store's group commit as the pipeline does), no network: the ceiling the SQLite store
    puts on the pipeline."""

    def __init__(self, tmp: Path) -> None:
        super().__init__("store-only", tmp, "aiohttp")

    async def warm(self, urls: list[str]) -> PassResult:
        return await self.poll(urls)

    async def poll(self, urls: list[str]) -> PassResult:
        from bot.store import PollRecord

        store, owner = self.bot.store, self.bot.pipeline.owner
        lease = self.bot.pipeline.lease

        async def one(url: str) -> str:
            spec = self.spec[url]
            now = datetime.now(UTC)
            row = await store.claim(spec.name, owner, now, lease, force=True)
            if row is None:
                return "skipped"
            await store.record(
                PollRecord(
                    row.id,
                    owner=owner,
                    started=now,
                    finished=datetime.now(UTC),
                    status="not_modified",
                    http_status=304,
                    items_new=0,
                    next_poll_at=now + spec.interval,
                    validators=(row.etag, row.last_modified, row.body_hash),
                )
            )
            return "recorded"

        start = time.perf_counter()
        results = await asyncio.gather(*(one(u) for u in urls))
        return PassResult(time.perf_counter() - start, len(urls), Counter(results))


# -- bare loops -------------------------------------------------------------------------------


class BareClient(Client):
    """Conditional GET of every feed at once, at most PER_HOST per host; parse what changed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.validators: dict[str, tuple[str | None, str | None]] = {}
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def _slot(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).netloc
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(PER_HOST)
        return slot

    def _headers(self, url: str) -> dict[str, str]:
        etag, modified = self.validators.get(url, (None, None))
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        return headers

    def _seen(self, url: str, status: int, headers: Any, body: bytes) -> str:
        if status == 200:
            self.validators[url] = (headers.get("etag"), headers.get("last-modified"))
            parsed = feedparser.parse(io.BytesIO(body))
            return "parsed" if parsed.entries else "empty"
        return str(status)

    async def get(self, url: str, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        raise NotImplementedError

    async def poll(self, urls: list[str]) -> PassResult:
        async def one(url: str) -> str:
            try:
                async with self._slot(url):
                    status, headers, body = await self.get(url, self._headers(url))
            except Exception as exc:  # counted, like a failed poll
                return f"error {type(exc).__name__}"
            return self._seen(url, status, headers, body)

        start = time.perf_counter()
        results = await asyncio.gather(*(one(u) for u in urls))
        return PassResult(time.perf_counter() - start, len(urls), Counter(results))


class AiohttpClient(BareClient):
    async def start(self, urls: list[str]) -> None:
        self.urls = urls
        connector = aiohttp.TCPConnector(limit=100, limit_per_host=PER_HOST)
        self.session = aiohttp.ClientSession(connector=connector)

    async def get(self, url: str, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        async with self.session.get(url, headers=headers) as r:
            return r.status, r.headers, await r.read()

    async def close(self) -> None:
        await self.session.close()


class HttpOnlyClient(BareClient):
    """The loop of the bare clients through the bot's own `Http` (default settings, loopback
    allowed): what the HTTP layer costs before the pipeline and the store add theirs."""

    async def start(self, urls: list[str]) -> None:
        from bot.net import Http, NetSettings

        self.urls = urls
        self.http = Http(NetSettings(allow=("127.0.0.0/8",)))

    async def get(self, url: str, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        r = await self.http.get(url, headers=headers)
        return r.status, r.headers, r.body

    async def close(self) -> None:
        await self.http.aclose()


class HttpxClient(BareClient):
    def __init__(self, name: str, mode: str) -> None:
        super().__init__(name)
        self.mode = mode
        self.clients: dict[str, httpx.AsyncClient] = {}
        self._cap = asyncio.Semaphore(100)

    def _client(self, url: str) -> httpx.AsyncClient:
        key = urlsplit(url).netloc if self.mode == "per-host" else ""
        client = self.clients.get(key)
        if client is None:
            transport = None
            if self.mode == "aiohttp":
                from httpx_aiohttp import AiohttpTransport

                transport = AiohttpTransport()
            client = self.clients[key] = httpx.AsyncClient(transport=transport, trust_env=False)
        return client

    async def get(self, url: str, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        if self.mode == "capped":
            # As many requests in the pool as it has connections (httpx's default 100): the
            # pool scans its queue on every change, so a long queue costs quadratic time.
            async with self._cap:
                r = await self._client(url).get(url, headers=headers)
        else:
            r = await self._client(url).get(url, headers=headers)
        return r.status_code, r.headers, r.content

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


# -- rss2email --------------------------------------------------------------------------------


class Rss2emailClient(Client):
    name = "rss2email"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp / "rss2email"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.configs: dict[int, Path] = {}

    def _config(self, urls: list[str]) -> tuple[Path, Path]:
        n = len(urls)
        if n not in self.configs:
            lines = ["[DEFAULT]", "to = bench@example.invalid", ""]
            for i, url in enumerate(urls):
                lines += [f"[feed.f{i}]", f"url = {url}", ""]
            path = self.tmp / f"r2e-{n}.cfg"
            path.write_text("\n".join(lines), encoding="utf-8")
            self.configs[n] = path
        return self.configs[n], self.tmp / f"data-{n}.json"

    async def poll(self, urls: list[str]) -> PassResult:
        config, data = self._config(urls)
        out = await asyncio.to_thread(
            subprocess.run,
            [PYTHON, "-m", "bench._r2e", str(config), str(data)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if out.returncode != 0:
            raise RuntimeError(f"rss2email failed: {out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        statuses = Counter({str(k): int(v) for k, v in result["statuses"].items()})
        return PassResult(float(result["seconds"]), len(urls), statuses)


# -- the run ----------------------------------------------------------------------------------


def make_clients(names: list[str], tmp: Path) -> list[Client]:
    clients: list[Client] = []
    for name in names:
        if name == "bot":
            clients.append(BotClient(name, tmp, "aiohttp"))
        elif name == "bot-httpx":
            clients.append(BotClient(name, tmp, "httpx"))
        elif name == "store-only":
            clients.append(StoreOnlyClient(tmp))
        elif name == "http-only":
            clients.append(HttpOnlyClient(name))
        elif name == "aiohttp":
            clients.append(AiohttpClient(name))
        elif name == "httpx":
            clients.append(HttpxClient(name, "one"))
        elif name == "httpx-capped":
            clients.append(HttpxClient(name, "capped"))
        elif name == "httpx-per-host":
            clients.append(HttpxClient(name, "per-host"))
        elif name == "httpx-aiohttp":
            clients.append(HttpxClient(name, "aiohttp"))
        elif name == "rss2email":
            clients.append(Rss2emailClient(tmp))
        else:
            raise SystemExit(f"unknown client {name!r}; choose from {', '.join(ALL_CLIENTS)}")
    return clients


def unavailable(names: list[str]) -> dict[str, str]:
    """Clients that cannot run here, with the reason."""
    missing = {}
    if "rss2email" in names and importlib.util.find_spec("rss2email") is None:
        missing["rss2email"] = "not installed (pip install -r bench/requirements.txt)"
    if "httpx-aiohttp" in names and importlib.util.find_spec("httpx_aiohttp") is None:
        missing["httpx-aiohttp"] = "not installed (pip install -r bench/requirements.txt)"
    return missing


async def profiled(
    name: str, enabled: bool, run: Callable[[], Awaitable[PassResult]]
) -> PassResult:
    if not enabled:
        return await run()
    with py_spy(f"polling-{name}"):
        return await run()


async def run(args: argparse.Namespace) -> dict[str, dict[str, PassResult]]:
    names = [c for c in args.clients.split(",") if c]
    skipped = unavailable(names)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}")
    names = [n for n in names if n not in skipped]
    results: dict[str, dict[str, PassResult]] = {n: {} for n in names}
    results_skipped = skipped
    with (
        tempfile.TemporaryDirectory(prefix="bench-polling-") as tmpdir,
        ServerProcess(
            ["--feeds", str(args.feeds), "--items", str(args.items), "--hosts", str(args.hosts)],
            ttl=args.ttl,
        ) as farm,
    ):
        urls: list[str] = farm.info["feeds"]
        few = urls[: args.sequential_feeds]
        clients = make_clients(names, Path(tmpdir))
        for client in clients:
            await client.start(urls)
        try:
            delayed = set(args.delay_clients.split(",")) if args.delay_clients else None

            async def each(label: str, subset: Callable[[Client], list[str]]) -> None:
                for client in clients:
                    if (
                        label.endswith("-delay")
                        and delayed is not None
                        and client.name not in delayed
                    ):
                        continue
                    chosen = subset(client)
                    if isinstance(client, BotClient) and label == "warm":
                        result = await client.warm(chosen)
                    else:
                        key = f"{client.name}-{label}"
                        result = await profiled(
                            key,
                            args.profile and client.name.startswith("bot") and label != "warm",
                            lambda c=client, u=chosen: c.poll(u),  # type: ignore[misc]
                        )
                    results[client.name][label] = result
                    print(
                        f"  {label:>14} {client.name:>15}: {result.feeds:>5} feeds in "
                        f"{result.seconds:6.2f} s = {result.rate:8,.0f} feeds/s  "
                        f"{dict(result.statuses)}",
                        flush=True,
                    )

            print(f"{args.feeds} feeds, {args.items} items each, on {args.hosts} loopback hosts")
            await each("warm", lambda c: urls)
            await each("304", lambda c: urls)
            farm.command("bump")
            await each("changed", lambda c: urls)
            if args.delay > 0:
                # rss2email's sequential subset needs validators of the current documents.
                for client in clients:
                    if isinstance(client, Rss2emailClient):
                        await client.poll(few)
                farm.command(f"delay {args.delay}")
                sub = lambda c: few if isinstance(c, Rss2emailClient) else urls  # noqa: E731
                await each("304-delay", sub)
                farm.command("bump")
                await each("changed-delay", sub)
                farm.command("delay 0")
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.close()
    results["_skipped"] = results_skipped  # type: ignore[assignment]
    return results


def report(args: argparse.Namespace, results: dict[str, Any], command: str) -> list[Summary]:
    skipped: dict[str, str] = results.pop("_skipped", {})
    passes = ["304", "changed"] + (["304-delay", "changed-delay"] if args.delay > 0 else [])
    aio = results.get("aiohttp", {})
    r2e = results.get("rss2email", {})
    headers = (
        ["client"]
        + [f"{p} feeds/s" for p in passes]
        + ["304: × aiohttp", "304: × rss2email", "failed polls"]
    )
    rows = []
    for name, per in results.items():
        cells: list[object] = [LABELS[name]]
        for p in passes:
            cells.append(f"{per[p].rate:,.0f}" if p in per else "")
        cells.append(f"{per['304'].rate / aio['304'].rate:.2f}" if aio and "304" in per else "")
        cells.append(f"{per['304'].rate / r2e['304'].rate:.1f}" if r2e and "304" in per else "")
        bad = sum(
            n
            for p in passes
            if p in per
            for k, n in per[p].statuses.items()
            if "error" in k or "failed" in k or "raised" in k
        )
        cells.append(bad)
        rows.append(cells)
    for name, why in skipped.items():
        rows.append([LABELS[name], *([f"skipped: {why}"] + [""] * (len(headers) - 2))])
    lines = [
        f"{args.feeds} feeds ({args.items} items each) on {args.hosts} loopback hosts, all polled "
        f"at once, ≤ {PER_HOST} requests per host. Passes: `304` every feed unchanged; `changed` "
        f"every document changed (same items: parsed, nothing new); `-delay` the same with "
        f"{args.delay:g} s per response"
        + (
            f" (rss2email, sequential, on the first {args.sequential_feeds} feeds)."
            if args.delay > 0
            else "."
        ),
        "",
        table(headers, rows),
    ]
    # Which httpx transport is fastest, by the numbers.
    httpx_rows = {
        n: results[n]["304"].rate
        for n in ("httpx", "httpx-capped", "httpx-per-host", "httpx-aiohttp")
        if n in results and "304" in results[n]
    }
    if httpx_rows:
        best = max(httpx_rows, key=lambda n: httpx_rows[n])
        lines += [
            "",
            f"Fastest httpx transport on the 304 pass: **{LABELS[best]}** "
            f"({httpx_rows[best]:,.0f} feeds/s).",
        ]
    summaries: list[Summary] = []
    bot = results.get("bot", {})
    if bot and "304" in bot:
        rate = bot["304"].rate
        if aio:
            ratio = rate / aio["304"].rate
            summaries.append(
                Summary(
                    "polling",
                    f"bot 304 pass, {args.feeds} feeds",
                    f"{rate:,.0f} feeds/s",
                    f"aiohttp {aio['304'].rate:,.0f}/s",
                    f"{ratio:.2f}",
                    "≥ 0.5",
                    verdict(ratio >= 0.5),
                )
            )
        if r2e:
            ratio = rate / r2e["304"].rate
            summaries.append(
                Summary(
                    "polling",
                    f"bot 304 pass, {args.feeds} feeds",
                    f"{rate:,.0f} feeds/s",
                    f"rss2email {r2e['304'].rate:,.0f}/s",
                    f"{ratio:.1f}",
                    "≥ 10",
                    verdict(ratio >= 10),
                )
            )
        elif "rss2email" in skipped:
            summaries.append(
                Summary("polling", "bot 304 pass vs rss2email", "", "skipped", "", "≥ 10", "")
            )
        if "changed" in bot and aio:
            summaries.append(
                Summary(
                    "polling",
                    f"bot changed pass, {args.feeds} feeds",
                    f"{bot['changed'].rate:,.0f} feeds/s",
                    f"aiohttp {aio['changed'].rate:,.0f}/s",
                    f"{bot['changed'].rate / aio['changed'].rate:.2f}",
                    "",
                    "",
                )
            )
        if "304-delay" in bot and aio:
            summaries.append(
                Summary(
                    "polling",
                    f"bot 304 pass, {args.delay:g} s delay",
                    f"{bot['304-delay'].rate:,.0f} feeds/s",
                    f"aiohttp {aio['304-delay'].rate:,.0f}/s",
                    f"{bot['304-delay'].rate / aio['304-delay'].rate:.2f}",
                    "",
                    "",
                )
            )
    if "304-delay" in bot and "304-delay" in r2e:
        ratio = bot["304-delay"].rate / r2e["304-delay"].rate
        summaries.append(
            Summary(
                "polling",
                f"bot 304 pass, {args.delay:g} s per response",
                f"{bot['304-delay'].rate:,.0f} feeds/s",
                f"rss2email {r2e['304-delay'].rate:,.1f}/s",
                f"{ratio:.0f}",
                "(≥ 10)",
                verdict(ratio >= 10),
            )
        )
    botx = results.get("bot-httpx", {})
    if botx and bot and "304" in botx:
        summaries.append(
            Summary(
                "polling",
                "bot with BOT_NET_TRANSPORT=httpx, 304",
                f"{botx['304'].rate:,.0f} feeds/s",
                f"bot default {bot['304'].rate:,.0f}/s",
                f"{botx['304'].rate / bot['304'].rate:.2f}",
                "",
                "",
            )
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        body = (
            text
            + "\n\n"
            + what_bounds(results, args.feeds)
            + f"\n\nLoad average at start: {args.load_at_start}."
        )
        write_section(f"Polling, {args.feeds} feeds", body, command)
    return summaries


def what_bounds(results: dict[str, Any], feeds: int) -> str:
    """The "What bounds it" paragraph, with this run's figures."""

    def r(name: str, p: str = "304") -> str:
        per = results.get(name, {})
        return f"{per[p].rate:,.0f}" if p in per else "?"

    def failed(name: str) -> int:
        per = results.get(name, {})
        return sum(
            n
            for res in per.values()
            for k, n in res.statuses.items()
            if "failed" in k or "error" in k or "raised" in k
        )

    httpx_default = (
        f"The bare default `AsyncClient` with every poll let in does {r('httpx')} feeds/s "
        f"({failed('httpx')} failures) in this run. "
        if "httpx" in results
        else ""
    )

    def times(a: str, b: str, p: str = "304") -> str:
        ra, rb = results.get(a, {}), results.get(b, {})
        if p in ra and p in rb and rb[p].rate:
            return f"{ra[p].rate / rb[p].rate:.1f}"
        return "?"

    return f"""\
**What bounds it.**
*The bot's 304 pass* ({r("bot")} feeds/s) runs in one interpreter: the event loop does each
poll's HTTP exchange (the bot's `Http`: SSRF guard, per-host slots, deadline, over aiohttp's
pool called directly) and the pipeline's own steps (`poll_feed`, metrics, the log line), while
the store's thread writes the leases and the poll records. Each part alone is faster than the
pass: `Http` does {r("http-only")} feeds/s, {times("http-only", "aiohttp", "304")} × the bare
loop (through the httpx-aiohttp transport, httpx's `Request`, `Headers` and `Response`
objects on every request, it was about 0.7 ×; with a leaner httpx transport about 0.8 ×;
2026-12-06), and the store, whose claims and records are group-committed (bot/store/_group.py:
one `UPDATE … RETURNING` for the claims and one `executemany` for the records of the polls
that queued behind its thread), does {r("store-only")} polls/s with no network. What bounds
the pass is their sum on one interpreter lock, which the store thread and the event loop take
turns on, and the pipeline's per-poll Python around them. A py-spy profile of the pass, which
samples whichever thread holds that lock (`--profile`, 2026-12-07), has about 84% of its
samples on the event loop (`Pipeline.poll` 40%, aiohttp's own `ClientSession._request` 26% of
the whole) and 16% in the store thread (`record_polls` 10%, the claims 5%).
*httpx's own pool* (`BOT_NET_TRANSPORT=httpx`: {r("bot-httpx")} feeds/s) cannot take many
requests at once: on every request that enters or leaves it,
`httpcore.AsyncConnectionPool._assign_requests_to_connections` walks every queued request and,
for each, every connection (O(queued × connections)). Polling thousands of feeds at once, ≤ 4
per host over many hosts, puts about a thousand requests in a pool of 100 connections.
{httpx_default}With at most 100 requests let in (`NetSettings.max_in_flight`) the bare client
does {r("httpx-capped")} feeds/s; one client per host: {r("httpx-per-host")}; the
`httpx-aiohttp` transport: {r("httpx-aiohttp")}; this is why the bot's default transport is
aiohttp, and why it calls aiohttp directly rather than under httpx's API.
*rss2email* polls one feed after another with urllib. On loopback with no delay a sequential
poller is at its best: here the bare aiohttp loop itself, the harness's limit, is only
{times("aiohttp", "rss2email")} × rss2email, so "≥ 10 × rss2email" cannot be met by any client
on this pass; with {r("rss2email", "304-delay")} feeds/s at a delay per response (1 / (delay +
its own time)) the delay rows show the gap a real network opens: the bot is
{times("bot", "rss2email", "304-delay")} × rss2email there.
*Changed documents* are bound by feedparser for every client (the bare aiohttp loop parses
{r("aiohttp", "changed")} documents/s on one core; the bot also checks every item's URL
against the store). The bot makes feedparser read every document with expat: asked first for
libxml2's SAX driver, it paid a failed import per document (about 40 µs, against 2 µs for the
expat parser itself, timeit; 224 against 197 feeds/s, median of three pairs, once removed;
2026-12-07). In a profile of the bot's pass (`--profile`, 2026-12-07) feedparser's own parse
has 52% of the samples, the bot's reading of the parsed entries 7% and the store's check of
the items' URLs 5%.
*The bare aiohttp loop* is the harness: client and feed farm share the machine's 2 cores."""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=10, help="items per feed document")
    ap.add_argument("--hosts", type=int, default=250, help="loopback addresses (1-250)")
    ap.add_argument("--delay", type=float, default=0.1, help="realistic variant; 0 skips it")
    ap.add_argument(
        "--sequential-feeds",
        type=int,
        default=100,
        help="feeds rss2email polls in the delay variant",
    )
    ap.add_argument("--clients", default=",".join(ALL_CLIENTS))
    ap.add_argument(
        "--delay-clients", help="clients of the delay variant (default: all of --clients)"
    )
    ap.add_argument("--profile", action="store_true", help="pyinstrument the bot's passes")
    ap.add_argument("--ttl", type=float, default=1800, help="the feed farm stops after this")
    ap.add_argument("--summary", help="write summary rows (JSON) here, for bench/run_all.py")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args(argv)
    # In process, the bot's log lines would only go to stderr through logging's last resort.
    logging.getLogger("bot").setLevel(logging.ERROR)
    args.load_at_start = load_average()
    command = command_line("bench/bench_polling.py", argv)
    results = asyncio.run(run(args))
    summaries = report(args, results, command.strip())
    Summary.write(args.summary, summaries)


if __name__ == "__main__":
    main()
