"""Queries for running for months: retention, database upkeep, and the status page's reads."""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, or_, select, text, update

from bot.store._dedup import article_signatures, lsh_bands, stories, story_terms
from bot.store._tables import articles, feed_polls, feeds, outbox
from bot.store._tables import matches as matches_t

log = logging.getLogger("bot.store")

RETENTION_BATCH = 500  # rows per transaction: a long retention run never holds the lock long


@dataclass(frozen=True, slots=True)
class FeedView:
    """A feed as the status page shows it: its health and what it brought in."""

    name: str
    url: str
    last_polled_at: datetime | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    next_poll_at: datetime | None
    last_ok_at: datetime | None  # the last poll that did not fail (within the poll history)
    articles: int


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One alert's delivery to one target."""

    delivery_id: str
    target: str
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertView:
    """A recorded alert with its "why": the rule, the values, the evidence, the article."""

    match_id: int
    alert_id: str
    rule_id: str
    title: str
    severity: str
    values: dict[str, Any]
    evidence: list[str]
    created_at: datetime
    article_id: int
    article_title: str
    article_url: str
    feed: str | None
    extraction: str
    published_at: datetime | None
    story_id: str | None
    deliveries: tuple[DeliveryView, ...]


@dataclass(frozen=True, slots=True)
class OpenDelivery:
    """A delivery not sent yet (pending) or given up on (dead)."""

    delivery_id: str
    target: str
    rule_id: str
    title: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    counts: dict[str, int]  # deliveries by state
    oldest_pending_at: datetime | None
    open: list[OpenDelivery]  # newest first


@dataclass(frozen=True, slots=True)
class Gauges:
    """What /metrics reads from the database at scrape time (see bot.metrics.StoreGauges)."""

    outbox_depth: dict[str, int]
    oldest_pending_age: float | None
    feed_failures: dict[str, int]


@dataclass(frozen=True, slots=True)
class RetentionReport:
    texts_dropped: int
    polls_pruned: int
    deliveries_pruned: int
    signatures_pruned: int = 0  # articles whose LSH bands and signature were removed
    stories_unindexed: int = 0  # stories whose term rows were removed


def _json_value(value: Any) -> Any:
    # JSON columns come back parsed; a driver that returns text is parsed here.
    return json.loads(value) if isinstance(value, str) else value


