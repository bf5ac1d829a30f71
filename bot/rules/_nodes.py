"""The condition tree of a compiled rule (phrase, regex, entity and condition nodes, each
answering where in an article it holds) and the extractors that pull values out of a unit."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import datetime

from bot.config import DateExtract, NumberExtract, RegexExtract
from bot.rules._article import ArticleText
from bot.rules._dates import deadline_in, find_dates
from bot.rules._numbers import counts

__all__ = ["ConditionNode", "EntityNode", "Extractor", "Node", "PhraseNode", "RegexNode"]


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
        """(position, canonical name) of each mention in `unit`, in text order, once each:
        a name found by two of its spellings at one place ("Zelensky" and its stem) is one
        mention."""
        canonical = self.canonical
        out = {
            (position, canonical[phrase_id])
            for phrase_id in self._present(article)
            for u, position in article.places.get(phrase_id, ())
            if u == unit
        }
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
