"""Duplicates: canonical URLs, normalized-text hashes, MinHash near-duplicates, story features."""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
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


# -- story features: weighted content words and names -----------------------------------------

# Function words (English, and the commonest of a few other languages: a corpus with little of a
# language cannot tell its function words from rare ones) and the vocabulary of reporting itself:
# they say nothing about which event an article is about. Everything else is weighted by how rare
# it is in the stored corpus (bot/stories.py).
_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "across",
        "after",
        "again",
        "against",
        "ago",
        "all",
        "almost",
        "along",
        "already",
        "also",
        "although",
        "always",
        "am",
        "among",
        "an",
        "and",
        "another",
        "any",
        "anyone",
        "anything",
        "are",
        "around",
        "as",
        "at",
        "away",
        "back",
        "be",
        "became",
        "because",
        "become",
        "been",
        "before",
        "being",
        "below",
        "beside",
        "besides",
        "between",
        "beyond",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "either",
        "else",
        "enough",
        "even",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "last",
        "least",
        "less",
        "let",
        "like",
        "made",
        "make",
        "makes",
        "making",
        "many",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "neither",
        "never",
        "new",
        "next",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "onto",
        "or",
        "other",
        "others",
        "otherwise",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "per",
        "perhaps",
        "quite",
        "rather",
        "really",
        "same",
        "several",
        "shall",
        "she",
        "should",
        "since",
        "so",
        "some",
        "somebody",
        "someone",
        "something",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "though",
        "through",
        "throughout",
        "thus",
        "to",
        "together",
        "too",
        "toward",
        "towards",
        "under",
        "unless",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "via",
        "was",
        "we",
        "well",
        "were",
        "what",
        "whatever",
        "when",
        "whenever",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whoever",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "say",
        "says",
        "said",
        "saying",
        "tell",
        "tells",
        "told",
        "telling",
        "according",
        "add",
        "added",
        "adding",
        "report",
        "reports",
        "reported",
        "reporting",
        "statement",
        "interview",
        "news",
        "story",
        "article",
        "update",
        "updated",
        "read",
        "share",
        "click",
        "subscribe",
        "advertisement",
        "photo",
        "image",
        "video",
        "file",
        "copyright",
        "rights",
        "reserved",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "einen",
        "dem",
        "den",
        "des",
        "mit",
        "sich",
        "auf",
        "für",
        "von",
        "zu",
        "im",
        "auch",
        "als",
        "wie",
        "aber",
        "noch",
        "nach",
        "bei",
        "aus",
        "wird",
        "werden",
        "wurde",
        "sind",
        "sie",
        "er",
        "es",
        "wir",
        "ich",
        "hat",
        "haben",
        "oder",
        "dass",
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "et",
        "est",
        "pas",
        "que",
        "qui",
        "dans",
        "pour",
        "sur",
        "avec",
        "par",
        "plus",
        "ce",
        "cette",
        "ces",
        "sont",
        "il",
        "elle",
        "ils",
        "au",
        "aux",
        "son",
        "sa",
        "ses",
        "leur",
        "mais",
        "ou",
        "été",
        "être",
        "fait",
        "comme",
        "aussi",
        "el",
        "los",
        "las",
        "del",
        "y",
        "en",
        "por",
        "con",
        "para",
        "una",
        "es",
        "se",
        "lo",
        "su",
        "sus",
        "al",
        "más",
        "pero",
        "como",
        "este",
        "esta",
        "fue",
        "han",
        "ha",
        "sido",
        "ser",
        "muy",
        "sin",
        "sobre",
        "entre",
        "también",
        "ya",
        "hay",
        "porque",
        "cuando",
        "os",
        "em",
        "um",
        "uma",
        "não",
        "mais",
        "foi",
        "são",
        "ao",
        "aos",
        "da",
        "das",
        "do",
        "dos",
        "na",
        "nas",
        "no",
        "nos",
        "pelo",
        "pela",
        "seu",
        "sua",
        "também",
        "já",
        "há",
        "quando",
        "muito",
        "isso",
        "esse",
        "essa",
        "ele",
        "ela",
        "eles",
        "você",
        "il",
        "di",
        "che",
        "non",
        "per",
        "gli",
        "della",
        "delle",
        "dei",
        "degli",
        "nel",
        "nella",
        "alla",
        "alle",
        "sono",
        "anche",
        "ha",
        "hanno",
        "het",
        "een",
        "van",
        "dat",
        "niet",
        "zijn",
        "wordt",
        "werd",
        "ook",
        "maar",
        "bij",
        "naar",
        "voor",
        "uit",
        "als",
        "dan",
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "untuk",
        "dengan",
        "ini",
        "itu",
        "tidak",
        "ada",
        "dalam",
        "akan",
        "pada",
        "juga",
        "atau",
        "oleh",
        "karena",
        "sudah",
        "saja",
        "bisa",
        "kita",
        "kami",
        "mereka",
        "today",
        "yesterday",
        "tomorrow",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "day",
        "days",
        "time",
        "times",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)
# Words that stand before a name without being part of it ("President Vladimir Putin").
_NAME_TITLES = frozenset(
    [
        "president",
        "vice",
        "prime",
        "minister",
        "foreign",
        "defence",
        "defense",
        "secretary",
        "senator",
        "sen",
        "rep",
        "gov",
        "governor",
        "chancellor",
        "mayor",
        "general",
        "gen",
        "special",
        "envoy",
        "chief",
        "former",
        "acting",
        "deputy",
        "ambassador",
        "judge",
    ]
)
_TOKEN = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
_LEDE_WORDS = 60
_LEAD_SENTENCES = 3
_TITLE_WEIGHT = 3.0
_LEAD_WEIGHT = 2.0
_NAME_WEIGHT = 1.5
_MAX_TERMS = 300


@dataclass(frozen=True, slots=True)
class StoryFeatures:
    """What an article says it is about, for grouping articles into stories.

    `terms`: content words (lightly stemmed) and names, the title and opening sentences
    weighted up; `lede`: the same over the title and opening sentences only, where news puts
    the event itself; names of two or more words also appear whole (`"vladimir putin"`).
    Both are sublinear term frequencies normalized to unit length, before any corpus weighting.
    `spread`: in how many of the article's `sentences` (title included) each term occurs,
    which the store adds up into the corpus statistics that say how common a term is.
    """

    terms: dict[str, float]
    lede: dict[str, float]
    spread: dict[str, int]
    sentences: int

    def to_json(self) -> dict[str, Any]:
        return {
            "terms": self.terms,
            "lede": self.lede,
            "spread": self.spread,
            "sentences": self.sentences,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoryFeatures:
        return cls(
            terms={str(k): float(v) for k, v in data["terms"].items()},
            lede={str(k): float(v) for k, v in data["lede"].items()},
            spread={str(k): int(v) for k, v in data["spread"].items()},
            sentences=int(data["sentences"]),
        )


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
    parts = [(title_terms, _TITLE_WEIGHT)] + [
        (terms, _LEAD_WEIGHT if i < _LEAD_SENTENCES else 1.0)
        for i, terms in enumerate(sentence_terms)
    ]
    spread: dict[str, int] = {}
    counted = 0
    for terms in [title_terms, *sentence_terms]:
        distinct = {t.lstrip("^") for t in terms}
        counted += bool(distinct)
        for term in distinct:
            spread[term] = spread.get(term, 0) + 1
    lede = _weigh([(title_terms, 1.0), (_sentence_terms(_lede(text)), 1.0)])
    return StoryFeatures(
        terms=_unit(_weigh(parts)), lede=_unit(lede, 100), spread=spread, sentences=counted
    )
