"""Rule conditions compiled into term trees, evaluated over one article's sentences and hits."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import ahocorasick  # no type stubs; see _Automaton

from bot.config import Condition, RegexTerm, RuleConfig
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
        for end, key in self._automaton.iter(s):
            start = end - key.length + 1
            if key.word_start and start > 0 and is_word_char(s[start - 1]):
                continue
            if key.word_end and end + 1 < n and is_word_char(s[end + 1]):
                continue
            yield key.phrase_id, norm.original(start)


class ArticleText:
    """One article as rules see it: sentences (the title first), phrase hits, regex results."""

    def __init__(self, title: str, text: str, phrases: PhraseIndex) -> None:
        title = title.strip()
        spans = split_sentences(text)
        self.title = title
        self.text = text
        self.base = 1 if title else 0  # index of the text's first sentence
        self.sentences: list[str] = ([title] if title else []) + [text[a:b] for a, b in spans]
        self._starts = [a for a, _ in spans]
        self.hits: dict[int, set[int]] = {}
        if title:
            for phrase_id, _ in phrases.scan(title):
                self.hits.setdefault(phrase_id, set()).add(0)
        for phrase_id, position in phrases.scan(text):
            self.hits.setdefault(phrase_id, set()).add(self.sentence_at(position))
        self._regex_in: dict[tuple[int, int], bool] = {}
        self._regex_first: dict[int, int | None] = {}
        self._evidence: dict[int, str] = {}

    def sentence_at(self, position: int) -> int:
        """The index of the sentence of the text holding `position`."""
        return self.base + max(0, bisect_right(self._starts, position) - 1)

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
    def candidates(self, article: ArticleText) -> set[int] | None:
        """The sentences where this can hold, or None if it is not known from the hits alone."""

    @abstractmethod
    def evidence(self, article: ArticleText) -> Iterator[int]:
        """For the whole article: the first sentence of each term that holds."""


class PhraseNode(Node):
    cost = 0

    def __init__(self, phrase_id: int, phrase: str) -> None:
        self.phrase_id = phrase_id
        self.phrase = phrase

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        hits = article.hits.get(self.phrase_id)
        return bool(hits) if sentence is None else hits is not None and sentence in hits

    def candidates(self, article: ArticleText) -> set[int] | None:
        return article.hits.get(self.phrase_id, set())

    def evidence(self, article: ArticleText) -> Iterator[int]:
        hits = article.hits.get(self.phrase_id)
        if hits:
            yield min(hits)

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

    def candidates(self, article: ArticleText) -> set[int] | None:
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

    def holds(self, article: ArticleText, sentence: int | None) -> bool:
        if self.all_ is not None and not all(t.holds(article, sentence) for t in self.all_):
            return False
        if self.any_ is not None and not any(t.holds(article, sentence) for t in self.any_):
            return False
        return self.none_ is None or not any(t.holds(article, sentence) for t in self.none_)

    def candidates(self, article: ArticleText) -> set[int] | None:
        known: list[set[int]] = []
        if self.any_ is not None:
            union: set[int] = set()
            for t in self.any_:
                c = t.candidates(article)
                if c is None:
                    break
                union |= c
            else:
                known.append(union)
        if self.all_ is not None:
            known.extend(c for c in (t.candidates(article) for t in self.all_) if c is not None)
        if not known:
            return None
        known.sort(key=len)
        return known[0].intersection(*known[1:])

    def evidence(self, article: ArticleText) -> Iterator[int]:
        for group in (self.all_, self.any_):
            for t in group or ():
                if t.holds(article, None):
                    yield from t.evidence(article)

    def __repr__(self) -> str:
        return f"ConditionNode(any={self.any_!r}, all={self.all_!r}, none={self.none_!r})"


def _by_cost(terms: Sequence[Node] | None) -> tuple[Node, ...] | None:
    return None if terms is None else tuple(sorted(terms, key=lambda t: t.cost))


class CompiledRule:
    """One rule ready to run: its configuration and its condition tree."""

    def __init__(self, config: RuleConfig, root: Node) -> None:
        self.config = config
        self.id = config.id
        self.root = root

    def evaluate(self, article: ArticleText) -> tuple[str, ...] | None:
        """The evidence sentences (at most 3, in article order) if the rule holds, else None."""
        if self.config.scope == "article":
            if not self.root.holds(article, None):
                return None
            return _distinct(article, sorted(set(self.root.evidence(article))))
        candidates = self.root.candidates(article)
        order: Iterable[int] = (
            range(len(article.sentences)) if candidates is None else sorted(candidates)
        )
        evidence = _distinct(article, (s for s in order if self.root.holds(article, s)))
        return evidence or None

    def __repr__(self) -> str:
        return f"CompiledRule({self.id!r})"


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

    def condition(self, cond: Condition) -> ConditionNode:
        return ConditionNode(self.terms(cond.any), self.terms(cond.all), self.terms(cond.none))

    def terms(self, terms: Sequence[str | RegexTerm | Condition] | None) -> list[Node] | None:
        return None if terms is None else [self.term(t) for t in terms]

    def term(self, term: str | RegexTerm | Condition) -> Node:
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
    compiled = tuple(CompiledRule(rule, compiler.condition(rule.when)) for rule in rules)
    phrases.build()
    return phrases, compiled
