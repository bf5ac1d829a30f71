"""Rule conditions compiled into term trees, evaluated over one article's sentences and hits."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import ahocorasick  # no type stubs; see _Automaton

from bot.config import (
    Condition,
    DateExtract,
    EntityTerm,
    NumberExtract,
    RegexExtract,
    RegexTerm,
    RuleConfig,
    WithinScope,
)
from bot.language import (
    UNKNOWN,
    LemmaTable,
    is_trip_place,
    lemma_language,
    lemma_stream,
    needs_boundary,
    strip_marks,
    transliterate,
)
from bot.models import Match, Trigger
from bot.rules._dates import deadline_in, find_dates
from bot.rules._numbers import counts
from bot.rules._text import cut_long, normalize, split_sentences

__all__ = [
    "ArticleText",
    "CompiledRule",
    "ConditionNode",
    "Node",
    "PhraseIndex",
    "PhraseNode",
    "RegexNode",
    "compile_rules",
]

MAX_EVIDENCE = 3
TermConfig = str | RegexTerm | EntityTerm | Condition


@dataclass(frozen=True, slots=True)
class _Key:
    """What the automaton stores for one normalized phrase."""

    phrase_id: int
    length: int
    word_start: bool  # the phrase starts with a word character: a boundary is needed before it
    word_end: bool
    inflects: bool = False  # a name: an ending of up to MAX_ENDING letters may follow it


class _Automaton(Protocol):
    # Each form holds every phrase it stands for: in a lemma automaton, several phrases may
    # share one lemma ("Україна" and "Україні" both read "україна").
    def add_word(self, key: str, value: tuple[_Key, ...]) -> bool: ...
    def make_automaton(self) -> None: ...
    def iter(self, string: str) -> Iterator[tuple[int, tuple[_Key, ...]]]: ...


# The longest inflectional ending a name may take in running text: "Уиткофф|ом", "Witkoff|in",
# "Kushner|em", "Zelensk|ého". A longer run of letters is another word, and so is a
# derivation ("Parisian").
MAX_ENDING = 4
_MIN_INFLECTING = 4  # shorter names must stand whole ("Рим" is not "Римма")
# Endings that make another word of a name rather than a form of it: "Parisian", "Trumpism",
# "Putinist", "Kyivans". Their inflected forms run past MAX_ENDING or on into a longer word.
_DERIVATIONS = frozenset({"ian", "ians", "ism", "isms", "ist", "ists", "ite", "ites", "ese"})


class PhraseIndex:
    """Every phrase of a rule set in one Aho-Corasick automaton over folded, normalized text,
    and, per language, one over the phrases' lemmas (built the first time that language is
    read), so that one written form finds the inflected ones."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._inflects: set[str] = set()
        self._written: dict[int, str] = {}
        self._tables: dict[str, LemmaTable] = {}
        self._automaton: _Automaton | None = None
        self._lemma_automata: dict[str, _Automaton | None] = {}

    def add(self, phrase: str, *, inflects: bool = False) -> int:
        """The id of `phrase` (folded, whitespace runs made one space); the same phrase, one id.

        `inflects`: a name, found with an inflectional ending too ("Witkoff" in "Witkoffa").
        """
        written = normalize(phrase.strip()).text
        key = strip_marks(written)
        if not key:
            raise ValueError("empty phrase")
        if self._automaton is not None:
            raise RuntimeError("the automaton is already built")
        if inflects and len(key) >= _MIN_INFLECTING and needs_boundary(key[-1]):
            self._inflects.add(key)
        phrase_id = self._ids.setdefault(key, len(self._ids))
        self._written.setdefault(phrase_id, written)  # lemmas are read from the accented form
        return phrase_id

    def build(self) -> None:
        if self._automaton is not None or not self._ids:
            return
        automaton: _Automaton = ahocorasick.Automaton()
        for key, phrase_id in self._ids.items():
            automaton.add_word(key, (self._key(key, phrase_id, len(key)),))
        automaton.make_automaton()
        self._automaton = automaton

    def _key(self, key: str, phrase_id: int, length: int) -> _Key:
        return _Key(
            phrase_id,
            length,
            needs_boundary(key[0]),
            needs_boundary(key[-1]),
            key in self._inflects,
        )

    def __len__(self) -> int:
        return len(self._ids)

    def scan(self, text: str, lang: str = UNKNOWN) -> Iterator[tuple[int, int]]:
        """(phrase id, start in `text`) of every phrase occurring on word boundaries, written
        as it is or, where `lang` has a dictionary, through the lemmas of its words."""
        if self._automaton is None or not text:
            return
        norm = normalize(text)
        found = _hits(self._automaton, strip_marks(norm.text))
        hits = [(p, s) for p, s in found] if not norm.starts else [
            (p, norm.original(s)) for p, s in found
        ]
        lemmas = self._lemma_automaton(lang)
        if lemmas is not None:
            stream = lemma_stream(norm.text, lang, self._tables.get(lang))
            if stream is not None:
                seen = set(hits)
                for phrase_id, start in _hits(lemmas, strip_marks(stream.text)):
                    at = stream.original(start)
                    hit = (phrase_id, at if not norm.starts else norm.original(at))
                    if hit not in seen:
                        seen.add(hit)
                        hits.append(hit)
        yield from hits

    def _lemma_automaton(self, lang: str) -> _Automaton | None:
        """The automaton of the phrases' lemmas in `lang`, or None where there is no dictionary."""
        if lang in self._lemma_automata:
            return self._lemma_automata[lang]
        automaton: _Automaton | None = None
        if self._ids and lemma_language(lang) is not None:
            forms: dict[str, dict[int, _Key]] = {}
            wanted: set[str] = set()
            for key, phrase_id in self._ids.items():
                # The phrase's own lemmas, and the phrase as written: a dictionary may take a
                # word one way alone and another in text ("meeting" → "meet", "meetings" →
                # "meeting"), and the written form must meet the text's lemma either way.
                stream = lemma_stream(self._written[phrase_id], lang)
                lemma_key = strip_marks(stream.text) if stream is not None else ""
                if stream is not None:
                    wanted.update(stream.text.split())
                    wanted.update(self._written[phrase_id].split())
                for form in {lemma_key, key}:
                    if form and "|" not in form:
                        forms.setdefault(form, {})[phrase_id] = self._key(
                            key, phrase_id, len(form)
                        )
            # Articles are read through the forms of these lemmas only: the whole dictionary
            # is let go once the table is built.
            self._tables[lang] = LemmaTable(lang, wanted - {"|"})
            if forms:  # a set of punctuation-only phrases has no lemmas at all
                built: _Automaton = ahocorasick.Automaton()
                for form, keys in forms.items():
                    built.add_word(form, tuple(keys.values()))
                built.make_automaton()
                automaton = built
        self._lemma_automata[lang] = automaton
        return automaton


