"""Every query the bot makes, behind one `Store` object; no SQL lives outside this package."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.dedup import Signature, StoryFeatures
from bot.models import Article, Match, TriggerState
from bot.store._bulk import Bulk
from bot.store._dedup import DedupQueries, stories
from bot.store._engine import WRITE_OPTION, make_engine
from bot.store._entries import EntryQueries, EntryRecord, revision_prefix
from bot.store._feeds import GROUP_LIMIT, Claim, FeedQueries, FeedRow, PollRecord
from bot.store._group import GroupCall
from bot.store._maintenance import MaintenanceQueries
from bot.store._migrations import migrate
from bot.store._outbox import OutboxQueries, new_id
from bot.store._tables import articles, feeds, outbox
from bot.store._tables import matches as matches_t
from bot.store._triggers import TriggerQueries, key_text

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewAlert:
    """A match to record with the targets its alert goes to."""

    match: Match
    alert_id: str
    targets: tuple[str, ...]
    payload: dict[str, Any]
    not_before: Mapping[str, datetime] = field(default_factory=dict)  # per target: digests


Duplicate = Literal["hash", "near"]


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article just stored: its id, the alerts written, the matches held back and why,
    its story and whether the article started that story."""

    id: int
    alerts: list[NewAlert]
    held: list[tuple[str, str]]
    story_id: int | None = None
    new_story: bool = False


class _Decision(Protocol):
    @property
    def alert(self) -> Match | None: ...
    @property
    def state(self) -> TriggerState: ...
    @property
    def reason(self) -> str: ...


# (match, its key's stored state, now, when the article reporting it was published, if known)
Decide = Callable[[Match, "TriggerState | None", datetime, "datetime | None"], _Decision]


