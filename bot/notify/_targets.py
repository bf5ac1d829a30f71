"""Where alerts go: the console and generic JSON webhooks signed per Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TextIO

from bot.errors import BotError
from bot.net import BlockedURL, Http

JSON = dict[str, Any]


class DeliveryFailed(BotError):
    """A delivery attempt that did not succeed; `retryable` says whether to try again."""

    def __init__(self, detail: str, *, retryable: bool, retry_after: float | None = None) -> None:
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(detail)


class Target(Protocol):
    """A destination for alerts."""

    name: str

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> None:
        """Deliver once; raise DeliveryFailed when it did not go through."""
        ...


@dataclass
class ConsoleTarget:
    """Prints each alert as a few readable lines."""

    name: str
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> None:
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


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


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
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def send(self, payload: JSON, *, delivery_id: str, now: datetime) -> None:
        body = self.render(payload)
        timestamp = int(now.timestamp())
        headers = {
            **self.headers,
            "content-type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
        }
        if self.secret:
            headers["webhook-signature"] = sign(self.secret, delivery_id, timestamp, body)
        try:
            response = await self.http.post(
                self.url, content=body, headers=headers, timeout=self.timeout
            )
        except BlockedURL as exc:
            raise DeliveryFailed(str(exc), retryable=False) from exc
        except BotError as exc:
            raise DeliveryFailed(f"target {self.name}: {exc}", retryable=True) from exc
        status = response.status
        if 200 <= status < 300:
            return
        detail = f"target {self.name}: HTTP {status}: {response.body[:300]!r}"
        if status in (408, 429) or status >= 500:
            raise DeliveryFailed(
                detail,
                retryable=True,
                retry_after=retry_after_seconds(response.headers.get("retry-after"), now),
            )
        # 3xx is not followed (a webhook that moved must be reconfigured) and other 4xx will
        # not get better by repeating the same request.
        raise DeliveryFailed(detail, retryable=False)
