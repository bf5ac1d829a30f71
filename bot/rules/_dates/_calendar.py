"""The calendar: movable feasts, month arithmetic, the nearest occurrence of a day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

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
