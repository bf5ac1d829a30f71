"""Near-duplicates: MinHash signatures, LSH bands in the store, lookups that find the original."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.dedup import (
    BANDS,
    NUM_PERM,
    Signature,
    band_keys,
    content_hash,
    jaccard,
    shingles,
    signature,
)
from bot.models import Article
from bot.store import Store
from bot.store._dedup import article_signatures, lsh_bands

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)

WIRE = (
    "President Vladimir Putin said on Thursday that Russia was ready to put in writing that it "
    "would not attack Europe, speaking to reporters in Bishkek after a regional security summit. "
    "He called a draft peace plan drawn up in Washington a possible basis for future agreements "
    "but said Ukrainian troops must leave the territory they hold before the fighting stops. "
    "Ukraine rejected the demand and said its delegation would meet American officials again "
    "next week to work on security guarantees and the sequencing of any ceasefire."
)
OTHER = (
    "The city council approved a new budget for the public library on Tuesday, adding money "
    "for longer opening hours, a mobile reading van and repairs to the roof of the main branch. "
    "Council members said the vote followed months of petitions from parents and teachers, and "
    "the mayor promised that the first evening openings would start before the winter holidays."
)

# Lines a republishing site wraps around a wire story; none of them is in the benchmark pages.
BOILERPLATE = (
    "Advertisement",
    "Share this article on Facebook, X and by email",
    "Sign up for our morning newsletter to get the day's top stories in your inbox",
    "Copyright 2025 Example Media Group. All rights reserved.",
    "Read more: the latest headlines from our newsroom",
    "Follow us on social media for breaking news and live updates",
    "This story was originally published by a partner site and is republished with permission",
    "Comments are closed for this article",
)
REPLACEMENTS = [
    "river",
    "market",
    "window",
    "signal",
    "garden",
    "council",
    "ticket",
    "winter",
    "orange",
    "station",
]


def perturb(text: str, rng: random.Random) -> str:
    """A republished copy: two paragraphs swapped, 5% of the words changed, boilerplate added."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if len(paragraphs) >= 2:
        i, j = rng.sample(range(len(paragraphs)), 2)
        paragraphs[i], paragraphs[j] = paragraphs[j], paragraphs[i]
    edited = []
    for paragraph in paragraphs:
        words = paragraph.split(" ")
        for k in range(len(words)):
            if rng.random() < 0.05:
                words[k] = rng.choice(REPLACEMENTS)
        edited.append(" ".join(words))
    top, middle, bottom = rng.sample(BOILERPLATE, 3)
    half = len(edited) // 2
    return "\n".join([top, *edited[:half], middle, *edited[half:], bottom])


def put(store: Store, url: str, text: str, *, duplicate_of: int | None = None) -> int:
    """Store an article the way the pipeline does and return its id."""
    article = Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title="",
        text=text,
        published=T0,
        fetched_at=T0,
        content_hash=content_hash(text),
    )
    stored = store.store_article(
        article, feed_id=None, baseline=False, duplicate_of=duplicate_of, now=T0
    )
    assert stored is not None
    return int(getattr(stored, "id", stored))


# -- signatures ---------------------------------------------------------------------------------


def test_a_signature_is_the_same_in_another_process() -> None:
    code = (
        "import sys; from bot.dedup import signature; "
        "sys.stdout.write(signature(sys.argv[1]).values.hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, WIRE], capture_output=True, text=True, check=True
    ).stdout
    assert out == signature(WIRE).values.hex()


@pytest.mark.parametrize("text", [WIRE, OTHER, "Zelensky’s envoy — Київ, Genève", "one two"])
def test_a_signature_is_datasketchs_own_minhash_of_the_shingles(text: str) -> None:
    """Stored signatures must keep matching new ones: the bot's hashing of the shingles (done
    in bulk) gives exactly what datasketch's MinHash gives with its default hash."""
    from datasketch import MinHash

    reference = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32")
    reference.update_batch([g.encode("utf-8") for g in shingles(text)])
    assert signature(text).values == reference.hashvalues.astype("<u4").tobytes()


def test_a_signature_has_not_changed_since_signatures_were_first_stored() -> None:
    assert signature(WIRE).values[:16].hex() == "8349150ca3366e03e0451c00c2a0ed02"


def test_identical_texts_match_fully_and_unrelated_ones_hardly() -> None:
    assert jaccard(signature(WIRE), signature(WIRE.upper())) == 1.0
    assert jaccard(signature(WIRE), signature(OTHER)) < 0.1


def test_the_estimate_follows_the_true_jaccard_similarity_of_the_shingles() -> None:
    words = WIRE.split()
    edited = " ".join(w if i % 10 else "changed" for i, w in enumerate(words))
    a, b = shingles(WIRE), shingles(edited)
    exact = len(a & b) / len(a | b)
    assert abs(jaccard(signature(WIRE), signature(edited)) - exact) < 0.15


def test_a_text_without_words_has_an_empty_signature_and_no_bands() -> None:
    sig = signature(" — ,. ")
    assert sig.empty
    assert band_keys(sig) == []
    assert jaccard(sig, sig) == 0.0


def test_band_keys_cover_every_band_with_a_32_bit_hash() -> None:
    keys = band_keys(signature(WIRE))
    assert [band for band, _ in keys] == list(range(BANDS))
    assert all(-(2**31) <= h < 2**31 for _, h in keys)
    assert len(signature(WIRE).values) == NUM_PERM * 4


def test_a_signature_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="128 values"):
        Signature(b"\x00" * 12)


# -- the store ----------------------------------------------------------------------------------


