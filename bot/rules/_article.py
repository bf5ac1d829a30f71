"""An article's text as matching sees it: its units (sentences, paragraphs or windows of
words), the phrase hits in each, and the regex searches over it."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.language import UNKNOWN
from bot.rules._phrases import PhraseIndex
from bot.rules._text import cut_long, split_sentences, trimmed

if TYPE_CHECKING:
    from bot.rules._nodes import RegexNode

__all__ = ["ArticleText", "Scan", "paragraph_spans"]


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty line of `text`."""
    spans = (trimmed(text, *m.span()) for m in _LINE.finditer(text))
    return [span for span in spans if span is not None]


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