def _hits(automaton: _Automaton, s: str) -> list[tuple[int, int]]:
    """(phrase id, start) of each hit of `automaton` in `s` that stands on word boundaries."""
    out: list[tuple[int, int]] = []
    n = len(s)
    for end, keys in automaton.iter(s):
        for key in keys:
            start = end - key.length + 1
            # is_word_char inlined: this loop runs for every raw hit of every article
            if key.word_start and start > 0:
                before = s[start - 1]
                if before.isalnum() or before == "_":
                    continue
            if key.word_end and end + 1 < n:
                after = s[end + 1]
                if after.isalnum() or after == "_":
                    if not key.inflects:
                        continue
                    stop = end + 1
                    limit = min(n, end + 1 + MAX_ENDING)
                    while stop < limit and s[stop].isalpha():
                        stop += 1
                    if stop < n and (s[stop].isalnum() or s[stop] == "_"):
                        continue  # the word runs on: another word, not an ending
                    if s[end + 1 : stop] in _DERIVATIONS:
                        continue  # "Parisian", "Trumpism": a word made from the name
            out.append((key.phrase_id, start))
    return out


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty line of `text`."""
    spans: list[tuple[int, int]] = []
    for m in _LINE.finditer(text):
        a, b = m.span()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append((a, b))
    return spans


_LINE = re.compile(r"[^\n][^\n]*")  # not `[^\n]+`: see bot.rules._text._TERMINAL
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Scan:
    """Every phrase hit of one article, found in one pass: (phrase id, position)."""

    title: tuple[tuple[int, int], ...]
    text: tuple[tuple[int, int], ...]
    lang: str = UNKNOWN

    @classmethod
    def of(cls, title: str, text: str, phrases: PhraseIndex, lang: str = UNKNOWN) -> Scan:
        hits = sorted(phrases.scan(text, lang), key=lambda hit: hit[1])
        return cls(tuple(phrases.scan(title.strip(), lang)), tuple(hits), lang)


class ArticleText:
    """One article as one scope sees it: units (the title first), phrase hits by unit, regexes.

    Units are sentences, paragraphs, or windows of words (`within` N words: windows of 2N
    words starting every N words, so that any N consecutive words lie in one window).
    """

    def __init__(
        self,
        title: str,
        text: str,
        phrases: PhraseIndex,
        *,
        scope: str | int = "sentence",
        scan: Scan | None = None,
    ) -> None:
        title = title.strip()
        scan = scan or Scan.of(title, text, phrases)
        self.title = title
        self.text = text
        self.lang = scan.lang
        self.base = 1 if title else 0  # index of the text's first unit
        self._window = 0
        self.cut = 0  # units longer than MAX_SENTENCE, cut into windows
        if isinstance(scope, int):
            self._window = scope
            words = [m.span() for m in _WORD.finditer(text)]
            self._word_starts = [a for a, _ in words]
            spans = (
                [
                    (words[i][0], words[min(len(words), i + 2 * scope) - 1][1])
                    for i in range(0, max(1, len(words) - scope), scope)
                ]
                if words
                else []
            )
        else:
            spans, self.cut = cut_long(
                text, paragraph_spans(text) if scope == "paragraph" else split_sentences(text)
            )
        self.sentences: list[str] = ([title] if title else []) + [text[a:b] for a, b in spans]
        self._starts = [a for a, _ in spans]
        self.hits: dict[int, set[int]] = {}
        # phrase id -> its units as a bit mask (bit k: unit k), for combining candidates cheaply
        self.masks: dict[int, int] = {}
        # phrase id -> (unit, position) of each occurrence; title positions are the title's own
        self.places: dict[int, list[tuple[int, int]]] = {}
        if title:
            for phrase_id, position in scan.title:
                self.hits.setdefault(phrase_id, set()).add(0)
                self.masks[phrase_id] = self.masks.get(phrase_id, 0) | 1
                self.places.setdefault(phrase_id, []).append((0, position))
        if self._window or not self._starts:
            for phrase_id, position in scan.text:
                units = self.hits.setdefault(phrase_id, set())
                mask = self.masks.get(phrase_id, 0)
                for unit in self.units_at(position):
                    units.add(unit)
                    mask |= 1 << unit
                    self.places.setdefault(phrase_id, []).append((unit, position))
                self.masks[phrase_id] = mask
        else:  # sentences or paragraphs: one unit per position, found inline (the hot loop)
            hits, masks, places, starts = self.hits, self.masks, self.places, self._starts
            for phrase_id, position in scan.text:
                unit = self.base + max(0, bisect_right(starts, position) - 1)
                found = hits.get(phrase_id)
                if found is None:
                    hits[phrase_id] = {unit}
                    masks[phrase_id] = 1 << unit
                    places[phrase_id] = [(unit, position)]
                else:
                    found.add(unit)
                    masks[phrase_id] |= 1 << unit
                    places[phrase_id].append((unit, position))
        self._regex_in: dict[tuple[int, int], bool] = {}
        self._regex_first: dict[int, int | None] = {}
        self._regex_units: dict[int, int] = {}
        self._evidence: dict[int, str] = {}

    def units_at(self, position: int) -> list[int]:
        """The units of the text holding `position` (two where windows overlap)."""
        if not self._starts:
            return []
        if self._window:
            word = max(0, bisect_right(self._word_starts, position) - 1)
            first = max(0, word // self._window - 1)
            last = min(len(self._starts) - 1, word // self._window)
            return [self.base + k for k in range(first, last + 1)]
        return [self.base + max(0, bisect_right(self._starts, position) - 1)]

    def sentence_at(self, position: int) -> int:
        """The index of the (first) unit of the text holding `position`."""
        units = self.units_at(position)
        return units[0] if units else self.base

    def regex_in(self, node: RegexNode, sentence: int) -> bool:
        key = (node.regex_id, sentence)
        found = self._regex_in.get(key)
        if found is None:
            found = self._regex_in[key] = node.pattern.search(self.sentences[sentence]) is not None
        return found

    def regex_units(self, node: RegexNode) -> int:
        """The units where a match of `node` starts, as a bit mask: a superset of those it
        holds in, found in one walk over the text instead of one search per unit. Each search
        starts one character after the last match's start, so no start is passed over."""
        found = self._regex_units.get(node.regex_id)
        if found is None:
            found = 0
            search = node.pattern.search
            if self.title and search(self.title):
                found = 1
            m = search(self.text)
            while m is not None:
                for unit in self.units_at(m.start()):
                    found |= 1 << unit
                m = search(self.text, m.start() + 1)
            self._regex_units[node.regex_id] = found
        return found

    def regex_first(self, node: RegexNode) -> int | None:
        """The sentence where `node` first matches in the article (title, then text), or None."""
        if node.regex_id not in self._regex_first:
            first: int | None = None
            if self.title and node.pattern.search(self.title):
                first = 0
            else:
                m = node.pattern.search(self.text)
                if m is not None:
                    first = self.sentence_at(m.start())
            self._regex_first[node.regex_id] = first
        return self._regex_first[node.regex_id]

    def evidence(self, sentence: int) -> str:
        """The sentence trimmed, its whitespace runs made single spaces."""
        text = self._evidence.get(sentence)
        if text is None:
            text = self._evidence[sentence] = " ".join(self.sentences[sentence].split())
        return text


