"""APScheduler jobs: one interval job per feed, outbox delivery, and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.notify import Deliverer
from bot.pipeline import FeedSpec, Pipeline

log = logging.getLogger("bot.scheduler")

MAX_JITTER_S = 60.0


class BotScheduler:
    """Runs the pipeline on a schedule until `stop` is called."""

    def __init__(
        self,
        pipeline: Pipeline,
        deliverer: Deliverer,
        feeds: Sequence[FeedSpec],
        *,
        delivery_interval: timedelta = timedelta(seconds=5),
    ) -> None:
        self.pipeline = pipeline
        self.deliverer = deliverer
        self.feeds = list(feeds)
        self.delivery_interval = delivery_interval
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._inflight: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._deliver_now = asyncio.Event()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def _add_feed(self, feed: FeedSpec) -> None:
        seconds = feed.interval.total_seconds()
        self._scheduler.add_job(
            self._guarded,
            IntervalTrigger(seconds=seconds, jitter=min(seconds / 10, MAX_JITTER_S)),
            args=[f"poll:{feed.name}", self._poll, feed],
            id=f"poll:{feed.name}",
            max_instances=1,
            coalesce=True,
            # Spread the first polls over a few seconds instead of one burst.
            next_run_time=datetime.now(UTC)
            + timedelta(seconds=random.uniform(0, min(5.0, seconds))),
            misfire_grace_time=None,
            replace_existing=True,
        )

    def set_feeds(self, feeds: Sequence[FeedSpec]) -> None:
        """Poll these feeds from now on: new ones are added, removed ones stop, changed ones
        are rescheduled."""
        old = {f.name: f for f in self.feeds}
        self.feeds = list(feeds)
        for feed in self.feeds:
            if old.pop(feed.name, None) != feed:
                self._add_feed(feed)
        for name in old:
            job = self._scheduler.get_job(f"poll:{name}")
            if job is not None:
                job.remove()

    def add_periodic(self, name: str, fn: Callable[[], Awaitable[None]], every: timedelta) -> None:
        """Run `fn` every `every`, contained like the other jobs."""
        self._scheduler.add_job(
            self._guarded,
            IntervalTrigger(seconds=every.total_seconds()),
            args=[name, fn],
            id=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def start(self) -> None:
        now = datetime.now(UTC)
        for feed in self.feeds:
            self._add_feed(feed)
        self._scheduler.add_job(
            self._guarded,
            IntervalTrigger(seconds=self.delivery_interval.total_seconds()),
            args=["outbox", self._deliver],
            id="outbox",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
            misfire_grace_time=None,
        )
        self._scheduler.start()
        log.info("scheduler.started", extra={"feeds": len(self.feeds)})

    async def _poll(self, feed: FeedSpec) -> None:
        outcome = await self.pipeline.poll(feed)
        if outcome is not None and outcome.alerts:
            self.wake_delivery()

    async def _deliver(self) -> None:
        # Each target's deliveries run on their own task: a slow target holds up only itself.
        await self.deliverer.deliver_due(wait=False)

    def wake_delivery(self) -> None:
        """Deliver now rather than at the next tick (new alerts were just written)."""
        job = self._scheduler.get_job("outbox")
        if job is not None and not self._stopping:
            job.modify(next_run_time=datetime.now(UTC))

    async def _guarded(self, name: str, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            await fn(*args)
        except asyncio.CancelledError:
            raise
        except Exception:  # contained: the job runs again at its next tick
            log.exception("job.failed", extra={"job": name})
        finally:
            self._inflight.discard(task)

    async def stop(self, grace: float = 20.0) -> None:
        """Stop scheduling, let running jobs finish for `grace` seconds, then cancel them.

        Cancelling is safe: every write is one transaction and a feed's validators are stored
        last, so interrupted work is simply done again at the next start.
        """
        self._stopping = True
        # Paused first, shut down last: APScheduler's asyncio executor cancels every running
        # job when it shuts down, which would cut the grace period to nothing.
        if self._scheduler.running:
            self._scheduler.pause()
        pending = set(self._inflight)
        pending.update(self.deliverer.in_flight())
        still: set[asyncio.Task[Any]] = set()
        if pending:
            _done, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=5)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # it takes effect on the event loop's next turn
        log.info(
            "scheduler.stopped",
            extra={"finished": len(pending) - len(still), "cancelled": len(still)},
        )
