"""OPML: read a feed reader's subscription list, write the configured feeds as one."""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element, SubElement, indent, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.errors import BotError

MAX_NAME: Final = 100
_SLUG_DROP = re.compile(r"[^a-z0-9._-]+")
_FEED_WORDS: Final = frozenset({"rss", "feed", "feeds", "atom", "xml", "index", "rdf"})
_FEED_SUFFIXES: Final = (".xml", ".rss", ".atom", ".rdf", ".php", ".cms", ".aspx")
_HOST_PREFIXES: Final = ("www.", "feeds.", "feed.", "rss.")


class OpmlError(BotError):
    """The file is not OPML we can read: malformed XML, entity declarations, no <body>."""


MAX_LABEL: Final = 200  # a title or a tag, as feeds.yaml accepts them
TAG_SEPARATOR: Final = "/"  # a nested folder's tag: `News/Europe`
# Outline types that name something other than a feed: FreshRSS's web-scraping sources
# (HTML+XPath, XML+XPath, JSON+DotNotation and their mixes), links and included outlines.
_SCRAPING_TYPE_PARTS: Final = ("xpath", "dotnotation")
_NOT_FEED_TYPES: Final = frozenset({"link", "include"})


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: a name usable in feeds.yaml, the feed URL, its display title, its
    site, and the folders it sat in (each a tag; a nested folder is `News/Europe`)."""

    name: str
    url: str
    title: str = ""
    html_url: str = ""
    category: tuple[str, ...] = ()  # the titles of the outlines it was first nested in
    tags: tuple[str, ...] = ()


def one_line(text: str) -> str:
    """A title or folder name as feeds.yaml takes it: one line, runs of white space and
    control characters made one space, at most MAX_LABEL characters."""
    cleaned = "".join(
        " " if unicodedata.category(ch) == "Cc" or unicodedata.category(ch)[0] == "Z" else ch
        for ch in text
    )
    return " ".join(cleaned.split())[:MAX_LABEL].strip()


def folder_tag(category: Sequence[str]) -> str:
    """The tag of a folder path: `("News", "Europe")` -> `News/Europe`."""
    return one_line(TAG_SEPARATOR.join(category))


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The feeds to import, in file order, and every outline left out with its reason."""

    feeds: list[OpmlFeed]
    skipped: list[tuple[str, str]]  # (reason, detail)