def test_a_lightly_edited_copy_is_found_as_a_near_duplicate_of_the_original(
    store: Store,
) -> None:
    original = put(store, "https://wire.example/a", WIRE)
    store.add_signature(None, original, signature(WIRE))
    copy = perturb(WIRE, random.Random(1))
    assert store.near_duplicate_of(signature(copy)) == original
    assert store.near_duplicate_of(signature(OTHER)) is None


def test_the_pipelines_one_lookup_says_which_kind_of_copy_an_article_is(store: Store) -> None:
    original = put(store, "https://wire.example/a", WIRE)
    store.add_signature(None, original, signature(WIRE))
    relaid = WIRE.replace(".", " .").upper()  # the same words in another layout
    copy = perturb(WIRE, random.Random(1))
    assert store.original_of(content_hash(relaid), signature(relaid)) == (original, "hash")
    assert store.original_of(content_hash(copy), signature(copy)) == (original, "near")
    assert store.original_of(content_hash(OTHER), signature(OTHER)) is None
    # The text's hash is asked first: an exact copy is not reported as a near one.
    assert store.original_of(content_hash(WIRE), signature(WIRE)) == (original, "hash")


def test_a_copy_of_a_copy_points_to_the_original(store: Store) -> None:
    original = put(store, "https://wire.example/a", WIRE)
    store.add_signature(None, original, signature(WIRE))
    first_copy = perturb(WIRE, random.Random(2))
    copy_id = put(store, "https://copy.example/a", first_copy, duplicate_of=original)
    store.add_signature(None, copy_id, signature(first_copy))
    # Only the copy's bands are left to match: the lookup still answers the original.
    with store.engine.begin() as conn:
        conn.execute(lsh_bands.delete().where(lsh_bands.c.article_id == original))
    assert store.near_duplicate_of(signature(first_copy)) == original


def test_the_threshold_decides_what_counts_as_a_near_duplicate(store: Store) -> None:
    original = put(store, "https://wire.example/a", WIRE)
    store.add_signature(None, original, signature(WIRE))
    copy = signature(perturb(WIRE, random.Random(3)))
    similarity = jaccard(signature(WIRE), copy)
    assert store.near_duplicate_of(copy, threshold=similarity) == original
    assert store.near_duplicate_of(copy, threshold=similarity + 0.01) is None


def test_adding_a_signature_twice_writes_its_bands_once(store: Store) -> None:
    article = put(store, "https://wire.example/a", WIRE)
    store.add_signature(None, article, signature(WIRE))
    store.add_signature(None, article, signature(WIRE))
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(lsh_bands)) == BANDS
        assert conn.scalar(select(func.count()).select_from(article_signatures)) == 1


def test_the_signature_is_written_inside_the_callers_transaction(store: Store) -> None:
    article = put(store, "https://wire.example/a", WIRE)
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        store.add_signature(conn, article, signature(WIRE))
        raise RuntimeError("the article's transaction fails")
    assert store.near_duplicate_of(signature(WIRE)) is None


def test_an_empty_text_stores_no_bands_and_has_no_near_duplicates(store: Store) -> None:
    article = put(store, "https://wire.example/a", "")
    store.add_signature(None, article, signature(""))
    assert store.near_duplicate_of(signature("")) is None
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(lsh_bands)) == 0


# -- acceptance: the seed corpus and 181 real pages ---------------------------------------------


@pytest.mark.acceptance
def test_seeds_the_syndicated_copy_is_the_only_near_duplicate(store: Store, seeds: Path) -> None:
    rows = sorted(
        (json.loads(line) for line in seeds.read_text(encoding="utf-8").splitlines()),
        key=lambda d: d["published"],
    )
    found: dict[str, str] = {}
    ids: dict[int, str] = {}
    for row in rows:
        sig = signature(row["text"])
        original = store.near_duplicate_of(sig)
        if original is not None:
            found[row["id"]] = ids[original]
        article = put(
            store,
            f"https://{row['outlet']}.example/{row['id']}",
            row["text"],
            duplicate_of=original,
        )
        ids[article] = row["id"]
        store.add_signature(None, article, sig)
    assert found == {"s004e-syn": "s004e"}


def _benchmark_pages(shared: Path) -> dict[str, str]:
    truth = json.loads(
        (shared / "data" / "article-extraction-benchmark" / "ground-truth.json").read_text(
            encoding="utf-8"
        )
    )
    return {key: value["articleBody"] for key, value in sorted(truth.items())}


@pytest.mark.acceptance
def test_benchmark_pages_no_near_duplicate_pair_and_perturbed_copies_are_found(
    store: Store, shared: Path
) -> None:
    pages = _benchmark_pages(shared)
    ids: dict[str, int] = {}
    for key, text in pages.items():
        sig = signature(text)
        assert store.near_duplicate_of(sig) is None, f"{key} taken for a near-duplicate"
        ids[key] = put(store, f"https://pages.example/{key}", text)
        store.add_signature(None, ids[key], sig)
    rng = random.Random(181)
    found = sum(
        store.near_duplicate_of(signature(perturb(text, rng))) == ids[key]
        for key, text in pages.items()
    )
    assert found / len(pages) >= 0.95, f"{found} of {len(pages)} perturbed copies found"


def test_perturbation_changes_what_the_issue_says_it_changes() -> None:
    text = "\n".join(" ".join(f"w{i}x{j}" for j in range(40)) for i in range(6))
    copy = perturb(text, random.Random(0))
    lines = copy.split("\n")
    assert sum(line in BOILERPLATE for line in lines) == 3
    kept = [line.split() for line in lines if line not in BOILERPLATE]
    first = [next(w for w in words if w.startswith("w")).split("x")[0] for words in kept]
    assert sorted(first) == [f"w{i}" for i in range(6)] != first  # two paragraphs swapped
    changed = sum(w in REPLACEMENTS for words in kept for w in words)
    assert 0.02 * 240 < changed < 0.1 * 240  # about 5% of the words
