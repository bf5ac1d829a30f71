"""The date expressions of a sentence, each resolved against the publication time."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from bot.rules._dates._calendar import (
    Direction,
    _add_months,
    _month_occurrence,
    _nearest,
    _shift_month,
    _weekday_date,
    _ym,
    thanksgiving,
)
from bot.rules._dates._sentence import _Sentence
from bot.rules._dates._vocabulary import (
    _AMBIGUOUS_MONTHS,
    _CJK_DATE,
    _DAY_MONTH,
    _DAY_OF_THIS_MONTH,
    _EN_WEEKDAYS,
    _END_OF,
    _HOLIDAY,
    _ISO,
    _MONTH_ALONE,
    _MONTH_CUES,
    _MONTH_DAY,
    _MONTH_YEAR,
    _MONTHS,
    _N_DAY_DEADLINE,
    _NUMBER_WORDS,
    _NUMERIC,
    _RELATIVE,
    _RELATIVE_DAY,
    _RELATIVE_DAYS,
    _SEASON,
    _SEASON_START,
    _SINGLE_UNITS,
    _THANKSGIVING_CJK,
    _UNITS,
    _WEEKDAY_EN,
    _WEEKDAY_FOREIGN,
    _WORD_BEFORE,
    _holiday,
    _MonthForm,
    month_of,
)

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
    for m in _CJK_DATE.finditer(s.plain):  # 11月27日, 2025年11月27日
        try:
            if m["y"]:
                day = date(int(m["y"]), int(m["m"]), int(m["d"]))
            else:
                month, day_n = int(m["m"]), int(m["d"])
                date(2024, month, day_n)  # a real day of some year
                nearest = _nearest(s.today, _on(month, day_n))
                if nearest is None:
                    continue
                day = nearest
        except ValueError:
            continue
        yield _Found(m.start(), m.end(), day.isoformat(), 0)
    for m in _DAY_OF_THIS_MONTH.finditer(s.plain):
        try:
            day = s.today.replace(day=int(m["day"]))
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
            month = month_of(name.lower(), s.lang)
            day_n = int(m["day"])
            value: date | None
            if m["year"]:
                try:
                    value = date(int(m["year"]), month, day_n)
                except ValueError:
                    continue
            else:
                value = _nearest(s.today, _on(month, day_n))
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
        yield _Found(m.start(), m.end(), _ym(int(m["year"]), month_of(name.lower(), s.lang)), 2)


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
        month = month_of(key, s.lang)
        yield _Found(m.start(), end, _month_occurrence(s.today, month, direction), 5, past)


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
        if m["thanks"]:
            make: Callable[[int], date] = thanksgiving  # in another language: case says nothing
        elif m["xmas"]:
            if not m["xmas"][0].isupper():
                continue  # "città natale": a birthplace
            make = _on(12, 25)
        elif m["newyear"]:
            if m["newyear"][0].islower() and m["newyear"].lower().startswith(
                ("nov", "now", "yeni")
            ):
                continue  # "a new year" as a common noun
            make = _on(1, 1)
        else:
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

    for m in _THANKSGIVING_CJK.finditer(s.plain):
        value = _nearest(s.today, thanksgiving)
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
        elif unit in _YEAR_WORDS or m["ye"] or m["xy"] or (m["fr"] and "ann" in m["fr"].lower()):
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
