"""Alert text: the generic JSON every target starts from."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.models import Article, Match

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'“‘(])")
LEAD_CHARS = 400
EVIDENCE_CHARS = 500


def _trim(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def lead(text: str, limit: int = LEAD_CHARS) -> str:
    """The article's opening sentences, up to `limit` characters."""
    first_para = text.strip().split("\n", 1)[0]
    sentences = _SENTENCE_END.split(first_para)
    out = ""
    for sentence in sentences:
        if out and len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}".strip()
    return _trim(out, limit)


def build_payload(
    match: Match, article: Article, *, alert_id: str, created_at: datetime
) -> dict[str, Any]:
    """The alert as the generic webhook receives it (documented in README.md)."""
    evidence = [_trim(s, EVIDENCE_CHARS) for s in match.evidence[:3]]
    summary_lead = lead(article.text)
    summary = " ".join(evidence[:1]) or summary_lead
    return {
        "id": alert_id,
        "rule": match.rule_id,
        "title": match.title,
        "severity": match.severity,
        "summary": summary,
        "values": match.values,
        "evidence": evidence,
        "article": {
            "url": article.url,
            "title": article.title,
            "outlet": article.feed,
            "site_name": article.site_name,
            "published": article.published.isoformat() if article.published else None,
            "lead": summary_lead,
            "extraction": article.extraction,
        },
        "sources": [{"url": article.url, "outlet": article.feed, "title": article.title}],
        "created_at": created_at.isoformat(),
    }
