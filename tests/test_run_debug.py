"""`bot run --debug`: alerts are printed, never sent, and the outbox is left as it was."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.replay import AlertReceiver
from bot.store import Store
from tests.helpers import write_rules
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, query
from tests.test_notify import queue


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    loop = BackgroundLoop()
    hook = AlertReceiver()
    loop.run(hook.start())
    try:
        yield hook
    finally:
        loop.run(hook.stop())
        loop.close()


def bot_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bot_cmd("run", *args),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=False,
    )


def test_a_debug_run_prints_queued_alerts_and_a_normal_run_still_delivers_them(
    tmp_path: Path, receiver: AlertReceiver
) -> None:
    db = tmp_path / "bot.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        queue(store, "deadline-set", "envoy-visit")  # two alerts waiting for target "hook"
    finally:
        store.close()
    rules = write_rules(tmp_path / "rules", [], webhook_url=receiver.url)
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_LOG_FORMAT": "json",
        "BOT_WORKERS": "1",
    }

    debug = bot_run("--debug", "--once", env=env)

    assert debug.returncode == 0, debug.stderr[-2000:]
    assert "deadline-set title" in debug.stdout and "envoy-visit title" in debug.stdout
    assert receiver.received == []
    assert query(db, "SELECT state, attempts, sent_at FROM outbox") == [("pending", 0, None)] * 2
    said = [json.loads(line) for line in debug.stderr.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "debug.outbox_untouched" and e.get("queued") == 2 for e in said), (
        debug.stderr[-2000:]
    )

    normal = bot_run("--once", env=env)

    assert normal.returncode == 0, normal.stderr[-2000:]
    assert sorted(r.json["rule"] for r in receiver.delivered if r.json) == [
        "deadline-set",
        "envoy-visit",
    ]
    assert query(db, "SELECT state FROM outbox") == [("sent",)] * 2
