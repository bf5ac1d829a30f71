"""Outbox delivery: claim due alerts, send them per target in order, retry with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.metrics import Metrics
from bot.notify._policy import TargetPolicy
from bot.notify._targets import DeliveryFailed, Pace, Target
from bot.store import OutboxRow, Store

log = logging.getLogger("bot.notify")

MAX_DIGEST_ITEMS = 50


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
    held: int = 0  # waiting for quiet hours, a rate limit, or an earlier alert

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.dead + other.dead,
            self.held + other.held,
        )


def digest_payload(rows: list[OutboxRow], now: datetime) -> dict[str, Any]:
    """One message for several alerts, shaped like an alert so every target can render it."""
    payloads = [r.payload for r in rows]
    shown = payloads[:MAX_DIGEST_ITEMS]
    lines = [
        f"{p.get('title', '')} — {p.get('article', {}).get('outlet', '')}".strip(" —")
        for p in shown
    ]
    more = len(payloads) - len(shown)
    if more:
        lines.append(f"… and {more} more")
    severity = max(
        (p.get("severity", "info") for p in payloads),
        key=lambda s: (
            ("info", "warning", "critical").index(s) if s in ("info", "warning", "critical") else 0
        ),
    )
    first = payloads[0].get("article", {})
    return {
        "id": hashlib.sha256("".join(r.delivery_id for r in rows).encode()).hexdigest()[:32],
        "type": "digest",
        "rule": "digest",
        "title": f"{len(payloads)} alert{'s' if len(payloads) != 1 else ''} since the last digest",
        "severity": severity,
        "summary": "; ".join(lines[:3]),
        "values": {"count": len(payloads)},
        "evidence": lines,
        "article": first,
        "sources": [
            {
                "url": p.get("article", {}).get("url"),
                "outlet": p.get("article", {}).get("outlet"),
                "title": p.get("title"),
            }
            for p in shown
        ],
        "alerts": payloads,
        "created_at": now.isoformat(),
    }


class Deliverer:
    """Sends what the outbox holds; one slow or failing target never holds up the others.

    Each target is served by its own task, in order; while a target's task runs, its rows
    are not claimed again, so a slow chat service only delays its own alerts.

    Order and pace hold per target across claims and replicas: the store hands out a
    target's deliveries only in order (see `Store.claim_due`), and a service's Retry-After or
    an empty rate-limit bucket (Discord's `X-RateLimit-*` headers) closes the target's gate in
    the database, so no replica sends to it before the service said it may.

    A target whose service answers that it is gone (HTTP 410: the webhook was deleted or its
    channel archived) is disabled: its later alerts are dead-lettered without a request,
    with the reason, until its configuration changes (a new URL) or the bot restarts.
    """

    def __init__(
        self,
        store: Store,
        targets: Mapping[str, Target],
        *,
        owner: str,
        now: Callable[[], datetime],
        policy: RetryPolicy = RetryPolicy(),
        policies: Mapping[str, TargetPolicy] | None = None,
        lease: timedelta = timedelta(minutes=2),
        metrics: Metrics | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry

        self.metrics = metrics or Metrics(CollectorRegistry(), process=False)
        self.store = store
        self.targets = dict(targets)
        self.policies = dict(policies or {})
        self.owner = owner
        self.now = now
        self.policy = policy
        self.lease = lease
        self._busy: dict[str, asyncio.Task[DeliveryReport]] = {}
        # name -> (the target as it was configured when it answered 410, why)
        self._gone: dict[str, tuple[Target, str]] = {}
        self._gates: dict[str, datetime] = {}  # name -> not before (what this replica set)
        self._buckets: dict[str, str] = {}  # name -> the rate-limit bucket last recorded

    def policy_for(self, target: str) -> TargetPolicy:
        return self.policies.setdefault(target, TargetPolicy())

    async def deliver_due(self, *, wait: bool = True) -> DeliveryReport:
        """Claim what is due and start each target's deliveries; with `wait`, wait for them."""
        busy = tuple(name for name, task in self._busy.items() if not task.done())
        rows = await self.store.call(
            self.store.claim_due, self.now(), self.owner, self.lease, exclude_targets=busy
        )
        by_target: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_target.setdefault(row.target, []).append(row)
        tasks = []
        for name, batch in by_target.items():
            task = asyncio.create_task(self._deliver_counted(name, batch), name=f"deliver:{name}")
            self._busy[name] = task
            tasks.append(task)
        if not wait:
            return DeliveryReport()
        report = DeliveryReport()
        for result in await asyncio.gather(*tasks):
            report += result
        return report

    def disabled(self, name: str) -> str | None:
        """Why target `name` is disabled, or None when it takes deliveries."""
        gone = self._gone.get(name)
        target = self.targets.get(name)
        if gone is None or target is None:
            return None
        if gone[0] != target:  # reconfigured since (a new URL): try it again
            del self._gone[name]
            return None
        return gone[1]

    def _disable(self, name: str, target: Target, exc: DeliveryFailed) -> None:
        why = f"target {name} is disabled: its service answered that it is gone ({exc.detail})"
        self._gone[name] = (target, why)
        log.error("target.disabled", extra={"target": name, "error": exc.detail})

    async def _dead_while_disabled(self, name: str, why: str, rows: list[OutboxRow]) -> int:
        for row in rows:
            await self.store.call(self.store.mark_dead, row.delivery_id, why)
            log.error(
                "delivery.dead",
                extra={"target": name, "delivery_id": row.delivery_id, "error": why},
            )
        return len(rows)

    def in_flight(self) -> list[asyncio.Task[DeliveryReport]]:
        """The targets' delivery tasks still running (to wait for at shutdown)."""
        return [t for t in self._busy.values() if not t.done()]

    async def _deliver_counted(self, name: str, batch: list[OutboxRow]) -> DeliveryReport:
        """Deliver a target's batch, then count its outcomes in `bot_deliveries_total`."""
        report = await self._deliver_in_order(name, batch)
        self.metrics.delivery(name, "sent", report.sent)
        self.metrics.delivery(name, "retry", report.retried)
        self.metrics.delivery(name, "dead", report.dead)
        self.metrics.delivery(name, "held", report.held)
        return report

    async def _deliver_in_order(self, name: str, batch: list[OutboxRow]) -> DeliveryReport:
        target = self.targets.get(name)
        if target is None:
            # Keep them: the target may come back with the next configuration.
            for row in batch:
                await self._retry(
                    row,
                    f"target {name} is not configured",
                    self.now(),
                    self.policy.cap.total_seconds(),
                )
            return DeliveryReport(retried=len(batch))
        policy = self.policy_for(name)
        if policy.digest is not None:
            return await self._deliver_digest(name, target, policy, batch)
        sent = retried = dead = held = 0
        for i, row in enumerate(batch):
            why = self.disabled(name)
            if why is not None:
                dead += await self._dead_while_disabled(name, why, batch[i:])
                break
            now = self.now()
            severity = str(row.payload.get("severity", "info"))
            wait_until = (
                policy.quiet_until(now, severity)
                or policy.rate_wait(now)
                or self._gate_after(name, now)
            )
            if wait_until is not None:
                for later in batch[i:]:
                    await self.store.call(self.store.postpone, later.delivery_id, wait_until)
                held += len(batch) - i
                break
            try:
                with self.metrics.time("deliver"):
                    pace = await target.send(row.payload, delivery_id=row.delivery_id, now=now)
            except DeliveryFailed as exc:
                await self._close_gate(name, now, exc.retry_after)
                if exc.retryable and now - row.created_at < self.policy.horizon:
                    await self._retry(row, exc.detail, now, exc.retry_after)
                    retried += 1
                    # Keep this target's order: the rest waits for the one that failed.
                    await self._hold_behind(row, batch[i + 1 :])
                    held += len(batch) - i - 1
                    break
                await self.store.call(self.store.mark_dead, row.delivery_id, exc.detail)
                log.error(
                    "delivery.dead",
                    extra={"target": name, "delivery_id": row.delivery_id, "error": exc.detail},
                )
                dead += 1
                if exc.gone:
                    self._disable(name, target, exc)
                continue
            except Exception as exc:  # a bug in one target must not stop delivery
                log.exception("delivery.error", extra={"target": name})
                await self._retry(row, f"{type(exc).__name__}: {exc}", now, None)
                await self._hold_behind(row, batch[i + 1 :])
                retried += 1
                held += len(batch) - i - 1
                break
            policy.record_sent(now)
            await self.store.call(self.store.mark_sent, row.delivery_id, self.now())
            log.info(
                "delivery.sent",
                extra={"target": name, "delivery_id": row.delivery_id, "rule": row.rule_id},
            )
            sent += 1
            await self._paced(name, now, pace)
        return DeliveryReport(sent=sent, retried=retried, dead=dead, held=held)

    async def _deliver_digest(
        self, name: str, target: Target, policy: TargetPolicy, batch: list[OutboxRow]
    ) -> DeliveryReport:
        now = self.now()
        severity = max(
            (str(r.payload.get("severity", "info")) for r in batch),
            key=lambda s: (
                ("info", "warning", "critical").index(s)
                if s in ("info", "warning", "critical")
                else 0
            ),
        )
        quiet = policy.quiet_until(now, severity)
        if quiet is not None:
            for row in batch:
                await self.store.call(self.store.postpone, row.delivery_id, quiet)
            return DeliveryReport(held=len(batch))
        why = self.disabled(name)
        if why is not None:
            return DeliveryReport(dead=await self._dead_while_disabled(name, why, batch))
        payload = digest_payload(batch, now)
        try:
            pace = await target.send(payload, delivery_id=payload["id"], now=now)
        except DeliveryFailed as exc:
            await self._close_gate(name, now, exc.retry_after)
            retry = exc.retryable and now - batch[0].created_at < self.policy.horizon
            if exc.gone:
                self._disable(name, target, exc)
            for row in batch:
                if retry:
                    await self._retry(row, exc.detail, now, exc.retry_after)
                else:
                    await self.store.call(self.store.mark_dead, row.delivery_id, exc.detail)
            return DeliveryReport(retried=len(batch)) if retry else DeliveryReport(dead=len(batch))
        for row in batch:
            await self.store.call(self.store.mark_sent, row.delivery_id, now)
        log.info("delivery.digest", extra={"target": name, "alerts": len(batch)})
        await self._paced(name, now, pace)
        return DeliveryReport(sent=len(batch))

    def _gate_after(self, name: str, now: datetime) -> datetime | None:
        """The end of the wait this replica was told about for `name`, if it is still on."""
        until = self._gates.get(name)
        return until if until is not None and until > now else None

    async def _close_gate(
        self, name: str, now: datetime, wait: float | None, bucket: str | None = None
    ) -> None:
        """Hold every delivery to `name`, on every replica, for the `wait` its service asked."""
        if wait is None or (wait <= 0 and bucket is None):
            return
        until = now + timedelta(seconds=min(max(0.0, wait), self.policy.cap.total_seconds()))
        await self.store.call(self.store.hold_target, name, until, bucket=bucket)
        if until > now:
            self._gates[name] = until
            log.info("target.paced", extra={"target": name, "until": until.isoformat()})

    async def _paced(self, name: str, now: datetime, pace: Pace | None) -> None:
        if pace is None:
            return
        new_bucket = pace.bucket is not None and self._buckets.get(name) != pace.bucket
        if pace.wait > 0 or new_bucket:
            await self._close_gate(name, now, pace.wait, pace.bucket)
        if pace.bucket is not None:
            self._buckets[name] = pace.bucket

    async def _hold_behind(self, failed: OutboxRow, later: list[OutboxRow]) -> None:
        # The rows after a failed one wait until just after its next attempt.
        for row in later:
            await self.store.call(self.store.postpone_behind, row.delivery_id, failed.delivery_id)

    async def _retry(
        self, row: OutboxRow, error: str, now: datetime, retry_after: float | None
    ) -> None:
        attempts = row.attempts + 1
        when = now + self.policy.delay(attempts, retry_after)
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