class Node(ABC):
    """A compiled term. `sentence` None asks about the whole article."""

    cost = 0  # cheaper terms are tried first

    @abstractmethod
    def holds(self, article: ArticleText, sentence: int | None) -> bool: ...

    @abstractmethod
    def candidates(self, article: ArticleText) -> int | None:
        """The sentences where this can hold, as a bit mask (bit k: unit k), or None if it is
        not known from the hits alone."""

    @abstractmethod
    def evidence(self, article: ArticleText) -> Iterator[int]:
        """For the whole article: the first sentence of each term that holds."""

    def needs(self) -> frozenset[int] | None:
        """Phrase ids one of which must occur for this to hold; None if not known."""
        return None

    # True when the phrase hits alone decide where this holds (no regex below it): then
    # `mask` is computed from the hits, and no unit needs to be tried one by one.
    phrases_only = False

    def mask(self, article: ArticleText) -> int:
        """The units where this holds, as a bit mask (bit k: unit k; bits past the last unit
        may be set). This default tries every unit; phrase nodes read it off their hits."""
        out = 0
        for unit in range(len(article.sentences)):
            if self.holds(article, unit):
                out |= 1 << unit
        return out


class PhraseNode(Node):
    cost = 0
    phrases_only = True

    def __init__(self, phrase_id: int, phrase: str) -> None:
        self.phrase_id = phrase_id
        self.phrase = phrase

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        hits = article.hits.get(self.phrase_id)
        return bool(hits) if sentence is None else hits is not None and sentence in hits

    def candidates(self, article: ArticleText) -> int | None:
        return article.masks.get(self.phrase_id, 0)

    def mask(self, article: ArticleText) -> int:
        return article.masks.get(self.phrase_id, 0)  # the candidates are exact

    def evidence(self, article: ArticleText) -> Iterator[int]:
        hits = article.hits.get(self.phrase_id)
        if hits:
            yield min(hits)

    def needs(self) -> frozenset[int] | None:
        return frozenset((self.phrase_id,))

    def __repr__(self) -> str:
        return f"PhraseNode({self.phrase!r})"


