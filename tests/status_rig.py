"""A store filled the way the running bot fills it: the seed corpus through the real pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import Bot
from bot.config import Settings, load_config
from bot.dedup import content_hash
from bot.models import Article, Match
from bot.net import NetSettings
from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from bot.store import NewAlert, Store, new_id
from tests.helpers import write_rules

HOSTILE_TITLE = "<script>window.__pwned = 1</script>Envoy <b>bold</b> & co"
HOSTILE_URL = "javascript:window.__pwned=2"


@dataclass
class Seeded:
    bot: Bot
    server: ReplayServer
    receiver: AlertReceiver
    clock: ReplayClock

    @property
    def store(self) -> Store:
        return self.bot.store


@asynccontextmanager
async def seeded_bot(seeds: Path, tmp_path: Path) -> AsyncIterator[Seeded]:
    """Every seed article released in publication order, polled, matched and delivered."""
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
            "BOT_WORKERS": "1",
            "BOT_REPLICA_ID": "status-test",
        }
        bot = Bot.build(
            Settings.from_env(env),
            load_config(rules, env),
            now=clock.now,
            net=NetSettings(allow=("127.0.0.1",)),
        )
        try:
            for feed in bot.feeds:
                await bot.pipeline.poll(feed)
            while server.release_next() is not None:
                clock.advance(61)
                for feed in bot.feeds:
                    await bot.pipeline.poll(feed)
            await bot.deliverer.deliver_due()
            yield Seeded(bot, server, receiver, clock)
        finally:
            await bot.aclose()


def add_hostile_alert(store: Store, now: datetime | None = None) -> str:
    """An alert whose article, values, evidence and delivery error are markup and script;
    its delivery is dead. Returns the alert id."""
    now = now or datetime.now(UTC)
    text = 'He said "<img src=x onerror=window.__pwned=3>" in Kyiv.'
    article = Article(
        url=HOSTILE_URL,
        canonical_url="https://hostile.example/a",
        feed="hostile",
        title=HOSTILE_TITLE,
        text=text,
        published=now,
        fetched_at=now,
        content_hash=content_hash(text),
    )
    match = Match(
        rule_id="hostile-rule",
        title="<i>Alert</i> title with </article> in it",
        evidence=(text,),
        values={"place": "<svg onload=window.__pwned=4>", "n": 3},
    )
    alert_id = new_id()
    stored = store.store_article(
        article,
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[match],
        build=lambda m: NewAlert(m, alert_id, ("hook",), {"title": m.title}),
        now=now,
    )
    assert stored is not None
    [row] = [r for r in store.list_outbox() if r.payload.get("title") == match.title]
    store.mark_dead(row.delivery_id, "HTTP 400: <b>bad</b> request")
    return alert_id
