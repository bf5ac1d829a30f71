"""Every query the bot makes, behind one `Store` object; no SQL lives outside this package."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import UpdateBase

from bot.dedup import Signature, StoryFeatures
from bot.models import Article, Match, TriggerState
from bot.store._bulk import Bulk
from bot.store._dedup import DedupQueries, stories
from bot.store._engine import WRITE_OPTION, make_engine
from bot.store._entries import EntryQueries, EntryRecord, revision_prefix
from bot.store._group import GroupCall
from bot.store._maintenance import MaintenanceQueries
from bot.store._migrations import migrate
from bot.store._outbox import OutboxQueries
from bot.store._tables import (
    articles,
    feed_polls,
    feeds,
    outbox,
)
from bot.store._tables import matches as matches_t
from bot.store._triggers import TriggerQueries, key_text

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A feed's stored state: validators, health and schedule."""

    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    baseline_done: bool
    last_polled_at: datetime | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    next_poll_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claim:
    """A request for a feed's poll lease (see `Store.claim_feed`)."""

    name: str
    owner: str
    now: datetime
    lease: timedelta
    force: bool = False


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The outcome of one poll, to be recorded (see `Store.record_poll`)."""

    feed_id: int
    owner: str
    started: datetime
    finished: datetime
    status: str
    http_status: int | None
    items_new: int
    next_poll_at: datetime
    validators: tuple[str | None, str | None, str | None] | None = None
    error: str | None = None
    health: HealthAlert | None = None


# Polls let into one transaction by the group commit of leases and poll records.
GROUP_LIMIT = 500


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


HealthAlert = Callable[[int, int], "tuple[dict[str, Any], tuple[str, ...]] | None"]


def new_id() -> str:
    """A fresh idempotency id for an alert or a delivery."""
    return str(uuid.uuid4())


class Store(OutboxQueries, MaintenanceQueries, DedupQueries, EntryQueries, TriggerQueries):
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

    # -- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, configured: Iterable[tuple[str, str]], now: datetime) -> dict[str, int]:
        """Make sure every configured (name, url) has a row; a changed URL starts afresh."""
        ids: dict[str, int] = {}
        with self._write() as conn:
            for name, url in configured:
                row = conn.execute(
                    select(feeds.c.id, feeds.c.url).where(feeds.c.name == name)
                ).first()
                if row is None:
                    stmt = (
                        self._insert(feeds)
                        .values(
                            name=name,
                            url=url,
                            created_at=now,
                            baseline_done=False,
                            consecutive_failures=0,
                        )
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
                    conn.execute(stmt)
                    ids[name] = conn.execute(
                        select(feeds.c.id).where(feeds.c.name == name)
                    ).scalar_one()
                    continue
                ids[name] = row.id
                if row.url != url:
                    conn.execute(
                        update(feeds)
                        .where(feeds.c.id == row.id)
                        .values(
                            url=url,
                            etag=None,
                            last_modified=None,
                            body_hash=None,
                            baseline_done=False,
                            consecutive_failures=0,
                            next_poll_at=None,
                            last_error=None,
                        )
                    )
        return ids

    def feed(self, name: str) -> FeedRow | None:
        with self._read() as conn:
            row = conn.execute(select(*_FEED_COLUMNS).where(feeds.c.name == name)).first()
        return FeedRow(*row) if row else None

    def list_feeds(self) -> list[FeedRow]:
        with self._read() as conn:
            rows = conn.execute(select(*_FEED_COLUMNS).order_by(feeds.c.name)).all()
        return [FeedRow(*r) for r in rows]

    def claim_feed(
        self, name: str, owner: str, now: datetime, lease: timedelta, *, force: bool = False
    ) -> FeedRow | None:
        """Take the poll lease of a due feed; None when not due or another replica holds it."""
        with self._write() as conn:
            return self._claim(conn, [Claim(name, owner, now, lease, force)])[0]

    async def claim(
        self, name: str, owner: str, now: datetime, lease: timedelta, *, force: bool = False
    ) -> FeedRow | None:
        """`claim_feed` from the event loop, in one transaction with the claims made meanwhile."""
        return await self._claims(Claim(name, owner, now, lease, force))

    def claim_feeds(self, claims: Sequence[Claim]) -> list[FeedRow | BaseException | None]:
        """Every claim in one transaction; if that fails, each on its own."""
        return self._all_or_each(claims, self._claim)

    def _all_or_each(
        self, items: Sequence[T], write: Callable[[Connection, Sequence[T]], Sequence[Any]]
    ) -> list[Any]:
        """`write(conn, items)` in one transaction, one outcome per item; if that fails, each
        item in a transaction of its own, so that a bad one fails alone (its exception is its
        outcome)."""
        try:
            with self._write() as conn:
                return list(write(conn, items))
        except Exception:
            if len(items) == 1:
                raise
        outcomes: list[Any] = []
        for item in items:
            try:
                with self._write() as conn:
                    outcomes.extend(write(conn, [item]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _claim(self, conn: Connection, claims: Sequence[Claim]) -> list[FeedRow | None]:
        # One UPDATE per kind of claim: the clock is the latest of them (the moment the batch
        # is written); a lease is never taken earlier than it was asked for.
        kinds: dict[tuple[str, timedelta, bool], list[int]] = {}
        for i, c in enumerate(claims):
            kinds.setdefault((c.owner, c.lease, c.force), []).append(i)
        found: list[FeedRow | None] = [None] * len(claims)
        for (owner, lease, force), indexes in kinds.items():
            now = max(claims[i].now for i in indexes)
            cond = and_(
                feeds.c.name.in_(sorted({claims[i].name for i in indexes})),
                or_(
                    feeds.c.lease_until.is_(None),
                    feeds.c.lease_until < now,
                    feeds.c.lease_owner == owner,
                ),
            )
            if not force:
                cond = and_(cond, or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now))
            rows = conn.execute(
                update(feeds)
                .where(cond)
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(*_FEED_COLUMNS)
            ).all()
            by_name = {r.name: FeedRow(*r) for r in rows}  # columns in FeedRow's order
            for i in indexes:
                found[i] = by_name.get(claims[i].name)
        return found

    def release_feeds(self, owner: str) -> None:
        self.release_leases([owner])

    def lease_owners(self) -> set[str]:
        """Every replica that holds a feed or outbox lease now."""
        with self._read() as conn:
            owners = set(
                conn.scalars(
                    select(feeds.c.lease_owner).where(feeds.c.lease_owner.is_not(None)).distinct()
                )
            )
            owners |= set(
                conn.scalars(
                    select(outbox.c.lease_owner).where(outbox.c.lease_owner.is_not(None)).distinct()
                )
            )
        return {o for o in owners if o}

    def release_leases(self, owners: Sequence[str]) -> None:
        """Drop the feed and outbox leases of these replicas (gone, or stopping)."""
        if not owners:
            return
        with self._write() as conn:
            for table in (feeds, outbox):
                conn.execute(
                    update(table)
                    .where(table.c.lease_owner.in_(list(owners)))
                    .values(lease_owner=None, lease_until=None)
                )

    def record_poll(
        self,
        feed_id: int,
        *,
        owner: str,
        started: datetime,
        finished: datetime,
        status: str,
        http_status: int | None,
        items_new: int,
        next_poll_at: datetime,
        validators: tuple[str | None, str | None, str | None] | None = None,
        error: str | None = None,
        health: HealthAlert | None = None,
    ) -> None:
        """Record the outcome of one poll and release its lease.

        Validators are stored only on success and only after the poll's items are stored, so a
        crash in between makes the next poll fetch the feed again instead of losing items.
        `health`, given the failures in a row before and after this poll, may return an alert
        about the feed itself (payload, targets): it is queued in the same transaction.
        """
        record = PollRecord(
            feed_id,
            owner,
            started,
            finished,
            status,
            http_status,
            items_new,
            next_poll_at,
            validators,
            error,
            health,
        )
        with self._write() as conn:
            self._record(conn, [record])

    async def record(self, record: PollRecord) -> None:
        """`record_poll` from the event loop, in one transaction with the records made
        meanwhile."""
        await self._records(record)

    def record_polls(self, records: Sequence[PollRecord]) -> list[BaseException | None]:
        """Every record in one transaction; if that fails, each on its own."""
        return self._all_or_each(records, self._record)

    def _bulk(self, key: tuple[str, ...]) -> Bulk:
        """The compiled statement for one shape of poll write, made on first use."""
        found = self._bulks.get(key)
        if found is None:
            kind, *columns = key
            if kind == "feed-state":
                stmt: UpdateBase = (
                    update(feeds)
                    .where(feeds.c.id == bindparam("b_id"))
                    .values({c: bindparam(f"b_{c}") for c in columns})
                )
                keys = ["b_id", *(f"b_{c}" for c in columns)]
            else:
                keys = [c.key for c in feed_polls.c if c.key != "id"]
                stmt = insert(feed_polls)
            found = self._bulks[key] = Bulk(stmt, keys, self.engine.dialect)
        return found

    def _record(self, conn: Connection, records: Sequence[PollRecord]) -> list[None]:
        query = (
            select(feeds.c.id, feeds.c.consecutive_failures)
            .where(feeds.c.id.in_(sorted({r.feed_id for r in records})))
            .order_by(feeds.c.id)  # rows locked in one order by every replica
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        failures = {int(r.id): int(r.consecutive_failures or 0) for r in conn.execute(query)}
        # Rows of one shape are written by one executemany.
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for record in records:
            before = failures.get(record.feed_id, 0)
            after = 0 if record.error is None else before + 1
            failures[record.feed_id] = after
            values: dict[str, Any] = {
                "last_polled_at": record.finished,
                "last_status": record.status,
                "next_poll_at": record.next_poll_at,
                "lease_owner": None,
                "lease_until": None,
                "last_error": record.error,
                "consecutive_failures": after,
            }
            if record.error is None:
                values["baseline_done"] = True
                if record.validators is not None:
                    etag, modified, body_hash = record.validators
                    values.update(etag=etag, last_modified=modified, body_hash=body_hash)
            shapes.setdefault(tuple(values), []).append(
                {"b_id": record.feed_id, **{f"b_{k}": v for k, v in values.items()}}
            )
            alert = record.health(before, after) if record.health is not None else None
            if alert is not None:
                payload, targets = alert
                for target in targets:
                    conn.execute(
                        insert(outbox).values(
                            delivery_id=new_id(),
                            match_id=None,
                            target=target,
                            rule_id=str(payload.get("rule", "feed-health")),
                            payload=payload,
                            state="pending",
                            attempts=0,
                            next_attempt_at=record.finished,
                            created_at=record.finished,
                        )
                    )
        for columns, params in shapes.items():
            self._bulk(("feed-state", *columns)).run(conn, params)
        self._bulk(("feed-poll",)).run(
            conn,
            [
                {
                    "feed_id": r.feed_id,
                    "replica": r.owner,
                    "started_at": r.started,
                    "finished_at": r.finished,
                    "status": r.status,
                    "http_status": r.http_status,
                    "items_new": r.items_new,
                    "error": r.error,
                }
                for r in records
            ],
        )
        return [None] * len(records)

    def poll_history(self, feed_name: str | None = None) -> list[dict[str, Any]]:
        stmt = select(feed_polls, feeds.c.name).join(feeds, feeds.c.id == feed_polls.c.feed_id)
        if feed_name is not None:
            stmt = stmt.where(feeds.c.name == feed_name)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt.order_by(feed_polls.c.id))]

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
                    if match.related and match.trigger.kind == "new":
                        state = self._seen_related(conn, match, state)
                    decision = decide(match, state, now, article.published)
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
        keys = [key_text(k) for k in (match.key, *match.related)]
        found = conn.execute(
            select(matches_t.c.id)
            .join(articles, articles.c.id == matches_t.c.article_id)
            .where(
                articles.c.story_id == story_id,
                matches_t.c.rule_id == match.rule_id,
                matches_t.c.key.in_(keys),
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


_FEED_COLUMNS = tuple(feeds.c[name] for name in FeedRow.__slots__)
