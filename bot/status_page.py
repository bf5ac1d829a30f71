"""The status page as one HTML document, rendered on the server: every value from the
database is escaped, there is no script, and the one style sheet is the one its CSP allows."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.health import DEFAULT_FAILURE_THRESHOLD, feed_health
from bot.store._maintenance import AlertView, FeedView, OutboxSummary

RECENT_ALERTS = 50
REFRESH_S = 60


@dataclass(frozen=True, slots=True)
class RefusedEdit:
    """A rules/ edit the running bot refused to load: the last good rules keep running."""

    problems: tuple[str, ...]  # `file:line: field: message`, as `bot check` prints them
    at: datetime  # the latest refused reload
    failures: int  # refused reloads since the last one that loaded


# ---------------------------------------------------------------------------------------------
# Markup: every value from the database is escaped; only this module's literals are markup.


class Markup(str):
    """Text that is already HTML (built here from escaped parts)."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """`value` as HTML text: escaped unless it is already Markup."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def el(tag: str, *children: object, **attrs: object) -> Markup:
    """An element; `class_` is `class`, `data_x` is `data-x`; None or False drops an attribute."""
    parts = [tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        parts.append(f'{key.rstrip("_").replace("_", "-")}="{esc(value)}"')
    return Markup(f"<{' '.join(parts)}>" + join(children) + f"</{tag}>")


def join(children: Iterable[object]) -> Markup:
    return Markup("".join(esc(c) for c in children if c is not None))


def safe_href(url: str | None) -> str | None:
    """Only http(s) URLs become links; `javascript:` and the like stay plain text."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def link(url: str | None, text: object) -> Markup:
    href = safe_href(url)
    if href is None:
        return esc(text)
    return el("a", text, href=href, rel="noopener noreferrer nofollow")


def _ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        ahead = -seconds
        return f"in {_span(ahead)}"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


def when(moment: datetime | None, now: datetime) -> Markup:
    if moment is None:
        return Markup("&ndash;")
    moment = moment.astimezone(UTC)
    return el(
        "time",
        moment.strftime("%Y-%m-%d %H:%M UTC"),
        datetime=moment.isoformat(timespec="seconds"),
        title=_ago(moment, now),
    )


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clip(text: str | None, limit: int = 300) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


CSS = """
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --bad: #b91c1c;
  --warn: #b45309; --ok: #15803d; --card: rgba(127,127,127,.07); }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; }
h3 { font-size: 1rem; margin: .2rem 0; }
.meta, .muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; margin: .8rem 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: .5rem .8rem; min-width: 9rem; }
.card b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
td.num { text-align: right; }
.err { color: var(--bad); overflow-wrap: anywhere; }
.h-ok, .s-sent { color: var(--ok); } .h-failing, .s-dead, .sev-critical { color: var(--bad); }
.h-erroring, .s-pending, .sev-warning { color: var(--warn); }
.badge { border: 1px solid currentColor; border-radius: 4px; padding: 0 .3rem; font-size: .8rem; }
article.alert { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem;
  margin: .6rem 0; background: var(--card); }
dl.values { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem;
  margin: .4rem 0; }
