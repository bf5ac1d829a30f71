"""Delivery: webhook payloads and headers, retries, dead letters and order, on a real receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Article, Match
from bot.net import Http, NetSettings
from bot.notify import ConsoleTarget, Deliverer, RetryPolicy, WebhookTarget, retry_after_seconds
from bot.replay import AlertReceiver
from bot.store import NewAlert, Store, new_id
from bot.summarize import build_payload

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    async with Http(NetSettings(allow=("127.0.0.1",), total_timeout=3.0)) as h:
        yield h


def queue(store: Store, *rules: str, url: str = "https://news.example/a") -> None:
    article = Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title="Envoy to Moscow",
        text="Witkoff flew to Moscow. Talks followed.",
        published=T0,
        fetched_at=T0,
        content_hash=new_id(),
    )
    found = [
        Match(rule_id=rule, title=f"{rule} title", evidence=("Witkoff flew to Moscow.",))
        for rule in rules
    ]

    def build(match: Match) -> NewAlert:
        alert_id = new_id()
        payload = build_payload(match, article, alert_id=alert_id, created_at=T0)
        return NewAlert(match, alert_id, ("hook",), payload)

    store.store_article(
        article,
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=found,
        build=build,
        now=T0,
    )


def deliverer(store: Store, target: WebhookTarget, clock: Clock) -> Deliverer:
    return Deliverer(
        store, {"hook": target}, owner="test", now=clock, policy=RetryPolicy(jitter=0.0)
    )


async def test_the_receiver_gets_the_documented_json_and_a_verifiable_signature(
    store: Store, receiver: AlertReceiver, http: Http
) -> None:
    queue(store, "envoy-visit")
    clock = Clock()
    target = WebhookTarget("hook", receiver.url, http, secret=SECRET)
    report = await deliverer(store, target, clock).deliver_due()
    assert report.sent == 1
    [req] = receiver.delivered
    body = req.json
    assert body is not None
    assert body["rule"] == "envoy-visit"
    assert body["evidence"] == ["Witkoff flew to Moscow."]
    assert body["article"]["url"] == "https://news.example/a"
    assert set(body) >= {"id", "title", "severity", "summary", "values", "sources", "created_at"}
    # Standard Webhooks, computed here independently of the bot's own signing code.
    msg_id, ts = req.headers["webhook-id"], req.headers["webhook-timestamp"]
    key = base64.b64decode(SECRET.split("_", 1)[1])
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + req.body, hashlib.sha256).digest()
    ).decode()
    assert req.headers["webhook-signature"] == f"v1,{expected}"
    assert int(ts) == int(T0.timestamp())
    assert store.list_outbox(state="sent")[0].delivery_id == msg_id


async def test_a_5xx_is_retried_later_with_the_same_webhook_id(
    store: Store, receiver: AlertReceiver, http: Http
) -> None:
    queue(store, "r1")
    clock = Clock()
    d = deliverer(store, WebhookTarget("hook", receiver.url, http), clock)
    receiver.respond_with(503)
    assert (await d.deliver_due()).retried == 1
    assert (await d.deliver_due()).sent == 0  # not due yet: backoff, not hammering
    clock.t += timedelta(seconds=11)
    assert (await d.deliver_due()).sent == 1
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_retry_after_is_honoured(store: Store, receiver: AlertReceiver, http: Http) -> None:
    queue(store, "r1")
    clock = Clock()
    d = deliverer(store, WebhookTarget("hook", receiver.url, http), clock)
    receiver.respond_with((429, {"Retry-After": "120"}))
    await d.deliver_due()
    clock.t += timedelta(seconds=119)
    assert (await d.deliver_due()).sent == 0
    clock.t += timedelta(seconds=2)
    assert (await d.deliver_due()).sent == 1


@pytest.mark.parametrize("status", [400, 404, 301])
async def test_a_4xx_or_redirect_is_dead_lettered_after_one_try(
    store: Store, receiver: AlertReceiver, http: Http, status: int
) -> None:
    queue(store, "r1")
    clock = Clock()
    d = deliverer(store, WebhookTarget("hook", receiver.url, http), clock)
    receiver.respond_with((status, {"Location": "http://127.0.0.1:1/elsewhere"}))
    assert (await d.deliver_due()).dead == 1
    clock.t += timedelta(days=1)
    await d.deliver_due()
    assert len(receiver.received) == 1
    [dead] = store.list_outbox(state="dead")
    assert f"HTTP {status}" in (dead.last_error or "")


async def test_a_failure_holds_back_later_alerts_of_the_same_target_to_keep_order(
    store: Store, receiver: AlertReceiver, http: Http
) -> None:
    queue(store, "first", "second", "third")
    clock = Clock()
    d = deliverer(store, WebhookTarget("hook", receiver.url, http), clock)
    receiver.respond_with(500)
    await d.deliver_due()
    clock.t += timedelta(minutes=5)
    await d.deliver_due()
    assert [r.json["rule"] for r in receiver.delivered if r.json] == ["first", "second", "third"]


async def test_an_unreachable_target_is_retried_until_the_horizon_then_dead(
    store: Store, http: Http
) -> None:
    queue(store, "r1")
    clock = Clock()
    d = Deliverer(
        store,
        {"hook": WebhookTarget("hook", "http://127.0.0.1:9/", http)},
        owner="t",
        now=clock,
        policy=RetryPolicy(jitter=0.0, horizon=timedelta(hours=1)),
    )
    assert (await d.deliver_due()).retried == 1
    clock.t += timedelta(hours=2)
    assert (await d.deliver_due()).dead == 1


async def test_an_alert_for_a_target_no_longer_configured_is_kept(store: Store) -> None:
    queue(store, "r1")
    clock = Clock()
    d = Deliverer(store, {}, owner="t", now=clock)
    await d.deliver_due()
    [row] = store.list_outbox()
    assert row.state == "pending" and "not configured" in (row.last_error or "")


async def test_the_console_target_prints_title_evidence_and_link(store: Store) -> None:
    queue(store, "envoy-visit")
    out = io.StringIO()
    report = await Deliverer(
        store, {"hook": ConsoleTarget("hook", out)}, owner="t", now=Clock()
    ).deliver_due()
    assert report.sent == 1
    text = out.getvalue()
    assert "envoy-visit title" in text and "Witkoff flew to Moscow." in text
    assert "https://news.example/a" in text


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7", T0) == 7.0
    assert retry_after_seconds("Wed, 26 Nov 2025 12:00:30 GMT", T0) == 30.0
    assert retry_after_seconds("soon", T0) is None


def test_the_payload_is_plain_json() -> None:
    match = Match(rule_id="r", title="t", evidence=("e",), values={"to": "2026-06"})
    article = Article(
        url="u",
        canonical_url="u",
        feed="f",
        title="T",
        text="Lead. More.",
        published=None,
        fetched_at=T0,
        content_hash="h",
    )
    payload = build_payload(match, article, alert_id="a", created_at=T0)
    assert json.loads(json.dumps(payload)) == payload
    assert payload["values"] == {"to": "2026-06"} and payload["article"]["published"] is None


async def test_a_404_is_dead_lettered_and_bot_alerts_shows_it_with_the_answer(
    tmp_path: Path, receiver: AlertReceiver, http: Http
) -> None:
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = Store.open(db_url)
    try:
        queue(store, "envoy-visit")
        receiver.respond_with(404)
        d = Deliverer(
            store, {"hook": WebhookTarget("hook", receiver.url, http)}, owner="t", now=Clock()
        )
        assert (await d.deliver_due()).dead == 1
        [dead] = store.list_outbox(state="dead")
    finally:
        store.close()
    env = {**os.environ, "BOT_DB_URL": db_url, "COLUMNS": "250"}
    shown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "alerts", "--state", "failed"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert dead.delivery_id in shown.stdout and "HTTP 404" in shown.stdout
    retried = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "alerts", "retry", dead.delivery_id],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert retried.returncode == 0 and "queued" in retried.stdout
    again = Store.open(db_url)
    try:
        assert [r.state for r in again.list_outbox()] == ["pending"]
    finally:
        again.close()
