"""Dates in news sentences resolved against the publication time; deadlines and their withdrawal.

Values are ``YYYY-MM-DD`` (a day), ``YYYY-MM`` (a month) or ``none`` (a deadline withdrawn).
"Today" is ``published.date()`` in whatever time zone ``published`` carries (UTC in the bot).

Resolution rules:

- Numeric dates need a four-digit year: ``2025-11-27``, ``27.11.2025`` (dots: day first),
  ``27/11/2025`` or ``11/27/2025`` (the side above 12 is the day; ``11/12/2025`` is ambiguous and
  ignored, as is anything without a year).
- Month and day (``Nov. 27``, ``27th of November``, ``27. November``, ``27 de noviembre``,
  ``27 ноября``), holidays (Thanksgiving, Christmas, Easter, Orthodox Easter, New Year, Victory
  Day, ...): the given year, else the year that puts the day nearest to today.
- A month alone (``a June deadline``, ``by June``, ``в июне``): ``YYYY-MM``; the given year, else
  the next occurrence at or after this month, or the latest at or before it in a past context
  (``last June``, ``since June``, ``in June, talks collapsed``). English month names stand alone
  when capitalized (``May`` only after a word like "in", "by", "a"); other languages' only after
  a preposition of theirs (``im Juni``, ``en juin``, ``в июне``, ``до червня``).
- Weekday names: the next one strictly after today; the latest one at or before today in a past
  context; ``last``/``past`` Monday: strictly before today. The context is read from the words
  around the name: ``until``, ``by``, ``deadline`` just before it mean future; ``By Tuesday, X
  had ...`` means past; otherwise the nearest tense cue in the sentence decides ("held", "said",
  "was", other -ed verbs: past; "will", "would", "next", "scheduled": future), future if none.
  Weekdays in German, French, Spanish, Russian and Ukrainian count only with a word fixing the
  tense (``bis Freitag``, ``vendredi dernier``, ``до пятницы``, ``минулого четверга``).
- Seasons (English, after a preposition or with a year) give the month they begin in,
  meteorologically: spring 03, summer 06, autumn/fall 09, winter 12 (so ``winter 2026`` is
  ``2026-12``), the current one if it is under way.
- Relative: today, tomorrow, yesterday (and their translations); ``in``/``within`` N hours, days,
  weeks or months (``через две недели``, ``dans deux semaines``) count from the publication time;
  ``a 50-day deadline`` likewise. ``end of the month``: this month; ``end of the year``: December;
  ``end of the week``: the Sunday of the publication's ISO week.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

__all__ = [
    "DateMention",
    "DeadlineMention",
    "deadline_in",
    "easter",
    "find_dates",
    "orthodox_easter",
    "thanksgiving",
]


@dataclass(frozen=True, slots=True)
class DateMention:
    """One date expression, or one withdrawal of a deadline (``value == "none"``)."""

    start: int
    end: int
    text: str
    value: str
    kind: Literal["date", "withdrawn"]


@dataclass(frozen=True, slots=True)
class DeadlineMention:
    """The deadline a sentence states: its value, whether it is an earlier one, and the words."""

    value: str
    tense: Literal["current", "previous"]
    evidence: str


# -- calendar ------------------------------------------------------------------------------------


def easter(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def orthodox_easter(year: int) -> date:
    """Orthodox Easter Sunday (Julian computus, Meeus) as a Gregorian date."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    julian = date(year, month, day + 1)
    return julian + timedelta(days=year // 100 - year // 400 - 2)


def thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _add_months(day: date, months: int) -> date:
    year, month = _shift_month(day.year, day.month, months)
    return date(year, month, min(day.day, _month_length(year, month)))


def _month_length(year: int, month: int) -> int:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (following - timedelta(days=1)).day


def _ym(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    y, m0 = divmod(year * 12 + month - 1 + by, 12)
    return y, m0 + 1


def _nearest(today: date, make: Callable[[int], date | None]) -> date | None:
    """The date `make(year)` nearest to today over last, this and next year (ties: the later)."""
    best: date | None = None
    for year in (today.year + 1, today.year, today.year - 1):
        try:
            candidate = make(year)
        except ValueError:  # 29 February in a common year, 31 November
            continue
        if candidate is not None and (
            best is None or abs((candidate - today).days) < abs((best - today).days)
        ):
            best = candidate
    return best


Direction = Literal["after", "on_or_after", "before", "on_or_before"]


def _weekday_date(today: date, weekday: int, direction: Direction) -> date:
    ahead = (weekday - today.weekday()) % 7
    behind = (today.weekday() - weekday) % 7
    if direction == "after":
        return today + timedelta(days=ahead or 7)
    if direction == "on_or_after":
        return today + timedelta(days=ahead)
    if direction == "before":
        return today - timedelta(days=behind or 7)
    return today - timedelta(days=behind)


def _month_occurrence(today: date, month: int, direction: Direction) -> str:
    year = today.year
    if direction == "after":
        year += month <= today.month
    elif direction == "on_or_after":
        year += month < today.month
    elif direction == "before":
        year -= month >= today.month
    else:
        year -= month > today.month
    return _ym(year, month)


# -- vocabulary ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MonthForm:
    month: int
    langs: frozenset[str]
    alone: bool  # may stand without a day or a year (after a preposition of its language)
    abbreviation: bool  # may take a period: "Nov."


def _month_forms() -> dict[str, _MonthForm]:
    table: list[tuple[int, str, bool, str]] = []  # (month, language, alone?, form)
    abbreviated: set[str] = set()
    en = "january february march april may june july august september october november december"
    de = "januar februar märz april mai juni juli august september oktober november dezember"
    fr = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    es = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    for lang, names in (("en", en), ("de", de), ("fr", fr), ("es", es)):
        for month, name in enumerate(names.split(), 1):
            table.append((month, lang, True, name))
    extra = [
        (1, "de", True, "jänner"),
        (3, "de", True, "maerz"),
        (2, "fr", True, "fevrier"),
        (8, "fr", True, "aout"),
        (12, "fr", True, "decembre"),
        (9, "es", True, "setiembre"),
    ]
    table.extend(extra)
    abbreviations = {
        "en": "jan feb mar apr - jun jul aug sep oct nov dec",
        "de": "- - - - - - - - - okt - dez",
        "fr": "janv févr - avr - - juil - sept - - déc",
        "es": "ene - - abr - - - - - - - dic",
    }
    for lang, names in abbreviations.items():
        for month, name in enumerate(names.split(), 1):
            if name != "-":
                table.append((month, lang, False, name))
                abbreviated.add(name)
    table += [(9, "en", False, "sept"), (2, "fr", False, "fév")]
    abbreviated |= {"sept", "fév"}
    # Russian and Ukrainian: nominative (with a day or year only), genitive, locative, dative.
    ru = (
        "январь января январе январю|февраль февраля феврале февралю|март марта марте марту|"
        "апрель апреля апреле апрелю|май мая мае маю|июнь июня июне июню|июль июля июле июлю|"
        "август августа августе августу|сентябрь сентября сентябре сентябрю|"
        "октябрь октября октябре октябрю|ноябрь ноября ноябре ноябрю|"
        "декабрь декабря декабре декабрю"
    )
    uk = (
        "січень січня січні січню|лютий лютого лютому лютому|березень березня березні березню|"
        "квітень квітня квітні квітню|травень травня травні травню|червень червня червні червню|"
        "липень липня липні липню|серпень серпня серпні серпню|вересень вересня вересні вересню|"
        "жовтень жовтня жовтні жовтню|листопад листопада листопаді листопаду|"
        "грудень грудня грудні грудню"
    )
    for lang, months in (("ru", ru), ("uk", uk)):
        for month, forms in enumerate(months.split("|"), 1):
            nominative, *others = forms.split()
            table.append((month, lang, False, nominative))
            table.extend((month, lang, True, form) for form in others)
    result: dict[str, _MonthForm] = {}
    for month, lang, alone, name in table:
        known = result.get(name)
        if known is not None:
            assert known.month == month, name
            langs = known.langs | {lang}
            result[name] = _MonthForm(month, langs, known.alone or alone, name in abbreviated)
        else:
            result[name] = _MonthForm(month, frozenset({lang}), alone, name in abbreviated)
    return result


_MONTHS = _month_forms()
# English month names that are also common words: a month only when capitalized.
_AMBIGUOUS_MONTHS = frozenset({"may", "march"})


def _alternation(words: Iterable[str]) -> str:
    """One regex alternation of `words`, the longest first."""
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_L = r"[^\W\d_]"  # a letter
_NB = rf"(?<!{_L})"  # no letter before
_NA = rf"(?!{_L})"  # no letter after
_YEAR = r"(?P<year>(?:19|20)\d{2})(?!\d)"
_YEAR_WORD = r"(?:\s*(?:года|г\.|року|р\.))?"
_MONTH = rf"{_NB}(?P<month>{_alternation(_MONTHS)}){_NA}\.?"

_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_PREFIX = rf"(?:(?:{'|'.join(_EN_WEEKDAYS)}),?\s+(?:the\s+)?)?"

_MONTH_DAY = re.compile(
    rf"{_NB}{_WEEKDAY_PREFIX}{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\d%:]|[.,]\d)"
    rf"(?:,?\s+{_YEAR})?",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(
    rf"{_NB}{_WEEKDAY_PREFIX}(?<![\w.,:/-])(?P<day>\d{{1,2}})(?:st|nd|rd|th|er|-го|\.)?\s+"
    rf"(?:of\s+|de\s+)?{_MONTH}(?:,?\s+(?:de\s+)?{_YEAR}{_YEAR_WORD})?",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(rf"{_MONTH}\s+(?:of\s+|de\s+)?{_YEAR}{_YEAR_WORD}", re.IGNORECASE)
_MONTH_ALONE = re.compile(_MONTH, re.IGNORECASE)

_ISO = re.compile(r"(?<![\w./-])(?P<y>(?:19|20)\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?![\w/-]|\.\d)")
_NUMERIC = re.compile(
    r"(?<![\w./-])(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>(?:19|20)\d{2})"
    r"(?![\w/-]|\.\d)"
)

# Prepositions after which a month name stands alone, by language.
_MONTH_CUES: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the in by until till before after since from through during early late mid of "
        "next last this"
    ),
    "de": _words("im in bis ab seit vor nach anfang mitte ende zum"),
    "fr": _words("en avant après depuis dès fin début mi d'ici jusqu'en courant"),
    "es": _words("en para hasta desde de"),
    "ru": _words("в во к ко до с со после начала середины конца начале середине конце"),
    "uk": _words("у в до з із після початку середини кінця кінці середині протягом"),
}
_WORD_BEFORE = re.compile(rf"({_L}+(?:'{_L}+)?)[\s-]+\Z")

_WEEKDAY_EN = re.compile(
    rf"{_NB}(?:(?P<mod>this\s+past|this\s+coming|last|past|next|coming|this)\s+)?"
    rf"(?P<wd>{'|'.join(_EN_WEEKDAYS)}){_NA}",
    re.IGNORECASE,
)


def _weekday_forms(*groups: str) -> dict[str, int]:
    forms: dict[str, int] = {}
    for group in groups:
        for weekday, words in enumerate(group.split("|")):
            for word in words.split():
                forms[word] = weekday
    return forms


_DE_WD = _weekday_forms("montag|dienstag|mittwoch|donnerstag|freitag|samstag sonnabend|sonntag")
_FR_WD = _weekday_forms("lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche")
_ES_WD = _weekday_forms("lunes|martes|miércoles miercoles|jueves|viernes|sábado sabado|domingo")
_RU_WD = _weekday_forms(
    "понедельник понедельника понедельнику|вторник вторника вторнику|среду среды среде|"
    "четверг четверга четвергу|пятницу пятницы пятнице|субботу субботы субботе|"
    "воскресенье воскресенья воскресенью"
)
_UK_WD = _weekday_forms(
    "понеділок понеділка|вівторок вівторка|середу середи|четвер четверга|п'ятницю п'ятниці|"
    "суботу суботи|неділю неділі"
)


def _wd(forms: dict[str, int]) -> str:
    return rf"(?P<wd>{_alternation(forms)}){_NA}"


# (pattern, weekday forms, direction): foreign weekdays only where a word fixes the tense.
_WeekdayCue = tuple[str, dict[str, int], Direction]  # (words, weekday forms, direction)
_WEEKDAY_CUES_BEFORE: tuple[_WeekdayCue, ...] = (
    (
        r"bis(?:\s+(?:zum|spätestens))?|spätestens|(?:am\s+)?(?:kommenden|nächsten)",
        _DE_WD,
        "after",
    ),
    (r"(?:am\s+)?(?:vergangenen|letzten)", _DE_WD, "before"),
    (r"d'ici|jusqu'à|avant|au\s+plus\s+tard", _FR_WD, "after"),
    (
        r"hasta|para|antes\s+del?|(?:(?:hasta|para|antes\s+del?)\s+)?el\s+próximo",
        _ES_WD,
        "after",
    ),
    (r"(?:hasta|para)\s+el", _ES_WD, "after"),
    (r"(?:el\s+)?pasado", _ES_WD, "before"),
    (r"до|к|ко|(?:в|во)\s+(?:следующ|ближайш)\w+", _RU_WD, "after"),
    (r"(?:(?:в|во)\s+)?(?:прошл|минувш)\w+", _RU_WD, "before"),
    (r"до|(?:у|в)\s+наступн\w+|наступн\w+", _UK_WD, "after"),
    (r"(?:(?:у|в)\s+)?минул\w+", _UK_WD, "before"),
)
_WEEKDAY_CUES_AFTER: tuple[_WeekdayCue, ...] = (  # "vendredi prochain", "viernes pasado"
    ("prochain", _FR_WD, "after"),
    ("dernier", _FR_WD, "before"),
    (r"próximo|que\s+viene", _ES_WD, "after"),
    ("pasado", _ES_WD, "before"),
)
_WEEKDAY_FOREIGN: list[tuple[re.Pattern[str], dict[str, int], Direction]] = [
    (re.compile(rf"{_NB}(?:{words})\s+{_wd(forms)}", re.I), forms, direction)
    for words, forms, direction in _WEEKDAY_CUES_BEFORE
] + [
    (re.compile(rf"{_NB}{_wd(forms)}\s+(?:{words}){_NA}", re.I), forms, direction)
    for words, forms, direction in _WEEKDAY_CUES_AFTER
]

_HOLIDAY = re.compile(
    rf"{_NB}(?:(?P<rite>orthodox|catholic|western)\s+)?(?P<name>"
    r"thanksgiving(?:\s+day)?|christmas(?:\s+(?:eve|day))?|easter(?:\s+(?:sunday|day))?"
    r"|new\s+year's\s+(?:eve|day)|new\s+year's|new\s+year|victory\s+day"
    r"|weihnachten|heiligabend|ostern|silvester|neujahr|noël|pâques|navidad|nochebuena"
    r"|nochevieja|pascua|рождеств[оауе]|пасх[аиуе]|нов(?:ый|ого|ому)\s+год[ау]?"
    r"|різдв[оауі]|великд(?:ень|ня|ню|ні)|нов(?:ий|ого|ому)\s+рок[уі]?|новорічн\w+"
    rf"){_NA}(?:\s+{_YEAR})?",
    re.IGNORECASE,
)


def _holiday(name: str, rite: str) -> Callable[[int], date]:
    key = re.sub(r"\s+", " ", name.lower())
    if key.startswith("thanksgiving"):
        return thanksgiving
    if key.startswith("easter") or key in {"ostern", "pâques", "pascua"}:
        return orthodox_easter if rite == "orthodox" else easter
    if key.startswith(("пасх", "великд")):
        return orthodox_easter
    if key in {"christmas eve", "heiligabend", "nochebuena"}:
        return lambda y: date(y, 12, 24)
    if key.startswith("рождеств") or (key.startswith("christmas") and rite == "orthodox"):
        return lambda y: date(y, 1, 7)  # the Russian Orthodox Christmas
    if key.startswith(("christmas", "weihnachten", "noël", "navidad", "різдв")):
        return lambda y: date(y, 12, 25)  # Ukraine has kept 25 December since 2023
    if key in {"new year's eve", "silvester", "nochevieja"}:
        return lambda y: date(y, 12, 31)
    if key == "victory day":
        return lambda y: date(y, 5, 9)
    return lambda y: date(y, 1, 1)  # New Year and its translations


_SEASON = re.compile(
    rf"{_NB}(?:(?P<cue>by|in|until|till|before|during|since|through|this|next|last|early|late"
    r"|mid|a|the|(?:the\s+)?(?:end|beginning|start|middle)\s+of)(?:\s+the)?[\s-]+)?"
    rf"(?P<season>spring|summer|autumn|fall|winter){_NA}(?:\s+(?P<of>of\s+)?{_YEAR})?",
    re.IGNORECASE,
)
_SEASON_START = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}

_END_OF = re.compile(
    rf"{_NB}(?:end\s+of\s+(?:the|this|next|last)\s+(?P<unit>month|year|week)"
    rf"|end\s+of\s+{_YEAR}|(?P<ye>year[-\s]end|end[-\s]of[-\s]year|year's\s+end)"
    r"|(?P<me>month's\s+end|end[-\s]of[-\s]month|(?:this|next|last)\s+month)"
    r"|ende\s+(?:des|dieses)\s+(?P<de>jahres|monats)|(?P<dec>jahresende|monatsende)"
    r"|fin\s+(?P<fr>de\s+l'année|d'année|de\s+cette\s+année|du\s+mois|de\s+ce\s+mois)"
    r"|(?:fin|finales|fines)\s+de(?:l|\s+este)?\s+(?P<es>año|mes)"
    r"|конц[ае]\s+(?:этого\s+|текущего\s+)?(?P<ru>года|месяца)"
    rf"|кін(?:ця|ці)\s+(?:цього\s+|поточного\s+)?(?P<uk>року|місяця)){_NA}",
    re.IGNORECASE,
)

_RELATIVE_DAY = re.compile(
    rf"{_NB}(?P<w>the\s+day\s+after\s+tomorrow|the\s+day\s+before\s+yesterday|today|tonight"
    r"|tomorrow|yesterday|übermorgen|vorgestern|heute|morgen|gestern|aujourd'hui|après-demain"
    r"|avant-hier|demain|pasado\s+mañana|anteayer|hoy|mañana|ayer|послезавтра|позавчера"
    rf"|сегодня|завтра|вчера|післязавтра|позавчора|сьогодні|вчора|учора){_NA}",
    re.IGNORECASE,
)
_RELATIVE_DAYS = {
    "the day after tomorrow": 2,
    "the day before yesterday": -2,
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "yesterday": -1,
    "übermorgen": 2,
    "vorgestern": -2,
    "heute": 0,
    "morgen": 1,
    "gestern": -1,
    "aujourd'hui": 0,
    "après-demain": 2,
    "avant-hier": -2,
    "demain": 1,
    "pasado mañana": 2,
    "anteayer": -2,
    "hoy": 0,
    "mañana": 1,
    "ayer": -1,
    "послезавтра": 2,
    "позавчера": -2,
    "сегодня": 0,
    "завтра": 1,
    "вчера": -1,
    "післязавтра": 2,
    "позавчора": -2,
    "сьогодні": 0,
    "вчора": -1,
    "учора": -1,
}

_NUMBER_WORDS = {
    **dict.fromkeys(["a", "an", "one", "ein", "eine", "einer", "einem", "un", "une"], 1),
    **dict.fromkeys(["uno", "una", "один", "одну", "одного", "одной", "одна", "одного"], 1),
    **dict.fromkeys(["two", "zwei", "deux", "dos", "два", "две", "двух", "дві", "двох"], 2),
    **dict.fromkeys(["a couple of", "a couple"], 2),
    **dict.fromkeys(["three", "drei", "trois", "tres", "три", "трёх", "трех", "трьох"], 3),
    **dict.fromkeys(["four", "vier", "quatre", "cuatro", "четыре", "четырёх", "чотири"], 4),
    **dict.fromkeys(["five", "fünf", "cinq", "cinco", "пять", "пяти", "п'ять", "п'яти"], 5),
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    **dict.fromkeys(["ten", "zehn", "dix", "diez", "десять", "десяти"], 10),
    "eleven": 11,
    "twelve": 12,
    **dict.fromkeys(["fourteen", "quatorze", "catorce"], 14),
    **dict.fromkeys(["fifteen", "quinze", "quince"], 15),
    "thirty": 30,
}
_UNITS: dict[str, str] = {
    **dict.fromkeys(["hour", "hours", "stunde", "stunden", "heure", "heures"], "h"),
    **dict.fromkeys(["hora", "horas", "час", "часа", "часов", "годину", "години", "годин"], "h"),
    **dict.fromkeys(["day", "days", "tag", "tage", "tagen", "jour", "jours", "día", "días"], "d"),
    **dict.fromkeys(["дня", "дней", "сутки", "суток", "день", "дні", "днів"], "d"),
    **dict.fromkeys(["week", "weeks", "woche", "wochen", "semaine", "semaines"], "w"),
    **dict.fromkeys(["semana", "semanas", "неделю", "недели", "недель", "неделя"], "w"),
    **dict.fromkeys(["тиждень", "тижні", "тижнів", "тижня"], "w"),
    **dict.fromkeys(["month", "months", "monat", "monate", "monaten", "mois", "mes", "meses"], "m"),
    **dict.fromkeys(["месяц", "месяца", "месяцев", "місяць", "місяці", "місяців", "місяця"], "m"),
}
# Units that mean "one" without a number word: через неделю, через месяц.
_SINGLE_UNITS = frozenset({"неделю", "месяц", "день", "сутки", "тиждень", "місяць"})
_RELATIVE = re.compile(
    rf"{_NB}(?P<prep>within|in|innerhalb(?:\s+von)?|binnen|dans|d'ici|sous|en|dentro\s+de"
    r"|через|в\s+течение|протягом|впродовж)\s+"
    r"(?:(?:the\s+)?(?:next|coming)\s+|der\s+nächsten\s+|(?:los|las)\s+próxim[oa]s\s+"
    r"|les\s+|ближайш\w+\s+|найближч\w+\s+)?"
    rf"(?:(?P<n>\d{{1,3}}|{_alternation(_NUMBER_WORDS)})\s+)?(?P<unit>{_alternation(_UNITS)})"
    rf"{_NA}(?!\s+(?:ago|later|before|after|earlier))",
    re.IGNORECASE,
)
_N_DAY_DEADLINE = re.compile(
    rf"{_NB}(?P<n>\d{{1,3}}|{_alternation(_NUMBER_WORDS)})[-\s](?P<unit>hour|day|week|month)"
    rf"\s+(?:deadline|ultimatum|window|grace\s+period){_NA}",
    re.IGNORECASE,
)

# -- withdrawal ----------------------------------------------------------------------------------

_DL = r"(?:deadlines?|ultimatums?|cut-?offs?|time\s+limits?|due\s+date)"
_DL_END = (
    rf"{_NA}(?!-)(?!\s+(?:extensions?|issues?|problems?|changes?|shifts?|pressure|diplomacy"
    r"|for\s+(?:an?\s+)?extension))"
)
_ADJ = (
    r"(?:(?:hard|firm|fixed|set|specific|strict|formal|real|self-imposed|particular|definite"
    r"|concrete|official|such|clear|hard-and-fast|artificial|final|deadline)\s+)*"
)
_DET = r"(?:(?:the|a|an|his|her|its|their|that|this|any|[\w.-]+'s)\s+)?"
_GAP = r"(?:[\w'.-]+\s+){0,4}?"
_NEG_VERBS = (
    r"have|has|had|set|setting|give|giving|impose|imposing|name|naming|put|putting|announce"
    r"|want|need|see|fix|attach|place|offer|issue|believe\s+in"
)
_WITHDRAWN_EN = [
    rf"no\s+longer\s+(?:(?:has|have|had|is|was|are|were|faces?|sets?|imposes?|bound\s+by"
    rf"|subject\s+to|under)\s+)?(?:(?:a|an|any|the|his|its|their)\s+)?{_ADJ}{_DL}{_DL_END}",
    rf"{_DL}(?:\s+[\w'.-]+){{0,4}}?\s+(?:no\s+longer|not\s+anymore)\s+(?:applies|apply|stands"
    r"|holds|exists|matters|in\s+(?:place|effect|force)|valid|relevant|binding|a\s+factor)",
    rf"{_NB}no\s+{_ADJ}{_DL}{_DL_END}",
    rf"(?:n't|{_NB}not|{_NB}never|{_NB}refused\s+to|{_NB}declined\s+to|{_NB}no\s+plans?\s+to"
    r"|{_NB}no\s+intention\s+(?:of|to))\s+(?:(?:going|want|wanting|planning|plan|intend"
    r"|intending|about|likely|ready|willing)\s+to\s+)?(?:\w+ly\s+)?"
    rf"(?:{_NEG_VERBS})\s+(?:(?:a|an|any|the)\s+)?{_ADJ}{_DL}{_DL_END}",
    rf"(?:{_NB}is\s+not|{_NB}isn't|{_NB}was\s+not|{_NB}wasn't|'s\s+not|{_NB}are\s+not"
    rf"|{_NB}aren't)\s+(?:really\s+|actually\s+)?(?:a|an)\s+{_ADJ}{_DL}{_DL_END}",
    rf"{_NB}without\s+(?:a|an|any)\s+{_ADJ}{_DL}{_DL_END}",
    rf"{_NB}eas(?:ed|es|ing|e)\s+(?:off|up)(?:\s+on)?\s+{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_NB}(?:back(?:ed|s|ing)?|step(?:ped|s|ping)?|pull(?:ed|s|ing)?|walk(?:ed|s|ing)?"
    r"|mov(?:ed|es|ing|e)|shift(?:ed|s|ing)?)\s+(?:away|back|off|down)\s+(?:from\s+|on\s+)?"
    rf"{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_NB}retreat(?:ed|s|ing)?\s+from\s+{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_NB}(?:drop(?:ped|s|ping)?|scrap(?:ped|s|ping)?|abandon(?:ed|s|ing)?|lift(?:ed|s|ing)?"
    r"|remov(?:ed|es|ing|e)|ditch(?:ed|es|ing)?|waiv(?:ed|es|ing|e)|rescind(?:ed|s|ing)?"
    r"|withdr(?:ew|aws|awn|awing|aw)|cancell?(?:ed|s|ing)?|shelv(?:ed|es|ing|e)"
    r"|ax(?:ed|es|ing|e)?|junk(?:ed|s|ing)?|discard(?:ed|s|ing)?|(?:gave|give|gives|giving)"
    r"\s+up(?:\s+on)?|let\s+go\s+of|(?:did|do|does|doing|done)\s+away\s+with)\s+"
    rf"{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_DL},?(?:\s+[\w'.,-]+){{0,6}}?\s+(?:was|were|is|are|has\s+been|have\s+been|had\s+been"
    r"|been|got|gets|get|now|'s)\s+(?:now\s+|effectively\s+|quietly\s+|officially\s+"
    r"|since\s+been\s+|also\s+)?(?:dropped|scrapped|abandoned|lifted|removed|ditched|waived"
    rf"|rescinded|withdrawn|cancell?ed|shelved|axed|junked|discarded|dead|off){_NA}",
    rf"{_DL}(?:\s+[\w'.-]+){{0,4}}?\s+(?:is|was|are|were|'s)\s*(?:not|n't)\s+(?:set\s+in\s+stone"
    rf"|fixed|firm|binding|hard|real){_NA}",
]
_WITHDRAWN_OTHER = [
    # German
    r"kein(?:e|en|er)?\s+(?:(?:feste|festen|fester|harte|harten|konkrete|konkreten)\s+)?"
    rf"(?:frist|deadline|ultimatum|stichtag){_NA}(?!-)",
    rf"ohne\s+(?:eine\s+|jede\s+)?(?:feste\s+)?(?:frist|deadline|ultimatum){_NA}(?!-)",
    r"(?:frist|deadline|ultimatum)(?:\s+[\w.-]+){0,5}?\s+(?:aufgehoben|gestrichen"
    r"|fallen\s*gelassen|zurückgenommen|aufgegeben|abgeschafft|hinfällig|vom\s+tisch)",
    r"verzicht\w*\s+auf\s+(?:die|eine|seine|ihre|das|sein)\s+(?:\w+\s+)?"
    rf"(?:frist|deadline|ultimatum){_NA}",
    # French
    r"(?:plus|pas|aucune?)\s+(?:de\s+|d')?(?:(?:vraie|réelle|ferme|fixe)\s+)?"
    rf"(?:date[- ]limite|échéance|ultimatum|deadline){_NA}",
    rf"sans\s+(?:aucune?\s+|de\s+)?(?:date[- ]limite|échéance|ultimatum|deadline){_NA}",
    r"(?:abandonn|renon[cç]|supprim|retir|annul|lev)\w*\s+(?:à\s+)?(?:l'|la\s+|le\s+|son\s+"
    rf"|sa\s+|cette\s+|cet\s+)(?:date[- ]limite|échéance|ultimatum|deadline){_NA}",
    r"(?:date[- ]limite|échéance|ultimatum)(?:\s+[\w'.-]+){0,4}?\s+(?:a\s+été|est|sont|ont\s+été)"
    rf"\s+(?:levée?s?|abandonnée?s?|supprimée?s?|annulée?s?|retirée?s?){_NA}",
    # Spanish
    r"(?:ya\s+no\s+hay|no\s+hay|no\s+existe|ya\s+no\s+existe|no\s+tengo|no\s+tiene|no\s+tenemos"
    r"|ningún|ninguna|sin)\s+(?:(?:un|una|ningún|ninguna)\s+)?(?:plazo|fecha\s+límite"
    rf"|ultimátum|deadline){_NA}(?!\s+(?:de\s+)?(?:ampliación|prórroga))",
    r"(?:abandon|retir|elimin|suprim|anul|levant|descart)\w*\s+(?:el|la|su|ese|este)\s+"
    rf"(?:plazo|fecha\s+límite|ultimátum){_NA}",
    rf"renunci\w*\s+(?:al|a\s+su)\s+(?:plazo|ultimátum){_NA}",
    r"(?:plazo|fecha\s+límite|ultimátum)(?:\s+[\w.-]+){0,4}?\s+(?:fue|ha\s+sido|está|quedó)\s+"
    rf"(?:eliminad[oa]|retirad[oa]|suprimid[oa]|anulad[oa]|levantad[oa]|abandonad[oa]){_NA}",
    # Russian
    r"(?:больше\s+нет|нет\s+больше|уже\s+нет|нет)\s+(?:(?:никакого|никаких|конкретного"
    r"|конкретных|жёсткого|жесткого|чёткого|четкого|четких|чётких)\s+)?(?:дедлайна|дедлайнов"
    rf"|срока|сроков|крайнего\s+срока|ультиматума){_NA}(?!\s+давности)",
    r"без\s+(?:(?:каких-либо|какого-либо|конкретного|конкретных|жёсткого|жесткого|чётких"
    rf"|четких)\s+)?(?:дедлайна|дедлайнов|сроков|ультиматума){_NA}",
    r"отказ\w*\s+от\s+(?:\w+\s+)?(?:дедлайна|срока|сроков|ультиматума)" + _NA,
    r"(?:отменил\w*|снял\w*|отозвал\w*)\s+(?:\w+\s+)?(?:дедлайн|срок|сроки|ультиматум)" + _NA,
    r"(?:дедлайн|срок|ультиматум)(?:\s+\w+){0,3}?\s+(?:был\w?\s+)?(?:отмен[её]н\w*|снят\w*"
    r"|больше\s+не\s+действу\w+)",
    r"не\s+(?:\w+\s+)?(?:ставит|ставил\w*|ставлю|ставим|устанавлива\w+|установил\w*|назыв\w+"
    r"|назвал\w*)\s+(?:никаких\s+|никакого\s+|конкретн\w+\s+)?(?:дедлайн\w*|срок\w*"
    rf"|ультиматум\w*){_NA}",
    # Ukrainian
    r"(?:більше\s+немає|немає\s+більше|вже\s+немає|більше\s+нема|немає|нема)\s+"
    r"(?:(?:жодного|жодних|конкретного|конкретних|чіткого|чітких)\s+)?(?:дедлайну|дедлайнів"
    rf"|терміну|термінів|кінцевого\s+терміну|ультиматуму){_NA}",
    rf"без\s+(?:жодного\s+|жодних\s+)?(?:дедлайну|дедлайнів|термінів|ультиматуму){_NA}",
    r"відмов\w*\s+від\s+(?:\w+\s+)?(?:дедлайну|терміну|термінів|ультиматуму)" + _NA,
    r"(?:скасува\w*|зняв|зняла|зняли|відкликав\w*)\s+(?:\w+\s+)?(?:дедлайн|термін|терміни"
    r"|ультиматум)" + _NA,
    r"не\s+(?:\w+\s+)?(?:встановлю\w*|встановив\w*|ставить|ставив\w*|назива\w+|назвав\w*)\s+"
    rf"(?:жодних\s+|жодного\s+|конкретн\w+\s+)?(?:дедлайн\w*|термін\w*|ультиматум\w*){_NA}",
]
_WITHDRAWN = re.compile(
    "|".join(f"(?:{p})" for p in [*_WITHDRAWN_EN, *(_NB + p for p in _WITHDRAWN_OTHER)]),
    re.IGNORECASE,
)

# -- deadlines -----------------------------------------------------------------------------------

_DEADLINE_TERM = re.compile(
    rf"{_NB}(?:deadlines?|ultimatums?|cut-?offs?|time\s+limits?|due\s+date|fristen|frist"
    r"|stichtag|date[- ]limite|échéance|délai|plazo|fecha\s+límite|ultimátum|дедлайн\w*"
    rf"|срок(?:а|у|ом|е|и|ов|ам)?|ультиматум\w*|термін\w*){_NA}",
    re.IGNORECASE,
)
# Words just before a date that make it a time limit.
_LINK_BEFORE = re.compile(
    rf"{_NB}(?:by|until|till|before|no\s+later\s+than|bis(?:\s+(?:zum|spätestens))?|spätestens"
    r"|d'ici(?:\s+(?:au|le|à))?|jusqu'(?:au|à|en)|avant(?:\s+le)?|au\s+plus\s+tard(?:\s+le)?"
    r"|hasta(?:\s+el)?|para(?:\s+el)?|antes\s+del?|до|к|ко)\s+(?:the\s+)?"
    r"(?:(?:end|beginning|middle|start)\s+of\s+(?:the\s+)?|конца\s+|кінця\s+|fin\s+"
    r"|finales\s+de\s+|ende\s+)?\Z",
    re.IGNORECASE,
)
_PREVIOUS = re.compile(
    rf"{_NB}(?:originally|initially|previously|(?:original|initial|earlier|previous|former|old"
    rf"|prior|first)\s+(?:[\w'.-]+\s+){{0,2}}?{_DL}"
    r"|had\s+(?:\w+ly\s+)?(?:set|given|imposed|announced|issued|established|named|demanded"
    r"|insisted|said|declared|fixed|laid\s+down|threatened|told|warned|stated)"
    rf"|{_DL}\s+(?:[\w'.-]+\s+){{0,3}}?(?:had\s+)?(?:expired|lapsed|passed|elapsed|ran\s+out)"
    rf"|(?:missed|blown|blew)\s+(?:the|a|its|his|their)\s+(?:[\w'.-]+\s+){{0,3}}?{_DL}"
    r"|ursprünglich\w*|anfänglich\w*|frühere[nrms]?\s+(?:frist|deadline)|alte[nrms]?\s+frist"
    r"|initialement|à\s+l'origine|(?:date[- ]limite|échéance|ultimatum)\s+(?:initiale|précédente"
    r"|originale)|originalmente|inicialmente|(?:plazo|ultimátum)\s+(?:original|inicial|anterior)"
    r"|первоначальн\w*|изначальн\w*|прежн\w+|ранее\s+установленн\w+|спочатку|початков\w*"
    rf"|попередн\w+|раніше\s+встановлен\w+){_NA}",
    re.IGNORECASE,
)
_MOVE = re.compile(
    rf"{_NB}(?:extend|extended|extends|extending|moved|move|moves|moving|pushed|push|pushes"
    r"|pushing|postponed|postpone|delayed|delay|shifted|shift|brought\s+forward|new|now)" + _NA,
    re.IGNORECASE,
)
_TARGET_BEFORE = re.compile(rf"{_NB}(?:to|until|till|for|by)\s+(?:the\s+)?\Z", re.IGNORECASE)
_SOURCE_BEFORE = re.compile(rf"{_NB}from\s+(?:the\s+)?\Z", re.IGNORECASE)

# -- tense of the context ------------------------------------------------------------------------

_TOKEN = re.compile(rf"{_L}+(?:'{_L}+)*")
_FUTURE_WORDS = _words(
    "will won't shall would could should might must gonna plans plan planning scheduled "
    "expected slated due upcoming next coming until till deadline deadlines ultimatum intends "
    "aims hopes later soon"
)
_PAST_WORDS = _words(
    "had held met said told was were did spoke gave went came took made began saw sent left "
    "flew wrote struck won lost sought fought brought thought felt kept ran rose fell hit got "
    "earlier ago already previously since"
)
_NOT_PAST_ED = _words(
    "scheduled expected planned slated supposed intended proposed needed required united "
    "limited detailed related armed based indeed hundred proceed exceed succeed unprecedented "
    "advanced alleged concerned interested involved experienced qualified dedicated "
    "sophisticated complicated occupied anticipated coordinated heightened embattled "
    "beleaguered devoted so-called red bed need speed feed seed breed embed"
)
_PASSIVE_BEFORE = _words("be being is are am to get gets will would")
_SUBJECT_VERBS = _words("is isn't remains will would was wasn't could might")
_STRONG_FUTURE_BEFORE = _words(
    "until till by deadline deadlines ultimatum due scheduled slated expected"
)


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    word: str  # lower case
    lower: bool  # written in lower case


class _Sentence:
    """One sentence prepared for matching: apostrophes and spaces made plain, words found."""

    __slots__ = ("plain", "published", "today", "tokens")

    def __init__(self, text: str, published: datetime) -> None:
        self.plain = text.translate(_PLAIN)  # same length: spans carry over
        self.published = published
        self.today = published.date()
        self.tokens = [
            _Token(m.start(), m.end(), m.group().lower(), m.group().islower())
            for m in _TOKEN.finditer(self.plain)
        ]

    def token_index(self, position: int) -> int:
        """Index of the first token starting at or after `position`."""
        for i, token in enumerate(self.tokens):
            if token.start >= position:
                return i
        return len(self.tokens)

    def cue(self, i: int) -> Literal["past", "future"] | None:
        """The tense the token at `i` points to, if it is a tense cue."""
        tokens = self.tokens
        token = tokens[i]
        word = token.word
        following = tokens[i + 1].word if i + 1 < len(tokens) else ""
        if word in _FUTURE_WORDS or word.endswith("'ll"):
            return "future"
        if word == "going":
            return "future" if following == "to" else None
        if word == "may" and token.lower:
            return "future"
        past = word in _PAST_WORDS or (
            token.lower and len(word) >= 5 and word.endswith("ed") and word not in _NOT_PAST_ED
        )
        if not past:
            return None
        if word == "had" and following == "until":
            return "future"
        if i > 0 and tokens[i - 1].word in _PASSIVE_BEFORE:
            return None  # "will be held", "is expected"
        return "past"

    def tense_around(self, start: int, end: int) -> Literal["past", "future"]:
        """Whether the words around the span [start, end) put it in the past or the future."""
        tokens = self.tokens
        i = self.token_index(start)
        j = self.token_index(end)
        before = tokens[i - 1].word if i > 0 else ""
        if before == "by" and self.plain[end:].lstrip().startswith(","):
            # "By Tuesday, Trump had eased off": the clause after the comma decides.
            for k in range(j, len(tokens)):
                found = self.cue(k)
                if found is not None:
                    return found
            return "future"
        if before == "since":
            return "past"
        after = tokens[j].word if j < len(tokens) else ""
        if after in _SUBJECT_VERBS:
            # "Trump said Thursday is the deadline": the day's own verb, not "said", decides;
            # "said Thursday was the deadline" is reported speech about a deadline still ahead.
            if after in {"was", "wasn't"} and not any(
                t.word in {"deadline", "ultimatum", "cutoff"} for t in tokens[j + 1 : j + 4]
            ):
                return "past"
            return "future"
        if any(tokens[k].word in _STRONG_FUTURE_BEFORE for k in range(max(0, i - 3), i)):
            return "future"
        if any(
            tokens[k].word in {"deadline", "deadlines", "ultimatum"}
            for k in range(j, j + 2)
            if k < len(tokens)
        ):
            return "future"
        for distance in range(1, len(tokens) + 1):
            left, right = i - distance, j - 1 + distance
            if left < 0 and right >= len(tokens):
                break
            if left >= 0 and (found := self.cue(left)) is not None:
                return found
            if right < len(tokens) and (found := self.cue(right)) is not None:
                return found
        return "future"


_PLAIN = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'", "\u00a0": " ", "\u202f": " "})

# -- scanning ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    value: str
    rank: int  # among overlapping candidates, the lower rank wins
    past: bool = False  # resolved from a past context
    relative: bool = False  # counted from the publication time: a time limit by itself


def _numeric(s: _Sentence) -> Iterator[_Found]:
    for m in _ISO.finditer(s.plain):
        try:
            day = date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            continue
        yield _Found(m.start(), m.end(), day.isoformat(), 0)
    for m in _NUMERIC.finditer(s.plain):
        a, b = int(m["a"]), int(m["b"])
        if m["sep"] == "." or a > 12 or a == b:
            day_n, month = a, b
        elif b > 12:
            day_n, month = b, a
        else:
            continue  # 11/12/2025: either way round
        try:
            day = date(int(m["y"]), month, day_n)
        except ValueError:
            continue
        yield _Found(m.start(), m.end(), day.isoformat(), 0)


def _month_day(s: _Sentence) -> Iterator[_Found]:
    for pattern, day_first in ((_MONTH_DAY, False), (_DAY_MONTH, True)):
        for m in pattern.finditer(s.plain):
            name = m["month"]
            if day_first and name.lower() in _AMBIGUOUS_MONTHS and name.islower():
                continue  # "all 27 may agree"
            form = _MONTHS[name.lower()]
            day_n = int(m["day"])
            value: date | None
            if m["year"]:
                try:
                    value = date(int(m["year"]), form.month, day_n)
                except ValueError:
                    continue
            else:
                value = _nearest(s.today, _on(form.month, day_n))
            if value is not None:
                yield _Found(m.start(), _trim_period(m, form), value.isoformat(), 1)


def _trim_period(m: re.Match[str], form: _MonthForm) -> int:
    """The end of `m` without a period after a full month name: it ends the sentence."""
    if m.end() == m.end("month") + 1 and m.group().endswith(".") and not form.abbreviation:
        return m.end() - 1
    return m.end()


def _on(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


def _month_year(s: _Sentence) -> Iterator[_Found]:
    for m in _MONTH_YEAR.finditer(s.plain):
        name = m["month"]
        if name.lower() in _AMBIGUOUS_MONTHS and name.islower():
            continue
        yield _Found(m.start(), m.end(), _ym(int(m["year"]), _MONTHS[name.lower()].month), 2)


def _month_alone(s: _Sentence) -> Iterator[_Found]:
    for m in _MONTH_ALONE.finditer(s.plain):
        name = m["month"]
        key = name.lower()
        form = _MONTHS[key]
        if not form.alone:
            continue
        before = _WORD_BEFORE.search(s.plain, max(0, m.start() - 30), m.start())
        cue = before.group(1).lower() if before else ""
        # Capitalized English stands alone ("a June deadline", "February"), "May" after a cue.
        capitalized = "en" in form.langs and name[0].isupper() and key not in _AMBIGUOUS_MONTHS
        if not capitalized and (
            (key in _AMBIGUOUS_MONTHS and name.islower())
            or not any(cue in _MONTH_CUES[lang] for lang in form.langs)
        ):
            continue
        end = m.start() + len(name)  # without an abbreviation's period
        if cue in {"last", "past"}:
            direction: Direction = "before"
        elif cue == "next":
            direction = "after"
        elif s.tense_around(m.start(), end) == "past":
            direction = "on_or_before"
        else:
            direction = "on_or_after"
        past = direction in ("before", "on_or_before")
        yield _Found(m.start(), end, _month_occurrence(s.today, form.month, direction), 5, past)


def _weekdays(s: _Sentence) -> Iterator[_Found]:
    for m in _WEEKDAY_EN.finditer(s.plain):
        weekday = _EN_WEEKDAYS.index(m["wd"].lower())
        modifier = re.sub(r"\s+", " ", (m["mod"] or "").lower())
        direction: Direction
        if modifier in {"last", "past", "this past"}:
            direction = "before"
        elif modifier in {"next", "coming", "this coming"}:
            direction = "after"
        elif s.tense_around(m.start("wd"), m.end("wd")) == "past":
            direction = "on_or_before"
        else:
            direction = "after"
        past = direction in ("before", "on_or_before")
        value = _weekday_date(s.today, weekday, direction).isoformat()
        yield _Found(m.start(), m.end(), value, 4, past)
    for pattern, forms, direction in _WEEKDAY_FOREIGN:
        for m in pattern.finditer(s.plain):
            weekday = forms[m["wd"].lower()]
            value = _weekday_date(s.today, weekday, direction).isoformat()
            yield _Found(m.start("wd"), m.end("wd"), value, 4, direction == "before")


def _holidays(s: _Sentence) -> Iterator[_Found]:
    for m in _HOLIDAY.finditer(s.plain):
        name = m["name"]
        if not name[0].isupper():
            continue  # "in the new year", "a thanksgiving service"
        lead = s.plain[max(0, m.start() - 8) : m.start()].lower()
        if lead.endswith(("lunar ", "chinese ")):
            continue
        make = _holiday(name, (m["rite"] or "").lower())
        if m["year"]:
            value: date | None = make(int(m["year"]))
        else:
            value = _nearest(s.today, make)
        if value is not None:
            yield _Found(m.start(), m.end(), value.isoformat(), 3)


def _seasons(s: _Sentence) -> Iterator[_Found]:
    for m in _SEASON.finditer(s.plain):
        season = m["season"].lower()
        cue = re.sub(r"\s+", " ", (m["cue"] or "").lower())
        if m["year"] is None:
            if not cue or re.match(r"\s+of\b", s.plain[m.end() :]):
                continue  # "since the fall of Avdiivka"
            if season in {"fall", "spring"} and cue in {"a", "the"}:
                continue  # "the fall of Avdiivka"
        elif m["of"] and not cue:
            continue
        start_month = _SEASON_START[season]
        end = m.end() if m["year"] else m.end("season")
        if m["year"]:
            yield _Found(m.start("season"), end, _ym(int(m["year"]), start_month), 6)
            continue
        starts = [date(y, start_month, 1) for y in range(s.today.year - 2, s.today.year + 2)]
        today = s.today
        if cue == "last":
            chosen = [d for d in starts if _add_months(d, 3) <= today][-1]
        elif cue == "next":
            chosen = next(d for d in starts if d > today)
        elif cue == "since" or s.tense_around(m.start("season"), end) == "past":
            chosen = [d for d in starts if d <= today][-1]
        else:
            chosen = next(d for d in starts if _add_months(d, 3) > today)
        past = chosen <= today and cue != "next" and _add_months(chosen, 3) <= today
        yield _Found(m.start("season"), end, _ym(chosen.year, chosen.month), 6, past)


_YEAR_WORDS = frozenset({"year", "jahres", "jahresende", "año", "года", "року"})


def _ends(s: _Sentence) -> Iterator[_Found]:
    """End of the week, month or year; "this/next month"."""
    today = s.today
    for m in _END_OF.finditer(s.plain):
        text = m.group().lower()
        which = 1 if re.search(r"\bnext\b", text) else -1 if re.search(r"\blast\b", text) else 0
        unit = next((m[g].lower() for g in ("unit", "de", "dec", "es", "ru", "uk") if m[g]), "")
        if m["year"]:
            value = _ym(int(m["year"]), 12)
        elif unit == "week":
            value = (today + timedelta(days=6 - today.weekday() + 7 * which)).isoformat()
        elif unit in _YEAR_WORDS or m["ye"] or (m["fr"] and "ann" in m["fr"].lower()):
            value = _ym(today.year + which, 12)
        else:
            value = _ym(*_shift_month(today.year, today.month, which))
        yield _Found(m.start(), m.end(), value, 2)


def _relative(s: _Sentence) -> Iterator[_Found]:
    for m in _RELATIVE_DAY.finditer(s.plain):
        word = re.sub(r"\s+", " ", m["w"].lower())
        if word == "morgen" and not m["w"].islower():
            continue  # der Morgen: the morning
        if word == "mañana" and re.search(
            r"(?:la|esta|cada|una|media)\s+\Z", s.plain[max(0, m.start() - 8) : m.start()], re.I
        ):
            continue  # la mañana: the morning
        value = s.today + timedelta(days=_RELATIVE_DAYS[word])
        yield _Found(m.start(), m.end(), value.isoformat(), 3)
    for pattern in (_RELATIVE, _N_DAY_DEADLINE):
        for m in pattern.finditer(s.plain):
            unit_word = m["unit"].lower()
            n_text = (m["n"] or "").lower()
            if not n_text and unit_word not in _SINGLE_UNITS:
                continue  # "within days": vague
            n = int(n_text) if n_text.isdigit() else _NUMBER_WORDS.get(n_text, 1)
            unit = _UNITS.get(unit_word, unit_word[0])
            if unit == "h":
                day = (s.published + timedelta(hours=n)).date()
            elif unit == "d":
                day = s.today + timedelta(days=n)
            elif unit == "w":
                day = s.today + timedelta(weeks=n)
            else:
                day = _add_months(s.today, n)
            end = m.end("unit") if pattern is _N_DAY_DEADLINE else m.end()
            yield _Found(m.start(), end, day.isoformat(), 2, relative=True)


_EXTRACTORS: tuple[Callable[[_Sentence], Iterator[_Found]], ...] = (
    _numeric,
    _month_day,
    _month_year,
    _holidays,
    _ends,
    _relative,
    _weekdays,
    _month_alone,
    _seasons,
)


def _dates(s: _Sentence) -> list[_Found]:
    """Every date in the sentence, overlaps settled: the longest first, then the lowest rank."""
    candidates = [f for extract in _EXTRACTORS for f in extract(s)]
    candidates.sort(key=lambda f: (-(f.end - f.start), f.rank, f.start))
    taken: list[_Found] = []
    for f in candidates:
        if all(f.end <= t.start or f.start >= t.end for t in taken):
            taken.append(f)
    return sorted(taken, key=lambda f: f.start)


def _withdrawals(s: _Sentence) -> list[tuple[int, int]]:
    spans = []
    for m in _WITHDRAWN.finditer(s.plain):
        start = m.start()
        while start > 0 and (s.plain[start - 1].isalpha() or s.plain[start - 1] == "'"):
            start -= 1  # "n't have a deadline" → "don't have a deadline"
        spans.append((start, m.end()))
    return spans


def find_dates(sentence: str, published: datetime) -> list[DateMention]:
    """Every date expression and every withdrawal of a deadline in `sentence`, in order.

    A withdrawal ("dropped the Thursday deadline") may contain a date mention; both are listed.
    """
    s = _Sentence(sentence, published)
    mentions = [
        DateMention(f.start, f.end, sentence[f.start : f.end], f.value, "date") for f in _dates(s)
    ]
    mentions += [DateMention(a, b, sentence[a:b], "none", "withdrawn") for a, b in _withdrawals(s)]
    return sorted(mentions, key=lambda m: (m.start, m.end))


def deadline_in(sentence: str, published: datetime) -> DeadlineMention | None:
    """The deadline `sentence` states, withdrawn ("none") or dated, or None if it states none.

    A withdrawal wins unless a date after it is the deadline's new one ("scrapped the Thursday
    deadline and set a new one for Dec. 5"). A date is the deadline's when a word just before it
    makes it a limit ("by", "until", "bis", "до"), when it counts from the publication ("within
    two weeks") or when a deadline word is near it ("a deadline of Thursday", "a June
    deadline"). The tense is "previous" when the sentence says the deadline was an earlier one
    ("originally", "the original deadline", "had set", "expired") or its date has passed.
    """
    s = _Sentence(sentence, published)
    dates = _dates(s)
    withdrawals = _withdrawals(s)
    terms = [m.span() for m in _DEADLINE_TERM.finditer(s.plain)]
    moved = _MOVE.search(s.plain) is not None

    scored: list[tuple[int, _Found, tuple[int, int]]] = []
    for f in dates:
        link = _link(s, f, terms)
        if link is not None:
            scored.append((link[0], f, link[1]))
    if withdrawals:
        first_end = min(b for _, b in withdrawals)
        if moved:
            for _, f, span in scored:
                if f.start >= first_end and _TARGET_BEFORE.search(s.plain, 0, f.start):
                    return DeadlineMention(f.value, "current", sentence[span[0] : span[1]])
        a, b = withdrawals[0]
        return DeadlineMention("none", "current", sentence[a:b])
    if not scored:
        return None
    if moved:
        targets = [x for x in scored if _TARGET_BEFORE.search(s.plain, 0, x[1].start)]
        sources = {id(x[1]) for x in scored if _SOURCE_BEFORE.search(s.plain, 0, x[1].start)}
        if targets:
            scored = targets[-1:]
        elif len(scored) > len(sources):
            scored = [x for x in scored if id(x[1]) not in sources]
    _, chosen, span = min(scored, key=lambda x: (x[0], x[1].start))
    previous = _PREVIOUS.search(s.plain) is not None or _has_passed(chosen.value, s.today)
    return DeadlineMention(
        chosen.value, "previous" if previous else "current", sentence[span[0] : span[1]]
    )


_LINK_WINDOW = 8  # words between a date and a deadline word that still tie them


def _link(
    s: _Sentence, f: _Found, terms: list[tuple[int, int]]
) -> tuple[int, tuple[int, int]] | None:
    """How closely `f` is tied to a time limit (lower is closer) and the span of the evidence."""
    if f.relative:
        return 0, (f.start, f.end)
    before = _LINK_BEFORE.search(s.plain, max(0, f.start - 40), f.start)
    if before is not None:
        return 0, (before.start(), f.end)
    if f.past:
        return None  # "held talks on Monday about the deadline": when something happened
    best: tuple[int, tuple[int, int]] | None = None
    i, j = s.token_index(f.start), s.token_index(f.end)
    for a, b in terms:
        if b <= f.start:
            distance = i - s.token_index(b)
        elif a >= f.end:
            distance = s.token_index(a) - j
        else:
            distance = 0
        if (
            distance <= _LINK_WINDOW
            and re.search(r"[;—–]", s.plain[min(b, f.end) : max(a, f.start)]) is None
        ):
            candidate = (distance + 1, (min(a, f.start), max(b, f.end)))
            if best is None or candidate[0] < best[0]:
                best = candidate
    return best


def _has_passed(value: str, today: date) -> bool:
    if len(value) == 10:
        return date.fromisoformat(value) < today
    return value < _ym(today.year, today.month)
