"""Prometheus metrics: one `Metrics` object owns every series the bot exposes on /metrics."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from typing import Final, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from bot import DISTRIBUTION

Stage = Literal["fetch_feed", "fetch_page", "extract", "match", "store", "deliver"]
STAGES: Final[tuple[Stage, ...]] = (
    "fetch_feed",
    "fetch_page",
    "extract",
    "match",
    "store",
    "deliver",
)
DuplicateKind = Literal["url", "hash", "near"]
DUPLICATE_KINDS: Final[tuple[DuplicateKind, ...]] = ("url", "hash", "near")
# Why the rules did not read an article whole: its title or text past the most they read,
# or a sentence past the longest they read whole (cut into windows). See bot/rules/_ruleset.py.
RuleSkipReason = Literal["text_cut", "sentence_cut"]
RULE_SKIP_REASONS: Final[tuple[RuleSkipReason, ...]] = ("text_cut", "sentence_cut")
DeliveryOutcome = Literal["sent", "retry", "dead", "held"]
DELIVERY_OUTCOMES: Final[tuple[DeliveryOutcome, ...]] = ("sent", "retry", "dead", "held")

# Seconds: from an in-memory rule match (a millisecond) to a slow page behind a 30 s timeout.
STAGE_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

_LABEL_VALUE = re.compile(r"[^a-z0-9]+")

log = logging.getLogger("bot.metrics")


class StoreGauges(Protocol):
    """What the database says at scrape time (the store's `gauges(now)` gives one)."""

    @property
    def outbox_depth(self) -> Mapping[str, int]: ...  # deliveries by state

    @property
    def oldest_pending_age(self) -> float | None: ...  # seconds; None when nothing is pending

    @property
    def feed_failures(self) -> Mapping[str, int]: ...  # consecutive failures by feed


class _StoreCollector(Collector):
    """Gauges read from the database when Prometheus scrapes, through a callback."""

    def __init__(self) -> None:
        self.source: Callable[[], StoreGauges] | None = None

    def describe(self) -> Iterable[Metric]:
        # Without describe() the registry would call collect() (a database query) on register.
        return list(self._families())

    def _families(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "bot_outbox_deliveries",
            "Deliveries in the outbox by state (pending, sent, dead).",
            labels=["state"],
        )
        yield GaugeMetricFamily(
            "bot_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending delivery (0 when none is pending).",
        )
        yield GaugeMetricFamily(
            "bot_feed_consecutive_failures",
            "Polls in a row that failed, by feed (0 after a success).",
            labels=["feed"],
        )
        yield GaugeMetricFamily(
            "bot_store_up", "1 when the database answered the last scrape's queries, else 0."
        )

    def collect(self) -> Iterable[Metric]:
        if self.source is None:
            return []
        depth, oldest, failures, up = self._families()
        try:
            gauges = self.source()
        except Exception as exc:  # a scrape still answers: the process metrics and store_up 0
            log.warning("metrics.store_unavailable", extra={"error": f"{type(exc).__name__}"})
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        for state in ("pending", "sent", "dead"):
            depth.add_metric([state], gauges.outbox_depth.get(state, 0))
        for state, count in gauges.outbox_depth.items():
            if state not in ("pending", "sent", "dead"):
                depth.add_metric([state], count)
        oldest.add_metric([], gauges.oldest_pending_age or 0.0)
        for feed, count in sorted(gauges.feed_failures.items()):
            failures.add_metric([feed], count)
        return [depth, oldest, failures, up]


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def _reason(text: str) -> str:
    """A bounded label value: 'below count' -> 'below_count'."""
    return _LABEL_VALUE.sub("_", text.lower()).strip("_") or "unknown"


class Metrics:
    """Every counter, gauge and histogram of one bot process, in the registry passed in.

    Each replica exposes its own; `bot_info{replica=...}` names it, and Prometheus adds the
    replicas up. The share of 304s is derived at query time:
    `sum(rate(bot_polls_total{status="not_modified"}[1h])) / sum(rate(bot_polls_total[1h]))`.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        replica: str = "",
        version: str = "",
        process: bool = True,
    ) -> None:
        self.registry = registry
        r = registry
        self._info = Info("bot", "The bot process: replica id and version.", registry=r)
        self._info.info({"replica": replica or "unknown", "version": version or _version()})
        self._polls = Counter(
            "bot_polls",
            "Feed polls by feed and outcome (parsed, not_modified, unchanged, failed).",
            ["feed", "status"],
            registry=r,
        )
        self._articles = Counter(
            "bot_articles_stored",
            "Articles stored, by where the text came from (page or feed summary).",
            ["extraction"],
            registry=r,
        )
        self._duplicates = Counter(
            "bot_duplicates",
            "Items recognized as copies: same URL, same text, or near-duplicate text.",
            ["kind"],
            registry=r,
        )
        self._entries_skipped = Counter(
            "bot_feed_entries_skipped",
            "Feed entries that gave no item, by feed and reason (empty, repeated_id, "
            "not_an_object).",
            ["feed", "reason"],
            registry=r,
        )
        self._stories = Counter("bot_stories", "New stories started.", registry=r)
        self._matches = Counter(
            "bot_matches", "Rule matches before triggers decide.", ["rule"], registry=r
        )
        self._rule_skips = Counter(
            "bot_rule_input_skipped",
            "Articles the rules did not read whole, by reason (text_cut, sentence_cut).",
            ["reason"],
            registry=r,
        )
        self._alerts = Counter(
            "bot_alerts", "Alerts written to the outbox, by rule.", ["rule"], registry=r
        )
        self._suppressed = Counter(
            "bot_suppressed",
            "Matches a trigger held back (seen, unchanged, below_count, cooldown).",
            ["rule", "reason"],
            registry=r,
        )
        self._deliveries = Counter(
            "bot_deliveries",
            "Delivery attempts by target and outcome (sent, retry, dead, held).",
            ["target", "outcome"],
            registry=r,
        )
        self._reload_failures = Counter(
            "bot_rule_reload_failures", "Rule edits that did not load.", registry=r
        )
        self._last_reload_failed = Gauge(
            "bot_rules_last_reload_failed",
            "1 when the last rule edit did not load (the last good rules keep running).",
            registry=r,
        )
        self._rules = Gauge("bot_rules_loaded", "Rules in the running rule set.", registry=r)
        self._stage = Histogram(
            "bot_stage_duration_seconds",
            "Time spent in each pipeline stage.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        for stage in STAGES:  # every stage shows from the first scrape, at zero
            self._stage.labels(stage=stage)
        for kind in DUPLICATE_KINDS:
            self._duplicates.labels(kind=kind)
        for reason in RULE_SKIP_REASONS:
            self._rule_skips.labels(reason=reason)
        self._store = _StoreCollector()
        r.register(self._store)
        if process:
            ProcessCollector(registry=r)

    # -- the database at scrape time -------------------------------------------------------

    def watch_store(self, source: Callable[[], StoreGauges] | None) -> None:
        """Read the outbox and feed gauges from `source` at each scrape (a blocking call:
        scrape off the event loop)."""
        self._store.source = source

    # -- events ----------------------------------------------------------------------------

    def poll(self, feed: str, status: str) -> None:
        self._polls.labels(feed=feed, status=status).inc()

    def article_stored(self, extraction: str) -> None:
        self._articles.labels(extraction=extraction).inc()

    def duplicate(self, kind: DuplicateKind, count: int = 1) -> None:
        if kind not in DUPLICATE_KINDS:
            raise ValueError(f"duplicate kind {kind!r} is not one of {DUPLICATE_KINDS}")
        if count:
            self._duplicates.labels(kind=kind).inc(count)

    def entry_skipped(self, feed: str, reason: str) -> None:
        self._entries_skipped.labels(feed=feed, reason=_reason(reason)).inc()

    def story(self) -> None:
        self._stories.inc()

    def match(self, rule: str) -> None:
        self._matches.labels(rule=rule).inc()

    def rule_input_skipped(self, reason: str) -> None:
        """The rules read part of an article only (`reason`: one of RULE_SKIP_REASONS)."""
        if reason not in RULE_SKIP_REASONS:
            raise ValueError(f"rule skip reason {reason!r} is not one of {RULE_SKIP_REASONS}")
        self._rule_skips.labels(reason=reason).inc()

    def alert(self, rule: str) -> None:
        self._alerts.labels(rule=rule).inc()

    def suppressed(self, rule: str, reason: str) -> None:
        self._suppressed.labels(rule=rule, reason=_reason(reason)).inc()

    def delivery(self, target: str, outcome: DeliveryOutcome, count: int = 1) -> None:
        if outcome not in DELIVERY_OUTCOMES:
            raise ValueError(f"delivery outcome {outcome!r} is not one of {DELIVERY_OUTCOMES}")
        if count:
            self._deliveries.labels(target=target, outcome=outcome).inc(count)

    def rules_loaded(self, count: int) -> None:
        """A rule set is running: at start and after each successful reload."""
        self._rules.set(count)
        self._last_reload_failed.set(0)

    def reload_failed(self) -> None:
        self._reload_failures.inc()
        self._last_reload_failed.set(1)

    def observe(self, stage: Stage, seconds: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage {stage!r} is not one of {STAGES}")
        self._stage.labels(stage=stage).observe(seconds)

    @contextmanager
    def time(self, stage: Stage) -> Iterator[None]:
        """`with metrics.time("extract"): ...` observes the block's duration, even on error."""
        if stage not in STAGES:
            raise ValueError(f"stage {stage!r} is not one of {STAGES}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self._stage.labels(stage=stage).observe(time.perf_counter() - started)

    # -- reading back (the status page) ----------------------------------------------------

    def suppressed_counts(self) -> dict[str, dict[str, int]]:
        """Matches held back since this process started: rule -> reason -> count."""
        out: dict[str, dict[str, int]] = {}
        for metric in self._suppressed.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    rule, reason = sample.labels["rule"], sample.labels["reason"]
                    out.setdefault(rule, {})[reason] = int(sample.value)
        return out
