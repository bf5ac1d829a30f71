"""Near-duplicate and story tables, and their queries as a mixin of `Store`.

LSH bands live in one indexed table shared by every replica, so that a lookup is one indexed
query for the candidates and one for their signatures. Story assignment is serialized (an
advisory lock on PostgreSQL, the write lock on SQLite) so that two replicas never start two
stories for one event; unique keys and ON CONFLICT DO NOTHING make every insert idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Select,
    SmallInteger,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.dedup import BANDS, NEAR_DUPLICATE_THRESHOLD, Signature, StoryFeatures, band_keys, jaccard
from bot.store._engine import WRITE_OPTION
from bot.store._tables import UTCDateTime, articles, feeds, metadata
from bot.stories import (
    DEFAULT_WINDOW,
    STORY_THRESHOLD,
    Centroid,
    StoryVector,
    combine,
    decay,
    gap_to,
)

article_signatures = Table(
    "article_signatures",
    metadata,
    Column(
        "article_id",
        Integer,
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("signature", LargeBinary, nullable=False),
)

lsh_bands = Table(
    "lsh_bands",
    metadata,
    Column("band", SmallInteger, nullable=False),
    Column("hash", Integer, nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("band", "hash", "article_id", name="pk_lsh_bands"),
    # Deletes of articles cascade here; without it each one would scan the table.
    Index("ix_lsh_bands_article", "article_id"),
    sqlite_with_rowid=False,  # clustered on the key: one B-tree, no rowid index beside it
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("article_count", Integer, nullable=False, default=1),
    # What candidates are scored against (rarity-weighted, short) ...
    Column("vector", JSON, nullable=False),
    # ... and the sum it is recomputed from when an article joins.
    Column("centroid", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_stories_last_seen", "last_seen"),
)

# In how many sentences of the stored articles each term occurs; the row with the empty term
# holds the number of sentences. Only written under the story lock, so upserts never deadlock.
story_term_stats = Table(
    "story_term_stats",
    metadata,
    Column("term", Text, primary_key=True),
    Column("sentences", Integer, nullable=False),
)

# Each story's vector as rows, so that finding the stories an article may join is an indexed
# lookup of its own terms instead of a scan of every recent story. `kind` 0 is the whole-text
# vector, 1 the lede, 2 the anchors; `last_seen` is the story's, repeated here so that the scan
# of a common term's rows stops at the time window.
story_terms = Table(
    "story_terms",
    metadata,
    Column("kind", SmallInteger, nullable=False),
    Column("term", Text, nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("weight", Float, nullable=False),
    PrimaryKeyConstraint("kind", "term", "last_seen", "story_id", name="pk_story_terms"),
    Index("ix_story_terms_story", "story_id"),
    sqlite_with_rowid=False,
)

DEDUP_TABLES = (article_signatures, lsh_bands, stories, story_term_stats)
STORY_INDEX_TABLES = (story_terms,)

_TOTAL = ""
_STORY_LOCK = 0x73746F726965  # pg_advisory_xact_lock key for story assignment
_MAX_CANDIDATES = 50
_CHUNK = 500


def _candidates_query() -> Select[tuple[int, bytes, int | None]]:
    """Articles sharing a band with a signature (the most bands first) with their signature and
    `duplicate_of`: one query per lookup, built once (building a 32-term expression costs more
    than running it).

    An OR of equalities, not a row-value IN: SQLite plans one primary-key search per band for
    it (PostgreSQL a bitmap OR), where for `(band, hash) IN (...)` it scans the table.
    """
    shared = func.count().label("shared")
    candidates = (
        select(lsh_bands.c.article_id, shared)
        .where(
            or_(
                *(
                    and_(lsh_bands.c.band == band, lsh_bands.c.hash == bindparam(f"h{band}"))
                    for band in range(BANDS)
                )
            )
        )
        .group_by(lsh_bands.c.article_id)
        .order_by(shared.desc(), lsh_bands.c.article_id)
        .limit(_MAX_CANDIDATES)
        .subquery()
    )
    return (
        select(candidates.c.article_id, article_signatures.c.signature, articles.c.duplicate_of)
        .join(article_signatures, article_signatures.c.article_id == candidates.c.article_id)
        .join(articles, articles.c.id == candidates.c.article_id)
    )


_CANDIDATES = _candidates_query()

# Story assignment moves a few hundred terms per article in and out of the database. Each
# statement below takes them as one JSON parameter and unpacks it in SQL (json_each on SQLite,
# json_array_elements on PostgreSQL): one execution instead of hundreds, and a statement whose
# text does not change with the number of terms.
_UNPACK = {
    # rows of [kind, term, weight]
    "triples": {
        "sqlite": """SELECT json_extract(value, '$[0]') AS kind,
                            json_extract(value, '$[1]') AS term,
                            json_extract(value, '$[2]') AS weight
                     FROM json_each(:vector)""",
        "postgresql": """SELECT CAST(e->>0 AS smallint) AS kind, e->>1 AS term,
                                CAST(e->>2 AS float8) AS weight
                         FROM json_array_elements(CAST(:vector AS json)) AS e""",
    },
    # rows of [term, count]
    "counts": {
        "sqlite": """SELECT json_extract(value, '$[0]') AS term,
                            json_extract(value, '$[1]') AS sentences
                     FROM json_each(:counts) WHERE true""",
        "postgresql": """SELECT e->>0 AS term, CAST(e->>1 AS integer) AS sentences
                         FROM json_array_elements(CAST(:counts AS json)) AS e""",
    },
    # a list of terms
    "terms": {
        "sqlite": "SELECT value FROM json_each(:terms)",
        "postgresql": "SELECT json_array_elements_text(CAST(:terms AS json))",
    },
}


def _story_sql(dialect: str) -> dict[str, TextClause]:
    u = {kind: forms[dialect] for kind, forms in _UNPACK.items()}
    return {
        # The cosines of an article's vectors (terms, lede, anchors) with those of every story
        # of the window that shares a term with it, summed over the story_terms rows of the
        # article's terms; bot.stories.combine makes them one similarity.
        "candidates": text(
            f"""SELECT st.story_id AS story_id, st.kind AS kind,
                       SUM(st.weight * a.weight) AS cosine
                FROM ({u["triples"]}) AS a
                JOIN story_terms AS st
                  ON st.kind = a.kind AND st.term = a.term AND st.last_seen >= :since
                GROUP BY st.story_id, st.kind"""  # noqa: S608 - built of constants only
        ).bindparams(bindparam("since", type_=UTCDateTime())),
        "index": text(
            f"""INSERT INTO story_terms (kind, term, last_seen, story_id, weight)
                SELECT a.kind, a.term, :last_seen, :story_id, a.weight
                FROM ({u["triples"]}) AS a"""  # noqa: S608
        ).bindparams(bindparam("last_seen", type_=UTCDateTime())),
        "count": text(
            f"""INSERT INTO story_term_stats (term, sentences) {u["counts"]}
                ON CONFLICT (term) DO UPDATE
                SET sentences = story_term_stats.sentences + excluded.sentences"""  # noqa: S608
        ),
        "stats": text(
            f"SELECT term, sentences FROM story_term_stats WHERE term IN ({u['terms']})"  # noqa: S608
        ),
    }


_STORY_SQL = {dialect: _story_sql(dialect) for dialect in ("sqlite", "postgresql")}


def _triples(vector: StoryVector) -> str:
    """A story vector as the JSON of [kind, term, weight] rows (kind 0: terms, 1: lede,
    2: anchors)."""
    rows = [[0, t, w] for t, w in vector.terms.items()]
    rows += [[1, t, w] for t, w in vector.lede.items()]
    rows += [[2, t, w] for t, w in vector.anchors.items()]
    return json.dumps(rows, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class StoryArticle:
    """One article of a story, as `bot stories` lists it."""

    id: int
    title: str
    url: str
    feed: str | None
    published: datetime | None
    duplicate_of: int | None


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story with its articles, oldest first."""

    id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    articles: tuple[StoryArticle, ...]


