"""Per-target order and rate limits hold across claims and across replicas sharing a store.

Each alert here is written after the one before has had its first attempt (the way alerts
really arrive), and two replicas each have their own `Store` and `Deliverer` on one database.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.models import Article, Match
from bot.net import Http, NetSettings
from bot.notify import (
    Deliverer,
    DiscordTarget,
    Pace,
    RetryPolicy,
    Target,
    WebhookTarget,
    discord_pace,
)
from bot.replay import AlertReceiver, ReceivedRequest
from bot.store import NewAlert, Store, new_id
from bot.summarize import build_payload
from tests.helpers import write_rules
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, wait_until

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    async with Http(NetSettings(allow=("127.0.0.1",), total_timeout=5.0)) as h:
        yield h


@pytest.fixture
def other_store(db_url: str, store: Store) -> Iterator[Store]:
    """A second replica's own connection to the same database."""
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


def queue(
    store: Store, rule: str, clock: Clock, *, target: str = "hook", severity: str = "info"
) -> None:
    """One alert of `rule` for `target`, written now."""
    url = f"https://news.example/{new_id()}"
    now = clock()
    article = Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title=f"{rule} article",
        text="Witkoff flew to Moscow. Talks followed.",
        published=now,
        fetched_at=now,
        content_hash=new_id(),
    )
    match = Match(
        rule_id=rule,
        title=f"{rule} title",
        evidence=("Witkoff flew to Moscow.",),
        severity=severity,
    )

    def build(m: Match) -> NewAlert:
        alert_id = new_id()
        return NewAlert(
            m, alert_id, (target,), build_payload(m, article, alert_id=alert_id, created_at=now)
        )

    store.store_article(
        article,
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[match],
        build=build,
        now=now,
    )


def replica(store: Store, targets: dict[str, Target], clock: Clock, owner: str) -> Deliverer:
    return Deliverer(store, targets, owner=owner, now=clock, policy=RetryPolicy(jitter=0.0))


def rule_of(request: ReceivedRequest) -> str:
    """The rule of the alert a request carried: a generic webhook names it, a Discord embed's
    title is the alert's ("<mark> <rule> title")."""
    body = request.json or {}
    if "rule" in body:
        return str(body["rule"])
    return str(body["embeds"][0]["title"]).removesuffix(" title").split()[-1]


def rules_received(receiver: AlertReceiver) -> list[str]:
    return [rule_of(r) for r in receiver.received]


def rules_delivered(receiver: AlertReceiver) -> list[str]:
    return [rule_of(r) for r in receiver.delivered]


async def test_an_alert_written_after_a_429_waits_for_retry_after_and_arrives_second(
    store: Store, other_store: Store, receiver: AlertReceiver, http: Http
) -> None:
    clock = Clock()
    targets: dict[str, Target] = {"hook": WebhookTarget("hook", receiver.url, http)}
    one, two = replica(store, targets, clock, "one"), replica(other_store, targets, clock, "two")
    queue(store, "a", clock)
    receiver.respond_with((429, {"Retry-After": "60"}))
    assert (await one.deliver_due()).retried == 1

    clock.t += timedelta(seconds=1)
    queue(store, "b", clock)
    await two.deliver_due()
    await one.deliver_due()
    assert rules_received(receiver) == ["a"]  # b is not posted while a waits

    clock.t += timedelta(seconds=60)
    assert (await two.deliver_due()).sent == 2
    assert rules_delivered(receiver) == ["a", "b"]


async def test_a_replica_does_not_send_a_later_alert_while_another_is_sending_the_earlier(
    store: Store, other_store: Store, receiver: AlertReceiver, http: Http
) -> None:
    clock = Clock()
    targets: dict[str, Target] = {"hook": WebhookTarget("hook", receiver.url, http)}
    one, two = replica(store, targets, clock, "one"), replica(other_store, targets, clock, "two")
    queue(store, "a", clock)
    receiver.hang(1.0)  # a slow chat service: "a" is in flight for a second
    await one.deliver_due(wait=False)
    await receiver_got(receiver, 1)
    receiver.hang(0)

    clock.t += timedelta(seconds=1)
    queue(store, "b", clock)
    assert (await two.deliver_due()).sent == 0
    assert rules_received(receiver) == ["a"]

    for task in one.in_flight():
        await task
    assert (await two.deliver_due()).sent == 1
    assert rules_delivered(receiver) == ["a", "b"]


async def receiver_got(receiver: AlertReceiver, n: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until the receiver has seen `n` requests (answered or not)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while len(receiver.received) < n:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(receiver.received)} of {n} requests after {timeout}s")
        await asyncio.sleep(0.01)


