"""Which of a poll's feed entries are new, changed or read already, and their article keys."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.dedup import canonical_url
from bot.models import FeedItem, Match
from bot.store import EntryLookup, EntryRecord


@dataclass(frozen=True, slots=True)
class Work:
    """An entry whose article is to be stored: a new entry, or a new version of one.

    `entry_key` is the key of the entry's first version (for a new entry, its own key);
    `previous` the article holding the version this one would replace. `from_page`: the
    article's text is its page's, otherwise the feed's (an entry without a page of its own).
    """

    item: FeedItem
    entry_key: str
    from_page: bool
    previous: int | None = None

    @property
    def record(self) -> EntryRecord:
        return EntryRecord(self.item.guid, self.entry_key, self.item.version)


@dataclass(frozen=True, slots=True)
class SameUrl:
    """A new entry whose page is stored already (another feed's, or this one's under an
    earlier id): the URL layer of dedup."""

    item: FeedItem
    key: str
    article_id: int

    @property
    def record(self) -> EntryRecord:
        return EntryRecord(self.item.guid, self.key, self.item.version)


@dataclass(slots=True)
class Plan:
    """What one poll's entries ask for."""

    work: list[Work] = field(default_factory=list)
    same_url: list[SameUrl] = field(default_factory=list)
    # entries read before their versions were kept: what the feed says now counts as read
    adopt: list[tuple[EntryRecord, int]] = field(default_factory=list)


def page_key(item: FeedItem) -> str:
    """The canonical URL of an entry's page, "" for an entry without a link."""
    return canonical_url(item.url) if item.url else ""


def page_keys(items: Iterable[FeedItem]) -> list[str]:
    return sorted({key for item in items if (key := page_key(item))})


def _fragment(url: str) -> str:
    return urlsplit(url).fragment


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_entries(
    items: Sequence[FeedItem], lookup: EntryLookup, *, feed_id: int, feed_url: str
) -> Plan:
    """Sort a poll's items (one per guid) by what the store knows of them.

    An entry read before is work again only when its version changed. A new entry is keyed
    by its page, unless the page is not its own: entries without a link, and distinct
    entries sharing one page (a podcast's episodes linking the show, a live blog's updates
    with their `#fragment`s) are keyed by the fragment or their id, and their text is the
    feed's.
    """
    pages = Counter(page_key(i) for i in items if i.url)
    fragments = Counter((page_key(i), f) for i in items if i.url and (f := _fragment(i.url)))
    plan = Plan()
    for item in items:
        page = page_key(item)
        known = lookup.entries.get(item.guid)
        if known is not None:
            if known.version is None:
                plan.adopt.append(
                    (EntryRecord(item.guid, known.key, item.version), known.article_id)
                )
            elif known.version != item.version:
                own_page = bool(page) and not known.key.startswith(page + "#")
                plan.work.append(Work(item, known.key, own_page, known.article_id))
            continue
        if not page:
            plan.work.append(Work(item, f"{feed_url}#entry-{_digest(item.guid)}", False))
            continue
        fragment = _fragment(item.url)
        stored = lookup.pages.get(page)
        shared = pages[page] > 1 or (
            bool(fragment)
            and stored is not None
            and stored.feed_id == feed_id
            and stored.guid != item.guid
        )
        if not shared:
            if stored is not None:
                plan.same_url.append(SameUrl(item, page, stored.article_id))
            else:
                plan.work.append(Work(item, page, True))
            continue
        if fragment and fragments[(page, fragment)] == 1:
            key = f"{page}#{fragment}"
        else:
            key = f"{page}#entry-{_digest(item.guid)}"
        plan.work.append(Work(item, key, False))
    return plan


def _said(match: Match) -> tuple[str, tuple[str, ...], str]:
    return (match.rule_id, match.key, json.dumps(match.values, sort_keys=True, default=str))


def new_findings(found: Sequence[Match], before: Sequence[Match], previous: str) -> list[Match]:
    """The matches of a new version that are about what the update added: a match whose
    rule, key and values the previous version did not give, or with evidence that is not in
    the previous version's text (`previous`: its title and text). What was matched before,
    found again in the same words, is not news of the update."""
    seen = {_said(m) for m in before}
    old = " ".join(previous.split())
    return [m for m in found if _said(m) not in seen or any(e not in old for e in m.evidence)]