class MaintenanceQueries:
    """Mixed into `Store`: the queries that keep a long-running database small and the ones
    the status page reads. Uses the store's engine and transaction helpers."""

    engine: Engine

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

        def _write(self) -> AbstractContextManager[Connection]: ...

        @property
        def dialect(self) -> str: ...

    # -- liveness of the database ---------------------------------------------------------

    def ping(self) -> None:
        """Raise unless the database answers a query."""
        with self._read() as conn:
            conn.execute(text("SELECT 1"))

    # -- retention -------------------------------------------------------------------------

    def drop_old_text(self, older_than: datetime) -> int:
        """Empty the text of articles fetched before `older_than`; returns how many.

        Title, URLs, content hash, ids and every match and trigger state stay: dedup still
        recognizes the article and triggers still remember what they saw.
        """
        done = 0
        while True:
            with self._write() as conn:
                ids = list(
                    conn.scalars(
                        select(articles.c.id)
                        .where(articles.c.fetched_at < older_than, articles.c.text != "")
                        .order_by(articles.c.id)
                        .limit(RETENTION_BATCH)
                    )
                )
                if not ids:
                    return done
                conn.execute(update(articles).where(articles.c.id.in_(ids)).values(text=""))
            done += len(ids)

    def prune_polls(self, older_than: datetime) -> int:
        """Forget the poll history from before `older_than` (each feed's current state stays
        on its own row); returns how many polls were removed."""
        return self._delete_batched(feed_polls, feed_polls.c.started_at < older_than)

    def prune_sent(self, older_than: datetime) -> int:
        """Remove deliveries sent before `older_than` (the alert's match stays); pending and
        dead deliveries are kept whatever their age."""
        return self._delete_batched(
            outbox, and_(outbox.c.state == "sent", outbox.c.sent_at < older_than)
        )

    def prune_near_duplicate_index(self, older_than: datetime) -> int:
        """Remove the LSH bands and signatures of articles fetched before `older_than` (the
        ones whose text retention drops); returns for how many articles.

        Such an article is still found by URL and by content hash; a near-copy of it arriving
        later is simply not folded into it.
        """
        indexed = or_(
            exists().where(article_signatures.c.article_id == articles.c.id),
            exists().where(lsh_bands.c.article_id == articles.c.id),
        )
        done, after = 0, 0  # `after`: a cursor, so no batch looks at the same rows again
        while True:
            with self._write() as conn:
                ids = list(
                    conn.scalars(
                        select(articles.c.id)
                        .where(articles.c.id > after, articles.c.fetched_at < older_than, indexed)
                        .order_by(articles.c.id)
                        .limit(RETENTION_BATCH)
                    )
                )
                if not ids:
                    return done
                after = ids[-1]
                conn.execute(delete(lsh_bands).where(lsh_bands.c.article_id.in_(ids)))
                conn.execute(
                    delete(article_signatures).where(article_signatures.c.article_id.in_(ids))
                )
            done += len(ids)

    def prune_story_terms(self, older_than: datetime) -> int:
        """Remove the term rows of stories whose every article was fetched before
        `older_than`; returns how many stories. The story itself (title, span, its articles)
        stays for `bot stories`; it is no longer a candidate for new articles to join."""
        live = exists().where(
            articles.c.story_id == stories.c.id, articles.c.fetched_at >= older_than
        )
        indexed = exists().where(story_terms.c.story_id == stories.c.id)
        done, after = 0, 0
        while True:
            with self._write() as conn:
                ids = list(
                    conn.scalars(
                        select(stories.c.id)
                        .where(stories.c.id > after, indexed, ~live)
                        .order_by(stories.c.id)
                        .limit(RETENTION_BATCH)
                    )
                )
                if not ids:
                    return done
                after = ids[-1]
                conn.execute(delete(story_terms).where(story_terms.c.story_id.in_(ids)))
            done += len(ids)

    def _delete_batched(self, table: Any, condition: Any) -> int:
        done = 0
        while True:
            with self._write() as conn:
                ids = list(
                    conn.scalars(
                        select(table.c.id)
                        .where(condition)
                        .order_by(table.c.id)
                        .limit(RETENTION_BATCH)
                    )
                )
                if not ids:
                    return done
                conn.execute(delete(table).where(table.c.id.in_(ids)))
            done += len(ids)

    def apply_retention(self, older_than: datetime) -> RetentionReport:
        """Everything retention does, for data from before `older_than`."""
        return RetentionReport(
            texts_dropped=self.drop_old_text(older_than),
            polls_pruned=self.prune_polls(older_than),
            deliveries_pruned=self.prune_sent(older_than),
            signatures_pruned=self.prune_near_duplicate_index(older_than),
            stories_unindexed=self.prune_story_terms(older_than),
        )

    def maintain(self) -> list[str]:
        """Routine database upkeep; returns what was done.

        SQLite: `PRAGMA optimize`, a WAL checkpoint, and giving free pages back to the file
        system (incrementally once the database is in incremental auto-vacuum mode; the first
        time a quarter of the file is free, one full VACUUM switches it to that mode).
        PostgreSQL: `ANALYZE` (autovacuum reclaims space).
        """
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            return ["analyze"]
        done: list[str] = []
        with self.engine.connect() as conn:
            # The raw connection is in autocommit mode (see _engine): VACUUM cannot run in a
            # transaction.
            raw: Any = conn.connection.dbapi_connection
            raw.execute("PRAGMA optimize")
            done.append("optimize")
            mode = raw.execute("PRAGMA auto_vacuum").fetchone()[0]
            free = raw.execute("PRAGMA freelist_count").fetchone()[0]
            pages = raw.execute("PRAGMA page_count").fetchone()[0]
            if mode == 2:  # incremental
                if free:
                    raw.execute("PRAGMA incremental_vacuum")
                    done.append(f"incremental_vacuum ({free} pages)")
            elif pages and free >= max(256, pages // 4):
                raw.execute("PRAGMA auto_vacuum = INCREMENTAL")
                raw.execute("VACUUM")
                done.append(f"vacuum ({free} of {pages} pages free)")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            done.append("wal_checkpoint")
        return done

    # -- the status page and /metrics ------------------------------------------------------

    def feed_overview(self) -> list[FeedView]:
        """Every stored feed with its health, its last good poll and its article count."""
        counts = (
            select(articles.c.feed_id, func.count().label("n"))
            .group_by(articles.c.feed_id)
            .subquery()
        )
        last_ok = (
            select(feed_polls.c.feed_id, func.max(feed_polls.c.finished_at).label("at"))
            .where(feed_polls.c.status != "failed")
            .group_by(feed_polls.c.feed_id)
            .subquery()
        )
        stmt = (
            select(
                feeds.c.name,
                feeds.c.url,
                feeds.c.last_polled_at,
                feeds.c.last_status,
                feeds.c.last_error,
                feeds.c.consecutive_failures,
                feeds.c.next_poll_at,
                last_ok.c.at,
                func.coalesce(counts.c.n, 0),
            )
            .outerjoin(counts, counts.c.feed_id == feeds.c.id)
            .outerjoin(last_ok, last_ok.c.feed_id == feeds.c.id)
            .order_by(feeds.c.name)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        # The subquery's max() comes back as text on SQLite: parse it with the column's type.
        return [FeedView(*r[:7], _as_utc(r[7]), int(r[8])) for r in rows]

    def recent_alerts(self, limit: int = 50) -> list[AlertView]:
        """The last `limit` alerts, newest first, with their article and deliveries."""
        story = articles.c.get("story_id")
        stmt = (
            select(
                matches_t.c.id,
                matches_t.c.alert_id,
                matches_t.c.rule_id,
                matches_t.c.title,
                matches_t.c.severity,
                matches_t.c["values"],
                matches_t.c.evidence,
                matches_t.c.created_at,
                articles.c.id.label("article_id"),
                articles.c.title.label("article_title"),
                articles.c.url,
                feeds.c.name.label("feed"),
                articles.c.extraction,
                articles.c.published_at,
                *([story.label("story_id")] if story is not None else []),
            )
            .join(articles, articles.c.id == matches_t.c.article_id)
            .outerjoin(feeds, feeds.c.id == articles.c.feed_id)
            .order_by(matches_t.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            ids = [r.id for r in rows]
            by_match: dict[int, list[DeliveryView]] = {}
            if ids:
                for d in conn.execute(
                    select(
                        outbox.c.match_id,
                        outbox.c.delivery_id,
                        outbox.c.target,
                        outbox.c.state,
                        outbox.c.attempts,
                        outbox.c.last_error,
                        outbox.c.next_attempt_at,
                        outbox.c.sent_at,
                    )
                    .where(outbox.c.match_id.in_(ids))
                    .order_by(outbox.c.id)
                ):
                    by_match.setdefault(d.match_id, []).append(DeliveryView(*d[1:]))
        return [
            AlertView(
                match_id=r.id,
                alert_id=r.alert_id,
                rule_id=r.rule_id,
                title=r.title,
                severity=r.severity,
                values=dict(_json_value(r.values) or {}),
                evidence=[str(e) for e in _json_value(r.evidence) or []],
                created_at=r.created_at,
                article_id=r.article_id,
                article_title=r.article_title,
                article_url=r.url,
                feed=r.feed,
                extraction=r.extraction,
                published_at=r.published_at,
                story_id=(
                    str(r.story_id)
                    if story is not None and getattr(r, "story_id", None) is not None
                    else None
                ),
                deliveries=tuple(by_match.get(r.id, ())),
            )
            for r in rows
        ]

    def outbox_summary(self, limit: int = 50) -> OutboxSummary:
        """Deliveries by state, the oldest pending one, and the newest unsent ones."""
        with self._read() as conn:
            counts = {
                str(state): int(n)
                for state, n in conn.execute(
                    select(outbox.c.state, func.count()).group_by(outbox.c.state)
                )
            }
            oldest = conn.scalar(
                select(func.min(outbox.c.created_at)).where(outbox.c.state == "pending")
            )
            rows = conn.execute(
                select(
                    outbox.c.delivery_id,
                    outbox.c.target,
                    outbox.c.rule_id,
                    matches_t.c.title,
                    outbox.c.state,
                    outbox.c.attempts,
                    outbox.c.next_attempt_at,
                    outbox.c.last_error,
                    outbox.c.created_at,
                )
                .join(matches_t, matches_t.c.id == outbox.c.match_id)
                .where(outbox.c.state.in_(("pending", "dead")))
                .order_by(outbox.c.id.desc())
                .limit(limit)
            ).all()
        return OutboxSummary(counts, _as_utc(oldest), [OpenDelivery(*r) for r in rows])

    def oldest_pending_age(self, now: datetime) -> float | None:
        """Seconds since the oldest pending delivery was written; None when none is pending.

        Deliveries held for a digest or quiet hours count: they are pending too.
        """
        with self._read() as conn:
            oldest = _as_utc(
                conn.scalar(
                    select(func.min(outbox.c.created_at)).where(outbox.c.state == "pending")
                )
            )
        return None if oldest is None else max(0.0, (now - oldest).total_seconds())

    def gauges(self, now: datetime) -> Gauges:
        """The outbox depth by state, the oldest pending age and each feed's failure run."""
        with self._read() as conn:
            depth = {
                str(state): int(n)
                for state, n in conn.execute(
                    select(outbox.c.state, func.count()).group_by(outbox.c.state)
                )
            }
            oldest = _as_utc(
                conn.scalar(
                    select(func.min(outbox.c.created_at)).where(outbox.c.state == "pending")
                )
            )
            failures = {
                str(name): int(n)
                for name, n in conn.execute(select(feeds.c.name, feeds.c.consecutive_failures))
            }
        age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
        return Gauges(depth, age, failures)


def _as_utc(value: Any) -> datetime | None:
    """An aggregate over a UTC column, whatever form the driver gives it back in."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
