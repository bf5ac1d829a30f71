"""Poll one feed (RSS, Atom or JSON Feed) into FeedItems, with conditional GET and backoff."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Literal, NamedTuple
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.api
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype

from bot.errors import PermanentError, TransientError
from bot.models import FeedItem
from bot.net import Http

SUMMARY_CHARS = 2000
# What the entities a feed declares for itself may add to it once expanded.
MAX_ENTITY_EXPANSION = 1024 * 1024
_JSON_FEED_VERSION = "https://jsonfeed.org/version/"

# feedparser asks for libxml2's SAX driver before the standard library's expat on every
# parse. Where those bindings are absent (almost everywhere) that is a failed import each
# time: a search of sys.path under the import lock, about 40 µs a feed, and worse when
# threads parse at once. Where they are present, feeds would be read by another parser with
# other limits than the expat that `entity_expansion` below is written for. Expat it is.
feedparser.api.PREFERRED_XML_PARSERS = []


@dataclass(frozen=True, slots=True)
class FeedValidators:
    """What the last successful poll left behind to make the next one cheap."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 hex of the last parsed body


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """An entry of a feed document that gives no item, and why (a short label)."""

    reason: Literal["empty", "repeated id", "not an object"]
    entry: str  # what names it in a log line: its id, link or title, shortened


