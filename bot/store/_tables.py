"""The schema: SQLAlchemy Core tables shared by SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, naive UTC in the database.

    SQLite has no time zones; storing naive UTC everywhere keeps comparisons and indexes
    identical on both back ends.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive, SQLAlchemy parses SQLite text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("baseline_done", Boolean, nullable=False, default=False),
    Column("last_polled_at", UTCDateTime()),
    Column("last_status", String(32)),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_poll_at", UTCDateTime()),
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

feed_polls = Table(
    "feed_polls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("replica", String(200), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("status", String(32), nullable=False),
    Column("http_status", Integer),
    Column("items_new", Integer, nullable=False, default=0),
    Column("error", Text),
    Index("ix_feed_polls_feed_started", "feed_id", "started_at"),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("canonical_url", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("guid", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("published_at", UTCDateTime()),
    Column("fetched_at", UTCDateTime(), nullable=False),
    Column("author", Text, nullable=False, default=""),
    Column("site_name", Text, nullable=False, default=""),
    Column("language", String(32), nullable=False, default=""),
    Column("extraction", String(16), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("duplicate_of", Integer, ForeignKey("articles.id", ondelete="SET NULL")),
    Column("baseline", Boolean, nullable=False, default=False),
    Column("story_id", Integer),  # stories.id (bot/store/_dedup.py); set by assign_story
    Index("ix_articles_content_hash", "content_hash"),
    Index("ix_articles_fetched_at", "fetched_at"),
    Index("ix_articles_story_id", "story_id"),
)

matches = Table(
    "matches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("key", Text, nullable=False, default=""),
    Column("alert_id", String(36), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("values", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("article_id", "rule_id", "key", name="uq_matches_article_rule_key"),
    Index("ix_matches_rule_created", "rule_id", "created_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), nullable=False, unique=True),
    # NULL for alerts that come from no article (a feed that fails, then recovers)
    Column("match_id", Integer, ForeignKey("matches.id", ondelete="CASCADE")),
    Column("target", String(200), nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime()),
    UniqueConstraint("match_id", "target", name="uq_outbox_match_target"),
    Index("ix_outbox_state_due", "state", "next_attempt_at"),
    # a target's queue in order: what a claim looks at to keep per-target order
    Index("ix_outbox_target_queue", "target", "state", "id"),
)

# When each target may be sent its next message at the earliest: a Retry-After, or a
# rate-limit bucket the service said is empty until its reset. In the database so that every
# replica waits; on PostgreSQL a claim also locks the rows of the targets it serves.
outbox_gates = Table(
    "outbox_gates",
    metadata,
    Column("target", String(200), primary_key=True),
    Column("not_before", UTCDateTime(), nullable=False),
    # the service's name for a limit several targets share (Discord's X-RateLimit-Bucket)
    Column("bucket", String(200)),
)

trigger_state = Table(
    "trigger_state",
    metadata,
    Column("rule_id", String(200), primary_key=True),
    Column("key_hash", String(64), primary_key=True),
    Column("key", Text, nullable=False),
    Column("value", Text),
    Column("last_seen", UTCDateTime()),
    Column("last_alert", UTCDateTime()),
    Column("events", JSON, nullable=False),
    # `changed`: the publication time of the newest report of `value`; an older report never
    # replaces it.
    Column("value_at", UTCDateTime()),
)
