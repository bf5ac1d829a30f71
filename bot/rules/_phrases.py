"""The phrase automaton: how a rule set's phrases and gazetteer names (with their spellings
and inflected forms) are indexed and found in an article's text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import ahocorasick  # no type stubs; see _Automaton

from bot.language import (
    UNKNOWN,
    LemmaTable,
    lemma_language,
    lemma_stream,
    needs_boundary,
    strip_marks,
    transliterate,
)
from bot.rules._text import normalize

__all__ = ["MAX_ENDING", "PhraseIndex"]


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


_VOWELS = frozenset("aeiouyаеиоуыэюяіїєё")


def _spellings(name: str, aliases: Sequence[str]) -> list[str]:
    """A gazetteer entry's name, its aliases, the Latin form of each alias written in Cyrillic
    or Greek (Умеров → Umerov), as outlets in Latin-script languages write it, and the stem of
    each that ends in a vowel, which the case endings replace (Москва → Москв-е, Арахамія →
    Арахамі-ї, Genewa → Genew-ie)."""
    out = [name, *aliases]
    for alias in aliases:
        # Cyrillic and Greek only: their letters stand for the Latin ones; a Latin form of
        # Arabic, Hebrew or Chinese ("qtr", "KaTaEr") is no spelling anyone writes.
        if any(0x370 <= ord(ch) < 0x530 for ch in alias):
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