class ParsedFeed(NamedTuple):
    """A feed document read: its items, the entries that gave none, and a parser warning
    (empty when the document was clean)."""

    items: list[FeedItem]
    skipped: list[SkippedEntry]
    warning: str


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll of one feed. `validators` are to be stored once the items are processed."""

    status: Literal["parsed", "not_modified", "unchanged"]
    http_status: int
    items: tuple[FeedItem, ...]
    validators: FeedValidators
    warning: str = ""
    skipped: tuple[SkippedEntry, ...] = ()


async def poll_feed(http: Http, name: str, url: str, validators: FeedValidators) -> PollResult:
    """Fetch `url` conditionally and parse it unless the server or the body says nothing changed.

    Raises TransientError for 408, 429 and 5xx, PermanentError for other failures; the
    network's own errors pass through (they already are one or the other).
    """
    response = await http.get(url, etag=validators.etag, last_modified=validators.last_modified)
    status = response.status
    if response.not_modified:
        kept = FeedValidators(
            response.etag or validators.etag,
            response.last_modified or validators.last_modified,
            validators.body_hash,
        )
        return PollResult("not_modified", status, (), kept)
    if status in (408, 429) or status >= 500:
        raise TransientError(f"feed {name}: HTTP {status} from {url}")
    if not response.ok:
        raise PermanentError(f"feed {name}: HTTP {status} from {url}")
    digest = hashlib.sha256(response.body).hexdigest()
    fresh = FeedValidators(response.etag, response.last_modified, digest)
    if digest == validators.body_hash:
        return PollResult("unchanged", status, (), fresh)
    parsed = await asyncio.to_thread(
        parse_feed, name, response.body, url=response.url, content_type=response.content_type
    )
    return PollResult(
        "parsed", status, tuple(parsed.items), fresh, parsed.warning, tuple(parsed.skipped)
    )


def parse_feed(name: str, body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """The items of a feed document, the entries skipped and why, and a parser warning.

    Every entry gives an item unless it has nothing to tell (no link, title or text) or
    repeats an earlier entry's id. `url` is where the document came from: relative links
    resolve against it. Raises PermanentError when the body is not a feed at all.
    """
    if _looks_like_json(body, content_type):
        items, skipped = _parse_json_feed(name, body, url)
        return ParsedFeed(items, skipped, "")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    expansion = entity_expansion(body, headers)
    if expansion > MAX_ENTITY_EXPANSION:
        raise PermanentError(
            f"feed {name}: not parsed: its entity declarations would expand to {expansion} "
            f"bytes (at most {MAX_ENTITY_EXPANSION})"
        )
    # Bytes in a stream only: given a str, feedparser may treat it as a URL or a file path.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.entries and not parsed.get("version"):
        reason = _describe(problem) if problem is not None else "no RSS or Atom elements found"
        raise PermanentError(f"feed {name}: not a feed: {reason}")
    items, skipped = _unique(_from_entry(name, entry, url) for entry in parsed.entries)
    return ParsedFeed(items, skipped, _describe(problem) if problem is not None else "")


_ENTITY_KEYWORD = tuple(
    "<!ENTITY".encode(codec)
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
)


def entity_expansion(body: bytes, headers: dict[str, str]) -> int:
    """Bytes the entities declared in a feed's DOCTYPE would add wherever they are used.

    feedparser keeps the declarations whose value holds no markup (`<!ENTITY a "aaa…">`,
    which cannot nest). When expat stops a blow-up (`&a;` fifty thousand times) feedparser
    retries with its loose parser, which expands them without any limit: gigabytes from a
    few hundred kilobytes. The same decoding and the same declarations are looked at here.
    """
    if not any(keyword in body for keyword in _ENTITY_KEYWORD):
        return 0
    data = convert_to_utf8(dict(headers), body, {})
    _, data, entities = replace_doctype(data)
    return sum(
        len(value.encode("utf-8")) * data.count(f"&{name};".encode())
        for name, value in entities.items()
    )


def backoff_delay(failures: int, *, base: float, cap: float = 6 * 3600) -> float:
    """Seconds until the next poll after `failures` failures in a row: base, 2×base, 4×base…

    Capped at `cap`, but never below `base`: a failing feed is not polled more often than a
    healthy one.
    """
    exponent = min(max(failures - 1, 0), 62)
    return min(base * 2.0**exponent, max(cap, base))


# -- RSS and Atom, through feedparser ----------------------------------------------------------


def _from_entry(feed: str, entry: Any, base: str) -> FeedItem | SkippedEntry:
    link = _http_url(entry.get("link"), base)
    title = _text_of(entry.get("title"), entry.get("title_detail"))
    summary_detail = entry.get("summary_detail")
    summary = entry.get("summary")
    if not summary and entry.get("content"):
        summary, summary_detail = entry.content[0].get("value"), entry.content[0]
    text = _text_of(summary, summary_detail)
    # The full content, where the feed gives one besides a summary: edits to it are edits.
    content = entry.get("content")
    full = _text_of(content[0].get("value"), content[0]) if content else text
    updated = _from_struct_time(entry.get("updated_parsed"))
    identifier = entry.get("id")
    return _item(
        feed,
        identifier if isinstance(identifier, str) else None,
        link,
        title,
        text,
        full,
        published=_from_struct_time(entry.get("published_parsed")) or updated,
        updated=updated,
    )


def _item(
    feed: str,
    identifier: str | None,
    link: str | None,
    title: str,
    text: str,
    full: str,
    *,
    published: datetime | None,
    updated: datetime | None,
) -> FeedItem | SkippedEntry:
    """The item of one entry, or why there is none: an entry with neither a link nor any
    title or text has nothing to tell."""
    if link is None and not title and not text:
        return SkippedEntry("empty", _shorten(identifier or ""))
    version = hashlib.sha256(
        "\n".join((updated.isoformat() if updated else "", title, full)).encode()
    ).hexdigest()
    return FeedItem(
        feed=feed,
        guid=_guid(identifier, link or "", title, text),
        url=link or "",
        title=title,
        summary=_trim(text),
        published=published,
        updated=updated,
        version=version,
    )


def _text_of(value: Any, detail: Any) -> str:
    if not isinstance(value, str):
        return ""
    kind = detail.get("type", "") if detail is not None else ""
    if kind == "text/plain":
        return " ".join(value.split())
    return plain_text(value)


def _from_struct_time(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except ValueError:
        return None


# -- JSON Feed 1.0 / 1.1 (feedparser 6 does not read it) ---------------------------------------


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _parse_json_feed(name: str, body: bytes, url: str) -> tuple[list[FeedItem], list[SkippedEntry]]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PermanentError(f"feed {name}: not a feed: invalid JSON: {exc}") from None
    version = document.get("version") if isinstance(document, dict) else None
    entries = document.get("items") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(_JSON_FEED_VERSION):
        raise PermanentError(f"feed {name}: not a feed: JSON without a JSON Feed version")
    if not isinstance(entries, list):
        raise PermanentError(f"feed {name}: not a feed: JSON Feed without an items list")
    return _unique(_from_json_item(name, entry, url) for entry in entries)


def _from_json_item(feed: str, entry: Any, base: str) -> FeedItem | SkippedEntry:
    if not isinstance(entry, dict):
        return SkippedEntry("not an object", _shorten(json.dumps(entry)))
    link = _http_url(entry.get("url"), base) or _http_url(entry.get("external_url"), base)
    title = plain_text(_str(entry.get("title")))
    content = " ".join(_str(entry.get("content_text")).split()) or plain_text(
        _str(entry.get("content_html"))
    )
    summary = " ".join(_str(entry.get("summary")).split()) or content
    identifier = entry.get("id")
    updated = _from_rfc3339(entry.get("date_modified"))
    return _item(
        feed,
        str(identifier) if isinstance(identifier, str | int) else None,
        link,
        title,
        summary,
        content or summary,
        published=_from_rfc3339(entry.get("date_published")) or updated,
        updated=updated,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _from_rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


# -- shared ------------------------------------------------------------------------------------


def _http_url(value: Any, base: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    absolute = urljoin(base, value.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return absolute


def _guid(identifier: str | None, link: str, title: str, summary: str) -> str:
    if identifier and identifier.strip():
        return identifier.strip()
    if link:
        return link
    return hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()


def _unique(
    entries: Iterable[FeedItem | SkippedEntry],
) -> tuple[list[FeedItem], list[SkippedEntry]]:
    """Items in feed order, the first of any repeated guid only; the others are skipped."""
    seen: set[str] = set()
    unique: list[FeedItem] = []
    skipped: list[SkippedEntry] = []
    for entry in entries:
        if isinstance(entry, SkippedEntry):
            skipped.append(entry)
        elif entry.guid in seen:
            skipped.append(SkippedEntry("repeated id", _shorten(entry.guid)))
        else:
            seen.add(entry.guid)
            unique.append(entry)
    return unique, skipped


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _trim(text: str, limit: int = SUMMARY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _describe(problem: Any) -> str:
    text = " ".join(str(problem).split())
    return f"{type(problem).__name__}: {text}" if text else type(problem).__name__


_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
_SKIPPED_TAGS = frozenset({"script", "style", "template"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """Text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return " ".join("".join(collector.parts).split())