dl.values dt { color: var(--muted); } dl.values dd { margin: 0; }
blockquote { margin: .3rem 0; padding-left: .6rem; border-left: 3px solid var(--line); }
ul.evidence { list-style: none; padding: 0; margin: .3rem 0; }
code { font-size: .9em; } time { white-space: nowrap; }
footer { margin-top: 2rem; }
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_CSS_HASH}'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _feeds_section(feeds: list[FeedView], now: datetime, threshold: int) -> Markup:
    if not feeds:
        return el("p", "No feeds yet.", class_="muted")
    rows = []
    for f in feeds:
        health = feed_health(f.consecutive_failures, f.last_polled_at, threshold=threshold)
        rows.append(
            el(
                "tr",
                el("td", el("strong", f.name), Markup("<br>"), el("small", link(f.url, f.url))),
                el("td", health, class_=f"h-{health.replace(' ', '-')}"),
                el("td", when(f.last_polled_at, now)),
                el("td", f.last_status or "–"),
                el("td", f.consecutive_failures, class_="num"),
                el("td", when(f.last_ok_at, now)),
                el("td", f.articles, class_="num"),
                el("td", when(f.next_poll_at, now)),
                el("td", _clip(f.last_error), class_="err"),
                data_feed=f.name,
            )
        )
    head = el(
        "tr",
        *(
            el("th", h)
            for h in (
                "feed",
                "health",
                "last poll",
                "status",
                "failures",
                "last good poll",
                "articles",
                "next poll",
                "last error",
            )
        ),
    )
    return el("table", el("thead", head), el("tbody", *rows), id="feed-table")


def _alert_card(a: AlertView, now: datetime, suppressed: Mapping[str, Mapping[str, int]]) -> Markup:
    values = el(
        "dl",
        *(
            Markup(el("dt", key) + el("dd", _value_text(value)))
            for key, value in sorted(a.values.items())
        ),
        class_="values",
    )
    evidence = el(
        "ul", *(el("li", el("blockquote", sentence)) for sentence in a.evidence), class_="evidence"
    )
    source = el(
        "p",
        link(a.article_url, a.article_title or a.article_url),
        " — ",
        a.feed or "unknown feed",
        " · published ",
        when(a.published_at, now),
        " · text from ",
        a.extraction,
        *((" · story ", el("code", a.story_id)) if a.story_id else ()),
        class_="source",
    )
    deliveries = el(
        "p",
        "deliveries: ",
        *(
            join(
                (
                    "; " if i else "",
                    el("span", f"{d.target}: {d.state}", class_=f"s-{d.state}"),
                    f" ({d.attempts} attempt{'s' if d.attempts != 1 else ''})",
                    el("span", f" {_clip(d.last_error, 160)}", class_="err")
                    if d.last_error and d.state != "sent"
                    else None,
                )
            )
            for i, d in enumerate(a.deliveries)
        )
        if a.deliveries
        else ("none",),
        class_="deliveries muted",
    )
    held = suppressed.get(a.rule_id, {})
    held_text = (
        el(
            "p",
            "repeats of this rule held back since start: ",
            ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in sorted(held.items())),
            class_="muted",
        )
        if held
        else None
    )
    return el(
        "article",
        el(
            "header",
            when(a.created_at, now),
            " ",
            el("span", a.severity, class_=f"badge sev-{a.severity}"),
            " ",
            el("code", a.rule_id),
            el("h3", a.title),
        ),
        source,
        values if a.values else None,
        evidence if a.evidence else None,
        deliveries,
        held_text,
        class_="alert",
        id=f"alert-{a.alert_id}",
        data_rule=a.rule_id,
    )


def _outbox_section(outbox: OutboxSummary, now: datetime) -> Markup:
    counts = ", ".join(
        f"{outbox.counts.get(state, 0)} {state}" for state in ("pending", "sent", "dead")
    )
    head = el("p", counts, ". Oldest pending: ", when(outbox.oldest_pending_at, now), ".")
    if not outbox.open:
        return join((head, el("p", "Nothing pending or dead.", class_="muted")))
    rows = [
        el(
            "tr",
            el("td", when(d.created_at, now)),
            el("td", d.target),
            el("td", el("code", d.rule_id)),
            el("td", d.title),
            el("td", d.state, class_=f"s-{d.state}"),
            el("td", d.attempts, class_="num"),
            el("td", when(d.next_attempt_at, now) if d.state == "pending" else "–"),
            el("td", _clip(d.last_error), class_="err"),
            data_delivery=d.delivery_id,
        )
        for d in outbox.open
    ]
    header = el(
        "tr",
        *(
            el("th", h)
            for h in (
                "written",
                "target",
                "rule",
                "alert",
                "state",
                "attempts",
                "next attempt",
                "last error",
            )
        ),
    )
    return join((head, el("table", el("thead", header), el("tbody", *rows), id="outbox-table")))


