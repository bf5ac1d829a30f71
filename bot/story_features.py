"""Story features: what an article says it is about, for grouping articles into stories.

Content words and names, weighted by where they stand; and anchors, the features that read the
same in every language: the rule pack's canonical entities and the numbers of the text."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.story_words import NAME_TITLES as _NAME_TITLES
from bot.story_words import STOPWORDS as _STOPWORDS

# -- story features: weighted content words and names -----------------------------------------

_TOKEN = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
# Numbers as digits: "28", "19-point", "2 December", "28-punktowy"; not part of a longer code
# ("A320", "2025-11-24" gives 2025, 11 and 24: a date's parts read alike in every language).
_NUMBER = re.compile(r"(?<![^\W_])\d{1,4}(?!\d)")
_LEDE_WORDS = 60
_LEAD_SENTENCES = 3
_TITLE_WEIGHT = 3.0
_LEAD_WEIGHT = 2.0
_NAME_WEIGHT = 1.5
_MAX_TERMS = 300
_MAX_ANCHORS = 60
# An entity of the rule pack says more about the event than a bare number does: the share of
# the entities in an article's anchors, before both are scaled to unit length together.
_ENTITY_SHARE = 0.7
ENTITY_PREFIX = "@"  # anchors: "@Witkoff", "@Moscow" (canonical names of the rule pack)
NUMBER_PREFIX = "#"  # anchors: "#28"


@dataclass(frozen=True, slots=True)
class StoryFeatures:
    """What an article says it is about, for grouping articles into stories.

    `terms`: content words (lightly stemmed) and names, the title and opening sentences
    weighted up; `lede`: the same over the title and opening sentences only, where news puts
    the event itself; names of two or more words also appear whole (`"vladimir putin"`).
    `anchors`: what reads the same in every language, so that reports of one event in two
    languages meet: the rule pack's canonical entities (`"@Witkoff"`, added after matching by
    `with_anchors`) and, with them, the article's `numbers` written in digits (`"#28"`). Numbers
    alone make no anchors: every article of a day shares its date's. Each is a sublinear term
    frequency normalized to unit length, before any corpus weighting. `spread`: in how many of
    the article's `sentences` (title included) each term occurs, which the store adds up into
    the corpus statistics that say how common a term is.
    """

    terms: dict[str, float]
    lede: dict[str, float]
    spread: dict[str, int]
    sentences: int
    anchors: dict[str, float] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "terms": self.terms,
            "lede": self.lede,
            "spread": self.spread,
            "sentences": self.sentences,
            "anchors": self.anchors,
            "numbers": self.numbers,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoryFeatures:
        return cls(
            terms={str(k): float(v) for k, v in data["terms"].items()},
            lede={str(k): float(v) for k, v in data["lede"].items()},
            spread={str(k): int(v) for k, v in data["spread"].items()},
            sentences=int(data["sentences"]),
            anchors={str(k): float(v) for k, v in data.get("anchors", {}).items()},
            numbers={str(k): float(v) for k, v in data.get("numbers", {}).items()},
        )


def with_anchors(features: StoryFeatures, entities: Mapping[str, int]) -> StoryFeatures:
    """`features` with the rule pack's canonical entities found in the article (name → number
    of mentions, see `RuleSet.entities`) among its anchors, weighted above its numbers."""
    if not entities:
        return features
    named = _unit({ENTITY_PREFIX + name: float(n) for name, n in entities.items() if n > 0})
    mixed = {t: _ENTITY_SHARE * w for t, w in named.items()}
    for t, w in features.numbers.items():
        mixed[t] = mixed.get(t, 0.0) + (1.0 - _ENTITY_SHARE) * w
    spread = dict(features.spread)
    for name, n in entities.items():
        spread[ENTITY_PREFIX + name] = spread.get(ENTITY_PREFIX + name, 0) + n
    norm = math.sqrt(sum(w * w for w in mixed.values())) or 1.0
    top = sorted(mixed.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_ANCHORS]
    return replace(features, anchors={t: round(w / norm, 6) for t, w in top}, spread=spread)


def _stem(word: str) -> str:
    """Crude plural and tense folding, so that 'talks' meets 'talk' and 'agencies' 'agency'."""
    if len(word) < 5:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if (word.endswith("es") and word[-3] in "sxz") or word.endswith(("ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


_SKIP, _NAME, _TERM = 0, 1, 2
_TOKEN_KINDS: dict[str, tuple[int, str]] = {}
_TOKEN_KINDS_MAX = 1 << 16


def _token_kind(token: str) -> tuple[int, str]:
    """What one token is to `_sentence_terms`: skipped (a stopword, too short), part of a
    name (capitalized) or a term, with its folded form. It depends on the token alone, so
    each distinct token is worked out once per process (a bounded table)."""
    word = token.casefold().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if word in _STOPWORDS:
        return _SKIP, word
    # An alphabetic word has no digit: the common case skips the scan.
    has_digit = not word.isalpha() and any(c.isdigit() for c in word)
    if (len(word) < 3 and not has_digit) or (word.isdigit() and len(word) < 3):
        return _SKIP, word
    if token[0].isupper():
        return _NAME, word
    return _TERM, word if has_digit else _stem(word)


def _sentence_terms(sentence: str) -> list[str]:
    """Terms of one sentence in order, names marked by a leading '^' (removed later)."""
    out: list[str] = []
    run: list[str] = []
    kinds = _TOKEN_KINDS

    def close_run() -> None:
        name = [w for w in run if w not in _NAME_TITLES]
        if len(name) >= 2:
            out.append("^" + " ".join(name))
        out.extend("^" + word for word in run)
        run.clear()

    end = 0
    for match in _TOKEN.finditer(sentence):
        if run and sentence[end : match.start()].strip():
            close_run()  # punctuation between two capitalized words ends a name
        end = match.end()
        token = match.group()
        found = kinds.get(token)
        if found is None:
            if len(kinds) >= _TOKEN_KINDS_MAX:
                kinds.clear()
            found = kinds[token] = _token_kind(token)
        kind, word = found
        if kind == _NAME:
            run.append(word)
            continue
        if run:
            close_run()
        if kind == _TERM:
            out.append(word)
    close_run()
    return out


def _numbers(sentence: str) -> list[str]:
    return [NUMBER_PREFIX + str(int(m.group())) for m in _NUMBER.finditer(sentence)]


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(unicodedata.normalize("NFKC", text)) if s.strip()]


def _lede(text: str) -> str:
    """The opening sentences, skipping the short lines around them (bylines, captions, labels)."""
    picked: list[str] = []
    count = 0
    for line in unicodedata.normalize("NFKC", text).splitlines():
        words = line.split()
        if len(words) < 8 or not re.search(r"[.!?…][\"'”’)]*\s*$", line):
            continue
        picked.append(line)
        count += len(words)
        if count >= _LEDE_WORDS:
            break
    return " ".join(picked)


def _unit(weights: dict[str, float], limit: int = _MAX_TERMS) -> dict[str, float]:
    """Sublinear (1 + ln tf) weights, the `limit` largest, scaled to unit length."""
    scaled = {t: 1.0 + math.log(w) if w >= 1.0 else w for t, w in weights.items()}
    top = sorted(scaled.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: round(w / norm, 6) for t, w in top}


def _weigh(parts: list[tuple[list[str], float]]) -> dict[str, float]:
    """Term weights of sentences given as their terms (`_sentence_terms`) with a weight."""
    weights: dict[str, float] = {}
    for terms, weight in parts:
        for term in terms:
            if term[0] == "^":
                key, w = term[1:], weight * _NAME_WEIGHT
            else:
                key, w = term, weight
            weights[key] = weights.get(key, 0.0) + w
    return weights


def story_features(title: str, text: str) -> StoryFeatures:
    """The terms by which an article is matched to a story (see StoryFeatures)."""
    sentences = _sentences(text)
    # Each sentence is tokenized once: its terms count for the weights and the spread.
    title_terms = _sentence_terms(title)
    sentence_terms = [_sentence_terms(s) for s in sentences]
    weights = [_TITLE_WEIGHT] + [
        _LEAD_WEIGHT if i < _LEAD_SENTENCES else 1.0 for i in range(len(sentences))
    ]
    parts = list(zip([title_terms, *sentence_terms], weights, strict=True))
    numbers = [_numbers(s) for s in [title, *sentences]]
    spread: dict[str, int] = {}
    counted = 0
    for terms, nums in zip([title_terms, *sentence_terms], numbers, strict=True):
        distinct = {t.lstrip("^") for t in terms} | set(nums)
        counted += bool(distinct)
        for term in distinct:
            spread[term] = spread.get(term, 0) + 1
    lede = _weigh([(title_terms, 1.0), (_sentence_terms(_lede(text)), 1.0)])
    numbers_weights = _weigh(list(zip(numbers, weights, strict=True)))
    return StoryFeatures(
        terms=_unit(_weigh(parts)),
        lede=_unit(lede, 100),
        spread=spread,
        sentences=counted,
        numbers=_unit(numbers_weights, _MAX_ANCHORS),
    )
