"""Acceptance: every third-party feed in ../shared/data, served on loopback and polled."""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from bot.config import load_config
from bot.extract import Extractor
from bot.metrics import Metrics
from bot.net import Http, NetSettings
from bot.pipeline import FeedSpec, Pipeline
from bot.rules import RuleSet
from bot.store import Store

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2030, 1, 1, tzinfo=UTC)
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".json", ".rdf", ".html"}
_HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)


def feed_files(root: Path) -> list[Path]:
    """Feed documents, leaving out the expected-parse JSON some source projects keep beside them."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in FEED_SUFFIXES
        and not p.name.endswith(".serde.json")
        and "output" not in p.parts
    )


def response_headers(body: bytes) -> dict[str, str]:
    """feedparser's test files name the HTTP headers they are meant to be served with."""
    head = body[:2048]
    if b"\x00" in head:  # UTF-16/32: the comment is not ASCII
        head = head.replace(b"\x00", b"")
    return {k.decode(): v.decode("latin-1") for k, v in _HEADER.findall(head)}


class FileServer:
    """Serves each file at /<index>, with the headers its test comment asks for."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def _handle(self, request: web.Request) -> web.Response:
        path = self.files[int(request.match_info["index"])]
        body = path.read_bytes()
        headers = {"Content-Type": "application/xml"}
        headers.update(response_headers(body))
        headers.pop("Content-Encoding", None)  # served as is
        return web.Response(body=body, headers=headers)

    async def __aenter__(self) -> FileServer:
        app = web.Application()
        app.router.add_get(r"/{index:\d+}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def nowhere(host: str, port: int) -> list[str]:
    """Article links in these feeds point all over the web: send them to TEST-NET, refused."""
    return ["192.0.2.1"]


@pytest.fixture
def no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Bad feeds are expected; an exception the pipeline did not anticipate (logged at ERROR
    as feed.error, rule.failed, job.failed) is not."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [
        f"{r.name}: {r.getMessage()} {r.__dict__.get('feed', '')}"
        for r in caplog.records
        if r.levelno >= logging.ERROR
    ]
    assert errors == []


async def poll_every_file(
    files: list[Path], tmp_path: Path, metrics: Metrics | None = None
) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    rules = RuleSet.compile(load_config(REPO / "rules", {}).rules)
    extractor = Extractor(1)
    async with (
        FileServer(files) as server,
        Http(NetSettings(allow=("127.0.0.1",), total_timeout=5), resolver=nowhere) as http,
    ):
        pipeline = Pipeline(
            store=store,
            http=http,
            extractor=extractor,
            rules=rules,
            target_names=("console",),
            owner="test",
            now=lambda: NOW,
            metrics=metrics,
        )
        specs = [
            FeedSpec(
                f"f{i:04d}",
                f"{server.base}/{i}",
                timedelta(minutes=15),
                backfill=timedelta(days=100_000),
            )
            for i in range(len(files))
        ]
        store.sync_feeds([(s.name, s.url) for s in specs], NOW)
        for spec in specs:
            await pipeline.poll(spec, force=True)
    extractor.close()
    return store


def check_recorded(store: Store, files: list[Path]) -> tuple[int, int]:
    rows = store.list_feeds()
    assert len(rows) == len(files)
    parsed = failed = 0
    for row in rows:
        origin = files[int(row.name[1:])]
        assert row.last_status in ("parsed", "failed"), (origin, row.last_status)
        if row.last_status == "failed":
            assert row.last_error, origin
            failed += 1
        else:
            parsed += 1
    return parsed, failed


@pytest.mark.acceptance
async def test_feedparser_test_documents_are_each_parsed_or_failed_with_a_reason(
    shared: Path, tmp_path: Path, no_unexpected_errors: None
) -> None:
    files = feed_files(shared / "data" / "feedparser-tests" / "tests")
    assert len(files) > 2000
    store = await poll_every_file(files, tmp_path)
    parsed, failed = check_recorded(store, files)
    assert parsed > 0.75 * len(files), (parsed, failed)
    store.close()


@pytest.mark.acceptance
async def test_real_world_feed_snapshots_are_each_parsed_or_failed_with_a_reason(
    shared: Path, tmp_path: Path, no_unexpected_errors: None
) -> None:
    files = feed_files(shared / "data" / "feed-snapshots")
    assert len(files) >= 150
    store = await poll_every_file(files, tmp_path)
    parsed, failed = check_recorded(store, files)
    stored = store.count("articles")
    store.close()
    assert parsed > 0.7 * len(files), (parsed, failed)
    assert stored > 1500  # their items are stored, from the feed's summary (pages are refused)


def entries_in(path: Path) -> int:
    """How many entries a feed file holds, counted without the bot: JSON Feed items, or the
    entries feedparser finds when the file is served as the file server serves it."""
    body = path.read_bytes()
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        items = json.loads(body).get("items")
        return len(items) if isinstance(items, list) else 0
    headers = {"content-type": "application/xml", **response_headers(body)}
    headers = {k.lower(): v for k, v in headers.items() if k.lower() != "content-encoding"}
    return len(feedparser.parse(io.BytesIO(body), response_headers=headers).entries)


def skipped_of(registry: CollectorRegistry, feed: str) -> int:
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "bot_feed_entries_skipped_total" and sample.labels["feed"] == feed:
                total += sample.value
    return int(total)


@pytest.mark.acceptance
async def test_every_entry_of_the_real_feed_snapshots_is_read_or_counted_as_skipped(
    shared: Path, tmp_path: Path, no_unexpected_errors: None
) -> None:
    files = feed_files(shared / "data" / "feed-snapshots")
    registry = CollectorRegistry()
    store = await poll_every_file(files, tmp_path, Metrics(registry, process=False))
    entries = read = skipped = 0
    for row in store.list_feeds():
        if row.last_status != "parsed":
            continue
        origin = files[int(row.name[1:])]
        in_file = entries_in(origin)
        recorded = store.entries_of(row.id)
        counted = skipped_of(registry, row.name)
        assert len(recorded) + counted == in_file, (origin, len(recorded), counted, in_file)
        entries, read, skipped = entries + in_file, read + len(recorded), skipped + counted
    articles = store.list_articles()
    store.close()
    assert entries > 2100
    # Skipped: only entries with no link, title or text (test fixtures) and a repeated id.
    assert skipped < 40, skipped
    linkless = [a for a in articles if a["url"] == ""]
    assert len(linkless) >= 15  # kept, with the feed's text
    assert all(a["text"] or a["title"] for a in linkless)


@pytest.mark.acceptance
async def test_distinct_entries_sharing_a_page_in_the_real_snapshots_are_distinct_articles(
    shared: Path, tmp_path: Path
) -> None:
    root = shared / "data" / "feed-snapshots"
    podcast = root / "rss-parser" / "test" / "input" / "itunes-missing-image.rss"
    live = root / "feed-rs" / "feed-rs" / "fixture" / "rss2" / "rss_2.0_spec_1.xml"
    store = await poll_every_file([podcast, live], tmp_path)
    by_feed = Counter(a["feed_id"] for a in store.list_articles())
    feeds = store.list_feeds()
    store.close()
    # One episode of the podcast repeats another's id (it is skipped as "repeated id").
    assert by_feed[feeds[0].id] == entries_in(podcast) - 1 > 100
    assert by_feed[feeds[1].id] == entries_in(live) == 2  # two updates of one day's page
