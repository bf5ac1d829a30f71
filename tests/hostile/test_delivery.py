"""Hostile input and faults, delivery: article text that tries to ping a channel or spoof a
link, chat services that throttle, refuse, vanish or redirect, and a bot killed between the
receiver's 200 and its own record of it. Each test is one attack or fault and what must happen.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.models import Article, Match
from bot.net import Http, NetSettings
from bot.notify import (
    Deliverer,
    RetryPolicy,
    SlackTarget,
    Target,
    WebhookTarget,
)
from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from bot.store import NewAlert, Store, new_id
from bot.summarize import build_payload
from tests.helpers import write_rules
from tests.hostile.support import REPO, bot_env, filler, write_corpus
from tests.test_chat_targets import KINDS, link_targets, strings
from tests.test_cli import BackgroundLoop, bot_cmd, query, wait_until

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
ARTICLE_URL = "https://news.example/a"


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    async with Http(NetSettings(allow=("127.0.0.1",), total_timeout=3.0)) as h:
        yield h


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


def queue_alert(store: Store, title: str, *targets: str) -> list[str]:
    """Store an article whose title and evidence are `title`, with one alert for `targets`;
    returns the delivery ids in the outbox."""
    article = Article(
        url=ARTICLE_URL + new_id(),
        canonical_url=ARTICLE_URL + new_id(),
        feed="wire",
        title=title,
        text=f"{title}. Witkoff flew to Moscow.",
        published=T0,
        fetched_at=T0,
        content_hash=new_id(),
    )
    match = Match(rule_id="r", title=title, evidence=(f"{title}.",), severity="critical")

    def build(m: Match) -> NewAlert:
        alert_id = new_id()
        return NewAlert(
            m, alert_id, targets, build_payload(m, article, alert_id=alert_id, created_at=T0)
        )

    before = {r.delivery_id for r in store.list_outbox()}
    store.store_article(
        article,
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[match],
        build=build,
        now=T0,
    )
    return [r.delivery_id for r in store.list_outbox() if r.delivery_id not in before]


def deliverer(store: Store, targets: dict[str, Target], clock: Clock) -> Deliverer:
    # A one-second base delay: a wait of seven seconds can only come from Retry-After.
    policy = RetryPolicy(base=timedelta(seconds=1), jitter=0.0)
    return Deliverer(store, targets, owner="test", now=clock, policy=policy)


# -- 11. mentions and spoofed links in article text --------------------------------------------

ATTACKS = {
    "everyone": ("@everyone Talks collapse", ["@everyone"]),
    "channel": ("<!channel> Talks collapse", ["<!channel>"]),
    "here-link": ("Talks collapse [](@here)", ["@here", "](@here)"]),
    "spoofed-link": ("Log in at [bank.com](https://evil) now", ["](https://evil", "<https://evil"]),
}


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_hostile_title_pings_nobody_and_spoofs_no_link(
    kind: str, attack: str, receiver: AlertReceiver, http: Http
) -> None:
    title, forbidden = ATTACKS[attack]
    article = Article(
        url=ARTICLE_URL,
        canonical_url=ARTICLE_URL,
        feed="wire",
        title=title,
        text=f"{title}. Witkoff flew to Moscow.",
        published=T0,
        fetched_at=T0,
        content_hash="h",
    )
    match = Match(rule_id="r", title=title, evidence=(f"{title}.",), severity="critical")
    target = KINDS[kind](kind, receiver.url, http)
    await target.send(
        build_payload(match, article, alert_id="a1", created_at=T0), delivery_id="d1", now=T0
    )
    [request] = receiver.delivered
    message = request.json
    assert isinstance(message, dict)
    text = "\n".join(strings(message))
    for raw in forbidden:
        assert raw not in text, f"{raw!r} reached the {kind} payload"
    assert link_targets(kind, message) <= {ARTICLE_URL}  # the only link is the bot's own
    if kind == "discord":
        assert message["allowed_mentions"] == {"parse": []}
    for word in ("everyone", "channel", "here", "bank.com"):
        if word in title:
            assert word in text  # still there to read


# -- 12. chat services that throttle, refuse, vanish or redirect -------------------------------

KIND_CLASSES: dict[str, Any] = {"webhook": WebhookTarget, **KINDS}


@pytest.mark.parametrize("kind", KIND_CLASSES)
async def test_a_429_with_retry_after_7_gets_no_request_before_7_seconds(
    store: Store, receiver: AlertReceiver, http: Http, kind: str
) -> None:
    queue_alert(store, "Envoy to Moscow", "chat")
    clock = Clock()
    d = deliverer(store, {"chat": KIND_CLASSES[kind]("chat", receiver.url, http)}, clock)
    receiver.respond_with((429, {"Retry-After": "7"}))
    assert (await d.deliver_due()).retried == 1
    for seconds in (1, 2, 6, 6.999):
        clock.t = T0 + timedelta(seconds=seconds)
        await d.deliver_due()
    assert len(receiver.received) == 1
    clock.t = T0 + timedelta(seconds=7)
    assert (await d.deliver_due()).sent == 1
    first, second = receiver.received
    assert second.at > first.at
    assert len(receiver.delivered) == 1


@pytest.mark.parametrize("status", [400, 404, 410])
async def test_a_refusal_is_dead_lettered_without_a_retry(
    store: Store, receiver: AlertReceiver, http: Http, status: int
) -> None:
    [delivery] = queue_alert(store, "Envoy to Moscow", "chat")
    clock = Clock()
    d = deliverer(store, {"chat": WebhookTarget("chat", receiver.url, http)}, clock)
    receiver.respond_with(status)
    assert (await d.deliver_due()).dead == 1
    for hours in (1, 24, 24 * 7):
        clock.t = T0 + timedelta(hours=hours)
        await d.deliver_due()
    assert len(receiver.received) == 1
    [dead] = store.list_outbox(state="dead")
    assert dead.delivery_id == delivery and f"HTTP {status}" in (dead.last_error or "")


async def test_a_410_disables_the_target_until_it_is_given_a_new_url(
    store: Store, http: Http
) -> None:
    async with AlertReceiver() as gone, AlertReceiver() as other, AlertReceiver() as moved:
        clock = Clock()
        targets: dict[str, Target] = {
            "chat": SlackTarget("chat", gone.url, http),
            "other": WebhookTarget("other", other.url, http),
        }
        d = deliverer(store, targets, clock)
        gone.respond_with(410)
        queue_alert(store, "First", "chat", "other")
        assert (await d.deliver_due()).dead == 1
        later = queue_alert(store, "Second", "chat", "other")
        later += queue_alert(store, "Third", "chat", "other")
        report = await d.deliver_due()
        assert (report.sent, report.dead) == (2, 2)
        assert len(gone.received) == 1  # no request after the 410
        assert len(other.delivered) == 3  # the other target carries on
        dead = {r.delivery_id: r for r in store.list_outbox(state="dead")}
        disabled = [dead[i] for i in later if i in dead]
        assert len(disabled) == 2
        assert all("chat is disabled" in (r.last_error or "") for r in disabled)
        assert all("HTTP 410" in (r.last_error or "") for r in disabled)
        # The same target again (an unrelated reload): still disabled.
        d.targets = {**targets, "chat": SlackTarget("chat", gone.url, http)}
        queue_alert(store, "Fourth", "chat")
        assert (await d.deliver_due()).dead == 1 and len(gone.received) == 1
        # A new URL: delivery resumes, and a dead alert can be sent again.
        d.targets = {**targets, "chat": SlackTarget("chat", moved.url, http)}
        store.retry_now(disabled[0].delivery_id, clock.t)
        queue_alert(store, "Fifth", "chat")
        assert (await d.deliver_due()).sent == 2
        assert len(moved.delivered) == 2


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_from_a_chat_service_is_a_failure_not_followed(
    store: Store, http: Http, status: int
) -> None:
    async with AlertReceiver() as hook, AlertReceiver() as elsewhere:
        queue_alert(store, "Envoy to Moscow", "chat")
        clock = Clock()
        d = deliverer(store, {"chat": WebhookTarget("chat", hook.url, http)}, clock)
        hook.respond_with((status, {"Location": elsewhere.url}))
        assert (await d.deliver_due()).dead == 1
        clock.t += timedelta(days=1)
        await d.deliver_due()
        assert len(hook.received) == 1
        assert elsewhere.received == []
        [dead] = store.list_outbox(state="dead")
        assert f"HTTP {status}" in (dead.last_error or "")


# -- 13. SIGKILL between the receiver's 200 and the bot's record of it --------------------------


@pytest.fixture
def bg() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


PUBLISHED = datetime(2025, 11, 26, 9, 0, tzinfo=UTC)


def start_replay(tmp_path: Path, bg: BackgroundLoop, hook_url: str) -> tuple[ReplayServer, Path]:
    """Three articles a keyword rule alerts on, once the clock passes them; a rules folder
    with the replay's feed and `hook_url` as the only target."""
    corpus = write_corpus(
        tmp_path / "corpus.jsonl",
        [
            {
                "id": f"a{i}",
                "title": f"Witkoff trip {i}",
                "outlet": "wire",
                "published": PUBLISHED + timedelta(minutes=i),
                "text": f"Witkoff flew to Moscow for round {i}. {filler(seed=i)}",
            }
            for i in range(3)
        ],
    )
    server = ReplayServer(load_corpus(corpus), ReplayClock(PUBLISHED - timedelta(hours=1)))
    bg.run(server.start())
    rules = write_rules(
        tmp_path / "rules", [("wire", server.feed_url("wire"))], interval="1s", webhook_url=hook_url
    )
    return server, rules


