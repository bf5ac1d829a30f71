"""The outbox's queries: claim due deliveries per target in order, record each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from bot.store._tables import outbox


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
        """Lease the pending deliveries that are due, oldest first (except for busy targets)."""
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.state == "pending",
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if exclude_targets:
            due = due.where(outbox.c.target.not_in(list(exclude_targets)))
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        with self._write() as conn:
            rows = conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(due.scalar_subquery()))
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(*_OUTBOX_COLUMNS)
            ).all()
        return sorted((OutboxRow(**r._mapping) for r in rows), key=lambda r: r.id)

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
