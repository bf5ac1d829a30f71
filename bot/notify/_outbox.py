"""Outbox delivery: claim due alerts, send them per target in order, retry with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.notify._targets import DeliveryFailed, Target
from bot.store import OutboxRow, Store

log = logging.getLogger("bot.notify")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter until `horizon` after the alert was written."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(hours=24)
    jitter: float = 0.2

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait before attempt number `attempts + 1`; Retry-After wins when it is longer."""
        seconds = min(
            self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(0, attempts - 1)
        )
        seconds *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


class Deliverer:
    """Sends what the outbox holds; one slow or failing target never holds up the others."""

    def __init__(
        self,
        store: Store,
        targets: Mapping[str, Target],
        *,
        owner: str,
        now: Callable[[], datetime],
        policy: RetryPolicy = RetryPolicy(),
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.store = store
        self.targets = dict(targets)
        self.owner = owner
        self.now = now
        self.policy = policy
        self.lease = lease

    async def deliver_due(self) -> DeliveryReport:
        rows = await self.store.call(self.store.claim_due, self.now(), self.owner, self.lease)
        by_target: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_target.setdefault(row.target, []).append(row)
        reports = await asyncio.gather(
            *(self._deliver_in_order(name, batch) for name, batch in by_target.items())
        )
        return DeliveryReport(
            sent=sum(r.sent for r in reports),
            retried=sum(r.retried for r in reports),
            dead=sum(r.dead for r in reports),
        )

    async def _deliver_in_order(self, name: str, batch: list[OutboxRow]) -> DeliveryReport:
        sent = retried = dead = 0
        target = self.targets.get(name)
        for i, row in enumerate(batch):
            now = self.now()
            if target is None:
                # Keep it: the target may come back with the next configuration.
                error = f"target {name} is not configured"
                await self._retry(row, error, now, self.policy.cap.total_seconds())
                retried += 1
                continue
            try:
                await target.send(row.payload, delivery_id=row.delivery_id, now=now)
            except DeliveryFailed as exc:
                if exc.retryable and now - row.created_at < self.policy.horizon:
                    await self._retry(row, exc.detail, now, exc.retry_after)
                    retried += 1
                    # Keep this target's order: the rest waits for the one that failed.
                    for later in batch[i + 1 :]:
                        await self._retry(
                            later, "waiting for an earlier alert", now, exc.retry_after, count=False
                        )
                    break
                await self.store.call(self.store.mark_dead, row.delivery_id, exc.detail)
                log.error(
                    "delivery.dead",
                    extra={"target": name, "delivery_id": row.delivery_id, "error": exc.detail},
                )
                dead += 1
                continue
            except Exception as exc:  # a bug in one target must not stop delivery
                log.exception("delivery.error", extra={"target": name})
                await self._retry(row, f"{type(exc).__name__}: {exc}", now, None)
                retried += 1
                break
            await self.store.call(self.store.mark_sent, row.delivery_id, self.now())
            log.info(
                "delivery.sent",
                extra={"target": name, "delivery_id": row.delivery_id, "rule": row.rule_id},
            )
            sent += 1
        return DeliveryReport(sent=sent, retried=retried, dead=dead)

    async def _retry(
        self,
        row: OutboxRow,
        error: str,
        now: datetime,
        retry_after: float | None,
        *,
        count: bool = True,
    ) -> None:
        attempts = row.attempts + 1 if count else max(1, row.attempts)
        when = now + self.policy.delay(attempts, retry_after)
        if count:
            log.warning(
                "delivery.retry",
                extra={
                    "target": row.target,
                    "error": error,
                    "attempt": attempts,
                    "next": when.isoformat(),
                },
            )
            await self.store.call(self.store.mark_retry, row.delivery_id, error, when)
        else:
            await self.store.call(self.store.postpone, row.delivery_id, when)
