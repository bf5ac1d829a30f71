"""Dates in news sentences resolved against the publication time; deadlines set, moved, dropped."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.rules._dates import (
    DateMention,
    DeadlineMention,
    deadline_in,
    easter,
    find_dates,
    orthodox_easter,
    thanksgiving,
)


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


WED_NOV_26 = at("2025-11-26T13:00")  # the AP story on the 28-point plan
WED_NOV_26_EVENING = at("2025-11-26T20:00")
TUE_NOV_25 = at("2025-11-25T12:00")
FEB_20_2026 = at("2026-02-20T10:16")


def dates(sentence: str, published: datetime) -> list[tuple[str, str]]:
    return [(m.text, m.value) for m in find_dates(sentence, published) if m.kind == "date"]


def deadline(sentence: str, published: datetime) -> tuple[str, str] | None:
    found = deadline_in(sentence, published)
    return None if found is None else (found.value, found.tense)


# -- find_dates: what each kind of expression resolves to ---------------------------------------

FIND_DATES = [
    # weekdays: past context → at or before publication; otherwise strictly after
    (
        "US Army Secretary Dan Driscoll and Russian representatives held meetings on Monday and "
        "Tuesday in Abu Dhabi.",
        TUE_NOV_25,
        [("Monday", "2025-11-24"), ("Tuesday", "2025-11-25")],
    ),
    (
        "But by Tuesday, Trump had eased off the hard deadline.",
        WED_NOV_26,
        [("Tuesday", "2025-11-25")],
    ),
    ("Ukraine must answer by Thursday.", WED_NOV_26, [("Thursday", "2025-11-27")]),
    ("Talks will be held on Wednesday.", WED_NOV_26, [("Wednesday", "2025-12-03")]),
    ("The talks were held on Wednesday.", WED_NOV_26, [("Wednesday", "2025-11-26")]),
    ("Zelensky said Monday that Ukraine would respond.", WED_NOV_26, [("Monday", "2025-11-24")]),
    ("Trump said he would meet Putin on Monday.", WED_NOV_26, [("Monday", "2025-12-01")]),
    ("Trump said Thursday is the deadline.", WED_NOV_26, [("Thursday", "2025-11-27")]),
    ("Witkoff met Putin last Wednesday.", WED_NOV_26, [("last Wednesday", "2025-11-19")]),
    ("Witkoff meets Putin next Friday.", WED_NOV_26, [("next Friday", "2025-11-28")]),
    ("Witkoff flies to Moscow on Sunday.", WED_NOV_26, [("Sunday", "2025-11-30")]),
    # month and day: the year nearest to publication unless one is given
    ("May 9", at("2025-02-14T00:00"), [("May 9", "2025-05-09")]),
    ("Jan. 5", at("2025-12-20T00:00"), [("Jan. 5", "2026-01-05")]),
    ("The summit was on Dec. 28.", at("2026-01-03T00:00"), [("Dec. 28", "2025-12-28")]),
    ("Talks resume Nov 27th.", WED_NOV_26, [("Nov 27th", "2025-11-27")]),
    ("It was the 27th of November.", WED_NOV_26, [("27th of November", "2025-11-27")]),
    ("The vote is due 10 March.", WED_NOV_26, [("10 March", "2026-03-10")]),
    ("It happened on 27 May 2024.", WED_NOV_26, [("27 May 2024", "2024-05-27")]),
    ("Signed on November 27, 2024.", WED_NOV_26, [("November 27, 2024", "2024-11-27")]),
    (
        "Trump's deadline of Thursday, Nov. 27, looms.",
        WED_NOV_26,
        [("Thursday, Nov. 27", "2025-11-27")],
    ),
    (
        "Sept. 30 and Sep 1 and Oct. 3",
        WED_NOV_26,
        [("Sept. 30", "2025-09-30"), ("Sep 1", "2025-09-01"), ("Oct. 3", "2025-10-03")],
    ),
    ("Feb. 29 in a leap year", at("2027-12-01T00:00"), [("Feb. 29", "2028-02-29")]),
    # month and day in other languages
    ("Die Frist endet am 27. November.", WED_NOV_26, [("27. November", "2025-11-27")]),
    ("L'accord sera signé le 27 novembre.", WED_NOV_26, [("27 novembre", "2025-11-27")]),
    (
        "Se firmará el 27 de noviembre de 2025.",
        WED_NOV_26,
        [("27 de noviembre de 2025", "2025-11-27")],
    ),
    ("Переговоры пройдут 27 ноября.", WED_NOV_26, [("27 ноября", "2025-11-27")]),
    (
        "Переговори відбудуться 27 листопада 2025 року.",
        WED_NOV_26,
        [("27 листопада 2025 року", "2025-11-27")],
    ),
    ("Зеленский: до 9 мая", WED_NOV_26, [("9 мая", "2026-05-09")]),
    # a month alone: next occurrence at or after the publication month
    ("February", WED_NOV_26, [("February", "2026-02")]),
    ("a June deadline", FEB_20_2026, [("June", "2026-06")]),
    ("The agreement could be signed in May.", WED_NOV_26, [("May", "2026-05")]),
    ("in November", WED_NOV_26, [("November", "2025-11")]),
    ("by mid-December", WED_NOV_26, [("December", "2025-12")]),
    ("Talks resumed in June, officials said.", WED_NOV_26, [("June", "2025-06")]),
    ("Talks resumed last June.", at("2026-03-01T00:00"), [("June", "2025-06")]),
    ("Talks resumed last June.", at("2026-06-10T00:00"), [("June", "2025-06")]),
    ("The fighting since June has killed thousands.", WED_NOV_26, [("June", "2025-06")]),
    ("June 2026", WED_NOV_26, [("June 2026", "2026-06")]),
    ("im Juni", WED_NOV_26, [("Juni", "2026-06")]),
    ("en juin", WED_NOV_26, [("juin", "2026-06")]),
    ("para junio", WED_NOV_26, [("junio", "2026-06")]),
    ("Путин заявил, что переговоры пройдут в декабре.", WED_NOV_26, [("декабре", "2025-12")]),
    ("до червня", WED_NOV_26, [("червня", "2026-06")]),
    ("в лютому 2026 року", WED_NOV_26, [("лютому 2026 року", "2026-02")]),
    # numeric, with a year
    ("The deadline is 27/11/2025.", WED_NOV_26, [("27/11/2025", "2025-11-27")]),
    ("The deadline is 11/27/2025.", WED_NOV_26, [("11/27/2025", "2025-11-27")]),
    ("Die Frist läuft am 27.11.2025 ab.", WED_NOV_26, [("27.11.2025", "2025-11-27")]),
    ("Published 2025-11-27.", WED_NOV_26, [("2025-11-27", "2025-11-27")]),
    # holidays
    ("Easter", at("2025-03-01T00:00"), [("Easter", "2025-04-20")]),
    ("Thanksgiving", WED_NOV_26, [("Thanksgiving", "2025-11-27")]),
    ("A deal by Christmas.", WED_NOV_26, [("Christmas", "2025-12-25")]),
    ("Russia wants an Easter truce.", WED_NOV_26, [("Easter", "2026-04-05")]),
    ("An Orthodox Easter ceasefire.", WED_NOV_26, [("Orthodox Easter", "2026-04-12")]),
    ("Easter 2027", WED_NOV_26, [("Easter 2027", "2027-03-28")]),
    ("The ceasefire will hold until Victory Day.", WED_NOV_26, [("Victory Day", "2026-05-09")]),
    ("after the New Year", WED_NOV_26, [("New Year", "2026-01-01")]),
    ("до Рождества", WED_NOV_26, [("Рождества", "2026-01-07")]),
    ("до Різдва", WED_NOV_26, [("Різдва", "2025-12-25")]),
    ("до Пасхи", WED_NOV_26, [("Пасхи", "2026-04-12")]),
    # relative to the publication time
    ("today", WED_NOV_26, [("today", "2025-11-26")]),
    ("tomorrow", WED_NOV_26, [("tomorrow", "2025-11-27")]),
    ("yesterday", WED_NOV_26, [("yesterday", "2025-11-25")]),
    ("within two weeks", WED_NOV_26, [("within two weeks", "2025-12-10")]),
    ("in the next 10 days", WED_NOV_26, [("in the next 10 days", "2025-12-06")]),
    ("in a month", at("2026-01-31T00:00"), [("in a month", "2026-02-28")]),
    ("in 48 hours", WED_NOV_26_EVENING, [("in 48 hours", "2025-11-28")]),
    ("a 50-day deadline", at("2025-07-14T00:00"), [("50-day", "2025-09-02")]),
    ("через две недели", WED_NOV_26, [("через две недели", "2025-12-10")]),
    ("протягом двох тижнів", WED_NOV_26, [("протягом двох тижнів", "2025-12-10")]),
    ("innerhalb von zwei Wochen", WED_NOV_26, [("innerhalb von zwei Wochen", "2025-12-10")]),
    ("dans deux semaines", WED_NOV_26, [("dans deux semaines", "2025-12-10")]),
    ("en dos semanas", WED_NOV_26, [("en dos semanas", "2025-12-10")]),
    ("Er kommt morgen.", WED_NOV_26, [("morgen", "2025-11-27")]),
    ("Mañana habrá reunión.", WED_NOV_26, [("Mañana", "2025-11-27")]),
    # ends of periods
    ("by the end of the month", WED_NOV_26, [("end of the month", "2025-11")]),
    ("by the end of the year", WED_NOV_26, [("end of the year", "2025-12")]),
    ("by the end of next year", WED_NOV_26, [("end of next year", "2026-12")]),
    ("by the end of 2026", WED_NOV_26, [("end of 2026", "2026-12")]),
    ("by next month", WED_NOV_26, [("next month", "2025-12")]),
    ("by the end of the week", WED_NOV_26, [("end of the week", "2025-11-30")]),
    ("до конца года", WED_NOV_26, [("конца года", "2025-12")]),
    ("до кінця місяця", WED_NOV_26, [("кінця місяця", "2025-11")]),
    ("bis Jahresende", WED_NOV_26, [("Jahresende", "2025-12")]),
    ("d'ici la fin de l'année", WED_NOV_26, [("fin de l'année", "2025-12")]),
    # seasons (English): the month the season starts in
    ("by summer 2026", WED_NOV_26, [("summer 2026", "2026-06")]),
    ("by summer", FEB_20_2026, [("summer", "2026-06")]),
    ("in the fall", WED_NOV_26, [("fall", "2025-09")]),
    ("next spring", WED_NOV_26, [("spring", "2026-03")]),
    ("this winter", at("2026-01-10T00:00"), [("winter", "2025-12")]),
    # weekdays in other languages, only where a word fixes the tense
    ("bis Freitag", WED_NOV_26, [("Freitag", "2025-11-28")]),
    ("am vergangenen Montag", WED_NOV_26, [("Montag", "2025-11-24")]),
    ("L'Ukraine a jusqu'à jeudi pour répondre.", WED_NOV_26, [("jeudi", "2025-11-27")]),
    ("vendredi dernier", WED_NOV_26, [("vendredi", "2025-11-21")]),
    ("hasta el jueves", WED_NOV_26, [("jueves", "2025-11-27")]),
    ("до пятницы", WED_NOV_26, [("пятницы", "2025-11-28")]),
    ("в прошлую пятницу", WED_NOV_26, [("пятницу", "2025-11-21")]),
    ("до п’ятниці", WED_NOV_26, [("п’ятниці", "2025-11-28")]),
    ("минулого четверга", WED_NOV_26, [("четверга", "2025-11-20")]),
]


@pytest.mark.parametrize(
    ("sentence", "published", "expected"), FIND_DATES, ids=[c[0][:40] for c in FIND_DATES]
)
def test_find_dates(sentence: str, published: datetime, expected: list[tuple[str, str]]) -> None:
    assert dates(sentence, published) == expected


NOT_DATES = [
    "it may end",
    "Theresa May said the talks failed.",
    "May God help us.",
    "The march on Kyiv failed.",
    "all 27 may agree",
    "sometime in march",
    "The deadline is 11/12/2025.",  # day and month either way round
    "The deadline is 11/12.",
    "since the fall of Avdiivka",
    "in the new year",
    "Lunar New Year",
    "within days",
    "two weeks ago",
    "Mondays are quiet.",
    "Am Morgen kam er.",
    "Por la mañana, dijo.",
    "He is 27 years old and won 3 medals in 2024.",
    "El acuerdo se firmará a corto plazo.",
    "в лютий мороз",
]


@pytest.mark.parametrize("sentence", NOT_DATES)
def test_not_a_date(sentence: str) -> None:
    assert dates(sentence, WED_NOV_26) == []


def test_may_followed_by_a_large_number_is_a_month_not_a_day() -> None:
    assert dates("In May 10,000 troops", WED_NOV_26) == [("May", "2026-05")]


def test_mentions_carry_their_span_in_the_original_sentence() -> None:
    sentence = "“I don’t have a deadline,” he said on Nov. 27."
    for m in find_dates(sentence, WED_NOV_26):
        assert sentence[m.start : m.end] == m.text
    assert find_dates(sentence, WED_NOV_26) == [
        DateMention(3, 24, "don’t have a deadline", "none", "withdrawn"),
        DateMention(38, 45, "Nov. 27", "2025-11-27", "date"),
    ]


def test_a_withdrawal_and_the_date_it_drops_are_both_listed() -> None:
    found = find_dates("Trump dropped the Thursday deadline.", WED_NOV_26)
    assert [(m.text, m.value, m.kind) for m in found] == [
        ("dropped the Thursday deadline", "none", "withdrawn"),
        ("Thursday", "2025-11-27", "date"),
    ]


def test_naive_publication_time_is_taken_as_is() -> None:
    assert dates("tomorrow", datetime(2025, 12, 31, 23, 0)) == [("tomorrow", "2026-01-01")]


# -- deadline_in ---------------------------------------------------------------------------------

DEADLINES: list[tuple[str, datetime, tuple[str, str] | None]] = [
    # the stories this module was written for
    (
        "He said that while he wanted an agreement finalized quickly, there was no longer a "
        "deadline.",
        WED_NOV_26,
        ("none", "current"),
    ),
    ("“I don’t have a deadline.", WED_NOV_26, ("none", "current")),
    (
        "Trump had originally set a deadline of Thursday for Ukraine to sign the original deal "
        "drawn up with Russia, which he now said was not a plan but a roadmap or “a concept.”",
        WED_NOV_26,
        ("2025-11-27", "previous"),
    ),
    ("You know what the deadline for me is?", WED_NOV_26, None),
    ("You know what the deadline is to me?", WED_NOV_26, None),
    # reported speech ("insisted ... had until"): the deadline as stated, still ahead → current
    (
        "Trump insisted Ukraine had until Nov. 27 — Thanksgiving in the U.S. — to accept it.",
        WED_NOV_26_EVENING,
        ("2025-11-27", "current"),
    ),
    (
        "But by Tuesday, Trump had eased off the hard deadline.",
        WED_NOV_26_EVENING,
        ("none", "current"),
    ),
    (
        "bold terms that favor one side, deadlines for the combatants and vague outlines for what "
        "comes next.",
        WED_NOV_26_EVENING,
        None,
    ),
    (
        "This situation puts a lot of pressure on the U.S., especially since the White House gave "
        "a June deadline for a peace agreement, ahead of the U.S. midterm elections.",
        FEB_20_2026,
        ("2026-06", "current"),
    ),
    # dated deadlines
    ("Trump set a Nov. 27 deadline.", WED_NOV_26, ("2025-11-27", "current")),
    ("Ukraine faces a deadline of November 27.", WED_NOV_26, ("2025-11-27", "current")),
    ("Ukraine must sign by Thursday.", WED_NOV_26, ("2025-11-27", "current")),
    ("Ukraine must sign by the end of the month.", WED_NOV_26, ("2025-11", "current")),
    ("A deal is wanted by the end of the year.", WED_NOV_26, ("2025-12", "current")),
    ("Ukraine must respond within two weeks.", WED_NOV_26, ("2025-12-10", "current")),
    ("A deal by summer 2026 is the goal.", WED_NOV_26, ("2026-06", "current")),
    ("Trump wants a deal by Thanksgiving.", WED_NOV_26, ("2025-11-27", "current")),
    ("A ceasefire by Christmas, the deadline Trump set.", WED_NOV_26, ("2025-12-25", "current")),
    ("Russia demands a deal before Easter.", at("2025-02-01T00:00"), ("2025-04-20", "current")),
    ("Kyiv was told to agree by May 9.", at("2025-02-14T00:00"), ("2025-05-09", "current")),
    ("Trump gave Russia a 50-day deadline.", at("2025-07-14T00:00"), ("2025-09-02", "current")),
    ("Trump said Thursday is the deadline.", WED_NOV_26, ("2025-11-27", "current")),
    ("Trump said the deadline was Thursday.", WED_NOV_26, ("2025-11-27", "current")),
    ("Trump's deadline of Thursday, Nov. 27, looms.", WED_NOV_26, ("2025-11-27", "current")),
    # earlier deadlines
    ("The original deadline of Nov. 27 has passed.", WED_NOV_26, ("2025-11-27", "previous")),
    ("Ukraine missed the Nov. 20 deadline.", WED_NOV_26, ("2025-11-20", "previous")),
    ("Trump had initially set a Thursday deadline.", WED_NOV_26, ("2025-11-27", "previous")),
    ("The earlier deadline was Thursday.", WED_NOV_26, ("2025-11-27", "previous")),
    ("The previous deadline, Nov. 27, was scrapped.", WED_NOV_26, ("none", "current")),
    (
        "Trump had said Ukraine had until Thursday to accept the plan.",
        WED_NOV_26,
        ("2025-11-27", "previous"),
    ),
    ("The Sept. 1 deadline came and went.", WED_NOV_26, ("2025-09-01", "previous")),
    # moved deadlines: the new date is the current one
    ("The deadline was extended from Thursday to Dec. 5.", WED_NOV_26, ("2025-12-05", "current")),
    ("Trump extended the deadline to Dec. 12.", WED_NOV_26, ("2025-12-12", "current")),
    (
        "Trump scrapped the Thursday deadline and set a new one for Dec. 5.",
        WED_NOV_26,
        ("2025-12-05", "current"),
    ),
    # withdrawn deadlines
    ("There is no deadline.", WED_NOV_26, ("none", "current")),
    ("Talks can't go on without a deadline.", WED_NOV_26, ("none", "current")),
    ("Trump stepped back from the deadline.", WED_NOV_26, ("none", "current")),
    ("Trump backed away from his deadline on Tuesday.", WED_NOV_26, ("none", "current")),
    ("Trump dropped the Thursday deadline.", WED_NOV_26, ("none", "current")),
    ("The White House scrapped its deadline.", WED_NOV_26, ("none", "current")),
    ("Washington abandoned the deadline.", WED_NOV_26, ("none", "current")),
    ("The U.S. lifted the deadline.", WED_NOV_26, ("none", "current")),
    ("Trump removed the deadline.", WED_NOV_26, ("none", "current")),
    ("The Thursday deadline for Ukraine to sign was dropped.", WED_NOV_26, ("none", "current")),
    ("The deadline is off.", WED_NOV_26, ("none", "current")),
    ("The deadline no longer applies.", WED_NOV_26, ("none", "current")),
    ("We are not going to set a deadline.", WED_NOV_26, ("none", "current")),
    ("We’re not going to set a deadline.", WED_NOV_26, ("none", "current")),
    ("The Thursday deadline is not set in stone.", WED_NOV_26, ("none", "current")),
    ("Thursday is not a hard deadline, Trump said.", WED_NOV_26, ("none", "current")),
    ("Trump doesn’t have a deadline anymore.", WED_NOV_26, ("none", "current")),
    # not a withdrawal, not a deadline
    ("Trump said there would be no extension of the deadline.", WED_NOV_26, None),
    ("There will be no deadline extension.", WED_NOV_26, None),
    ("Ukraine will not meet the deadline.", WED_NOV_26, None),
    ("Officials held talks on Monday about the deadline.", WED_NOV_26, None),
    ("The deadline is important to Trump.", WED_NOV_26, None),
    # other languages
    ("Es gibt keine Frist mehr.", WED_NOV_26, ("none", "current")),
    ("Trump hat die Frist aufgehoben.", WED_NOV_26, ("none", "current")),
    ("Die Ukraine hat bis Freitag Zeit.", WED_NOV_26, ("2025-11-28", "current")),
    ("Die Ukraine hat bis Ende Dezember Zeit.", WED_NOV_26, ("2025-12", "current")),
    ("Il n'y a plus de date limite.", WED_NOV_26, ("none", "current")),
    ("L’ultimatum a été levé.", WED_NOV_26, ("none", "current")),
    ("L'Ukraine doit répondre d'ici vendredi.", WED_NOV_26, ("2025-11-28", "current")),
    ("Ya no hay plazo, dijo Trump.", WED_NOV_26, ("none", "current")),
    ("Ucrania tiene hasta el jueves para responder.", WED_NOV_26, ("2025-11-27", "current")),
    ("Трамп сказал, что больше нет дедлайна.", WED_NOV_26, ("none", "current")),
    ("У меня нет дедлайна.", WED_NOV_26, ("none", "current")),
    ("Россия отказалась от ультиматума.", WED_NOV_26, ("none", "current")),
    ("Договор должен быть подписан до конца года.", WED_NOV_26, ("2025-12", "current")),
    ("Киев должен ответить до четверга.", WED_NOV_26, ("2025-11-27", "current")),
    ("Первоначально срок был назначен на 27 ноября.", WED_NOV_26, ("2025-11-27", "previous")),
    ("Він сказав, що більше немає дедлайну.", WED_NOV_26, ("none", "current")),
    ("Україна має відповісти протягом двох тижнів.", WED_NOV_26, ("2025-12-10", "current")),
    ("Угоду мають підписати до 27 листопада.", WED_NOV_26, ("2025-11-27", "current")),
]


@pytest.mark.parametrize(
    ("sentence", "published", "expected"), DEADLINES, ids=[c[0][:40] for c in DEADLINES]
)
def test_deadline_in(sentence: str, published: datetime, expected: tuple[str, str] | None) -> None:
    assert deadline(sentence, published) == expected


@pytest.mark.parametrize(
    ("sentence", "evidence"),
    [
        ("Trump had originally set a deadline of Thursday for Ukraine.", "deadline of Thursday"),
        ("Trump insisted Ukraine had until Nov. 27 to accept it.", "until Nov. 27"),
        ("The White House gave a June deadline.", "June deadline"),
        ("He said there was no longer a deadline.", "no longer a deadline"),
        ("“I don’t have a deadline.", "don’t have a deadline"),
        ("Ukraine must sign by the end of the month.", "by the end of the month"),
    ],
)
def test_evidence_is_the_words_that_state_the_deadline(sentence: str, evidence: str) -> None:
    found = deadline_in(sentence, WED_NOV_26)
    assert found is not None
    assert found.evidence == evidence


def test_deadline_mention_is_a_plain_value() -> None:
    assert deadline_in("Ukraine must sign by Thursday.", WED_NOV_26) == DeadlineMention(
        "2025-11-27", "current", "by Thursday"
    )


# -- the calendar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "western", "orthodox"),
    [
        (2024, date(2024, 3, 31), date(2024, 5, 5)),
        (2025, date(2025, 4, 20), date(2025, 4, 20)),
        (2026, date(2026, 4, 5), date(2026, 4, 12)),
        (2027, date(2027, 3, 28), date(2027, 5, 2)),
        (2030, date(2030, 4, 21), date(2030, 4, 28)),
    ],
)
def test_easter(year: int, western: date, orthodox: date) -> None:
    assert easter(year) == western
    assert orthodox_easter(year) == orthodox


@pytest.mark.parametrize(
    ("year", "day"),
    [(2024, date(2024, 11, 28)), (2025, date(2025, 11, 27)), (2026, date(2026, 11, 26))],
)
def test_thanksgiving_is_the_fourth_thursday_of_november(year: int, day: date) -> None:
    assert thanksgiving(year) == day


# -- the other languages of the pack -------------------------------------------------------------

FRI_NOV_21 = at("2025-11-21T10:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("27 listopada", "2025-11-27"),  # Polish
        ("27. listopadu", "2025-11-27"),  # Czech
        ("27. studenoga", "2025-11-27"),  # Croatian
        ("27 noiembrie", "2025-11-27"),  # Romanian
        ("27 de novembro", "2025-11-27"),  # Portuguese
        ("27 novembre", "2025-11-27"),  # Italian
        ("27 Kasım", "2025-11-27"),  # Turkish
        ("27. marraskuuta", "2025-11-27"),  # Finnish
        ("27 ноември", "2025-11-27"),  # Bulgarian
        ("27. новембра", "2025-11-27"),  # Serbian
        ("11月27日", "2025-11-27"),  # Chinese and Japanese
        ("2026年6月1日", "2026-06-01"),
    ],
)
def test_a_day_and_a_month_in_each_language(text: str, expected: str) -> None:
    assert [value for _, value in dates(text, FRI_NOV_21)] == [expected]


def test_a_spelling_of_two_months_follows_the_language_of_the_text() -> None:
    polish = find_dates("27 listopada", FRI_NOV_21, "pl")
    croatian = find_dates("27. listopada", FRI_NOV_21, "hr")
    assert [m.value for m in polish] == ["2025-11-27"]
    assert [m.value for m in croatian] == ["2025-10-27"]


@pytest.mark.parametrize(
    "text",
    [
        "antes del Día de Acción de Gracias",
        "até o Dia de Ação de Graças",
        "entro il giorno del Ringraziamento",
        "до Дня благодарения",
        "до Дня подяки",
        "do Święta Dziękczynienia",
        "Şükran Günü'ne kadar",
        "do Dana zahvalnosti",
        "până de Ziua Recunoștinței",
        "感恩节前",
        "感謝祭までに",
    ],
)
def test_thanksgiving_in_each_language(text: str) -> None:
    assert [value for _, value in dates(text, FRI_NOV_21)] == ["2025-11-27"]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Trump dał Ukrainie termin do czwartku.", "2025-11-27"),
        ("Trump je Ukrajini dao rok do četvrtka.", "2025-11-27"),
        ("Trump ha fissato la scadenza entro giovedì.", "2025-11-27"),
        ("Trump deu um prazo até quinta-feira.", "2025-11-27"),
        ("Trump gaf een deadline tot donderdag.", "2025-11-27"),
        ("Trump perşembeye kadar süre verdi.", "2025-11-27"),
        ("Trump a dat un termen limită până joi.", "2025-11-27"),
        ("Ukrajina má lhůtu do konce měsíce.", "2025-11"),
        ("Il termine ultimo è la fine del mese.", "2025-11"),
        ("トランプ氏は感謝祭までの期限を設けた。", "2025-11-27"),
    ],
)
def test_a_deadline_in_each_language(sentence: str, expected: str) -> None:
    assert deadline(sentence, FRI_NOV_21) == (expected, "current")


@pytest.mark.parametrize(
    "sentence",
    [
        "Trump ha detto che non c'è più una scadenza per Kiev.",
        "Trump disse que já não há prazo para a Ucrânia.",
        "Trump powiedział, że nie ma już terminu dla Kijowa.",
        "Trump je rekao da više nema roka za Kijev.",
        "Trump a spus că nu mai există un termen pentru Kiev.",
        "Trump zei dat er geen deadline meer is voor Kyiv.",
        "Trump sagte, es gebe keine Frist mehr.",
        "Трамп сказал, что больше нет дедлайна.",
    ],
)
def test_a_withdrawn_deadline_in_each_language_is_none(sentence: str) -> None:
    assert deadline(sentence, FRI_NOV_21) == ("none", "current")


def test_an_appointment_in_german_is_no_deadline_word() -> None:
    assert deadline("Selenskyj hat einen Termin am Donnerstag.", FRI_NOV_21) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "Trump gave Kyiv a deadline of the 27th of this month.",
        "Trump deu um prazo até ao dia 27 deste mês.",
        "Трамп дал Киеву срок до 27-го этого месяца.",
    ],
)
def test_a_day_of_this_month_is_a_deadline(sentence: str) -> None:
    assert deadline(sentence, FRI_NOV_21) == ("2025-11-27", "current")


def test_a_page_header_date_near_a_deadline_word_is_not_the_deadline() -> None:
    assert deadline("date 2025-11-22 Trump gave Zelensky a deadline to accept", FRI_NOV_21) is None
    assert deadline("Trump gave Kyiv until 2025-11-27 to accept.", FRI_NOV_21) == (
        "2025-11-27",
        "current",
    )


def test_a_deadline_not_set_for_a_named_day_is_none() -> None:
    sunday = at("2025-12-28T12:00")
    assert deadline("He said he has not set a New Year's Day deadline for peace.", sunday) == (
        "none",
        "current",
    )


def test_a_date_that_names_a_meeting_is_no_time_limit() -> None:
    sunday = at("2025-12-28T10:00")
    sentence = (
        "Trump, who spoke to Putin before the Dec. 29 meeting in Florida with the Ukrainian"
        " president, said nothing of a deadline."
    )
    assert deadline(sentence, sunday) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("entro Natale", "2025-12-25"),
        ("do Świąt Bożego Narodzenia", "2025-12-25"),
        ("do Božića", "2025-12-25"),
        ("voor Kerstmis", "2025-12-25"),
        ("entro Capodanno", "2026-01-01"),
        ("do Nowego Roku", "2026-01-01"),
    ],
)
def test_christmas_and_new_year_in_other_languages(text: str, expected: str) -> None:
    assert [value for _, value in dates(text, at("2025-12-02T10:00"))] == [expected]


def test_a_birthplace_is_not_christmas() -> None:
    assert dates("Zelensky è tornato nella sua città natale.", at("2025-12-02T10:00")) == []
