"""The store: schema, migrations, engine and every query, over SQLite or PostgreSQL."""

from bot.store._dedup import StoryArticle, StoryRow
from bot.store._engine import make_engine
from bot.store._migrations import MIGRATIONS, migrate
from bot.store._outbox import OutboxRow
from bot.store._store import (
    Claim,
    FeedRow,
    HealthAlert,
    NewAlert,
    PollRecord,
    Store,
    StoredArticle,
    new_id,
)

__all__ = [
    "MIGRATIONS",
    "Claim",
    "FeedRow",
    "HealthAlert",
    "NewAlert",
    "OutboxRow",
    "PollRecord",
    "Store",
    "StoredArticle",
    "StoryArticle",
    "StoryRow",
    "make_engine",
    "migrate",
    "new_id",
]
