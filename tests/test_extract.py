"""Extraction: a page's main text and title, without blocking the loop, surviving dead workers."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.extract
from bot.errors import PermanentError, TransientError
from bot.extract import Extractor, extract_html
from bot.models import Extracted

URL = "https://news.example.com/world/2025/11/23/envoys-geneva-peace-plan"
HEADLINE = "Envoys weigh a shorter peace plan in Geneva"
PARAGRAPHS = [
    "Envoys from Washington and Kyiv met in Geneva on Sunday to discuss a revised draft of the "
    "peace framework, officials from both delegations said after the talks ended late at night.",
    "The new draft shortens the original twenty-eight point plan and drops several provisions "
    "that Ukrainian negotiators had called unacceptable, according to two people familiar with "
    "the document.",
    "A deadline that had been set for Thursday is no longer binding, a senior official told "
    "reporters, adding that the delegations would reconvene in Abu Dhabi before the month ends.",
    "Neither side released the text of the revised framework, and the Kremlin said it had not "
    "yet received a copy through any of the usual diplomatic channels.",
]
NAV_LINKS = ["Subscribe to our newsletter", "Markets", "Opinion", "Sign in to your account"]
MOST_READ = "Oil prices jump on supply worries as markets slide"
FOOTER = "Copyright 2025 Example Daily Herald. All rights reserved. Cookie settings."


def news_page(paragraphs: list[str] = PARAGRAPHS) -> bytes:
    """A news article page as sites serve it: header navigation, article, sidebar, footer."""
    nav = "".join(f'<li><a href="/s/{i}">{name}</a></li>' for i, name in enumerate(NAV_LINKS))
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{HEADLINE} | Example Daily Herald</title>
  <meta property="og:title" content="{HEADLINE}">
  <meta name="author" content="Jane Doe">
  <meta property="article:published_time" content="2025-11-23T18:30:00Z">
</head>
<body>
  <header><nav><ul>{nav}</ul></nav></header>
  <main>
    <article>
      <h1>{HEADLINE}</h1>
      <p class="byline">By Jane Doe, Geneva</p>
      {body}
    </article>
    <aside><h2>Most read</h2><ul><li><a href="/markets/oil">{MOST_READ}</a></li></ul></aside>
  </main>
  <footer><p>{FOOTER}</p></footer>
</body>
</html>
""".encode()


NAV_ONLY_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>World news</title></head>
<body>
  <nav><a href="/world">World</a> <a href="/markets">Markets</a> <a href="/sport">Sport</a></nav>
  <p>This page has moved.</p>
</body></html>
"""


@pytest.fixture
def extractor() -> Iterator[Extractor]:
    ex = Extractor(1)
    try:
        yield ex
    finally:
        ex.close()


async def test_a_news_page_gives_its_paragraphs_and_title_without_navigation_or_footer(
    extractor: Extractor,
) -> None:
    result = await extractor.extract(news_page(), URL)

    assert result.title == HEADLINE
    for paragraph in PARAGRAPHS:
        assert paragraph in result.text
    for boilerplate in [*NAV_LINKS, MOST_READ, FOOTER]:
        assert boilerplate not in result.text


def test_author_site_name_and_language_come_from_the_pages_own_markup() -> None:
    page = (
        news_page()
        .replace(b'<html lang="en">', b'<html lang="en-GB">')
        .replace(
            b"</head>", b'<meta property="og:site_name" content="Example Daily Herald"></head>'
        )
    )
    result = extract_html(page, URL)
    assert result is not None
    assert (result.author, result.site_name, result.language) == (
        "Jane Doe",
        "Example Daily Herald",
        "en",
    )


def test_a_page_that_declares_no_language_has_none() -> None:
    result = extract_html(news_page().replace(b'<html lang="en">', b"<html>"), URL)
    assert result is not None and result.language == ""


async def test_processing_a_page_gives_its_text_with_the_signature_and_story_features_of_it(
    extractor: Extractor,
) -> None:
    from bot.dedup import content_hash, signature, story_features

    done = await extractor.process(news_page(), URL, "Feed title of the item")
    assert done.extracted.text == (await extractor.extract(news_page(), URL)).text
    assert done.fingerprint.signature == signature(done.extracted.text)
    assert done.fingerprint.content_hash == content_hash(done.extracted.text)
    assert done.fingerprint.features == story_features(
        "Feed title of the item", done.extracted.text
    )
    untitled = await extractor.process(news_page(), URL, "")
    assert untitled.fingerprint.features == story_features(HEADLINE, done.extracted.text)


async def test_processing_a_page_without_article_text_is_a_permanent_error(
    extractor: Extractor,
) -> None:
    with pytest.raises(PermanentError, match="no article text"):
        await extractor.process(NAV_ONLY_PAGE, "https://news.example.com/world", "World")


async def test_a_page_without_article_text_is_a_permanent_error(extractor: Extractor) -> None:
    with pytest.raises(PermanentError):
        await extractor.extract(NAV_ONLY_PAGE, "https://news.example.com/world")


async def test_the_event_loop_keeps_running_while_a_page_is_extracted(
    extractor: Extractor,
) -> None:
    await extractor.extract(news_page(), URL)  # the worker is up and has imported trafilatura
    long_page = news_page([f"{p} ({i})" for i in range(500) for p in PARAGRAPHS])
    ticks = 0
    extracting = True

    async def tick() -> None:
        nonlocal ticks
        while extracting:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    result = await extractor.extract(long_page, URL)
    extracting = False
    await ticker

    assert "(499)" in result.text
    # Parsing in the loop's own thread would leave the ticker no turn until it finished.
    assert ticks >= 100


def _killed_by_the_os(html: bytes | str, url: str | None = None) -> Extracted | None:
    """In place of extract_html in a worker: the process dies mid-task, as under the OOM killer."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the worker was killed")


