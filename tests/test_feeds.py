"""bot.feeds: polling with validators against a loopback server, and parsing every feed format."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.errors import PermanentError, TransientError
from bot.feeds import FeedValidators, SkippedEntry, backoff_delay, parse_feed, poll_feed
from bot.net import BlockedURL, Http, NetSettings

FEED_URL = "https://news.example/feeds/world.xml"

RSS2 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>World</title><link>https://news.example/</link>
<item>
  <title>Envoy  <b>arrives</b> in Kyiv</title>
  <link>https://news.example/a/1</link>
  <guid isPermaLink="false">urn:news:1</guid>
  <description>&lt;p&gt;Talks &lt;em&gt;resume&lt;/em&gt;
    on &amp;amp; Monday.&lt;/p&gt;</description>
  <pubDate>Tue, 10 Jun 2025 14:30:00 +0200</pubDate>
</item>
<item>
  <title>Second story</title>
  <link>https://news.example/a/2</link>
</item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/atom/">
  <title>World</title><id>urn:feed</id><updated>2025-06-10T12:00:00Z</updated>
  <entry>
    <title type="html">Deadline &lt;i&gt;moved&lt;/i&gt;</title>
    <id>tag:news.example,2025:42</id>
    <link rel="alternate" href="stories/42.html"/>
    <updated>2025-06-10T12:00:00Z</updated>
    <summary type="html">&lt;p&gt;The deadline moved
      to &lt;b&gt;Thursday&lt;/b&gt;.&lt;/p&gt;</summary>
  </entry>
</feed>"""

RSS1 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://news.example/rdf">
    <title>World</title><link>https://news.example/</link><description>d</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://news.example/rdf/7"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://news.example/rdf/7">
    <title>Plan draft published</title>
    <link>https://news.example/rdf/7</link>
    <description>A 28-point plan.</description>
    <dc:date>2025-06-11T08:15:00+00:00</dc:date>
  </item>
</rdf:RDF>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "World",
        "items": [
            {
                "id": "j1",
                "url": "/j/1",
                "title": "Talks in <b>Geneva</b>",
                "content_html": "<p>Delegations <i>met</i>.</p>",
                "date_published": "2025-06-12T09:00:00+02:00",
            },
            {"id": 2, "external_url": "https://other.example/x", "content_text": "Only text"},
            {"id": "no-link", "title": "Nowhere to go"},
        ],
    }
).encode()


def urls(items: list) -> list[str]:  # type: ignore[type-arg]
    return [i.url for i in items]


# -- formats -------------------------------------------------------------------------------------


def test_rss2_items_carry_guid_link_plain_title_summary_and_utc_time() -> None:
    items, _, warning = parse_feed("world", RSS2, url=FEED_URL, content_type="application/rss+xml")
    first = items[0]
    assert warning == ""
    assert (first.feed, first.guid, first.url) == (
        "world",
        "urn:news:1",
        "https://news.example/a/1",
    )
    assert first.title == "Envoy arrives in Kyiv"
    assert first.summary == "Talks resume on & Monday."
    assert first.published == datetime(2025, 6, 10, 12, 30, tzinfo=UTC)


def test_rss2_entry_without_guid_uses_its_link_and_has_no_time() -> None:
    items, _, _ = parse_feed("world", RSS2, url=FEED_URL)
    assert (items[1].guid, items[1].published) == ("https://news.example/a/2", None)


def test_atom_entry_resolves_its_link_against_xml_base_and_uses_updated() -> None:
    items, _, _ = parse_feed("world", ATOM, url=FEED_URL, content_type="application/atom+xml")
    [entry] = items
    assert entry.url == "https://news.example/atom/stories/42.html"
    assert entry.guid == "tag:news.example,2025:42"
    assert entry.title == "Deadline moved"
    assert entry.summary == "The deadline moved to Thursday."
    assert entry.published == datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def test_rss1_rdf_is_parsed() -> None:
    items, _, _ = parse_feed("world", RSS1, url=FEED_URL)
    [item] = items
    assert (item.url, item.title, item.summary) == (
        "https://news.example/rdf/7",
        "Plan draft published",
        "A 28-point plan.",
    )
    assert item.published == datetime(2025, 6, 11, 8, 15, tzinfo=UTC)


def test_rss091_is_parsed() -> None:
    body = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>t</title>
    <item><title>Old style</title><link>https://news.example/old</link></item></channel></rss>"""
    items, _, _ = parse_feed("world", body, url=FEED_URL)
    assert urls(items) == ["https://news.example/old"]


