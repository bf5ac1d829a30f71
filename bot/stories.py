"""Stories: how an article is scored against the recent stories, and the `bot stories` table.

An article joins the best-scoring story of the time window when the score reaches
STORY_THRESHOLD, else it starts a story of its own. The score is

    score = max(words, words + ANCHOR_SHARE * (cos(anchors) - cos(terms))) * 2 ** (-gap / HALF_LIFE)
    words = (1 - LEDE_SHARE) * cos(terms) + LEDE_SHARE * cos(lede)

with the vectors weighted by how rare each term is in the stored corpus (in how many of the stored
articles' sentences it occurs), and `gap` the time between the article's publication and the
nearest article of the story. `anchors` are what reads the same in every language (the rule pack's
canonical entities, numbers in digits: bot.story_features): where they agree better than the words
do, they take ANCHOR_SHARE of the score from the whole text, so that a report in Russian can join
the story of the same event told in English, while articles that share their words are scored as
before. The lede (title and opening sentences) carries the event itself; the whole text carries the
rest. Two reports hours apart need less in common than two a day apart: one event is reported
within hours, while a running storyline keeps producing articles that share its vocabulary but
report new events.

The numbers come from measurement (bench/RESULTS.md). Words alone cannot tell the seed corpus's
same-event pairs (Putin's Bishkek remarks by two outlets, 2 h apart; the European spy chiefs'
report, 22 h apart: 0.19-0.20) from its different events of one storyline (the envoy's trip
announced, then confirmed a day later; an analysis sharing the same quotes: up to 0.15-0.16 with
the decay, higher without): the lede share and the half-life are what separate them, and the
threshold sits in the middle of the gap (0.146-0.191). On ECB+ with no time between articles,
where only words decide, that threshold gives precision 0.71 at recall 0.96; 0.3 would give
0.84 at 0.82.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.dedup import StoryFeatures

if TYPE_CHECKING:
    from rich.table import Table

    from bot.store import Store

STORY_THRESHOLD = 0.17
HALF_LIFE = timedelta(hours=36)
LEDE_SHARE = 0.3
ANCHOR_SHARE = 0.35
DEFAULT_WINDOW = timedelta(days=3)
_VECTOR_TERMS = 150
_VECTOR_LEDE_TERMS = 60
_VECTOR_ANCHORS = 40
_CENTROID_TERMS = 400
# Pseudo-count of sentences: while the corpus is small every term looks about equally rare.
_PRIOR_SENTENCES = 10


def idf(sentences_with_term: int, total_sentences: int) -> float:
    """How much a term says about an event: ln((N + prior) / (n + 1)), never negative."""
    return max(0.0, math.log((total_sentences + _PRIOR_SENTENCES) / (sentences_with_term + 1)))


def weighted(
    vector: Mapping[str, float], stats: Mapping[str, int], total: int, limit: int
) -> dict[str, float]:
    """`vector` weighted by rarity, cut to its `limit` heaviest terms, scaled to unit length."""
    scored = {t: w * idf(stats.get(t, 0), total) for t, w in vector.items()}
    top = sorted(((t, w) for t, w in scored.items() if w > 0), key=lambda kv: (-kv[1], kv[0]))
    top = top[:limit]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: round(w / norm, 6) for t, w in top}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(b) < len(a):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def decay(gap: timedelta) -> float:
    return float(2.0 ** (-max(gap, timedelta(0)) / HALF_LIFE))


def combine(terms: float, lede: float, anchors: float) -> float:
    """The similarity of an article to a story from the cosines of their three vectors: the
    words' score, or the score with the anchors given ANCHOR_SHARE (taken from the whole text)
    where the anchors agree better than the words do."""
    words = (1.0 - LEDE_SHARE) * terms + LEDE_SHARE * lede
    return words + ANCHOR_SHARE * max(0.0, anchors - terms)


@dataclass(frozen=True, slots=True)
class StoryVector:
    """A story's (or an article's) rarity-weighted unit vectors, as compared."""

    terms: dict[str, float]
    lede: dict[str, float]
    anchors: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        terms: Mapping[str, float],
        lede: Mapping[str, float],
        stats: Mapping[str, int],
        total: int,
        anchors: Mapping[str, float] | None = None,
    ) -> StoryVector:
        return cls(
            weighted(terms, stats, total, _VECTOR_TERMS),
            weighted(lede, stats, total, _VECTOR_LEDE_TERMS),
            weighted(anchors or {}, stats, total, _VECTOR_ANCHORS),
        )

    def to_json(self) -> dict[str, dict[str, float]]:
        return {"terms": self.terms, "lede": self.lede, "anchors": self.anchors}

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, float]]) -> StoryVector:
        return cls(dict(data["terms"]), dict(data["lede"]), dict(data.get("anchors", {})))


def similarity(article: StoryVector, story: StoryVector) -> float:
    """What two vectors have in common, before the time gap counts."""
    return combine(
        cosine(article.terms, story.terms),
        cosine(article.lede, story.lede),
        cosine(article.anchors, story.anchors),
    )


def gap_to(published: datetime, first_seen: datetime, last_seen: datetime) -> timedelta:
    """Time from `published` to the nearest end of a story's span (zero inside it)."""
    if published < first_seen:
        return first_seen - published
    if published > last_seen:
        return published - last_seen
    return timedelta(0)


