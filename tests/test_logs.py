"""Structured logs: JSON lines off a terminal, stable event names, secrets never printed."""

from __future__ import annotations

import ast
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import JsonFormatter, TextFormatter, redact, register_secret

BOT = Path(__file__).resolve().parents[1] / "bot"
EVENT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bot.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_a_json_line_has_time_level_logger_event_and_the_extra_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("feed.polled", extra={"feed": "tass", "new": 3})
    line = json.loads(stream.getvalue())
    assert line["event"] == "feed.polled" and line["level"] == "info"
    assert line["logger"] == "bot.test_logs" and (line["feed"], line["new"]) == ("tass", 3)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_registered_secrets_and_webhook_urls_never_reach_a_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    hook = "https://chat.example/hooks/abc123-token"
    register_secret(hook)
    logger.warning(
        "delivery.retry",
        extra={
            "target": hook,
            "error": "POST https://hooks.slack.com/services/T00/B00/XXXXSECRET failed",
            "db": "postgresql://bot:pa55word@db:5432/bot",
            "feed_url": "https://private.example/rss?token=s3cr3t&lang=en",
            "discord": "https://discord.com/api/webhooks/1234/SECRETPART",
        },
    )
    text = stream.getvalue()
    for secret in ("abc123-token", "XXXXSECRET", "pa55word", "s3cr3t", "SECRETPART"):
        assert secret not in text
    line = json.loads(text)  # still valid JSON
    assert line["feed_url"] == "https://private.example/rss?token=***&lang=en"
    assert line["db"] == "postgresql://***@db:5432/bot"


def test_text_lines_are_redacted_too() -> None:
    record = logging.LogRecord("bot", logging.ERROR, "", 0, "delivery.dead", (), None)
    record.url = "https://acme.webhook.office.com/webhookb2/abc/IncomingWebhook/def"
    assert "abc" not in TextFormatter().format(record).split("office.com/")[1]


def test_article_urls_are_left_alone() -> None:
    url = "https://www.bbc.com/news/articles/c0000000?at_medium=RSS&id=4"
    assert redact(url) == url


def _events() -> Iterator[tuple[str, int, str]]:
    for path in sorted(BOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOG_METHODS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "log"
                and node.args
            ):
                first = node.args[0]
                name = first.value if isinstance(first, ast.Constant) else ast.dump(first)
                yield path.relative_to(BOT.parent).as_posix(), node.lineno, str(name)


def test_every_log_event_is_a_stable_dotted_name() -> None:
    events = list(_events())
    assert len(events) > 10
    bad = [f"{path}:{line}: {name}" for path, line, name in events if not EVENT.fullmatch(name)]
    assert bad == []  # a literal `area.what_happened`, never a formatted message
