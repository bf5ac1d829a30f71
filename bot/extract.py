"""Page HTML to article text and metadata, with trafilatura in a process pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.dedup import Signature, StoryFeatures, hash_and_signature, story_features
from bot.errors import PermanentError, TransientError
from bot.models import Extracted

log = logging.getLogger("bot.extract")

R = TypeVar("R")

# Below this many words a page is taken to be a stub (paywall, consent wall, video page).
MIN_WORDS = 40

# Extraction workers run at a lower CPU priority than the bot's own process. The bot's process
# does the serial part of the pipeline (one store thread writes every article, the event loop
# polls and delivers); when the workers compete with it for the cores, articles queue behind
# the store and the workers wait for them (bench/RESULTS.md, pipeline). Lowered, the workers
# still take every core that is free, and they yield only when the bot's process needs one.
WORKER_NICENESS = 10


def _language(tree: Any) -> str:
    """The page's declared language as a primary subtag (`en-US` -> `en`), or ""."""
    declared = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or ""
    if not declared:
        meta = tree.find(".//head/meta[@http-equiv='content-language']")
        declared = meta.get("content", "") if meta is not None else ""
    primary = declared.strip().split(",")[0].replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else ""


def _metadata(tree: Any) -> dict[str, str]:
    """Title, author and site name from the page's meta tags, JSON-LD and <title>.

    trafilatura's own `with_metadata` also runs htmldate's date search, which costs more than
    a third of the whole extraction and gives nothing the bot uses (the feed dates articles).
    The author comes from the declared metadata only: trafilatura's search of the body for a
    byline costs 4 ms on a real page without one (half of the extraction), for a field the
    bot stores but shows nowhere.
    """
    from trafilatura import metadata as tm

    try:
        doc = tm.examine_meta(tree)
        if doc.author and " " not in doc.author:
            doc.author = None  # a single word is a handle or a section, rarely a byline
        with contextlib.suppress(Exception):  # its JSON-LD reader trips on odd markup
            doc = tm.extract_meta_json(tree, doc)
        title = doc.title or tm.extract_title(tree)
        author = doc.author
        site = doc.sitename or tm.extract_sitename(tree)
    except Exception:  # metadata is a nicety: a page whose meta tags break it keeps its text
        log.debug("extract.metadata_failed", exc_info=True)
        return {}
    return {
        "title": (title or "").strip(),
        "author": (author or "").strip(),
        "site_name": (site or "").lstrip("@").strip(),
    }


def extract_html(html: bytes | str, url: str | None = None) -> Extracted | None:
    """Run trafilatura on one page; None when it finds no main text. Runs in a worker.

    `fast=True` skips trafilatura's fallback extractors (readability and jusText): on the 181
    pages of the article-extraction benchmark its text scores a mean token F1 of 0.958 against
    0.956 with them, in about 70% of the time (bench/RESULTS.md).
    """
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return None
    meta = _metadata(tree)
    language = _language(tree)
    doc: Any = trafilatura.bare_extraction(
        tree,  # parsed once: trafilatura works on a copy of a tree it is given
        url=url,
        fast=True,
        with_metadata=False,
        include_comments=False,
        include_tables=False,
    )
    if doc is None:
        return None
    text = (getattr(doc, "text", None) or "").strip()
    if not text:
        return None
    return Extracted(
        text=text,
        title=meta.get("title", ""),
        author=meta.get("author", ""),
        site_name=meta.get("site_name", ""),
        language=language,
    )


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedup needs of a text, made in a worker from one normalization of it."""

    signature: Signature  # MinHash, for near-duplicates
    features: StoryFeatures  # for story assignment
    content_hash: str  # bot.dedup.content_hash, for exact copies


@dataclass(frozen=True, slots=True)
class Processed:
    """A page's text with its fingerprint, from one trip to a worker."""

    extracted: Extracted
    fingerprint: Fingerprint


def process_page(html: bytes, url: str, title: str) -> Processed | None:
    """Extract a page and fingerprint its text in one go; runs in a worker.

    `title` is the feed's title for the item; the page's own stands in when it has none.
    """
    extracted = extract_html(html, url)
    if extracted is None or len(extracted.text.split()) < MIN_WORDS:
        return None
    return Processed(extracted, fingerprint_text(title or extracted.title, extracted.text))


def fingerprint_text(title: str, text: str) -> Fingerprint:
    """The fingerprint of an article's text; runs in a worker."""
    digest, sig = hash_and_signature(text)
    return Fingerprint(sig, story_features(title, text), digest)


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
    """Import trafilatura and datasketch once per worker, lower its priority
    (WORKER_NICENESS), and leave when the bot is gone.

    Imported here, not on a worker's first page: datasketch brings scipy, about 0.4 s of CPU
    that would otherwise land on whichever page comes first. A bot killed with SIGKILL cannot
    shut its pool down; without the watcher thread, its workers (and the forkserver behind
    them) would live on, each holding a parsed trafilatura.
    """
    import datasketch  # noqa: F401
    import trafilatura  # noqa: F401

    with contextlib.suppress(OSError):  # a failed initializer would break the pool for good
        os.nice(WORKER_NICENESS)
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

    async def _run(self, url: str, fn: Callable[..., R], *args: Any) -> R:
        """Run `fn(*args)` in the pool for the page at `url`, within the timeout."""
        loop = asyncio.get_running_loop()
        pool = self._ensure_pool()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(pool, fn, *args), timeout=self._timeout
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

    async def extract(self, html: bytes, url: str) -> Extracted:
        """Extract one page; PermanentError when it has no main text."""
        result = await self._run(url, extract_html, html, url)
        if result is None or len(result.text.split()) < MIN_WORDS:
            raise PermanentError(f"no article text found in {url}")
        return result

    async def process(self, html: bytes, url: str, title: str) -> Processed:
        """Extract one page and fingerprint its text (see `process_page`); PermanentError
        when it has no main text."""
        result = await self._run(url, process_page, html, url, title)
        if result is None:
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

    async def fingerprint(self, title: str, text: str) -> Fingerprint:
        """The fingerprint of a text (`fingerprint_text`), computed in the pool."""
        loop = asyncio.get_running_loop()
        pool = self._ensure_pool()
        try:
            return await loop.run_in_executor(pool, fingerprint_text, title, text)
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise TransientError("fingerprint worker died") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
