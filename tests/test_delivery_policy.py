"""Per-target delivery: independence, routing, rate limits, quiet hours, digests, recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ConsoleTargetConfig
from bot.models import Article, Match
from bot.net import Http, NetSettings
from bot.notify import Deliverer, RetryPolicy, TargetPolicy, WebhookTarget, route
from bot.replay import AlertReceiver
from bot.store import NewAlert, Store, new_id
from bot.summarize import build_payload

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    async with Http(NetSettings(allow=("127.0.0.1",), total_timeout=2.0)) as h:
        yield h


def queue(
    store: Store,
    rules: list[str],
    targets: tuple[str, ...],
    *,
    now: datetime = T0,
    severity: str = "info",
    not_before: dict[str, datetime] | None = None,
) -> None:
    url = f"https://news.example/{new_id()}"
    article = Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title="T",
        text="Body.",
        published=now,
        fetched_at=now,
        content_hash=new_id(),
    )
    found = [Match(rule_id=r, title=r, evidence=("e",), severity=severity) for r in rules]

    def build(match: Match) -> NewAlert:
        alert_id = new_id()
        return NewAlert(
            match,
            alert_id,
            targets,
            build_payload(match, article, alert_id=alert_id, created_at=now),
            not_before=not_before or {},
        )

    store.store_article(
        article,
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=found,
        build=build,
        now=now,
    )


def rules_of(receiver: AlertReceiver) -> list[str]:
    return [r.json["rule"] for r in receiver.delivered if r.json]


async def test_a_slow_target_does_not_delay_another(store: Store, http: Http) -> None:
    async with AlertReceiver() as slow, AlertReceiver() as fast:
        slow.hang(1.5)
        clock = Clock()
        d = Deliverer(
            store,
            {
                "slow": WebhookTarget("slow", slow.url, http, timeout=5),
                "fast": WebhookTarget("fast", fast.url, http),
            },
            owner="t",
            now=clock,
        )
        queue(store, ["a"], ("slow", "fast"))
        await d.deliver_due(wait=False)
        await fast.wait_for(1, timeout=1.0)  # well before the slow one answers
        assert len(slow.delivered) == 0
        for task in d.in_flight():
            if task.get_name() == "deliver:fast":
                await task
        queue(store, ["b"], ("slow", "fast"))
        await d.deliver_due(wait=False)  # the slow target is busy: only the fast one is served
        await fast.wait_for(2, timeout=1.0)
        for task in d.in_flight():
            await task
        assert rules_of(fast) == ["a", "b"] and rules_of(slow) == ["a"]


async def test_a_receiver_down_for_ten_minutes_gets_everything_once_in_order(
    store: Store, http: Http
) -> None:
    async with AlertReceiver() as receiver:
        clock = Clock()
        d = Deliverer(
            store,
            {"hook": WebhookTarget("hook", receiver.url, http, timeout=0.5)},
            owner="t",
            now=clock,
            policy=RetryPolicy(jitter=0.0),
        )
        receiver.respond_with(*([500] * 3))
        for i in range(5):
            queue(store, [f"r{i}"], ("hook",))
        await d.deliver_due()
        receiver.hang(1.0)  # then it times out
        for _ in range(20):  # ten minutes of simulated time, a check every 30 s
            clock.t += timedelta(seconds=30)
            await d.deliver_due()
            if clock.t - T0 > timedelta(minutes=5):
                receiver.hang(0)
        receiver.hang(0)
        clock.t += timedelta(hours=1)
        await d.deliver_due()
        assert rules_of(receiver) == ["r0", "r1", "r2", "r3", "r4"]
        ids = [r.headers["webhook-id"] for r in receiver.delivered]
        assert len(ids) == len(set(ids))


def test_routing_by_rule_and_severity() -> None:
    from bot.config import RouteConfig

    cfg = ConsoleTargetConfig(
        name="ops",
        type="console",
        route=RouteConfig(rules=("deadline-change",), min_severity="warning"),
    )
    policies = {"ops": TargetPolicy.of(cfg), "all": TargetPolicy()}
    names = ("ops", "all")
    m = Match(rule_id="deadline-change", title="t", evidence=(), severity="warning")
    assert route(m, names, policies) == ("ops", "all")
    low = Match(rule_id="deadline-change", title="t", evidence=(), severity="info")
    assert route(low, names, policies) == ("all",)
    other = Match(rule_id="envoy-visit", title="t", evidence=(), severity="critical")
    assert route(other, names, policies) == ("all",)
    named = Match(rule_id="envoy-visit", title="t", evidence=(), targets=("ops",))
    assert route(named, names, policies) == ("ops",)  # a rule's own targets win


async def test_a_rate_limit_holds_the_rest_back_without_dropping(store: Store, http: Http) -> None:
    async with AlertReceiver() as receiver:
        clock = Clock()
        policy = TargetPolicy(rate=(2, timedelta(minutes=1)))
        d = Deliverer(
            store,
            {"hook": WebhookTarget("hook", receiver.url, http)},
            owner="t",
            now=clock,
            policies={"hook": policy},
        )
        for i in range(5):
            queue(store, [f"r{i}"], ("hook",))
        report = await d.deliver_due()
        assert (report.sent, report.held) == (2, 3)
        clock.t += timedelta(seconds=30)
        assert (await d.deliver_due()).sent == 0
        clock.t += timedelta(seconds=31)
        await d.deliver_due()
        clock.t += timedelta(seconds=61)
        await d.deliver_due()
        assert rules_of(receiver) == ["r0", "r1", "r2", "r3", "r4"]


async def test_quiet_hours_hold_alerts_until_they_end_but_not_critical_ones(
    store: Store, http: Http
) -> None:
    from zoneinfo import ZoneInfo

    async with AlertReceiver() as receiver:
        night = datetime(2025, 11, 26, 23, 30, tzinfo=ZoneInfo("Europe/Kyiv")).astimezone(UTC)
        clock = Clock(night)
        policy = TargetPolicy(
            quiet=(
                datetime.strptime("22:00", "%H:%M").time(),
                datetime.strptime("07:00", "%H:%M").time(),
                "critical",
            ),
            tz=ZoneInfo("Europe/Kyiv"),
        )
        d = Deliverer(
            store,
            {"hook": WebhookTarget("hook", receiver.url, http)},
            owner="t",
            now=clock,
            policies={"hook": policy},
        )
        queue(store, ["calm"], ("hook",), now=night)
        queue(store, ["urgent"], ("hook",), now=night, severity="critical")
        await d.deliver_due()
        assert rules_of(receiver) == []  # the first in line is held, and order is kept
        morning = datetime(2025, 11, 27, 7, 0, tzinfo=ZoneInfo("Europe/Kyiv")).astimezone(UTC)
        clock.t = morning - timedelta(minutes=1)
        await d.deliver_due()
        assert rules_of(receiver) == []
        clock.t = morning
        await d.deliver_due()
        assert rules_of(receiver) == ["calm", "urgent"]


def test_a_critical_alert_is_exempt_from_quiet_hours() -> None:
    from zoneinfo import ZoneInfo

    policy = TargetPolicy(
        quiet=(
            datetime.strptime("22:00", "%H:%M").time(),
            datetime.strptime("07:00", "%H:%M").time(),
            "critical",
        ),
        tz=ZoneInfo("UTC"),
    )
    night = datetime(2025, 11, 26, 23, 0, tzinfo=UTC)
    assert policy.quiet_until(night, "critical") is None
    assert policy.quiet_until(night, "info") == datetime(2025, 11, 27, 7, 0, tzinfo=UTC)
    assert policy.quiet_until(datetime(2025, 11, 27, 12, 0, tzinfo=UTC), "info") is None


async def test_a_digest_target_gets_one_message_with_the_alerts_since_the_last(
    store: Store, http: Http
) -> None:
    async with AlertReceiver() as receiver:
        clock = Clock()
        policy = TargetPolicy(digest="0 8 * * *")
        due = policy.first_due(T0)
        assert due == datetime(2025, 11, 27, 8, 0, tzinfo=UTC)
        d = Deliverer(
            store,
            {"hook": WebhookTarget("hook", receiver.url, http)},
            owner="t",
            now=clock,
            policies={"hook": policy},
        )
        for i in range(3):
            queue(store, [f"r{i}"], ("hook",), not_before={"hook": due})
        await d.deliver_due()
        assert receiver.delivered == []
        clock.t = due
        report = await d.deliver_due()
        assert report.sent == 3
        [message] = receiver.delivered
        assert message.json is not None and message.json["type"] == "digest"
        assert [a["rule"] for a in message.json["alerts"]] == ["r0", "r1", "r2"]
        assert message.json["title"] == "3 alerts since the last digest"
        clock.t += timedelta(days=1)
        await d.deliver_due()
        assert len(receiver.delivered) == 1