def _refused_section(refused: RefusedEdit | None, now: datetime) -> Markup | None:
    if refused is None:
        return None
    times = f" ({refused.failures} refused reloads in a row)" if refused.failures > 1 else ""
    return el(
        "section",
        el(
            "p",
            el("strong", "A rules edit was refused", class_="h-failing"),
            " ",
            when(refused.at, now),
            times,
            ": the last good rules keep running until an edit loads. Fix these with ",
            el("code", "bot check"),
            ":",
        ),
        el("ul", *(el("li", el("code", p), class_="err") for p in refused.problems)),
        id="rules-edit",
        class_="card",
    )


def render_page(
    *,
    name: str,
    now: datetime,
    checks: Mapping[str, str],
    feeds: list[FeedView],
    alerts: list[AlertView],
    outbox: OutboxSummary,
    suppressed: Mapping[str, Mapping[str, int]],
    threshold: int = DEFAULT_FAILURE_THRESHOLD,
    refused: RefusedEdit | None = None,
) -> str:
    """The status page as one HTML document: no scripts, one inline style sheet."""
    ready = all(state == "ok" for state in checks.values())
    # The same words as the feed table's health column, counted from the same call.
    health = Counter(
        feed_health(f.consecutive_failures, f.last_polled_at, threshold=threshold) for f in feeds
    )
    day = sum(1 for a in alerts if (now - a.created_at).total_seconds() <= 86400)
    cards = el(
        "div",
        el(
            "div",
            el("b", len(feeds)),
            f"feeds, {health['failing']} failing, {health['erroring']} erroring",
            class_="card",
            id="feed-counts",
        ),
        el(
            "div",
            el("b", f"{day}{'+' if day == len(alerts) == RECENT_ALERTS else ''}"),
            "alerts in 24 h",
            class_="card",
        ),
        el("div", el("b", outbox.counts.get("pending", 0)), "pending deliveries", class_="card"),
        el("div", el("b", outbox.counts.get("dead", 0)), "dead deliveries", class_="card"),
        class_="cards",
    )
    status = el(
        "p",
        el("span", "ready" if ready else "not ready", class_="h-ok" if ready else "h-failing"),
        *(
            (" — ", "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"))
            if not ready
            else ()
        ),
        " · as of ",
        when(now, now),
        class_="meta",
    )
    alert_cards = (
        join(_alert_card(a, now, suppressed) for a in alerts)
        if alerts
        else el("p", "No alerts yet.", class_="muted")
    )
    body = el(
        "body",
        el("header", el("h1", f"{name} status"), status, _refused_section(refused, now), cards),
        el("section", el("h2", "Feeds"), _feeds_section(feeds, now, threshold), id="feeds"),
        el(
            "section",
            el("h2", f"Recent alerts (last {RECENT_ALERTS})"),
            alert_cards,
            id="alerts",
        ),
        el("section", el("h2", "Outbox"), _outbox_section(outbox, now), id="outbox"),
        el(
            "footer",
            el("a", "metrics", href="/metrics"),
            " · ",
            el("a", "healthz", href="/healthz"),
            " · ",
            el("a", "readyz", href="/readyz"),
            class_="muted",
        ),
    )
    head = join(
        (
            Markup('<meta charset="utf-8">'),
            Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            Markup(f'<meta http-equiv="refresh" content="{REFRESH_S}">'),
            Markup('<link rel="icon" href="data:,">'),
            el("title", f"{name} status"),
            Markup(f"<style>{CSS}</style>"),
        )
    )
    return f'<!doctype html>\n<html lang="en"><head>{head}</head>{body}</html>\n'
