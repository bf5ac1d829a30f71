"""Feed health: when a run of failed polls is worth an alert of its own, and how it reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

Transition = Literal["failing", "recovered"]
Health = Literal["ok", "failing", "erroring", "never polled", "disabled"]

DEFAULT_FAILURE_THRESHOLD: Final = 5
FEED_HEALTH_RULE: Final = "feed-health"


def feed_health_transition(
    previous_failures: int, current_failures: int, threshold: int = DEFAULT_FAILURE_THRESHOLD
) -> Transition | None:
    """What a poll changed about a feed's health, given its consecutive failures before and
    after it: "failing" the first time the run reaches `threshold`, "recovered" on the first
    success after such a run, None otherwise (so each outage alerts once, and once more when
    it ends)."""
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, not {threshold}")
    if previous_failures < threshold <= current_failures:
        return "failing"
    if previous_failures >= threshold and current_failures == 0:
        return "recovered"
    return None


def feed_health(
    consecutive_failures: int,
    last_polled_at: datetime | None,
    *,
    enabled: bool = True,
    threshold: int = DEFAULT_FAILURE_THRESHOLD,
) -> Health:
    """One word for a feed's state, as `bot feeds list` and the status page show it:
    "failing" from `threshold` failures in a row, "erroring" below that."""
    if not enabled:
        return "disabled"
    if consecutive_failures >= threshold:
        return "failing"
    if consecutive_failures > 0:
        return "erroring"
    if last_polled_at is None:
        return "never polled"
    return "ok"


def feed_health_payload(
    *,
    alert_id: str,
    feed: str,
    url: str,
    transition: Transition,
    failures: int,
    last_error: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The alert about a feed, shaped like a rule's alert so that every target renders it."""
    if transition == "failing":
        title = f"Feed {feed} is failing"
        summary = f"{failures} polls of {feed} failed in a row" + (
            f"; the last error: {last_error}" if last_error else ""
        )
        severity = "warning"
    else:
        title = f"Feed {feed} recovered"
        summary = f"{feed} answered again after a run of failed polls."
        severity = "info"
    return {
        "id": alert_id,
        "type": "feed-health",
        "rule": FEED_HEALTH_RULE,
        "title": title,
        "severity": severity,
        "summary": summary,
        "values": {"feed": feed, "state": transition, "failures": str(failures)},
        "evidence": [last_error] if transition == "failing" and last_error else [],
        "article": {"url": url, "title": feed, "outlet": feed},
        "sources": [{"url": url, "outlet": feed, "title": feed}],
        "created_at": now.isoformat(),
    }
