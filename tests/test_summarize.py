"""The extractive summary: evidence, central context sentences, bounds, determinism."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.models import Article, Match
from bot.summarize import (
    CONTEXT_CHARS,
    EVIDENCE_CHARS,
    SUMMARY_CHARS,
    build_payload,
    context_sentences,
    lead,
    sentences,
)

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)

FLUFF_LEAD = (
    "It was a bright and sunny morning in the capital, with cafés busy and traffic calm "
    "along the river embankment."
)
EVIDENCE = "The White House said on Tuesday that Witkoff would travel to Moscow next week."
CENTRAL = (
    "Witkoff will present the revised peace plan to Putin in Moscow, the first peace plan "
    "draft both Kyiv and Moscow have seen."
)
ENGLISH = "\n".join(
    [
        FLUFF_LEAD,
        "Tourists strolled through the old town as street musicians played for passing crowds.",
        EVIDENCE,
        CENTRAL,
        "Ukrainian officials in Kyiv reviewed an earlier draft in Geneva.",
        "Elsewhere, a football match was postponed because of heavy rain.",
        "Putin told reporters he was open to talks on the plan.",
    ]
)


def article(text: str = ENGLISH, *, title: str = "Witkoff to take peace plan to Moscow") -> Article:
    return Article(
        url="https://news.example/a",
        canonical_url="https://news.example/a",
        feed="wire",
        title=title,
        text=text,
        published=T0,
        fetched_at=T0,
        content_hash="h",
        site_name="Example News",
    )


def match(*evidence: str) -> Match:
    return Match(
        rule_id="envoy-visit",
        title="Witkoff to Moscow",
        evidence=evidence,
        values={"envoy": "Witkoff", "place": "Moscow"},
    )


def payload(
    text: str = ENGLISH, *evidence: str, title: str = "Witkoff to take peace plan to Moscow"
) -> dict[str, Any]:
    return build_payload(
        match(*(evidence or (EVIDENCE,))),
        article(text, title=title),
        alert_id="a1",
        created_at=T0,
    )


def test_the_context_is_the_sentence_central_to_the_article_not_its_lead() -> None:
    body = payload()
    assert CENTRAL in body["context"]
    assert FLUFF_LEAD not in body["context"]
    assert body["article"]["lead"].startswith("It was a bright and sunny morning")


def test_the_summary_is_the_first_evidence_sentence_then_the_most_central_one() -> None:
    body = payload()
    assert body["summary"] == f"{EVIDENCE} {CENTRAL}"
    assert body["summary_source"] == "extractive"
    assert body["title"] == "Witkoff to Moscow"


def test_context_never_repeats_the_evidence() -> None:
    # The most central sentence of all is the evidence itself: context must say something else.
    body = payload(ENGLISH, CENTRAL)
    assert body["evidence"] == [CENTRAL]
    assert CENTRAL not in body["context"]
    assert body["context"]
    assert all("present the revised peace plan" not in c for c in body["context"])


def test_a_trimmed_evidence_sentence_is_still_recognised_in_the_article() -> None:
    long_evidence = CENTRAL + " " + "And then more words follow here. " * 30
    text = ENGLISH.replace(CENTRAL, long_evidence.strip())
    body = payload(text, long_evidence)
    assert body["evidence"][0].endswith("…")
    assert CENTRAL not in body["context"]


def test_the_same_article_gives_the_same_payload() -> None:
    first = json.dumps(payload(), sort_keys=True)
    assert all(json.dumps(payload(), sort_keys=True) == first for _ in range(5))


def test_context_sentences_keep_article_order() -> None:
    chosen = context_sentences(ENGLISH, title=article().title, evidence=[EVIDENCE])
    positions = [ENGLISH.index(s) for s in chosen]
    assert positions == sorted(positions)
    assert 1 <= len(chosen) <= 2


def test_quotes_headings_and_tiny_sentences_are_not_context() -> None:
    quote = "“Witkoff will bring the peace plan to Moscow and Putin will read the plan.”"
    heading = "Witkoff Moscow peace plan Putin Kyiv draft live updates"
    text = "\n".join([quote, heading, "Peace plan, Moscow.", FLUFF_LEAD, CENTRAL, EVIDENCE])
    chosen = context_sentences(text, title="Peace plan", evidence=[EVIDENCE])
    assert chosen == [CENTRAL]


def test_sentences_inside_a_multi_sentence_quotation_are_not_context() -> None:
    quotation = (
        "“Witkoff and Putin will agree the peace plan in Moscow. The peace plan draft from Kyiv "
        "is the basis for Moscow and Witkoff,” the envoy said."
    )
    text = "\n".join([FLUFF_LEAD, quotation, CENTRAL, EVIDENCE])
    chosen = context_sentences(text, title="Peace plan", evidence=[EVIDENCE])
    assert chosen == [CENTRAL]


def test_every_text_is_bounded_on_a_20000_character_article() -> None:
    paragraph = (
        "Negotiators from Kyiv and Moscow discussed the peace plan draft again on Thursday "
        "while Witkoff waited for Putin in the Kremlin with a long list of amendments to "
        "the security guarantees, the territorial clauses and the ceasefire monitoring " * 3
    ).strip() + "."
    filler = " ".join(
        f"Sentence {i} mentions the peace plan, Witkoff and Moscow among other things."
        for i in range(250)
    )
    text = f"{paragraph}\n{filler}\n{paragraph}"
    assert len(text) >= 20_000
    body = payload(text, paragraph, paragraph, paragraph, paragraph)
    assert len(body["evidence"]) == 3
    assert all(len(e) <= EVIDENCE_CHARS for e in body["evidence"])
    assert 1 <= len(body["context"]) <= 2
    assert all(len(c) <= CONTEXT_CHARS for c in body["context"])
    assert len(body["summary"]) <= SUMMARY_CHARS and body["summary"].endswith("…")
    assert len(body["article"]["lead"]) <= 400
    assert json.loads(json.dumps(body)) == body


def test_the_summary_is_cut_on_a_word_boundary() -> None:
    evidence = "Witkoff " + "travelled onwards to Moscow again " * 8 + "today."
    summary = payload(ENGLISH, evidence)["summary"]
    assert len(f"{evidence} {CENTRAL}") > SUMMARY_CHARS >= len(summary)
    assert summary.endswith("…") and not summary.endswith(" …")
    whole = f"{evidence} {CENTRAL}"
    assert whole.startswith(summary[:-1]) and whole[len(summary) - 1] == " "


def test_a_stub_of_context_is_left_out_when_the_evidence_fills_the_summary() -> None:
    evidence = "Witkoff " + "travelled onwards to Moscow again " * 10 + "today."
    assert SUMMARY_CHARS - 60 < len(evidence) < SUMMARY_CHARS
    assert payload(ENGLISH, evidence)["summary"] == evidence


RUSSIAN_LEAD = "Утро в столице выдалось тёплым, в парках гуляли семьи с детьми."
RUSSIAN_EVIDENCE = "Уиткофф прилетит в Москву на следующей неделе, сообщил Белый дом."
RUSSIAN_CENTRAL = (
    "Уиткофф обсудит с Путиным мирный план, а новый проект мирного плана уже видели в Киеве."
)
RUSSIAN = "\n".join(
    [
        RUSSIAN_LEAD,
        RUSSIAN_EVIDENCE,
        "На улицах было много туристов и уличных музыкантов.",
        RUSSIAN_CENTRAL,
        "В Киеве мирный план Уиткоффа изучали эксперты.",
        "Путин готов обсуждать мирный план, заявил Песков.",
    ]
)


def test_non_english_articles_get_central_context_too() -> None:
    body = payload(RUSSIAN, RUSSIAN_EVIDENCE, title="Мирный план: Уиткофф едет к Путину")
    assert body["summary"].startswith(RUSSIAN_EVIDENCE)
    assert RUSSIAN_CENTRAL in body["context"]
    assert RUSSIAN_LEAD not in body["context"]
    assert body["article"]["lead"] == RUSSIAN_LEAD


def test_the_article_language_picks_the_stop_words() -> None:
    # German "war" (was) is a function word; in English "war" is what the article is about.
    english = "\n".join(
        [
            "The war entered its fourth winter as talks on ending the war resumed in Geneva.",
            "Weather in the city was pleasant and cafés were full of visitors today.",
            "Diplomats said ending the war needs a ceasefire along the front line first.",
            "A ceasefire would end the war only if both armies pulled back from the front.",
        ]
    )
    chosen = context_sentences(english, title="Talks on ending the war", limit=1)
    assert "war" in chosen[0]


def test_sentences_do_not_break_after_abbreviations_or_initials() -> None:
    text = (
        "Mr. Witkoff met U.S. officials at 3 p.m. in Geneva. J. D. Vance was there. "
        "Зеленский прибыл в Берлин. Переговоры продолжатся."
    )
    assert sentences(text) == [
        "Mr. Witkoff met U.S. officials at 3 p.m. in Geneva.",
        "J. D. Vance was there.",
        "Зеленский прибыл в Берлин.",
        "Переговоры продолжатся.",
    ]


def test_a_short_article_gives_no_context_and_the_evidence_as_summary() -> None:
    body = payload("Witkoff flew to Moscow. Talks followed.", "Witkoff flew to Moscow.")
    assert body["context"] == []
    assert body["summary"] == "Witkoff flew to Moscow."


def test_without_evidence_the_summary_is_the_central_sentence_or_the_lead() -> None:
    no_evidence = Match(rule_id="r", title="t", evidence=())
    body = build_payload(no_evidence, article(), alert_id="a", created_at=T0)
    assert body["summary"] == body["context"][0] or body["summary"] in body["context"]
    empty = build_payload(no_evidence, article("Short."), alert_id="a", created_at=T0)
    assert empty["summary"] == lead("Short.") == "Short."


def test_the_documented_keys_keep_their_meaning() -> None:
    body = payload()
    assert body["id"] == "a1" and body["rule"] == "envoy-visit"
    assert body["severity"] == "info"
    assert body["values"] == {"envoy": "Witkoff", "place": "Moscow"}
    assert body["article"] == {
        "url": "https://news.example/a",
        "title": "Witkoff to take peace plan to Moscow",
        "outlet": "wire",
        "site_name": "Example News",
        "published": "2025-11-26T12:00:00+00:00",
        "lead": lead(ENGLISH),
        "extraction": "page",
    }
    assert body["sources"] == [
        {
            "url": "https://news.example/a",
            "outlet": "wire",
            "title": "Witkoff to take peace plan to Moscow",
        }
    ]
    assert body["created_at"] == "2025-11-26T12:00:00+00:00"


def test_story_sources_follow_the_article_without_repeats() -> None:
    other = {"url": "https://other.example/b", "outlet": "other", "title": "Envoy heads east"}
    body = build_payload(
        match(EVIDENCE),
        article(),
        alert_id="a1",
        created_at=T0,
        sources=[{"url": "https://news.example/a", "outlet": "wire", "title": "x"}, other, other],
    )
    assert [s["url"] for s in body["sources"]] == [
        "https://news.example/a",
        "https://other.example/b",
    ]


@pytest.mark.parametrize("llm", ["Witkoff will meet Putin in Moscow.", None])
def test_an_llm_summary_replaces_the_extractive_one(llm: str | None) -> None:
    body = build_payload(match(EVIDENCE), article(), alert_id="a", created_at=T0, llm_summary=llm)
    assert body["summary_source"] == ("llm" if llm else "extractive")
    assert body["summary"] == (llm or f"{EVIDENCE} {CENTRAL}")


def test_a_tiny_evidence_string_does_not_hide_every_sentence() -> None:
    body = payload(ENGLISH, "e")
    assert CENTRAL in body["context"]
