"""What the store tells the metrics: whether a stored article started its story; on SQLite
and PostgreSQL. (Copies by URL are counted from the feed entries: tests/test_feed_entries.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.dedup import story_features
from bot.models import Article
from bot.store import Store

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
PAGE = "https://news.example/witkoff-moscow"


def _article(url: str, title: str = "Title", text: str = "Body.") -> Article:
    return Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title=title,
        text=text,
        published=T0,
        fetched_at=T0,
        content_hash=f"h-{url}",
    )


def _feeds(store: Store) -> tuple[int, int, int]:
    ids = store.sync_feeds(
        [
            ("wire", "https://a.example/rss"),
            ("agg", "https://b.example/rss"),
            ("other", "https://c.example/rss"),
        ],
        T0,
    )
    return ids["wire"], ids["agg"], ids["other"]


def test_a_stored_article_says_whether_it_started_its_story(store: Store) -> None:
    title = "Witkoff arrives in Moscow for talks on the peace plan"
    text = (
        "US envoy Steve Witkoff arrived in Moscow on Tuesday for talks with Vladimir Putin "
        "about the peace plan. The Kremlin said the meeting would cover security guarantees."
    )
    features = story_features(title, text)
    first = store.store_article(
        _article(PAGE, title, text),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        now=T0,
        features=features,
    )
    second = store.store_article(
        _article(PAGE + "-copy", title, text),
        feed_id=None,
        baseline=False,
        duplicate_of=first.id if first else None,
        now=T0,
        features=features,
    )
    assert first is not None and second is not None
    assert first.story_id == second.story_id
    assert (first.new_story, second.new_story) == (True, False)
