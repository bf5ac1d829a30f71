"""Tokens and lemmas per language (simplemma's dictionaries, shipped in the package)."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

__all__ = ["LemmaStream", "lemma", "lemma_language", "lemma_stream"]

# Languages whose identifier codes differ from simplemma's (Serbo-Croatian is one dictionary;
# Norwegian Bokmål is the written standard of most Norwegian news).
_ALIASES = {"sr": "hbs", "hr": "hbs", "bs": "hbs", "sh": "hbs", "me": "hbs", "no": "nb"}


@cache
def lemma_language(lang: str) -> str | None:
    """simplemma's code for `lang`, or None where it has no dictionary (zh, ja, …)."""
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    code = _ALIASES.get(lang, lang)
    return code if code in SUPPORTED_LANGUAGES else None


_CACHE_LIMIT = 200_000
_cache: dict[tuple[str, str], str] = {}


def lemma(token: str, lang: str) -> str:
    """The lower-case lemma of `token` in `lang` ("москве" → "москва", "reist" → "reisen");
    the token itself, lower-cased, where the dictionary does not know it."""
    key = (token, lang)
    found = _cache.get(key)
    if found is not None:
        return found
    code = lemma_language(lang)
    result = token.lower()
    if code is not None and not token.isdigit():
        import simplemma

        try:
            result = simplemma.lemmatize(token, lang=code).lower()
        except (ValueError, KeyError):  # a token the library cannot take: keep it as it is
            result = token.lower()
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[key] = result
    return result


_TOKEN = re.compile(r"\w+(?:['’][^\W\d_]+)?")


def _in_word_apostrophe(word: str) -> bool:
    """Whether the apostrophe of `word` is a letter of the word, as in Ukrainian and
    Belarusian ("п'ятниця", "сім'ї", "В'ячеслав"), rather than a mark before an ending or after
    an article: there the letter before it is Cyrillic."""
    at = max(word.find("'"), word.find("’"))
    return at > 0 and "\u0400" <= word[at - 1] <= "\u04ff"


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


def lemma_stream(text: str, lang: str) -> LemmaStream | None:
    """`text` as lemmas in `lang`, or None where `lang` has no dictionary."""
    if lemma_language(lang) is None:
        return None
    pieces: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    length = 0
    last_end = 0
    for m in _TOKEN.finditer(text):
        word = m.group()
        origin = m.start()
        if ("'" in word or "’" in word) and not _in_word_apostrophe(word):
            # Turkish "Moskova'ya", French "l'Ukraine": the stem, and where it starts
            head, _, tail = word.replace("’", "'").partition("'")
            if len(head) > len(tail):
                word = head
            else:
                word = tail
                origin += len(head) + 1
        if pieces:
            gap = text[last_end : m.start()]
            sep = " " if not gap or gap.isspace() else " | "
            pieces.append(sep)
            length += len(sep)
        lem = lemma(word, lang)
        starts.append(length)
        origins.append(origin)
        pieces.append(lem)
        length += len(lem)
        last_end = m.end()
    return LemmaStream("".join(pieces), tuple(starts), tuple(origins))
