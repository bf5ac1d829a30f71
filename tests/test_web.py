"""The status server on loopback: probes, Prometheus metrics and the status page; then the
same endpoints of `bot run` as a subprocess against the replay server."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from bot.models import Match
from bot.store import NewAlert, Store, make_engine, new_id
from bot.web import StatusServer, esc, render_page
from tests.helpers import free_port
from tests.status_rig import HOSTILE_TITLE, add_hostile_alert, seeded_bot

REPO = Path(__file__).resolve().parents[1]


Key = tuple[str, tuple[tuple[str, str], ...]]


def installed_version() -> str:
    """The version bot_info reports: the installed distribution's, "unknown" from a source tree."""
    from bot import DISTRIBUTION

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def samples(text: str) -> dict[Key, float]:
    """Every sample of a Prometheus exposition: (name, sorted labels) -> value."""
    out: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[Key, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def total(found: dict[Key, float], name: str, **labels: str) -> float:
    """The sum of `name` over every sample whose labels include `labels`."""
    return sum(
        v
        for (n, ls), v in found.items()
        if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
    )


@dataclass
class Flags:
    ready: bool = True
    named: dict[str, bool] = field(default_factory=dict)

    def __call__(self) -> bool | dict[str, bool]:
        return self.named or self.ready


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def started(server: StatusServer) -> StatusServer:
    await server.start()
    return server


# -- probes ---------------------------------------------------------------------------------


async def test_healthz_answers_before_the_store_is_open_and_readyz_says_what_is_missing(
    client: httpx.AsyncClient,
) -> None:
    server = await started(StatusServer(None, lambda: False, "127.0.0.1", 0))
    try:
        assert (await client.get(f"{server.url}/healthz")).status_code == 200
        ready = await client.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "not open yet"
        page = await client.get(f"{server.url}/")
        assert page.status_code == 503 and "not ready" in page.text
    finally:
        await server.stop()


async def test_readyz_is_200_only_when_the_database_answers_and_every_flag_is_up(
    sqlite_store: Store, client: httpx.AsyncClient
) -> None:
    flags = Flags(named={"rules": False, "scheduler": True})
    server = await started(StatusServer(None, flags, "127.0.0.1", 0))
    try:
        server.attach(sqlite_store)
        first = await client.get(f"{server.url}/readyz")
        assert first.status_code == 503
        assert first.json()["checks"] == {
            "database": "ok",
            "rules": "not ready",
            "scheduler": "ok",
        }
        flags.named["rules"] = True
        second = await client.get(f"{server.url}/readyz")
        assert second.status_code == 200 and second.json()["status"] == "ok"
        flags.named = {}
        flags.ready = False  # the plain-bool form
        assert (await client.get(f"{server.url}/readyz")).status_code == 503
    finally:
        await server.stop()


async def test_readyz_is_503_when_the_database_does_not_answer(client: httpx.AsyncClient) -> None:
    store = Store(make_engine(f"postgresql://nobody@127.0.0.1:{free_port()}/none"))
    server = await started(StatusServer(store, lambda: True, "127.0.0.1", 0))
    try:
        response = await client.get(f"{server.url}/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("unreachable")
        assert (await client.get(f"{server.url}/healthz")).status_code == 200
        page = await client.get(f"{server.url}/")
        assert page.status_code == 503 and "database: unreachable" in page.text
        scrape = await client.get(f"{server.url}/metrics")  # still answers, says the store is down
        assert scrape.status_code == 200
        assert value(samples(scrape.text), "bot_store_up") == 0
    finally:
        await server.stop()
        store.close()


# -- /metrics -------------------------------------------------------------------------------


def _add_alert(store: Store, n: int, *, now: datetime) -> None:
    from bot.dedup import content_hash
    from bot.models import Article

    text = f"Article {n} about Kyiv."
    store.store_article(
        Article(
            url=f"https://news.example/{n}",
            canonical_url=f"https://news.example/{n}",
            feed="wire",
            title=f"Title {n}",
            text=text,
            published=now,
            fetched_at=now,
            content_hash=content_hash(text),
        ),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[Match(rule_id="r", title=f"Alert {n}", evidence=(text,))],
        build=lambda m: NewAlert(m, new_id(), ("hook",), {}),
        now=now,
    )


async def test_metrics_expose_the_replica_the_process_and_the_outbox_read_at_scrape_time(
    sqlite_store: Store, client: httpx.AsyncClient
) -> None:
    metrics = Metrics(CollectorRegistry(), replica="replica-a", version="1.2.3")
    server = await started(
        StatusServer(sqlite_store, lambda: True, "127.0.0.1", 0, metrics=metrics)
    )
    try:
        first = samples((await client.get(f"{server.url}/metrics")).text)
        assert value(first, "bot_info", replica="replica-a", version="1.2.3") == 1
        assert value(first, "process_start_time_seconds") > 0
        assert value(first, "bot_store_up") == 1
        assert value(first, "bot_outbox_deliveries", state="pending") == 0
        assert value(first, "bot_outbox_oldest_pending_age_seconds") == 0
        for stage in ("fetch_feed", "fetch_page", "extract", "match", "store", "deliver"):
            assert value(first, "bot_stage_duration_seconds_count", stage=stage) == 0

        written = datetime.now(UTC) - timedelta(minutes=10)
        await sqlite_store.call(_add_alert, sqlite_store, 1, now=written)
        await sqlite_store.call(_add_alert, sqlite_store, 2, now=written + timedelta(minutes=5))
        metrics.poll("wire", "parsed")
        metrics.poll("wire", "not_modified")
        metrics.poll("wire", "not_modified")
        metrics.observe("extract", 0.2)
        second = samples((await client.get(f"{server.url}/metrics")).text)
        assert value(second, "bot_outbox_deliveries", state="pending") == 2
        assert 590 <= value(second, "bot_outbox_oldest_pending_age_seconds") < 3600
        assert value(second, "bot_polls_total", feed="wire", status="not_modified") == 2
        assert value(second, "bot_stage_duration_seconds_count", stage="extract") == 1
        assert value(second, "bot_stage_duration_seconds_bucket", stage="extract", le="0.25") == 1
        assert value(second, "bot_stage_duration_seconds_bucket", stage="extract", le="0.1") == 0
    finally:
        await server.stop()


async def test_metrics_negotiate_openmetrics_when_asked(
    sqlite_store: Store, client: httpx.AsyncClient
) -> None:
    server = await started(StatusServer(sqlite_store, lambda: True, "127.0.0.1", 0))
    try:
        plain = await client.get(f"{server.url}/metrics")
        assert plain.headers["content-type"].startswith("text/plain")
        om = await client.get(
            f"{server.url}/metrics", headers={"Accept": "application/openmetrics-text"}
        )
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.rstrip().endswith("# EOF")
    finally:
        await server.stop()


def test_every_event_method_moves_its_series() -> None:
    metrics = Metrics(CollectorRegistry(), replica="r", process=False)
    metrics.article_stored("page")
    metrics.duplicate("near")
    metrics.story()
    metrics.match("envoy-visit")
    metrics.alert("envoy-visit")
    metrics.suppressed("envoy-visit", "below count")
    metrics.delivery("chat", "sent")
    metrics.delivery("chat", "held", 3)
    metrics.rules_loaded(7)
    metrics.reload_failed()
    with pytest.raises(RuntimeError), metrics.time("deliver"):
        raise RuntimeError("a failing block is still timed")
    from prometheus_client import generate_latest

    found = samples(generate_latest(metrics.registry).decode())
    assert value(found, "bot_articles_stored_total", extraction="page") == 1
    assert value(found, "bot_duplicates_total", kind="near") == 1
    assert value(found, "bot_duplicates_total", kind="url") == 0  # present from the start
    assert value(found, "bot_stories_total") == 1
    assert value(found, "bot_matches_total", rule="envoy-visit") == 1
    assert value(found, "bot_alerts_total", rule="envoy-visit") == 1
    assert value(found, "bot_suppressed_total", rule="envoy-visit", reason="below_count") == 1
    assert value(found, "bot_deliveries_total", target="chat", outcome="held") == 3
    assert value(found, "bot_rules_loaded") == 7
    assert value(found, "bot_rule_reload_failures_total") == 1
    assert value(found, "bot_rules_last_reload_failed") == 1
    assert value(found, "bot_stage_duration_seconds_count", stage="deliver") == 1
    assert metrics.suppressed_counts() == {"envoy-visit": {"below_count": 1}}
    metrics.rules_loaded(8)
    again = samples(generate_latest(metrics.registry).decode())
    assert value(again, "bot_rules_last_reload_failed") == 0


def test_unknown_stages_and_kinds_are_programming_errors() -> None:
    metrics = Metrics(CollectorRegistry(), process=False)
    with pytest.raises(ValueError, match="stage"):
        metrics.observe("parse", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate kind"):
        metrics.duplicate("title")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outcome"):
        metrics.delivery("chat", "bounced")  # type: ignore[arg-type]


def test_two_metrics_objects_have_separate_registries() -> None:
    a = Metrics(CollectorRegistry(), process=False)
    b = Metrics(CollectorRegistry(), process=False)  # no module-level state: no clash
    a.story()
    from prometheus_client import generate_latest

    assert value(samples(generate_latest(b.registry).decode()), "bot_stories_total") == 0


# -- the status page ------------------------------------------------------------------------


async def test_the_status_page_lists_feeds_alerts_and_the_outbox_of_a_seed_replay(
    seeds: Path, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    async with seeded_bot(seeds, tmp_path) as rig:
        store = rig.store
        matches = store.list_matches()
        assert len(matches) >= 3
        metrics = Metrics(CollectorRegistry(), replica="status-test", process=False)
        metrics.suppressed(matches[0]["rule_id"], "seen")
        server = await started(
            StatusServer(store, lambda: True, "127.0.0.1", 0, metrics=metrics, now=rig.clock.now)
        )
        try:
            page = await client.get(f"{server.url}/")
        finally:
            await server.stop()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    body = page.text
    for m in matches:
        card = re.search(
            rf'<article class="alert" id="alert-{m["alert_id"]}".*?</article>', body, re.S
        )
        assert card is not None, m["title"]
        assert esc(m["title"]) in card.group(0)
        for sentence in m["evidence"]:
            assert esc(sentence) in card.group(0)
        assert "hook: sent" in card.group(0)
    for outlet in rig.server.outlets:
        assert f'data-feed="{outlet}"' in body
    assert "repeats of this rule held back since start: seen 1" in body
    assert "0 pending, " in body and "Nothing pending or dead." in body


async def test_the_status_page_escapes_article_text_and_links_only_http_urls(
    sqlite_store: Store, client: httpx.AsyncClient
) -> None:
    alert_id = await sqlite_store.call(add_hostile_alert, sqlite_store)
    server = await started(StatusServer(sqlite_store, lambda: True, "127.0.0.1", 0))
    try:
        page = await client.get(f"{server.url}/")
    finally:
        await server.stop()
    body = page.text
    assert f'id="alert-{alert_id}"' in body
    assert "<script" not in body and "<svg" not in body and "<img" not in body
    assert "&lt;img src=x onerror=" in body and "&lt;svg onload=" in body  # shown as text
    source = re.search(r'<p class="source">(.*?)</p>', body, re.S)
    assert source is not None
    assert source.group(1).startswith(esc(HOSTILE_TITLE))  # the title, not a link
    assert "href=" not in source.group(1)
    assert "&lt;/article&gt;" in body
    assert "HTTP 400: &lt;b&gt;bad&lt;/b&gt; request" in body
    assert "1 dead" in body
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_page_has_no_script_and_one_style_sheet_that_the_csp_allows() -> None:
    import base64
    import hashlib

    from bot.store._maintenance import OutboxSummary

    now = datetime.now(UTC)
    html = render_page(
        name="newsbot",
        now=now,
        checks={"database": "ok"},
        feeds=[],
        alerts=[],
        outbox=OutboxSummary({}, None, []),
        suppressed={},
    )
    assert "<script" not in html and " style=" not in html
    [css] = re.findall(r"<style>(.*?)</style>", html, re.S)
    from bot.web import CSP

    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in CSP


# -- `bot run` as a subprocess --------------------------------------------------------------


def poll(fn: Callable[[], object], timeout: float, what: str) -> object:
    """Call `fn` until it returns something truthy (connection errors count as no)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = fn()
        except httpx.TransportError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class RunScenario:
    """What one `bot run` against the seed replay showed on its endpoints."""

    healthz: int
    ready_after_start: int
    first: dict[Key, float]
    last: dict[Key, float]
    outlets: list[str]
    failing_feed: str
    deliveries: int
    articles: int
    alerts: int
    returncode: int | None
    stderr_tail: str


@pytest.fixture(scope="module")
def run_scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunScenario]:
    from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
    from tests.conftest import shared_dir
    from tests.helpers import write_rules
    from tests.test_cli import BackgroundLoop, bot_cmd, query

    seeds = shared_dir() / "corpus" / "seeds.jsonl"
    tmp = tmp_path_factory.mktemp("run")
    articles = load_corpus(seeds)
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg = BackgroundLoop()
    bg.run(server.start())
    bg.run(receiver.start())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rules = write_rules(
        tmp / "rules",
        [(o, server.feed_url(o)) for o in server.outlets],
        interval="1s",
        webhook_url=receiver.url,
    )
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{tmp / 'bot.db'}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_HOST": "127.0.0.1",
        "BOT_HTTP_PORT": str(port),
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
        "BOT_REPLICA_ID": "web-test",
    }
    log_path = tmp / "bot.log"
    log_file = log_path.open("w", encoding="utf-8")
    proc = subprocess.Popen(
        bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log_file
    )
    http = httpx.Client(timeout=5)
    try:
        healthz = poll(lambda: http.get(f"{base}/healthz").status_code, 60, "/healthz")
        ready = poll(
            lambda: http.get(f"{base}/readyz").status_code == 200 and 200, 60, "/readyz 200"
        )
        n_feeds = len(server.outlets)
        poll(
            lambda: (
                len(query(tmp / "bot.db", "SELECT 1 FROM feeds WHERE baseline_done")) == n_feeds
            ),
            60,
            "the baseline polls",
        )
        first = samples(http.get(f"{base}/metrics").text)
        clock.advance_to(articles[-1].published)  # everything is published now
        db = tmp / "bot.db"
        poll(
            lambda: (
                len(query(db, "SELECT 1 FROM articles")) == len(articles)
                and not query(db, "SELECT 1 FROM outbox WHERE state != 'sent'")
            ),
            90,
            "every article stored and every alert delivered",
        )
        expected = query(db, "SELECT id FROM matches")  # one alert per story, copies held
        failing = server.outlets[0]
        server.fail(f"/{failing}/feed.xml", 500)

        def settled() -> dict[Key, float] | None:
            s = samples(http.get(f"{base}/metrics").text)
            sent = value(s, "bot_outbox_deliveries", state="sent")
            failures = value(s, "bot_feed_consecutive_failures", feed=failing)
            # A feed's poll job runs until its pages are processed, so on a loaded machine
            # the first unchanged (304) poll can come after the failing feed's first failure.
            unchanged = total(s, "bot_polls_total", status="not_modified")
            return s if sent >= len(expected) and failures >= 1 and unchanged > 0 else None

        last = poll(
            settled, 90, "the sent deliveries, the failing feed and a 304 poll in the metrics"
        )
        n_articles = len(query(tmp / "bot.db", "SELECT 1 FROM articles"))
    finally:
        http.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log_file.close()
        bg.run(server.stop())
        bg.run(receiver.stop())
        bg.close()
    yield RunScenario(
        healthz=int(healthz),  # type: ignore[call-overload]
        ready_after_start=int(ready),  # type: ignore[call-overload]
        first=first,
        last=last,  # type: ignore[arg-type]
        outlets=list(server.outlets),
        failing_feed=failing,
        deliveries=len(receiver.delivered),
        articles=n_articles,
        alerts=len(expected),
        returncode=proc.returncode,
        stderr_tail=log_path.read_text(encoding="utf-8")[-2000:],
    )


def test_bot_run_serves_health_readiness_and_metrics_that_follow_the_database(
    run_scenario: RunScenario,
) -> None:
    s = run_scenario
    assert s.returncode == 0, s.stderr_tail
    assert s.healthz == 200 and s.ready_after_start == 200
    assert total(s.first, "bot_info", version=installed_version()) == 1
    assert value(s.first, "process_start_time_seconds") > 0
    assert value(s.first, "bot_store_up") == 1
    assert value(s.first, "bot_outbox_deliveries", state="sent") == 0
    assert value(s.last, "bot_outbox_deliveries", state="sent") == s.deliveries >= s.alerts >= 3
    assert value(s.last, "bot_outbox_deliveries", state="pending") == 0
    assert value(s.last, "bot_feed_consecutive_failures", feed=s.failing_feed) >= 1
    for outlet in s.outlets:
        if outlet != s.failing_feed:
            assert value(s.last, "bot_feed_consecutive_failures", feed=outlet) == 0


def test_bot_run_counts_polls_articles_alerts_deliveries_and_stage_times(
    run_scenario: RunScenario,
) -> None:
    first, last = run_scenario.first, run_scenario.last
    assert total(first, "bot_info", replica="web-test") == 1
    assert total(last, "bot_polls_total") > total(first, "bot_polls_total") > 0
    assert total(last, "bot_polls_total", status="not_modified") > 0
    assert total(last, "bot_polls_total", feed=run_scenario.failing_feed, status="failed") >= 1
    assert total(last, "bot_articles_stored_total", extraction="page") == run_scenario.articles
    assert total(last, "bot_alerts_total", rule="witkoff-mention") == run_scenario.alerts
    assert total(last, "bot_matches_total") >= run_scenario.alerts
    assert total(last, "bot_deliveries_total", outcome="sent") == run_scenario.deliveries
    for stage in ("fetch_feed", "fetch_page", "extract", "match", "store", "deliver"):
        assert total(last, "bot_stage_duration_seconds_count", stage=stage) > 0, stage
    assert value(last, "bot_rules_loaded") == 1
    assert value(last, "bot_rules_last_reload_failed") == 0


def test_readyz_answers_503_until_the_store_is_open_and_the_rules_loaded_then_200(
    tmp_path: Path,
) -> None:
    from tests.helpers import write_rules
    from tests.test_cli import bot_cmd

    db = tmp_path / "bot.db"
    lock = sqlite3.connect(db, isolation_level=None, timeout=1)
    lock.execute("PRAGMA journal_mode=WAL")
    lock.execute("BEGIN IMMEDIATE")  # the bot cannot migrate until this is released
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(write_rules(tmp_path / "rules", [])),
        "BOT_HTTP_HOST": "127.0.0.1",
        "BOT_HTTP_PORT": str(port),
        "BOT_LOG_FORMAT": "json",
        "BOT_WORKERS": "1",
    }
    proc = subprocess.Popen(
        bot_cmd("run"),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    http = httpx.Client(timeout=5)
    try:
        try:
            before = poll(lambda: http.get(f"{base}/readyz"), 15, "/readyz while starting")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert isinstance(before, httpx.Response)
        assert before.status_code == 503
        assert before.json()["checks"]["database"] != "ok"
        poll(lambda: http.get(f"{base}/readyz").status_code == 200, 60, "/readyz to answer 200")
    finally:
        http.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
