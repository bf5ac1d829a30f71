"""Duplicates: canonical URLs, normalized-text hashes, MinHash near-duplicates.

The features by which articles are grouped into stories are in `bot.story_features`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from courlan import normalize_url

# Hosts that serve the same article as the main site.
_MOBILE_PREFIXES = ("m.", "mobile.", "amp.", "www.")
# Query parameters that only select an AMP rendering.
_AMP_PARAMS = frozenset({"amp", "output", "outputtype", "amp_js_v", "usqp"})
_WORD = re.compile(r"\w+", re.UNICODE)


def canonical_url(url: str) -> str:
    """The key under which an article is stored once.

    Tracking parameters and fragments go, query parameters are sorted, the scheme is https,
    and AMP or mobile variants (m./amp./www. hosts, /amp path segments, .amp.html,
    ?output=amp) map to the plain page.
    """
    try:
        cleaned = normalize_url(url.strip())
    except ValueError:
        cleaned = url.strip()
    parts = urlsplit(cleaned)
    host = (parts.hostname or "").lower().rstrip(".")
    for prefix in _MOBILE_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    segments = [seg for seg in (parts.path or "/").split("/") if seg]
    if segments[:1] == ["amp"]:
        segments = segments[1:]
    if segments[-1:] == ["amp"]:
        segments = segments[:-1]
    path = "/" + "/".join(segments)
    path = re.sub(r"\.amp(\.html?)$", r"\1", path)
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in _AMP_PARAMS
        )
    )
    return urlunsplit(("https", host, path, query, ""))


def normalize_text(text: str) -> str:
    """Case-folded words joined by single spaces: punctuation, quotes and layout do not count."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(folded))


def content_hash(text: str) -> str:
    """sha256 of the normalized text."""
    return _digest(normalize_text(text))


def _digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


# -- near-duplicates: MinHash over word shingles, LSH bands -----------------------------------

SHINGLE_WORDS = 3
"""Word 3-grams: one edited word changes three shingles, so a copy with 5% of its words changed
keeps about 86% of them, while two different news articles share under 2% (function-word
trigrams like "one of the"). Shorter shingles tolerate more editing but make unrelated texts
look closer; longer ones the reverse."""

NUM_PERM = 128
BANDS = 32
ROWS = 4
"""32 bands of 4 rows (128 permutations). A pair with Jaccard similarity s becomes a candidate
with probability 1 - (1 - s**4)**32: 0.74 at 0.45, 0.87 at 0.5, 0.99 at 0.6, 0.0002 at 0.05.
The S-curve's midpoint, (1/32)**(1/4) = 0.42, sits at the confirming threshold on purpose:
fewer rows would bring many more unrelated candidates per lookup, more bands more rows in
the table (32 per article already), and a missed copy is still caught by its story."""

NEAR_DUPLICATE_THRESHOLD = 0.45
"""Estimated Jaccard similarity of the shingle sets at or above which a text is a near-duplicate.
Measured (bench/RESULTS.md): republished copies with other boilerplate, 5% of the words changed
and two paragraphs swapped score 0.45-0.9 (97.8-100% of them found); the closest two different
pages of 181 real ones score 0.17; two outlets' own reports of one event 0.02-0.05. The estimate's
standard error with 128 permutations is about 0.044 at 0.45."""

_MINHASH_SEED = 1  # fixed: signatures are stored and compared across processes and releases
_MINHASH_SCHEME = "affine32"  # datasketch >= 2.0; named so that a new default never changes it


@dataclass(frozen=True, slots=True)
class Signature:
    """A text's MinHash signature: NUM_PERM unsigned 32-bit values, little-endian.

    Empty for a text without words: such a text has no near-duplicates.
    """

    values: bytes

    def __post_init__(self) -> None:
        if len(self.values) not in (0, NUM_PERM * 4):
            raise ValueError(f"a signature has {NUM_PERM} values, got {len(self.values) // 4}")

    @property
    def empty(self) -> bool:
        return not self.values

    def array(self) -> npt.NDArray[np.uint32]:
        return np.frombuffer(self.values, dtype="<u4")


