"""The deadline a sentence states: a date tied to a time limit, or a withdrawal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bot.rules._dates._calendar import _ym
from bot.rules._dates._find import _dates, _Found
from bot.rules._dates._sentence import _Sentence
from bot.rules._dates._vocabulary import _NA, _NB
from bot.rules._dates._withdrawn import _DL, _withdrawals


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


# -- deadlines -----------------------------------------------------------------------------------

_DEADLINE_TERM = re.compile(
    rf"{_NB}(?:deadlines?|ultimatums?|cut-?offs?|time\s+limits?|due\s+date|fristen|frist"
    r"|stichtag|date[- ]limite|échéance|délai|plazo|fecha\s+límite|ultimátum|дедлайн\w*"
    r"|срок(?:а|у|ом|е|и|ов|ам)?|ультиматум\w*|термін\w*"
    # it, pt, pl, cs, sk, hr, sr, sl, ro, nl, tr, sv, no, fi, bg, ar, hi; the Polish "termin"
    # only in lower case (German "Termin" is an appointment), the South Slavic "rok" only in a
    # deadline's phrases (alone it is "year" in Polish and Czech)
    r"|scadenz[ae]|termine\s+ultimo|data\s+limite|prazos?|data-limite|ultimato"
    r"|(?-i:termin(?:u|ie|em|y|ów)?)|ultimat(?:um|u|em)|lhůt[auěy]?|termín\w*|ultimát\w*"
    r"|lehot[auy]?|krajnj\w+\s+rok\w*|rok(?:a|u|om)?(?=\s+(?:do|za|od|ističe|istječe|je\s+istekao))"
    r"|рок(?:а|у|ом)?(?=\s+(?:до|за|од|истиче))|termen(?:ul)?(?:\s+limită)?|termijn\w*"
    r"|uiterste\s+datum|süre(?:si|yi|sini)?|mühlet\w*|son\s+tarih\w*|ultimatom\w*"
    r"|tidsfrist\w*|frist(?:en|er)?|määräai\w*|takaraj\w*|aikaraj\w*|uhkavaatimu\w*"
    r"|краен\s+срок|ултиматум\w*|مهل[ةه]|موعد\s+نهائي|الموعد\s+النهائي|إنذار"
    rf"|समय\s*सीमा|डेडलाइन|अल्टीमेटम){_NA}"
    r"|最后期限|最後期限|期限|截止日期|最后通牒|最後通牒|最後通告",
    re.IGNORECASE,
)
# Words just before a date that make it a time limit.
_LINK_BEFORE = re.compile(
    rf"{_NB}(?:by|until|till|before|no\s+later\s+than|bis(?:\s+(?:zum|spätestens))?|spätestens"
    r"|d'ici(?:\s+(?:au|le|à))?|jusqu'(?:au|à|en)|avant(?:\s+le)?|au\s+plus\s+tard(?:\s+le)?"
    r"|hasta(?:\s+el)?|para(?:\s+el)?|antes\s+del?|до|к|ко"
    r"|entro|fino\s+a(?:l|lla|ll')?|prima\s+d(?:i|el|ella)|até(?:\s+(?:ao|à|a|o))?"
    r"|antes\s+d[ao]|najpóźniej\s+do|do|przed|před|nejpozději\s+do|prije|pre|најкасније\s+до"
    r"|pre\s+|până\s+(?:la|pe|în)|pana\s+la|până|înainte\s+de|tot|vóór|voor|uiterlijk"
    r"|till|senast|före|innan|innen|til|før|senest|بحلول|حتى|قبل)"
    r"\s+(?:(?:the|il|la|lo|le|l'|el|o|a|ao|de|het|den|dia|giorno|día|dnia|dne|dana)\s+)*"
    r"(?:(?:end|beginning|middle|start)\s+of\s+(?:the\s+)?|конца\s+|кінця\s+|fin\s+"
    r"|finales\s+de\s+|ende\s+)?\Z",
    re.IGNORECASE,
)
# A date that names an event ("before the Dec. 28 meeting") is when it happens, not a limit.
_EVENT_AFTER = re.compile(
    r"\s+(?:meeting|talks|summit|visit|call|trip|session|round|vote|election|speech|address"
    r"|interview|conference|negotiations)\b",
    re.IGNORECASE,
)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Words just after a date that make it a time limit, where the language puts them after.
_LINK_AFTER = re.compile(
    r"(?:'?[a-zçğıöşü]{0,4}\s+(?:kadar|dek)|[a-zäö]{0,4}\s+mennessä)(?![^\W\d_])"
    r"|\s*(?:までに|まで|之前|以前|前|为止|為止)|\s*तक",
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
    r"|попередн\w+|раніше\s+встановлен\w+|inizialmente|originariamente|inicialmente"
    r"|originalmente|początkowo|pierwotnie|původně|prvotno|prvobitno|inițial|initial"
    r"|oorspronkelijk|aanvankelijk|başlangıçta|ursprungligen|opprinnelig|alun\s+perin"
    rf"|първоначално){_NA}",
    re.IGNORECASE,
)
_MOVE = re.compile(
    rf"{_NB}(?:extend|extended|extends|extending|moved|move|moves|moving|pushed|push|pushes"
    r"|pushing|postponed|postpone|delayed|delay|shifted|shift|brought\s+forward|new|now)" + _NA,
    re.IGNORECASE,
)
_TARGET_BEFORE = re.compile(rf"{_NB}(?:to|until|till|for|by)\s+(?:the\s+)?\Z", re.IGNORECASE)
_SOURCE_BEFORE = re.compile(rf"{_NB}from\s+(?:the\s+)?\Z", re.IGNORECASE)


def find_dates(sentence: str, published: datetime, lang: str = "") -> list[DateMention]:
    """Every date expression and every withdrawal of a deadline in `sentence`, in order.

    A withdrawal ("dropped the Thursday deadline") may contain a date mention; both are listed.
    """
    s = _Sentence(sentence, published, lang)
    mentions = [
        DateMention(f.start, f.end, sentence[f.start : f.end], f.value, "date") for f in _dates(s)
    ]
    mentions += [DateMention(a, b, sentence[a:b], "none", "withdrawn") for a, b in _withdrawals(s)]
    return sorted(mentions, key=lambda m: (m.start, m.end))


def deadline_in(sentence: str, published: datetime, lang: str = "") -> DeadlineMention | None:
    """The deadline `sentence` states, withdrawn ("none") or dated, or None if it states none.

    A withdrawal wins unless a date after it is the deadline's new one ("scrapped the Thursday
    deadline and set a new one for Dec. 5"). A date is the deadline's when a word just before it
    makes it a limit ("by", "until", "bis", "до"), when it counts from the publication ("within
    two weeks") or when a deadline word is near it ("a deadline of Thursday", "a June
    deadline"). The tense is "previous" when the sentence says the deadline was an earlier one
    ("originally", "the original deadline", "had set", "expired") or its date has passed.
    """
    s = _Sentence(sentence, published, lang)
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
    if before is not None and not _EVENT_AFTER.match(s.plain, f.end):
        return 0, (before.start(), f.end)
    after = _LINK_AFTER.match(s.plain, f.end)
    if after is not None:
        return 0, (f.start, after.end())
    if f.past:
        return None  # "held talks on Monday about the deadline": when something happened
    if _ISO_DAY.fullmatch(s.plain, f.start, f.end):
        return None  # a machine-written date ("date 2025-11-22" of a page's header) near the
        # word is no deadline unless a word like "by" makes it one
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
