"""Where alerts go: console, signed JSON webhooks; the HTTP status rules all JSON targets share."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TextIO

from bot.errors import BotError
from bot.logs import json_line
from bot.net import BlockedURL, Http, Response

JSON = dict[str, Any]


class DeliveryFailed(BotError):
    """A delivery attempt that did not succeed; `retryable` says whether to try again, and
    `gone` that the destination itself no longer exists (no later alert can get through)."""

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        self.gone = gone
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Pace:
    """What a service said about its rate limit when it took a message: wait `wait` seconds
    before the next one (0: go on), and its name for a limit targets may share (`bucket`)."""

    wait: float = 0.0
    bucket: str | None = None


class Target(Protocol):
    """A destination for alerts."""

    name: str

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> Pace | None:
        """Deliver once; raise DeliveryFailed when it did not go through. A target whose
        service announces its rate limit says how to pace the next message."""
        ...


_SEVERITY_LEVELS = ("info", "warning", "critical")


@dataclass
class ConsoleTarget:
    """Prints each alert as a few readable lines, or, with `json_lines` (`BOT_LOG_FORMAT=json`),
    as one JSON line shaped like the log lines: event `alert`, level its severity, the whole
    alert under `alert`."""

    name: str
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    json_lines: bool = False

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> None:
        if self.json_lines:
            severity = payload.get("severity")
            line = json_line(
                time=now,
                level=severity if severity in _SEVERITY_LEVELS else "info",
                logger="bot.notify.console",
                event="alert",
                fields={"target": self.name, "delivery_id": delivery_id, "alert": payload},
            )
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        article = payload.get("article", {})
        severity, title, rule = (
            payload.get("severity", "info"),
            payload.get("title"),
            payload.get("rule"),
        )
        source = " ".join(
            str(article.get(k) or "") for k in ("outlet", "published", "url") if article.get(k)
        )
        lines = [
            f"[{severity}] {title}  ({rule})",
            *(f"  > {e}" for e in payload.get("evidence", [])),
            f"  {source}",
        ]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value (Standard Webhooks, v1 = HMAC-SHA256)."""
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.encode("utf-8")
    )
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds, possibly decimal, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def _body_retry_after(body: bytes) -> float | None:
    """`retry_after` from a JSON error body: Discord says it there (in seconds) too."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("retry_after") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def check_response(response: Response, *, name: str, now: datetime) -> None:
    """Return on 2xx; otherwise raise DeliveryFailed saying whether a retry can help."""
    status = response.status
    if 200 <= status < 300:
        return
    detail = f"target {name}: HTTP {status}: {response.body[:300]!r}"
    if status in (408, 429) or status >= 500:
        retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
        if retry_after is None and status == 429:
            retry_after = _body_retry_after(response.body)
        raise DeliveryFailed(detail, retryable=True, retry_after=retry_after)
    if status == 410:
        raise DeliveryFailed(
            f"{detail}: the webhook is gone (deleted, or its channel archived); "
            f"disable target {name} or give it a new URL",
            retryable=False,
            gone=True,
        )
    # 3xx is not followed (a webhook that moved must be reconfigured) and other 4xx will
    # not get better by repeating the same request.
    raise DeliveryFailed(detail, retryable=False)


async def post_json(
    http: Http,
    url: str,
    body: bytes,
    *,
    name: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - it caps this one request, by design
) -> Response:
    """POST a JSON `body` once; the 2xx answer, or DeliveryFailed."""
    sent = {**(headers or {}), "content-type": "application/json"}
    try:
        response = await http.post(url, content=body, headers=sent, timeout=timeout)
    except BlockedURL as exc:
        raise DeliveryFailed(f"target {name}: {exc}", retryable=False) from exc
    except BotError as exc:
        raise DeliveryFailed(f"target {name}: {exc}", retryable=True) from exc
    check_response(response, name=name, now=now)
    return response


def encode_json(data: JSON) -> bytes:
    """The bytes every JSON target sends: compact UTF-8."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class WebhookTarget:
    """POSTs the generic alert JSON with Standard Webhooks headers.

    `webhook-id` is the delivery id, identical on every retry, so receivers can drop repeats.
    """

    name: str
    url: str
    http: Http
    secret: str | None = None
    timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, payload: JSON) -> bytes:
        return encode_json(payload)

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> None:
        body = self.render(payload)
        timestamp = int(now.timestamp())
        headers = {
            **self.headers,
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
        }
        if self.secret:
            headers["webhook-signature"] = sign(self.secret, delivery_id, timestamp, body)
        await post_json(
            self.http,
            self.url,
            body,
            name=self.name,
            now=now,
            headers=headers,
            timeout=self.timeout,
        )
