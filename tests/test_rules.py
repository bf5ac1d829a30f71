"""The rule engine: phrases, regexes and conditions over sentences, each rule isolated."""

from __future__ import annotations

import logging
import re
from typing import Any

import ahocorasick
import pytest

from bot.config import RuleConfig
from bot.models import Match
from bot.rules import RuleSet, fold, normalize, split_sentences
from bot.rules._nodes import RegexNode


def rule(
    when: dict[str, Any], *, id: str = "r", scope: str = "sentence", **extra: Any
) -> RuleConfig:
    return RuleConfig.model_validate({"id": id, "when": when, "scope": scope, **extra})


def matches(when: dict[str, Any], text: str, title: str = "", scope: str = "sentence") -> bool:
    return bool(RuleSet.compile([rule(when, scope=scope)]).match(title, text))


def evidence(
    when: dict[str, Any], text: str, title: str = "", scope: str = "sentence"
) -> tuple[str, ...]:
    (m,) = RuleSet.compile([rule(when, scope=scope)]).match(title, text)
    return m.evidence


ENVOY = {
    "all": [
        {"any": ["Witkoff", "Kushner", "Driscoll"]},
        {"any": ["Moscow", "Kyiv", "Abu Dhabi"]},
        {"any": ["visit", "travel", "arrive in", {"regex": r"\bmeet(s|ing)? with\b"}]},
    ],
    "none": ["archive"],
}


# -- conditions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Witkoff will visit Moscow.", True),
        ("Kushner is meeting with officials in Abu Dhabi.", True),
        ("Witkoff will visit Berlin.", False),  # no place
        ("Driscoll is in Kyiv.", False),  # no travel word
        ("From the archive: Witkoff will visit Moscow.", False),  # none
    ],
)
def test_any_all_none(text: str, expected: bool) -> None:
    assert matches(ENVOY, text) is expected


def test_any_holds_when_one_term_holds() -> None:
    assert matches({"any": ["ceasefire", "truce"]}, "A truce was agreed.")
    assert not matches({"any": ["ceasefire", "truce"]}, "Fighting went on.")


def test_several_keys_must_all_hold() -> None:
    when = {"any": ["plan"], "all": ["peace", "draft"], "none": ["rejected"]}
    assert matches(when, "A draft peace plan circulated.")
    assert not matches(when, "A draft peace deal circulated.")
    assert not matches(when, "A draft peace plan was rejected.")


def test_nested_conditions() -> None:
    when = {"any": [{"all": ["Putin", "call"]}, {"all": ["Zelensky", "meeting"]}]}
    assert matches(when, "Zelensky asked for a meeting.")
    assert not matches(when, "Zelensky asked for a call.")


def test_a_condition_of_only_none_holds_where_nothing_is_named() -> None:
    assert matches({"none": ["sport"]}, "Talks resumed.")
    assert not matches({"none": ["sport"]}, "Sport news.")


# -- scope ---------------------------------------------------------------------------------------


def test_sentence_scope_needs_every_term_in_one_sentence() -> None:
    text = "Witkoff landed on Monday. Later he visited Moscow."
    when = {"all": ["Witkoff", "Moscow"]}
    assert not matches(when, text, scope="sentence")
    assert matches(when, text, scope="article")


def test_article_scope_evidence_is_the_first_sentence_of_each_term() -> None:
    text = "Talks began. Witkoff landed on Monday. Witkoff rested. Moscow was cold. Moscow again."
    assert evidence({"all": ["Witkoff", "Moscow"]}, text, scope="article") == (
        "Witkoff landed on Monday.",
        "Moscow was cold.",
    )


def test_article_scope_evidence_counts_regexes_and_skips_none_terms() -> None:
    text = "One. A 28-point plan. Two. Nothing about archival matters here."
    when = {"all": [{"regex": r"\b\d+-point\b"}, "plan"], "none": ["archive"]}
    assert evidence(when, text, scope="article") == ("A 28-point plan.",)


def test_article_scope_evidence_is_at_most_three_in_article_order() -> None:
    text = "Delta came. Gamma came. Beta came. Alpha came."
    when = {"any": ["Alpha", "Beta", "Gamma", "Delta"]}
    assert evidence(when, text, scope="article") == ("Delta came.", "Gamma came.", "Beta came.")