async def test_a_worker_killed_mid_task_is_transient_and_the_next_page_is_extracted(
    extractor: Extractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool looks the function up at each call and sends it to the worker by reference.
    monkeypatch.setattr(bot.extract, "extract_html", _killed_by_the_os)
    with pytest.raises(TransientError):
        await extractor.extract(news_page(), URL)
    monkeypatch.undo()

    result = await extractor.extract(news_page(), URL)

    assert PARAGRAPHS[0] in result.text


def _never_finishes(html: bytes | str, url: str | None = None) -> Extracted | None:
    """In place of extract_html in a worker: a page the parser chews on far past any timeout."""
    time.sleep(60)
    raise AssertionError("unreachable: the worker should have been stopped")


async def test_a_page_over_the_timeout_is_transient_and_frees_the_worker_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extractor = Extractor(1, timeout=2.0)
    try:
        monkeypatch.setattr(bot.extract, "extract_html", _never_finishes)
        with pytest.raises(TransientError):
            await extractor.extract(news_page(), URL)
        monkeypatch.undo()

        result = await extractor.extract(news_page(), URL)
    finally:
        extractor.close()

    assert PARAGRAPHS[0] in result.text


def _reports_niceness(html: bytes | str, url: str | None = None) -> Extracted | None:
    """In place of extract_html in a worker: the worker's own CPU niceness, as its text."""
    return Extracted(text=" ".join([f"niceness={os.nice(0)}"] * 50), title="")


async def test_workers_run_at_a_lower_priority_than_the_bot(
    extractor: Extractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.extract, "extract_html", _reports_niceness)

    result = await extractor.extract(news_page(), URL)

    worker = int(result.text.split()[0].removeprefix("niceness="))
    assert worker == min(19, os.nice(0) + bot.extract.WORKER_NICENESS)  # 19 is the lowest


# Acceptance tier: real pages from ../shared with their gold article text.

BENCHMARK = Path("data") / "article-extraction-benchmark"


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def token_f1(predicted: str, gold: str) -> float:
    """F1 of the lower-cased word multisets: shared words over predicted (P) and gold (R)."""
    pred, ref = _words(predicted), _words(gold)
    common = sum((pred & ref).values())
    if common == 0:
        return 0.0
    precision = common / sum(pred.values())
    recall = common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def test_token_f1_counts_repeated_words_and_ignores_case() -> None:
    assert token_f1("The talks, the TALKS", "the talks the talks") == 1.0
    assert token_f1("talks talks", "talks") == pytest.approx(2 / 3)
    assert token_f1("", "talks") == 0.0


@pytest.mark.acceptance
def test_benchmark_pages_are_extracted_with_mean_token_f1_of_at_least_0_90(shared: Path) -> None:
    root = shared / BENCHMARK
    gold: dict[str, dict[str, str]] = json.loads(
        (root / "ground-truth.json").read_text(encoding="utf-8")
    )
    pages = sorted((root / "html").glob("*.html.gz"))
    assert len(pages) == len(gold) == 181

    scores = []
    for page in pages:
        truth = gold[page.name.removesuffix(".html.gz")]
        result = extract_html(gzip.decompress(page.read_bytes()), truth["url"])
        scores.append(token_f1(result.text if result else "", truth["articleBody"]))

    assert sum(scores) / len(scores) >= 0.90