def score(article: StoryVector, story: StoryVector, gap: timedelta) -> float:
    return similarity(article, story) * decay(gap)


@dataclass(slots=True)
class Centroid:
    """The running sum of a story's article features, from which its vector is recomputed."""

    terms: dict[str, float] = field(default_factory=dict)
    lede: dict[str, float] = field(default_factory=dict)
    anchors: dict[str, float] = field(default_factory=dict)

    def add(self, features: StoryFeatures) -> None:
        for mine, theirs in (
            (self.terms, features.terms),
            (self.lede, features.lede),
            (self.anchors, features.anchors),
        ):
            for t, w in theirs.items():
                mine[t] = mine.get(t, 0.0) + w
        self.terms = _top(self.terms, _CENTROID_TERMS)
        self.lede = _top(self.lede, _CENTROID_TERMS)
        self.anchors = _top(self.anchors, _CENTROID_TERMS)

    def vector(self, stats: Mapping[str, int], total: int) -> StoryVector:
        return StoryVector.of(self.terms, self.lede, stats, total, self.anchors)

    def to_json(self) -> dict[str, dict[str, float]]:
        return {"terms": self.terms, "lede": self.lede, "anchors": self.anchors}

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, float]]) -> Centroid:
        return cls(dict(data["terms"]), dict(data["lede"]), dict(data.get("anchors", {})))


def _top(weights: dict[str, float], limit: int) -> dict[str, float]:
    if len(weights) <= limit:
        return {t: round(w, 6) for t, w in weights.items()}
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {t: round(w, 6) for t, w in top}


def stories_table(store: Store, since: datetime) -> Table:
    """The recent stories with their articles, newest story first, for `bot stories`."""
    from rich.table import Table

    table = Table(title=f"Stories since {since:%Y-%m-%d %H:%M} UTC", show_lines=True)
    table.add_column("story", justify="right")
    table.add_column("first seen")
    table.add_column("articles", justify="right")
    table.add_column("published")
    table.add_column("feed")
    table.add_column("title / url")
    for story in store.stories(since):
        for i, art in enumerate(story.articles):
            copy = f" (copy of {art.duplicate_of})" if art.duplicate_of else ""
            table.add_row(
                str(story.id) if i == 0 else "",
                f"{story.first_seen:%Y-%m-%d %H:%M}" if i == 0 else "",
                str(len(story.articles)) if i == 0 else "",
                f"{art.published:%Y-%m-%d %H:%M}" if art.published else "-",
                art.feed or "-",
                f"{art.title}{copy}\n{art.url}",
            )
    return table
