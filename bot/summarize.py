"""Alert text: the generic JSON every target starts from, with an extractive summary."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.models import Article, Match

LEAD_CHARS = 400
EVIDENCE_CHARS = 500
SUMMARY_CHARS = 400
SUMMARY_MIN_CONTEXT = 60  # a shorter piece of context after the evidence is left out
CONTEXT_CHARS = 320
CONTEXT_SENTENCES = 2
# Context candidates: shorter ones say too little, longer ones are run-on lists or boilerplate.
CONTEXT_MIN_WORDS = 5
CONTEXT_MIN_CHARS = 25
CONTEXT_MAX_CHARS = 320
# A second context sentence must be at least this central relative to the first.
SECOND_CONTEXT_RATIO = 0.5
# A candidate sharing this share of its content words with an evidence sentence (or with a
# context sentence already chosen) says the same thing again.
REPEAT_OVERLAP = 0.6
TITLE_WEIGHT = 2  # a headline word counts as this many occurrences in the body
STEM_CHARS = 6
# Centrality is divided by the square root of a sentence's distinct content words, but of at
# least this many, so that a short sentence carrying two frequent words does not win.
NORMALIZE_FLOOR = 8

# --------------------------------------------------------------------------------------------
# Sentences


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_TERMINAL = re.compile(r"[.!?…]+[\"'”’»)\]]*")
_OPENERS = "\"'“‘«„(¿¡"
_CLOSERS = "\"'”’»)]"
_ABBREVIATIONS = _wordset(
    """mr mrs ms dr prof gen lt col maj capt sgt adm gov sen rep rev st jr sr vs etc jan feb
    mar apr jun jul aug sep sept oct nov dec approx dept fig inc ltd corp bzw nr mme mlle sra
    sres ст им гг др"""
)
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]?")  # U.S, e.g, т.е


def _abbreviation_before(text: str, period: int) -> bool:
    """Whether the period at `period` closes an abbreviation ("Mr.", "U.S.") or an initial."""
    start = period
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in _OPENERS:
        start -= 1
    word = text[start:period].lower()
    if not word:
        return False
    if word in _ABBREVIATIONS or (len(word) > 1 and _INITIALISM.fullmatch(word + ".")):
        return True
    return len(word) == 1 and word.isalpha()


def _opens_sentence(ch: str) -> bool:
    return ch.isupper() or ch.istitle() or ch.isdigit() or ch in _OPENERS or ch in "—–-"


def _split_line(line: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for m in _TERMINAL.finditer(line):
        end = m.end()
        rest = end
        while rest < len(line) and line[rest].isspace():
            rest += 1
        if rest == end or rest == len(line) or not _opens_sentence(line[rest]):
            continue
        if m.group().rstrip(_CLOSERS) == "." and _abbreviation_before(line, m.start()):
            continue
        pieces.append(line[start:end])
        start = rest
    pieces.append(line[start:])
    return [p for p in (" ".join(piece.split()) for piece in pieces) if p]


def sentences(text: str) -> list[str]:
    """The sentences of `text` in order: line breaks end one, and so do . ! ? … followed by a
    space and a capital (any script), a digit, a quote or a dash, except after abbreviations.
    Whitespace inside a sentence is collapsed."""
    return [s for line in text.splitlines() for s in _split_line(line)]


# Quotation marks that open a quotation, and the marks that close each.
_QUOTE_PAIRS = {"“": "”", "«": "»", "„": "“", "‚": "‘"}


def _quoted_sentences(text: str) -> list[tuple[str, bool]]:
    """`sentences(text)`, each with whether it is quoted speech: it starts with a quotation
    mark or inside a quotation opened by an earlier sentence of its paragraph."""
    out: list[tuple[str, bool]] = []
    for line in text.splitlines():
        closer: str | None = None  # the mark that ends the open quotation, if one is open
        for sentence in _split_line(line):
            quoted = closer is not None or sentence[0] in _QUOTE_PAIRS or sentence[0] == '"'
            for ch in sentence:
                if closer is None and ch in _QUOTE_PAIRS:
                    closer = _QUOTE_PAIRS[ch]
                elif closer is None and ch == '"':
                    closer = '"'
                elif ch == closer:
                    closer = None
            out.append((sentence, quoted))
    return out


def _trim(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def lead(text: str, limit: int = LEAD_CHARS) -> str:
    """The article's opening sentences, up to `limit` characters."""
    first_para = next((p for p in text.strip().splitlines() if p.strip()), "")
    out = ""
    for sentence in sentences(first_para):
        if out and len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}".strip()
    return _trim(out, limit)