class Store(
    FeedQueries, OutboxQueries, MaintenanceQueries, DedupQueries, EntryQueries, TriggerQueries
):
    """The database underneath every stage.

    Methods are synchronous; async callers go through `call`, which runs them on the store's
    own threads (one for SQLite, whose writers queue anyway; a few for PostgreSQL).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")
        self._claims: GroupCall[Claim, FeedRow | None] = GroupCall(
            lambda batch: self.call(self.claim_feeds, batch), GROUP_LIMIT
        )
        self._records: GroupCall[PollRecord, None] = GroupCall(
            lambda batch: self.call(self.record_polls, batch), GROUP_LIMIT
        )
        self._bulks: dict[tuple[str, ...], Bulk] = {}

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and migrate."""
        store = cls(make_engine(url))
        migrate(store.engine)
        return store

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)

    # -- articles ----------------------------------------------------------------------------

    def known_urls(self, canonical_urls: Sequence[str]) -> set[str]:
        """The subset of `canonical_urls` already stored."""
        if not canonical_urls:
            return set()
        with self._read() as conn:
            return set(
                conn.scalars(
                    select(articles.c.canonical_url).where(
                        articles.c.canonical_url.in_(list(canonical_urls))
                    )
                )
            )

    def original_of(
        self, content_hash: str, sig: Signature, *, versions_of: str | None = None
    ) -> tuple[int, Duplicate] | None:
        """The stored original an article duplicates and how it was found, or None, in one
        read: first the oldest original with the same normalized-text hash, then a
        near-duplicate of `sig` (`near_duplicate_of`; an empty signature has none).

        For a new version of the article stored under the key `versions_of`, its own earlier
        versions are no originals: a live blog with one more paragraph is not a copy.
        """
        with self._read() as conn:
            query = select(articles.c.id).where(
                articles.c.content_hash == content_hash, articles.c.duplicate_of.is_(None)
            )
            if versions_of is not None:
                query = query.where(~self._versions(versions_of))
            same_text = conn.scalar(query.order_by(articles.c.id).limit(1))
            if same_text is not None:
                return int(same_text), "hash"
            near = self.near_duplicate_of(sig, conn=conn)
            if near is not None and versions_of is not None:
                own = conn.scalar(
                    select(articles.c.id).where(articles.c.id == near, self._versions(versions_of))
                )
                if own is not None:
                    return None
            return None if near is None else (near, "near")

    @staticmethod
    def _versions(key: str) -> Any:
        """Whether an article is a version of the one stored under `key`."""
        return or_(
            articles.c.canonical_url == key,
            articles.c.canonical_url.startswith(revision_prefix(key), autoescape=True),
        )

    def store_article(
        self,
        article: Article,
        *,
        feed_id: int | None,
        baseline: bool,
        duplicate_of: int | None,
        matches: Sequence[Match] = (),
        decide: Decide | None = None,
        build: Callable[[Match], NewAlert] | None = None,
        now: datetime,
        signature: Signature | None = None,
        features: StoryFeatures | None = None,
        entry: EntryRecord | None = None,
    ) -> StoredArticle | None:
        """Store an article, run its matches through their triggers, and write the alerts
        that are news with their outbox rows: all in one transaction.

        Each match's (rule, key) state is locked while it is decided, so replicas racing on
        the same news send it once; `decide` is told when the article was published (None if
        unknown), so that triggers can weigh reports in publication order. `entry`, the feed
        entry that gave the article, is recorded as read. Returns None when another poll
        stored the same key first (then nothing of this call is written but `entry`, recorded
        as having given that article).
        """
        with self._write() as conn:
            stmt = (
                self._insert(articles)
                .values(
                    canonical_url=article.canonical_url,
                    url=article.url,
                    feed_id=feed_id,
                    guid=article.guid,
                    title=article.title,
                    text=article.text,
                    published_at=article.published,
                    fetched_at=article.fetched_at,
                    author=article.author,
                    site_name=article.site_name,
                    language=article.language,
                    extraction=article.extraction,
                    content_hash=article.content_hash,
                    duplicate_of=duplicate_of,
                    baseline=baseline,
                )
                .on_conflict_do_nothing(index_elements=["canonical_url"])
                .returning(articles.c.id)
            )
            article_id = conn.execute(stmt).scalar()
            if article_id is None:
                if entry is not None and feed_id is not None:
                    first = conn.scalar(
                        select(articles.c.id).where(
                            articles.c.canonical_url == article.canonical_url
                        )
                    )
                    if first is not None:
                        self.remember_entry(conn, feed_id, entry, int(first), now)
                return None
            if entry is not None and feed_id is not None:
                self.remember_entry(conn, feed_id, entry, int(article_id), now)
            story_id: int | None = None
            new_story = False
            if signature is not None and duplicate_of is None:
                self.add_signature(conn, int(article_id), signature)
            if features is not None:
                story_id = self.assign_story(
                    conn,
                    int(article_id),
                    features,
                    article.published or article.fetched_at,
                    duplicate_of=duplicate_of,
                )
                # A story's first article is the one that inserted it (count 1, in this
                # transaction); joining an existing story raised its count.
                count = conn.scalar(select(stories.c.article_count).where(stories.c.id == story_id))
                new_story = count == 1
            sent: list[NewAlert] = []
            held: list[tuple[str, str]] = []
            for match in matches:
                alert: Match | None = match
                if story_id is not None and self._story_has_alert(conn, story_id, match):
                    held.append((match.rule_id, "same story"))
                    continue
                if decide is not None:
                    state = self._lock_state(conn, match)
                    decision = decide(match, state, now, article.published)
                    related = (
                        self._seen_related(conn, match, state, now)
                        if decision.alert is not None and match.related
                        else state
                    )
                    if related is not state:
                        # The trip, alerted at another level of its place: held, and not
                        # counted as a report of this key, which may be of the next trip.
                        decision = decide(match, related, now, article.published)
                    else:
                        self._save_state(conn, match, decision.state)
                    alert = decision.alert
                    if alert is None:
                        held.append((match.rule_id, decision.reason))
                        continue
                assert alert is not None
                new = (
                    build(alert)
                    if build is not None
                    else NewAlert(alert, new_id(), alert.targets, {})
                )
                self._insert_alert(conn, int(article_id), new, now)
                sent.append(new)
            return StoredArticle(int(article_id), sent, held, story_id, new_story)

    def _story_has_alert(self, conn: Connection, story_id: int, match: Match) -> bool:
        """Whether this rule already alerted on this key for another article of the story:
        one event, told by many outlets, is one alert."""
        found = conn.execute(
            select(matches_t.c.id)
            .join(articles, articles.c.id == matches_t.c.article_id)
            .where(
                articles.c.story_id == story_id,
                matches_t.c.rule_id == match.rule_id,
                matches_t.c.key == key_text(match.key),
            )
            .limit(1)
        ).first()
        return found is not None

    def _insert_alert(
        self, conn: Connection, article_id: int, alert: NewAlert, now: datetime
    ) -> None:
        m = alert.match
        match_id = conn.execute(
            insert(matches_t)
            .values(
                article_id=article_id,
                rule_id=m.rule_id,
                key=key_text(m.key),
                alert_id=alert.alert_id,
                title=m.title,
                severity=m.severity,
                values=m.values,
                evidence=list(m.evidence),
                created_at=now,
            )
            .returning(matches_t.c.id)
        ).scalar_one()
        for target in alert.targets:
            conn.execute(
                insert(outbox).values(
                    delivery_id=new_id(),
                    match_id=match_id,
                    target=target,
                    rule_id=m.rule_id,
                    payload=alert.payload,
                    state="pending",
                    attempts=0,
                    next_attempt_at=alert.not_before.get(target, now),
                    created_at=now,
                )
            )

    def article(self, article_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
        return dict(row._mapping) if row else None

    def list_articles(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [
                dict(r._mapping) for r in conn.execute(select(articles).order_by(articles.c.id))
            ]

    def articles_since(self, since: datetime) -> list[dict[str, Any]]:
        """Stored articles fetched since `since`, oldest publication first."""
        order = func.coalesce(articles.c.published_at, articles.c.fetched_at)
        stmt = select(articles).where(articles.c.fetched_at >= since).order_by(order, articles.c.id)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def matches_for(self, article_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The alerts the bot recorded for these articles."""
        if not article_ids:
            return []
        stmt = select(matches_t).where(matches_t.c.article_id.in_(list(article_ids)))
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt.order_by(matches_t.c.id))]

    def count(self, table: str) -> int:
        tbl = {"articles": articles, "matches": matches_t, "outbox": outbox, "feeds": feeds}[table]
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).select_from(tbl)) or 0)

    def list_matches(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [
                dict(r._mapping) for r in conn.execute(select(matches_t).order_by(matches_t.c.id))
            ]
