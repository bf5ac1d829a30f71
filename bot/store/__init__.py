"""The store: schema, migrations, engine and every query, over SQLite or PostgreSQL."""

from bot.store._dedup import StoryArticle, StoryRow
from bot.store._engine import make_engine
from bot.store._entries import (
    EntryLookup,
    EntryRecord,
    KnownEntry,
    StoredPage,
    revision_key,
    revision_prefix,
)
from bot.store._migrations import MIGRATIONS, migrate
from bot.store._store import (
    Claim,
    FeedRow,
    HealthAlert,
    NewAlert,
    OutboxRow,
    PollRecord,
    Store,
    StoredArticle,
    new_id,
)

__all__ = [
    "MIGRATIONS",
    "Claim",
    "EntryLookup",
    "EntryRecord",
    "FeedRow",
    "HealthAlert",
    "KnownEntry",
    "NewAlert",
    "OutboxRow",
    "PollRecord",
    "Store",
    "StoredArticle",
    "StoredPage",
    "StoryArticle",
    "StoryRow",
    "make_engine",
    "migrate",
    "new_id",
    "revision_key",
    "revision_prefix",
]
