"""Chat targets: the generic alert rendered as Slack Block Kit, a Discord embed, a Teams card.

Each target turns the generic payload (see `bot.summarize.build_payload`) into its service's
documented JSON, within that service's documented limits: text is cut on a word boundary with
"…" and never makes a delivery fail. Text from articles passes through `bot.notify._neutralize`
first; the only links in a message are the ones built here from `safe_url` addresses.
"""

from __future__ import annotations

import asyncio
import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from bot import DISTRIBUTION
from bot.net import Http, Response
from bot.notify._neutralize import (
    ELLIPSIS,
    discord_text,
    markdown_text,
    one_line,
    safe_url,
    slack_text,
    teams_text,
    text_length,
    truncate,
)
from bot.notify._targets import JSON, DeliveryFailed, Pace, encode_json, post_json

__all__ = [
    "AlertView",
    "AppriseTarget",
    "DiscordTarget",
    "SlackTarget",
    "TeamsTarget",
    "load_apprise",
]

MAX_SOURCES = 10  # other sources listed in one message
MAX_TEXT = 8000  # no message shows more of one text; longer input is cut before any work
MAX_LINKED_URL = 500  # longer source URLs are not linked: they would crowd out the text
_MARK = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


# --- the alert as every chat message reads it --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    outlet: str
    title: str
    url: str | None

    @property
    def label(self) -> str:
        label = ": ".join(part for part in (self.outlet, self.title) if part)
        return label or self.url or "source"


@dataclass(frozen=True, slots=True)
class AlertView:
    """The parts of a generic payload a chat message shows, as raw single-line text.

    Built defensively: a payload written by an older version, or with a field missing, still
    renders.
    """

    title: str
    severity: str
    rule: str
    evidence: tuple[str, ...]
    context: str  # summary or lead, when it says more than the evidence
    url: str | None
    article_title: str
    outlet: str
    published: datetime | None
    created: datetime | None
    others: tuple[Source, ...]

    @property
    def mark(self) -> str:
        return _MARK.get(self.severity, "⚪")

    @classmethod
    def of(cls, payload: JSON) -> AlertView:
        article = payload.get("article")
        article = article if isinstance(article, dict) else {}
        evidence = tuple(e for e in (_line(x) for x in _list(payload.get("evidence"))) if e)
        context = ""
        # An LLM summary says it all; otherwise the central sentences chosen beside the
        # evidence (the extractive summary starts with the evidence: not shown twice).
        llm = _line(payload.get("summary")) if payload.get("summary_source") == "llm" else ""
        chosen = " ".join(_line(x) for x in _list(payload.get("context")))
        for candidate in (llm, _line(chosen), _line(article.get("lead"))):
            if candidate and candidate not in evidence:
                context = candidate
                break
        url = safe_url(article.get("url"))
        others: list[Source] = []
        seen = {url}
        for item in _list(payload.get("sources")):
            if not isinstance(item, dict):
                continue
            source_url = safe_url(item.get("url"))
            if source_url in seen and source_url is not None:
                continue
            seen.add(source_url)
            if source_url is not None and len(source_url) > MAX_LINKED_URL:
                source_url = None
            source = Source(_line(item.get("outlet")), _line(item.get("title")), source_url)
            if source.outlet or source.title or source.url:
                others.append(source)
        return cls(
            title=_line(payload.get("title")) or _line(article.get("title")) or "Alert",
            severity=_line(payload.get("severity")) or "info",
            rule=_line(payload.get("rule")),
            evidence=evidence,
            context=context,
            url=url,
            article_title=_line(article.get("title")),
            outlet=_line(article.get("outlet")) or _line(article.get("site_name")),
            published=_time(article.get("published")),
            created=_time(payload.get("created_at")),
            others=tuple(others[:MAX_SOURCES]),
        )


