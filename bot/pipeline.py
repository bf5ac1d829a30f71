"""One feed's way through the stages: poll, fetch, extract, dedup, match, store with alerts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.dedup import with_anchors
from bot.entries import Plan, Work, new_findings, page_keys, plan_entries
from bot.errors import BotError
from bot.extract import Extractor, Processed
from bot.feeds import FeedValidators, PollResult, SkippedEntry, backoff_delay, poll_feed
from bot.health import (
    DEFAULT_FAILURE_THRESHOLD,
    FEED_HEALTH_RULE,
    feed_health_payload,
    feed_health_transition,
)
from bot.language import identify
from bot.llm import LlmSummarizer
from bot.metrics import Metrics
from bot.models import Article, FeedItem, Match
from bot.net import Http
from bot.notify import TargetPolicy, route
from bot.rules import RuleSet
from bot.store import (
    FeedRow,
    HealthAlert,
    NewAlert,
    PollRecord,
    Store,
    new_id,
    revision_key,
)
from bot.summarize import build_payload

log = logging.getLogger("bot.pipeline")


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What the pipeline needs to know of a configured feed."""

    name: str
    url: str
    interval: timedelta
    backfill: timedelta


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed: str
    status: str
    http_status: int | None = None
    new_items: int = 0
    stored: int = 0
    alerts: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Fetched:
    work: Work
    processed: Processed | None
    final_url: str
    error: str | None

    @property
    def item(self) -> FeedItem:
        return self.work.item


def _summary_text(item: FeedItem) -> str:
    """What stands in for the page's text when it could not be had."""
    return item.summary or item.title


