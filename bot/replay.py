"""Loopback HTTP servers that replay an article corpus as feeds and pages, and record webhooks."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import html
import json
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from aiohttp import web

from bot.errors import ConfigError

__all__ = [
    "TEMPLATE_PHRASES",
    "AlertReceiver",
    "CorpusArticle",
    "ReceivedRequest",
    "ReplayClock",
    "ReplayServer",
    "RequestRecord",
    "load_corpus",
    "serve_forever",
]

# Boilerplate that surrounds every article page and must never survive text extraction.
TEMPLATE_PHRASES: tuple[str, ...] = (
    "Skip to main content",
    "Independent reporting since 1998",
    "Related coverage",
    "Share this article",
    "Subscribe to our morning briefing",
    "Advertisement",
    "Media Group. All rights reserved",
    "We use cookies to improve your experience",
)

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NAV_SECTIONS = ("World", "Politics", "Business", "Technology", "Science", "Sport", "Opinion")
_FOOTER_LINKS = ("About us", "Contact", "Privacy policy", "Terms of use", "Advertise with us")
# Last-Modified of a feed that has no item yet: older than any article.
_EMPTY_FEED_MODIFIED = datetime(2000, 1, 1, tzinfo=UTC)
_DC_NS = "http://purl.org/dc/elements/1.1/"
_ATOM_NS = "http://www.w3.org/2005/Atom"
ET.register_namespace("dc", _DC_NS)
ET.register_namespace("atom", _ATOM_NS)


# --- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorpusArticle:
    """One article of a replay corpus; `text` holds paragraphs separated by newlines."""

    id: str
    title: str
    outlet: str
    published: datetime
    text: str
    url: str | None = None
    lang: str = "en"

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.text.split("\n") if p.strip()]


def load_corpus(path: Path) -> list[CorpusArticle]:
    """Read a JSONL corpus, sorted by publication time; every bad line is a ConfigError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the corpus: {exc}") from exc
    problems: list[str] = []
    articles: list[CorpusArticle] = []
    first_line_of: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{where}: expected a JSON object, got {type(record).__name__}")
            continue
        article, messages = _parse_article(record)
        line_problems = [f"{where}: {msg}" for msg in messages]
        if article is not None and article.id in first_line_of:
            line_problems.append(
                f"{where}: field 'id': {article.id!r} already used on line "
                f"{first_line_of[article.id]}"
            )
        problems.extend(line_problems)
        if article is not None and not line_problems:
            first_line_of[article.id] = lineno
            articles.append(article)
    if problems:
        raise ConfigError(problems)
    if not articles:
        raise ConfigError(f"{path}: the corpus has no articles")
    articles.sort(key=lambda a: a.published)
    return articles


def _parse_article(record: dict[str, Any]) -> tuple[CorpusArticle | None, list[str]]:
    messages: list[str] = []
    problem = messages.append

    def text_field(name: str, *, slug: bool = False, required: bool = True) -> str | None:
        value = record.get(name)
        if value is None:
            if required:
                problem(f"field {name!r}: missing")
            return None
        if not isinstance(value, str) or not value.strip():
            problem(f"field {name!r}: expected a non-empty string, got {value!r:.60}")
            return None
        if slug and not _SLUG.fullmatch(value):
            problem(f"field {name!r}: {value!r} may hold only letters, digits, '.', '_' and '-'")
            return None
        return value

    article_id = text_field("id", slug=True)
    title = text_field("title")
    outlet = text_field("outlet", slug=True)
    text = text_field("text")
    url = text_field("url", required=False)
    lang = text_field("lang", required=False) or "en"
    published = None
    raw = text_field("published")
    if raw is not None:
        try:
            published = datetime.fromisoformat(raw)
        except ValueError:
            problem(f"field 'published': not an ISO 8601 date-time: {raw!r}")
        else:
            if published.tzinfo is None:
                problem(f"field 'published': {raw!r} has no time zone (add 'Z' for UTC)")
                published = None
            else:
                published = published.astimezone(UTC)
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        problem(f"field 'url': expected an http(s) URL, got {url!r}")
        url = None
    if article_id is None or title is None or outlet is None or text is None or published is None:
        return None, messages
    article = CorpusArticle(
        id=article_id,
        title=title.strip(),
        outlet=outlet,
        published=published,
        text=text,
        url=url,
        lang=lang,
    )
    return article, messages