class RegexNode(Node):
    cost = 10

    def __init__(self, regex_id: int, pattern: re.Pattern[str]) -> None:
        self.regex_id = regex_id
        self.pattern = pattern

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        if sentence is None:
            return article.regex_first(self) is not None
        return article.regex_in(self, sentence)

    def candidates(self, article: ArticleText) -> int | None:
        return article.regex_units(self)

    def evidence(self, article: ArticleText) -> Iterator[int]:
        first = article.regex_first(self)
        if first is not None:
            yield first

    def __repr__(self) -> str:
        return f"RegexNode({self.pattern.pattern!r})"


class ConditionNode(Node):
    """`any`, `all` and `none` groups; every group present must hold."""

    def __init__(
        self,
        any_: Sequence[Node] | None,
        all_: Sequence[Node] | None,
        none_: Sequence[Node] | None,
    ) -> None:
        if any_ is None and all_ is None and none_ is None:
            raise ValueError("an empty condition")
        self.any_ = _by_cost(any_)
        self.all_ = _by_cost(all_)
        self.none_ = _by_cost(none_)
        groups = [g for g in (self.any_, self.all_, self.none_) if g]
        self.cost = 1 + max(t.cost for g in groups for t in g)
        self.phrases_only = all(t.phrases_only for g in groups for t in g)
        # An `any` of plain phrases, by far the most common, unites their masks in one loop.
        phrases = [t.phrase_id for t in self.any_ or () if isinstance(t, PhraseNode)]
        self._any_phrases = tuple(phrases) if self.any_ and len(phrases) == len(self.any_) else None

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        if self.all_ is not None and not all(t.holds(article, sentence) for t in self.all_):
            return False
        if self.any_ is not None and not any(t.holds(article, sentence) for t in self.any_):
            return False
        return self.none_ is None or not any(t.holds(article, sentence) for t in self.none_)

    def candidates(self, article: ArticleText) -> int | None:
        known: int | None = None  # None: nothing known yet
        if self.all_ is not None:
            for t in self.all_:
                if known is not None and isinstance(t, RegexNode):
                    break  # cheaper terms narrowed it: the regex is tried on those units alone
                c = t.candidates(article)
                if c is not None:
                    known = c if known is None else known & c
                    if not known:
                        return 0  # one term of `all` holds nowhere: nor does the whole
        if self._any_phrases is not None:
            union = self._phrase_union(article, self._any_phrases)
            known = union if known is None else known & union
        elif self.any_ is not None:
            union = 0
            for t in self.any_:
                c = t.candidates(article)
                if c is None:
                    break
                union |= c
            else:
                known = union if known is None else known & union
        return known

    @staticmethod
    def _phrase_union(article: ArticleText, phrase_ids: tuple[int, ...]) -> int:
        masks = article.masks
        union = 0
        for phrase_id in phrase_ids:
            union |= masks.get(phrase_id, 0)
        return union

    def mask(self, article: ArticleText) -> int:
        out = -1  # every unit
        for t in self.all_ or ():
            out &= t.mask(article)
        if self._any_phrases is not None:
            out &= self._phrase_union(article, self._any_phrases)
        elif self.any_ is not None:
            union = 0
            for t in self.any_:
                union |= t.mask(article)
            out &= union
        for t in self.none_ or ():
            if not out:
                break
            out &= ~t.mask(article)
        return out

    def evidence(self, article: ArticleText) -> Iterator[int]:
        for group in (self.all_, self.any_):
            for t in group or ():
                if t.holds(article, None):
                    yield from t.evidence(article)

    def needs(self) -> frozenset[int] | None:
        known = [n for n in (t.needs() for t in self.all_ or ()) if n is not None]
        if known:
            return min(known, key=len)
        if self.any_:
            union: set[int] = set()
            for t in self.any_:
                n = t.needs()
                if n is None:
                    return None
                union |= n
            return frozenset(union)
        return None

    def __repr__(self) -> str:
        return f"ConditionNode(any={self.any_!r}, all={self.all_!r}, none={self.none_!r})"


def _bits(mask: int) -> list[int]:
    """The positions of the set bits of `mask`, lowest first."""
    out: list[int] = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _by_cost(terms: Sequence[Node] | None) -> tuple[Node, ...] | None:
    return None if terms is None else tuple(sorted(terms, key=lambda t: t.cost))


