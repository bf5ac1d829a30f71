"""Acceptance: SIGKILL at random moments of a seed replay loses no alert and repeats few."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, query, wait_until

KILLS = 20


@pytest.mark.acceptance
def test_twenty_sigkills_during_a_seed_replay_lose_no_required_alert(
    shared: Path, tmp_path: Path
) -> None:
    seeds = shared / "corpus" / "seeds.jsonl"
    articles = load_corpus(seeds)
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    bg = BackgroundLoop()
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    rules = tmp_path / "rules"
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
    rng = random.Random(20251126)
    released = 0  # articles published so far, in order, each once the one before is stored

    def release_if_ready() -> None:
        nonlocal released
        baseline = len(query(db, "SELECT 1 FROM feeds WHERE baseline_done")) == len(server.outlets)
        stored = len(query(db, "SELECT 1 FROM articles"))
        if baseline and released < len(articles) and stored >= released:
            clock.advance_to(articles[released].published)
            released += 1

    try:
        for _ in range(KILLS):
            proc = subprocess.Popen(
                bot_cmd("run"),
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.8, 3.0))  # a random moment of its work
            release_if_ready()
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        log = (tmp_path / "final.log").open("w")
        final = subprocess.Popen(
            bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            while released < len(articles):  # the rest, in order, with the last process
                release_if_ready()
                wait_until(
                    lambda: len(query(db, "SELECT 1 FROM articles")) >= released,
                    60,
                    f"article {released}",
                )
            wait_until(
                lambda: (
                    len(query(db, "SELECT 1 FROM articles")) == len(articles)
                    and not query(db, "SELECT 1 FROM outbox WHERE state != 'sent'")
                    # and the last process is up: it has polled
                    and bool(
                        query(db, f"SELECT 1 FROM feed_polls WHERE replica LIKE '%-{final.pid}'")
                    )
                ),
                120,
                "every article stored and every alert delivered",
            )
        finally:
            final.send_signal(signal.SIGTERM)
            final.wait(30)
        log.close()
        assert final.returncode == 0, (tmp_path / "final.log").read_text()[-3000:]
        ok = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                "print(c.execute('PRAGMA integrity_check').fetchone()[0])",
                str(db),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert ok.stdout.strip() == "ok"
        delivered = receiver.delivered
        ids = [r.headers["webhook-id"] for r in delivered]
        assert len(ids) - len(set(ids)) <= KILLS  # at most one redelivery per kill
        unique: dict[str, dict[str, object]] = {}
        for r in delivered:
            assert r.json is not None
            unique.setdefault(r.headers["webhook-id"], r.json)
        alerts = tmp_path / "alerts.jsonl"
        alerts.write_text("".join(json.dumps(a) + "\n" for a in unique.values()), encoding="utf-8")
        scored = subprocess.run(
            [
                sys.executable,
                str(shared / "tools" / "score_alerts.py"),
                "seeds",
                str(seeds),
                str(shared / "corpus" / "seeds.expected.yaml"),
                str(alerts),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "required 7/7, late 0, duplicated 0, false 0" in scored.stdout, scored.stdout
    finally:
        bg.run(server.stop())
        bg.run(receiver.stop())
        bg.close()
