"""Group commit: calls that arrive while one batch is being written go together into the next.

When thousands of feeds fall due at once, each poll takes its lease and records its outcome in
a write transaction of its own, and the store's one SQLite thread spends its time beginning and
committing them. A `GroupCall` hands everything that queued up meanwhile to one function (one
transaction) instead. Nothing waits for a batch to fill: a lone call runs at once; a batch
forms only from calls that would have queued behind the store anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger("bot.store")

T = TypeVar("T")
R = TypeVar("R")


class GroupCall(Generic[T, R]):
    """`await group(item)` runs `batch([item, ...])` with every item queued meanwhile.

    `batch` returns one outcome per item, in order: a value, or an exception that is raised to
    that item's caller only. When `batch` itself raises, every item of the batch gets the
    exception; batch functions are written to fall back to one item at a time instead, so
    that one bad item costs only its own caller.
    """

    def __init__(
        self, batch: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]], limit: int
    ) -> None:
        if limit < 1:
            raise ValueError("a batch holds at least one item")
        self._batch = batch
        self._limit = limit
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain(), name="store-group-call")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            taken, self._queue = self._queue[: self._limit], self._queue[self._limit :]
            try:
                outcomes = await self._batch([item for item, _ in taken])
                if len(outcomes) != len(taken):
                    raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(taken)}")
            except asyncio.CancelledError:
                for _, future in taken:
                    future.cancel()
                for _, future in self._queue:
                    future.cancel()
                self._queue = []
                raise
            except Exception as exc:  # every caller hears of it; the drain goes on
                log.debug("store.batch_failed", exc_info=True)
                outcomes = [exc] * len(taken)
            for (_, future), outcome in zip(taken, outcomes, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