class EntityNode(Node):
    """Any name or alias of one gazetteer of the rule."""

    cost = 0
    phrases_only = True

    def __init__(self, name: str, canonical: dict[int, str]) -> None:
        self.name = name
        self.canonical = canonical  # phrase id -> the entity's canonical name
        self._order = {phrase_id: i for i, phrase_id in enumerate(canonical)}

    def _present(self, article: ArticleText) -> list[int]:
        """This gazetteer's phrase ids that occur in the article, in gazetteer order.

        Read off the article's hits (tens of phrases) rather than tried one by one from a
        gazetteer of hundreds of spellings: this runs for every unit where a rule holds.
        """
        canonical = self.canonical
        found = [phrase_id for phrase_id in article.hits if phrase_id in canonical]
        if len(found) > 1:
            found.sort(key=self._order.__getitem__)
        return found

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        for phrase_id in self._present(article):
            if sentence is None or sentence in article.hits[phrase_id]:
                return True
        return False

    def candidates(self, article: ArticleText) -> int | None:
        return self.mask(article)  # exactly where it holds

    def mask(self, article: ArticleText) -> int:
        out = 0
        masks = article.masks
        for phrase_id in self._present(article):
            out |= masks.get(phrase_id, 0)
        return out

    def evidence(self, article: ArticleText) -> Iterator[int]:
        firsts = [min(article.hits[p]) for p in self._present(article) if article.hits[p]]
        if firsts:
            yield min(firsts)

    def mentions(self, article: ArticleText, unit: int) -> list[tuple[int, str]]:
        """(position, canonical name) of each mention in `unit`, in text order."""
        canonical = self.canonical
        out = [
            (position, canonical[phrase_id])
            for phrase_id in self._present(article)
            for u, position in article.places.get(phrase_id, ())
            if u == unit
        ]
        return sorted(out)

    def values(self, article: ArticleText, sentence: int | None) -> list[str]:
        """The canonical names present, in gazetteer order, without repeats."""
        out: list[str] = []
        canonical = self.canonical
        for phrase_id in self._present(article):
            name = canonical[phrase_id]
            if (sentence is None or sentence in article.hits[phrase_id]) and name not in out:
                out.append(name)
        return out

    def needs(self) -> frozenset[int] | None:
        return frozenset(self.canonical)

    def __repr__(self) -> str:
        return f"EntityNode({self.name!r})"


_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\w])|(?<![\w.])\d+(?:\.\d+)?(?![\w])")


class Extractor:
    """One `extract:` entry: pulls a normalized value out of a unit of text."""

    def __init__(self, name: str, spec: RegexExtract | DateExtract | NumberExtract) -> None:
        self.name = name
        self.spec = spec
        self.pattern = (
            re.compile(spec.regex, re.IGNORECASE) if isinstance(spec, RegexExtract) else None
        )

    def _regex_value(self, m: re.Match[str]) -> str | None:
        spec = self.spec
        assert isinstance(spec, RegexExtract)
        if spec.group is not None:
            got = m.group(spec.group)
        elif m.re.groups:
            got = next((g for g in m.groups() if g is not None), m.group(0))
        else:
            got = m.group(0)
        if got is None:
            return None
        got = " ".join(got.split())
        return spec.format.replace("{}", got) if spec.format else got

    def __call__(
        self, text: str, published: datetime, lang: str = ""
    ) -> tuple[str | list[str], str] | None:
        """(value, tense) — tense is "previous" for a value the text reports as superseded.
        `lang` (the article's language, where known) settles words that differ between
        languages ("listopad" is October in Croatian, November in Polish)."""
        spec = self.spec
        if isinstance(spec, RegexExtract):
            assert self.pattern is not None
            if spec.every:
                each = [self._regex_value(m) for m in self.pattern.finditer(text)]
                distinct = list(dict.fromkeys(v for v in each if v is not None))
                if not distinct:
                    return None
                return (distinct[0] if len(distinct) == 1 else distinct), "current"
            m = self.pattern.search(text)
            value = None if m is None else self._regex_value(m)
            return None if value is None else (value, "current")
        if isinstance(spec, DateExtract):
            if spec.date == "deadline":
                mention = deadline_in(text, published, lang)
                return None if mention is None else (mention.value, mention.tense)
            dates = [d for d in find_dates(text, published, lang) if d.kind == "date"]
            return (dates[0].value, "current") if dates else None
        if spec.of:
            numbers = [
                spec.format.replace("{}", str(n)) if spec.format else str(n)
                for n in counts(text, spec.of)
            ]
            if not numbers:
                return None
            return (numbers if spec.every and len(numbers) > 1 else numbers[0]), "current"
        found = _NUMBER.search(text)
        return (found.group(0).replace(",", ""), "current") if found else None


@dataclass
class _Group:
    """What one rule found about one trigger key in one article."""

    units: list[int]
    values: dict[str, Any]
    current: str | None = None
    previous: str | None = None