def test_json_feed_items_are_read_and_a_linkless_one_kept_with_its_own_text() -> None:
    items, skipped, warning = parse_feed(
        "world", JSON_FEED, url=FEED_URL, content_type="application/feed+json"
    )
    assert (warning, skipped) == ("", [])
    assert urls(items) == ["https://news.example/j/1", "https://other.example/x", ""]
    first, second, third = items
    assert (first.guid, first.title, first.summary) == ("j1", "Talks in Geneva", "Delegations met.")
    assert first.published == datetime(2025, 6, 12, 7, 0, tzinfo=UTC)
    assert (second.guid, second.summary, second.title) == ("2", "Only text", "")
    assert (third.guid, third.title) == ("no-link", "Nowhere to go")


def test_json_feed_is_recognised_without_a_content_type() -> None:
    items, _, _ = parse_feed("world", JSON_FEED, url=FEED_URL)
    assert len(items) == 3


def test_json_that_is_not_a_json_feed_is_refused() -> None:
    with pytest.raises(PermanentError, match="feed world: not a feed"):
        parse_feed("world", b'{"hello": "world"}', url=FEED_URL)


def test_html_page_is_not_a_feed() -> None:
    page = b"<!doctype html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    with pytest.raises(PermanentError, match="feed world: not a feed"):
        parse_feed("world", page, url=FEED_URL, content_type="text/html")


def test_empty_body_is_not_a_feed() -> None:
    with pytest.raises(PermanentError, match="not a feed"):
        parse_feed("world", b"", url=FEED_URL)


def test_relative_rss_links_resolve_against_the_feed_url() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>a</title><link>/news/1</link></item>
    <item><title>b</title><link>2.html</link></item></channel></rss>"""
    items, _, _ = parse_feed("world", body, url=FEED_URL)
    assert urls(items) == ["https://news.example/news/1", "https://news.example/feeds/2.html"]


def test_entries_without_an_http_link_are_kept_with_their_text_and_no_link() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>js</title><link>javascript:alert(1)</link>
      <guid isPermaLink="false">g-js</guid></item>
    <item><title>mail</title><link>mailto:desk@news.example</link></item>
    <item><title>none</title><description>no link at all</description></item>
    <item><title>ok</title><link>https://news.example/ok</link></item></channel></rss>"""
    items, skipped, _ = parse_feed("world", body, url=FEED_URL)
    assert skipped == []
    assert urls(items) == ["", "", "", "https://news.example/ok"]
    assert [i.title for i in items] == ["js", "mail", "none", "ok"]
    assert items[0].guid == "g-js"
    assert items[2].summary == "no link at all"
    assert len({i.guid for i in items}) == 4  # an entry without id or link is named by its text


def test_an_entry_with_nothing_to_tell_is_skipped_as_empty() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><guid isPermaLink="false">only-an-id</guid></item>
    <item><title>ok</title><link>https://news.example/ok</link></item></channel></rss>"""
    items, skipped, _ = parse_feed("world", body, url=FEED_URL)
    assert urls(items) == ["https://news.example/ok"]
    assert skipped == [SkippedEntry("empty", "only-an-id")]


def test_a_json_feed_item_that_is_not_an_object_is_skipped_with_its_reason() -> None:
    body = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "items": ["oops", {"url": "/a"}]}
    ).encode()
    items, skipped, _ = parse_feed("world", body, url=FEED_URL)
    assert urls(items) == ["https://news.example/a"]
    assert skipped == [SkippedEntry("not an object", '"oops"')]


def test_repeated_guids_keep_the_first_entry() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>first</title><link>https://news.example/1</link><guid>g</guid></item>
    <item><title>again</title><link>https://news.example/2</link><guid>g</guid></item>
    </channel></rss>"""
    items, skipped, _ = parse_feed("world", body, url=FEED_URL)
    assert [i.title for i in items] == ["first"]
    assert skipped == [SkippedEntry("repeated id", "https://news.example/feeds/g")]


def test_entries_sharing_a_link_stay_distinct_items() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>Episode 2</title><link>https://cast.example/</link>
      <guid isPermaLink="false">ep2</guid></item>
    <item><title>Episode 1</title><link>https://cast.example/</link>
      <guid isPermaLink="false">ep1</guid></item>
    <item><title>9:05</title><link>https://news.example/live#p2</link></item>
    <item><title>9:00</title><link>https://news.example/live#p1</link></item>
    </channel></rss>"""
    items, skipped, _ = parse_feed("world", body, url=FEED_URL)
    assert skipped == []
    assert [i.guid for i in items] == [
        "ep2",
        "ep1",
        "https://news.example/live#p2",
        "https://news.example/live#p1",
    ]


