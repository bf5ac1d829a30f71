"""Near-duplicate quality on real pages: copies found, unrelated pairs kept apart.

The 181 pages of the article-extraction benchmark (gold text) are stored with their signatures;
then, for several seeds, a republished copy of each (two paragraphs swapped, 5% of the words
changed, three boilerplate lines added: tests/test_near_duplicates.py's `perturb`) is looked up.
Also reports the estimated Jaccard similarity of the closest unrelated pair and of the seed
corpus's syndicated copy.

    .venv/bin/python bench/near_duplicate_quality.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from bot.dedup import (  # noqa: E402
    NEAR_DUPLICATE_THRESHOLD,
    SHINGLE_WORDS,
    content_hash,
    jaccard,
    signature,
)
from bot.models import Article  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.test_near_duplicates import T0, perturb  # noqa: E402

SHARED = REPO.parent / "shared"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    truth = json.loads(
        (SHARED / "data/article-extraction-benchmark/ground-truth.json").read_text("utf-8")
    )
    pages = {k: v["articleBody"] for k, v in sorted(truth.items())}
    sigs = {k: signature(t) for k, t in pages.items()}
    closest = max(
        (jaccard(sigs[a], sigs[b]), a[:6], b[:6]) for a, b in itertools.combinations(sigs, 2)
    )
    rows = [json.loads(line) for line in (SHARED / "corpus/seeds.jsonl").read_text().splitlines()]
    seed_text = {r["id"]: r["text"] for r in rows}
    syndicated = jaccard(signature(seed_text["s004e"]), signature(seed_text["s004e-syn"]))
    rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/q.db")
        ids: dict[str, int] = {}
        for key, text in pages.items():
            url = f"https://pages.example/{key}"
            article = Article(url, url, "pages", "", text, T0, T0, content_hash(text))
            stored = store.store_article(
                article, feed_id=None, baseline=False, duplicate_of=None, now=T0
            )
            ids[key] = int(getattr(stored, "id", stored))
            store.add_signature(None, ids[key], sigs[key])
        for seed in range(args.seeds):
            rng = random.Random(seed)
            found = sum(
                store.near_duplicate_of(signature(perturb(text, rng))) == ids[key]
                for key, text in pages.items()
            )
            rates.append(found / len(pages))
        store.close()
    body = "\n".join(
        [
            f"Word {SHINGLE_WORDS}-gram shingles, threshold {NEAR_DUPLICATE_THRESHOLD} on the "
            "estimated Jaccard similarity. The 181 pages of the article-extraction benchmark "
            "(gold text):",
            "",
            f"- perturbed copies found as near-duplicates of their original, {args.seeds} "
            "seeds: " + ", ".join(f"{r:.1%}" for r in rates),
            f"- closest pair of different pages: estimated Jaccard {closest[0]:.3f} "
            f"({closest[1]}, {closest[2]}); no pair reaches the threshold",
            f"- seed corpus, s004e and its syndicated copy s004e-syn: {syndicated:.3f}",
        ]
    )
    print(body)
    write_section(
        "Near-duplicate detection on real pages", body, "python bench/near_duplicate_quality.py"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