# -- phrases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Shelling hit Kyiv overnight.", True),
        ("Kyivstar, the mobile operator, went down.", False),
        ("The Kyiv-based analyst said so.", True),
        ("Kyiv's mayor spoke.", True),
        ("AntiKyiv is not a word.", False),
        ("Kyiv_2 is an identifier.", False),
        ("Kyiv", True),
    ],
)
def test_phrases_match_on_word_boundaries(text: str, expected: bool) -> None:
    assert matches({"any": ["Kyiv"]}, text) is expected


def test_phrases_ending_in_punctuation_need_no_boundary_there() -> None:
    assert matches({"any": ["U.S."]}, "The U.S.-brokered plan.")
    assert not matches({"any": ["U.S."]}, "The US plan.")


@pytest.mark.parametrize(
    "text",
    [
        "Talks in ABU DHABI.",
        "Talks in abu dhabi.",
        "Talks in Abu   Dhabi.",
        "Talks in Abu\tDhabi.",
        "Talks in Abu\u00a0Dhabi.",
    ],
)
def test_phrases_ignore_case_and_whitespace(text: str) -> None:
    assert matches({"any": ["abu  dhabi"]}, text)


def test_a_multi_word_phrase_matches_across_a_line_break() -> None:
    text = "Witkoff will arrive\nin Moscow on Thursday."
    assert evidence({"all": ["Witkoff", "arrive in", "Moscow"]}, text) == (
        "Witkoff will arrive in Moscow on Thursday.",
    )


def test_case_folding_keeps_positions() -> None:
    assert fold("İstanbul ΟΔΟΣ") == "istanbul οδοσ"
    assert len(fold("İİİ Straße")) == len("İİİ Straße")
    text = "İİİ İstanbul talks. Then Kyiv talks."
    assert evidence({"any": ["istanbul"]}, text) == ("İİİ İstanbul talks.",)
    assert evidence({"any": ["Kyiv"]}, text) == ("Then Kyiv talks.",)


def test_normalize_maps_positions_back_to_the_original() -> None:
    original = "A \n\t B  C\u00a0D"
    n = normalize(original)
    assert n.text == "a b c d"
    assert [original[n.original(i)] for i in range(len(n.text))] == list("A B C\u00a0D")


def _normalized_by_hand(text: str) -> tuple[str, list[int]]:
    """Each whitespace run but a single space made one space, with each kept character's
    position in `text`: the definition, written the slow way."""
    out: list[str] = []
    where: list[int] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and text[j].isspace():
            j += 1
        if j > i and not (j - i == 1 and text[i] == " "):
            out.append(" ")
            where.append(i)  # a run's space stands at the run's first character
            i = j
            continue
        out.append(fold(text[i]) if j == i else " ")
        where.append(i)
        i += 1
    return "".join(out), where


def test_every_space_but_the_plain_one_is_unprintable() -> None:
    # normalize skips its search for odd spaces in text that str.isprintable() accepts
    odd = [c for c in map(chr, range(0x110000)) if c.isspace() and c != " "]
    assert len(odd) > 20
    assert not any(c.isprintable() for c in odd)


def test_normalize_agrees_with_its_definition_on_mixed_whitespace() -> None:
    import random

    rng = random.Random(11)
    pieces = [
        "Talks",
        "ΟΔΟΣ",
        "a",
        ".",
        " ",
        " ",
        " ",
        "  ",
        "\n",
        "\t",
        "\u00a0",
        "\u3000",
        "\r\n",
    ]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
        n = normalize(text)
        expected, where = _normalized_by_hand(text)
        assert n.text == expected, repr(text)
        assert [n.original(i) for i in range(len(n.text))] == where, repr(text)


def _random_condition(rng: Any, words: list[str], depth: int) -> dict[str, Any]:
    def term() -> Any:
        return (
            _random_condition(rng, words, depth - 1)
            if depth and rng.random() < 0.3
            else (rng.choice(words))
        )

    groups = rng.sample(["any", "all", "none"], rng.randint(1, 3))
    return {g: [term() for _ in range(rng.randint(1, 3))] for g in groups}