def test_an_entry_version_follows_its_updated_time_title_and_content() -> None:
    def version(updated: str, title: str, content: str) -> str:
        body = f"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
        <entry><id>tag:x,1</id><title>{title}</title><link href="https://news.example/1"/>
        <updated>{updated}</updated><summary>short</summary>
        <content type="text">{content}</content></entry></feed>""".encode()
        [item], _, _ = parse_feed("world", body, url=FEED_URL)
        return item.version

    first = version("2025-06-10T12:00:00Z", "Live", "One.")
    assert version("2025-06-10T12:00:00Z", "Live", "One.") == first
    assert version("2025-06-10T12:05:00Z", "Live", "One.") != first
    assert version("2025-06-10T12:00:00Z", "Live: new", "One.") != first
    assert version("2025-06-10T12:00:00Z", "Live", "One. Two.") != first


def test_broken_feed_with_entries_gives_items_and_a_warning() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
    <item><title>Still here &nbsp; today</title><link>https://news.example/1</link></item>
    <item><title>Unclosed<link>https://news.example/2</link></item>"""
    items, _, warning = parse_feed("world", body, url=FEED_URL)
    assert "https://news.example/1" in urls(items)
    assert warning != ""


def test_long_summary_is_trimmed_at_a_word() -> None:
    words = " ".join(["negotiation"] * 400)
    body = (
        b"<rss version='2.0'><channel><title>t</title><item><title>x</title>"
        b"<link>https://news.example/1</link><description>"
        + words.encode()
        + b"</description></item></channel></rss>"
    )
    [item], _, _ = parse_feed("world", body, url=FEED_URL)
    assert 1900 < len(item.summary) <= 2001
    assert item.summary.endswith("negotiation…")


def test_charset_from_the_content_type_header_is_honoured() -> None:
    title = "Переговоры в Киеве"
    body = (
        f"<rss version='2.0'><channel><title>t</title><item><title>{title}</title>"
        "<link>https://news.example/1</link></item></channel></rss>"
    ).encode("windows-1251")
    [item], _, _ = parse_feed(
        "world", body, url=FEED_URL, content_type="application/rss+xml; charset=windows-1251"
    )
    assert item.title == title


def test_body_that_is_a_file_path_is_never_opened(tmp_path: Path) -> None:
    elsewhere = tmp_path / "feed.xml"
    elsewhere.write_bytes(RSS2)
    with pytest.raises(PermanentError, match="not a feed"):
        parse_feed("world", str(elsewhere).encode(), url=FEED_URL)


def test_feeds_are_read_by_expat_even_where_libxml2_bindings_are_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """feedparser asks for the libxml2 SAX driver first; a machine that has it must not read
    feeds with another parser than the one the entity guard is written for."""
    asked: list[str] = []
    driver = types.ModuleType("drv_libxml2")

    def create_parser() -> object:
        asked.append("drv_libxml2")
        raise AssertionError("libxml2's SAX driver was used")

    driver.create_parser = create_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "drv_libxml2", driver)
    items, _, warning = parse_feed("world", RSS2, url=FEED_URL, content_type="application/rss+xml")
    assert asked == []
    assert warning == ""
    assert items[0].title == "Envoy arrives in Kyiv"


# -- polling against a loopback server -----------------------------------------------------------


@dataclass
class FeedServer:
    """Serves one feed at /feed and records what each request asked for."""

    body: bytes = RSS2
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = '"v1"'
    last_modified: str | None = "Tue, 10 Jun 2025 10:00:00 GMT"
    honour_conditionals: bool = True
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({k.lower(): v for k, v in request.headers.items()})
        if request.path == "/moved":
            raise web.HTTPMovedPermanently("/feeds/current/feed")
        headers = {"Content-Type": self.content_type}
        if self.etag:
            headers["ETag"] = self.etag
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        matches = self.etag is not None and request.headers.get("If-None-Match") == self.etag
        if self.honour_conditionals and matches:
            return web.Response(status=304, headers={"ETag": self.etag or ""})
        return web.Response(status=self.status, body=self.body, headers=headers)


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    settings = NetSettings(total_timeout=5.0, max_body_bytes=1024 * 1024, allow=("127.0.0.1",))
    async with Http(settings) as client:
        yield client


