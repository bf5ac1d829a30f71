"""Feeds and their polls (a mixin of `Store`): each feed's state, its poll lease, the record
of every poll."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.expression import UpdateBase

from bot.store._bulk import Bulk
from bot.store._group import GroupCall
from bot.store._outbox import new_id
from bot.store._tables import feed_polls, feeds, outbox

T = TypeVar("T")

HealthAlert = Callable[[int, int], "tuple[dict[str, Any], tuple[str, ...]] | None"]


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


class FeedQueries:
    """Mixed into `Store`: every read and write of `feeds` and `feed_polls`, with the poll
    leases and the group commit of claims and poll records."""

    engine: Engine
    _claims: GroupCall[Claim, FeedRow | None]
    _records: GroupCall[PollRecord, None]
    _bulks: dict[tuple[str, ...], Bulk]

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

        def _write(self) -> AbstractContextManager[Connection]: ...

        @property
        def dialect(self) -> str: ...

        def _insert(self, table: Any) -> Any: ...

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


_FEED_COLUMNS = tuple(feeds.c[name] for name in FeedRow.__slots__)
