"""Plain records passed between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Extraction = Literal["page", "summary"]


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a polled feed, as the feed describes it."""

    feed: str
    guid: str
    url: str
    title: str
    summary: str = ""
    published: datetime | None = None


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


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that held on an article, with its evidence and the values it pulled out."""

    rule_id: str
    title: str
    evidence: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    severity: str = "info"
    targets: tuple[str, ...] = ()


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
