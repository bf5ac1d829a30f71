"""The `bot` command as a user runs it: a real subprocess, real files, real servers on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from tests.helpers import write_rules

REPO = Path(__file__).resolve().parents[1]


def bot_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def run_bot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bot_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        check=False,
    )


def test_every_command_has_help_text() -> None:
    from bot.cli import cli

    def walk(cmd: object, path: str) -> Iterator[tuple[str, object]]:
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    for path, cmd in walk(cli, "bot"):
        assert (getattr(cmd, "help", None) or "").strip(), f"{path} has no help text"


def test_the_shipped_rules_directory_passes_check() -> None:
    result = run_bot("check", "--rules", str(REPO / "rules"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK:")


def test_check_names_the_file_and_line_of_an_unknown_key_and_of_a_bad_regex(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "rules",
        [("wire", "https://news.example/rss")],
        rules={
            "typo": "id: typo\nwhen:\n  any: [Kyiv]\nnotfiy: [console]\n",
            "regex": "id: bad-regex\nwhen:\n  all:\n    - Kyiv\n    - regex: '(unclosed'\n",
        },
    )
    result = run_bot("check", "--rules", str(rules))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(re.search(r"typo\.yaml:4: .*notfiy", line) for line in lines), result.stderr
    assert any(re.search(r"regex\.yaml:5: .*regex", line) for line in lines), result.stderr
    assert "Traceback" not in result.stderr


def test_check_refuses_a_title_placeholder_the_rule_never_extracts(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "rules",
        [("wire", "https://news.example/rss")],
        rules={
            "visit": 'id: visit\ntitle: "{envoy} to {city}"\nwhen:\n  all:\n'
            "    - entity: envoy\n    - entity: place\n"
            "entities:\n  envoy: [Witkoff]\n  place: [Moscow]\n"
        },
    )
    result = run_bot("check", "--rules", str(rules))
    assert result.returncode == 2
    assert re.search(
        r"visit\.yaml:2: title: \{city\} is not a value this rule extracts "
        r"\(values: envoy, place\)",
        result.stderr,
    ), result.stderr
    assert "Traceback" not in result.stderr


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(re.search(r"^PPid:\s*(\d+)", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


class BackgroundLoop:
    """An event loop in a thread, for servers a subprocess under test talks to."""

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: object, timeout: float = 30) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def bg() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


def test_sigkill_between_match_and_delivery_delivers_once_after_restart(
    seeds: Path, tmp_path: Path, bg: BackgroundLoop
) -> None:
    articles = load_corpus(seeds)
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    try:
        rules = write_rules(
            tmp_path / "rules",
            [(o, server.feed_url(o)) for o in server.outlets],
            interval="1s",
            webhook_url=receiver.url,
        )
        db = tmp_path / "bot.db"
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
        receiver.respond_with(*([503] * 10_000))  # the chat service is down
        first = subprocess.Popen(
            bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            n_feeds = len(server.outlets)
            wait_until(
                lambda: len(query(db, "SELECT 1 FROM feeds WHERE baseline_done")) == n_feeds,
                60,
                "the baseline polls",
            )
            clock.advance_to(articles[-1].published)  # everything is published now
            wait_until(
                lambda: bool(query(db, "SELECT 1 FROM outbox WHERE attempts >= 1")),
                90,
                "a failed delivery attempt",
            )
            workers = descendants(first.pid)
            assert workers  # the extraction pool is running
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        # Orphaned extraction workers notice the bot is gone and leave.
        wait_until(lambda: not any(alive(p) for p in workers), 20, "orphaned workers to exit")
        queued = query(db, "SELECT delivery_id FROM outbox")
        assert queued and not query(db, "SELECT 1 FROM outbox WHERE state = 'sent'")
        receiver.clear()  # the chat service is back
        second = subprocess.Popen(
            bot_cmd("run"),
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(
                lambda: (
                    len(query(db, "SELECT 1 FROM articles")) == len(articles)
                    and not query(db, "SELECT 1 FROM outbox WHERE state != 'sent'")
                ),
                90,
                "every article stored and every alert delivered",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = second.communicate(timeout=30)
        assert second.returncode == 0, stderr[-2000:]
        delivered = [r.headers["webhook-id"] for r in receiver.delivered]
        everything = [str(r[0]) for r in query(db, "SELECT delivery_id FROM outbox")]
        assert sorted(delivered) == sorted(everything)  # each alert once
        assert {str(r[0]) for r in queued} <= set(delivered)  # nothing queued before the kill lost
    finally:
        bg.run(server.stop())
        bg.run(receiver.stop())


def test_without_network_every_feed_failure_is_logged_and_the_bot_keeps_running(
    tmp_path: Path,
) -> None:
    # The shipped feed list, with hosts under .invalid (RFC 6761: never resolves).
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    feeds_yaml = rules / "feeds.yaml"
    feeds_yaml.write_text(
        re.sub(r"url: https?://([^/\s]+)", r"url: https://\1.invalid", feeds_yaml.read_text()),
        encoding="utf-8",
    )
    names = re.findall(r"- name: (\S+)", feeds_yaml.read_text())
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_RULES_DIR": str(rules),
        "BOT_HTTP_PORT": "0",
        "BOT_LOG_FORMAT": "json",
        "BOT_WORKERS": "1",
    }
    proc = subprocess.Popen(
        bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    failed: set[str] = set()
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while failed != set(names) and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            event = json.loads(line)
            if event["event"] == "feed.failed":
                assert event["feed"] in names and event["error"]
                failed.add(event["feed"])
        assert failed == set(names)
        assert proc.poll() is None  # still running
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_replay_writes_every_delivered_alert_as_a_json_line(seeds: Path, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules", [])
    out = tmp_path / "alerts.jsonl"
    result = run_bot("replay", str(seeds), "--rules", str(rules), "--alerts-out", str(out))
    assert result.returncode == 0, result.stderr
    alerts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = sorted(re.search(r"/([\w.-]+)\.html$", a["article"]["url"]).group(1) for a in alerts)  # type: ignore[union-attr]
    expected = sorted(
        row["id"]
        for row in map(json.loads, seeds.read_text(encoding="utf-8").splitlines())
        if "witkoff" in (row["title"] + " " + row["text"]).lower()
    )
    # one alert per story: every alert from a matching article, copies and retellings held
    assert set(ids) <= set(expected) and len(ids) >= 3 and len(ids) == len(set(ids))
    assert {a["rule"] for a in alerts} == {"witkoff-mention"}
    assert f"13 articles, 13 stored, {len(ids)} alerts" in result.stdout


class LogReader:
    """Reads a bot's JSON log lines on a thread, so its pipe never fills."""

    def __init__(self, stream: object) -> None:
        import queue
        import threading

        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line)
        self.lines.put("")

    def readline(self, timeout: float) -> str:
        import queue

        try:
            return self.lines.get(timeout=max(0.01, timeout))
        except queue.Empty:
            return ""