class DedupQueries:
    """Near-duplicate lookup and story assignment; mixed into `Store`, which owns `engine`.

    `add_signature` and `assign_story` take the caller's connection, so that they commit or
    roll back with the article they belong to; given None they open a transaction of their own.
    """

    engine: Engine

    @contextmanager
    def _dedup_write(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as own:
            own.execution_options(**{WRITE_OPTION: True})
            with own.begin():
                yield own

    @contextmanager
    def _dedup_read(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as own, own.begin():
            yield own

    def _upsert(self, table: Table) -> Any:
        postgres = self.engine.dialect.name == "postgresql"
        return (pg_insert if postgres else sqlite_insert)(table)

    # -- near-duplicates -------------------------------------------------------------------

    def add_signature(self, conn: Connection | None, article_id: int, sig: Signature) -> None:
        """Store an article's signature and LSH bands (nothing for an empty signature)."""
        if sig.empty:
            return
        with self._dedup_write(conn) as c:
            c.execute(
                self._upsert(article_signatures)
                .values(article_id=article_id, signature=sig.values)
                .on_conflict_do_nothing(index_elements=["article_id"])
            )
            c.execute(
                self._upsert(lsh_bands).on_conflict_do_nothing(
                    index_elements=["band", "hash", "article_id"]
                ),
                [{"band": b, "hash": h, "article_id": article_id} for b, h in band_keys(sig)],
            )

    def near_duplicate_of(
        self,
        sig: Signature,
        *,
        threshold: float = NEAR_DUPLICATE_THRESHOLD,
        conn: Connection | None = None,
    ) -> int | None:
        """The original of which `sig`'s text is a near-duplicate, or None.

        Candidates share at least one LSH band (those sharing the most bands first); the best
        one whose estimated Jaccard similarity reaches `threshold` wins, ties to the oldest.
        The answer is the root of its `duplicate_of` chain: a copy of a copy points to the
        original.
        """
        keys = band_keys(sig)
        if not keys:
            return None
        params = {f"h{band}": h for band, h in keys}
        with self._dedup_read(conn) as c:
            best: tuple[float, int, int | None] | None = None
            for row in c.execute(_CANDIDATES, params):
                similarity = jaccard(sig, Signature(bytes(row.signature)))
                if similarity < threshold:
                    continue
                if best is None or (similarity, -row.article_id) > (best[0], -best[1]):
                    best = (similarity, row.article_id, row.duplicate_of)
            if best is None:
                return None
            return best[1] if best[2] is None else self._root(c, best[2])

    @staticmethod
    def _root(conn: Connection, article_id: int) -> int:
        seen = {article_id}
        current = article_id
        while True:
            parent = conn.scalar(select(articles.c.duplicate_of).where(articles.c.id == current))
            if parent is None or parent in seen:
                return current
            seen.add(parent)
            current = parent

    # -- stories ---------------------------------------------------------------------------

    def assign_story(
        self,
        conn: Connection | None,
        article_id: int,
        features: StoryFeatures,
        published: datetime,
        *,
        window: timedelta = DEFAULT_WINDOW,
        duplicate_of: int | None = None,
        threshold: float = STORY_THRESHOLD,
    ) -> int:
        """Put a stored article into a story and return the story's id.

        A near-duplicate joins its original's story. Any other article joins the best-scoring
        story whose span comes within `window` of `published`, when the score reaches
        `threshold` (see bot.stories), or starts a new one. Calling it again for the same
        article returns the story it already has.
        """
        with self._dedup_write(conn) as c:
            if self.engine.dialect.name == "postgresql":
                c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _STORY_LOCK})
            row = c.execute(
                select(articles.c.story_id, articles.c.title).where(articles.c.id == article_id)
            ).first()
            if row is None:
                raise LookupError(f"article {article_id} is not stored")
            if row.story_id is not None:
                return int(row.story_id)
            story_id = None
            if duplicate_of is not None:
                story_id = self._join_original(c, duplicate_of, published)
            if story_id is None:
                story_id = self._match_or_start(
                    c, row.title, features, published, window, threshold
                )
            c.execute(update(articles).where(articles.c.id == article_id).values(story_id=story_id))
            return story_id

    def _join_original(self, conn: Connection, original_id: int, published: datetime) -> int | None:
        story_id = conn.scalar(select(articles.c.story_id).where(articles.c.id == original_id))
        if story_id is None:
            return None
        span = conn.execute(
            select(stories.c.first_seen, stories.c.last_seen).where(stories.c.id == story_id)
        ).one()
        last_seen = max(span.last_seen, published)
        conn.execute(
            update(stories)
            .where(stories.c.id == story_id)
            .values(
                article_count=stories.c.article_count + 1,
                first_seen=min(span.first_seen, published),
                last_seen=last_seen,
            )
        )
        if last_seen != span.last_seen:
            conn.execute(
                update(story_terms)
                .where(story_terms.c.story_id == story_id)
                .values(last_seen=last_seen)
            )
        return int(story_id)

    def _match_or_start(
        self,
        conn: Connection,
        title: str,
        features: StoryFeatures,
        published: datetime,
        window: timedelta,
        threshold: float,
    ) -> int:
        self._count_terms(conn, features.spread, features.sentences)
        stats, total = self._term_stats(
            conn, set(features.terms) | set(features.lede) | set(features.anchors)
        )
        vector = StoryVector.of(features.terms, features.lede, stats, total, features.anchors)
        best = self._best_story(conn, vector, published, window, threshold)
        if best is None:
            centroid = Centroid()
            centroid.add(features)
            now = datetime.now(UTC)
            new_id = int(
                conn.execute(
                    stories.insert()
                    .values(
                        first_seen=published,
                        last_seen=published,
                        title=title,
                        article_count=1,
                        vector=vector.to_json(),
                        centroid=centroid.to_json(),
                        created_at=now,
                    )
                    .returning(stories.c.id)
                ).scalar_one()
            )
            self._index_story(conn, new_id, vector, published)
            return new_id
        story_id = best
        current = conn.execute(
            select(stories.c.first_seen, stories.c.last_seen, stories.c.centroid).where(
                stories.c.id == story_id
            )
        ).one()
        centroid = Centroid.from_json(current.centroid)
        centroid.add(features)
        stats, total = self._term_stats(
            conn, set(centroid.terms) | set(centroid.lede) | set(centroid.anchors)
        )
        joined = centroid.vector(stats, total)
        last_seen = max(current.last_seen, published)
        conn.execute(
            update(stories)
            .where(stories.c.id == story_id)
            .values(
                first_seen=min(current.first_seen, published),
                last_seen=last_seen,
                article_count=stories.c.article_count + 1,
                vector=joined.to_json(),
                centroid=centroid.to_json(),
            )
        )
        self._index_story(conn, story_id, joined, last_seen)
        return story_id

    def _best_story(
        self,
        conn: Connection,
        vector: StoryVector,
        published: datetime,
        window: timedelta,
        threshold: float,
    ) -> int | None:
        """The story of the window that `vector` scores highest against, at or above
        `threshold`; ties go to the oldest story."""
        scores = self._story_scores(conn, vector, published, window, threshold)
        return min(scores, key=lambda sid: (-scores[sid], sid)) if scores else None

    def _story_scores(
        self,
        conn: Connection,
        vector: StoryVector,
        published: datetime,
        window: timedelta,
        threshold: float,
    ) -> dict[int, float]:
        """The score (bot.stories.score) of every story of the window that reaches
        `threshold`, found through the stories' indexed terms."""
        if not vector.terms and not vector.lede and not vector.anchors:
            return {}
        rows = conn.execute(
            self._story_sql["candidates"],
            {
                "vector": _triples(vector),
                "since": published - window,
            },
        ).all()
        cosines: dict[int, list[float]] = {}
        for r in rows:
            cosines.setdefault(int(r.story_id), [0.0, 0.0, 0.0])[int(r.kind)] = float(r.cosine)
        # The time decay only lowers a score: stories below the threshold before it are out.
        similar = {sid: sim for sid, c in cosines.items() if (sim := combine(*c)) >= threshold}
        if not similar:
            return {}
        spans = conn.execute(
            select(stories.c.id, stories.c.first_seen, stories.c.last_seen).where(
                stories.c.id.in_(sorted(similar)), stories.c.first_seen <= published + window
            )
        ).all()
        scores = {
            int(story.id): similar[story.id]
            * decay(gap_to(published, story.first_seen, story.last_seen))
            for story in spans
        }
        return {sid: sc for sid, sc in scores.items() if sc >= threshold}

    def _index_story(
        self, conn: Connection, story_id: int, vector: StoryVector, last_seen: datetime
    ) -> None:
        """Make `story_terms` hold `vector` for the story (replacing what it held)."""
        conn.execute(delete(story_terms).where(story_terms.c.story_id == story_id))
        conn.execute(
            self._story_sql["index"],
            {"vector": _triples(vector), "last_seen": last_seen, "story_id": story_id},
        )

    def _count_terms(self, conn: Connection, spread: Mapping[str, int], sentences: int) -> None:
        if not spread:
            return
        counts = [[t, n] for t, n in spread.items()]
        counts.append([_TOTAL, sentences])
        conn.execute(self._story_sql["count"], {"counts": json.dumps(counts, ensure_ascii=False)})

    def _term_stats(self, conn: Connection, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        wanted = sorted(set(terms) | {_TOTAL})
        found = {
            str(term): int(n)
            for term, n in conn.execute(
                self._story_sql["stats"], {"terms": json.dumps(wanted, ensure_ascii=False)}
            )
        }
        total = found.pop(_TOTAL, 0)
        return found, total

    @property
    def _story_sql(self) -> dict[str, TextClause]:
        return _STORY_SQL[self.engine.dialect.name]

    def story_of(self, article_id: int) -> int | None:
        with self._dedup_read(None) as c:
            sid = c.scalar(select(articles.c.story_id).where(articles.c.id == article_id))
        return None if sid is None else int(sid)

    def stories(self, since: datetime) -> list[StoryRow]:
        """Stories seen since `since` (last article), newest first, with their articles."""
        with self._dedup_read(None) as c:
            heads = c.execute(
                select(stories.c.id, stories.c.title, stories.c.first_seen, stories.c.last_seen)
                .where(stories.c.last_seen >= since)
                .order_by(stories.c.last_seen.desc(), stories.c.id.desc())
            ).all()
            members: dict[int, list[StoryArticle]] = {h.id: [] for h in heads}
            ids = list(members)
            for i in range(0, len(ids), _CHUNK):
                for r in c.execute(
                    select(
                        articles.c.story_id,
                        articles.c.id,
                        articles.c.title,
                        articles.c.url,
                        feeds.c.name.label("feed"),
                        articles.c.published_at,
                        articles.c.duplicate_of,
                    )
                    .select_from(articles.outerjoin(feeds, feeds.c.id == articles.c.feed_id))
                    .where(articles.c.story_id.in_(ids[i : i + _CHUNK]))
                    .order_by(articles.c.published_at, articles.c.id)
                ):
                    members[r.story_id].append(
                        StoryArticle(r.id, r.title, r.url, r.feed, r.published_at, r.duplicate_of)
                    )
        return [
            StoryRow(h.id, h.title, h.first_seen, h.last_seen, tuple(members[h.id])) for h in heads
        ]
