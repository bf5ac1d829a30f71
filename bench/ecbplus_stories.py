"""Story grouping against ECB+: pairwise precision and recall of same-event pairs.

ECB+ corpus, Cybulska and Vossen (LREC 2014): 982 news articles in 43 topics. In each topic the
`*ecb.xml` articles report one event and the `*ecbplus.xml` articles another, similar one (two
different earthquakes, two celebrities entering rehab). A same-topic pair is a positive when both
articles report the same event, a hard negative when they report the other one.

Every article goes through the near-duplicate and story layers of a real store, as the pipeline
does: signature, near-duplicate lookup, store, bands, story assignment. ECB+ carries no
publication times, so all articles are published at the same instant: the time gap, which keeps
most of a real stream's similar events apart, plays no part, and only the words decide.

    .venv/bin/python bench/ecbplus_stories.py [--ecbplus ../shared/data/ecbplus] [--db URL]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from bot.dedup import content_hash, signature, story_features  # noqa: E402
from bot.models import Article  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.stories import HALF_LIFE, LEDE_SHARE, STORY_THRESHOLD  # noqa: E402

PUBLISHED = datetime(2014, 5, 26, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Doc:
    name: str  # e.g. 1_10ecbplus.xml
    topic: str
    event: str  # "ecb" or "ecbplus": which of the topic's two events
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Result:
    docs: int
    positives: int  # same-topic same-event pairs
    negatives: int  # same-topic different-event pairs
    true_positives: int
    false_positives: int
    cross_topic_stories: int  # stories holding articles of two topics
    near_duplicates: int
    seconds: float

    @property
    def precision(self) -> float:
        grouped = self.true_positives + self.false_positives
        return self.true_positives / grouped if grouped else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.positives if self.positives else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def read_doc(path: Path) -> Doc:
    """Plain text from the tokenized XML: tokens joined per sentence, one sentence a line.

    The first sentence of an ECB+ text is its headline: it stands in for the title.
    """
    sentences: dict[int, list[str]] = defaultdict(list)
    for token in ET.parse(path).getroot().iter("token"):
        sentences[int(token.get("sentence", "0"))].append(token.text or "")
    lines = [" ".join(words) for _, words in sorted(sentences.items())]
    name = path.name
    return Doc(
        name=name,
        topic=name.split("_", 1)[0],
        event="ecbplus" if name.endswith("ecbplus.xml") else "ecb",
        title=lines[0] if lines else "",
        text="\n".join(lines[1:]),
    )


def load_topics(root: Path, only: tuple[str, ...] | None = None) -> list[Doc]:
    docs = []
    for folder in sorted((root / "ECB+").iterdir()):
        if folder.is_dir() and (only is None or folder.name in only):
            docs.extend(read_doc(p) for p in sorted(folder.glob("*.xml")))
    return docs


def evaluate(
    docs: list[Doc], db_url: str, *, seed: int = 0, threshold: float = STORY_THRESHOLD
) -> Result:
    """Feed `docs` in a shuffled order (fixed seed) through a fresh store; score the pairs."""
    order = list(docs)
    random.Random(seed).shuffle(order)
    store = Store.open(db_url)
    story_of: dict[str, int] = {}
    duplicates = 0
    started = time.perf_counter()
    try:
        for doc in order:
            sig = signature(doc.text)
            original = store.near_duplicate_of(sig)
            duplicates += original is not None
            url = f"https://ecbplus.example/{doc.name}"
            article = Article(
                url=url,
                canonical_url=url,
                feed="ecbplus",
                title=doc.title,
                text=doc.text,
                published=PUBLISHED,
                fetched_at=PUBLISHED,
                content_hash=content_hash(doc.text),
            )
            stored = store.store_article(
                article, feed_id=None, baseline=False, duplicate_of=original, now=PUBLISHED
            )
            assert stored is not None
            article_id = int(getattr(stored, "id", stored))
            store.add_signature(None, article_id, sig)
            story_of[doc.name] = store.assign_story(
                None,
                article_id,
                story_features(doc.title, doc.text),
                PUBLISHED,
                duplicate_of=original,
                threshold=threshold,
            )
    finally:
        store.close()
    seconds = time.perf_counter() - started
    by_topic: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        by_topic[doc.topic].append(doc)
    positives = negatives = tp = fp = 0
    for topic_docs in by_topic.values():
        for a, b in itertools.combinations(topic_docs, 2):
            grouped = story_of[a.name] == story_of[b.name]
            if a.event == b.event:
                positives += 1
                tp += grouped
            else:
                negatives += 1
                fp += grouped
    topics_in: dict[int, set[str]] = defaultdict(set)
    for doc in docs:
        topics_in[story_of[doc.name]].add(doc.topic)
    return Result(
        docs=len(docs),
        positives=positives,
        negatives=negatives,
        true_positives=tp,
        false_positives=fp,
        cross_topic_stories=sum(len(t) > 1 for t in topics_in.values()),
        near_duplicates=duplicates,
        seconds=seconds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--ecbplus", type=Path, default=here.parent / "shared/data/ecbplus")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--also",
        type=lambda v: [float(x) for x in v.split(",") if x],
        default=[0.25, 0.3],
        help="other thresholds to measure too, on fresh SQLite files (comma-separated)",
    )
    args = parser.parse_args()
    docs = load_topics(args.ecbplus)
    others: list[tuple[float, Result]] = []
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate(docs, args.db or f"sqlite:///{tmp}/ecbplus.db")
        for i, threshold in enumerate(args.also):
            url = f"sqlite:///{tmp}/t{i}.db"
            others.append((threshold, evaluate(docs, url, threshold=threshold)))
    body = "\n".join(
        [
            "Data: ECB+ corpus, Cybulska and Vossen (LREC 2014), CC BY 3.0.",
            "",
            f"{result.docs} articles in {len({d.topic for d in docs})} topics, all published at "
            "one instant (the corpus has no times: only the words decide), fed in a shuffled "
            "order through signature, near-duplicate lookup, store and `assign_story` of a "
            f"SQLite store (threshold {STORY_THRESHOLD}, lede share {LEDE_SHARE}, half-life "
            f"{HALF_LIFE.total_seconds() / 3600:.0f} h).",
            "",
            "| pairs (same topic) | count | put in one story |",
            "|---|---|---|",
            f"| same event (positives) | {result.positives} | {result.true_positives} |",
            f"| other event of the topic (hard negatives) | {result.negatives} | "
            f"{result.false_positives} |",
            "",
            f"Pairwise precision **{result.precision:.3f}**, recall **{result.recall:.3f}**, "
            f"F1 {result.f1:.3f}. Stories spanning two topics: {result.cross_topic_stories}. "
            f"Near-duplicates found on the way: {result.near_duplicates}. "
            f"{1000 * result.seconds / result.docs:.1f} ms per article "
            f"({result.seconds:.0f} s in all, every story in one window).",
            "",
            "Other thresholds, same run (what the words alone can do):",
            "",
            "| threshold | precision | recall | F1 |",
            "|---|---|---|---|",
            *(
                f"| {t} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} |"
                for t, r in [(STORY_THRESHOLD, result), *others]
            ),
            "",
            "The threshold is set by the seed corpus (see bot/stories.py): its same-event pairs "
            "score 0.19-0.20 against 0.14-0.16 for its different events of one storyline, so "
            "it sits between them; with no time between articles that costs precision here. In "
            "a stream, ECB+'s two events of a topic lie months or years apart, and the window "
            "and the time decay keep them apart.",
        ]
    )
    print(body)
    write_section("Story grouping on ECB+", body, "python bench/ecbplus_stories.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