def read_events(
    reader: LogReader, until: Callable[[dict[str, object]], bool], timeout: float = 60
) -> list[dict[str, object]]:
    """JSON log lines from a running bot until one satisfies `until`."""
    events: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = reader.readline(deadline - time.monotonic())
        if not line:
            break
        event = json.loads(line)
        events.append(event)
        if until(event):
            return events
    raise AssertionError(f"no such event; saw {[e['event'] for e in events][-20:]}")


def test_a_rule_edit_applies_while_running_and_a_broken_edit_keeps_the_last_good_rules(
    seeds: Path, tmp_path: Path, bg: BackgroundLoop
) -> None:
    articles = load_corpus(seeds)
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    rules = write_rules(
        tmp_path / "rules",
        [(o, server.feed_url(o)) for o in server.outlets],
        interval="1s",
        webhook_url=receiver.url,
    )
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_PORT": "0",
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
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
    logs = LogReader(proc.stderr)
    try:
        read_events(logs, lambda e: e["event"] == "scheduler.started")
        (rules / "broken.yaml").write_text("id: broken\nwhen:\n  any: [Kyiv\n", encoding="utf-8")
        failed = read_events(logs, lambda e: e["event"] == "rules.reload_failed")[-1]
        assert any("broken.yaml:" in str(p) for p in failed["problems"])  # type: ignore[union-attr]
        (rules / "broken.yaml").write_text(
            "id: driscoll\nscope: article\nwhen:\n  any: [Driscoll]\n", encoding="utf-8"
        )
        reloaded = read_events(logs, lambda e: e["event"] == "rules.reloaded")[-1]
        assert reloaded["rules"] == ["driscoll", "witkoff-mention"]
        clock.advance_to(articles[-1].published)
        expected = {a.id for a in articles if "driscoll" in (a.title + a.text).lower()}
        assert expected
        first_driscoll = next(a.id for a in articles if a.id in expected)  # oldest first
        got: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = {
                r.json["article"]["url"].rsplit("/", 1)[1].removesuffix(".html")
                for r in receiver.delivered
                if r.json and r.json["rule"] == "driscoll"
            }
            if got and got <= expected and first_driscoll in got:
                break
            time.sleep(0.2)
        assert got <= expected and first_driscoll in got
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        bg.run(server.stop())
        bg.run(receiver.stop())
    assert proc.returncode == 0


