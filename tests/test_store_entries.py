"""The store's record of feed entries, on a SQLite file and on the real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.dedup import Signature
from bot.store import EntryRecord, KnownEntry, Store, StoredPage, migrate, revision_key
from tests.test_store import make_article

T0 = datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
NO_SIGNATURE = Signature(b"")


def feed_id(store: Store, name: str = "wire") -> int:
    return store.sync_feeds([(name, f"https://{name}.example/feed.xml")], T0)[name]


def stored(store: Store, url: str, body: str, *, feed: int | None, guid: str = "") -> int:
    article = replace(make_article(url, body), guid=guid)
    result = store.store_article(
        article,
        feed_id=feed,
        baseline=False,
        duplicate_of=None,
        now=T0,
        entry=EntryRecord(guid, url, "v1") if guid and feed is not None else None,
    )
    assert result is not None
    return result.id


def test_an_article_stored_from_an_entry_records_the_entry_with_its_version(store: Store) -> None:
    wire = feed_id(store)
    article = stored(store, "https://a.example/1", "Body.", feed=wire, guid="g1")
    found = store.entry_lookup(wire, ["g1", "g2"], ["https://a.example/1", "https://a.example/2"])
    assert found.entries == {"g1": KnownEntry("https://a.example/1", article, "v1")}
    assert found.pages == {"https://a.example/1": StoredPage(article, wire, "g1")}


def test_entries_are_known_per_feed(store: Store) -> None:
    wire, other = feed_id(store), feed_id(store, "other")
    stored(store, "https://a.example/1", "Body.", feed=wire, guid="g1")
    assert store.entry_lookup(other, ["g1"], []).entries == {}


def test_a_later_version_moves_the_entry_and_keeps_its_first_key(store: Store) -> None:
    wire = feed_id(store)
    first = stored(store, "https://a.example/1", "Body.", feed=wire, guid="g1")
    key = revision_key("https://a.example/1", "Title", "h-Body. More.")
    later = replace(make_article(key, "Body. More."), guid="g1")
    result = store.store_article(
        later,
        feed_id=wire,
        baseline=False,
        duplicate_of=None,
        now=T0 + timedelta(hours=1),
        entry=EntryRecord("g1", "https://a.example/1", "v2"),
    )
    assert result is not None and result.id != first
    found = store.entry_lookup(wire, ["g1"], []).entries["g1"]
    assert found == KnownEntry("https://a.example/1", result.id, "v2")


def test_a_key_stored_by_another_poll_records_the_entry_against_that_article(
    store: Store,
) -> None:
    wire, other = feed_id(store), feed_id(store, "other")
    first = stored(store, "https://a.example/1", "Body.", feed=wire, guid="g1")
    again = store.store_article(
        replace(make_article("https://a.example/1", "Body."), guid="o1"),
        feed_id=other,
        baseline=False,
        duplicate_of=None,
        now=T0,
        entry=EntryRecord("o1", "https://a.example/1", "v1"),
    )
    assert again is None
    assert store.entry_lookup(other, ["o1"], []).entries["o1"].article_id == first


def test_an_entry_with_a_very_long_id_is_recorded(store: Store) -> None:
    wire = feed_id(store)
    guid = "tag:news.example," + "x" * 20_000
    stored(store, "https://a.example/1", "Body.", feed=wire, guid=guid)
    assert set(store.entry_lookup(wire, [guid], []).entries) == {guid}


def test_an_earlier_version_is_no_original_of_a_later_one(store: Store) -> None:
    wire = feed_id(store)
    page = "https://a.example/live"
    stored(store, page, "Same.", feed=wire, guid="g1")
    assert store.original_of("h-Same.", NO_SIGNATURE) is not None
    assert store.original_of("h-Same.", NO_SIGNATURE, versions_of=page) is None
    elsewhere = stored(store, "https://b.example/copy", "Same.", feed=None)
    # another outlet's article with that text still is one
    assert store.original_of("h-Same.", NO_SIGNATURE, versions_of=page) == (elsewhere, "hash")


def test_an_existing_database_gets_its_entries_from_the_articles_stored(store: Store) -> None:
    wire = feed_id(store)
    article = stored(store, "https://a.example/1", "Body.", feed=wire, guid="g1")
    stored(store, "https://a.example/2", "Other.", feed=None, guid="g2")  # no feed: no entry
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE feed_entries"))
        conn.execute(text("DELETE FROM schema_migrations WHERE name = '0006_feed_entries'"))
    assert migrate(store.engine) == ["0006_feed_entries"]
    found = store.entry_lookup(wire, ["g1", "g2"], [])
    assert found.entries == {"g1": KnownEntry("https://a.example/1", article, None)}