def shingles(text: str) -> set[str]:
    """The word SHINGLE_WORDS-grams of the normalized text (the whole text when shorter)."""
    return _shingles_of(normalize_text(text))


def _shingles_of(normalized: str) -> set[str]:
    words = normalized.split()
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def signature(text: str) -> Signature:
    """The MinHash signature of `text`'s shingles; the same in every process (fixed seed)."""
    return _signature_of(_shingles_of(normalize_text(text)))


def hash_and_signature(text: str) -> tuple[str, Signature]:
    """`content_hash(text)` and `signature(text)`, normalizing the text once for both."""
    normalized = normalize_text(text)
    return _digest(normalized), _signature_of(_shingles_of(normalized))


def _signature_of(grams: set[str]) -> Signature:
    if not grams:
        return Signature(b"")
    # Imported here: datasketch pulls in scipy, which only the signing workers need.
    from datasketch import MinHash

    mh = MinHash(
        num_perm=NUM_PERM,
        seed=_MINHASH_SEED,
        scheme=_MINHASH_SCHEME,
        hashfunc=int,  # the shingles arrive hashed (_shingle_hashes)
        permutations=_permutations(),
    )
    mh.update_batch(_shingle_hashes(grams))
    return Signature(np.asarray(mh.hashvalues, dtype="<u4").tobytes())


@functools.cache
def _permutations() -> npt.NDArray[np.uint32]:
    """The seeded permutations, drawn once per process: datasketch draws them anew for every
    MinHash, about a fifth of a short page's signing time."""
    from datasketch import MinHash

    drawn: npt.NDArray[np.uint32] = MinHash(
        num_perm=NUM_PERM, seed=_MINHASH_SEED, scheme=_MINHASH_SCHEME
    ).permutations
    return drawn


def _shingle_hashes(grams: set[str]) -> list[int]:
    """datasketch's default 32-bit hash of each shingle (the first four bytes of its SHA-1,
    little-endian), read out of the joined digests at once instead of one unpack per shingle."""
    sha1 = hashlib.sha1
    digests = b"".join([sha1(g.encode("utf-8")).digest() for g in grams])
    hashes: list[int] = np.frombuffer(digests, dtype="<u4")[::5].tolist()
    return hashes


def band_keys(sig: Signature) -> list[tuple[int, int]]:
    """(band index, band hash) for the LSH table: one key per band of ROWS values.

    The hash is a signed 32-bit integer (an INTEGER column on both databases, half the index of
    a hex string); a rare collision only adds a candidate that the Jaccard check turns away.
    """
    if sig.empty:
        return []
    width = ROWS * 4
    keys = []
    for band in range(BANDS):
        chunk = sig.values[band * width : (band + 1) * width]
        digest = hashlib.blake2b(chunk, digest_size=4, person=band.to_bytes(2, "little"))
        keys.append((band, int.from_bytes(digest.digest(), "little", signed=True)))
    return keys


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values (0 for an empty one)."""
    if a.empty or b.empty:
        return 0.0
    return float(np.count_nonzero(a.array() == b.array())) / NUM_PERM


# Story features live in their own module; these names stay importable from here.
from bot.story_features import StoryFeatures, story_features, with_anchors  # noqa: E402

__all__ = [
    "BANDS",
    "NEAR_DUPLICATE_THRESHOLD",
    "NUM_PERM",
    "ROWS",
    "SHINGLE_WORDS",
    "Signature",
    "StoryFeatures",
    "band_keys",
    "canonical_url",
    "content_hash",
    "hash_and_signature",
    "jaccard",
    "normalize_text",
    "shingles",
    "signature",
    "story_features",
    "with_anchors",
]