def test_rules_test_runs_the_cases_and_diffs_a_replay_of_the_stored_articles(
    seeds: Path, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"

    async def fill() -> None:
        from bot.app import Bot
        from bot.config import Settings, load_config
        from bot.net import NetSettings

        articles = load_corpus(seeds)
        clock = ReplayClock(articles[0].published - timedelta(hours=1))
        async with ReplayServer(articles, clock) as server, AlertReceiver() as receiver:
            rules = tmp_path / "live"
            shutil.copytree(REPO / "rules", rules)
            (rules / "feeds.yaml").write_text(
                "feeds:\n"
                + "".join(
                    f"  - name: {o}\n    url: {server.feed_url(o)}\n" for o in server.outlets
                ),
                encoding="utf-8",
            )
            (rules / "targets.yaml").write_text(
                f"targets:\n  - name: hook\n    type: webhook\n    url: {receiver.url}\n",
                encoding="utf-8",
            )
            env = {"BOT_DB_URL": f"sqlite:///{db}", "BOT_WORKERS": "1"}
            bot = Bot.build(
                Settings.from_env(env),
                load_config(rules, env),
                now=clock.now,
                net=NetSettings(allow=("127.0.0.1",)),
            )
            try:
                for feed in bot.feeds:
                    await bot.pipeline.poll(feed)
                while server.release_next() is not None:
                    clock.advance(1)
                    for feed in bot.feeds:
                        await bot.pipeline.poll(feed, force=True)
            finally:
                await bot.aclose()

    asyncio.run(fill())
    env = {"BOT_DB_URL": f"sqlite:///{db}"}
    same = run_bot(
        "rules", "test", "--rules", str(REPO / "rules"), "--since", "2000d", "--diff", env=env
    )
    assert same.returncode == 0, same.stderr
    assert re.search(r"^\d+ passed, 0 failed$", same.stdout, re.MULTILINE)
    assert "13 stored articles" in same.stdout
    assert "Witkoff to Moscow" in same.stdout
    assert not re.search(r"^[+-] ", same.stdout, re.MULTILINE)  # the bot sent just this
    edited = tmp_path / "edited"
    shutil.copytree(REPO / "rules", edited)
    visit = edited / "envoy-visit.yaml"
    without = re.sub(r"    - \{Driscoll:[^}]*\}\n", "", visit.read_text(encoding="utf-8"))
    assert "- {Driscoll:" not in without
    visit.write_text(without, encoding="utf-8")
    (edited / "envoy-visit.tests.yaml").unlink()
    changed = run_bot(
        "rules",
        "test",
        "envoy-visit",
        "--rules",
        str(edited),
        "--since",
        "2000d",
        "--diff",
        env=env,
    )
    assert changed.returncode == 0, changed.stderr
    removed = re.findall(r"^- envoy-visit (.*)$", changed.stdout, re.MULTILINE)
    assert removed and all("Driscoll" in line for line in removed)
    assert not re.search(r"^\+ ", changed.stdout, re.MULTILINE)


def test_leases_of_dead_processes_on_this_host_are_stale() -> None:
    from bot.app import stale_owners

    me = f"host-{os.getpid()}"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owners = {me, f"host-{dead.pid}", f"host-{os.getppid()}", f"other-{dead.pid}", "host-x"}
    assert stale_owners(owners, me) == [f"host-{dead.pid}"]
