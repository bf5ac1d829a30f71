"""The `changed` trigger: reports weighed in publication order, and a first value read as set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import inspect, text

from bot.models import Article, Match, Trigger, TriggerState
from bot.replay import (
    AlertReceiver,
    CorpusArticle,
    ReceivedRequest,
    ReplayClock,
    ReplayServer,
)
from bot.rules import decide
from bot.store import NewAlert, Store, migrate, new_id
from tests.helpers import write_rules
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, query, wait_until

T0 = datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
TITLE = "Peace deal deadline: {from} → {to}"


def deadline(value: str, previous: str | None = None, template: str = TITLE) -> Match:
    return Match(
        rule_id="deadline",
        title="",
        evidence=("A sentence about the deadline.",),
        values={"deadline": value},
        template=template,
        trigger=Trigger(kind="changed", value="deadline"),
        previous=previous,
    )


# --- a first value ---------------------------------------------------------------------------


def test_a_first_value_reads_as_set_and_its_from_is_null() -> None:
    alert = decide(deadline("2026-06"), None, T0, T0).alert
    assert alert is not None
    assert alert.title == "Peace deal deadline set: 2026-06"
    assert (alert.values["from"], alert.values["to"]) == (None, "2026-06")


def test_a_first_value_of_none_reads_as_dropped_not_as_none_to_none() -> None:
    alert = decide(deadline("none"), None, T0, T0).alert
    assert alert is not None
    assert alert.title == "Peace deal deadline dropped"
    assert (alert.values["from"], alert.values["to"]) == (None, "none")


def test_a_first_value_with_the_earlier_one_the_article_reports_reads_as_a_change() -> None:
    alert = decide(deadline("none", previous="2025-11-27"), None, T0, T0).alert
    assert alert is not None and alert.title == "Peace deal deadline: 2025-11-27 → none"


@pytest.mark.parametrize(
    ("template", "title"),
    [
        ("{from} -> {to}", "Set: 2026-06"),
        ("Deadline: from {from} to {to} (wire)", "Deadline set: 2026-06 (wire)"),
        ("Deadline ({from} → {to})", "Deadline (set: 2026-06)"),
        ("Deadline {to}, was {from}", "Deadline 2026-06, was not set"),
        ("{{from}} Deadline {to}", "{from} Deadline 2026-06"),
    ],
)
def test_any_changed_title_reads_a_first_value_without_none(template: str, title: str) -> None:
    alert = decide(deadline("2026-06", template=template), None, T0, T0).alert
    assert alert is not None and alert.title == title


# --- publication order -----------------------------------------------------------------------


def test_an_older_report_heard_later_never_replaces_the_newer_value() -> None:
    newer = decide(deadline("2026-06"), None, T0, T0)
    older = decide(
        deadline("none"), newer.state, T0 + timedelta(minutes=5), T0 - timedelta(days=80)
    )
    assert older.alert is None and older.reason == "older"
    assert (older.state.value, older.state.value_at) == ("2026-06", T0)


def test_a_later_report_is_compared_with_the_newest_value_not_with_older_history() -> None:
    state = decide(deadline("2026-06"), None, T0, T0).state
    state = decide(deadline("2025-11-27"), state, T0, T0 - timedelta(days=88)).state
    moved = decide(deadline("2026-07"), state, T0 + timedelta(days=1), T0 + timedelta(days=1))
    assert moved.alert is not None
    assert moved.alert.title == "Peace deal deadline: 2026-06 → 2026-07"


def test_a_repeat_of_the_value_moves_its_time_so_reports_older_than_the_repeat_are_history() -> (
    None
):
    state = decide(deadline("2026-06"), None, T0, T0).state
    repeat = decide(deadline("2026-06"), state, T0 + timedelta(days=2), T0 + timedelta(days=2))
    assert repeat.alert is None and repeat.state.value_at == T0 + timedelta(days=2)
    between = decide(deadline("none"), repeat.state, T0 + timedelta(days=2), T0 + timedelta(days=1))
    assert between.alert is None and between.reason == "older"


def test_a_report_dated_in_the_future_counts_as_published_now() -> None:
    misdated = decide(deadline("2026-06"), None, T0, T0 + timedelta(days=365))
    assert misdated.state.value_at == T0
    later = decide(
        deadline("none"), misdated.state, T0 + timedelta(hours=1), T0 + timedelta(hours=1)
    )
    assert later.alert is not None and later.alert.values["from"] == "2026-06"


def test_a_report_of_unknown_time_is_compared_but_leaves_the_time_of_the_value() -> None:
    state = decide(deadline("2026-06"), None, T0, T0).state
    undated = decide(deadline("2026-07"), state, T0 + timedelta(days=1), None)
    assert undated.alert is not None and undated.alert.values["from"] == "2026-06"
    assert (undated.state.value, undated.state.value_at) == ("2026-07", T0)
    older = decide(deadline("none"), undated.state, T0 + timedelta(days=1), T0 - timedelta(days=1))
    assert older.alert is None and older.reason == "older"


def test_a_state_stored_before_report_times_were_kept_compares_any_report() -> None:
    legacy = TriggerState(value="2026-06", last_seen=T0)
    moved = decide(deadline("none"), legacy, T0, T0 - timedelta(days=80))
    assert moved.alert is not None and moved.alert.values["from"] == "2026-06"


# --- in the store ----------------------------------------------------------------------------


def article(url: str, published: datetime) -> Article:
    return Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title="Deadline",
        text=f"Body of {url}.",
        published=published,
        fetched_at=T0 + timedelta(days=30),
        content_hash=f"h-{url}",
    )


def build(match: Match) -> NewAlert:
    return NewAlert(match=match, alert_id=new_id(), targets=("chat",), payload={})


def test_an_article_published_earlier_but_stored_later_keeps_the_newer_value(db_url: str) -> None:
    now = T0 + timedelta(days=30)
    first = Store.open(db_url)
    newer = first.store_article(
        article("https://a.example/june", T0),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[deadline("2026-06")],
        decide=decide,
        build=build,
        now=now,
    )
    first.close()
    assert newer is not None and [a.match.title for a in newer.alerts] == [
        "Peace deal deadline set: 2026-06"
    ]
    again = Store.open(db_url)  # a restart: the value's time comes from the database
    try:
        older = again.store_article(
            article("https://b.example/dropped", T0 - timedelta(days=80)),
            feed_id=None,
            baseline=False,
            duplicate_of=None,
            matches=[deadline("none")],
            decide=decide,
            build=build,
            now=now + timedelta(minutes=1),
        )
        assert older is not None and older.alerts == [] and older.held == [("deadline", "older")]
        [state] = again.trigger_states("deadline")
        assert (state["value"], state["value_at"]) == ("2026-06", T0)
        assert again.count("matches") == 1
    finally:
        again.close()


def test_a_database_from_before_report_times_gains_the_column(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE trigger_state DROP COLUMN value_at"))
        conn.execute(text("DELETE FROM schema_migrations WHERE name = '0004_trigger_value_time'"))
    assert migrate(store.engine) == ["0004_trigger_value_time"]
    with store.engine.connect() as conn:
        assert "value_at" in {c["name"] for c in inspect(conn).get_columns("trigger_state")}


# --- a running bot ---------------------------------------------------------------------------

DEADLINE_RULE = """\
id: deadline
title: "Peace deal deadline: {from} → {to}"
scope: sentence
when:
  any: [deadline]
