"""The scheduler's stop: polls already running finish within the grace period, none starts."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.pipeline import FeedSpec, PollOutcome
from bot.scheduler import BotScheduler


class SlowPipeline:
    """Stands in for the pipeline: each poll takes `seconds` and is remembered."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.running = asyncio.Event()

    async def poll(self, feed: FeedSpec) -> PollOutcome:
        self.started.append(feed.name)
        self.running.set()
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled.append(feed.name)
            raise
        self.finished.append(feed.name)
        return PollOutcome(feed.name, "not_modified", 304, 0, 0, 0)


class IdleDeliverer:
    async def deliver_due(self, *, wait: bool = True) -> None:
        return None

    def in_flight(self) -> list[asyncio.Task[Any]]:
        return []


def feed(name: str) -> FeedSpec:
    return FeedSpec(name, f"https://{name}.example/rss", timedelta(hours=1), timedelta(hours=1))


async def start(pipeline: SlowPipeline, *names: str) -> BotScheduler:
    scheduler = BotScheduler(pipeline, IdleDeliverer(), [feed(n) for n in names])  # type: ignore[arg-type]
    scheduler.start()
    for job in scheduler._scheduler.get_jobs():  # due now, not within the first 5 s
        job.modify(next_run_time=datetime.now(UTC))
    scheduler._scheduler.wakeup()
    await asyncio.wait_for(pipeline.running.wait(), timeout=5)
    await asyncio.sleep(0.05)
    return scheduler


async def test_a_running_poll_finishes_within_the_grace_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = SlowPipeline(0.5)
    scheduler = await start(pipeline, "wire", "agency")
    assert sorted(pipeline.started) == ["agency", "wire"]
    with caplog.at_level(logging.INFO):
        await scheduler.stop(grace=5.0)
    assert sorted(pipeline.finished) == ["agency", "wire"]
    assert pipeline.cancelled == []
    assert not scheduler.running
    # a clean stop logs no job as failed (APScheduler reports a cancelled job as an error)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    stopped = [r for r in caplog.records if r.getMessage() == "scheduler.stopped"]
    assert [(r.finished, r.cancelled) for r in stopped] == [(2, 0)]  # type: ignore[attr-defined]


async def test_a_poll_past_the_grace_period_is_cancelled() -> None:
    pipeline = SlowPipeline(30.0)
    scheduler = await start(pipeline, "stuck")
    await scheduler.stop(grace=0.2)
    assert pipeline.cancelled == ["stuck"] and pipeline.finished == []
    assert not scheduler.running


async def test_no_poll_starts_once_stopping() -> None:
    pipeline = SlowPipeline(0.3)
    scheduler = await start(pipeline, "wire")
    stopping = asyncio.create_task(scheduler.stop(grace=5.0))
    await asyncio.sleep(0)
    scheduler.set_feeds([feed("wire"), feed("late")])  # a reload racing the stop
    late = scheduler._scheduler.get_job("poll:late")
    assert late is not None
    late.modify(next_run_time=datetime.now(UTC))  # due at once: only the stop keeps it idle
    await stopping
    assert pipeline.started == ["wire"]
