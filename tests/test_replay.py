"""The replay server and the alert receiver, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import calendar
import io
import json
import os
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import trafilatura

from bot.errors import ConfigError
from bot.replay import (
    TEMPLATE_PHRASES,
    AlertReceiver,
    CorpusArticle,
    ReplayClock,
    ReplayServer,
    load_corpus,
    main,
)


def shared_dir() -> Path:
    """`../shared` beside the repository; skips where absent, fails under CI."""
    path = Path(__file__).resolve().parents[2] / "shared"
    if not path.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} not found: the acceptance tier must run under CI")
        pytest.skip("../shared not found: acceptance tier")
    return path


T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
GENEVA = CorpusArticle(
    id="w1",
    title="Envoys arrive in Geneva for talks",
    outlet="wire",
    published=T0 + timedelta(hours=1),
    text=(
        "US and Ukrainian envoys arrived in Geneva on Sunday. Talks begin on Monday. "
        "A third sentence stays out of the summary.\n"
        "Officials said a revised plan would be discussed.\n"
        "No deadline was set."
    ),
    url="https://news.example/geneva",
)
TRICKY = CorpusArticle(
    id="h1",
    title='Markup <b>in</b> a "title" & more',
    outlet="herald",
    published=T0 + timedelta(hours=2),
    text=(
        "A paragraph quoting <script>alert('x')</script> & an ampersand.\n"
        'Tom & Jerry said 1 < 2 > 0 and "quoted" words.\n'
        "The last paragraph is plain."
    ),
    lang="de",
)
DEADLINE = CorpusArticle(
    id="w2",
    title="Deadline for the peace plan moved to Thursday",
    outlet="wire",
    published=T0 + timedelta(hours=3),
    text="The deadline moved to Thursday, officials said.\nThe envoy will travel to Moscow.",
)
ARTICLES = [GENEVA, TRICKY, DEADLINE]


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(T0)


@pytest.fixture
async def server(clock: ReplayClock) -> AsyncIterator[ReplayServer]:
    async with ReplayServer(ARTICLES, clock) as s:
        yield s


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


def parse_feed(body: bytes) -> Any:
    feed = feedparser.parse(io.BytesIO(body))
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def word_counts(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def words_kept(original: str, extracted: str) -> float:
    want, got = word_counts(original), word_counts(extracted)
    return sum(min(n, got[w]) for w, n in want.items()) / sum(want.values())


class ParagraphTexts(HTMLParser):
    """The decoded text of every <p> element of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self._current = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._current is not None:
            self.paragraphs.append("".join(self._current))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.acceptance
def test_load_corpus_reads_the_seeds_sorted_by_publication() -> None:
    articles = load_corpus(shared_dir() / "corpus" / "seeds.jsonl")

    assert len(articles) == 13
    assert len({a.outlet for a in articles}) == 12
    published = [a.published for a in articles]
    assert published == sorted(published)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in published)
    assert all(a.text and a.title and a.lang == "en" for a in articles)


