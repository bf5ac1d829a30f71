"""Counts of things in digits and words: the numbers of points of a plan, in every language of
the default pack."""

from __future__ import annotations

import pytest

from bot.rules._numbers import counts, number_value

NOUNS = "point пункт punkt punt pont punct madde bod toč tač точ тач kohta kohda 項目 点 सूत्री نقط"
POINTS = tuple(NOUNS.split())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Washington drafted a 28-point plan.", [28]),
        ("Kyiv answered with a twenty-point plan.", [20]),
        ("a twenty-eight-point proposal", [28]),
        ("документ из двадцати пунктов", [20]),
        ("план из 28 пунктов", [28]),
        ("план з двадцяти восьми пунктів", [28]),
        ("el plan de 20 puntos", [20]),
        ("il piano in 20 punti", [20]),
        ("la proposta in ventotto punti", [28]),
        ("ein Plan mit achtundzwanzig Punkten", [28]),
        ("le plan en vingt-huit points", [28]),
        ("o plano de vinte e oito pontos", [28]),
        ("28-punktowy plan pokojowy", [28]),
        ("plan z dwudziestu punktów", [20]),
        ("28 maddelik barış planı", [28]),
        ("plán o 28 bodech", [28]),
        ("dvacetibodový plán", [20]),
        ("plan od 28 točaka", [28]),
        ("план од 28 тачака", [28]),
        ("mirovni plan od dvadeset točaka", [20]),
        ("28 kohtaa sisältävä suunnitelma", [28]),
        ("het vredesplan van 28 punten", [28]),
        ("planul de pace de 28 de puncte", [28]),
        ("мирният план от 28 точки", [28]),
        ("планът от 28-те точки", [28]),
        ("28点和平计划", [28]),
        ("乌克兰收到了二十八点计划", [28]),  # Chinese numerals
        ("二十項目の和平案", [20]),
        ("28項目の和平案", [28]),
        ("28 सूत्री शांति योजना", [28]),
        ("خطة من 28 نقطة", [28]),
        ("en fredsplan med tjugo punkter", [20]),
        ("a 28‑point plan", [28]),  # a non-breaking hyphen
    ],
)
def test_a_count_in_digits_or_words_is_read_in_each_language(
    text: str, expected: list[int]
) -> None:
    assert counts(text, POINTS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the plan has 28 points or 26 points", [28, 26]),
        ("the plan went from 28 to 19 points", [28, 19]),
        ("it has 26 or 28 points depending on the version", [26, 28]),
        ("план скоротили з 28 до 20 пунктів", [28, 20]),
        ("der Plan wurde von 28 auf 19 Punkte gekürzt", [28, 19]),
        ("réduit de 28 à 22 points", [28, 22]),
    ],
)
def test_every_number_of_an_enumeration_is_a_count(text: str, expected: list[int]) -> None:
    assert counts(text, POINTS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "At one point the talks stalled.",
        "a point of order",
        "in 2025 points were scored",
        "the 28th point of the plan",
        "point 28 of the plan",
        "Der Treffpunkt für den Plan steht fest.",  # a word that begins like a number ("tre")
    ],
)
def test_a_number_that_counts_nothing_is_not_a_count(text: str) -> None:
    assert counts(text, POINTS) == []


def test_a_number_word_is_read_with_its_case_ending() -> None:
    assert number_value("двадцати") == 20
    assert number_value("dwudziestu") == 20
    assert number_value("achtundzwanzig") == 28
    assert number_value("28") == 28
    assert number_value("trenutno") is None
