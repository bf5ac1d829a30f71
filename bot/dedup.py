"""Exact duplicates: canonical URLs and hashes of normalized text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()