def _line(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return one_line(str(value)[:MAX_TEXT])


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def share(lengths: Sequence[int], budget: int) -> list[int]:
    """Split `budget` over items of these lengths: short items get all they need, long ones
    split the rest evenly."""
    out = [0] * len(lengths)
    left = max(0, budget)
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for k, i in enumerate(order):
        out[i] = min(lengths[i], left // (len(lengths) - k))
        left -= out[i]
    return out


def fit_lines(
    items: Sequence[tuple[str, str] | tuple[str, str, str]],
    limit: int,
    escape: Callable[[str], str],
    *,
    sep: str = "\n",
) -> str:
    """Lines of `prefix + escape(text) + suffix` joined by `sep`, the whole at most `limit` long.

    Prefixes and suffixes (markup the bot adds, such as a link's URL) are kept whole; the texts
    share the rest of the room, short ones whole and long ones cut. An item left too little room
    to say anything is dropped rather than shown as a lone "…".
    """
    parts = [(item[0], item[1], item[2] if len(item) == 3 else "") for item in items if item[1]]
    if not parts:
        return ""
    fixed = sum(text_length(p) + text_length(x) for p, _, x in parts)
    fixed += text_length(sep) * (len(parts) - 1)
    wanted = [text_length(escape(text)) for _, text, _ in parts]
    lines = []
    for (prefix, text, suffix), budget in zip(parts, share(wanted, limit - fixed), strict=True):
        cut = truncate(text, budget, escape)
        if cut and cut != ELLIPSIS:
            lines.append(prefix + cut + suffix)
    return sep.join(lines)


# --- the HTTP side every chat webhook shares ---------------------------------------------------


@dataclass
class _ChatWebhook(ABC):
    name: str
    url: str
    http: Http
    timeout: float = 10.0

    @abstractmethod
    def render(self, payload: JSON) -> JSON:
        """The service's JSON for one alert."""

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> Pace | None:
        body = encode_json(self.render(payload))
        response = await post_json(
            self.http, self.url, body, name=self.name, now=now, timeout=self.timeout
        )
        return self.pace(response, now)

    def pace(self, response: Response, now: datetime) -> Pace | None:
        """How to pace the next message, from the service's answer; None: it says nothing."""
        return None


# --- Slack -----------------------------------------------------------------------------------


def _slack_url(url: str) -> str:
    # Inside <url|text> Slack reads entities; `|` and `>` are already percent-encoded.
    return url.replace("&", "&amp;")


@dataclass
class SlackTarget(_ChatWebhook):
    """A Slack incoming webhook: Block Kit header, evidence, context, sources; `text` fallback.

    Limits kept (Block Kit reference): header text 150, section text 3,000, at most 50 blocks
    and 10 context elements; the `text` fallback (notifications) at most 3,000. `unfurl_*` are
    off, so no URL quoted in article text brings in a preview. `username` and `icon_url` are
    honoured only by legacy webhooks; app webhooks post as the app.
    """

    username: str | None = None
    icon_url: str | None = None

    HEADER: ClassVar[int] = 150
    SECTION: ClassVar[int] = 3000
    TEXT: ClassVar[int] = 3000
    BLOCKS: ClassVar[int] = 50

    def render(self, payload: JSON) -> JSON:
        a = AlertView.of(payload)
        blocks: list[JSON] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate(f"{a.mark} {a.title}", self.HEADER, slack_text),
                },
            }
        ]
        body = fit_lines(
            [*(("> ", e) for e in a.evidence), ("\n" if a.evidence else "", a.context)],
            self.SECTION,
            slack_text,
        )
        if body:
            blocks.append(_slack_section(body))
        if a.url:
            label = a.article_title or a.outlet or a.url
            link = f"*<{_slack_url(a.url)}|{truncate(label, 300, slack_text)}>*"
            blocks.append(_slack_section(link))
        facts = [f"*{truncate(a.outlet, 200, slack_text)}*" if a.outlet else ""]
        if a.published is not None:
            stamp = int(a.published.timestamp())
            fallback = _utc(a.published)
            facts.append(f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>")
        facts.append(truncate(f"{a.severity} · rule {a.rule}", 300, slack_text))
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": " · ".join(f for f in facts if f)}],
            }
        )
        if a.others:
            heading = "*Other sources*\n"
            sources = fit_lines(
                [
                    (f"• <{_slack_url(o.url)}|", o.label, ">") if o.url else ("• ", o.label)
                    for o in a.others
                ],
                self.SECTION - len(heading),
                slack_text,
            )
            blocks.append(_slack_section(heading + sources))
        message: JSON = {
            "text": truncate(
                f"{a.mark} {a.title}" + (f" ({a.outlet})" if a.outlet else ""),
                self.TEXT,
                slack_text,
            ),
            "blocks": blocks[: self.BLOCKS],
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if self.username:
            message["username"] = self.username
        if self.icon_url:
            message["icon_url"] = self.icon_url
        return message


def _slack_section(text: str) -> JSON:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# --- Discord ---------------------------------------------------------------------------------


def discord_pace(headers: Mapping[str, str], now: datetime) -> Pace | None:
    """Pacing from Discord's rate-limit headers on any answer: with `X-RateLimit-Remaining: 0`
    the next message waits `X-RateLimit-Reset-After` seconds (or until the epoch time in
    `X-RateLimit-Reset`); `X-RateLimit-Bucket` names the limit, which webhooks may share."""
    bucket = (headers.get("x-ratelimit-bucket") or "").strip()[:200] or None
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None and bucket is None:
        return None
    wait = 0.0
    if remaining is not None and remaining < 1:
        reset_after = _number(headers.get("x-ratelimit-reset-after"))
        reset = _number(headers.get("x-ratelimit-reset"))
        if reset_after is not None:
            wait = reset_after
        elif reset is not None:
            wait = reset - now.timestamp()
        else:
            wait = 1.0  # empty, but not said until when: a second, then ask again
    return Pace(wait=max(0.0, wait), bucket=bucket)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


@dataclass
class DiscordTarget(_ChatWebhook):
    """A Discord webhook: one embed; `allowed_mentions` is always empty, so nothing pings.

    Limits kept (embed limits): title 256, description 4,096, field value 1,024 (names and the
    footer are short), all embed text together 6,000. No `content` is sent; `icon_url` is the
    webhook's avatar.
    """

    username: str | None = None
    icon_url: str | None = None

    TITLE: ClassVar[int] = 256
    DESCRIPTION: ClassVar[int] = 4096
    FIELD_VALUE: ClassVar[int] = 1024
    EMBEDS_TOTAL: ClassVar[int] = 6000
    USERNAME: ClassVar[int] = 80
    COLORS: ClassVar[dict[str, int]] = {"critical": 0xD32F2F, "warning": 0xF57C00, "info": 0x1976D2}

    def pace(self, response: Response, now: datetime) -> Pace | None:
        return discord_pace(response.headers, now)

    def render(self, payload: JSON) -> JSON:
        a = AlertView.of(payload)
        embed: JSON = {
            "title": truncate(f"{a.mark} {a.title}", self.TITLE, discord_text),
            "color": self.COLORS.get(a.severity, 0x757575),
        }
        if a.url:
            embed["url"] = a.url
        fields: list[JSON] = []
        if a.outlet or a.article_title:
            value = truncate(a.outlet, 200, discord_text) if a.outlet else ""
            if a.article_title:
                title = (
                    f"[{truncate(a.article_title, 300, discord_text)}]({a.url})"
                    if a.url and len(a.url) <= MAX_LINKED_URL
                    else truncate(a.article_title, 300, discord_text)
                )
                value = f"**{value}**\n{title}" if value else title
            fields.append({"name": "Source", "value": value, "inline": False})
        if a.published is not None:
            stamp = int(a.published.timestamp())
            fields.append({"name": "Published", "value": f"<t:{stamp}:f>", "inline": True})
        if a.others:
            sources = fit_lines(
                [("- [", o.label, f"]({o.url})") if o.url else ("- ", o.label) for o in a.others],
                self.FIELD_VALUE,
                discord_text,
            )
            fields.append({"name": "Other sources", "value": sources or "—"})
        embed["fields"] = fields
        footer = truncate(f"{a.severity} · rule {a.rule}", 200, discord_text)
        embed["footer"] = {"text": footer}
        if (when := a.published or a.created) is not None:
            embed["timestamp"] = when.astimezone(UTC).isoformat()
        used = text_length(embed["title"]) + text_length(footer)
        used += sum(text_length(f["name"]) + text_length(f["value"]) for f in fields)
        room = min(self.DESCRIPTION, self.EMBEDS_TOTAL - used)
        description = fit_lines(
            [*(("> ", e) for e in a.evidence), ("\n" if a.evidence else "", a.context)],
            room,
            discord_text,
        )
        if description:
            embed["description"] = description
        message: JSON = {"embeds": [embed], "allowed_mentions": {"parse": []}}
        if self.username:
            message["username"] = self.username[: self.USERNAME]
        if self.icon_url:
            message["avatar_url"] = self.icon_url
        return message


# --- Microsoft Teams (Workflows) ------------------------------------------------------------


@dataclass
class TeamsTarget(_ChatWebhook):
    """A Teams Workflows webhook: a message with one Adaptive Card and a link to the article.

    Teams refuses messages over about 28 KB (and in practice somewhat less), so the card is
    kept under MAX_BYTES of JSON, shrinking its texts until it fits. Dates use the card's
    DATE()/TIME() functions, which Teams shows in each reader's time zone.
    """

    MAX_BYTES: ClassVar[int] = 20_000
    TITLE: ClassVar[int] = 300
    EVIDENCE: ClassVar[int] = 4000
    CONTEXT: ClassVar[int] = 2000
    SOURCES: ClassVar[int] = 2000
    VERSION: ClassVar[str] = "1.4"

    def render(self, payload: JSON) -> JSON:
        a = AlertView.of(payload)
        scale = 1.0
        while True:
            message = self._card(a, scale)
            if len(encode_json(message)) <= self.MAX_BYTES or scale < 0.01:
                return message
            scale *= 0.6

    def _card(self, a: AlertView, scale: float) -> JSON:
        def room(n: int) -> int:
            return max(40, int(n * scale))

        color = {"critical": "Attention", "warning": "Warning"}.get(a.severity, "Default")
        body: list[JSON] = [
            _block(
                truncate(f"{a.mark} {a.title}", room(self.TITLE), teams_text),
                size="Large",
                weight="Bolder",
            ),
            _block(
                truncate(f"{a.severity} · rule {a.rule}", 200, teams_text),
                isSubtle=True,
                spacing="None",
                color=color,
            ),
        ]
        evidence = fit_lines([("- ", e) for e in a.evidence], room(self.EVIDENCE), teams_text)
        if evidence:
            body.append(_block(evidence))
        if a.context:
            body.append(_block(truncate(a.context, room(self.CONTEXT), teams_text)))
        facts = []
        if a.outlet:
            facts.append(f"**{truncate(a.outlet, 200, teams_text)}**")
        if a.article_title:
            facts.append(truncate(a.article_title, room(600), teams_text))
        if a.published is not None:
            iso = a.published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            facts.append(f"{{{{DATE({iso}, SHORT)}}}} {{{{TIME({iso})}}}}")
        if facts:
            body.append(_block(" · ".join(facts), isSubtle=True))
        if a.others:
            heading = "**Other sources**\n"
            sources = fit_lines(
                [("- [", o.label, f"]({o.url})") if o.url else ("- ", o.label) for o in a.others],
                room(self.SOURCES) - len(heading),
                teams_text,
            )
            body.append(_block(heading + sources))
        card: JSON = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": self.VERSION,
            "msteams": {"width": "Full"},
            "body": body,
        }
        if a.url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Read article", "url": a.url}]
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }


def _block(text: str, **style: Any) -> JSON:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


# --- Apprise (optional) ----------------------------------------------------------------------


def load_apprise() -> Any:
    """The `apprise` module; ImportError with the install hint when the extra is missing."""
    try:
        return importlib.import_module("apprise")
    except ImportError as exc:
        raise ImportError(
            "apprise targets need the optional Apprise package, which is not installed: "
            f"pip install '{DISTRIBUTION}[apprise]'"
        ) from exc


@dataclass
class AppriseTarget:
    """Any service Apprise knows (its URLs: `tgram://…`, `mailto://…`, `matrix://…`).

    Apprise does its own HTTP, so the bot's SSRF guard and size caps do not apply to it, and
    it reports only success or failure: a failure is retried like a 5xx. With several URLs,
    a retry goes to all of them again; give each service its own target to avoid repeats.
    """

    name: str
    urls: tuple[str, ...]
    BODY: ClassVar[int] = 4000
    TITLE: ClassVar[int] = 250
    _apprise: Any = field(default=None, init=False, repr=False)
    _client: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        module = load_apprise()
        self._apprise = module
        self._client = module.Apprise()
        for i, url in enumerate(self.urls, 1):
            if not self._client.add(url):
                # never echo the URL: it carries the service's token
                raise ValueError(f"apprise URL #{i} of target {self.name} is not recognised")

    def render(self, payload: JSON) -> tuple[str, str]:
        """(title, markdown body)"""
        a = AlertView.of(payload)
        title = truncate(f"{a.mark} {a.title}", self.TITLE, markdown_text)
        footer = []
        if a.outlet:
            footer.append(f"**{truncate(a.outlet, 200, markdown_text)}**")
        if a.published is not None:
            footer.append(_utc(a.published))
        if a.url:
            footer.append(f"[Read article]({a.url})")
        tail = " · ".join(footer)
        sources = [("- ", s.label, f" {s.url}" if s.url else "") for s in a.others]
        if sources:
            sources[0] = ("\n**Other sources**\n- ", *sources[0][1:])
        text = fit_lines(
            [*(("> ", e) for e in a.evidence), ("\n" if a.evidence else "", a.context), *sources],
            self.BODY - text_length(tail) - 2,
            markdown_text,
        )
        return title, f"{text}\n\n{tail}".strip()

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> None:
        title, body = self.render(payload)
        kind = {"critical": "failure", "warning": "warning"}.get(
            _line(payload.get("severity")), "info"
        )
        try:
            ok = await asyncio.to_thread(
                self._client.notify,
                body=body,
                title=title,
                notify_type=kind,
                body_format=self._apprise.NotifyFormat.MARKDOWN,
            )
        except Exception as exc:  # Apprise's plugins raise what they like
            raise DeliveryFailed(
                f"target {self.name}: apprise: {type(exc).__name__}", retryable=True
            ) from exc
        if not ok:
            raise DeliveryFailed(
                f"target {self.name}: apprise could not deliver (see its log)", retryable=True
            )