def test_load_corpus_names_path_line_and_field_of_every_bad_line(tmp_path: Path) -> None:
    good = {
        "id": "a",
        "title": "T",
        "outlet": "o",
        "published": "2025-11-26T20:00+00:00",
        "text": "x",
    }
    lines = [
        json.dumps(good),
        json.dumps(good | {"id": "b", "published": "next Thursday"}),
        json.dumps({k: v for k, v in good.items() if k != "title"} | {"id": "c"}),
        "{not json",
        json.dumps(good),
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_corpus(path)

    problems = caught.value.problems
    assert any(p.startswith(f"{path}:2:") and "'published'" in p for p in problems)
    assert any(p.startswith(f"{path}:3:") and "'title'" in p for p in problems)
    assert any(p.startswith(f"{path}:4:") and "JSON" in p for p in problems)
    assert any(p.startswith(f"{path}:5:") and "'id'" in p and "line 1" in p for p in problems)


def test_load_corpus_rejects_a_publication_time_without_zone(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    record = {"id": "a", "title": "T", "outlet": "o", "published": "2025-11-26T20:00", "text": "x"}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:1: field 'published'"):
        load_corpus(path)


def test_load_corpus_ignores_unknown_keys_and_sorts(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    records = [
        {"id": "late", "title": "L", "outlet": "o", "published": "2025-11-27T00:00:00+01:00",
         "text": "x", "seed": "001", "lang": "uk", "url": "https://example.org/late"},
        {"id": "early", "title": "E", "outlet": "o", "published": "2025-11-26T20:00:00Z",
         "text": "y"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")

    early, late = load_corpus(path)

    assert (early.id, late.id) == ("early", "late")
    assert late.published == datetime(2025, 11, 26, 23, 0, tzinfo=UTC)
    assert (late.lang, late.url) == ("uk", "https://example.org/late")
    assert (early.lang, early.url) == ("en", None)


def test_clock_moves_only_forward() -> None:
    clock = ReplayClock(T0)
    clock.advance(90)
    clock.advance_to(T0 + timedelta(hours=1))

    assert clock.now() == T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(T0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


# --- feeds -----------------------------------------------------------------------------------


async def test_feed_shows_an_article_once_the_clock_reaches_its_publication(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    before = await client.get(server.feed_url("wire"))
    clock.advance_to(GENEVA.published)
    after = await client.get(server.feed_url("wire"))

    assert before.status_code == 200
    assert parse_feed(before.content).entries == []
    assert after.headers["content-type"].startswith("application/rss+xml")
    (entry,) = parse_feed(after.content).entries
    assert entry.title == GENEVA.title
    assert entry.link == server.page_url("w1") == f"{server.base_url}/wire/w1.html"
    assert entry.id == "w1"
    assert entry.guidislink is False
    assert datetime.fromtimestamp(calendar.timegm(entry.published_parsed), UTC) == GENEVA.published
    assert entry.summary == (
        "US and Ukrainian envoys arrived in Geneva on Sunday. Talks begin on Monday."
    )


async def test_feed_lists_newest_first_and_escapes_titles(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    clock.advance_to(DEADLINE.published)

    wire = parse_feed((await client.get(server.feed_url("wire"))).content)
    herald = parse_feed((await client.get(server.feed_url("herald"))).content)

    assert [e.id for e in wire.entries] == ["w2", "w1"]
    assert [e.title for e in herald.entries] == [TRICKY.title]
    assert server.outlets == ["wire", "herald"]


async def test_feed_of_an_unknown_outlet_is_404(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    response = await client.get(server.feed_url("nobody"))

    assert response.status_code == 404


async def test_feed_answers_304_until_a_new_item_appears(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    clock.advance_to(GENEVA.published)
    url = server.feed_url("wire")
    first = await client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = await client.get(url, headers={"If-None-Match": etag})
    by_date = await client.get(url, headers={"If-Modified-Since": modified})
    clock.advance_to(DEADLINE.published)
    changed_by_etag = await client.get(url, headers={"If-None-Match": etag})
    changed_by_date = await client.get(url, headers={"If-Modified-Since": modified})

    assert modified == "Wed, 26 Nov 2025 13:00:00 GMT"
    assert (by_etag.status_code, by_etag.content, by_etag.headers["etag"]) == (304, b"", etag)
    assert by_date.status_code == 304
    assert changed_by_etag.status_code == 200
    assert changed_by_etag.headers["etag"] != etag
    assert len(parse_feed(changed_by_etag.content).entries) == 2
    assert changed_by_date.status_code == 200
    assert [r.status for r in server.requests] == [200, 304, 304, 200, 200]


async def test_feed_if_none_match_takes_precedence_over_if_modified_since(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    clock.advance_to(GENEVA.published)
    url = server.feed_url("wire")
    modified = (await client.get(url)).headers["last-modified"]

    response = await client.get(
        url, headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}
    )

    assert response.status_code == 200


async def test_an_empty_feed_also_has_validators(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    first = await client.get(server.feed_url("wire"))

    again = await client.get(
        server.feed_url("wire"), headers={"If-Modified-Since": first.headers["last-modified"]}
    )

    assert again.status_code == 304


# --- pages -----------------------------------------------------------------------------------


async def test_page_is_404_until_published(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    before = await client.get(server.page_url("w1"))
    clock.advance_to(GENEVA.published)
    after = await client.get(server.page_url("w1"))
    wrong_outlet = await client.get(f"{server.base_url}/herald/w1.html")

    assert before.status_code == 404
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/html")
    assert wrong_outlet.status_code == 404


async def test_page_holds_every_paragraph_html_escaped(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    clock.advance_to(TRICKY.published)

    page = (await client.get(server.page_url("h1"))).text
    parser = ParagraphTexts()
    parser.feed(page)

    assert "<script>alert" not in page
    assert "<b>in</b>" not in page
    assert '<html lang="de">' in page
    for paragraph in TRICKY.text.split("\n"):
        assert paragraph in parser.paragraphs
    assert all(phrase in page for phrase in TEMPLATE_PHRASES)


async def test_page_links_three_other_articles_in_a_related_box(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    clock.advance_to(DEADLINE.published)

    page = (await client.get(server.page_url("w1"))).text

    assert server.page_url("h1") in page
    assert server.page_url("w2") in page


@pytest.mark.acceptance
async def test_extraction_keeps_the_seed_texts_and_drops_the_template(
    client: httpx.AsyncClient,
) -> None:
    articles = load_corpus(shared_dir() / "corpus" / "seeds.jsonl")
    titles = {a.title for a in articles}
    clock = ReplayClock(articles[-1].published)
    failures: list[str] = []

    async with ReplayServer(articles, clock) as server:
        for article in articles:
            page = (await client.get(server.page_url(article.id))).text
            extracted = trafilatura.extract(page) or ""
            kept = words_kept(article.text, extracted)
            leaked = [p for p in TEMPLATE_PHRASES if p.lower() in extracted.lower()]
            # Another article's title is there only if the related box survived.
            others = titles - {article.title}
            leaked += [t for t in others if t in extracted and t not in article.text]
            if kept < 0.95 or leaked:
                failures.append(f"{article.id}: kept {kept:.1%} of the words, leaked {leaked}")

    assert not failures, "\n".join(failures)


@pytest.mark.acceptance
def test_template_phrases_never_occur_in_the_seed_texts() -> None:
    articles = load_corpus(shared_dir() / "corpus" / "seeds.jsonl")

    for article in articles:
        body = f"{article.title}\n{article.text}".lower()
        assert not [p for p in TEMPLATE_PHRASES if p.lower() in body], article.id


# --- failures, delays, records ---------------------------------------------------------------


async def test_fail_answers_the_status_the_given_number_of_times(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    url = server.feed_url("wire")
    server.fail(url, 503, times=2, headers={"Retry-After": "7"})

    statuses = [(await client.get(url)).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert [r.status for r in server.requests] == [503, 503, 200]


async def test_fail_on_every_path_lasts_until_cleared(
    server: ReplayServer, clock: ReplayClock, client: httpx.AsyncClient
) -> None:
    clock.advance_to(GENEVA.published)
    server.fail("*", 500)
    server.fail("/herald/feed.xml", 429, times=1)

    during = [
        (await client.get(server.feed_url("herald"))).status_code,
        (await client.get(server.feed_url("herald"))).status_code,
        (await client.get(server.page_url("w1"))).status_code,
        (await client.get(f"{server.base_url}/healthz")).status_code,
    ]
    server.clear_failures()
    after = (await client.get(server.page_url("w1"))).status_code

    assert during == [429, 500, 500, 500]
    assert after == 200


async def test_requests_are_recorded_with_lower_case_headers(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    await client.get(server.feed_url("wire"), headers={"User-Agent": "newsbot-test"})

    (record,) = server.requests
    assert (record.method, record.path, record.status) == ("GET", "/wire/feed.xml", 200)
    assert record.headers["user-agent"] == "newsbot-test"


async def test_delay_holds_each_answer(clock: ReplayClock, client: httpx.AsyncClient) -> None:
    loop = asyncio.get_running_loop()
    async with ReplayServer(ARTICLES, clock, delay=0.05) as server:
        started = loop.time()
        await client.get(server.feed_url("wire"))
        elapsed = loop.time() - started

    assert elapsed >= 0.05


async def test_healthz(server: ReplayServer, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{server.base_url}/healthz")

    assert (response.status_code, response.text) == (200, "ok")


async def test_release_next_publishes_articles_in_order(
    server: ReplayServer, clock: ReplayClock
) -> None:
    released = [server.release_next() for _ in range(4)]

    assert released == [GENEVA, TRICKY, DEADLINE, None]
    assert clock.now() == DEADLINE.published
    assert server.published() == ARTICLES


def test_main_exits_2_on_a_bad_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text("[]\n", encoding="utf-8")

    with pytest.raises(SystemExit) as caught:
        main([str(path)])

    assert caught.value.code == 2
    assert f"{path}:1:" in capsys.readouterr().err


# --- the alert receiver ----------------------------------------------------------------------


async def test_receiver_records_json_posts(
    receiver: AlertReceiver, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        receiver.url, json={"text": "Envoy to Moscow"}, headers={"Webhook-Id": "msg_1"}
    )

    assert response.status_code == 200
    (got,) = receiver.received
    assert got.json == {"text": "Envoy to Moscow"}
    assert json.loads(got.body) == got.json
    assert got.headers["webhook-id"] == "msg_1"
    assert got.path == "/hook"
    assert receiver.delivered == [got]


async def test_receiver_answers_queued_statuses_in_order_then_200(
    receiver: AlertReceiver, client: httpx.AsyncClient
) -> None:
    receiver.respond_with(500, (429, {"Retry-After": "2"}))

    responses = [await client.post(receiver.url, json={"n": n}) for n in range(3)]

    assert [r.status_code for r in responses] == [500, 429, 200]
    assert responses[1].headers["retry-after"] == "2"
    assert [r.json for r in receiver.delivered] == [{"n": 2}]


async def test_receiver_wait_for_returns_once_enough_are_delivered(
    receiver: AlertReceiver, client: httpx.AsyncClient
) -> None:
    receiver.respond_with(503)

    async def send() -> None:
        for n in range(3):
            await client.post(receiver.url, json={"n": n})

    delivered, _ = await asyncio.gather(receiver.wait_for(2, timeout=5), send())

    assert [r.json for r in delivered] == [{"n": 1}, {"n": 2}]


async def test_receiver_wait_for_times_out(receiver: AlertReceiver) -> None:
    with pytest.raises(TimeoutError, match="0 of 1"):
        await receiver.wait_for(1, timeout=0.05)


async def test_receiver_hang_makes_the_client_time_out(
    receiver: AlertReceiver, client: httpx.AsyncClient
) -> None:
    receiver.hang(30)

    with pytest.raises(httpx.ReadTimeout):
        await client.post(receiver.url, json={"try": 1}, timeout=0.2)
    receiver.hang(0)
    await client.post(receiver.url, json={"try": 2})

    assert [r.json for r in receiver.received] == [{"try": 1}, {"try": 2}]
    assert [r.json for r in await receiver.wait_for(1)] == [{"try": 2}]
