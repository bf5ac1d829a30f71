"""The language layer: what rules see of a text's language, words, scripts and place names."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.config import RuleConfig
from bot.language import (
    UNKNOWN,
    identify,
    is_dateline,
    is_destination,
    is_time_reference,
    lemma,
    lemma_stream,
    transliterate,
)
from bot.rules import PhraseIndex, RuleSet, split_sentences

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)

# -- identification ----------------------------------------------------------------------------

LONG = {
    "en": "The special envoy flew to Moscow on Tuesday for talks with the Kremlin about the "
    "peace plan, officials said, and is expected to return to Washington by the weekend.",
    "ru": "Специальный посланник прилетел в Москву во вторник для переговоров в Кремле о "
    "мирном плане, сообщили официальные лица, и вернется в Вашингтон к выходным.",
    "uk": "Спеціальний посланець прилетів до Москви у вівторок для переговорів у Кремлі щодо "
    "мирного плану, повідомили посадовці, і повернеться до Вашингтона до вихідних.",
    "de": "Der Sondergesandte ist am Dienstag nach Moskau geflogen, um im Kreml über den "
    "Friedensplan zu verhandeln, teilten Beamte mit; er soll am Wochenende zurückkehren.",
    "pl": "Specjalny wysłannik poleciał we wtorek do Moskwy na rozmowy na Kremlu w sprawie "
    "planu pokojowego, poinformowali urzędnicy, i ma wrócić do Waszyngtonu w weekend.",
    "tr": "Özel temsilci salı günü barış planı hakkında Kremlin'de görüşmeler yapmak için "
    "Moskova'ya uçtu ve yetkililere göre hafta sonuna kadar Washington'a dönecek.",
    "fr": "L'envoyé spécial s'est rendu mardi à Moscou pour des pourparlers au Kremlin sur le "
    "plan de paix, selon des responsables, et doit rentrer à Washington d'ici le week-end.",
    "ar": "وصل المبعوث الخاص إلى موسكو يوم الثلاثاء لإجراء محادثات في الكرملين بشأن خطة السلام، "
    "ومن المتوقع أن يعود إلى واشنطن بحلول نهاية الأسبوع.",
    "ja": "特使は火曜日、和平案をめぐるクレムリンでの協議のためモスクワに到着した。週末までに"
    "ワシントンに戻る予定だ。",
}
SHORT = {
    "en": "Witkoff flies to Moscow for talks",
    "ru": "Уиткофф прилетел в Москву на переговоры",
    "de": "Witkoff reist zu Gesprächen nach Moskau",
    "zh": "美国特使维特科夫抵达莫斯科，与普京会谈乌克兰和平计划。",
}


@pytest.mark.parametrize(("lang", "text"), sorted(LONG.items()))
def test_a_paragraph_is_identified_in_its_language(lang: str, text: str) -> None:
    assert identify(text) == lang


@pytest.mark.parametrize(("lang", "text"), sorted(SHORT.items()))
def test_a_headline_is_identified_in_its_language(lang: str, text: str) -> None:
    assert identify(text) == lang


@pytest.mark.parametrize(
    "text", ["", "   \n\t", "12:45 — 3,5 % +++ !!! ???", "→ ★ ☆ ♠ \u200f\u200e", "Путин"]
)
def test_text_with_no_letters_or_too_few_is_of_unknown_language(text: str) -> None:
    assert identify(text) == UNKNOWN


def test_only_the_start_of_a_long_text_is_read() -> None:
    assert identify(LONG["de"] * 10 + LONG["en"] * 200) == "de"


# -- lemma streams -----------------------------------------------------------------------------


def words_back(text: str, lang: str) -> list[str]:
    """Each lemma of `text`'s stream, with the original word found at its mapped position."""
    stream = lemma_stream(text, lang)
    assert stream is not None
    out = []
    for start in stream.starts:
        at = stream.original(start)
        out.append(re.match(r"\w+", text[at:]).group())  # type: ignore[union-attr]
    return out


def test_a_lemma_stream_maps_each_word_back_across_odd_whitespace() -> None:
    text = "Уиткофф \t прилетел\u00a0в\n\nМоскву,  а  Кушнер — в  Киев."
    assert words_back(text, "ru") == [
        "Уиткофф", "прилетел", "в", "Москву", "а", "Кушнер", "в", "Киев",
    ]  # fmt: skip