def start_bot(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def finish(bot: subprocess.Popen[bytes], db: Path, articles: int) -> set[str]:
    """Wait until every article is stored and every alert recorded as sent; stop the bot.

    Returns the delivery ids in the outbox. (How many alerts three articles give is the
    rules' and the story grouping's business, not this test's.)
    """
    try:
        wait_until(
            lambda: (
                len(query(db, "SELECT 1 FROM articles")) == articles
                and bool(query(db, "SELECT 1 FROM outbox"))
                and not query(db, "SELECT 1 FROM outbox WHERE state != 'sent'")
            ),
            60,
            "every alert recorded as sent",
        )
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(30)
    return {str(r[0]) for r in query(db, "SELECT delivery_id FROM outbox")}


def release_when_baseline_done(server: ReplayServer, db: Path) -> None:
    wait_until(lambda: bool(query(db, "SELECT 1 FROM feeds WHERE baseline_done")), 30, "baseline")
    server.clock.advance_to(PUBLISHED + timedelta(hours=1))


def test_a_bot_killed_while_the_receiver_holds_its_200_sends_again_with_the_same_id(
    tmp_path: Path, bg: BackgroundLoop
) -> None:
    receiver = AlertReceiver()
    bg.run(receiver.start())
    receiver.hang(60)  # the receiver takes the alert and holds its 200 until the bot is dead
    server, rules = start_replay(tmp_path, bg, receiver.url)
    db = tmp_path / "bot.db"
    env = bot_env(tmp_path, rules)
    try:
        first = start_bot(env)
        try:
            release_when_baseline_done(server, db)
            wait_until(lambda: len(receiver.received) >= 1, 60, "the first delivery")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        held = receiver.received[0].headers["webhook-id"]
        assert query(db, "SELECT state FROM outbox WHERE state = 'sent'") == []
        receiver.hang(0)
        second = start_bot(env)
        everything = finish(second, db, 3)
        answered = [r.headers["webhook-id"] for r in receiver.delivered]
        assert held in answered  # sent again, under the same id
        assert set(answered) == everything  # nothing lost
    finally:
        bg.run(server.stop())
        bg.run(receiver.stop())


class KillingReceiver:
    """Answers 200 to every POST; right after writing its first answer it SIGKILLs `victim`."""

    def __init__(self) -> None:
        self.victim: int | None = None
        self.answered: list[str] = []  # webhook-ids, in order
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.Response(text="ok")
        await response.prepare(request)
        await response.write_eof()
        self.answered.append(request.headers["webhook-id"])
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def test_a_bot_killed_right_after_the_receivers_200_loses_nothing(
    tmp_path: Path, bg: BackgroundLoop
) -> None:
    receiver = KillingReceiver()
    bg.run(receiver.start())
    server, rules = start_replay(tmp_path, bg, receiver.url)
    db = tmp_path / "bot.db"
    env = bot_env(tmp_path, rules)
    try:
        first = start_bot(env)
        receiver.victim = first.pid
        try:
            release_when_baseline_done(server, db)
            first.wait(60)  # killed by the receiver, just after its first 200
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)
        assert first.returncode == -signal.SIGKILL
        [killed_at] = receiver.answered
        recorded = query(db, f"SELECT state FROM outbox WHERE delivery_id = '{killed_at}'")
        second = start_bot(env)
        everything = finish(second, db, 3)
        assert set(receiver.answered) == everything  # nothing lost
        if recorded != [("sent",)]:  # the kill came before the bot recorded it: sent again
            assert receiver.answered.count(killed_at) == 2
    finally:
        bg.run(server.stop())
        bg.run(receiver.stop())
