"""Acceptance: two replicas share one PostgreSQL database; each feed is polled once at a time
and each alert sent once, also when one replica is killed."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, wait_until


def pg(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    except sa.exc.ProgrammingError:
        return []  # not migrated yet
    finally:
        engine.dispose()


def write_pack(rules: Path, server: ReplayServer, receiver: AlertReceiver) -> None:
    rules.mkdir()
    for path in (REPO / "rules").iterdir():
        if path.name not in ("feeds.yaml", "targets.yaml"):
            (rules / path.name).write_bytes(path.read_bytes())
    (rules / "feeds.yaml").write_text(
        "defaults: {interval: 1s}\nfeeds:\n"
        + "".join(f"  - name: {o}\n    url: {server.feed_url(o)}\n" for o in server.outlets),
        encoding="utf-8",
    )
    (rules / "targets.yaml").write_text(
        f"targets:\n  - name: hook\n    type: webhook\n    url: {receiver.url}\n", encoding="utf-8"
    )


def score(shared: Path, payloads: list[dict[str, object]], tmp_path: Path) -> str:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("".join(json.dumps(p) + "\n" for p in payloads), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            str(shared / "tools" / "score_alerts.py"),
            "seeds",
            str(shared / "corpus" / "seeds.jsonl"),
            str(shared / "corpus" / "seeds.expected.yaml"),
            str(alerts),
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def overlapping_polls(url: str) -> list[tuple[object, ...]]:
    """Polls of one feed by two replicas whose times overlap."""
    rows = pg(
        url,
        "SELECT feed_id, replica, started_at, finished_at FROM feed_polls "
        "ORDER BY feed_id, started_at",
    )
    by_feed: dict[object, list[tuple[object, ...]]] = defaultdict(list)
    for row in rows:
        by_feed[row[0]].append(row)
    clashes = []
    for polls in by_feed.values():
        for a, b in itertools.pairwise(polls):
            if a[1] != b[1] and b[2] < a[3]:  # type: ignore[operator]
                clashes.append((a, b))
    return clashes


@pytest.mark.acceptance
@pytest.mark.timeout(300)
@pytest.mark.parametrize("kill_one", [False, True], ids=["both-run", "one-killed"])
def test_two_replicas_send_each_alert_once_and_never_poll_a_feed_together(
    shared: Path, pg_url: str, tmp_path: Path, kill_one: bool
) -> None:
    articles = load_corpus(shared / "corpus" / "seeds.jsonl")
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    bg = BackgroundLoop()
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    rules = tmp_path / "rules"
    write_pack(rules, server, receiver)
    env = {
        **os.environ,
        "BOT_DB_URL": pg_url,
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_PORT": "0",
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
        "BOT_LEASE": "4s",
    }
    procs = {
        name: subprocess.Popen(
            bot_cmd("run"),
            env={**env, "BOT_REPLICA_ID": name},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("r1", "r2")
    }
    try:
        wait_until(
            lambda: (
                len(pg(pg_url, "SELECT 1 FROM feeds WHERE baseline_done")) == len(server.outlets)
            ),
            90,
            "the baseline polls",
        )
        for i, article in enumerate(articles, 1):  # in publication order, one at a time
            clock.advance_to(article.published)
            wait_until(
                lambda i=i: len(pg(pg_url, "SELECT 1 FROM articles")) >= i,  # type: ignore[misc]
                60,
                f"article {article.id}",
            )
            if kill_one and i == 4:
                procs["r1"].send_signal(signal.SIGKILL)
                procs["r1"].wait(10)
        wait_until(
            lambda: (
                len(pg(pg_url, "SELECT 1 FROM articles")) == len(articles)
                and not pg(pg_url, "SELECT 1 FROM outbox WHERE state != 'sent'")
            ),
            120,
            "every article stored and every alert delivered",
        )
        replicas = {r[0] for r in pg(pg_url, "SELECT DISTINCT replica FROM feed_polls")}
        assert replicas == {"r1", "r2"}  # both did work
        assert overlapping_polls(pg_url) == []
        delivered = receiver.delivered
        ids = [r.headers["webhook-id"] for r in delivered]
        repeats = len(ids) - len(set(ids))
        assert repeats <= (1 if kill_one else 0)
        unique: dict[str, dict[str, object]] = {}
        for r in delivered:
            assert r.json is not None
            unique.setdefault(r.headers["webhook-id"], r.json)
        scored = score(shared, list(unique.values()), tmp_path)
        assert "required 7/7, late 0, duplicated 0, false 0" in scored, scored
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(30)
        bg.run(server.stop())
        bg.run(receiver.stop())
        bg.close()
    assert procs["r2"].returncode == 0
