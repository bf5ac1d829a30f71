"""Logging set-up: JSON lines off a terminal, readable text on one, secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_secrets: set[str] = set()

# Whatever was registered, these never reach a log line either: a password in a URL
# (postgresql://user:pw@host), chat webhook URLs (the path is the token), token-like query
# parameters.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=://)[^/\s:@\"']+:[^/\s@\"']+@"), "***@"),
    (re.compile(r"(https://hooks\.slack\.com/)[^\s\"'<>]+"), r"\1***"),
    (re.compile(r"(https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/)[^\s\"'<>]+"), r"\1***"),
    (re.compile(r"(https://[\w.-]+\.webhook\.office\.com/)[^\s\"'<>]+"), r"\1***"),
    (
        re.compile(
            r"([?&](?:token|access_token|api_?key|apikey|key|secret|sig|signature|password)=)"
            r"[^&\s\"'<>]+",
            re.IGNORECASE,
        ),
        r"\1***",
    ),
)


def register_secret(value: str | None) -> None:
    """Never print `value` (a webhook URL, a signing secret) in any log line."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    """`text` without any registered secret, URL password, webhook URL token or token-like
    query parameter."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


def json_line(
    *, time: datetime, level: str, logger: str, event: str, fields: Mapping[str, Any]
) -> str:
    """One event as one JSON object (no line break), redacted: the shape of every log line,
    for output that is not a log record (the console target's alerts)."""
    data: dict[str, Any] = {
        "time": time.astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "event": event,
        **fields,
    }
    return redact(json.dumps(data, default=str, ensure_ascii=False))


def wants_json(fmt: str, stream: TextIO) -> bool:
    """Whether lines written to `stream` are JSON under `BOT_LOG_FORMAT=fmt` (`auto`: JSON when
    the stream is not a terminal)."""
    if fmt == "auto":
        isatty = getattr(stream, "isatty", None)
        return not (callable(isatty) and isatty())
    return fmt == "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json_line(
            time=datetime.fromtimestamp(record.created, UTC),
            level=record.levelname.lower(),
            logger=record.name,
            event=record.getMessage(),
            fields=fields,
        )


class TextFormatter(logging.Formatter):
    """`time level event key=value …` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{stamp} {record.levelname:<7} {record.getMessage()} {extras}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class _Replica(logging.Filter):
    """Names the replica on every record, so that logs of several replicas can be told apart."""

    def __init__(self, replica: str) -> None:
        super().__init__()
        self.replica = replica

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "replica"):
            record.replica = self.replica
        return True


def setup_logging(level: str = "INFO", fmt: str = "auto", *, replica: str | None = None) -> None:
    use_json = wants_json(fmt, sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    if replica:
        handler.addFilter(_Replica(replica))
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "trafilatura",
        "htmldate",
        "courlan",
        "aiohttp.access",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
