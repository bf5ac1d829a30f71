"""Tokens and lemmas per language (simplemma's dictionaries, shipped in the package)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

__all__ = ["LemmaStream", "LemmaTable", "lemma", "lemma_language", "lemma_stream"]

# Languages whose identifier codes differ from simplemma's (Serbo-Croatian is one dictionary;
# Norwegian Bokmål is the written standard of most Norwegian news).
_ALIASES = {"sr": "hbs", "hr": "hbs", "bs": "hbs", "sh": "hbs", "me": "hbs", "no": "nb"}


@cache
def lemma_language(lang: str) -> str | None:
    """simplemma's code for `lang`, or None where it has no dictionary (zh, ja, …)."""
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    code = _ALIASES.get(lang, lang)
    return code if code in SUPPORTED_LANGUAGES else None


_CACHE_LIMIT = 200_000  # tokens per language
_caches: dict[str, dict[str, str]] = {}  # language -> token -> lemma


@cache
def _dictionaries() -> Any:
    """simplemma's dictionary loader, keeping one language at a time. A whole dictionary takes
    80 MB or more once loaded and its own default keeps eight: the bot reads whole dictionaries
    only to build a `LemmaTable`, then lets them go."""
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    return DefaultDictionaryFactory(cache_max_size=1)


@cache
def _lemmatizer() -> Any:
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy

    return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=_dictionaries()))


def release_dictionaries() -> None:
    """Let go of the whole dictionary loaded last (the tables built from it stay)."""
    _dictionaries()._get_dictionary.cache_clear()


def lemma(token: str, lang: str) -> str:
    """The lower-case lemma of `token` in `lang` ("москве" → "москва", "reist" → "reisen");
    the token itself, lower-cased, where the dictionary does not know it."""
    cache = _caches.get(lang)
    if cache is None:
        cache = _caches[lang] = {}
    found = cache.get(token)
    if found is not None:
        return found
    code = lemma_language(lang)
    result = token.lower()
    if code is not None and not token.isdigit():
        try:
            result = str(_lemmatizer().lemmatize(token, code)).lower()
        except (ValueError, KeyError):  # a token the library cannot take: keep it as it is
            result = token.lower()
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[token] = result
    return result


_WORD_PATTERN = r"\w+(?:['’][^\W\d_]+)?"
_SPLIT = re.compile(f"({_WORD_PATTERN})")


def _in_word_apostrophe(word: str) -> bool:
    """Whether the apostrophe of `word` is a letter of the word, as in Ukrainian and
    Belarusian ("п'ятниця", "сім'ї", "В'ячеслав"), rather than a mark before an ending or after
    an article: there the letter before it is Cyrillic."""
    at = max(word.find("'"), word.find("’"))
    return at > 0 and "\u0400" <= word[at - 1] <= "\u04ff"


class LemmaTable:
    """Of one language's dictionary, only the forms whose lemma is one of `wanted` (the lemmas
    of a rule set's phrases), lower-cased: a few thousand entries where the whole dictionary
    holds millions. A word not in it stands for itself."""

    def __init__(self, lang: str, wanted: Iterable[str]) -> None:
        self.lang = lang
        targets = {w for w in wanted if w}
        self.forms: dict[str, str] = {w: w for w in targets}
        code = lemma_language(lang)
        if code is None or not targets:
            return
        raw = _dictionaries().get_dictionary(code)._dict  # form -> lemma, both UTF-8 bytes
        keys = {v.encode(): v for w in targets for v in (w, w.capitalize(), w.upper())}
        for form, found in raw.items():
            target = keys.get(found)
            if target is not None:
                self.forms.setdefault(form.decode().lower(), target.lower())
        release_dictionaries()

    def __len__(self) -> int:
        return len(self.forms)


@dataclass(frozen=True, slots=True)
class LemmaStream:
    """A text's words as lemmas, one space apart (a `|` where punctuation stood between two
    words), and the way back: `origins[i]` is the original position of the word whose lemma
    starts at `starts[i]` in `text`."""

    text: str
    starts: tuple[int, ...]
    origins: tuple[int, ...]

    def original(self, position: int) -> int:
        """The original position of the word whose lemma holds `position`."""
        i = bisect_right(self.starts, position) - 1
        return self.origins[max(i, 0)] if self.origins else 0


def lemma_stream(text: str, lang: str, table: LemmaTable | None = None) -> LemmaStream | None:
    """`text` as lemmas in `lang`, or None where `lang` has no dictionary. With a `table`,
    only its lemmas are read (and nothing is loaded); without, every word's (see `lemma`)."""
    if lemma_language(lang) is None:
        return None
    # This runs over every word of every article, so it works on whole lists (split, map,
    # join and accumulate run in C): one split gives the words and what stands between them
    # alternately (gap, word, gap, …, gap), and only words not yet cached and words with an
    # apostrophe are looked at one by one.
    parts = _SPLIT.split(text)
    words = parts[1::2]
    n = len(words)
    if not n:
        return LemmaStream("", (), ())
    ends = list(accumulate(map(len, parts)))
    origins = ends[0 : 2 * n : 2]  # a word starts where the gap before it ends
    if "'" in text or "’" in text:
        for i, word in enumerate(words):
            if ("'" in word or "’" in word) and not _in_word_apostrophe(word):
                # Turkish "Moskova'ya", French "l'Ukraine": the stem, and where it starts
                head, _, tail = word.replace("’", "'").partition("'")
                if len(head) > len(tail):
                    words[i] = head
                else:
                    words[i] = tail
                    origins[i] += len(head) + 1
    if table is not None:
        forms = table.forms
        lowered = [w.lower() for w in words]
        lemmas = [forms.get(w, w) for w in lowered]
    else:
        cache = _caches.setdefault(lang, {})
        lemmas = [
            found if found is not None else lemma(word, lang)
            for found, word in zip(map(cache.get, words), words, strict=True)
        ]
    pieces: list[str] = [""] * (2 * n - 1)
    pieces[0::2] = lemmas
    pieces[1::2] = [
        " " if gap == " " or not gap or gap.isspace() else " | " for gap in parts[2:-1:2]
    ]
    starts = list(accumulate(map(len, pieces), initial=0))[0::2][:n]
    return LemmaStream("".join(pieces), tuple(starts), tuple(origins))