extract:
  deadline: {date: deadline}
trigger: {kind: changed, value: deadline}
"""


def corpus_article(id_: str, outlet: str, published: datetime, lead: str) -> CorpusArticle:
    body = [
        lead,
        "Negotiators from both sides met for several hours behind closed doors on Tuesday.",
        "Officials declined to comment on the details of the draft document under discussion.",
    ]
    return CorpusArticle(id_, f"Peace talks: {id_}", outlet, published, "\n".join(body))


THURSDAY = corpus_article(
    "thursday",
    "wire",
    datetime(2025, 11, 24, 9, tzinfo=UTC),
    "Trump gave Ukraine a deadline of Thursday to accept the peace plan.",
)
JUNE = corpus_article(
    "june",
    "brief",
    datetime(2026, 2, 20, 10, tzinfo=UTC),
    "The White House has set a June deadline for Russia and Ukraine to agree on a peace deal.",
)
DROPPED = corpus_article(
    "dropped",
    "brief",
    datetime(2026, 3, 10, 10, tzinfo=UTC),
    "Trump said there was no longer a deadline for Kyiv to sign the peace deal.",
)


def stored_events(log: Path) -> list[dict[str, Any]]:
    events = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return [e for e in events if e.get("event") == "article.stored"]


def test_bot_run_with_feeds_released_out_of_order_never_moves_a_value_back(
    tmp_path: Path,
) -> None:
    bg = BackgroundLoop()
    clock = ReplayClock(THURSDAY.published - timedelta(hours=1))
    server = ReplayServer([THURSDAY, JUNE, DROPPED], clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    db = tmp_path / "bot.db"
    rules = write_rules(
        tmp_path / "rules",
        [(o, server.feed_url(o)) for o in server.outlets],
        interval="1s",
        webhook_url=receiver.url,
        rules={"deadline": DEADLINE_RULE},
    )
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_PORT": "0",
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
    }
    log = (tmp_path / "bot.log").open("w")
    proc = subprocess.Popen(
        bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log
    )
    try:
        wait_until(
            lambda: len(query(db, "SELECT 1 FROM feeds WHERE baseline_done")) == 2,
            60,
            "the baseline polls of both (empty) feeds",
        )
        # The wire's feed is down while the brief publishes a newer deadline; the wire's older
        # report arrives only afterwards, as it does when feeds are polled in any order.
        server.fail(server.feed_url("wire"), 503)
        clock.advance_to(JUNE.published)
        [first] = cast(list[ReceivedRequest], bg.run(receiver.wait_for(1, timeout=60)))
        assert first.json["title"] == "Peace deal deadline set: 2026-06"
        assert (first.json["values"]["from"], first.json["values"]["to"]) == (None, "2026-06")

        server.clear_failures()
        wait_until(
            lambda: len(query(db, "SELECT 1 FROM articles")) == 2, 60, "the wire's older report"
        )
        # It was matched, and decided in the transaction that stored it: history, no alert.
        [older] = [e for e in stored_events(tmp_path / "bot.log") if "thursday" in e["url"]]
        assert older["held"] == ["deadline: older"] and older["alerts"] == []
        assert query(db, "SELECT value FROM trigger_state") == [("2026-06",)]
        assert len(query(db, "SELECT 1 FROM outbox")) == 1

        clock.advance_to(DROPPED.published)
        delivered = cast(list[ReceivedRequest], bg.run(receiver.wait_for(2, timeout=60)))
        assert [r.json["title"] for r in delivered] == [
            "Peace deal deadline set: 2026-06",
            "Peace deal deadline: 2026-06 → none",
        ]
        assert query(db, "SELECT value FROM trigger_state") == [("none",)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        bg.run(server.stop())
        bg.run(receiver.stop())
        bg.close()
    assert proc.returncode == 0, (tmp_path / "bot.log").read_text()[-2000:]
    assert len(receiver.delivered) == 2