@pytest.mark.parametrize("scope", ["sentence", "paragraph", 4])
def test_phrase_only_rules_hold_in_exactly_the_units_tried_one_by_one(scope: Any) -> None:
    """A rule of phrases alone is decided from bit masks of its phrases' units; that must
    give the units where its tree holds when each unit is tried (the general path)."""
    import random

    from bot.rules._article import ArticleText

    rng = random.Random(5)
    words = ["talks", "envoy", "Kyiv", "peace plan", "deadline", "Moscow", "draft"]
    configs = [
        rule(_random_condition(rng, words, 2), id=f"r{i}", scope="sentence") for i in range(300)
    ]
    ruleset = RuleSet.compile(configs)
    tried = 0
    for _ in range(30):
        text = "\n".join(
            ". ".join(
                " ".join(rng.choice([*words, "the", "and", "said"]) for _ in range(6))
                for _ in range(rng.randint(1, 4))
            )
            + "."
            for _ in range(rng.randint(1, 4))
        )
        view = ArticleText("Envoy in Kyiv", text, ruleset._phrases, scope=scope)
        for compiled in ruleset.rules:
            assert compiled.root.phrases_only
            compiled.scope = scope
            one_by_one = [s for s in range(len(view.sentences)) if compiled.root.holds(view, s)]
            assert compiled.holding_units(view) == one_by_one, compiled.config.when
            tried += bool(one_by_one)
    assert tried > 500  # many rules held somewhere: the comparison was not of empty lists


def test_a_rule_with_a_regex_is_tried_unit_by_unit() -> None:
    from bot.rules._article import ArticleText

    ruleset = RuleSet.compile([rule({"all": ["plan", {"regex": r"\d+-point"}]})])
    root = ruleset.rules[0].root
    assert not root.phrases_only
    view = ArticleText("", "A plan. A 28-point plan.", ruleset._phrases)
    assert root.mask(view) == 0b10  # the general mask tries each unit: only the second holds
    assert evidence({"all": ["plan", {"regex": r"\d+-point"}]}, "A plan. A 28-point plan.") == (
        "A 28-point plan.",
    )


# -- regexes -------------------------------------------------------------------------------------


def test_regex_terms_match_case_insensitively() -> None:
    when = {"all": [{"regex": r"\b\d{1,2}-POINT\b"}, "plan"]}
    assert matches(when, "A 28-point plan was presented.")
    assert not matches(when, "A 128-point plan was presented.")
    assert not matches(when, "A 28-point list. A plan.")


class CountingPattern:
    """Stands in for a compiled regex and counts the searches made with it."""

    def __init__(self, pattern: str) -> None:
        self.compiled = re.compile(pattern, re.IGNORECASE)
        self.pattern = pattern
        self.searched: list[str] = []

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        self.searched.append(text[pos:])
        return self.compiled.search(text, pos)


def _regex_nodes(rules: RuleSet) -> list[RegexNode]:
    found: list[RegexNode] = []

    def walk(node: object) -> None:
        if isinstance(node, RegexNode):
            found.append(node)
        for group in ("any_", "all_", "none_"):
            for child in getattr(node, group, None) or ():
                walk(child)

    for compiled in rules.rules:
        walk(compiled.root)
    return found


def test_regexes_run_only_on_sentences_the_phrases_allow() -> None:
    rules = RuleSet.compile([rule({"all": ["Witkoff", {"regex": r"\bmeets?\b"}]})])
    (node,) = _regex_nodes(rules)
    counting = CountingPattern(node.pattern.pattern)
    node.pattern = counting  # type: ignore[assignment]
    text = "One. Two. Witkoff meets Putin. Three. Four meets five."
    assert [m.evidence for m in rules.match("", text)] == [("Witkoff meets Putin.",)]
    assert counting.searched == ["Witkoff meets Putin."]


def test_a_rule_of_regexes_alone_walks_the_text_once_not_every_sentence() -> None:
    rules = RuleSet.compile([rule({"all": [{"regex": r"\d+-point"}, {"regex": "plan"}]})])
    first = next(n for n in _regex_nodes(rules) if "point" in n.pattern.pattern)
    counting = CountingPattern(first.pattern.pattern)
    first.pattern = counting  # type: ignore[assignment]
    sentences = [f"Sentence {i} says nothing." for i in range(40)]
    sentences[25] = "A 28-point plan was shown."
    text = " ".join(sentences)
    assert [m.evidence for m in rules.match("", text)] == [("A 28-point plan was shown.",)]
    # two to walk the text (the match, then no other), one to confirm its sentence, one more
    # at most for the evidence; one search per sentence would be 40 and more
    assert len(counting.searched) <= 4


