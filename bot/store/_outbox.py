"""The outbox's queries: claim due deliveries per target in order, record each attempt."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, case, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from bot.store._tables import outbox, outbox_gates

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_id() -> str:
    """A fresh idempotency id for an alert or a delivery."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One pending delivery of one alert to one target."""

    id: int
    delivery_id: str
    target: str
    rule_id: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OutboxQueries:
    """Mixed into `Store`: everything delivery reads and writes in the outbox."""

    engine: Engine

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

        def _write(self) -> AbstractContextManager[Connection]: ...

        @property
        def dialect(self) -> str: ...

    def claim_due(
        self,
        now: datetime,
        owner: str,
        lease: timedelta,
        limit: int = 50,
        *,
        exclude_targets: Sequence[str] = (),
    ) -> list[OutboxRow]:
        """Lease the pending deliveries that are due, oldest first, each target's in order.

        A delivery is handed out only with every earlier pending one of its target: never
        while an earlier one is in flight (leased to any replica) or waits for its retry after
        a failed attempt, and nothing while the target's gate is closed (a Retry-After, an
        empty rate-limit bucket). One held back by the target's own policy (quiet hours, a
        digest, its rate limit) does not hold back later ones: the policy decides for each,
        and those it holds wait until the same moment, so they still go in order; a critical
        alert exempt from quiet hours goes at once. On PostgreSQL the claim locks the gate
        rows of the targets it serves (others skip them), so two replicas never claim one
        target's deliveries at once.
        """
        earlier = outbox.alias("earlier")
        lease_free = or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)
        held_behind = exists().where(
            earlier.c.target == outbox.c.target,
            earlier.c.state == "pending",
            earlier.c.id < outbox.c.id,
            or_(
                earlier.c.lease_until >= now,
                and_(earlier.c.next_attempt_at > now, earlier.c.attempts > 0),
            ),
        )
        gate_closed = exists().where(
            outbox_gates.c.target == outbox.c.target, outbox_gates.c.not_before > now
        )
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.state == "pending",
                outbox.c.next_attempt_at <= now,
                lease_free,
                ~held_behind,
                ~gate_closed,
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if exclude_targets:
            due = due.where(outbox.c.target.not_in(list(exclude_targets)))
        with self._write() as conn:
            if self.dialect == "postgresql":
                mine = self._lock_targets(conn, now, lease_free, exclude_targets)
                if not mine:
                    return []
                due = due.where(outbox.c.target.in_(mine)).with_for_update(skip_locked=True)
            rows = conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(due.scalar_subquery()))
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(*_OUTBOX_COLUMNS)
            ).all()
        return sorted((OutboxRow(**r._mapping) for r in rows), key=lambda r: r.id)

    def _lock_targets(
        self,
        conn: Connection,
        now: datetime,
        lease_free: ColumnElement[bool],
        exclude_targets: Sequence[str],
    ) -> list[str]:
        """Lock, until this transaction ends, the gate rows of the targets that have something
        due and an open gate, skipping those another replica's claim holds now."""
        candidates = select(outbox.c.target).where(
            outbox.c.state == "pending", outbox.c.next_attempt_at <= now, lease_free
        )
        if exclude_targets:
            candidates = candidates.where(outbox.c.target.not_in(list(exclude_targets)))
        targets = sorted(set(conn.scalars(candidates.distinct())))
        if not targets:
            return []
        # A target's first delivery creates its row; sorted, so replicas never deadlock here.
        conn.execute(
            pg_insert(outbox_gates)
            .values([{"target": t, "not_before": _EPOCH} for t in targets])
            .on_conflict_do_nothing(index_elements=[outbox_gates.c.target])
        )
        return list(
            conn.scalars(
                select(outbox_gates.c.target)
                .where(outbox_gates.c.target.in_(targets), outbox_gates.c.not_before <= now)
                .order_by(outbox_gates.c.target)
                .with_for_update(skip_locked=True)
            )
        )

    def hold_target(self, target: str, until: datetime, *, bucket: str | None = None) -> None:
        """Send nothing more to `target` before `until` (never brings an existing gate
        forward); with `bucket`, remember it and hold every target that shares it too."""
        insert = (pg_insert if self.dialect == "postgresql" else sqlite_insert)(outbox_gates)
        stmt = insert.values(target=target, not_before=until, bucket=bucket)
        kept, asked = outbox_gates.c.not_before, stmt.excluded.not_before
        stmt = stmt.on_conflict_do_update(
            index_elements=[outbox_gates.c.target],
            set_={
                "not_before": case((kept > asked, kept), else_=asked),
                "bucket": func.coalesce(stmt.excluded.bucket, outbox_gates.c.bucket),
            },
        )
        with self._write() as conn:
            conn.execute(stmt)
            if bucket is not None:
                conn.execute(
                    update(outbox_gates)
                    .where(outbox_gates.c.bucket == bucket, outbox_gates.c.not_before < until)
                    .values(not_before=until)
                )

    def target_gate(self, target: str) -> datetime | None:
        """When `target` may be sent its next message at the earliest, if it was ever held."""
        with self._read() as conn:
            when: datetime | None = conn.scalar(
                select(outbox_gates.c.not_before).where(outbox_gates.c.target == target)
            )
        return when

    def mark_sent(self, delivery_id: str, now: datetime) -> None:
        self._finish(delivery_id, state="sent", sent_at=now, last_error=None)

    def mark_retry(self, delivery_id: str, error: str, next_attempt_at: datetime) -> None:
        self._finish(
            delivery_id, state="pending", last_error=error, next_attempt_at=next_attempt_at
        )

    def mark_dead(self, delivery_id: str, error: str) -> None:
        self._finish(delivery_id, state="dead", last_error=error)

    def postpone(self, delivery_id: str, next_attempt_at: datetime) -> None:
        """Hold a delivery back without counting an attempt (it waits behind an earlier one)."""
        with self._write() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.delivery_id == delivery_id)
                .values(next_attempt_at=next_attempt_at, lease_owner=None, lease_until=None)
            )

    def postpone_behind(self, delivery_id: str, behind: str) -> None:
        """Hold a delivery until just after the next attempt of `behind` (order per target)."""
        with self._write() as conn:
            when = conn.scalar(
                select(outbox.c.next_attempt_at).where(outbox.c.delivery_id == behind)
            )
            if when is None:
                return
            conn.execute(
                update(outbox)
                .where(outbox.c.delivery_id == delivery_id)
                .values(
                    next_attempt_at=when + timedelta(milliseconds=1),
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def _finish(self, delivery_id: str, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.delivery_id == delivery_id)
                .values(
                    attempts=outbox.c.attempts + 1, lease_owner=None, lease_until=None, **values
                )
            )

    def retry_now(self, delivery_id: str, now: datetime) -> bool:
        """Put a failed or dead delivery back in the queue; False when there is no such id."""
        with self._write() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.delivery_id == delivery_id, outbox.c.state != "sent")
                .values(state="pending", next_attempt_at=now, lease_owner=None, lease_until=None)
            )
        return bool(result.rowcount)

    def pending_count(self) -> int:
        """How many deliveries wait in the outbox (due or not)."""
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).where(outbox.c.state == "pending")) or 0)

    def pending_after(self, after_id: int, limit: int = 100) -> list[OutboxRow]:
        """Pending deliveries written after row `after_id`, oldest first; changes nothing."""
        stmt = (
            select(*_OUTBOX_COLUMNS)
            .where(outbox.c.state == "pending", outbox.c.id > after_id)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [OutboxRow(**r._mapping) for r in conn.execute(stmt)]

    def list_outbox(self, state: str | None = None, limit: int = 100) -> list[OutboxRow]:
        stmt = select(*_OUTBOX_COLUMNS).order_by(outbox.c.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(outbox.c.state == state)
        with self._read() as conn:
            return [OutboxRow(**r._mapping) for r in conn.execute(stmt)]


_OUTBOX_COLUMNS = tuple(outbox.c[name] for name in OutboxRow.__slots__)