class Pipeline:
    """Knows the order of the stages; each stage is a plain function or object passed in."""

    def __init__(
        self,
        *,
        store: Store,
        http: Http,
        extractor: Extractor,
        rules: RuleSet,
        target_names: Sequence[str],
        owner: str,
        now: Callable[[], datetime],
        route: Callable[[Match], tuple[str, ...]] | None = None,
        policies: Mapping[str, TargetPolicy] | None = None,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        llm: LlmSummarizer | None = None,
        lease: timedelta = timedelta(minutes=5),
        page_concurrency: int = 8,
        metrics: Metrics | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry

        self.metrics = metrics or Metrics(CollectorRegistry(), process=False)
        self.store = store
        self.http = http
        self.extractor = extractor
        self.rules = rules
        self.target_names = tuple(target_names)
        self.owner = owner
        self.now = now
        self.policies: Mapping[str, TargetPolicy] = policies or {}
        self.llm = llm
        self.failure_threshold = failure_threshold
        self.route = route or self._route
        self.lease = lease
        self._pages = asyncio.Semaphore(page_concurrency)

    def _route(self, match: Match) -> tuple[str, ...]:
        """A rule's own targets, or every target whose route takes the alert."""
        return route(match, self.target_names, self.policies)

    def _health(self, feed: FeedSpec, url: str, error: str | None) -> HealthAlert:
        """The alert about the feed itself when this poll starts or ends a run of failures."""

        def decide(before: int, after: int) -> tuple[dict[str, Any], tuple[str, ...]] | None:
            transition = feed_health_transition(before, after, self.failure_threshold)
            if transition is None:
                return None
            payload = feed_health_payload(
                alert_id=new_id(),
                feed=feed.name,
                url=url,
                transition=transition,
                failures=max(before, after),
                last_error=error,
                now=self.now(),
            )
            probe = Match(
                rule_id=FEED_HEALTH_RULE,
                title=payload["title"],
                evidence=(),
                severity=payload["severity"],
            )
            log.warning("feed.health", extra={"feed": feed.name, "state": transition})
            return payload, self.route(probe)

        return decide

    async def poll(self, feed: FeedSpec, *, force: bool = False) -> PollOutcome | None:
        """Poll one feed if it is due and no other replica holds it; None when skipped."""
        row = await self.store.claim(feed.name, self.owner, self.now(), self.lease, force=force)
        if row is None:
            return None
        started = self.now()
        try:
            with self.metrics.time("fetch_feed"):
                result = await poll_feed(
                    self.http,
                    feed.name,
                    row.url,
                    FeedValidators(row.etag, row.last_modified, row.body_hash),
                )
            stored, alerts, new_items = await self._store_items(feed, row, result)
        except Exception as exc:  # contained: one bad feed never stops the others
            return await self._failed(feed, row, started, exc)
        await self._record(
            feed,
            row,
            started,
            status=result.status,
            http_status=result.http_status,
            items_new=new_items,
            next_poll_at=self.now() + feed.interval,
            validators=(
                result.validators.etag,
                result.validators.last_modified,
                result.validators.body_hash,
            ),
        )
        self.metrics.poll(feed.name, result.status)
        outcome = PollOutcome(
            feed.name, result.status, result.http_status, new_items, stored, alerts
        )
        log.info(
            "feed.polled",
            extra={
                "feed": feed.name,
                "status": result.status,
                "http_status": result.http_status,
                "new": new_items,
                "stored": stored,
                "alerts": alerts,
                **({"skipped": len(result.skipped)} if result.skipped else {}),
                **({"warning": result.warning} if result.warning else {}),
            },
        )
        return outcome

    async def _record(
        self,
        feed: FeedSpec,
        row: FeedRow,
        started: datetime,
        *,
        status: str,
        http_status: int | None,
        items_new: int,
        next_poll_at: datetime,
        validators: tuple[str | None, str | None, str | None] | None = None,
        error: str | None = None,
    ) -> None:
        """Record this replica's poll of `feed` (it ends now) and release its lease."""
        await self.store.record(
            PollRecord(
                row.id,
                owner=self.owner,
                started=started,
                finished=self.now(),
                status=status,
                http_status=http_status,
                items_new=items_new,
                next_poll_at=next_poll_at,
                validators=validators,
                error=error,
                health=self._health(feed, row.url, error),
            )
        )

    async def _failed(
        self, feed: FeedSpec, row: FeedRow, started: datetime, exc: Exception
    ) -> PollOutcome:
        failures = row.consecutive_failures + 1
        delay = backoff_delay(failures, base=feed.interval.total_seconds())
        error = str(exc) if isinstance(exc, BotError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, BotError):
            log.warning(
                "feed.failed",
                extra={
                    "feed": feed.name,
                    "error": error,
                    "failures": failures,
                    "retry_in_s": round(delay),
                },
            )
        else:
            log.exception("feed.error", extra={"feed": feed.name, "failures": failures})
        await self._record(
            feed,
            row,
            started,
            status="failed",
            http_status=None,
            items_new=0,
            next_poll_at=self.now() + timedelta(seconds=delay),
            error=error,
        )
        self.metrics.poll(feed.name, "failed")
        return PollOutcome(feed.name, "failed", error=error)

    def _skipped(self, feed: FeedSpec, skipped: SkippedEntry) -> None:
        self.metrics.entry_skipped(feed.name, skipped.reason)
        log.info(
            "entry.skipped",
            extra={"feed": feed.name, "reason": skipped.reason, "entry": skipped.entry},
        )

    async def _store_items(
        self, feed: FeedSpec, row: FeedRow, result: PollResult
    ) -> tuple[int, int, int]:
        for skipped in result.skipped:
            self._skipped(feed, skipped)
        if not result.items:
            return 0, 0, 0
        items = list(result.items)
        lookup = await self.store.call(
            self.store.entry_lookup, row.id, [i.guid for i in items], page_keys(items)
        )
        plan = plan_entries(items, lookup, feed_id=row.id, feed_url=row.url)
        await self._remember(feed, row, plan)
        work = plan.work
        # Oldest first, so that what triggers compare against is what came before.
        work.sort(key=lambda w: (w.item.published is None, w.item.published or self.now()))
        fetched = await asyncio.gather(*(self._fetch(w) for w in work))
        stored = alerts = 0
        # Entries recorded before versions were kept mean the first poll since the upgrade:
        # what the old version could not read (linkless entries, entries sharing a page) is
        # not news, and is stored as a baseline like a new feed's first poll.
        baseline = not row.baseline_done or bool(plan.adopt)
        for page in fetched:
            n_alerts = await self._store_one(feed, row.id, page, baseline)
            if n_alerts is not None:
                stored += 1
                alerts += n_alerts
        return stored, alerts, len(work)

    async def _remember(self, feed: FeedSpec, row: FeedRow, plan: Plan) -> None:
        """Entries that need no fetch: copies of a stored page, and entries read before their
        versions were kept. They are recorded as read."""
        for same in plan.same_url:
            self.metrics.duplicate("url")
            log.info(
                "entry.duplicate",
                extra={
                    "feed": feed.name,
                    "url": same.item.url,
                    "duplicate_of": same.article_id,
                    "kind": "url",
                },
            )
        records = plan.adopt + [(s.record, s.article_id) for s in plan.same_url]
        if records:
            await self.store.call(self.store.remember_entries, row.id, records, self.now())

    async def _fetch(self, work: Work) -> _Fetched:
        item = work.item
        if not work.from_page:  # the feed's text is the entry's
            return _Fetched(work, None, item.url, None)
        async with self._pages:
            try:
                with self.metrics.time("fetch_page"):
                    response = await self.http.get(item.url)
                if not response.ok:
                    raise BotError(f"HTTP {response.status} from {item.url}")
                with self.metrics.time("extract"):
                    processed = await self.extractor.process(
                        response.body, response.url, item.title
                    )
            except BotError as exc:
                log.info("page.fallback", extra={"url": item.url, "error": str(exc)})
                return _Fetched(work, None, item.url, str(exc))
        return _Fetched(work, processed, response.url, None)

    def _article(self, feed: FeedSpec, page: _Fetched, key: str, digest: str) -> Article:
        item = page.item
        ex = page.processed.extracted if page.processed else None
        return Article(
            url=item.url,
            canonical_url=key,
            feed=feed.name,
            title=item.title or (ex.title if ex else ""),
            text=ex.text if ex else _summary_text(item),
            published=item.published,
            fetched_at=self.now(),
            content_hash=digest,
            extraction="page" if ex else "summary",
            guid=item.guid,
            author=ex.author if ex else "",
            site_name=ex.site_name if ex else "",
            language=ex.language if ex else "",
        )

    async def _store_one(
        self, feed: FeedSpec, feed_id: int, page: _Fetched, baseline: bool
    ) -> int | None:
        # The text is hashed and signed in an extraction worker, normalized once for both.
        if page.processed is not None:
            fp = page.processed.fingerprint
        else:  # the feed's summary stands in for the page
            fp = await self.extractor.fingerprint(page.item.title, _summary_text(page.item))
        work = page.work
        key = work.entry_key
        previous: dict[str, Any] | None = None
        now = self.now()
        if work.previous is not None:
            previous = await self.store.call(self.store.article, work.previous)
        if previous is not None and work.previous is not None:
            if work.from_page and page.processed is None:
                # The page did not answer: its new version is read when the entry next changes
                # or the feed does; the feed's summary is no new version of a page.
                log.info(
                    "entry.not_read",
                    extra={"feed": feed.name, "url": page.item.url, "error": page.error},
                )
                return None
            title = page.item.title or (page.processed.extracted.title if page.processed else "")
            if previous["content_hash"] == fp.content_hash and previous["title"] == title:
                # The feed changed its entry, the text did not: nothing new to read.
                await self.store.call(
                    self.store.remember_entries, feed_id, [(work.record, work.previous)], now
                )
                log.info(
                    "entry.unchanged",
                    extra={"feed": feed.name, "url": page.item.url, "article_id": work.previous},
                )
                return None
            key = revision_key(work.entry_key, title, fp.content_hash)
        article = self._article(feed, page, key, fp.content_hash)
        original = await self.store.call(
            self.store.original_of,
            article.content_hash,
            fp.signature,
            versions_of=work.entry_key if previous is not None else None,
        )
        duplicate_of = None
        if original is not None:
            duplicate_of, how = original
            self.metrics.duplicate(how)
        in_backfill = article.published is not None and now - article.published <= feed.backfill
        found: list[Match] = []
        features = fp.features
        if duplicate_of is None:
            lang = identify(f"{article.title}\n{article.text}")
            if not baseline or in_backfill:
                # A new version is read as of its update, and the old one as of the same time.
                when = (page.item.updated if previous is not None else None) or article.published
                with self.metrics.time("match"):
                    # Off the event loop: the first article of a language reads its dictionary
                    # (a second or so), and polls must go on meanwhile.
                    found = await asyncio.to_thread(
                        self.rules.match,
                        article.title,
                        article.text,
                        when or now,
                        lang,
                        skipped=self.metrics.rule_input_skipped,
                    )
                    if previous is not None and found:
                        before = await asyncio.to_thread(
                            self.rules.match, previous["title"], previous["text"], when or now, lang
                        )
                        said = f"{previous['title']}\n{previous['text']}"
                        found = new_findings(found, before, said)
                for m in found:
                    self.metrics.match(m.rule_id)
            # The gazetteers' canonical names, read from the scan matching made: a report in
            # another language joins the story of the same event through them.
            entities = await asyncio.to_thread(
                self.rules.entities, article.title, article.text, lang
            )
            features = with_anchors(features, entities)

        llm_summary: str | None = None
        if self.llm is not None and found:
            # Asked before the transaction (it is slow and may fail); once per story.
            evidence = [e for m in found for e in m.evidence][:3]
            llm_summary = await self.llm.summarize(
                article.canonical_url, article.title, article.text, evidence
            )

        def build(match: Match) -> NewAlert:
            alert_id = new_id()
            targets = self.route(match)
            return NewAlert(
                match=match,
                alert_id=alert_id,
                targets=targets,
                payload=build_payload(
                    match, article, alert_id=alert_id, created_at=now, llm_summary=llm_summary
                ),
                not_before={
                    t: self.policies[t].first_due(now)
                    for t in targets
                    if t in self.policies and self.policies[t].digest is not None
                },
            )

        with self.metrics.time("store"):
            stored = await self.store.call(
                self.store.store_article,
                article,
                feed_id=feed_id,
                baseline=baseline,
                duplicate_of=duplicate_of,
                matches=found,
                decide=self.rules.decide,
                build=build,
                now=now,
                signature=fp.signature,
                features=features,
                entry=work.record,
            )
        if stored is None:  # another poll stored this key first: the URL layer of dedup
            self.metrics.duplicate("url")
            log.info(
                "entry.duplicate",
                extra={"feed": feed.name, "url": article.url, "kind": "url", "key": key},
            )
            return None
        log.info(
            "article.stored",
            extra={
                "feed": feed.name,
                "article_id": stored.id,
                "url": article.url,
                "extraction": article.extraction,
                "duplicate_of": duplicate_of,
                **({"revision_of": work.previous} if previous is not None else {}),
                "story": stored.story_id,
                "baseline": baseline and not in_backfill,
                "alerts": [a.match.rule_id for a in stored.alerts],
                "held": [f"{rule}: {why}" for rule, why in stored.held],
            },
        )
        self.metrics.article_stored(article.extraction)
        if stored.new_story:
            self.metrics.story()
        for a in stored.alerts:
            self.metrics.alert(a.match.rule_id)
        for rule, why in stored.held:
            self.metrics.suppressed(rule, why)
        return len(stored.alerts)