def test_a_regex_shared_by_rules_is_compiled_once() -> None:
    rules = RuleSet.compile(
        [rule({"any": [{"regex": "x+"}]}, id="a"), rule({"all": ["y", {"regex": "x+"}]}, id="b")]
    )
    a, b = _regex_nodes(rules)
    assert a is b


# -- the title -----------------------------------------------------------------------------------


def test_the_title_is_a_sentence_of_its_own() -> None:
    when = {"all": ["Witkoff", "Moscow"]}
    assert evidence(when, "He left on Monday.", title="  Witkoff  heads to Moscow ") == (
        "Witkoff heads to Moscow",
    )
    # A title without a full stop does not run into the text's first sentence.
    assert not matches(when, "Moscow is cold.", title="Witkoff travels")
    assert matches(when, "Moscow is cold.", title="Witkoff travels", scope="article")


# -- evidence and the match --------------------------------------------------------------------


def test_a_match_carries_the_rule_title_severity_targets_and_evidence() -> None:
    cfg = rule(
        {"any": ["ceasefire"]},
        id="truce",
        title="Ceasefire talk",
        severity="critical",
        notify=["chat", "console"],
    )
    text = (
        "Talks went on.\n  A ceasefire was   proposed.  Another ceasefire idea! "
        "Weather was fine. A third ceasefire? A fourth ceasefire."
    )
    assert RuleSet.compile([cfg]).match("Headline", text) == [
        Match(
            rule_id="truce",
            title="Ceasefire talk",
            evidence=("A ceasefire was proposed.", "Another ceasefire idea!", "A third ceasefire?"),
            values={},
            severity="critical",
            targets=("chat", "console"),
            template="Ceasefire talk",
        )
    ]


def test_a_title_repeated_as_the_first_line_is_one_piece_of_evidence() -> None:
    title = "Witkoff to visit Moscow"
    text = "Witkoff to visit Moscow\nThe envoy will visit Moscow again."
    assert evidence({"all": ["visit", "Moscow"]}, text, title=title) == (
        "Witkoff to visit Moscow",
        "The envoy will visit Moscow again.",
    )


def test_matches_follow_rule_order() -> None:
    rules = RuleSet.compile(
        [
            rule({"any": ["b"]}, id="first"),
            rule({"any": ["a"]}, id="second"),
            rule({"any": ["zzz"]}, id="third"),
        ]
    )
    assert [m.rule_id for m in rules.match("", "a b")] == ["first", "second"]


def test_empty_articles_and_rule_sets() -> None:
    assert RuleSet.compile([rule({"any": ["x"]})]).match("", "") == []
    assert RuleSet.compile([]).match("Title", "Text.") == []
    assert RuleSet.compile([rule({"any": [{"regex": "te"}]})]).match("", "Text.") != []


# -- isolation -----------------------------------------------------------------------------------


def test_a_rule_that_raises_is_skipped_logged_and_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = RuleSet.compile(
        [rule({"any": ["Kyiv"]}, id="broken"), rule({"any": ["Kyiv"]}, id="fine")]
    )

    def boom(*_args: object) -> None:
        raise RuntimeError("rule bug")

    monkeypatch.setattr(rules.rules[0], "matches", boom)
    with caplog.at_level(logging.ERROR, logger="bot.rules"):
        first = rules.match("", "Kyiv.")
        second = rules.match("", "Kyiv again.")
    assert [m.rule_id for m in first] == [m.rule_id for m in second] == ["fine"]
    assert rules.errors == {"broken": 2}
    assert [r.rule for r in caplog.records] == ["broken", "broken"]  # type: ignore[attr-defined]
    assert caplog.records[0].exc_info is not None


def test_a_regex_that_raises_only_skips_its_rule() -> None:
    class Exploding(CountingPattern):
        def search(self, text: str) -> re.Match[str] | None:
            raise RecursionError("catastrophic")

    rules = RuleSet.compile(
        [rule({"any": [{"regex": "kyiv"}]}, id="regex"), rule({"any": ["Kyiv"]}, id="phrase")]
    )
    (node,) = _regex_nodes(rules)
    node.pattern = Exploding("kyiv")  # type: ignore[assignment]
    assert [m.rule_id for m in rules.match("", "Kyiv.")] == ["phrase"]
    assert rules.errors == {"regex": 1}