def feed_key(url: str) -> str:
    """Two URLs of the same feed give the same key: scheme, case of the host, a default
    port, a `www.` prefix and a trailing slash or fragment do not count."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return url.strip()
    host = host.removeprefix("www.")
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("", host, path, parts.query, ""))


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    return slug[:MAX_NAME].rstrip("-._")


def name_from_url(url: str) -> str:
    """A feed name from its URL: the host without www./feeds./rss. and the path's
    meaningful segments (`https://feeds.bbci.co.uk/news/world/rss.xml` -> `bbci.co.uk-news-world`).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    segments = []
    for segment in parts.path.split("/"):
        seg = segment.lower()
        for suffix in _FEED_SUFFIXES:
            seg = seg.removesuffix(suffix)
        if seg and seg not in _FEED_WORDS:
            segments.append(seg)
    return _slug("-".join([host, *segments])) or "feed"


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`… whichever is not in `taken` (which gets it)."""
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"-{n}"
        name = base[: MAX_NAME - len(suffix)] + suffix
    taken.add(name)
    return name


def _http_url(url: str) -> str | None:
    """Why `url` cannot be polled, or None when it is a usable http(s) URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL (scheme {parts.scheme or 'missing'!r})"
    if not host or any(ch.isspace() for ch in url):
        return "not a valid URL"
    return None


def parse_opml(
    data: bytes,
    *,
    taken_names: Iterable[str] = (),
    known_urls: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """The feeds an OPML document subscribes to.

    Nested outlines are walked (their titles become the feed's category); a URL seen before
    in the file (or in `known_urls`) is skipped as a duplicate; a feed without a title is
    named from its URL; names avoid `taken_names` and each other. Entity declarations and
    external references are refused (defusedxml), so a hostile file cannot expand or fetch.
    `progress(done, total)` is called after each outline.
    """
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise OpmlError(
            f"refused: {type(exc).__name__} (entity declarations are not allowed)"
        ) from None
    except SafeET.ParseError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "opml":
        raise OpmlError(f"not an OPML document (root element <{_local(root.tag)}>)")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise OpmlError("not an OPML document (no <body>)")
    taken = set(taken_names)
    seen: dict[str, str] = {feed_key(u): "already configured" for u in known_urls}
    feeds: list[OpmlFeed] = []
    index_of: dict[str, int] = {}  # feed key -> its place in `feeds`
    skipped: list[tuple[str, str]] = []
    total = sum(1 for e in body.iter() if _local(e.tag) == "outline")
    done = 0

    def walk(parent: Element, category: tuple[str, ...]) -> None:
        nonlocal done
        for outline in parent:
            if _local(outline.tag) != "outline":
                continue
            done += 1
            if progress is not None:
                progress(done, total)
            title = (outline.get("title") or outline.get("text") or "").strip()
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            children = [c for c in outline if _local(c.tag) == "outline"]
            if not url:
                if children:
                    walk(outline, (*category, title) if title else category)
                else:
                    skipped.append(("no feed URL (xmlUrl)", title or "(untitled outline)"))
                continue
            label = f"{title} <{url}>" if title else url
            kind = (outline.get("type") or "").strip()
            problem = _not_a_feed(kind) or _http_url(url)
            if problem is not None:
                skipped.append((problem, label))
                continue
            key = feed_key(url)
            tag = folder_tag(category)
            if key in seen:
                reason = seen[key]
                if key in index_of and tag:
                    # the same feed in another folder (Feedly, Inoreader): one more tag
                    first = feeds[index_of[key]]
                    if tag not in first.tags:
                        feeds[index_of[key]] = replace(first, tags=(*first.tags, tag))
                        reason += f" (folder {tag} added to its tags)"
                skipped.append((reason, label))
                continue
            name = unique_name(_slug(title) or name_from_url(url), taken)
            seen[key] = f"duplicate of {name}"
            html_url = (outline.get("htmlUrl") or outline.get("htmlurl") or "").strip()
            index_of[key] = len(feeds)
            feeds.append(
                OpmlFeed(
                    name=name,
                    url=url,
                    title=one_line(title),
                    html_url=html_url if _http_url(html_url) is None else "",
                    category=category,
                    tags=(tag,) if tag else (),
                )
            )
            if children:  # a feed outline with children: unusual, but read them too
                walk(outline, (*category, title) if title else category)

    walk(body, ())
    return ImportResult(feeds, skipped)


def _not_a_feed(kind: str) -> str | None:
    """Why an outline of this `type` is not a feed the bot can poll, or None."""
    lowered = kind.lower()
    if any(part in lowered for part in _SCRAPING_TYPE_PARTS):
        return (
            f"a web-scraping source (type {kind}), not a feed: "
            "the bot has no source kind for scraped pages yet"
        )
    if lowered in _NOT_FEED_TYPES:
        return f"not a feed (type {kind})"
    return None


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def export_opml(
    feeds: Sequence[OpmlFeed | tuple[str, str]],
    *,
    title: str = "news-alert-bot feeds",
    now: datetime | None = None,
) -> bytes:
    """An OPML 2.0 document subscribing to each feed, in order.

    A feed is shown by its title (its name without one) with its site as `htmlUrl`; its tags
    become folders (`News/Europe` a folder inside another), with the feed in each of them,
    as feed readers export a feed kept in several folders.
    """
    opml = Element("opml", version="2.0")
    head = SubElement(opml, "head")
    SubElement(head, "title").text = title
    SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC))
    body = SubElement(opml, "body")
    folders: dict[tuple[str, ...], Element] = {(): body}

    def folder(path: tuple[str, ...]) -> Element:
        if path not in folders:
            parent = folder(path[:-1])
            folders[path] = SubElement(parent, "outline", text=path[-1], title=path[-1])
        return folders[path]

    for item in feeds:
        feed = item if isinstance(item, OpmlFeed) else OpmlFeed(name=item[0], url=item[1])
        shown = feed.title or feed.name
        attrs = {"type": "rss", "text": shown, "title": shown, "xmlUrl": feed.url}
        if feed.html_url:
            attrs["htmlUrl"] = feed.html_url
        paths = [
            tuple(part.strip() for part in tag.split(TAG_SEPARATOR) if part.strip())
            for tag in feed.tags
        ]
        for path in dict.fromkeys(paths or [()]):
            SubElement(folder(path), "outline", attrs)
    indent(opml)
    return bytes(tostring(opml, encoding="utf-8", xml_declaration=True)) + b"\n"


# ---------------------------------------------------------------------------------------------
# Adding imported feeds to rules/feeds.yaml, keeping the user's file as it is.


def _scalar(value: str) -> str:
    """`value` as a YAML scalar that reads back as itself (and survives ${ENV} interpolation)."""
    from ruamel.yaml import YAML

    value = value.replace("$", "$$")
    try:
        if YAML(typ="safe").load(f"k: {value}\n") == {"k": value}:
            return value
    except Exception:  # noqa: S110 - not a plain scalar: quote it below
        pass
    return json.dumps(value, ensure_ascii=False)


_FLOW_PLAIN = re.compile(r"\w[\w .()/-]*")


def _flow_scalar(value: str) -> str:
    """`value` as an item of a `[a, b]` list: plain when it is words, else quoted."""
    if _FLOW_PLAIN.fullmatch(value) and _scalar(value) == value:
        return value
    return json.dumps(value.replace("$", "$$"), ensure_ascii=False)


def _entry(feed: OpmlFeed, dash: str, gap: str = " ") -> str:
    """One list item: `dash` indents the `-`, `gap` separates it from the keys."""
    content = dash + " " + gap
    lines = [f"{dash}-{gap}name: {_scalar(feed.name)}", f"{content}url: {_scalar(feed.url)}"]
    if feed.title and feed.title != feed.name:
        lines.append(f"{content}title: {_scalar(feed.title)}")
    if feed.html_url:
        lines.append(f"{content}site: {_scalar(feed.html_url)}")
    if feed.tags:
        lines.append(f"{content}tags: [{', '.join(_flow_scalar(t) for t in feed.tags)}]")
    return "\n".join(lines) + "\n"


def appended_feeds_yaml(original: str, feeds: Sequence[OpmlFeed], comment: str) -> str:
    """The text of feeds.yaml with `feeds` added at the end of its `feeds:` list, under a
    `# comment` line.

    When `feeds:` is the file's last key and a block list (the usual shape), the new lines
    are appended and every existing byte is kept; otherwise the file is rewritten by a
    round-trip YAML dump, which keeps its comments.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not feeds:
        return original
    if not original.strip():
        return "feeds:\n" + f"  # {comment}\n" + "".join(_entry(f, "  ") for f in feeds)
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    try:
        doc = yaml.load(original)
    except Exception as exc:
        raise OpmlError(f"feeds.yaml does not parse: {exc}") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise OpmlError("feeds.yaml: expected a mapping with a `feeds:` list")
    seq = doc.get("feeds")
    keys = list(doc.keys())
    if (
        isinstance(seq, CommentedSeq)
        and len(seq) > 0
        and keys[-1] == "feeds"
        and not seq.fa.flow_style()
    ):
        lines = original.splitlines()
        first_line = seq.lc.item(0)[0]
        found = re.match(r"^(\s*)-(\s+)", lines[first_line]) if first_line < len(lines) else None
        if found is not None:
            dash, gap = found.group(1), found.group(2)
            text = original if original.endswith("\n") else original + "\n"
            return text + f"{dash}# {comment}\n" + "".join(_entry(f, dash, gap) for f in feeds)
    if seq is None:
        seq = CommentedSeq()
        doc["feeds"] = seq
    if not isinstance(seq, CommentedSeq):
        raise OpmlError("feeds.yaml: `feeds:` is not a list")
    seq.fa.set_block_style()
    start = len(seq)
    for f in feeds:
        item = CommentedMap()
        item["name"] = f.name
        item["url"] = f.url.replace("$", "$$")
        if f.title and f.title != f.name:
            item["title"] = f.title.replace("$", "$$")
        if f.html_url:
            item["site"] = f.html_url.replace("$", "$$")
        if f.tags:
            tags = CommentedSeq(t.replace("$", "$$") for t in f.tags)
            tags.fa.set_flow_style()
            item["tags"] = tags
        seq.append(item)
    seq.yaml_set_comment_before_after_key(start, before=comment, indent=2)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` in one step: a running bot's reload sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