def test_a_lemma_stream_reads_words_as_their_lemmas_and_marks_punctuation() -> None:
    stream = lemma_stream("прилетел в Москву, переговоры", "ru")
    assert stream is not None
    assert stream.text == "прилететь в москва | переговоры"


def test_a_turkish_case_ending_after_an_apostrophe_leaves_the_stem_at_the_words_start() -> None:
    text = "Witkoff Moskova'ya ve Kyiv’e gitti"
    stream = lemma_stream(text, "tr")
    assert stream is not None
    assert stream.text.split()[:4] == ["witkoff", "moskova", "ve", "kyiv"]
    assert words_back(text, "tr")[:4] == ["Witkoff", "Moskova", "ve", "Kyiv"]


def test_a_french_article_before_an_apostrophe_maps_to_the_noun_after_it() -> None:
    text = "l'Ukraine et l’Europe"
    stream = lemma_stream(text, "fr")
    assert stream is not None
    assert [text[stream.original(s) :][:7] for s in stream.starts] == [
        "Ukraine",
        "et l’Eu",
        "Europe",
    ]


def test_a_ukrainian_apostrophe_is_a_letter_of_the_word() -> None:
    stream = lemma_stream("у п'ятницю і в п’ятницю", "uk")
    assert stream is not None
    assert stream.text == "у п'ятниця і в п'ятниця"


def test_a_language_without_a_dictionary_has_no_lemma_stream() -> None:
    assert lemma_stream("美国特使维特科夫", "zh") is None
    assert lemma_stream("anything", UNKNOWN) is None


def test_lemmas_are_cached_and_numbers_stay_as_written() -> None:
    assert lemma("Москве", "ru") == "москва"
    assert lemma("2025", "ru") == "2025"


# -- names, phrases and scripts ----------------------------------------------------------------


def index(*names: str, inflects: bool = True) -> tuple[PhraseIndex, dict[int, str]]:
    phrases = PhraseIndex()
    ids = {phrases.add(name, inflects=inflects): name for name in names}
    phrases.build()
    return phrases, ids


def found(text: str, lang: str, *names: str, inflects: bool = True) -> list[tuple[str, int]]:
    phrases, ids = index(*names, inflects=inflects)
    return sorted((ids[p], at) for p, at in phrases.scan(text, lang))


@pytest.mark.parametrize(
    ("text", "lang", "name"),
    [
        ("Встреча Уиткоффа с Путиным", "ru", "Уиткофф"),
        ("Віткоффом і Кушнером", "uk", "Віткофф"),
        ("Witkoffin matka Moskovaan", "fi", "Witkoff"),
        ("rozmowa z Kushnerem", "pl", "Kushner"),
        ("setkání s Witkoffem", "cs", "Witkoff"),
    ],
)
def test_a_name_is_found_with_an_inflectional_ending(text: str, lang: str, name: str) -> None:
    # Without the language's dictionary: the ending is taken whatever the language.
    assert [n for n, _ in found(text, UNKNOWN, name)] == [name], lang


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("a Parisian café", "Paris"),  # a word made from the name, not a form of it
        ("Trumpism and its critics", "Trump"),
        ("the Putinists in parliament", "Putin"),
        ("Witkoffsandwichshop", "Witkoff"),  # runs on into a longer word
        ("Риммой", "Рим"),  # a short name stands whole
    ],
)
def test_a_longer_word_made_from_a_name_is_not_the_name(text: str, name: str) -> None:
    assert found(text, "en", name) == []


def test_a_phrase_that_is_not_a_name_takes_no_ending() -> None:
    assert found("Witkoffin matka", "en", "Witkoff", inflects=False) == []


def test_phrases_in_chinese_and_japanese_are_found_without_spaces() -> None:
    assert found("普京在莫斯科会谈", "zh", "莫斯科", "会谈") == [("会谈", 6), ("莫斯科", 3)]
    assert found("ウィトコフ特使はモスクワに到着", "ja", "モスクワ", "到着") == [
        ("モスクワ", 8), ("到着", 13),
    ]  # fmt: skip


def test_a_phrase_inside_a_longer_word_is_not_found() -> None:
    assert found("Kyivstar", "en", "Kyiv", inflects=False) == []


def test_cyrillic_is_transliterated_to_latin() -> None:
    assert transliterate("Умеров") == "Umerov"
    assert transliterate("Уиткофф") == "Uitkoff"