# -- the automaton -------------------------------------------------------------------------------


def test_one_automaton_per_rule_set_not_per_article(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    real = ahocorasick.Automaton

    def counting() -> object:
        automaton = real()
        built.append(automaton)
        return automaton

    monkeypatch.setattr(ahocorasick, "Automaton", counting)
    rules = RuleSet.compile(
        [rule({"any": ["Kyiv", "Moscow"]}, id="a"), rule({"all": ["Moscow", "talks"]}, id="b")]
    )
    for _ in range(5):
        rules.match("Moscow talks", "Kyiv and Moscow held talks.", lang="en")
    # one for the written forms, built with the rule set; one for English lemmas, built the
    # first time an English article is read and kept for the next ones
    assert len(built) == 2
    assert len(built[0]) == 3  # type: ignore[arg-type]  # Kyiv, Moscow, talks: once each
    rules.match("Moscow talks", "Киев и Москва провели переговоры.", lang="ru")
    assert len(built) == 3  # a new language: its own lemmas, once


# -- sentences -----------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "U.S. envoy Steve Witkoff met Putin on Nov. 27. He left.",
            ["U.S. envoy Steve Witkoff met Putin on Nov. 27.", "He left."],
        ),
        (
            "Mr. Smith and Mrs. Jones met Dr. Brown. They talked.",
            ["Mr. Smith and Mrs. Jones met Dr. Brown.", "They talked."],
        ),
        (
            "Gen. Syrskyi and Lt. Col. Ivanov spoke. Sen. Graham and Rep. Smith and Gov. Newsom "
            "agreed. St. Petersburg hosted.",
            [
                "Gen. Syrskyi and Lt. Col. Ivanov spoke.",
                "Sen. Graham and Rep. Smith and Gov. Newsom agreed.",
                "St. Petersburg hosted.",
            ],
        ),
        (
            "The U.K. and the U.N. and the E.U. objected. Talks ended.",
            ["The U.K. and the U.N. and the E.U. objected.", "Talks ended."],
        ),
        (
            "Deadlines: Jan. 5, Feb. 6, Aug. 7, Sept. 8, Oct. 9, Nov. 10 and Dec. 11. Done.",
            ["Deadlines: Jan. 5, Feb. 6, Aug. 7, Sept. 8, Oct. 9, Nov. 10 and Dec. 11.", "Done."],
        ),
        (
            "It is No. 1 vs. No. 2, e.g. Kyiv vs. Moscow, i.e. War. Yes.",
            ["It is No. 1 vs. No. 2, e.g. Kyiv vs. Moscow, i.e. War.", "Yes."],
        ),
        ("J. D. Vance spoke. Then he left.", ["J. D. Vance spoke.", "Then he left."]),
        (
            "Growth was 3.5 percent. Prices rose 2.1%.",
            ["Growth was 3.5 percent.", "Prices rose 2.1%."],
        ),
        (
            "He said... Moscow would wait. Then silence.",
            ["He said... Moscow would wait.", "Then silence."],
        ),
        ("Wait…Really? Yes! No. Maybe.", ["Wait…Really?", "Yes!", "No.", "Maybe."]),
        ('"Stop!" she said. "Go." He went.', ['"Stop!" she said.', '"Go."', "He went."]),
        ("It ended in 2024. 2025 began.", ["It ended in 2024.", "2025 began."]),
        ("the end. lower case goes on", ["the end. lower case goes on"]),
        (
            "Headline without stop\nFirst paragraph. Second one.\n\nThird\nparagraph wraps",
            ["Headline without stop", "First paragraph.", "Second one.", "Third\nparagraph wraps"],
        ),
        ("Talks with Mr.\nSmith ended.", ["Talks with Mr.\nSmith ended."]),
        ("Talks with Mr. \t\nSmith ended.", ["Talks with Mr. \t\nSmith ended."]),
        ("First line \t \nSecond line", ["First line", "Second line"]),
        ("Ends here.  \n \n  Next one", ["Ends here.", "Next one"]),
        ("It came from the U.S.\u00a0Then it left.", ["It came from the U.S.\u00a0Then it left."]),
        (
            # the word before a period is read back at most 40 characters
            "x" * 45 + "Mr. Smith went. Yes.",
            ["x" * 45 + "Mr.", "Smith went.", "Yes."],
        ),
        ("A pause … Then more.", ["A pause … Then more."]),
        ("  \n  ", []),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_split_sentences_spans_point_into_the_text() -> None:
    text = "  One.   Two!  "
    assert split_sentences(text) == [(2, 6), (9, 13)]


