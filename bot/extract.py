"""Page HTML to article text and metadata, with trafilatura in a process pool."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
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
from bot.errors import ConfigError, PermanentError, TransientError
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

# What a worker imports before its first page, the packages its libraries load at run time
# first: lxml_html_clean is imported by jusText (inside trafilatura) through lxml.html.clean, and
# an older pip leaves it out (it does not match jusText's `lxml[html_clean]` to lxml's
# `html-clean` extra).
WORKER_MODULES = ("lxml", "lxml_html_clean", "trafilatura", "datasketch")

# Package index names of modules whose distribution is named otherwise.
_DISTRIBUTIONS = {"lxml_html_clean": "lxml-html-clean", "ahocorasick": "pyahocorasick"}

# A page every working worker extracts (checked at start-up, before the first feed is polled).
_PROBE_PAGE = (
    "<html lang='en'><head><title>Probe</title></head><body><article><h1>Probe</h1><p>"
    + " ".join(["The extraction worker reads this sentence to show that it works."] * 8)
    + "</p></article></body></html>"
)

# Set in a worker whose start-up imports failed: every task it is given raises instead.
_worker_problem: str | None = None


class WorkerUnavailable(TransientError):
    """An extraction worker cannot work (a package it needs is missing); the message names
    what is missing. Retried like any transient failure once the install is fixed."""


def import_problem(exc: ImportError) -> str:
    """One line naming the package behind a failed import.

    lxml.html.clean hides the ModuleNotFoundError it got (`raise ... from None`), so the
    chain of contexts is searched for the module that was not found.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and seen.name:
            top = seen.name.split(".")[0]
            package = _DISTRIBUTIONS.get(top, top)
            return (
                f"the Python package {package} is not installed (no module named {seen.name!r}); "
                f"install it with: pip install {package}"
            )
        seen = seen.__context__
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"an import failed: {first}"


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
    _require_working_worker()
    extracted = extract_html(html, url)
    if extracted is None or len(extracted.text.split()) < MIN_WORDS:
        return None
    return Processed(extracted, fingerprint_text(title or extracted.title, extracted.text))


def fingerprint_text(title: str, text: str) -> Fingerprint:
    """The fingerprint of an article's text; runs in a worker."""
    _require_working_worker()
    digest, sig = hash_and_signature(text)
    return Fingerprint(sig, story_features(title, text), digest)


def _require_working_worker() -> None:
    if _worker_problem is not None:
        raise WorkerUnavailable(_worker_problem)


def worker_problem() -> str | None:
    """What keeps this worker from extracting pages, in one line; None when it works.

    Runs in a worker at start-up: a missing package is named before any feed is polled.
    """
    if _worker_problem is not None:
        return _worker_problem
    try:
        extracted = extract_html(_PROBE_PAGE, "http://probe.invalid/")
    except ImportError as exc:
        return import_problem(exc)
    except Exception as exc:
        return f"extracting a test page failed: {type(exc).__name__}: {exc}".splitlines()[0]
    if extracted is None or not extracted.text:
        return "extracting a test page gave no text"
    return None


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
    """Import trafilatura and datasketch once per worker (WORKER_MODULES), lower its priority
    (WORKER_NICENESS), and leave when the bot is gone.

    Imported here, not on a worker's first page: datasketch brings scipy, about 0.4 s of CPU
    that would otherwise land on whichever page comes first. A bot killed with SIGKILL cannot
    shut its pool down; without the watcher thread, its workers (and the forkserver behind
    them) would live on, each holding a parsed trafilatura.
    """
    global _worker_problem
    try:
        for module in WORKER_MODULES:
            importlib.import_module(module)
    except ImportError as exc:
        # Not raised: a failing initializer breaks the pool with a traceback per worker and no
        # word on what is missing. The worker stays up and says so for each task instead.
        _worker_problem = import_problem(exc)

    with contextlib.suppress(OSError):  # a failed initializer would break the pool for good
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(bot_pid,), daemon=True).start()


class Extractor:
    """A pool of extraction processes so the event loop never blocks on parsing."""

    def __init__(self, workers: int = 2, *, timeout: float = 60.0) -> None:
        self._workers = max(1, workers)
        self._timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._checked = False
        # Why the workers cannot extract, from the last task that said so; None when they can.
        self.problem: str | None = None

    @property
    def ready(self) -> bool:
        """A worker has shown that it extracts, and none has said since that it cannot."""
        return self._checked and self.problem is None

    async def check(self) -> None:
        """Start the workers and have one extract a test page (within the extraction
        timeout); ConfigError naming what is missing when it cannot (a package an older pip
        left out, say)."""
        loop = asyncio.get_running_loop()
        pool = self._ensure_pool()
        try:
            problem = await asyncio.wait_for(
                loop.run_in_executor(pool, worker_problem), timeout=self._timeout
            )
        except TimeoutError:
            self._discard(pool, kill=True)
            problem = f"no extraction worker started within {self._timeout:.0f}s"
        except BrokenProcessPool:
            self._discard(pool)
            problem = "the extraction worker process died as it started"
        self.problem = problem
        if problem is not None:
            raise ConfigError(f"extraction workers cannot start: {problem}")
        self._checked = True

    def _worked(self) -> None:
        self.problem = None

    def _unavailable(self, exc: WorkerUnavailable) -> None:
        if self.problem is None:
            log.error("extract.workers_unavailable", extra={"error": str(exc)})
        self.problem = str(exc)

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
            result = await asyncio.wait_for(
                loop.run_in_executor(pool, fn, *args), timeout=self._timeout
            )
        except WorkerUnavailable as exc:
            self._unavailable(exc)
            raise
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
        self._worked()
        return result

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
            result = await loop.run_in_executor(pool, fingerprint_text, title, text)
        except WorkerUnavailable as exc:
            self._unavailable(exc)
            raise
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise TransientError("fingerprint worker died") from exc
        self._worked()
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
