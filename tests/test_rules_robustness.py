"""No article can crash a rule: the default pack over headlines and generated text of its own
names, places, numbers, punctuation and scripts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Condition, EntityTerm, RegexTerm, RuleConfig, load_config
from bot.rules import RuleSet

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