def test_two_phrases_of_one_lemma_in_two_rules_are_both_found() -> None:
    # "Україна" and "Україні" read "україна" alike: each rule keeps its own phrase
    rules = RuleSet.compile(
        [rule({"any": ["Україна"]}, id="nominative"), rule({"any": ["Україні"]}, id="locative")]
    )
    found = rules.match("", "Переговори щодо миру в Україною тривають.", lang="uk")
    assert sorted(m.rule_id for m in found) == ["locative", "nominative"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Kushnera widziano w Berlinie.", True),  # -a: an ending
        ("Witkoffovi poděkoval.", True),  # -ovi: an ending of three letters
        ("Witkoffovými slovy.", False),  # five letters: another word
    ],
)
def test_a_name_takes_an_ending_of_at_most_four_letters(text: str, found: bool) -> None:
    entities = {"envoy": ["Kushner", "Witkoff"]}
    compiled = RuleSet.compile([rule({"all": [{"entity": "envoy"}]}, entities=entities)])
    assert bool(compiled.match("", text, lang="cs")) is found


def test_a_failing_language_layer_loses_no_article(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.rules._ruleset as ruleset

    def broken(text: str) -> str:
        raise RuntimeError("identifier broke")

    monkeypatch.setattr(ruleset, "identify", broken)
    rules = RuleSet.compile([rule({"all": ["Witkoff", "Moscow"]})])
    found = rules.match("", "Witkoff flew to Moscow on Tuesday.")
    assert [m.rule_id for m in found] == ["r"]  # read as written
    assert rules.errors == {ruleset.LANGUAGE_ERRORS: 1}


def test_a_pair_names_the_larger_places_and_gives_way_to_a_closer_one() -> None:
    pair = rule(
        {"all": [{"entity": "envoy"}, {"entity": "place"}, "arrived"]},
        entities={"envoy": ["Witkoff"], "place": ["Miami", "Florida", "Geneva"]},
        within={"Miami": "Florida", "Florida": "United States"},
        trigger={"kind": "new", "key": ["envoy", "place"], "window": "10d"},
    )
    rules = RuleSet.compile([pair])
    text = "Witkoff arrived in Florida on Sunday. Witkoff arrived in Miami for the talks."
    found = rules.match("", text, lang="en")
    # one trip: the Florida pair gives way to the Miami one, which names where Miami lies
    assert [(m.key, m.values.get("within")) for m in found] == [
        (("Witkoff", "Miami"), "Florida, United States")
    ]
    elsewhere = rules.match("", "Witkoff arrived in Geneva.", lang="en")
    assert [(m.key, m.values.get("within")) for m in elsewhere] == [(("Witkoff", "Geneva"), None)]


def trips(**extra: Any) -> RuleSet:
    return RuleSet.compile(
        [
            rule(
                {"all": [{"entity": "envoy"}, {"entity": "place"}, {"any": ["met", "talks"]}]},
                entities={
                    "envoy": ["Witkoff", "Dmitriev", "Kushner", "Trump", "Zelensky"],
                    "place": ["Miami", "Florida", "Geneva", "Davos", "Switzerland", "Moscow"],
                },
                within={"Miami": "Florida", "Geneva": "Switzerland", "Davos": "Switzerland"},
                trigger={"kind": "new", "key": ["envoy", "place"], "window": "10d"},
                **extra,
            )
        ]
    )


def keys(found: list[Match]) -> list[tuple[str, ...]]:
    return sorted(m.key for m in found)


def test_a_pair_at_a_larger_place_goes_to_the_one_place_inside_it_the_report_names() -> None:
    rules = trips()
    text = "Dmitriev met officials in Miami on Saturday. Kushner met them in Florida as well."
    found = rules.match("", text, lang="en")
    assert keys(found) == [("Dmitriev", "Miami"), ("Kushner", "Miami")]
    assert {m.values["within"] for m in found} == {"Florida"}
    # two places inside it: which one is not known, the pair stays where the report put it
    text = (
        "Witkoff met officials in Geneva. Dmitriev met them in Davos. "
        "Kushner met them in Switzerland."
    )
    assert ("Kushner", "Switzerland") in keys(rules.match("", text, lang="en"))


def test_a_match_carries_the_keys_of_the_places_inside_its_place() -> None:
    (found,) = trips().match("", "Witkoff met Dmitriev's aides in Switzerland.", lang="en")
    assert found.key == ("Witkoff", "Switzerland")
    assert set(found.related) == {("Witkoff", "Geneva"), ("Witkoff", "Davos")}
    (found,) = trips().match("", "Witkoff met officials in Miami.", lang="en")
    assert found.related == ()  # nothing inside Miami: a report of it is never held for one


def test_the_one_who_meets_the_traveller_goes_too() -> None:
    rules = trips()
    found = rules.match("", "Witkoff met with Dmitriev in Miami on Saturday.", lang="en")
    assert keys(found) == [("Dmitriev", "Miami"), ("Witkoff", "Miami")]
    found = rules.match("", "Уиткофф рассказал о встрече с Дмитриевым в Майами.", lang="ru")
    assert keys(found) == []  # the names are not in this rule's gazetteer in Cyrillic
    # without "with" the earlier actor stays out: he is not the one meeting
    found = rules.match("", "Kushner said Dmitriev met officials in Miami.", lang="en")
    assert keys(found) == [("Dmitriev", "Miami")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zelensky met Witkoff's aides in Geneva for talks.", [("Zelensky", "Geneva")]),
        ("Trump and Zelensky held talks in Davos.", [("Trump", "Davos"), ("Zelensky", "Davos")]),
        # an owner, a source, a speaker, an attribute: not the one travelling
        ("The Trump administration held talks in Geneva.", []),
        ("Trump's envoy met officials in Moscow.", []),
        ("The envoy of President Trump met officials in Moscow.", []),
        ("He asked for permission from Zelensky for talks in Geneva.", []),
        ("Zelensky said, referring to the talks in Geneva, that all was well.", []),
        ("Envoys representing President Trump and Zelensky met for talks in Geneva.", []),
        # a noun of travel makes him the traveller, even after "of"
        ("Before the visit of Zelensky to Geneva the talks stalled.", [("Zelensky", "Geneva")]),
        # another place between him and this one: he goes to the first
        ("Trump met Zelensky in Davos as envoys prepared for talks in Moscow.",
         [("Trump", "Davos"), ("Zelensky", "Davos")]),
        # a principal named after the place, or too far before it, does not go
        ("In Geneva the talks went on, Zelensky said nothing.", []),
    ],
)
def test_a_principal_goes_only_as_the_sentences_own_traveller(
    text: str, expected: list[tuple[str, ...]]
) -> None:
    rules = trips(principals=["Trump", "Zelensky"])
    assert keys(rules.match("", text, lang="en")) == expected


