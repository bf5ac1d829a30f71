"""One sentence prepared for matching, and the tense its words put a date in."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.rules._dates._vocabulary import _L, _words

# -- tense of the context ------------------------------------------------------------------------

_TOKEN = re.compile(rf"{_L}+(?:'{_L}+)*")
_FUTURE_WORDS = _words(
    "will won't shall would could should might must gonna plans plan planning scheduled "
    "expected slated due upcoming next coming until till deadline deadlines ultimatum intends "
    "aims hopes later soon"
)
_PAST_WORDS = _words(
    "had held met said told was were did spoke gave went came took made began saw sent left "
    "flew wrote struck won lost sought fought brought thought felt kept ran rose fell hit got "
    "earlier ago already previously since"
)
_NOT_PAST_ED = _words(
    "scheduled expected planned slated supposed intended proposed needed required united "
    "limited detailed related armed based indeed hundred proceed exceed succeed unprecedented "
    "advanced alleged concerned interested involved experienced qualified dedicated "
    "sophisticated complicated occupied anticipated coordinated heightened embattled "
    "beleaguered devoted so-called red bed need speed feed seed breed embed"
)
_PASSIVE_BEFORE = _words("be being is are am to get gets will would")
_SUBJECT_VERBS = _words("is isn't remains will would was wasn't could might")
_STRONG_FUTURE_BEFORE = _words(
    "until till by deadline deadlines ultimatum due scheduled slated expected"
)


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    word: str  # lower case
    lower: bool  # written in lower case


class _Sentence:
    """One sentence prepared for matching: apostrophes and spaces made plain, words found."""

    __slots__ = ("lang", "plain", "published", "starts", "today", "tokens")

    def __init__(self, text: str, published: datetime, lang: str = "") -> None:
        self.lang = lang  # ISO 639-1 of the text where known: it settles a spelling of two months
        self.plain = text.translate(_PLAIN)  # same length: spans carry over
        self.published = published
        self.today = published.date()
        self.tokens = [
            _Token(m.start(), m.end(), m.group().lower(), m.group().islower())
            for m in _TOKEN.finditer(self.plain)
        ]
        self.starts = [token.start for token in self.tokens]

    def token_index(self, position: int) -> int:
        """Index of the first token starting at or after `position`."""
        return bisect_left(self.starts, position)

    def cue(self, i: int) -> Literal["past", "future"] | None:
        """The tense the token at `i` points to, if it is a tense cue."""
        tokens = self.tokens
        token = tokens[i]
        word = token.word
        following = tokens[i + 1].word if i + 1 < len(tokens) else ""
        if word in _FUTURE_WORDS or word.endswith("'ll"):
            return "future"
        if word == "going":
            return "future" if following == "to" else None
        if word == "may" and token.lower:
            return "future"
        past = word in _PAST_WORDS or (
            token.lower and len(word) >= 5 and word.endswith("ed") and word not in _NOT_PAST_ED
        )
        if not past:
            return None
        if word == "had" and following == "until":
            return "future"
        if i > 0 and tokens[i - 1].word in _PASSIVE_BEFORE:
            return None  # "will be held", "is expected"
        return "past"

    def tense_around(self, start: int, end: int) -> Literal["past", "future"]:
        """Whether the words around the span [start, end) put it in the past or the future."""
        tokens = self.tokens
        i = self.token_index(start)
        j = self.token_index(end)
        before = tokens[i - 1].word if i > 0 else ""
        if before == "by" and self.plain[end:].lstrip().startswith(","):
            # "By Tuesday, Trump had eased off": the clause after the comma decides.
            for k in range(j, len(tokens)):
                found = self.cue(k)
                if found is not None:
                    return found
            return "future"
        if before == "since":
            return "past"
        after = tokens[j].word if j < len(tokens) else ""
        if after in _SUBJECT_VERBS:
            # "Trump said Thursday is the deadline": the day's own verb, not "said", decides;
            # "said Thursday was the deadline" is reported speech about a deadline still ahead.
            if after in {"was", "wasn't"} and not any(
                t.word in {"deadline", "ultimatum", "cutoff"} for t in tokens[j + 1 : j + 4]
            ):
                return "past"
            return "future"
        if any(tokens[k].word in _STRONG_FUTURE_BEFORE for k in range(max(0, i - 3), i)):
            return "future"
        if any(
            tokens[k].word in {"deadline", "deadlines", "ultimatum"}
            for k in range(j, j + 2)
            if k < len(tokens)
        ):
            return "future"
        for distance in range(1, len(tokens) + 1):
            left, right = i - distance, j - 1 + distance
            if left < 0 and right >= len(tokens):
                break
            if left >= 0 and (found := self.cue(left)) is not None:
                return found
            if right < len(tokens) and (found := self.cue(right)) is not None:
                return found
        return "future"


_PLAIN = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'", "\u00a0": " ", "\u202f": " "})