def discord_limit(
    remaining: int, reset_after: float, bucket: str = "b1"
) -> tuple[int, dict[str, str]]:
    """A Discord answer with its documented rate-limit headers."""
    return (
        204,
        {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{T0.timestamp() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        },
    )


async def test_discord_is_paced_by_its_rate_limit_headers_before_it_answers_429(
    store: Store, other_store: Store, receiver: AlertReceiver, http: Http
) -> None:
    clock = Clock()
    targets: dict[str, Target] = {"chat": DiscordTarget("chat", receiver.url, http)}
    one, two = replica(store, targets, clock, "one"), replica(other_store, targets, clock, "two")
    for rule in ("a", "b", "c"):
        queue(store, rule, clock, target="chat")
    receiver.respond_with(discord_limit(1, 2.5), discord_limit(0, 2.0))

    assert (await one.deliver_due()).sent == 2
    await two.deliver_due()
    assert len(receiver.received) == 2  # the bucket is empty until its reset

    clock.t += timedelta(seconds=2.1)
    assert (await two.deliver_due()).sent == 1
    assert rules_delivered(receiver) == ["a", "b", "c"]
    assert all(r.status != 429 for r in receiver.received)


async def test_discord_targets_sharing_a_rate_limit_bucket_wait_together(
    store: Store, receiver: AlertReceiver, http: Http
) -> None:
    clock = Clock()
    targets: dict[str, Target] = {
        name: DiscordTarget(name, receiver.url, http) for name in ("news", "digest")
    }
    one = replica(store, targets, clock, "one")
    queue(store, "a", clock, target="digest")
    receiver.respond_with(discord_limit(3, 2.0))
    await one.deliver_due()  # digest's answers name bucket b1
    queue(store, "b", clock, target="news")
    receiver.respond_with(discord_limit(0, 2.0))
    await one.deliver_due()  # news's answer empties b1

    queue(store, "c", clock, target="digest")
    assert (await one.deliver_due()).sent == 0
    clock.t += timedelta(seconds=2.1)
    assert (await one.deliver_due()).sent == 1
    assert rules_delivered(receiver) == ["a", "b", "c"]


def test_bot_run_keeps_a_target_in_order_when_an_alert_arrives_during_a_retry_after(
    tmp_path: Path,
) -> None:
    loop = BackgroundLoop()
    receiver = AlertReceiver()
    loop.run(receiver.start())
    db = tmp_path / "bot.db"
    store = Store.open(f"sqlite:///{db}")
    proc = None
    try:
        rules = write_rules(tmp_path / "rules", [], webhook_url=receiver.url)
        env = {
            **os.environ,
            "BOT_DB_URL": f"sqlite:///{db}",
            "BOT_RULES_DIR": str(rules),
            "BOT_NET_ALLOW": "127.0.0.1",
            "BOT_HTTP_PORT": "0",
            "BOT_DELIVERY_INTERVAL": "1s",
            "BOT_WORKERS": "1",
        }
        wall = WallClock()
        queue(store, "a", wall)
        receiver.respond_with((429, {"Retry-After": "2"}))
        proc = subprocess.Popen(
            bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_until(lambda: len(receiver.received) >= 1, 60, "the first attempt of a")
        queue(store, "b", wall)  # written while a waits for its retry
        wait_until(lambda: len(receiver.delivered) >= 2, 60, "both alerts delivered")
        assert rules_delivered(receiver) == ["a", "b"]
        assert rules_received(receiver) == ["a", "a", "b"]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
            assert proc.returncode == 0, stderr[-2000:]
        store.close()
        loop.run(receiver.stop())
        loop.close()


class WallClock(Clock):
    """The real time: for alerts a running `bot run` is to deliver."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


def test_on_postgresql_a_claim_skips_a_target_whose_deliveries_another_replica_is_claiming(
    pg_url: str,
) -> None:
    one, two = Store.open(pg_url), Store.open(pg_url)
    try:
        clock = Clock()
        for rule in ("a", "b"):
            queue(one, rule, clock)
        one.hold_target("hook", T0 - timedelta(minutes=1))  # the target has its gate row
        first = min(row.id for row in one.list_outbox())
        lease = timedelta(minutes=2)
        # Replica one, halfway through its claim: the target's gate row is locked and its
        # first delivery leased, nothing committed yet.
        with one.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT target FROM outbox_gates WHERE target = 'hook' FOR UPDATE"))
            conn.execute(
                text("UPDATE outbox SET lease_owner = 'one', lease_until = :until WHERE id = :id"),
                {"until": (T0 + lease).replace(tzinfo=None), "id": first},
            )
            assert two.claim_due(T0, "two", lease) == []  # not "b" ahead of "a"
        assert two.claim_due(T0, "two", lease) == []  # "a" is in flight: "b" waits
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize(
    ("headers", "pace"),
    [
        ({"x-ratelimit-remaining": "3", "x-ratelimit-bucket": "b1"}, Pace(0.0, "b1")),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "1.25"}, Pace(1.25)),
        (  # no Reset-After: until the epoch time in Reset
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": f"{T0.timestamp() + 4:.3f}"},
            Pace(4.0),
        ),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "soon"}, Pace(1.0)),
        ({"x-ratelimit-remaining": "nan"}, None),
        ({}, None),
    ],
)
def test_discord_pace_is_read_from_its_documented_rate_limit_headers(
    headers: dict[str, str], pace: Pace | None
) -> None:
    assert discord_pace(headers, T0) == pace


async def test_a_critical_alert_written_in_quiet_hours_passes_an_info_alert_held_for_morning(
    store: Store, receiver: AlertReceiver, http: Http
) -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    from bot.notify import TargetPolicy

    night = datetime(2025, 11, 26, 23, 30, tzinfo=ZoneInfo("Europe/Kyiv")).astimezone(UTC)
    clock = Clock()
    clock.t = night
    quiet = TargetPolicy(quiet=(time(22), time(7), "critical"), tz=ZoneInfo("Europe/Kyiv"))
    d = Deliverer(
        store,
        {"hook": WebhookTarget("hook", receiver.url, http)},
        owner="one",
        now=clock,
        policies={"hook": quiet},
    )
    queue(store, "calm", clock)
    assert (await d.deliver_due()).held == 1  # held by the target's quiet hours, not failed

    clock.t += timedelta(minutes=10)
    queue(store, "urgent", clock, severity="critical")
    assert (await d.deliver_due()).sent == 1
    assert rules_delivered(receiver) == ["urgent"]