# --------------------------------------------------------------------------------------------
# Content words

_WORD = re.compile(r"\w+")

# Function words and news reporting verbs; matched on the case-folded word before stemming.
STOP_WORDS: Mapping[str, frozenset[str]] = {
    "en": _wordset(
        """a about above after again against all also am an and any are as at be because been
        before being below between both but by can could did do does doing down during each few
        for from further had has have having he her here hers him his how i if in into is it its
        just me more most my no nor not now of off on once only or other our out over own same she
        should so some such than that the their them then there these they this those through to
        too under until up very was we were what when where which while who whom why will with
        would you your said says say saying told tells according added adding mr mrs ms
        one two new last week year years day days time may might must
        since still yet however already another many much per via"""
    ),
    "de": _wordset(
        """aber alle allem allen aller alles als also am an auch auf aus bei beim bin bis bereits
        da damit dann das dass daß dem den denen der des dessen die dies diese diesem diesen
        dieser dieses doch dort du durch ein eine einem einen einer eines er es etwa für gegen
        hat hatte hätte haben habe hier ich ihm ihn ihr ihre ihrem ihren im in ist ja jedoch
        jetzt kann kein keine man mehr mit nach nicht noch nun nur ob oder ohne schon sehr sei
        sein seine seiner seit sich sie sind so soll sollen sowie über um und uns unter vom von
        vor war waren was weil wenn werden wie wieder will wird wir wo wurde wurden worden zu
        zum zur zwei sagte sagt erklärte laut jahr jahren"""
    ),
    "fr": _wordset(
        """à au aux avec avait avant ce cela ces cet cette comme dans de depuis des deux dont du
        elle elles en encore entre est et été être fait il ils je la le les leur leurs lui mais
        me même mes ne ni nos notre nous on ont ou où par pas plus pour qu que qui sa sans se
        selon ses si son sont sous sur ta te tes ton tous tout toute tu un une vers vos votre
        vous déjà aussi après alors dit déclaré affirmé année ans"""
    ),
    "es": _wordset(
        """a al algo ante antes como con contra cuando de del desde donde dos durante el ella
        ellas ellos en entre era es esa ese eso esta está este esto están fue fueron ha han hasta
        hay la las le les lo los más me mi muy ni no nos o otra otro para pero por porque que
        qué se sea ser si sin sobre son su sus también tiene un una uno unos y ya dijo según
        afirmó había será año años"""
    ),
    "ru": _wordset(
        """а без более бы был была были было быть в вам вас весь во вот все всего всех вы где
        да даже для до его ее её ей ему если есть еще ещё же за здесь и из или им их к как
        какой когда кто ли между мы на над нас не него нее неё нет ни них но о об однако он она
        они оно от по под после при про раз с со так также там те тем то того тоже только том
        тот у уже чем что чтобы эта эти это этого этой этом этот я который которая которые
        которых заявил заявила сказал сказала сообщил сообщила года году лет"""
    ),
    "uk": _wordset(
        """а або але б без би був була були було бути в вже ви від від для до є же з за зі із
        і й їй їм їх його її йому коли котрий лише між ми на над нас не ні нього них але о от
        по під після при про себе свій своє свої своя та так також там те тим то тобто того
        той тільки у хто це цей ці ця цього чи що щоб який яка яке які якщо я ще теж заявив
        заявила сказав сказала повідомив повідомила року років"""
    ),
}


