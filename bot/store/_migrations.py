"""Named schema migrations, each applied once in its own transaction and recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, select, text

from bot.store._dedup import DEDUP_TABLES, stories, story_terms
from bot.store._engine import WRITE_OPTION
from bot.store._entries import feed_entries, guid_hash
from bot.store._tables import (
    articles,
    metadata,
    outbox,
    outbox_gates,
    schema_migrations,
    trigger_state,
)

Migration = tuple[str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:
    metadata.create_all(conn)


def _near_duplicates_and_stories(conn: Connection) -> None:
    """LSH bands, signatures, stories and term statistics; `articles.story_id`."""
    for table in DEDUP_TABLES:
        table.create(conn, checkfirst=True)
    if "story_id" not in {c["name"] for c in inspect(conn).get_columns("articles")}:
        conn.execute(text("ALTER TABLE articles ADD COLUMN story_id INTEGER"))
    if "ix_articles_story_id" not in {i["name"] for i in inspect(conn).get_indexes("articles")}:
        next(i for i in articles.indexes if i.name == "ix_articles_story_id").create(conn)


def _story_index(conn: Connection) -> None:
    """`story_terms`: every story's vector as indexed rows, filled from `stories.vector`."""
    story_terms.create(conn, checkfirst=True)
    rows = conn.execute(select(stories.c.id, stories.c.last_seen, stories.c.vector)).all()
    batch: list[dict[str, object]] = []
    for row in rows:
        vector = row.vector or {}
        for kind, part in ((0, vector.get("terms", {})), (1, vector.get("lede", {}))):
            batch += [
                {
                    "kind": kind,
                    "term": term,
                    "last_seen": row.last_seen,
                    "story_id": row.id,
                    "weight": float(weight),
                }
                for term, weight in part.items()
            ]
        if len(batch) >= 5000:
            conn.execute(story_terms.insert(), batch)
            batch = []
    if batch:
        conn.execute(story_terms.insert(), batch)


def _trigger_value_time(conn: Connection) -> None:
    """`trigger_state.value_at`: when the newest report of a tracked value was published.
    Existing states get none, so the next report of any age is compared as before."""
    if "value_at" not in {c["name"] for c in inspect(conn).get_columns("trigger_state")}:
        kind = trigger_state.c.value_at.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE trigger_state ADD COLUMN value_at {kind}"))


def _outbox_gates(conn: Connection) -> None:
    """`outbox_gates` (per-target "not before", shared by replicas) and the index a claim uses
    to keep each target's deliveries in order."""
    outbox_gates.create(conn, checkfirst=True)
    if "ix_outbox_target_queue" not in {i["name"] for i in inspect(conn).get_indexes("outbox")}:
        next(i for i in outbox.indexes if i.name == "ix_outbox_target_queue").create(conn)


def _feed_entries(conn: Connection) -> None:
    """`feed_entries`, filled from the articles stored so far (their versions unknown: the
    next poll takes what the feed says then as read)."""
    feed_entries.create(conn, checkfirst=True)
    rows = conn.execute(
        select(articles.c.id, articles.c.feed_id, articles.c.guid, articles.c.canonical_url)
        .where(articles.c.feed_id.is_not(None), articles.c.guid != "")
        .order_by(articles.c.id)
    ).all()
    now = datetime.now(UTC)
    seen: set[tuple[int, str]] = set()
    batch: list[dict[str, object]] = []
    for row in rows:
        ident = (int(row.feed_id), guid_hash(row.guid))
        if ident in seen:
            continue
        seen.add(ident)
        batch.append(
            {
                "feed_id": ident[0],
                "guid_hash": ident[1],
                "guid": row.guid,
                "key": row.canonical_url,
                "article_id": row.id,
                "version": None,
                "seen_at": now,
            }
        )
        if len(batch) >= 5000:
            conn.execute(feed_entries.insert(), batch)
            batch = []
    if batch:
        conn.execute(feed_entries.insert(), batch)


# Append only. A fresh database is created from the current tables and every migration is
# recorded as applied; an existing one gets the ones it lacks, in order.
MIGRATIONS: tuple[Migration, ...] = (
    ("0001_initial", _initial),
    ("0002_near_duplicates_and_stories", _near_duplicates_and_stories),
    ("0003_story_index", _story_index),
    ("0004_trigger_value_time", _trigger_value_time),
    ("0005_outbox_gates", _outbox_gates),
    ("0006_feed_entries", _feed_entries),
)

_PG_LOCK_KEY = 0x6E657773626F74  # any constant shared by every replica


def migrate(engine: Engine) -> list[str]:
    """Bring the schema up to date; returns the names of the migrations applied now."""
    applied_now: list[str] = []
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                # Replicas starting together migrate one at a time.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            existing = set(inspect(conn).get_table_names())
            now = datetime.now(UTC)
            if "schema_migrations" not in existing and not (existing & set(metadata.tables)):
                metadata.create_all(conn)
                conn.execute(
                    schema_migrations.insert(),
                    [{"name": name, "applied_at": now} for name, _ in MIGRATIONS],
                )
                return [name for name, _ in MIGRATIONS]
            schema_migrations.create(conn, checkfirst=True)
            done = set(conn.scalars(select(schema_migrations.c.name)))
        for name, step in MIGRATIONS:
            if name in done:
                continue
            with conn.begin():
                step(conn)
                conn.execute(
                    schema_migrations.insert(), {"name": name, "applied_at": datetime.now(UTC)}
                )
            applied_now.append(name)
    return applied_now
