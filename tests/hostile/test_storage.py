"""Faults, storage: SIGKILL at random moments while the SQLite store (WAL) is being written.
After every kill the database must pass `PRAGMA integrity_check`, and every write that was
acknowledged (an article stored, an alert marked sent) must still be there.

Two tests. The fast one kills a store-only workload (what a replay does to the store: store an
article with its alerts, claim them, mark them sent) STORE_KILLS times; workers are forked from
a process that has already imported the store, so a round costs its random delay, not an
interpreter start. The slow one kills a real `bot run` during a replay BOT_KILLS times.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from tests.helpers import write_rules
from tests.hostile.support import REPO, bot_env, filler, write_corpus
from tests.test_cli import BackgroundLoop, bot_cmd, wait_until

STORE_KILLS = int(os.environ.get("BOT_TEST_STORE_KILLS", "200"))
BOT_KILLS = int(os.environ.get("BOT_TEST_BOT_KILLS", "10"))
MAX_DELAY = 0.25  # seconds: a kill lands anywhere from the store's migrations to its writes


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def rows(db: Path, sql: str) -> set[str]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return {str(r[0]) for r in conn.execute(sql)}
    finally:
        conn.close()


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hostile.store_workload", f"sqlite:///{tmp_path / 'bot.db'}"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its group: the zygote and any worker left running
    )
    yield proc
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


@pytest.mark.timeout(300)
def test_sigkills_at_random_moments_of_store_writes_leave_an_intact_database_and_lose_no_ack(
    tmp_path: Path, zygote: subprocess.Popen[str]
) -> None:
    db = tmp_path / "bot.db"
    rng = random.Random(20251126)
    assert zygote.stdin is not None and zygote.stdout is not None
    stored: set[str] = set()
    sent: set[str] = set()
    killed_writing = 0
    for kill in range(STORE_KILLS):
        zygote.stdin.write(f"go {kill}\n")
        zygote.stdin.flush()
        first = zygote.stdout.readline().split()
        assert first[0] == "pid", first
        acks = 0

        def ack(what: str, key: str) -> None:
            nonlocal acks
            (stored if what == "stored" else sent).add(key)
            acks += 1

        if kill % 2:
            # Every other round waits for the worker's first acknowledged send, so that on a
            # slow disk too, half the kills land in the middle of the writes, not before them.
            while (line := zygote.stdout.readline().split())[0] == "stored":
                ack(*line)
            assert line[0] == "sent", f"round {kill}: the worker ended before a send: {line}"
            ack(*line)
        # A random moment of the worker's life (from its start, or from its first send).
        time.sleep(rng.uniform(0, MAX_DELAY))
        os.kill(int(first[1]), signal.SIGKILL)
        while (line := zygote.stdout.readline().split())[0] != "reaped":
            ack(*line)
        assert int(line[1]) & 0x7F == signal.SIGKILL  # it was killed, it did not finish
        killed_writing += acks > 0
        assert integrity(db) == "ok", f"after kill {kill + 1}"
        assert stored <= rows(db, "SELECT url FROM articles"), f"after kill {kill + 1}"
        assert sent <= rows(db, "SELECT delivery_id FROM outbox WHERE state = 'sent'")
    assert killed_writing >= STORE_KILLS // 2  # half the kills, at least, landed mid-write
    assert len(sent) >= STORE_KILLS // 2  # and every one of those had acknowledged a send


def sent_now(db: Path) -> set[str]:
    """The deliveries marked sent so far (none while the database is being created)."""
    try:
        return (
            rows(db, "SELECT delivery_id FROM outbox WHERE state = 'sent'")
            if db.exists()
            else set()
        )
    except sqlite3.Error:
        return set()


@pytest.fixture
def bg() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


@pytest.mark.timeout(300)
def test_sigkills_at_random_moments_of_a_replay_keep_the_database_intact_and_every_ack(
    tmp_path: Path, bg: BackgroundLoop
) -> None:
    published = datetime(2025, 11, 26, 9, 0, tzinfo=UTC)
    corpus = write_corpus(
        tmp_path / "corpus.jsonl",
        [
            {
                "id": f"a{i:02d}",
                "title": f"Witkoff trip {i}",
                "outlet": f"wire{i % 3}",
                "published": published + timedelta(minutes=i),
                "text": f"Witkoff flew to Moscow for round {i}. {filler(200, seed=i)}",
            }
            for i in range(30)
        ],
    )
    articles = load_corpus(corpus)
    clock = ReplayClock(published - timedelta(minutes=1))
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    db = tmp_path / "bot.db"
    rules = write_rules(
        tmp_path / "rules",
        [(o, server.feed_url(o)) for o in server.outlets],
        interval="1s",
        webhook_url=receiver.url,
    )
    env = bot_env(tmp_path, rules)
    rng = random.Random(20251127)
    sent: set[str] = set()
    try:
        for kill in range(BOT_KILLS):
            bot = subprocess.Popen(
                bot_cmd("run"),
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.5, 6.0))  # a random moment of its work
            if db.exists() and len(rows(db, "SELECT name FROM feeds WHERE baseline_done")) == 3:
                clock.advance(rng.uniform(60, 300))  # a few more articles come out
            if kill >= BOT_KILLS // 2 and not sent:
                # On a slow or busy machine the random moments may all fall before the first
                # send: the later rounds wait for one, so that some kill comes after it.
                with contextlib.suppress(AssertionError):
                    wait_until(lambda: bool(sent_now(db)), 60, "a first alert sent")
                time.sleep(rng.uniform(0, 1.0))
            bot.send_signal(signal.SIGKILL)
            bot.wait(10)
            if not db.exists():
                continue
            assert integrity(db) == "ok", f"after kill {kill + 1}"
            now_sent = rows(db, "SELECT delivery_id FROM outbox WHERE state = 'sent'")
            assert sent <= now_sent, f"an acknowledged alert lost at kill {kill + 1}"
            sent = now_sent
        assert sent, "no kill came after an alert was sent: the kills missed the work"
        clock.advance_to(articles[-1].published)
        final = subprocess.Popen(
            bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until(
                lambda: (
                    len(rows(db, "SELECT url FROM articles")) == len(articles)
                    and not rows(db, "SELECT delivery_id FROM outbox WHERE state != 'sent'")
                ),
                120,
                "every article stored and every alert delivered",
            )
        finally:
            final.send_signal(signal.SIGTERM)
            final.wait(30)
        assert integrity(db) == "ok"
        everything = rows(db, "SELECT delivery_id FROM outbox")
        assert sent <= everything
        assert {r.headers["webhook-id"] for r in receiver.delivered} == everything
    finally:
        bg.run(server.stop())
        bg.run(receiver.stop())