async def test_first_poll_parses_and_returns_validators(
    http: Http, feed_server: FeedServer
) -> None:
    result = await poll_feed(http, "world", feed_server.url(), FeedValidators())
    assert (result.status, result.http_status) == ("parsed", 200)
    assert [i.guid for i in result.items] == ["urn:news:1", "https://news.example/a/2"]
    assert result.validators == FeedValidators(
        '"v1"', "Tue, 10 Jun 2025 10:00:00 GMT", hashlib.sha256(RSS2).hexdigest()
    )
    assert "if-none-match" not in feed_server.requests[0]


async def test_second_poll_is_conditional_and_not_modified(
    http: Http, feed_server: FeedServer
) -> None:
    first = await poll_feed(http, "world", feed_server.url(), FeedValidators())
    second = await poll_feed(http, "world", feed_server.url(), first.validators)
    sent = feed_server.requests[1]
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Tue, 10 Jun 2025 10:00:00 GMT"
    assert (second.status, second.http_status, second.items) == ("not_modified", 304, ())
    assert second.validators == first.validators


async def test_identical_body_is_unchanged_and_not_parsed(
    http: Http, feed_server: FeedServer
) -> None:
    feed_server.honour_conditionals = False
    first = await poll_feed(http, "world", feed_server.url(), FeedValidators())
    second = await poll_feed(http, "world", feed_server.url(), first.validators)
    assert (second.status, second.http_status, second.items) == ("unchanged", 200, ())
    assert second.validators == first.validators


async def test_changed_body_is_parsed_again(http: Http, feed_server: FeedServer) -> None:
    feed_server.honour_conditionals = False
    first = await poll_feed(http, "world", feed_server.url(), FeedValidators())
    feed_server.body = ATOM
    second = await poll_feed(http, "world", feed_server.url(), first.validators)
    assert second.status == "parsed"
    assert second.validators.body_hash == hashlib.sha256(ATOM).hexdigest()


async def test_links_resolve_against_the_url_after_redirects(
    http: Http, feed_server: FeedServer
) -> None:
    feed_server.body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>a</title><link>story.html</link></item></channel></rss>"""
    result = await poll_feed(http, "world", feed_server.url("/moved"), FeedValidators())
    assert urls(list(result.items)) == [feed_server.url("/feeds/current/story.html")]


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_trouble_is_transient(
    http: Http, feed_server: FeedServer, status: int
) -> None:
    feed_server.status = status
    with pytest.raises(TransientError) as caught:
        await poll_feed(http, "world", feed_server.url(), FeedValidators())
    assert str(caught.value) == f"feed world: HTTP {status} from {feed_server.url()}"


@pytest.mark.parametrize("status", [404, 403, 410])
async def test_client_errors_are_permanent(
    http: Http, feed_server: FeedServer, status: int
) -> None:
    feed_server.status = status
    with pytest.raises(PermanentError, match=f"feed world: HTTP {status}"):
        await poll_feed(http, "world", feed_server.url(), FeedValidators())


async def test_html_served_at_a_feed_url_is_a_permanent_error(
    http: Http, feed_server: FeedServer
) -> None:
    feed_server.body = b"<html><body><h1>Subscribe!</h1></body></html>"
    feed_server.content_type = "text/html"
    with pytest.raises(PermanentError, match="not a feed"):
        await poll_feed(http, "world", feed_server.url(), FeedValidators())


async def test_network_refusals_pass_through(feed_server: FeedServer) -> None:
    async with Http(NetSettings(total_timeout=5.0)) as guarded:
        with pytest.raises(BlockedURL):
            await poll_feed(guarded, "world", feed_server.url(), FeedValidators())
    assert feed_server.requests == []


async def test_body_that_is_a_url_is_never_fetched(feed_server: FeedServer) -> None:
    with pytest.raises(PermanentError, match="not a feed"):
        parse_feed("world", feed_server.url().encode(), url=FEED_URL)
    assert feed_server.requests == []


# -- backoff -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "expected"), [(0, 300), (1, 300), (2, 600), (3, 1200), (7, 19200), (8, 21600)]
)
def test_backoff_doubles_per_failure_up_to_the_cap(failures: int, expected: float) -> None:
    assert backoff_delay(failures, base=300) == expected


def test_backoff_survives_absurd_failure_counts() -> None:
    assert backoff_delay(10_000, base=60, cap=3600) == 3600


def test_backoff_never_polls_a_failing_feed_more_often_than_a_healthy_one() -> None:
    assert backoff_delay(3, base=12 * 3600, cap=6 * 3600) == 12 * 3600
