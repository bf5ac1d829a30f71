"""Plain records passed between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Extraction = Literal["page", "summary"]


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a polled feed, as the feed describes it.

    `url` is "" for an entry without an http(s) link (its text is the feed's). `version`
    changes when what the feed says of the entry does: its updated time, title or content.
    """

    feed: str
    guid: str
    url: str
    title: str
    summary: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    version: str = ""


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the extractor pulled out of one HTML page."""

    text: str
    title: str = ""
    author: str = ""
    date: str = ""
    site_name: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class Article:
    """A news article ready for dedup and rules: text plus where it came from."""

    url: str
    canonical_url: str
    feed: str
    title: str
    text: str
    published: datetime | None
    fetched_at: datetime
    content_hash: str
    extraction: Extraction = "page"
    guid: str = ""
    author: str = ""
    site_name: str = ""
    language: str = ""


TriggerKind = Literal["any", "new", "changed", "count"]


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a rule's match is news (see the rule language in README.md)."""

    kind: TriggerKind = "any"
    value: str | None = None  # changed: the name of the tracked value
    window: timedelta | None = None
    count: int | None = None
    cooldown: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that held on an article, with its evidence and the values it pulled out.

    `key` identifies what the match is about for its trigger (e.g. envoy and place); `title`
    is rendered from the rule's `template` once the trigger has added its own values.
    `previous` is an earlier value of the tracked value that the article itself reports.
    `related` are keys that name the same event more closely (the trip to Switzerland named
    as one to Geneva): one of them alerted just before makes this match no news.
    """

    rule_id: str
    title: str
    evidence: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    severity: str = "info"
    targets: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    template: str = ""
    trigger: Trigger = field(default_factory=Trigger)
    previous: str | None = None
    related: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for one target, as written to the outbox and delivered from it.

    `id` is the idempotency id: the same alert delivered twice carries the same id.
    """

    id: str
    target: str
    rule_id: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class TriggerState:
    """What a trigger remembers of one (rule, key): the last value and the publication time of
    the newest report of it (for `changed`), when it was last seen and last alerted, and recent
    match times (for `count`)."""

    value: str | None = None
    last_seen: datetime | None = None
    last_alert: datetime | None = None
    events: tuple[datetime, ...] = ()
    value_at: datetime | None = None
