"""Exact duplicates: the same article under another URL or with other layout is one article."""

from __future__ import annotations

import pytest

from bot.dedup import canonical_url, content_hash, normalize_text


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("https://news.example.com/world/story-1", "https://news.example.com/world/story-1"),
        ("https://news.example.com/world/story-1/", "https://news.example.com/world/story-1"),
        ("http://news.example.com/world/story-1", "https://news.example.com/world/story-1"),
        (
            "https://news.example.com/world/story-1#comments",
            "https://news.example.com/world/story-1",
        ),
        (
            "https://news.example.com/world/story-1?utm_source=tw&utm_medium=social",
            "https://news.example.com/world/story-1",
        ),
        (
            "https://news.example.com/world/story-1?fbclid=IwAR0x&gclid=abc",
            "https://news.example.com/world/story-1",
        ),
        ("https://www.news.example.com/world/story-1", "https://news.example.com/world/story-1"),
        ("https://m.news.example.com/world/story-1", "https://news.example.com/world/story-1"),
        ("https://amp.news.example.com/world/story-1", "https://news.example.com/world/story-1"),
        ("https://news.example.com/world/story-1/amp", "https://news.example.com/world/story-1"),
        ("https://news.example.com/amp/world/story-1", "https://news.example.com/world/story-1"),
        (
            "https://news.example.com/world/story-1?output=amp",
            "https://news.example.com/world/story-1",
        ),
        (
            "https://news.example.com/world/story-1.amp.html",
            "https://news.example.com/world/story-1.html",
        ),
        ("HTTPS://NEWS.EXAMPLE.COM:443/world/story-1", "https://news.example.com/world/story-1"),
    ],
)
def test_variants_of_one_article_share_a_canonical_url(variant: str, canonical: str) -> None:
    assert canonical_url(variant) == canonical


def test_query_parameters_that_select_content_are_kept_and_sorted() -> None:
    assert canonical_url("https://x.example/article.php?story=12&id=5") == (
        "https://x.example/article.php?id=5&story=12"
    )
    assert canonical_url("https://x.example/a?id=5") != canonical_url("https://x.example/a?id=6")


def test_a_non_default_port_stays_part_of_the_key() -> None:
    assert (
        canonical_url("http://127.0.0.1:8123/upi/s1.html") == "https://127.0.0.1:8123/upi/s1.html"
    )


def test_layout_case_and_punctuation_do_not_change_the_text_hash() -> None:
    a = "Putin met Witkoff in Moscow.\n\nThe talks lasted five hours."
    b = "  PUTIN met Witkoff in Moscow —   the talks lasted five hours!  "
    assert normalize_text(a) == "putin met witkoff in moscow the talks lasted five hours"
    assert content_hash(a) == content_hash(b)


def test_a_changed_word_changes_the_text_hash() -> None:
    assert content_hash("Talks in Geneva on Sunday.") != content_hash("Talks in Geneva on Monday.")


@pytest.mark.parametrize(
    "text",
    [
        "Putin met Witkoff in Moscow.\n\nThe talks lasted five hours.",
        "ＫＹＩＶ — Зеленський і Віткофф: «мирний план» (28 пунктів)…",
        "Two words",
        "",
    ],
)
def test_the_workers_hash_and_signature_in_one_pass_are_the_separate_ones(text: str) -> None:
    from bot.dedup import hash_and_signature, signature

    assert hash_and_signature(text) == (content_hash(text), signature(text))
