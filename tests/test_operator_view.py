"""What an operator sees of a running `bot run`: the console target's alerts as JSON lines
under BOT_LOG_FORMAT=json, a refused rules edit on the status page and in /readyz, and feed
counts in the page's header that agree with its feed table."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.replay import CorpusArticle, ReplayClock, ReplayServer
from tests.helpers import free_port, write_rules

REPO = Path(__file__).resolve().parents[1]
THRESHOLD = 2  # BOT_FEED_FAILURE_THRESHOLD of the run
BROKEN_RULE = 'id: broken\ntitle: "Visit to {city}"\nwhen:\n  any: [Kyiv]\n'  # no value `city`


@dataclass
class Page:
    status: int
    html: str


@dataclass
class Run:
    """What one `bot run` showed: its stdout, and its endpoints at the moments that matter."""

    stdout: list[str]
    stderr_tail: str
    returncode: int | None
    failing_feed: str
    ready_before_edit: dict[str, Any]
    ready_refused: tuple[int, dict[str, Any]]
    page_refused: Page
    ready_fixed: tuple[int, dict[str, Any]]
    page_fixed: Page
    page_failing: Page  # taken as soon as the failing feed had THRESHOLD failures


def _readyz(http: httpx.Client, base: str) -> tuple[int, dict[str, Any]]:
    r = http.get(f"{base}/readyz")
    return r.status_code, r.json()


def _page(http: httpx.Client, base: str) -> Page:
    r = http.get(f"{base}/")
    return Page(r.status_code, r.text)


def feed_rows(page: str) -> dict[str, tuple[str, int]]:
    """Each feed of the page's table: (health, failures in a row)."""
    rows = re.findall(
        r'<tr data-feed="([^"]+)">.*?<td class="h-[\w-]+">([^<]+)</td>'
        r'.*?<td class="num">(\d+)</td>',
        page,
    )
    return {html.unescape(name): (health, int(failures)) for name, health, failures in rows}


def header_counts(page: str) -> tuple[int, int, int]:
    """(feeds, failing, erroring) as the page's header states them."""
    found = re.search(r'id="feed-counts"><b>(\d+)</b>feeds, (\d+) failing, (\d+) erroring<', page)
    assert found, re.search(r"<header>.*?</header>", page, re.S)
    feeds, failing, erroring = found.groups()
    return int(feeds), int(failing), int(erroring)