def _language(words: Sequence[str], declared: str) -> str | None:
    """The article's language for stop words: the declared one if known, else the language
    whose function words cover most of the text (None when none of them does)."""
    code = declared.lower().split("-")[0].split("_")[0]
    if code in STOP_WORDS:
        return code
    hits = Counter(lang for w in words for lang, stop in STOP_WORDS.items() if w in stop)
    if not hits:
        return None
    return max(STOP_WORDS, key=lambda lang: hits[lang])  # ties: the first listed


def _stem(word: str) -> str:
    """A crude, language-blind stem: a Latin plural `s` dropped, then the first characters.
    Prefix truncation conflates most inflections (Ukraine/Ukrainian, переговоры/переговорах)."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss") and word.isascii():
        word = word[:-1]
    return word[:STEM_CHARS]


def _terms(text: str, stop: frozenset[str]) -> list[str]:
    return [
        _stem(w)
        for w in (m.group().casefold() for m in _WORD.finditer(text))
        if len(w) > 1 and w not in stop and not w.isdigit()
    ]


# --------------------------------------------------------------------------------------------
# Context: the sentences most central to the article


@dataclass(frozen=True, slots=True)
class _Candidate:
    index: int
    text: str
    score: float
    terms: frozenset[str]


def _eligible(sentence: str) -> bool:
    return (
        CONTEXT_MIN_CHARS <= len(sentence) <= CONTEXT_MAX_CHARS
        and len(sentence.split()) >= CONTEXT_MIN_WORDS
        and sentence.rstrip(_CLOSERS)[-1:] in ".!?…"  # headings and captions do not end so
        and "http" not in sentence
    )


def _overlap(terms: frozenset[str], other: frozenset[str]) -> float:
    return len(terms & other) / len(terms) if terms else 1.0


def _central(
    text: str, title: str, evidence: Sequence[str], language: str, limit: int
) -> list[_Candidate]:
    """The chosen context sentences, most central first (see `context_sentences`)."""
    quoted = _quoted_sentences(text)
    all_sentences = [s for s, _ in quoted]
    words = [m.group().casefold() for m in _WORD.finditer(text)]
    stop = STOP_WORDS.get(_language(words, language) or "", frozenset())
    per_sentence = [_terms(s, stop) for s in all_sentences]
    frequency: Counter[str] = Counter()
    for terms in per_sentence:
        frequency.update(terms)
    for term in set(_terms(title, stop)):
        frequency[term] += TITLE_WEIGHT
    evidence_terms = [frozenset(_terms(e, stop)) for e in evidence]
    evidence_folded = [f for f in (" ".join(e.split()).casefold() for e in evidence) if f]

    candidates: list[_Candidate] = []
    for index, ((sentence, is_quote), terms) in enumerate(zip(quoted, per_sentence, strict=True)):
        distinct = frozenset(terms)
        if not distinct or is_quote or not _eligible(sentence):
            continue
        folded = sentence.casefold()
        if any(
            folded in e or (len(e) >= CONTEXT_MIN_CHARS and e.rstrip("…") in folded)
            for e in evidence_folded
        ):
            continue
        if any(_overlap(distinct, e) >= REPEAT_OVERLAP for e in evidence_terms):
            continue
        own = Counter(terms)
        elsewhere = sum(frequency[t] - own[t] for t in distinct)
        score = elsewhere / math.sqrt(max(len(distinct), NORMALIZE_FLOOR))
        if score > 0:
            candidates.append(_Candidate(index, sentence, score, distinct))

    chosen: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (-c.score, c.index)):
        if len(chosen) >= limit or (
            chosen and candidate.score < SECOND_CONTEXT_RATIO * chosen[0].score
        ):
            break
        if not any(_overlap(candidate.terms, c.terms) >= REPEAT_OVERLAP for c in chosen):
            chosen.append(candidate)
    return chosen


def context_sentences(
    text: str,
    *,
    title: str = "",
    evidence: Sequence[str] = (),
    language: str = "",
    limit: int = CONTEXT_SENTENCES,
) -> list[str]:
    """Up to `limit` sentences of `text` most central to it, in article order; deterministic.

    A sentence's centrality is how often its content words (stop words removed, crudely
    stemmed) occur elsewhere in the article, headline words counting `TITLE_WEIGHT` times more,
    summed over its distinct words and divided by the square root of their number (at least
    `NORMALIZE_FLOOR`) so that neither long nor very short sentences win by length alone.
    Sentences repeating an evidence sentence, quoted speech, headings and very short or very
    long sentences are skipped; a second sentence is kept when it is at least
    `SECOND_CONTEXT_RATIO` as central as the best and says something else.
    """
    chosen = _central(text, title, evidence, language, limit)
    return [_trim(c.text, CONTEXT_CHARS) for c in sorted(chosen, key=lambda c: c.index)]


def extractive_summary(evidence: Sequence[str], best_context: str | None, fallback: str) -> str:
    """The first evidence sentence and the most central context sentence, within
    `SUMMARY_CHARS` (cut on a word boundary with "…"); `fallback` when both are missing.

    A context sentence that would keep fewer than `SUMMARY_MIN_CONTEXT` characters after the
    evidence is left out rather than shown as a stub."""
    first = evidence[0] if evidence else ""
    if best_context and first:
        whole = len(first) + 1 + len(best_context) <= SUMMARY_CHARS
        if not whole and SUMMARY_CHARS - len(first) - 1 < SUMMARY_MIN_CONTEXT:
            best_context = None
    parts = [p for p in (first, best_context) if p]
    return _trim(" ".join(parts), SUMMARY_CHARS) if parts else fallback


# --------------------------------------------------------------------------------------------
# The payload


def build_payload(
    match: Match,
    article: Article,
    *,
    alert_id: str,
    created_at: datetime,
    sources: Sequence[Mapping[str, Any]] = (),
    llm_summary: str | None = None,
) -> dict[str, Any]:
    """The alert as the generic webhook receives it (documented in README.md).

    Pure and fast (it runs inside the store transaction). `sources` are the other articles of
    the story (`url`, `outlet`, `title`), listed after the article itself, repeats dropped.
    `llm_summary`, when given, replaces the extractive `summary` (`summary_source: "llm"`).
    """
    evidence = [_trim(s, EVIDENCE_CHARS) for s in match.evidence[:3]]
    summary_lead = lead(article.text)
    central = _central(article.text, article.title, evidence, article.language, CONTEXT_SENTENCES)
    context = [_trim(c.text, CONTEXT_CHARS) for c in sorted(central, key=lambda c: c.index)]
    best = _trim(central[0].text, CONTEXT_CHARS) if central else None
    summary = extractive_summary(evidence, best, summary_lead)
    own = {"url": article.url, "outlet": article.feed, "title": article.title}
    listed = [own]
    seen: set[Any] = {article.url}
    for source in sources:
        url = source.get("url")
        if url in seen:
            continue
        seen.add(url)
        listed.append(dict(source))
    return {
        "id": alert_id,
        "rule": match.rule_id,
        "title": match.title,
        "severity": match.severity,
        "summary": llm_summary if llm_summary else summary,
        "summary_source": "llm" if llm_summary else "extractive",
        "values": match.values,
        "evidence": evidence,
        "context": context,
        "article": {
            "url": article.url,
            "title": article.title,
            "outlet": article.feed,
            "site_name": article.site_name,
            "published": article.published.isoformat() if article.published else None,
            "lead": summary_lead,
            "extraction": article.extraction,
        },
        "sources": listed,
        "created_at": created_at.isoformat(),
    }