# --- the simulated clock ---------------------------------------------------------------------


class ReplayClock:
    """Simulated time shared by the replay server and the bot under test; it only moves forward."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start, "start")

    def now(self) -> datetime:
        return self._now

    def advance_to(self, t: datetime) -> None:
        t = _aware_utc(t, "t")
        if t < self._now:
            raise ValueError(f"the replay clock never goes backwards: {t} < {self._now}")
        self._now = t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the replay clock never goes backwards: {seconds} s")
        self._now += timedelta(seconds=seconds)


def _aware_utc(t: datetime, name: str) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {t}")
    return t.astimezone(UTC)


# --- shared server plumbing ------------------------------------------------------------------


class _LoopbackServer(ABC):
    """An aiohttp application on its own port; subclasses add routes in `_build`."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = asyncio.Event()

    @abstractmethod
    def _build(self) -> web.Application:
        """The aiohttp application this server runs."""

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._closing.clear()
        runner = web.AppRunner(self._build(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing.set()  # releases handlers that are deliberately slow
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _lower_headers(request: web.BaseRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        k = key.lower()
        headers[k] = f"{headers[k]}, {value}" if k in headers else value
    return headers


def _as_path(path_or_url: str) -> str:
    return urlsplit(path_or_url).path if "://" in path_or_url else path_or_url


# --- the replay server -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the replay server answered; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    at: float  # time.monotonic() on arrival


@dataclass(slots=True)
class _Failure:
    status: int
    remaining: int | None
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Rendered:
    body: bytes
    etag: str
    last_modified: datetime
    content_type: str


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReplayServer(_LoopbackServer):
    """Serves each outlet's RSS feed and article pages, releasing articles as the clock passes them.

    Routes: `/<outlet>/feed.xml`, `/<outlet>/<id>.html`, `/healthz`.
    """

    def __init__(
        self,
        articles: Sequence[CorpusArticle],
        clock: ReplayClock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(host, port)
        self.clock = clock
        self.delay = delay  # seconds slept before every answer; may be changed while serving
        self.requests: list[RequestRecord] = []
        self._articles = sorted(articles, key=lambda a: a.published)
        self._by_id: dict[str, CorpusArticle] = {}
        self.outlets: list[str] = []
        self._by_outlet: dict[str, list[CorpusArticle]] = {}
        for article in articles:
            if article.id in self._by_id:
                raise ValueError(f"duplicate article id {article.id!r}")
            self._by_id[article.id] = article
            if article.outlet not in self._by_outlet:
                self.outlets.append(article.outlet)
                self._by_outlet[article.outlet] = []
        for article in self._articles:
            self._by_outlet[article.outlet].append(article)
        self._published_at = {
            outlet: [a.published for a in items] for outlet, items in self._by_outlet.items()
        }
        self._failures: dict[str, _Failure] = {}
        self._feed_cache: dict[tuple[str, int], _Rendered] = {}
        self._page_cache: dict[str, _Rendered] = {}

    @property
    def articles(self) -> list[CorpusArticle]:
        """Every article of the corpus, oldest first, published or not."""
        return list(self._articles)

    def feed_url(self, outlet: str) -> str:
        """The outlet's feed URL; not checked, so an unknown outlet gives a URL that answers 404."""
        return f"{self.base_url}/{outlet}/feed.xml"

    def page_url(self, article_id: str) -> str:
        return self._url_of(self._by_id[article_id])

    def published(self) -> list[CorpusArticle]:
        """The articles visible at the clock's current time, oldest first."""
        now = self.clock.now()
        return [a for a in self._articles if a.published <= now]

    def release_next(self) -> CorpusArticle | None:
        """Advance the clock to the next unpublished article's time; None when all are out."""
        now = self.clock.now()
        for article in self._articles:
            if article.published > now:
                self.clock.advance_to(article.published)
                return article
        return None

    def fail(
        self,
        path: str,
        status: int,
        times: int | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `status` on `path` (a path or full URL; "*" for every path), `times` times or
        until `clear_failures`. A rule for an exact path wins over "*"."""
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        key = path if path == "*" else _as_path(path)
        self._failures[key] = _Failure(status, times, dict(headers or {}))

    def clear_failures(self) -> None:
        self._failures.clear()

    async def start(self) -> None:
        # Feeds and pages embed the base URL, which a restart may change.
        self._feed_cache.clear()
        self._page_cache.clear()
        await super().start()

    def _build(self) -> web.Application:
        app = web.Application(middlewares=[self._record, self._inject])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/{outlet}/feed.xml", self._feed)
        app.router.add_get("/{outlet}/{article_id}.html", self._page)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        at = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.requests.append(
                RequestRecord(request.method, request.path, _lower_headers(request), status, at)
            )

    @web.middleware
    async def _inject(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        await self._pause(self.delay)
        failure = self._take_failure(request.path)
        if failure is not None:
            return web.Response(
                status=failure.status, text="injected failure\n", headers=failure.headers
            )
        return await handler(request)

    def _take_failure(self, path: str) -> _Failure | None:
        key = path if path in self._failures else "*"
        failure = self._failures.get(key)
        if failure is None:
            return None
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                del self._failures[key]
        return failure

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _feed(self, request: web.Request) -> web.Response:
        outlet = request.match_info["outlet"]
        if outlet not in self._by_outlet:
            raise web.HTTPNotFound(text=f"no outlet {outlet!r}\n")
        visible = bisect.bisect_right(self._published_at[outlet], self.clock.now())
        key = (outlet, visible)
        rendered = self._feed_cache.get(key)
        if rendered is None:
            rendered = self._render_feed(outlet, self._by_outlet[outlet][:visible])
            self._feed_cache[key] = rendered
        return _conditional_response(request, rendered)

    async def _page(self, request: web.Request) -> web.Response:
        article = self._by_id.get(request.match_info["article_id"])
        if (
            article is None
            or article.outlet != request.match_info["outlet"]
            or article.published > self.clock.now()
        ):
            raise web.HTTPNotFound(text="no such article\n")
        rendered = self._page_cache.get(article.id)
        if rendered is None:
            body = render_page(article, self._related(article), self._url_of).encode()
            rendered = _Rendered(body, _etag(body), article.published, "text/html; charset=utf-8")
            self._page_cache[article.id] = rendered
        return _conditional_response(request, rendered)

    def _url_of(self, article: CorpusArticle) -> str:
        return f"{self.base_url}/{article.outlet}/{article.id}.html"

    def _related(self, article: CorpusArticle) -> list[CorpusArticle]:
        others = [a for a in self._articles if a.id != article.id]
        others.sort(key=lambda a: (abs((a.published - article.published).total_seconds()), a.id))
        return others[:3]

    def _render_feed(self, outlet: str, items: list[CorpusArticle]) -> _Rendered:
        name = outlet_name(outlet)
        base = self.base_url
        newest = items[-1].published if items else _EMPTY_FEED_MODIFIED
        rss = ET.Element("rss", {"version": "2.0"})
        channel = ET.SubElement(rss, "channel")
        ET.SubElement(channel, "title").text = f"{name}: Top stories"
        ET.SubElement(channel, "link").text = f"{base}/{outlet}/"
        ET.SubElement(channel, "description").text = f"The latest news from {name}"
        ET.SubElement(channel, "language").text = items[-1].lang if items else "en"
        ET.SubElement(channel, "lastBuildDate").text = format_datetime(newest, usegmt=True)
        ET.SubElement(
            channel,
            f"{{{_ATOM_NS}}}link",
            {"href": f"{base}/{outlet}/feed.xml", "rel": "self", "type": "application/rss+xml"},
        )
        for article in reversed(items):
            item = ET.SubElement(channel, "item")
            ET.SubElement(item, "title").text = article.title
            ET.SubElement(item, "link").text = self._url_of(article)
            ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = article.id
            ET.SubElement(item, "pubDate").text = format_datetime(article.published, usegmt=True)
            ET.SubElement(item, f"{{{_DC_NS}}}creator").text = byline(article)
            ET.SubElement(item, "description").text = lead(article.text)
            if article.url is not None:
                ET.SubElement(item, "source", {"url": article.url}).text = name
        ET.indent(rss)
        body = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
        return _Rendered(body, _etag(body), newest, "application/rss+xml; charset=utf-8")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _conditional_response(request: web.Request, rendered: _Rendered) -> web.Response:
    """200 with validators, or 304 when the client's copy is current (If-None-Match first)."""
    headers = {
        "ETag": rendered.etag,
        "Last-Modified": format_datetime(rendered.last_modified, usegmt=True),
        "Cache-Control": "no-cache",
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        fresh = _etag_matches(if_none_match, rendered.etag)
    else:
        since = _http_date(request.headers.get("If-Modified-Since"))
        fresh = since is not None and rendered.last_modified.replace(microsecond=0) <= since
    if fresh:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = rendered.content_type
    return web.Response(body=rendered.body, headers=headers)


def _etag_matches(header: str, etag: str) -> bool:
    # GET uses the weak comparison: W/"x" matches "x".
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in (t.removeprefix("W/") for t in tags)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- the page template -----------------------------------------------------------------------


def outlet_name(outlet: str) -> str:
    """A display name for an outlet slug: "world-desk" → "World Desk", "ap" → "AP"."""
    words = re.split(r"[-_.]+", outlet)
    return " ".join(w.upper() if len(w) <= 3 else w.capitalize() for w in words if w)


def byline(article: CorpusArticle) -> str:
    return f"{outlet_name(article.outlet)} staff"


# Not after an initial or a title: "U.N. Security Council", "Mr. Putin".
_SENTENCE_END = re.compile(
    r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bMrs)"
    r"[.!?][\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])"
)


def lead(text: str, sentences: int = 2, limit: int = 400) -> str:
    """The first sentences of `text` as one plain line, cut at a word under `limit` characters."""
    flat = " ".join(text.split())
    end = len(flat)
    for n, match in enumerate(_SENTENCE_END.finditer(flat), start=1):
        if n == sentences:
            end = match.start() + len(match.group().rstrip())
            break
    out = flat[:end]
    if len(out) > limit:
        out = out[:limit].rsplit(" ", 1)[0] + "…"
    return out


def render_page(
    article: CorpusArticle,
    related: Sequence[CorpusArticle],
    url_of: Callable[[CorpusArticle], str],
) -> str:
    """A news page as a typical outlet's CMS would print it: the article amid site boilerplate."""

    def e(s: str) -> str:
        return html.escape(s, quote=True)

    name = outlet_name(article.outlet)
    home = f"/{article.outlet}/"
    author = byline(article)
    iso = article.published.isoformat().replace("+00:00", "Z")
    shown = f"{article.published.day} {article.published:%B %Y, %H:%M} UTC"
    paragraphs = [f"      <p>{html.escape(p, quote=False)}</p>" for p in article.paragraphs]
    # The related box and an ad sit inside the body, after the opening paragraphs, as on most sites.
    related_items = "\n".join(
        f'          <li><a href="{e(url_of(r))}">{e(r.title)}</a></li>' for r in related
    )
    inline = [
        '      <aside class="related-inline" aria-label="Related coverage">',
        "        <h2>Related coverage</h2>",
        "        <ul>",
        related_items,
        "        </ul>",
        "      </aside>",
        '      <aside class="ad-slot ad-inarticle" aria-label="Advertisement">',
        '        <span class="ad-label">Advertisement</span>',
        "      </aside>",
    ]
    at = min(3, len(paragraphs))
    body = "\n".join([*paragraphs[:at], *(inline if related else inline[6:]), *paragraphs[at:]])
    nav = "\n".join(f'        <li><a href="{home}{s.lower()}/">{s}</a></li>' for s in _NAV_SECTIONS)
    footer_links = "\n".join(
        f'        <li><a href="{home}{re.sub(r"[^a-z]+", "-", s.lower())}">{s}</a></li>'
        for s in _FOOTER_LINKS
    )
    return f"""<!DOCTYPE html>
<html lang="{e(article.lang)}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{e(article.title)} | {e(name)}</title>
  <meta name="description" content="{e(lead(article.text))}">
  <meta name="author" content="{e(author)}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{e(article.title)}">
  <meta property="og:site_name" content="{e(name)}">
  <link rel="canonical" href="{e(url_of(article))}">
  <meta property="og:url" content="{e(url_of(article))}">
  <meta property="article:published_time" content="{iso}">
  <meta property="article:section" content="World">
  <link rel="alternate" type="application/rss+xml" title="{e(name)}" href="{home}feed.xml">
  <link rel="stylesheet" href="/static/site.css">
</head>
<body class="article-page">
  <a class="skip-link" href="#main">Skip to main content</a>
  <header class="site-header">
    <div class="masthead">
      <a class="logo" href="{home}">{e(name)}</a>
      <span class="tagline">Independent reporting since 1998</span>
    </div>
    <nav class="site-nav" aria-label="Sections">
      <ul>
        <li><a href="{home}">Home</a></li>
{nav}
      </ul>
    </nav>
    <div class="account-links">
      <a href="/account/login">Sign in</a> <a href="/subscribe">Subscribe</a>
    </div>
  </header>
  <main id="main">
    <nav class="breadcrumb" aria-label="Breadcrumb">
      <ol>
        <li><a href="{home}">Home</a></li>
        <li><a href="{home}world/">World</a></li>
        <li><a href="{home}world/europe/">Europe</a></li>
      </ol>
    </nav>
    <article class="article" itemscope itemtype="https://schema.org/NewsArticle">
      <h1 itemprop="headline">{e(article.title)}</h1>
      <p class="byline">By <a rel="author" href="{home}staff/">{e(author)}</a></p>
      <p class="dateline"><time datetime="{iso}" itemprop="datePublished">{shown}</time></p>
    <div class="article-body" itemprop="articleBody">
{body}
    </div>
      <div class="share-tools">
        <ul aria-label="Share this article">
          <li><a href="#share-email">Email</a></li>
          <li><a href="#share-x">X</a></li>
          <li><a href="#share-facebook">Facebook</a></li>
        </ul>
      </div>
    </article>
    <aside class="newsletter-signup">
      <h2>Subscribe to our morning briefing</h2>
      <p>The day's essential stories from {e(name)}, in your inbox before 7am.</p>
      <form action="/newsletter" method="post">
        <input type="email" name="email" placeholder="Your email address">
        <button type="submit">Sign up</button>
      </form>
    </aside>
  </main>
  <footer class="site-footer">
    <nav aria-label="About {e(name)}">
      <ul>
{footer_links}
      </ul>
    </nav>
    <p class="copyright">© {article.published.year} {e(name)} Media Group. All rights reserved.</p>
  </footer>
  <div id="cookie-banner" class="cookie-consent" role="dialog" aria-label="Cookie notice">
    <p>We use cookies to improve your experience on our site and to show you relevant
    advertising. By continuing to browse you agree to our use of cookies.</p>
    <button type="button">Accept all</button> <button type="button">Manage preferences</button>
  </div>
</body>
</html>
"""


# --- the webhook receiver --------------------------------------------------------------------


@dataclass(slots=True)
class ReceivedRequest:
    """One request the receiver got; header names are lower-case.

    `status` is what the receiver chose to answer; `answered` turns true once that answer
    was written (a client that gave up during a `hang` leaves it false).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    at: float  # time.monotonic() on arrival
    status: int
    answered: bool = False


class AlertReceiver(_LoopbackServer):
    """A loopback webhook endpoint recording every POST it gets (on any path; `url` is /hook)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.received: list[ReceivedRequest] = []
        self._script: deque[tuple[int, dict[str, str]]] = deque()
        self._hang = 0.0
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    @property
    def delivered(self) -> list[ReceivedRequest]:
        """The requests answered with a 2xx status."""
        return [r for r in self.received if r.answered and 200 <= r.status < 300]

    def respond_with(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """Queue answers for the next requests, in order (optionally with headers); then 200."""
        for item in statuses:
            status, headers = item if isinstance(item, tuple) else (item, {})
            self._script.append((status, dict(headers)))

    def hang(self, seconds: float) -> None:
        """Make every following request wait `seconds` before its answer; `hang(0)` clears it."""
        self._hang = max(0.0, seconds)

    def clear(self) -> None:
        """Forget what was received, queued answers and any hang."""
        self.received.clear()
        self._script.clear()
        self._hang = 0.0

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[ReceivedRequest]:  # noqa: ASYNC109
        """Wait until at least `n` requests were answered 2xx; return every delivered request."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self.delivered) >= n), timeout
                )
            except TimeoutError:
                statuses = [r.status for r in self.received]
                raise TimeoutError(
                    f"{len(self.delivered)} of {n} deliveries after {timeout}s "
                    f"(statuses answered so far: {statuses})"
                ) from None
            return self.delivered

    def _build(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        body = await request.read()
        try:
            parsed: Any = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        status, headers = self._script.popleft() if self._script else (200, {})
        record = ReceivedRequest(
            request.method, request.path, _lower_headers(request), body, parsed, at, status
        )
        self.received.append(record)
        await self._pause(self._hang)
        response = web.Response(
            status=status, text="ok\n" if status < 300 else f"status {status}\n", headers=headers
        )
        transport = request.transport
        if transport is None or transport.is_closing():
            return response  # the client gave up: nothing was answered
        try:
            await response.prepare(request)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            return response
        async with self._changed:
            record.answered = True
            self._changed.notify_all()
        return response


# --- standalone demo -------------------------------------------------------------------------


async def serve_forever(
    corpus: Path,
    host: str,
    port: int,
    *,
    release: Literal["all", "clock"] = "all",
    speed: float = 60.0,
) -> None:
    """Serve a corpus until cancelled.

    release="all": every article is out at once. release="clock": the clock starts just before
    the first article and runs `speed` times faster than real time, releasing articles as it goes.
    """
    articles = load_corpus(corpus)
    if release == "all":
        clock = ReplayClock(articles[-1].published + timedelta(seconds=1))
    else:
        clock = ReplayClock(articles[0].published - timedelta(seconds=1))
    async with ReplayServer(articles, clock, host=host, port=port) as server:
        print(f"replaying {len(articles)} articles at {server.base_url}", flush=True)
        for outlet in server.outlets:
            print(f"  {server.feed_url(outlet)}", flush=True)
        last = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if release == "clock":
                now = time.monotonic()
                clock.advance((now - last) * speed)
                last = now


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bot.replay CORPUS`: serve a corpus on loopback for a manual demo."""
    parser = argparse.ArgumentParser(prog="python -m bot.replay", description=main.__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--release", choices=["all", "clock"], default="all")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second")
    args = parser.parse_args(argv)
    try:
        asyncio.run(
            serve_forever(args.corpus, args.host, args.port, release=args.release, speed=args.speed)
        )
    except ConfigError as exc:
        parser.exit(2, f"Error: {exc}\n")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
