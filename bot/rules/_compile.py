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
from bot.models import Match, Trigger
from bot.rules._dates import deadline_in, find_dates
from bot.rules._text import is_word_char, normalize, split_sentences

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


class _Automaton(Protocol):
    def add_word(self, key: str, value: _Key) -> bool: ...
    def make_automaton(self) -> None: ...
    def iter(self, string: str) -> Iterator[tuple[int, _Key]]: ...


class PhraseIndex:
    """Every phrase of a rule set in one Aho-Corasick automaton over folded, normalized text."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._automaton: _Automaton | None = None

    def add(self, phrase: str) -> int:
        """The id of `phrase` (folded, whitespace runs made one space); the same phrase, one id."""
        key = normalize(phrase.strip()).text
        if not key:
            raise ValueError("empty phrase")
        if self._automaton is not None:
            raise RuntimeError("the automaton is already built")
        return self._ids.setdefault(key, len(self._ids))

    def build(self) -> None:
        if self._automaton is not None or not self._ids:
            return
        automaton: _Automaton = ahocorasick.Automaton()
        for key, phrase_id in self._ids.items():
            automaton.add_word(
                key, _Key(phrase_id, len(key), is_word_char(key[0]), is_word_char(key[-1]))
            )
        automaton.make_automaton()
        self._automaton = automaton

    def __len__(self) -> int:
        return len(self._ids)

    def scan(self, text: str) -> Iterator[tuple[int, int]]:
        """(phrase id, start in `text`) of every phrase occurring on word boundaries."""
        if self._automaton is None or not text:
            return
        norm = normalize(text)
        s = norm.text
        n = len(s)
        same = not norm.starts  # positions unchanged by normalizing: no mapping back
        for end, key in self._automaton.iter(s):
            start = end - key.length + 1
            # is_word_char inlined: this loop runs for every raw hit of every article
            if key.word_start and start > 0:
                before = s[start - 1]
                if before.isalnum() or before == "_":
                    continue
            if key.word_end and end + 1 < n:
                after = s[end + 1]
                if after.isalnum() or after == "_":
                    continue
            yield key.phrase_id, start if same else norm.original(start)


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

    @classmethod
    def of(cls, title: str, text: str, phrases: PhraseIndex) -> Scan:
        return cls(tuple(phrases.scan(title.strip())), tuple(phrases.scan(text)))


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
        self.base = 1 if title else 0  # index of the text's first unit
        self._window = 0
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
        elif scope == "paragraph":
            spans = paragraph_spans(text)
        else:
            spans = split_sentences(text)
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
        return None

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

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        for phrase_id in self.canonical:
            hits = article.hits.get(phrase_id)
            if hits and (sentence is None or sentence in hits):
                return True
        return False

    def candidates(self, article: ArticleText) -> int | None:
        return self.mask(article)  # exactly where it holds

    def mask(self, article: ArticleText) -> int:
        out = 0
        masks = article.masks
        for phrase_id in self.canonical:
            out |= masks.get(phrase_id, 0)
        return out

    def evidence(self, article: ArticleText) -> Iterator[int]:
        firsts = [min(article.hits[p]) for p in self.canonical if article.hits.get(p)]
        if firsts:
            yield min(firsts)

    def mentions(self, article: ArticleText, unit: int) -> list[tuple[int, str]]:
        """(position, canonical name) of each mention in `unit`, in text order."""
        out = [
            (position, name)
            for phrase_id, name in self.canonical.items()
            for u, position in article.places.get(phrase_id, ())
            if u == unit
        ]
        return sorted(out)

    def values(self, article: ArticleText, sentence: int | None) -> list[str]:
        """The canonical names present, in gazetteer order, without repeats."""
        out: list[str] = []
        for phrase_id, name in self.canonical.items():
            hits = article.hits.get(phrase_id)
            if hits and (sentence is None or sentence in hits) and name not in out:
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

    def __call__(self, text: str, published: datetime) -> tuple[str, str] | None:
        """(value, tense) — tense is "previous" for a value the text reports as superseded."""
        spec = self.spec
        if isinstance(spec, RegexExtract):
            assert self.pattern is not None
            m = self.pattern.search(text)
            if m is None:
                return None
            if spec.group is not None:
                got = m.group(spec.group)
            elif m.re.groups:
                got = next((g for g in m.groups() if g is not None), m.group(0))
            else:
                got = m.group(0)
            if got is None:
                return None
            got = " ".join(got.split())
            return (spec.format.replace("{}", got) if spec.format else got), "current"
        if isinstance(spec, DateExtract):
            if spec.date == "deadline":
                mention = deadline_in(text, published)
                return None if mention is None else (mention.value, mention.tense)
            dates = [d for d in find_dates(text, published) if d.kind == "date"]
            return (dates[0].value, "current") if dates else None
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
    ) -> None:
        self.config = config
        self.id = config.id
        self.root = root
        # Phrases one of which must occur for the rule to hold: a quick test before the tree.
        self.needs = root.needs()
        self.topic = topic
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
                got = extractor(text, published)
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

    def _pairs(self, view: ArticleText, unit: int, names: Sequence[str]) -> list[tuple[str, ...]]:
        """Pairs of two gazetteers' names in one unit, each second name (a place) with the
        first name (an actor) mentioned nearest before it — or after it, when none comes
        before — and with the actors listed together with that one ("Witkoff and Kushner")."""
        actors = self.entities[names[0]].mentions(view, unit)
        anchors = self.entities[names[1]].mentions(view, unit)
        text = view.title if unit == 0 and view.title else view.text
        pairs: list[tuple[str, ...]] = []
        for position, anchor in anchors:
            before = [a for a in actors if a[0] < position]
            if before:
                chosen = [before[-1]]
                for earlier in reversed(before[:-1]):
                    gap = text[earlier[0] : chosen[-1][0]]
                    if not _LISTED.match(gap.split(None, 1)[1] if " " in gap else ""):
                        break
                    chosen.append(earlier)
            else:
                after = [a for a in actors if a[0] > position]
                chosen = after[:1]
            chosen = [
                a
                for a in chosen
                if not _CLAUSE_BREAK.search(text[min(a[0], position) : max(a[0], position)])
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
    r"\b(?:that|which|who|whom|whose|где|который|которая|яка|який|der|die|das)\b", re.IGNORECASE
)

# What may stand between two actors named together: "Witkoff and Jared Kushner", "A, B and C".
_LISTED = re.compile(
    r"^(?:[\w.'’-]+\s+){0,2}?(?:,\s*|,?\s*(?:and|&|und|et|y|и|і|та)\s+)(?:[\w.'’-]+\s+){0,3}$",
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
                for phrase in (entry_name, *aliases):
                    canonical.setdefault(self.phrases.add(phrase), entry_name)
            self.entities[name] = EntityNode(name, canonical)
        root = self.condition(rule.when)
        topic = self.condition(rule.topic) if rule.topic is not None else None
        return CompiledRule(rule, root, topic=topic, entities=self.entities)

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
