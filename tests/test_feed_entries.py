"""Every feed entry is read or counted as skipped, and read again when it changes: a loopback
site whose feed and pages the tests edit, polled by the real pipeline into a SQLite file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import text as sa_text

from bot.app import Bot
from bot.config import Settings, load_config
from bot.net import NetSettings
from bot.pipeline import FeedSpec
from bot.replay import AlertReceiver
from tests.helpers import KEYWORD_RULE, free_port, write_rules
from tests.test_cli import BackgroundLoop, bot_cmd, query

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 2, 20, 10, 0, tzinfo=UTC)

FILLER = (
    "Delegations from both sides spent the morning in closed sessions at the venue, and "
    "officials said the talks covered prisoner exchanges, energy infrastructure and the "
    "monitoring of any ceasefire along the front line in eastern Ukraine."
)


@dataclass
class Site:
    """Feeds (/feed.xml, /other.xml) and HTML pages at their paths; `page_requests` counts
    page GETs."""

    base: str = ""
    feeds: dict[str, str] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    page_requests: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        if request.path in self.feeds:
            return web.Response(text=self.feeds[request.path], content_type="application/rss+xml")
        if request.path in self.pages:
            self.page_requests.append(request.path)
            if request.path in self.failing:
                return web.Response(status=503)
            return web.Response(text=self.pages[request.path], content_type="text/html")
        return web.Response(status=404)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def publish(self, *items: str, path: str = "/feed.xml") -> None:
        self.feeds[path] = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Site</title><link>{self.base}/</link>{''.join(items)}</channel></rss>"
        )

    def page(self, path: str, title: str, *paragraphs: str) -> None:
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        self.pages[path] = (
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f"<article><h1>{title}</h1>{body}</article></body></html>"
        )


def item(
    title: str,
    *,
    link: str | None = None,
    guid: str | None = None,
    description: str = "",
    updated: datetime | None = None,
    published: str = "Fri, 20 Feb 2026 09:00:00 +0000",
) -> str:
    parts = [f"<title>{title}</title>"] if title else []
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if description:
        parts.append(f"<description>{description}</description>")
    parts.append(f"<pubDate>{published}</pubDate>")
    if updated is not None:
        parts.append(f"<atom:updated>{updated.isoformat()}</atom:updated>")
    return f'<item xmlns:atom="http://www.w3.org/2005/Atom">{"".join(parts)}</item>'


@dataclass
class Rig:
    bot: Bot
    site: Site
    receiver: AlertReceiver
    registry: CollectorRegistry
    now: list[datetime]
    specs: dict[str, FeedSpec]

    async def poll(self) -> None:
        self.now[0] += timedelta(minutes=5)
        for feed in self.bot.feeds:
            outcome = await self.bot.pipeline.poll(feed, force=True)
            assert outcome is not None and outcome.status != "failed", outcome
        await self.bot.deliverer.deliver_due()

    def articles(self, feed: str = "site") -> list[dict[str, Any]]:
        row = self.bot.store.feed(feed)
        assert row is not None
        return [a for a in self.bot.store.list_articles() if a["feed_id"] == row.id]

    def alerts(self, rule: str) -> list[dict[str, Any]]:
        return [r.json for r in self.receiver.delivered if r.json and r.json.get("rule") == rule]

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    site = Site()
    await site.start()
    try:
        async with AlertReceiver() as receiver:
            deadline = (REPO / "rules" / "deadline-change.yaml").read_text(encoding="utf-8")
            rules = write_rules(
                tmp_path / "rules",
                [("site", site.url("/feed.xml")), ("other", site.url("/other.xml"))],
                webhook_url=receiver.url,
                rules={"deadline-change": deadline, "witkoff": KEYWORD_RULE},
            )
            env = {
                "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
                "BOT_WORKERS": "1",
                "BOT_REPLICA_ID": "test",
            }
            now = [START]
            bot = Bot.build(
                Settings.from_env(env),
                load_config(rules, env),
                now=lambda: now[0],
                net=NetSettings(allow=("127.0.0.1",)),
            )
            registry = bot.pipeline.metrics.registry
            specs = {f.name: f for f in bot.feeds}
            bot.feeds = [specs["site"]]  # the other feed is polled by the test that uses it
            try:
                site.publish()
                rig = Rig(bot, site, receiver, registry, now, specs)
                await rig.poll()  # the baseline: an empty feed
                yield rig
            finally:
                await bot.aclose()
    finally:
        await site.stop()


# -- item 7: entries lost at the feed -----------------------------------------------------------


async def test_an_entry_without_a_link_is_stored_with_the_feeds_text(rig: Rig) -> None:
    rig.site.publish(
        item("Bulletin", guid="urn:bulletin:1", description="Talks resume in Geneva on Monday.")
    )
    await rig.poll()
    [stored] = rig.articles()
    assert (stored["url"], stored["guid"]) == ("", "urn:bulletin:1")
    assert (stored["title"], stored["extraction"]) == ("Bulletin", "summary")
    assert stored["text"] == "Talks resume in Geneva on Monday."


async def test_distinct_entries_sharing_a_page_are_distinct_articles_from_the_feeds_text(
    rig: Rig,
) -> None:
    show, live = rig.site.url("/show"), rig.site.url("/live")
    rig.site.page("/show", "The show", FILLER)
    rig.site.page("/live", "Live", FILLER)
    rig.site.publish(
        item("Episode 2", link=show, guid="ep2", description="Second episode."),
        item("Episode 1", link=show, guid="ep1", description="First episode."),
        item("09:05", link=f"{live}#p2", description="Envoys arrive."),
        item("09:00", link=f"{live}#p1", description="Doors open."),
    )
    await rig.poll()
    by_title = {a["title"]: a for a in rig.articles()}
    assert set(by_title) == {"Episode 2", "Episode 1", "09:05", "09:00"}
    assert by_title["Episode 1"]["text"] == "First episode."
    assert by_title["09:05"]["url"] == f"{live}#p2"
    assert by_title["09:05"]["text"] == "Envoys arrive."
    assert rig.site.page_requests == []  # the page is no entry's own: its text is not theirs


async def test_an_update_of_a_live_blog_arriving_alone_is_a_new_article(rig: Rig) -> None:
    live = rig.site.url("/live")
    rig.site.page("/live", "Live", FILLER)
    rig.site.publish(item("09:00", link=f"{live}#p1", description="Doors open."))
    await rig.poll()
    rig.site.publish(item("09:05", link=f"{live}#p2", description="Envoys arrive."))
    await rig.poll()
    assert sorted(a["title"] for a in rig.articles()) == ["09:00", "09:05"]


async def test_an_entry_with_nothing_to_tell_is_counted_and_logged_as_skipped(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.pipeline")
    rig.site.publish(item("", guid="hollow"), item("Bulletin", guid="b1", description="Text."))
    await rig.poll()
    assert [a["guid"] for a in rig.articles()] == ["b1"]
    assert rig.sample("bot_feed_entries_skipped_total", feed="site", reason="empty") == 1
    [line] = [r for r in caplog.records if r.getMessage() == "entry.skipped"]
    assert (line.__dict__["feed"], line.__dict__["reason"], line.__dict__["entry"]) == (
        "site",
        "empty",
        "hollow",
    )


async def test_the_same_page_under_two_feeds_is_stored_once_and_counted_as_a_url_copy(
    rig: Rig,
) -> None:
    rig.site.page("/a", "Talks", FILLER)
    rig.site.publish(item("Talks", link=rig.site.url("/a?utm_source=rss"), guid="s-1"))
    await rig.poll()
    rig.site.publish(item("Talks", link=rig.site.url("/a"), guid="o-1"), path="/other.xml")
    await rig.bot.pipeline.poll(rig.specs["other"], force=True)
    assert len(rig.bot.store.list_articles()) == 1
    assert rig.sample("bot_duplicates_total", kind="url") == 1
    assert rig.site.page_requests == ["/a"]
    other = rig.bot.store.feed("other")
    assert other is not None
    [entry] = rig.bot.store.entries_of(other.id)
    assert entry["article_id"] == rig.articles()[0]["id"]


async def test_after_an_upgrade_entries_the_old_version_could_not_read_are_a_baseline(
    rig: Rig,
) -> None:
    show = rig.site.url("/show")
    rig.site.page("/show", "The show", FILLER)
    rig.site.publish(item("Episode 1", link=show, guid="ep1", description="Witkoff talks."))
    await rig.poll()
    assert len(rig.alerts("witkoff-mention")) == 1
    with rig.bot.store.engine.begin() as conn:  # as migration 0004 leaves an entry
        conn.execute(sa_text("UPDATE feed_entries SET version = NULL"))
    old = item(
        "Episode 0",
        link=show,
        guid="ep0",
        description="A year ago: Witkoff on fishing, boats and the weather at sea.",
        published="Wed, 01 Jan 2025 09:00:00 +0000",
    )
    rig.site.publish(item("Episode 1", link=show, guid="ep1", description="Witkoff talks."), old)
    await rig.poll()
    assert len(rig.articles()) == 2
    assert len(rig.alerts("witkoff-mention")) == 1  # an old episode is not news


# -- item 8: updated articles are read again -----------------------------------------------------


def blog_entry(rig: Rig, updated: datetime, title: str = "Peace talks live") -> str:
    return item(
        title,
        link=rig.site.url("/live"),
        guid="live-1",
        description="Follow the talks.",
        updated=updated,
    )


def live_blog(
    rig: Rig, updated: datetime, *paragraphs: str, title: str = "Peace talks live"
) -> None:
    rig.site.page("/live", title, *paragraphs)
    rig.site.publish(blog_entry(rig, updated, title))


async def test_a_deadline_added_to_a_live_blog_is_caught_once(rig: Rig) -> None:
    live_blog(rig, START, FILLER)
    await rig.poll()
    assert rig.alerts("deadline-change") == []
    deadline = (
        "The White House has set a June deadline for Russia and Ukraine to agree on a peace deal."
    )
    live_blog(rig, START + timedelta(minutes=30), deadline, FILLER)
    await rig.poll()
    [alert] = rig.alerts("deadline-change")
    assert alert["values"]["deadline"] == "2026-06"
    assert deadline in alert["evidence"]
    await rig.poll()  # nothing changed
    later = "Negotiators broke for lunch and were expected back in the afternoon."
    live_blog(rig, START + timedelta(minutes=60), later, deadline, FILLER)
    await rig.poll()  # changed again, with the same deadline in it
    assert len(rig.alerts("deadline-change")) == 1
    versions = sorted(rig.articles(), key=lambda a: a["id"])
    assert len(versions) == 3  # every version kept
    assert later in versions[-1]["text"] and deadline in versions[-1]["text"]
    assert rig.site.page_requests == ["/live"] * 3


async def test_a_long_live_blog_with_one_more_paragraph_is_no_copy_of_itself(rig: Rig) -> None:
    earlier = [
        f"Update {n}: {FILLER} Delegation number {n} arrived with {n * 3} advisers."
        for n in range(12)
    ]
    live_blog(rig, START, *earlier)
    await rig.poll()
    deadline = (
        "Officials said Russia and Ukraine now have a June deadline to agree on a peace deal."
    )
    live_blog(rig, START + timedelta(minutes=30), deadline, *earlier)
    await rig.poll()
    [alert] = rig.alerts("deadline-change")
    assert alert["values"]["deadline"] == "2026-06"
    assert all(a["duplicate_of"] is None for a in rig.articles())


async def test_an_update_whose_page_fails_is_read_when_the_feed_next_changes(rig: Rig) -> None:
    live_blog(rig, START, FILLER)
    await rig.poll()
    deadline = (
        "The White House has set a June deadline for Russia and Ukraine to agree on a peace deal."
    )
    live_blog(rig, START + timedelta(minutes=30), deadline, FILLER)
    rig.site.failing.add("/live")
    await rig.poll()
    assert len(rig.articles()) == 1  # the feed's summary is no version of the page
    rig.site.failing.clear()
    rig.site.publish(
        item("Other news", guid="other", description="Elsewhere."),
        blog_entry(rig, START + timedelta(minutes=30)),
    )
    await rig.poll()
    [alert] = rig.alerts("deadline-change")
    assert alert["values"]["deadline"] == "2026-06"


async def test_a_rewritten_version_is_not_matched_again_on_what_it_kept(rig: Rig) -> None:
    mention = "Envoy Steve Witkoff is expected to join the talks later in the week."
    live_blog(rig, START, mention, FILLER)
    await rig.poll()
    assert len(rig.alerts("witkoff-mention")) == 1
    # Rewritten into another story altogether; only the mention is left of the first version.
    rewritten = [
        "Heavy snow closed the main airport for most of the day, stranding travellers.",
        "Rail operators added night trains, and bus companies doubled their timetables.",
        "Meteorologists expect the cold spell to last until the end of the month.",
        "Schools in the northern districts stayed shut while crews cleared the roads.",
        "Farmers reported losses among livestock caught outside by the sudden blizzard.",
        "The city council opened heated halls for homeless residents overnight.",
        "Ski resorts, by contrast, welcomed record crowds on freshly covered slopes.",
        "Insurers warned that claims for burst pipes and collapsed roofs would rise.",
    ]
    live_blog(rig, START + timedelta(minutes=30), *rewritten, mention, title="Snow day")
    await rig.poll()
    versions = rig.articles()
    assert len(versions) == 2 and len({v["story_id"] for v in versions}) == 2
    assert len(rig.alerts("witkoff-mention")) == 1  # the mention was read before


async def test_an_entry_changed_in_the_feed_but_not_on_its_page_keeps_one_version(
    rig: Rig,
) -> None:
    live_blog(rig, START, FILLER)
    await rig.poll()
    live_blog(rig, START + timedelta(minutes=30), FILLER)  # a new updated time only
    await rig.poll()
    assert rig.site.page_requests == ["/live", "/live"]  # read again
    assert len(rig.articles()) == 1  # but nothing new was there to keep
    await rig.poll()
    assert rig.site.page_requests == ["/live", "/live"]  # and that version counts as read


# -- both items through a real `bot run` ---------------------------------------------------------


def test_bot_run_counts_a_skipped_entry_and_catches_a_deadline_added_to_a_live_blog_once(
    tmp_path: Path,
) -> None:
    site, receiver, bg = Site(), AlertReceiver(), BackgroundLoop()
    bg.run(site.start())
    bg.run(receiver.start())
    deadline = (REPO / "rules" / "deadline-change.yaml").read_text(encoding="utf-8")
    rules = write_rules(
        tmp_path / "rules",
        [("site", site.url("/feed.xml"))],
        interval="1s",
        webhook_url=receiver.url,
        rules={"deadline-change": deadline},
    )
    port = free_port()
    db = tmp_path / "bot.db"
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_HOST": "127.0.0.1",
        "BOT_HTTP_PORT": str(port),
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
    }

    def publish(updated: datetime, *paragraphs: str) -> None:
        site.page("/live", "Peace talks live", *paragraphs)
        entry = item(
            "Peace talks live",
            link=site.url("/live"),
            guid="live-1",
            description="Follow the talks.",
            updated=updated,
        )
        site.publish(entry, item("", guid="hollow"))

    def deadline_alerts() -> list[Any]:
        return [
            r.json for r in receiver.delivered if r.json and r.json["rule"] == "deadline-change"
        ]

    publish(START, FILLER)
    log_path = tmp_path / "bot.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log_file
        )
    try:
        wait_for(lambda: len(query(db, "SELECT 1 FROM articles")) == 1, "the first version")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'bot_feed_entries_skipped_total{feed="site",reason="empty"}' in metrics
        said = "The White House has set a June deadline for Russia and Ukraine to agree on a deal."
        publish(START + timedelta(minutes=30), said, FILLER)
        wait_for(lambda: deadline_alerts(), "the deadline alert")
        later = "Negotiators broke for lunch and were expected back in the afternoon."
        publish(START + timedelta(minutes=60), later, said, FILLER)
        wait_for(lambda: len(query(db, "SELECT 1 FROM articles")) == 3, "the third version")
        wait_for(lambda: not query(db, "SELECT 1 FROM outbox WHERE state != 'sent'"), "deliveries")
    finally:
        proc.terminate()
        proc.wait(30)
        bg.run(receiver.stop())
        bg.run(site.stop())
        bg.close()
    [alert] = deadline_alerts()
    assert alert["values"]["deadline"] == "2026-06"
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    skipped = [line for line in lines if line.get("event", line.get("message")) == "entry.skipped"]
    assert skipped and skipped[0]["reason"] == "empty" and skipped[0]["entry"] == "hollow"


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
