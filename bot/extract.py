"""Page HTML to article text and metadata, with trafilatura in a process pool."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bot.dedup import Signature, StoryFeatures, signature, story_features
from bot.errors import PermanentError, TransientError
from bot.models import Extracted

log = logging.getLogger("bot.extract")

# Below this many words a page is taken to be a stub (paywall, consent wall, video page).
MIN_WORDS = 40


def extract_html(html: bytes | str, url: str | None = None) -> Extracted | None:
    """Run trafilatura on one page; None when it finds no main text. Runs in a worker."""
    import trafilatura

    doc: Any = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False
    )
    if doc is None:
        return None
    data: dict[str, Any] = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    if not text:
        return None
    return Extracted(
        text=text,
        title=(data.get("title") or "").strip(),
        author=(data.get("author") or "").strip(),
        date=(data.get("date") or "").strip(),
        site_name=(data.get("sitename") or "").strip(),
        language=(data.get("language") or "").strip(),
    )


def _fingerprint(title: str, text: str) -> tuple[Signature, StoryFeatures]:
    return signature(text), story_features(title, text)


def _exit_with(bot_pid: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(bot_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid was reused by another user's process
            os._exit(0)


def _worker_init(bot_pid: int) -> None:
    """Import trafilatura once per worker, and leave when the bot is gone.

    A bot killed with SIGKILL cannot shut its pool down; without this, its workers (and the
    forkserver behind them) would live on, each holding a parsed trafilatura.
    """
    import trafilatura  # noqa: F401

    threading.Thread(target=_exit_with, args=(bot_pid,), daemon=True).start()


class Extractor:
    """A pool of extraction processes so the event loop never blocks on parsing."""

    def __init__(self, workers: int = 2, *, timeout: float = 60.0) -> None:
        self._workers = max(1, workers)
        self._timeout = timeout
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: never fork a process that holds the event loop's threads and sockets.
            ctx = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
        return self._pool

    async def extract(self, html: bytes, url: str) -> Extracted:
        """Extract one page; PermanentError when it has no main text."""
        loop = asyncio.get_running_loop()
        pool = self._ensure_pool()
        try:
            result = await asyncio.wait_for(
                loop.run_in_executor(pool, extract_html, html, url), timeout=self._timeout
            )
        except TimeoutError as exc:
            # Cancelling the future does not stop a worker already parsing: a page that never
            # finishes would hold its worker for good, every later page would time out behind
            # it and close() would wait for it. Kill the pool (the pages still in it fail as
            # transient) and start a fresh one next time.
            log.warning("extract.timeout", extra={"url": url})
            self._discard(pool, kill=True)
            raise TransientError(f"extraction of {url} took over {self._timeout:.0f}s") from exc
        except BrokenProcessPool as exc:
            # A worker died (out of memory, a crash in lxml): start a fresh pool next time.
            log.warning("extract.pool_broken", extra={"url": url})
            self._discard(pool)
            raise TransientError(f"extraction worker died on {url}") from exc
        if result is None or len(result.text.split()) < MIN_WORDS:
            raise PermanentError(f"no article text found in {url}")
        return result

    def _discard(self, pool: ProcessPoolExecutor, *, kill: bool = False) -> None:
        """Shut `pool` down; a replacement another page made after it broke stays in use."""
        if self._pool is pool:
            self._pool = None
        if kill:
            # ProcessPoolExecutor has no public way to stop a running task before Python 3.14.
            for process in list((pool._processes or {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def fingerprint(self, title: str, text: str) -> tuple[Signature, StoryFeatures]:
        """The MinHash signature and story features of a text, computed in the pool."""
        loop = asyncio.get_running_loop()
        pool = self._ensure_pool()
        try:
            return await loop.run_in_executor(pool, _fingerprint, title, text)
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise TransientError("fingerprint worker died") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