def test_a_principal_named_in_a_case_ending_is_not_the_traveller() -> None:
    rule_ = rule(
        {"all": [{"entity": "envoy"}, {"entity": "place"}, "встреча"]},
        entities={"envoy": [{"Trump": ["Трамп"]}], "place": [{"Geneva": ["Женева"]}]},
        trigger={"kind": "new", "key": ["envoy", "place"], "window": "10d"},
        principals=["Trump"],
    )
    rules = RuleSet.compile([rule_])
    assert keys(rules.match("", "Трамп: встреча в Женеве завтра.", lang="ru")) == [
        ("Trump", "Geneva")
    ]
    assert keys(rules.match("", "Советник Трампа: встреча в Женеве завтра.", lang="ru")) == []
    # after a noun of travel the case ending is the traveller's ("the visit of Trump")
    assert keys(rules.match("", "До визита Трампа в Женеву встреча не состоится.", lang="ru")) == [
        ("Trump", "Geneva")
    ]


def test_the_members_of_a_delegation_named_in_the_next_sentence_go_to_its_venue() -> None:
    rules = RuleSet.compile(
        [
            rule(
                {"all": [{"entity": "envoy"}, {"entity": "place"}, {"any": ["talks", "led"]}]},
                entities={
                    "envoy": ["Yermak", "Umerov", "Budanov", "Hnatov", "Witkoff"],
                    "place": ["Geneva"],
                },
                venue={"any": ["delegation", "led by"]},
                trigger={"kind": "new", "key": ["envoy", "place"], "window": "10d"},
            )
        ]
    )
    text = (
        "Yermak arrived in Geneva for the talks on Saturday. The delegation is led by him. "
        "It also included Umerov, Budanov and Hnatov."
    )
    assert keys(rules.match("", text, lang="en")) == [
        ("Budanov", "Geneva"), ("Hnatov", "Geneva"), ("Umerov", "Geneva"), ("Yermak", "Geneva")
    ]
    # two names are no list of members: the sentence says nothing of the delegation
    text = (
        "Yermak arrived in Geneva for the talks on Saturday. The delegation is led by him. "
        "Umerov and Budanov stayed at home."
    )
    assert keys(rules.match("", text, lang="en")) == [("Yermak", "Geneva")]
    # and a list far from any sentence about the delegation goes nowhere
    text = (
        "Yermak arrived in Geneva for the talks on Saturday. The weather was fine. "
        "Umerov, Budanov and Hnatov stayed at home."
    )
    assert keys(rules.match("", text, lang="en")) == [("Yermak", "Geneva")]


