"""The pipeline end to end on real parts: replay server, SQLite file, webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Bot
from bot.config import Settings, load_config
from bot.dedup import content_hash
from bot.net import NetSettings
from bot.replay import TEMPLATE_PHRASES, AlertReceiver, ReplayClock, ReplayServer, load_corpus
from tests.helpers import write_rules


@dataclass
class Rig:
    bot: Bot
    server: ReplayServer
    receiver: AlertReceiver
    clock: ReplayClock

    async def poll_all(self) -> None:
        for feed in self.bot.feeds:
            await self.bot.pipeline.poll(feed)

    def feed_requests(self, outlet: str) -> list[int]:
        return [r.status for r in self.server.requests if r.path == f"/{outlet}/feed.xml"]


@pytest.fixture
async def rig(seeds: Path, tmp_path: Path) -> AsyncIterator[Rig]:
    articles = load_corpus(seeds)
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    async with ReplayServer(articles, clock) as server, AlertReceiver() as receiver:
        rules = write_rules(
            tmp_path / "rules",
            [(o, server.feed_url(o)) for o in server.outlets],
            interval="1m",
            webhook_url=receiver.url,
        )
        env = {
            "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "BOT_WORKERS": "2",
            "BOT_REPLICA_ID": "test",
        }
        settings = Settings.from_env(env)
        bot = Bot.build(
            settings, load_config(rules, env), now=clock.now, net=NetSettings(allow=("127.0.0.1",))
        )
        try:
            yield Rig(bot, server, receiver, clock)
        finally:
            await bot.aclose()


async def release_all(rig: Rig) -> None:
    """Baseline poll on the empty feeds, then every article in publication order."""
    await rig.poll_all()
    while rig.server.release_next() is not None:
        rig.clock.advance(61)
        await rig.poll_all()
    await rig.bot.deliverer.deliver_due()


def words(text: str) -> list[str]:
    return [w.strip(".,;:!?\"'()[]“”‘’—–-").lower() for w in text.split() if w.strip()]


async def test_every_seed_article_is_stored_with_its_page_text_and_no_template(rig: Rig) -> None:
    await release_all(rig)
    stored = {a["url"]: a for a in rig.bot.store.list_articles()}
    assert len(stored) == 13
    for article in rig.server.articles:
        row = stored[rig.server.page_url(article.id)]
        assert row["extraction"] == "page"
        assert row["content_hash"] == content_hash(row["text"])
        got = set(words(row["text"]))
        want = words(article.text)
        kept = sum(1 for w in want if w in got) / len(want)
        assert kept >= 0.95, (article.id, kept)
        for phrase in TEMPLATE_PHRASES:
            assert phrase not in row["text"], (article.id, phrase)


async def test_an_unchanged_feed_answers_304_and_no_page_is_fetched_twice(rig: Rig) -> None:
    await release_all(rig)
    before = len(rig.server.requests)
    rig.clock.advance(120)
    await rig.poll_all()
    again = rig.server.requests[before:]
    assert again and {r.status for r in again} == {304}
    assert all("if-none-match" in r.headers or "if-modified-since" in r.headers for r in again)
    pages = [r.path for r in rig.server.requests if r.path.endswith(".html")]
    assert len(pages) == len(set(pages)) == 13


async def test_a_failing_feed_is_backed_off_while_the_others_keep_being_polled(rig: Rig) -> None:
    bad, good = rig.server.outlets[0], rig.server.outlets[1]
    rig.server.fail(f"/{bad}/feed.xml", 500)
    for _ in range(8):
        await rig.poll_all()
        rig.clock.advance(61)
    bad_polls, good_polls = rig.feed_requests(bad), rig.feed_requests(good)
    assert len(good_polls) == 8
    assert set(bad_polls) == {500} and len(bad_polls) < 5  # 1, 2, 4 minutes apart
    row = rig.bot.store.feed(bad)
    assert row is not None and row.consecutive_failures == len(bad_polls)
    assert "500" in (row.last_error or "")
    rig.server.clear_failures()
    rig.clock.advance(600)
    await rig.poll_all()
    recovered = rig.bot.store.feed(bad)
    assert recovered is not None and recovered.consecutive_failures == 0


async def test_a_keyword_rule_fires_once_per_matching_story(rig: Rig) -> None:
    await release_all(rig)
    rig.clock.advance(3600)
    await rig.poll_all()  # nothing new: nothing more is sent
    await rig.bot.deliverer.deliver_due()
    matching = {
        rig.server.page_url(a.id)
        for a in rig.server.articles
        if "witkoff" in (a.title + " " + a.text).lower()
    }
    rows = sorted(rig.bot.store.list_articles(), key=lambda r: (r["published_at"], r["id"]))
    expected, stories = [], set()
    for row in rows:  # the first matching article of each story; copies are not news
        if row["url"] in matching and row["duplicate_of"] is None:
            if row["story_id"] not in stories:
                expected.append(row["url"])
            stories.add(row["story_id"])
    assert 3 <= len(expected) < len(matching)  # the seeds hold a copy and a shared story
    got = [r.json["article"]["url"] for r in rig.receiver.delivered if r.json]
    assert sorted(got) == sorted(expected)
    first = rig.receiver.delivered[0].json
    assert first is not None and first["rule"] == "witkoff-mention"
    assert any("Witkoff" in e for e in first["evidence"])


async def test_the_first_poll_of_a_new_feed_is_a_baseline_without_alerts(rig: Rig) -> None:
    for _ in range(13):
        rig.server.release_next()
    rig.clock.advance(25 * 3600)  # every item is older than the 24 h backfill window
    await rig.poll_all()
    await rig.bot.deliverer.deliver_due()
    assert rig.bot.store.count("articles") == 13
    assert rig.receiver.received == []
    assert all(a["baseline"] for a in rig.bot.store.list_articles())


async def test_items_inside_the_backfill_window_alert_on_the_first_poll(rig: Rig) -> None:
    for _ in range(13):
        rig.server.release_next()
    rig.clock.advance(60)
    await rig.poll_all()
    await rig.bot.deliverer.deliver_due()
    matching = [a for a in rig.server.articles if "witkoff" in (a.title + a.text).lower()]
    recent = {
        rig.server.page_url(a.id)
        for a in matching
        if rig.clock.now() - a.published <= timedelta(hours=24)
    }
    assert recent and len(recent) < len(matching)  # the window splits the matching articles
    urls = {r.json["article"]["url"] for r in rig.receiver.delivered if r.json}
    assert urls == recent


async def test_a_page_that_cannot_be_fetched_falls_back_to_the_feed_summary(rig: Rig) -> None:
    await rig.poll_all()
    article = rig.server.release_next()
    assert article is not None
    rig.server.fail(rig.server.page_url(article.id), 404)
    rig.clock.advance(61)
    await rig.poll_all()
    [row] = rig.bot.store.list_articles()
    assert row["extraction"] == "summary"
    assert row["text"] and row["text"] in article.text.replace("\n", " ")
    assert row["content_hash"] == content_hash(row["text"])  # the summary's, not the page's


async def test_with_an_llm_endpoint_alerts_carry_its_summary_and_a_failure_keeps_ours(
    seeds: Path, tmp_path: Path
) -> None:
    from tests.test_llm import ANSWER, ChatServer

    articles = load_corpus(seeds)
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    chat = ChatServer()
    await chat.start()
    try:
        async with ReplayServer(articles, clock) as server, AlertReceiver() as receiver:
            rules = write_rules(
                tmp_path / "rules",
                [(o, server.feed_url(o)) for o in server.outlets],
                interval="1m",
                webhook_url=receiver.url,
            )
            env = {
                "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
                "BOT_WORKERS": "1",
                "BOT_LLM_URL": chat.base_url,
                "BOT_LLM_MODEL": "test-model",
            }
            bot = Bot.build(
                Settings.from_env(env),
                load_config(rules, env),
                now=clock.now,
                net=NetSettings(allow=("127.0.0.1",)),
                env=env,
            )
            chat.answer(("status", 500))  # the first story's request fails
            try:
                await release_all(Rig(bot, server, receiver, clock))
            finally:
                await bot.aclose()
        payloads = [r.json for r in receiver.delivered if r.json]
        sources = [p["summary_source"] for p in payloads]
        assert sources[0] == "extractive" and set(sources[1:]) == {"llm"}
        assert all(p["summary"] == ANSWER.strip() for p in payloads[1:])
        # asked once per matching article (alerts of copies and shared stories are held)
        assert len(payloads) <= len(chat.requests) <= 13
    finally:
        await chat.stop()


async def test_a_feed_failing_n_times_alerts_once_and_once_more_when_it_recovers(
    rig: Rig,
) -> None:
    bad = rig.server.outlets[0]
    rig.server.fail(f"/{bad}/feed.xml", 503)
    for _ in range(12):
        await rig.bot.pipeline.poll(rig.bot.feeds[0], force=True)
    await rig.bot.deliverer.deliver_due()
    health = [r.json for r in rig.receiver.delivered if r.json and r.json["rule"] == "feed-health"]
    assert [(h["values"]["feed"], h["values"]["state"]) for h in health] == [(bad, "failing")]
    assert "503" in health[0]["summary"]
    rig.server.clear_failures()
    for _ in range(3):
        await rig.bot.pipeline.poll(rig.bot.feeds[0], force=True)
    await rig.bot.deliverer.deliver_due()
    health = [r.json for r in rig.receiver.delivered if r.json and r.json["rule"] == "feed-health"]
    assert [h["values"]["state"] for h in health] == ["failing", "recovered"]