class CompiledRule:
    """One rule ready to run: its configuration, condition trees and value extractors."""

    def __init__(
        self,
        config: RuleConfig,
        root: Node,
        *,
        topic: Node | None = None,
        entities: dict[str, EntityNode] | None = None,
        venue: Node | None = None,
    ) -> None:
        self.config = config
        self.id = config.id
        self.root = root
        # Phrases one of which must occur for the rule to hold: a quick test before the tree.
        self.needs = root.needs()
        self.topic = topic
        self.venue = venue
        self.entities = entities or {}
        self.extractors = [Extractor(name, spec) for name, spec in config.extract.items()]
        scope = config.scope
        self.scope: str | int = scope.within if isinstance(scope, WithinScope) else scope
        t = config.trigger
        self.trigger = Trigger(
            kind=t.kind, value=t.value, window=t.window, count=t.count, cooldown=config.cooldown
        )

    def evaluate(self, article: ArticleText) -> tuple[str, ...] | None:
        """The evidence units (at most 3, in article order) if the rule holds, else None."""
        units = self.holding_units(article)
        return _distinct(article, units) or None

    def holding_units(self, article: ArticleText) -> list[int]:
        if self.scope == "article":
            if not self.root.holds(article, None):
                return []
            return sorted(set(self.root.evidence(article)))
        if self.root.phrases_only:
            return _bits(self.root.mask(article) & ((1 << len(article.sentences)) - 1))
        candidates = self.root.candidates(article)
        order: Iterable[int] = (
            range(len(article.sentences)) if candidates is None else _bits(candidates)
        )
        return [s for s in order if self.root.holds(article, s)]

    def matches(
        self, view: ArticleText, sentences: ArticleText, published: datetime
    ) -> list[Match]:
        """One Match per trigger key found: what the rule pulled out, with its evidence.

        `view` is the article in this rule's scope, `sentences` in sentence scope (for the
        topic). A unit whose key or tracked value cannot be extracted gives nothing.
        """
        if self.topic is not None and not self.topic.holds(sentences, None):
            return []
        units = self.holding_units(view)
        if not units:
            return []
        cfg = self.config
        key_names = cfg.trigger.key
        tracked = cfg.trigger.value
        groups: dict[tuple[str, ...], _Group] = {}
        article_scope = self.scope == "article"
        for unit in units:
            where = None if article_scope else unit
            text = view.text if article_scope else view.sentences[unit]
            values: dict[str, Any] = {}
            for name, node in self.entities.items():
                found = node.values(view, where)
                if found:
                    values[name] = found
            tense = "current"
            for extractor in self.extractors:
                got = extractor(text, published, view.lang)
                if got is not None:
                    values[extractor.name], got_tense = got
                    if extractor.name == tracked:
                        tense = got_tense
            if tracked is not None and tracked not in values:
                continue
            if any(name not in values for name in key_names):
                continue
            keys = (
                self._pairs(view, unit, key_names)
                if not article_scope
                and len(key_names) == 2
                and all(n in self.entities for n in key_names)
                else _keys(values, key_names)
            )
            for key in keys:
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group([], {})
                group.units.append(unit)
                for name, value in values.items():
                    if name in key_names:
                        value = key[key_names.index(name)]
                    elif isinstance(value, list):
                        value = value[0] if len(value) == 1 else value
                    group.values.setdefault(name, value)
                if tracked is not None:
                    if tense == "previous":
                        group.previous = group.previous or values[tracked]
                    else:
                        group.current = values[tracked]
        if self.venue is not None and len(key_names) == 2 and not article_scope:
            self._venue_keys(view, key_names, groups)
        if cfg.within and len(key_names) == 2:
            self._place_levels(key_names, groups)
        out: list[Match] = []
        for key, group in groups.items():
            if tracked is not None:
                if group.current is None:
                    continue  # only superseded values: nothing is said of the present
                group.values[tracked] = group.current
            evidence = _distinct(view, sorted(set(group.units)))
            out.append(
                Match(
                    rule_id=cfg.id,
                    title=render_title(cfg.title, group.values),
                    evidence=evidence,
                    values=group.values,
                    severity=cfg.severity,
                    targets=cfg.notify,
                    key=key,
                    template=cfg.title,
                    trigger=self.trigger,
                    previous=group.previous,
                )
            )
        return out

    def _place_levels(
        self, names: Sequence[str], groups: dict[tuple[str, ...], _Group]
    ) -> None:
        """`within`: each pair's values name the larger places its place lies in ("Miami" →
        "Florida"), and a pair at a larger place gives way to the same actor's pair at a place
        inside it: "in Miami" and "in Florida" in one report are one trip."""
        within = self.config.within
        chains: dict[str, list[str]] = {}
        for _, place in list(groups):
            chain: list[str] = []
            at = within.get(place)
            while at is not None and at not in chain and len(chain) < _MAX_LEVELS:
                chain.append(at)
                at = within.get(at)
            chains[place] = chain
        for key in list(groups):
            actor, place = key
            if any(place in chains[other] for a, other in groups if a == actor and other != place):
                del groups[key]  # the same trip, named more closely elsewhere in the article
            elif chains[place]:
                groups[key].values["within"] = ", ".join(chains[place])

    def _venue_keys(
        self, view: ArticleText, names: Sequence[str], groups: dict[tuple[str, ...], _Group]
    ) -> None:
        """`venue: article`: an actor the article names in a sentence about the trip (or in a
        list of names) with no place of his own goes to the venue of the pair found nearest
        before him (after him, when none comes before): the delegation listed after "the
        talks in Geneva" goes to Geneva."""
        venues = sorted(
            {(unit, key[1]) for key, group in groups.items() for unit in group.units}
            | set(self._trip_places(view, names[1]))
        )
        if not venues:
            return
        paired = {key[0] for key in groups}
        home = self.config.home
        actors = self.entities[names[0]]
        assert self.venue is not None
        context = self.venue.mask(view) & self._none_mask(view)
        for unit in range(len(view.sentences)):
            listed = _list_item(view, unit)
            if not (context >> unit) & 1 and not listed:
                continue  # neither a sentence about the delegation nor an item of a list
            reach = _VENUE_REACH_LIST if listed else _VENUE_REACH
            before = [place for at, place in venues if unit - reach <= at < unit]
            after = [place for at, place in venues if unit < at <= unit + 1]
            if not before and not after:
                continue
            venue = before[-1] if before else after[0]
            for _, actor in actors.mentions(view, unit):
                if actor in paired or venue in home.get(actor, ()):
                    continue
                paired.add(actor)
                groups[(actor, venue)] = _Group([unit], {names[0]: actor, names[1]: venue})
                venues.append((unit, venue))  # the list goes on: so does its venue

    def _trip_places(self, view: ArticleText, place_name: str) -> Iterator[tuple[int, str]]:
        """(unit, place) of each destination named in a unit where the rule's words of travel
        or talks stand, with or without an actor of the gazetteer ("Trump welcomed Zelensky at
        his Mar-a-Lago estate")."""
        root = self.root
        if not isinstance(root, ConditionNode):
            return
        words = -1
        for term in root.all_ or ():
            if not isinstance(term, EntityNode):
                words &= term.mask(view)
        words &= self._none_mask(view)
        places = self.entities[place_name]
        for unit in _bits(words & places.mask(view) & ((1 << len(view.sentences)) - 1)):
            text = view.title if unit == 0 and view.title else view.text
            for position, place in places.mentions(view, unit):
                if is_trip_place(text, position, view.lang):
                    yield unit, place

    def _none_mask(self, view: ArticleText) -> int:
        """The units where none of the rule's `none` words stand (a trip called off)."""
        out = -1
        if isinstance(self.root, ConditionNode):
            for term in self.root.none_ or ():
                out &= ~term.mask(view)
        return out

    def _pairs(self, view: ArticleText, unit: int, names: Sequence[str]) -> list[tuple[str, ...]]:
        """Pairs of two gazetteers' names in one unit, each second name (a place) with the
        first name (an actor) mentioned nearest before it — or after it, when none comes
        before — and with the actors listed together with that one ("Witkoff and Kushner").

        A place that opens a dateline or names a time ("after Geneva") pairs with nobody; an
        actor at home in the place (the rule's `home`) is passed over for the one before; a
        relative clause between actor and place breaks the pair unless it closes before the
        place ("Witkoff, who met Putin last week, flew to Berlin").
        """
        actors = self.entities[names[0]].mentions(view, unit)
        anchors = self.entities[names[1]].mentions(view, unit)
        text = view.title if unit == 0 and view.title else view.text
        home = self.config.home
        pairs: list[tuple[str, ...]] = []
        for position, anchor in anchors:
            if not is_trip_place(text, position, view.lang):
                continue
            away = [
                a
                for a in actors
                if anchor not in home.get(a[1], ())
                and abs(position - a[0]) <= (_REACH_BEFORE if a[0] < position else _REACH_AFTER)
                and not (view.lang == "en" and _OWNER.match(text, a[0]))
            ]
            before = [a for a in away if a[0] < position]
            chosen: list[tuple[int, str]] = []
            if before:
                chosen = [before[-1]]
                for earlier in reversed(before[:-1]):
                    gap = text[earlier[0] : chosen[-1][0]]
                    if not _LISTED.match(_FIRST_WORD.sub("", gap, count=1)):
                        break
                    chosen.append(earlier)
            else:
                chosen = [a for a in away if a[0] > position][:1]
            chosen = [
                a
                for a in chosen
                if not _breaks(text[min(a[0], position) : max(a[0], position)])
            ]
            for _, actor in chosen:
                if (actor, anchor) not in pairs:
                    pairs.append((actor, anchor))
        return pairs

    def __repr__(self) -> str:
        return f"CompiledRule({self.id!r})"


