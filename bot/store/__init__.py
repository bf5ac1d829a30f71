"""The store: schema, migrations, engine and every query, over SQLite or PostgreSQL."""

from bot.store._backup import (
    BackupError,
    DatabaseSummary,
    backup,
    move_to_postgresql,
    restore,
    summarize,
)
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
from bot.store._feeds import Claim, FeedRow, HealthAlert, PollRecord
from bot.store._migrations import MIGRATIONS, migrate
from bot.store._outbox import OutboxRow, new_id
from bot.store._store import NewAlert, Store, StoredArticle

__all__ = [
    "MIGRATIONS",
    "BackupError",
    "Claim",
    "DatabaseSummary",
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
    "backup",
    "make_engine",
    "migrate",
    "move_to_postgresql",
    "new_id",
    "restore",
    "revision_key",
    "revision_prefix",
    "summarize",
]
