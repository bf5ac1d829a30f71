"""No article can crash a rule: the default pack over headlines and generated text of its own
names, places, numbers, punctuation and scripts, and over input past the limits the rules read
within (cut, matched in part, and counted)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Condition, EntityTerm, RegexTerm, RuleConfig, load_config
from bot.models import Match
from bot.rules import RuleSet
from bot.rules._ruleset import MAX_TEXT
from bot.rules._text import MAX_SENTENCE

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)


@cache
def pack() -> tuple[RuleConfig, ...]:
    return tuple(load_config(REPO / "rules", {}).rules)


def fresh_ruleset() -> RuleSet:
    return RuleSet.compile(pack())


def test_a_headline_listing_two_envoys_with_a_comma_pairs_both_with_the_place() -> None:
    rs = fresh_ruleset()
    found = rs.match("Witkoff, Kushner to meet Putin in Moscow", "", T0, lang="en")
    assert not rs.errors
    assert sorted(m.key for m in found if m.rule_id == "envoy-visit") == [
        ("Kushner", "Moscow"),
        ("Witkoff", "Moscow"),
    ]


# -- property: the pack's own vocabulary in any order, any script ------------------------------


def _phrases(cond: Condition | None) -> Iterator[str]:
    if cond is None:
        return
    for terms in (cond.any, cond.all, cond.none):
        for term in terms or ():
            if isinstance(term, str):
                yield term
            elif isinstance(term, Condition):
                yield from _phrases(term)
            elif isinstance(term, RegexTerm | EntityTerm):
                continue


@cache
def vocabulary() -> tuple[tuple[str, ...], ...]:
    """The pack's words by kind: each entity list (names and aliases), then its phrases."""
    kinds: list[tuple[str, ...]] = []
    phrases: dict[str, None] = {}
    for rule in pack():
        for entries in rule.entities.values():
            kinds.append(
                tuple(dict.fromkeys(w for name, aliases in entries for w in (name, *aliases)))
            )
        phrases.update(dict.fromkeys(_phrases(rule.when)))
        phrases.update(dict.fromkeys(_phrases(rule.topic)))
    kinds.append(tuple(phrases))
    return tuple(kinds)


NUMBERS = ("28", "20-point", "28-punktowy", "twenty-eight", "3.5", "1,000", "27.", "0", "٢٨")
PUNCTUATION = (
    ",",
    ".",
    ", ",
    ". ",
    "!",
    "?",
    "…",
    ":",
    ";",
    " — ",
    " – ",
    "-",
    "'",
    "’",
    "'s",
    '"',
    "«",
    "»",
    "(",
    ")",
    "(Reuters)",
    "\n",
    "\n\n",
    "\t",
    "\u00a0",
    "。",
    "！",
    "？",
    "、",
    "،",
    "؟",
    "\u200f",
    "\u200e",
    "\u202b",
    "\u202c",
    "\u200b",
    "\ufeff",
)
SCRIPTS = (
    "Witkoff",
    "Уиткофф",
    "Уиткоффа",
    "Віткоффом",
    "Witkoffin",
    "Kushnerem",
    "ويتكوف",
    "موسكو",
    "جنيف",
    "维特科夫",
    "莫斯科",
    "日内瓦",
    "ウィトコフ",
    "モスクワ",
    "विटकॉफ",
    "मास्को",
    "İstanbul",
    "Cenevre'de",
    "Moskova'ya",
    "l'Ukraine",
    "27. November",
    "Nov. 27",
    "Dr.",
    "U.S.",
    "after",
    "in",
    "to",
    "в",
    "у",
    "who",
    "который",
    "and",
    "и",
    "WASHINGTON —",
    "Moscow:",
)
FILLER = ("the", "said", "on", "Tuesday", "plan", "deadline", "week", "visit", "talks", "met")


def tokens() -> st.SearchStrategy[str]:
    return st.one_of(
        *(st.sampled_from(words) for words in vocabulary()),
        st.sampled_from(NUMBERS),
        st.sampled_from(PUNCTUATION),
        st.sampled_from(SCRIPTS),
        st.sampled_from(FILLER),
        st.text(max_size=4),  # anything at all, surrogates and controls aside
    )