def test_a_long_list_of_people_with_titles_goes_to_the_place_after_it() -> None:
    rules = trips()
    text = (
        "Steve Witkoff, Secretary of State Marco Rubio, National Security Adviser Mike Waltz, "
        "Saudi Arabia's Foreign Minister Prince Faisal bin Farhan, and Jared Kushner met "
        "their counterparts at Geneva's Intercontinental hotel for talks."
    )
    # Rubio and Waltz are not in this rule's gazetteer; the list carries back to Witkoff,
    # and a place in the possessive after "at" is where they are
    assert keys(rules.match("", text, lang="en")) == [("Kushner", "Geneva"), ("Witkoff", "Geneva")]
    # a stretch that says something is no list
    text = (
        "Witkoff, who said the plan was ready, told reporters that Kushner met officials in "
        "Geneva for talks."
    )
    assert keys(rules.match("", text, lang="en")) == [("Kushner", "Geneva")]
    # and a possessive place that is not where anyone is stays out
    assert keys(rules.match("", "Kushner met Geneva's refusal with talks.", lang="en")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a later clause's place is not the traveller's
        ("Witkoff met officials in Moscow on 13 March, two days after talks in Geneva ended.",
         [("Witkoff", "Moscow")]),
        # an itinerary or a list of places is
        ("Witkoff met officials in Geneva and Moscow.",
         [("Witkoff", "Geneva"), ("Witkoff", "Moscow")]),
        # the one named as the speaker after the place is not the traveller
        ("The negotiators will hold talks in Geneva, said Witkoff on Thursday.", []),
        ("The talks in Geneva went well for Witkoff.", [("Witkoff", "Geneva")]),
    ],
)
def test_which_place_an_actor_goes_to_when_the_sentence_names_several(
    text: str, expected: list[tuple[str, ...]]
) -> None:
    assert keys(trips().match("", text, lang="en")) == expected


def test_a_country_named_by_its_code_is_found_in_the_languages_of_the_pack() -> None:
    pair = rule(
        {"all": [{"entity": "envoy"}, {"entity": "place"}, {"any": ["talks", "переговоры"]}]},
        entities={"envoy": [{"Umerov": ["Умеров"]}], "place": [{"Germany": ["country:DE"]}]},
        trigger={"kind": "new", "key": ["envoy", "place"], "window": "10d"},
    )
    (entries,) = pair.entities["place"]
    assert {"Germany", "Deutschland", "Германия", "Niemcy", "Allemagne", "德国"} <= set(entries[1])
    rules = RuleSet.compile([pair])
    found = rules.match("", "Умеров прибыл в Германию на переговоры.", lang="ru")
    assert keys(found) == [("Umerov", "Germany")]


def test_a_country_code_cldr_does_not_know_is_refused_naming_it() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'country:XQ': no country with that code"):
        rule({"all": ["x"]}, entities={"place": [{"Nowhere": ["country:XQ"]}]})


def test_only_cyrillic_and_greek_names_get_a_latin_spelling() -> None:
    from bot.rules._phrases import _spellings

    assert "Umerov" in _spellings("Umerov", ["Умеров"])
    # a Latin form of Arabic or Chinese is nobody's spelling ("qtr" would find "Qtr 3")
    assert _spellings("Qatar", ["قطر", "卡塔尔"]) == ["Qatar", "قطر", "卡塔尔"]
