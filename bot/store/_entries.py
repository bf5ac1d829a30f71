"""Feed entries (a mixin of `Store`): which entry gave which article, at which version."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
)

from bot.store._tables import UTCDateTime, articles, metadata

feed_entries = Table(
    "feed_entries",
    metadata,
    Column(
        "feed_id",
        Integer,
        ForeignKey("feeds.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    # sha256 of the guid: ids are the feed's to choose, and may be longer than an index allows
    Column("guid_hash", String(64), primary_key=True),
    Column("guid", Text, nullable=False),
    Column("key", Text, nullable=False),  # the article key (canonical_url) of its first version
    # the article holding the latest version read
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(64)),  # NULL: recorded before versions were kept
    Column("seen_at", UTCDateTime(), nullable=False),
    Index("ix_feed_entries_article", "article_id"),
)


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """An entry read before: its key, the article of its latest version, and that version."""

    key: str
    article_id: int
    version: str | None


@dataclass(frozen=True, slots=True)
class StoredPage:
    """The article stored under a page's key, and the feed entry that brought it."""

    article_id: int
    feed_id: int | None
    guid: str


@dataclass(frozen=True, slots=True)
class EntryLookup:
    """What the store knows of one poll's entries (by guid) and of their pages (by key)."""

    entries: dict[str, KnownEntry]
    pages: dict[str, StoredPage]


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One entry of one feed to remember as read, at this version."""

    guid: str
    key: str
    version: str


def guid_hash(guid: str) -> str:
    return hashlib.sha256(guid.encode()).hexdigest()


def revision_prefix(key: str) -> str:
    """What the key of every later version of the article stored under `key` starts with."""
    return f"{key}{'&' if '#' in key else '#'}revision="


def revision_key(key: str, title: str, content_hash: str) -> str:
    """The key of a later version of the article stored under `key`, named by its title and
    text: two polls (or two feeds) that read the same new version store it once."""
    return (
        revision_prefix(key) + hashlib.sha256(f"{title}\n{content_hash}".encode()).hexdigest()[:16]
    )


class EntryQueries:
    """Reads and writes of `feed_entries`; mixed into `Store`."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

        def _write(self) -> AbstractContextManager[Connection]: ...

        def _insert(self, table: Any) -> Any: ...

    def entry_lookup(self, feed_id: int, guids: Sequence[str], keys: Sequence[str]) -> EntryLookup:
        """The entries of `feed_id` among `guids` read before, and the articles stored under
        `keys`, in one read."""
        entries: dict[str, KnownEntry] = {}
        pages: dict[str, StoredPage] = {}
        with self._read() as conn:
            hashes = [guid_hash(g) for g in guids]
            for start in range(0, len(hashes), 500):
                rows = conn.execute(
                    select(
                        feed_entries.c.guid,
                        feed_entries.c.key,
                        feed_entries.c.article_id,
                        feed_entries.c.version,
                    ).where(
                        feed_entries.c.feed_id == feed_id,
                        feed_entries.c.guid_hash.in_(hashes[start : start + 500]),
                    )
                )
                for r in rows:
                    entries[r.guid] = KnownEntry(r.key, int(r.article_id), r.version)
            for start in range(0, len(keys), 500):
                rows = conn.execute(
                    select(
                        articles.c.id, articles.c.canonical_url, articles.c.feed_id, articles.c.guid
                    ).where(articles.c.canonical_url.in_(list(keys[start : start + 500])))
                )
                for r in rows:
                    pages[r.canonical_url] = StoredPage(int(r.id), r.feed_id, r.guid)
        return EntryLookup(entries, pages)

    def article_id_of(self, key: str) -> int | None:
        """The article stored under `key`, if any."""
        with self._read() as conn:
            found = conn.scalar(select(articles.c.id).where(articles.c.canonical_url == key))
        return None if found is None else int(found)

    def remember_entries(
        self, feed_id: int, records: Sequence[tuple[EntryRecord, int]], now: datetime
    ) -> None:
        """Record each (entry, article id) as read at its version."""
        if not records:
            return
        with self._write() as conn:
            for record, article_id in records:
                self.remember_entry(conn, feed_id, record, article_id, now)

    def remember_entry(
        self, conn: Connection, feed_id: int, record: EntryRecord, article_id: int, now: datetime
    ) -> None:
        """Record one entry in the caller's transaction. An entry keeps the key of its first
        version; its article and version follow the latest one read."""
        stmt = self._insert(feed_entries).values(
            feed_id=feed_id,
            guid_hash=guid_hash(record.guid),
            guid=record.guid,
            key=record.key,
            article_id=article_id,
            version=record.version,
            seen_at=now,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["feed_id", "guid_hash"],
                set_={
                    "article_id": stmt.excluded.article_id,
                    "version": stmt.excluded.version,
                    "seen_at": stmt.excluded.seen_at,
                },
            )
        )

    def entries_of(self, feed_id: int) -> list[dict[str, Any]]:
        """Every entry of a feed read so far (for tests and the status page)."""
        with self._read() as conn:
            rows = conn.execute(
                select(feed_entries)
                .where(feed_entries.c.feed_id == feed_id)
                .order_by(feed_entries.c.seen_at, feed_entries.c.guid)
            )
            return [dict(r._mapping) for r in rows]