def test_a_cyrillic_alias_is_found_in_its_latin_form_in_latin_text() -> None:
    rule = RuleConfig.model_validate(
        {
            "id": "r",
            "title": "{envoy}",
            "when": {"all": [{"entity": "envoy"}]},
            "entities": {"envoy": [{"Rustem Umerov": ["Умеров"]}]},
        }
    )
    rs = RuleSet.compile([rule])
    (m,) = rs.match("", "Umerov arrived in Miami on Sunday.", T0, lang="en")
    assert m.values["envoy"] == "Rustem Umerov"


# -- place context ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("WASHINGTON — Witkoff said on Monday", "WASHINGTON"),
        ("Kyiv, Nov 21 (Reuters) - Ukraine's president said", "Kyiv"),
        ("Москва: Уиткофф прибыл в Кремль", "Москва"),
        ("date 2025-11-21 Geneva (AP) — Talks resumed", "Geneva"),
    ],
)
def test_a_place_opening_a_dateline_is_a_dateline(text: str, place: str) -> None:
    assert is_dateline(text, text.index(place))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Witkoff flew to Washington — officials said", "Washington"),
        ("Talks in Geneva resumed on Monday", "Geneva"),
    ],
)
def test_a_place_inside_a_sentence_is_no_dateline(text: str, place: str) -> None:
    assert not is_dateline(text, text.index(place))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("talks after Geneva stalled", "Geneva"),
        ("the first time since the Riyadh talks", "Riyadh"),
        ("переговоры после Женевы", "Женевы"),
        ("as in previous talks in Istanbul", "Istanbul"),
        ("Cenevre'den sonra görüşmeler", "Cenevre"),
    ],
)
def test_a_place_named_as_a_time_is_a_time_reference(text: str, place: str) -> None:
    assert is_time_reference(text, text.index(place))


def test_a_place_of_a_meeting_is_no_time_reference() -> None:
    text = "Witkoff will meet Umerov in Geneva on Sunday"
    assert not is_time_reference(text, text.index("Geneva"))


@pytest.mark.parametrize(
    ("text", "place", "lang", "expected"),
    [
        ("Witkoff flew to Moscow", "Moscow", "en", True),
        ("Witkoff visited Kyiv on Monday", "Kyiv", "en", True),
        ("talks with Moscow stalled", "Moscow", "en", False),
        ("Moscow's refusal to budge", "Moscow", "en", False),
        ("Witkoff said Moscow would answer", "Moscow", "en", False),
        ("Уиткофф прилетел в Москву", "Москву", "ru", True),
        ("переговоры между Киевом и Москвой", "Москвой", "ru", False),
        ("Witkoff reist nach Moskau", "Moskau", "de", True),
        ("Witkoff Moskova'ya gitti", "Moskova", "tr", True),  # a case ending: not checked
    ],
)
def test_a_destination_stands_after_a_word_of_place_or_direction(
    text: str, place: str, lang: str, expected: bool
) -> None:
    assert is_destination(text, text.index(place), lang) is expected


# -- sentences ----------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_a_german_date_with_an_ordinal_day_does_not_end_a_sentence() -> None:
    assert sentences("Die Frist endet am 27. November. Danach wird verhandelt.") == [
        "Die Frist endet am 27. November.",
        "Danach wird verhandelt.",
    ]


def test_full_width_stops_end_sentences_without_a_space_after_them() -> None:
    assert sentences("会谈结束。普京表示满意！他会再来吗？好") == [
        "会谈结束。", "普京表示满意！", "他会再来吗？", "好",
    ]  # fmt: skip


def test_an_abbreviated_month_does_not_end_a_sentence() -> None:
    assert sentences("The deadline is Nov. 27. Talks go on.") == [
        "The deadline is Nov. 27.",
        "Talks go on.",
    ]


def test_reading_an_article_keeps_no_whole_dictionary_loaded() -> None:
    from bot.config import RuleConfig
    from bot.language._lemmas import _dictionaries
    from bot.rules import RuleSet

    rule = RuleConfig.model_validate({"id": "r", "when": {"any": ["визит"]}})
    rules = RuleSet.compile([rule])
    found = rules.match("", "Визита не будет: стороны говорят о визитах позже.", lang="ru")
    assert [m.rule_id for m in found] == ["r"]  # inflected forms found through the table
    # the whole Russian dictionary (80 MB and more) was read to build the table, then let go
    assert _dictionaries()._get_dictionary.cache_info().currsize == 0
