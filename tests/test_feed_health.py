"""Feed health: one alert when a feed starts failing, one more when it recovers."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.health import feed_health, feed_health_payload, feed_health_transition

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)


def test_an_outage_alerts_once_when_it_reaches_the_threshold_and_once_when_it_ends() -> None:
    runs = [0, 1, 2, 3, 4, 5, 0, 1, 0]  # consecutive failures after each poll
    seen = [
        feed_health_transition(before, after, threshold=3)
        for before, after in itertools.pairwise(runs)
    ]
    assert seen == [None, None, "failing", None, None, "recovered", None, None]


def test_a_short_run_of_failures_never_alerts() -> None:
    assert feed_health_transition(2, 0, threshold=3) is None
    assert feed_health_transition(0, 2, threshold=3) is None


def test_a_threshold_of_one_alerts_on_the_first_failure() -> None:
    assert feed_health_transition(0, 1, threshold=1) == "failing"
    assert feed_health_transition(1, 0, threshold=1) == "recovered"
    with pytest.raises(ValueError):
        feed_health_transition(0, 1, threshold=0)


def test_health_words() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert feed_health(0, None) == "never polled"
    assert feed_health(0, now) == "ok"
    assert feed_health(1, now, threshold=3) == "erroring"
    assert feed_health(3, now, threshold=3) == "failing"
    assert feed_health(9, now, enabled=False) == "disabled"


def test_the_feed_alert_is_shaped_like_a_rule_alert() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    failing = feed_health_payload(
        alert_id="a1",
        feed="tass",
        url="https://tass.com/rss/v2.xml",
        transition="failing",
        failures=5,
        last_error="HTTP 503",
        now=now,
    )
    assert failing["rule"] == "feed-health" and failing["severity"] == "warning"
    assert failing["title"] == "Feed tass is failing"
    assert "5 polls" in failing["summary"] and failing["evidence"] == ["HTTP 503"]
    assert set(failing) >= {"id", "title", "summary", "values", "evidence", "article", "sources"}
    back = feed_health_payload(
        alert_id="a2",
        feed="tass",
        url="https://tass.com/rss/v2.xml",
        transition="recovered",
        failures=0,
        last_error=None,
        now=now,
    )
    assert back["title"] == "Feed tass recovered" and back["severity"] == "info"


def test_bot_feeds_list_shows_each_configured_feed_with_its_health(tmp_path: Path) -> None:
    from bot.store import Store
    from tests.helpers import write_rules

    rules = write_rules(
        tmp_path / "rules",
        [
            ("wire", "https://wire.example/rss"),
            ("flaky", "https://flaky.example/rss"),
            ("fresh", "https://fresh.example/rss"),
        ],
    )
    db = tmp_path / "bot.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        ids = store.sync_feeds(
            [
                ("wire", "https://wire.example/rss"),
                ("flaky", "https://flaky.example/rss"),
                ("gone", "https://gone.example/rss"),
            ],
            T0,
        )
        store.record_poll(
            ids["wire"],
            owner="r",
            started=T0,
            finished=T0,
            status="parsed",
            http_status=200,
            items_new=0,
            next_poll_at=T0,
        )
        for n in range(6):
            at = T0 + timedelta(minutes=n)
            store.record_poll(
                ids["flaky"],
                owner="r",
                started=at,
                finished=at,
                status="failed",
                http_status=None,
                items_new=0,
                next_poll_at=at,
                error="HTTP 503",
            )
    finally:
        store.close()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "feeds", "list", "--rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env={**os.environ, "BOT_DB_URL": f"sqlite:///{db}", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.count("│") > 3 and line.split("│")[1].strip() not in ("", "feed")
    }
    assert set(rows) == {"wire", "flaky", "fresh", "gone"}
    assert "│ ok " in rows["wire"]
    assert "│ failing " in rows["flaky"] and "HTTP 503" in rows["flaky"] and "│ 6 " in rows["flaky"]
    assert "│ never polled " in rows["fresh"]
    assert "│ not configured " in rows["gone"]
