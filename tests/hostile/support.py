"""Helpers the hostile suite shares: a socket spy, a TCP listener that counts connections,
resource measurement in a fresh process, and a small corpus served by the replay server."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


# -- sockets ---------------------------------------------------------------------------------


@dataclass
class SocketLog:
    """Sockets created and connections attempted by this process while the spy was on."""

    created: list[tuple[int, int]] = field(default_factory=list)  # (family, type)
    connects: list[Any] = field(default_factory=list)  # addresses as passed to connect()

    def connected_hosts(self) -> set[str]:
        return {str(a[0]) for a in self.connects if isinstance(a, tuple)}


@contextmanager
def socket_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketLog]:
    """Record every new socket and every connect() of this process (asyncio's included).

    Sockets wrapped around an existing descriptor (`fileno=`, e.g. one a listener accepted)
    are not new and are not recorded.
    """
    log = SocketLog()
    real_init = socket.socket.__init__
    real_connect = socket.socket.connect

    def init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        fileno = kwargs.get("fileno", args[3] if len(args) > 3 else None)
        if fileno is None:
            log.created.append((int(self.family), int(self.type)))

    def connect(self: socket.socket, address: Any) -> None:
        log.connects.append(address)
        real_connect(self, address)

    with monkeypatch.context() as m:
        m.setattr(socket.socket, "__init__", init)
        m.setattr(socket.socket, "connect", connect)
        yield log


@dataclass
class Listener:
    """A bare TCP listener on loopback that counts the connections it accepts."""

    host: str
    port: int
    accepted: int = 0
    server: asyncio.Server | None = None


@asynccontextmanager
async def listener(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Listener]:
    """A listener that answers nothing and closes at once: any connection at all is counted."""
    state = Listener(host, port)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        writer.close()

    state.server = await asyncio.start_server(accept, host, port)
    state.port = int(state.server.sockets[0].getsockname()[1])
    try:
        yield state
    finally:
        state.server.close()
        await state.server.wait_closed()


# -- resources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    seconds: float
    peak_growth: int  # bytes the process's peak resident size grew by (C allocations too)
    result: Any


_MEASURE = """
import json, resource, sys, time
setup, work = json.load(sys.stdin)
scope = {}
exec(setup, scope)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
exec(work, scope)
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_growth": (after - before) * 1024,
                  "result": scope.get("result")}, default=str))
"""


def measure(setup: str, work: str, *, timeout: float = 60) -> Cost:
    """Run `work` in a fresh interpreter after `setup` (imports, inputs) and measure it.

    The peak resident size (`ru_maxrss`) counts what libxml2 or expat allocate too, which
    tracemalloc cannot see; `setup` warms the process so its own growth is not counted.
    `work` leaves what the test checks in a variable named `result`.
    """
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE],
        input=json.dumps([textwrap.dedent(setup), textwrap.dedent(work)]),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Cost(data["seconds"], data["peak_growth"], data["result"])


# -- a corpus of articles an attacker wrote --------------------------------------------------


def write_corpus(path: Path, articles: list[dict[str, Any]]) -> Path:
    """A JSONL corpus for bot.replay: each article needs id, title, outlet, published, text."""
    lines = []
    for article in articles:
        row = dict(article)
        if isinstance(row.get("published"), datetime):
            row["published"] = row["published"].isoformat()
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_VOCABULARY = [
    "delegations",
    "officials",
    "ministers",
    "advisers",
    "negotiators",
    "diplomats",
    "spokesmen",
    "observers",
    "reporters",
    "analysts",
    "met",
    "spoke",
    "argued",
    "agreed",
    "insisted",
    "warned",
    "noted",
    "hinted",
    "denied",
    "confirmed",
    "again",
    "later",
    "briefly",
    "openly",
    "privately",
    "quietly",
    "on",
    "Tuesday",
    "Friday",
    "Sunday",
    "morning",
    "evening",
    "the",
    "talks",
    "draft",
    "proposal",
    "framework",
    "ceasefire",
    "exchange",
    "prisoners",
    "corridor",
    "sanctions",
    "guarantees",
    "border",
    "grain",
    "port",
    "energy",
    "would",
    "could",
    "might",
    "continue",
    "resume",
    "stall",
    "pause",
    "through",
    "into",
    "after",
    "before",
    "week",
    "month",
    "session",
    "round",
    "venue",
    "hotel",
    "capital",
    "harbour",
]


def filler(words: int = 60, seed: int = 0) -> str:
    """News-like prose, long enough for extraction to take the page as an article.

    Each `seed` gives other prose, so that articles of a test corpus are not near-duplicates
    of each other (which the bot would rightly not alert on twice).
    """
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < words:
        sentence = [rng.choice(_VOCABULARY) for _ in range(rng.randint(8, 14))]
        out += [sentence[0].capitalize(), *sentence[1:-1], sentence[-1] + "."]
    return " ".join(out)


def bot_env(tmp_path: Path, rules: Path, **extra: str) -> dict[str, str]:
    """The environment of a `bot run` subprocess on loopback servers, with a SQLite file."""
    return {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_PORT": "0",
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
        **extra,
    }


# -- one real poll ---------------------------------------------------------------------------


async def poll_once(
    db: Path,
    feed_url: str,
    *,
    allow: tuple[str, ...] = ("127.0.0.1",),
    resolver: Any = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Poll one feed through the real pipeline (fetch, pages, extraction, store) once.

    Returns the poll's outcome and every stored article. Items count as fresh (a backfill
    of a hundred years), and no rule is loaded. `resolver` replaces DNS.
    """
    from datetime import UTC, timedelta

    from bot.extract import Extractor
    from bot.net import Http, NetSettings
    from bot.pipeline import FeedSpec, Pipeline
    from bot.rules import RuleSet
    from bot.store import Store

    now = datetime(2030, 1, 1, tzinfo=UTC)
    store = Store.open(f"sqlite:///{db}")
    extractor = Extractor(1)
    try:
        async with Http(NetSettings(allow=allow, total_timeout=10), resolver=resolver) as http:
            pipeline = Pipeline(
                store=store,
                http=http,
                extractor=extractor,
                rules=RuleSet.compile(()),
                target_names=(),
                owner="test",
                now=lambda: now,
            )
            spec = FeedSpec("feed", feed_url, timedelta(minutes=15), timedelta(days=36500))
            store.sync_feeds([(spec.name, spec.url)], now)
            outcome = await pipeline.poll(spec, force=True)
        return outcome, store.list_articles()
    finally:
        extractor.close()
        store.close()


# -- a `bot run` subprocess ------------------------------------------------------------------


@contextmanager
def running_bot(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    """`bot run` in a subprocess with its JSON log read on a thread; stopped with SIGTERM."""
    import signal

    from tests.test_cli import LogReader, bot_cmd

    proc = subprocess.Popen(
        bot_cmd("run"),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, LogReader(proc.stderr)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