# A relative clause between an actor and a place says something of another subject:
# "hosted Dmitriev … to help launch the plan that opened talks in Geneva".
_CLAUSE_BREAK = re.compile(
    r"\b(?:that|which|who|whom|whose|где|который|которая|которые|которого|яка|який|які|якого|"
    r"der|die|das|qui|que|dont|quien|quienes|cui|który|która|którzy|które)\b",
    re.IGNORECASE,
)
_MAX_LEVELS = 5  # places within places: a loop in `within` stops here

# A line this short that names an actor is an item of a list ("Rustem Umerov;"), not a sentence.
_LIST_ITEM = 60
def _list_item(view: ArticleText, unit: int) -> bool:
    """Whether `unit` is an item of a list of names: a short line after a line ending in a
    colon, or ending itself in a semicolon or comma ("Рустема Умєрова;")."""
    text = view.sentences[unit].rstrip()
    if len(text) > _LIST_ITEM or unit == 0:
        return False
    if text.endswith((";", ",")):
        return True
    previous = view.sentences[unit - 1].rstrip()
    return previous.endswith((":", ";"))


# How many units back a venue carries to an actor named without a place of his own: the next
# sentences of the report, or further down a list of names.
_VENUE_REACH = 2
_VENUE_REACH_LIST = 12

# How far apart (in characters) an actor and a place of one trip may stand: a traveller named
# before his destination, in the same stretch of the sentence; one named after it, close by.
_REACH_BEFORE = 160
_REACH_AFTER = 60
# An actor in the possessive ("Trump's demands", "Putin's envoy") is not the one travelling.
_OWNER = re.compile(r"[^\W\d_]+(?:[ -][^\W\d_]+)?['’]s?\b")

# A clause set off by commas or dashes that closes again: it does not break the pair.
_CLOSED_CLAUSE = re.compile(r"\s*[,—–]\s[^,—–]*[,—–]\s")


def _breaks(between: str) -> bool:
    """Whether a relative clause left open between an actor and a place separates them."""
    return _CLAUSE_BREAK.search(_CLOSED_CLAUSE.sub(" ", between)) is not None