T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
ARTICLES = [
    CorpusArticle(
        id="visit",
        title="Witkoff to travel to Moscow for talks on the peace plan",
        outlet="wire",
        published=T0 + timedelta(hours=1),
        text=(
            "US envoy Steve Witkoff will travel to Moscow next week, the White House said.\n"
            "He is expected to meet Russian officials to discuss the revised peace plan.\n"
            "Ukrainian negotiators were briefed on the trip on Tuesday."
        ),
    ),
    CorpusArticle(
        id="grain",
        title="Grain exports rise through the Black Sea corridor",
        outlet="herald",
        published=T0 + timedelta(hours=2),
        text=(
            "Grain shipments from Odesa rose for a third month in a row, port data showed.\n"
            "Insurers said premiums for ships in the corridor had eased since the summer."
        ),
    ),
    CorpusArticle(
        id="outage",
        title="Power cuts across the region after the storm",
        outlet="broken",
        published=T0 + timedelta(hours=3),
        text="Thousands of homes were without power on Wednesday after a winter storm.",
    ),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    from tests.test_cli import BackgroundLoop, bot_cmd, query
    from tests.test_web import poll

    tmp = tmp_path_factory.mktemp("operator")
    clock = ReplayClock(T0)
    server = ReplayServer(ARTICLES, clock)
    bg = BackgroundLoop()
    bg.run(server.start())
    failing = "broken"  # its feed answers 500 from the first poll
    server.fail(f"/{failing}/feed.xml", 500)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rules = write_rules(  # no webhook: the only target is the console
        tmp / "rules", [(o, server.feed_url(o)) for o in server.outlets], interval="1s"
    )
    db = tmp / "bot.db"
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_HOST": "127.0.0.1",
        "BOT_HTTP_PORT": str(port),
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_FEED_FAILURE_THRESHOLD": str(THRESHOLD),
        "BOT_WORKERS": "1",
    }
    log_path = tmp / "bot.log"
    log_file = log_path.open("w", encoding="utf-8")
    proc = subprocess.Popen(
        bot_cmd("run"),
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        encoding="utf-8",
    )
    stdout: list[str] = []
    assert proc.stdout is not None
    pump = threading.Thread(target=lambda: stdout.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    pump.start()

    def printed(title: str) -> bool:  # whatever the form of the console's lines
        return any(title in line for line in list(stdout))

    def logged(event: str) -> int:
        lines = log_path.read_text(encoding="utf-8").splitlines()
        return sum(json.loads(line)["event"] == event for line in lines if line.strip())

    http = httpx.Client(timeout=10)
    try:
        poll(lambda: http.get(f"{base}/readyz").status_code == 200, 60, "/readyz 200")

        def failing_on_page() -> Page | None:
            page = _page(http, base)
            row = feed_rows(page.html).get(failing)
            return page if row is not None and row[1] >= THRESHOLD else None

        page_failing = poll(failing_on_page, 60, f"{THRESHOLD} failures of {failing} on the page")
        n_ok = len(server.outlets) - 1
        poll(
            lambda: len(query(db, "SELECT 1 FROM feeds WHERE baseline_done")) == n_ok,
            60,
            "the baseline polls",
        )
        clock.advance_to(ARTICLES[-1].published)  # every article is out now
        poll(
            lambda: printed("Witkoff mentioned") and printed(f"Feed {failing} is failing"),
            90,
            "an alert of the rule and one of the failing feed on the console",
        )
        _, ready_before_edit = _readyz(http, base)

        (rules / "broken.yaml").write_text(BROKEN_RULE, encoding="utf-8")
        poll(lambda: logged("rules.reload_failed"), 60, "the edit to be refused")
        ready_refused = _readyz(http, base)
        page_refused = _page(http, base)

        (rules / "broken.yaml").write_text(
            "id: driscoll\nscope: article\nwhen:\n  any: [Driscoll]\n", encoding="utf-8"
        )
        poll(lambda: logged("rules.reloaded"), 60, "the edit to load")
        ready_fixed = _readyz(http, base)
        page_fixed = _page(http, base)
    finally:
        http.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        pump.join(10)
        log_file.close()
        bg.run(server.stop())
        bg.close()
    yield Run(
        stdout=stdout,
        stderr_tail=log_path.read_text(encoding="utf-8")[-2000:],
        returncode=proc.returncode,
        failing_feed=failing,
        ready_before_edit=ready_before_edit,
        ready_refused=ready_refused,
        page_refused=page_refused,
        ready_fixed=ready_fixed,
        page_fixed=page_fixed,
        page_failing=page_failing,  # type: ignore[arg-type]
    )


def test_the_console_target_prints_each_alert_as_one_json_line_under_log_format_json(
    run: Run,
) -> None:
    assert run.returncode == 0, run.stderr_tail
    events = [json.loads(line) for line in run.stdout]  # every line, or this raises
    assert events
    for event in events:
        assert {"time", "level", "logger", "event"} <= set(event)
        assert event["event"] == "alert" and event["target"] == "console"
        assert event["level"] == event["alert"]["severity"]
    rules = {e["alert"]["rule"] for e in events}
    assert rules == {"witkoff-mention", "feed-health"}
    [health] = [e for e in events if e["alert"]["rule"] == "feed-health"]
    assert health["alert"]["title"] == f"Feed {run.failing_feed} is failing"


def test_readyz_names_a_refused_rules_edit_and_stays_ready(run: Run) -> None:
    assert run.ready_before_edit["warnings"] == [] and "rules_edit" not in run.ready_before_edit
    status, body = run.ready_refused
    assert status == 200 and body["status"] == "ok"  # the last good rules run
    assert body["checks"]["rules"] == "ok"
    [warning] = body["warnings"]
    assert "refused" in warning and "last good rules" in warning
    edit = body["rules_edit"]
    assert edit["state"] == "refused" and edit["failures"] >= 1 and edit["at"]
    assert edit["problems"] and all("broken.yaml:2: title:" in p for p in edit["problems"])


def test_the_status_page_shows_a_refused_rules_edit_with_its_problems(run: Run) -> None:
    page = run.page_refused
    assert page.status == 200
    section = re.search(r'<section id="rules-edit".*?</section>', page.html, re.S)
    assert section, "no refused edit on the page"
    text = html.unescape(section.group(0))
    assert "A rules edit was refused" in text and "last good rules keep running" in text
    for problem in run.ready_refused[1]["rules_edit"]["problems"]:
        assert problem in text


def test_an_edit_that_loads_clears_the_refusal(run: Run) -> None:
    status, body = run.ready_fixed
    assert status == 200 and body["warnings"] == [] and "rules_edit" not in body
    assert 'id="rules-edit"' not in run.page_fixed.html


def test_the_page_header_counts_feeds_by_the_health_its_table_shows(run: Run) -> None:
    for page in (run.page_failing, run.page_refused, run.page_fixed):
        rows = feed_rows(page.html)
        by_health = Counter(health for health, _ in rows.values())
        assert header_counts(page.html) == (
            len(rows),
            by_health["failing"],
            by_health["erroring"],
        )


def test_the_page_calls_a_feed_failing_at_the_configured_threshold(run: Run) -> None:
    health, failures = feed_rows(run.page_failing.html)[run.failing_feed]
    assert failures >= THRESHOLD
    assert health == "failing"
    assert header_counts(run.page_failing.html)[1] >= 1
