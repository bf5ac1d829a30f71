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

Languages: the above for English, German, French, Spanish, Russian and Ukrainian; for Italian,
Portuguese, Polish, Czech, Slovak, Croatian, Serbian, Slovenian, Romanian, Dutch, Turkish,
Swedish, Norwegian, Finnish and Bulgarian: day and month (and a month after a preposition),
weekdays after a word fixing the tense (``do czwartku``, ``entro giovedì``, ``perşembeye
kadar``), Thanksgiving, Christmas and New Year, the end of the month or year, deadline words and
withdrawals; Arabic and Hindi day and month; Chinese and Japanese ``11月27日`` and Thanksgiving.
A spelling that names two months (``listopad``: October in Croatian, November in Polish and
Czech) follows ``lang``, the article's language, where it is given. A date just before a
postposition (``27 Kasım'a kadar``, ``までに``) is a limit like one after "by".

Why not dateparser for the other languages: on these sentences (dateparser 1.5) it missed what
the tables here read (``do czwartku`` came back as "w piątek", the past Friday; ``do konce
měsíce`` and ``Dia de Ação de Graças`` gave nothing), it knows no deadlines or their withdrawal,
and it took 150-400 ms for its first sentence in a language and about 4 ms for each after.

The package's modules: `_calendar` (feasts and month arithmetic), `_vocabulary` (the words of
each language), `_sentence` (tokens and tense), `_find` (each kind of expression), `_withdrawn`
(withdrawn deadlines), `_deadline` (the deadline of a sentence).
"""

from __future__ import annotations

from bot.rules._dates._calendar import easter, orthodox_easter, thanksgiving
from bot.rules._dates._deadline import DateMention, DeadlineMention, deadline_in, find_dates

__all__ = [
    "DateMention",
    "DeadlineMention",
    "deadline_in",
    "easter",
    "find_dates",
    "orthodox_easter",
    "thanksgiving",
]