def texts(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Tokens, each followed by a space, nothing, two spaces or a line break."""
    separator = st.sampled_from((" ", "", "  ", "\n"))
    return st.lists(st.tuples(tokens(), separator), min_size=min_size, max_size=max_size).map(
        lambda parts: "".join(token + sep for token, sep in parts)
    )


RULESET = fresh_ruleset()  # compiled once: the property is about articles, not compilation
LANGS = st.sampled_from(("en", "ru", "de", "tr", "zh", "ar", "und"))


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(title=texts(0, 16), text=texts(20, 120), lang=LANGS)
def test_no_generated_article_makes_a_rule_of_the_pack_raise(
    title: str, text: str, lang: str | None
) -> None:
    found = RULESET.match(title, text, T0, lang=lang)
    assert not RULESET.errors, dict(RULESET.errors)
    for m in found:
        assert m.rule_id in RULESET.rule_ids


# -- bad input within limits -------------------------------------------------------------------

TRIP = "Witkoff flew to Moscow on Tuesday for talks with Putin on the Ukraine peace plan. "


def keys(found: list[Match]) -> list[tuple[str, ...]]:
    return sorted(m.key for m in found if m.rule_id == "envoy-visit")


def test_a_megabyte_with_no_sentence_end_is_read_in_windows_and_counted() -> None:
    rs = fresh_ruleset()
    reasons: list[str] = []
    text = TRIP.rstrip(". ") + " " + "and the talks went on " * 50_000  # 1.1 MB, one sentence
    found = rs.match("", text, T0, lang="en", skipped=reasons.append)
    assert keys(found) == [("Witkoff", "Moscow")]
    (visit,) = [m for m in found if m.rule_id == "envoy-visit"]
    assert all(len(e) <= MAX_SENTENCE for e in visit.evidence)
    assert sorted(reasons) == ["sentence_cut", "text_cut"]
    assert rs.skipped == Counter({"sentence_cut": 1, "text_cut": 1})
    assert not rs.errors


def test_text_past_the_most_the_rules_read_is_not_matched() -> None:
    rs = fresh_ruleset()
    filler = "Officials said the talks would go on. " * (MAX_TEXT // 38 + 1)
    assert keys(rs.match("", filler + TRIP, T0, lang="en")) == []
    assert rs.skipped["text_cut"] == 1
    assert keys(rs.match("", TRIP + filler, T0, lang="en")) == [("Witkoff", "Moscow")]


def test_an_article_read_whole_is_not_counted_as_skipped() -> None:
    rs = fresh_ruleset()
    reasons: list[str] = []
    assert keys(rs.match("", TRIP * 20, T0, lang="en", skipped=reasons.append))
    assert reasons == []
    assert not rs.skipped


def test_a_long_title_is_cut_and_counted() -> None:
    rs = fresh_ruleset()
    reasons: list[str] = []
    rs.match("Witkoff " * 2_000, "", T0, skipped=reasons.append)
    assert reasons == ["text_cut"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "right-to-left with marks",
            "\u200fوصل المبعوث الأمريكي ويتكوف إلى موسكو لإجراء محادثات مع بوتين بشأن"
            " أوكرانيا.\u200f",
        ),
        (
            "Latin and Cyrillic in one article",
            "Steve Witkoff said on Tuesday that talks would go on. Спецпосланник Уиткофф прилетел"
            " в Москву на переговоры с Путиным по Украине.",
        ),
        ("Chinese without spaces", "美国特使维特科夫抵达莫斯科，与普京会谈乌克兰和平计划。"),
    ],
)
def test_trips_are_found_in_other_scripts_and_mixed_text(name: str, text: str) -> None:
    rs = fresh_ruleset()
    assert keys(rs.match("", text, T0)) == [("Witkoff", "Moscow")], name
    assert not rs.errors


@pytest.mark.parametrize(
    "text",
    [
        "ཀྲུང་གོའི་ཆབ་སྲིད་ཀྱི་གནས་ཚུལ། " * 20,  # Tibetan: no dictionary, an unlisted script
        "→ ★ ☆ ♠ 123 456 !!! ??? … ‏‎ ‫‬",  # no letters at all: language unknown
        "\u202eWitkoff Moscow\u202c " * 200,  # right-to-left override around Latin names
        "\x00\x01\x1b[31m Witkoff \ufffd Moscow \udcff",  # controls, a lone surrogate
    ],
)
def test_unknown_scripts_and_languages_match_nothing_without_error(text: str) -> None:
    rs = fresh_ruleset()
    rs.match(text[:40], text, T0)
    assert not rs.errors