# The first word of the stretch from one actor to the next (the actor's name), without the
# comma that may close it: "Witkoff, " leaves ", ".
_FIRST_WORD = re.compile(r"\s*[^\s,;]+\s*")

# What may stand between two actors named together: "Witkoff and Jared Kushner", "A, B and C",
# "Умеров, Буданов и Кислица", "Witkoff i Kushner", "Witkoff ve Kushner".
_LISTED = re.compile(
    r"^(?:[\w.'’()-]+\s+){0,4}?(?:[,;]\s*|,?\s*(?:and|as well as|&|und|sowie|et|y|e|i|и|і|й|та|"
    r"a|ve|ile|och|og|en|ja|și|si|a také|oraz|а также|також|kao i)\s+)(?:[\w.'’()-]+\s+){0,4}$",
    re.IGNORECASE,
)


def _keys(values: dict[str, Any], names: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination of the key's values (two envoys in one sentence: two keys)."""
    keys: list[tuple[str, ...]] = [()]
    for name in names:
        value = values[name]
        options = value if isinstance(value, list) else [value]
        keys = [(*k, str(option)) for k in keys for option in options]
    return keys


_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_-]*)\}")


def render_title(template: str, values: Mapping[str, Any]) -> str:
    """`{name}` becomes the value `name`; `{{` and `}}` are braces. Values are inserted as
    text in one pass: a value that looks like a template is never expanded, and nothing but
    plain names can be referenced."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        value = values.get(m.group(1))
        if value is None:
            return "none" if m.group(1) in values else m.group(0)
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return str(value)

    return _FIELD.sub(sub, template)


def _distinct(article: ArticleText, sentences: Iterable[int]) -> tuple[str, ...]:
    out: list[str] = []
    for s in sentences:
        text = article.evidence(s)
        if text not in out:
            out.append(text)
            if len(out) == MAX_EVIDENCE:
                break
    return tuple(out)


_VOWELS = frozenset("aeiouyаеиоуыэюяіїєё")


def _spellings(name: str, aliases: Sequence[str]) -> list[str]:
    """A gazetteer entry's name, its aliases, the Latin form of each alias written in another
    script (Умеров → Umerov), as outlets in Latin-script languages write it, and the stem of
    each that ends in a vowel, which the case endings replace (Москва → Москв-е, Арахамія →
    Арахамі-ї, Genewa → Genew-ie)."""
    out = [name, *aliases]
    for alias in aliases:
        if any(ch.isalpha() and not ch.isascii() and ord(ch) >= 0x370 for ch in alias):
            latin = transliterate(alias)
            if latin.strip() and latin not in out and any(c.isalpha() for c in latin):
                out.append(latin)
    for spelling in list(out):
        stem = spelling[:-1]
        if (
            spelling[-1].lower() in _VOWELS
            and len(stem) >= _MIN_STEM
            and stem[-1].isalpha()
            and stem not in out
        ):
            out.append(stem)
    return out


_MIN_STEM = 5  # shorter stems would find other words ("Rom" in "Roman")


class _Compiler:
    def __init__(self, phrases: PhraseIndex) -> None:
        self.phrases = phrases
        self.phrase_nodes: dict[int, PhraseNode] = {}
        self.regex_nodes: dict[str, RegexNode] = {}
        self.entities: dict[str, EntityNode] = {}

    def rule(self, rule: RuleConfig) -> CompiledRule:
        self.entities = {}
        for name, entries in rule.entities.items():
            canonical: dict[int, str] = {}
            for entry_name, aliases in entries:
                for phrase in _spellings(entry_name, aliases):
                    canonical.setdefault(self.phrases.add(phrase, inflects=True), entry_name)
            self.entities[name] = EntityNode(name, canonical)
        root = self.condition(rule.when)
        topic = self.condition(rule.topic) if rule.topic is not None else None
        venue = self.condition(rule.venue) if rule.venue is not None else None
        return CompiledRule(rule, root, topic=topic, entities=self.entities, venue=venue)

    def condition(self, cond: Condition) -> ConditionNode:
        return ConditionNode(self.terms(cond.any), self.terms(cond.all), self.terms(cond.none))

    def terms(self, terms: Sequence[TermConfig] | None) -> list[Node] | None:
        return None if terms is None else [self.term(t) for t in terms]

    def term(self, term: TermConfig) -> Node:
        if isinstance(term, str):
            phrase_id = self.phrases.add(term)
            node = self.phrase_nodes.get(phrase_id)
            if node is None:
                node = self.phrase_nodes[phrase_id] = PhraseNode(phrase_id, term)
            return node
        if isinstance(term, RegexTerm):
            regex = self.regex_nodes.get(term.regex)
            if regex is None:
                pattern = re.compile(term.regex, re.IGNORECASE)
                regex = self.regex_nodes[term.regex] = RegexNode(len(self.regex_nodes), pattern)
            return regex
        if isinstance(term, EntityTerm):
            entity = self.entities.get(term.entity)
            if entity is None:
                raise ValueError(f"no entity list {term.entity!r}")
            return entity
        return self.condition(term)


def compile_rules(rules: Sequence[RuleConfig]) -> tuple[PhraseIndex, tuple[CompiledRule, ...]]:
    """Compile every rule; all their phrases go into one automaton, built once here."""
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    phrases = PhraseIndex()
    compiler = _Compiler(phrases)
    compiled = tuple(compiler.rule(rule) for rule in rules)
    phrases.build()
    return phrases, compiled
