"""Backups: a consistent copy while the bot runs, a checked restore, a move into PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import string
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.dedup import content_hash, signature, story_features
from bot.models import Article, Match
from bot.replay import CorpusArticle, ReplayClock, ReplayServer
from bot.store import NewAlert, Store, new_id
from bot.store._tables import metadata
from tests.helpers import write_rules
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, query, wait_until

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def bot(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bot_cmd(*args),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BOT_DB_URL": db_url},
        cwd=REPO,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def put(store: Store, n: int, *, alert: bool = True) -> int:
    body = (
        f"Report {n}: Witkoff met Umerov in Geneva on Sunday to discuss the draft peace plan, "
        f"and both sides said talks on item {n} would go on in Abu Dhabi next week."
    )
    at = T0 + timedelta(minutes=n)
    stored = store.store_article(
        Article(
            url=f"https://news.example/{n}",
            canonical_url=f"https://news.example/{n}",
            feed="wire",
            title=f"Envoys meet, report {n}",
            text=body,
            published=at,
            fetched_at=at,
            content_hash=content_hash(body),
        ),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=(
            [
                Match(
                    rule_id="envoy-visit",
                    title=f"Witkoff to Geneva ({n})",
                    evidence=(body,),
                    values={"envoy": "Witkoff", "place": "Geneva"},
                    key=("Witkoff", f"Geneva {n}"),
                )
            ]
            if alert
            else []
        ),
        build=lambda m: NewAlert(m, new_id(), ("chat",), {"title": m.title}),
        now=at,
    )
    assert stored is not None
    store.add_signature(None, stored.id, signature(body))
    store.assign_story(None, stored.id, story_features(f"Envoys meet, report {n}", body), at)
    return stored.id


def sqlite_store(path: Path, articles: int) -> Path:
    store = Store.open(f"sqlite:///{path}")
    try:
        for n in range(1, articles + 1):
            put(store, n)
    finally:
        store.close()
    return path


def articles_in(path: Path) -> int:
    return int(str(query(path, "SELECT count(*) FROM articles")[0][0]))


def holds_articles(path: Path, n: int) -> Callable[[], bool]:
    return lambda: articles_in(path) >= n


def words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))) for _ in range(n)]


# -- while `bot run` writes ----------------------------------------------------------------------


@dataclass
class RunningBot:
    db: Path
    server: ReplayServer
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def running_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """A real `bot run` polling two loopback feeds every second into a SQLite file."""
    tmp = tmp_path_factory.mktemp("running")
    rng = random.Random(7)  # words of their own: each article is a story and an alert
    start = datetime.now(UTC) - timedelta(hours=2)
    corpus = [
        CorpusArticle(
            id=f"a{n}",
            title=f"Envoys meet again, round {n}",
            outlet=("wire", "daily")[n % 2],
            published=start + timedelta(minutes=n + 1),
            text="\n".join(
                f"Witkoff spoke about {' '.join(words(rng, 12))} in paragraph {p}."
                for p in range(6)
            ),
        )
        for n in range(40)
    ]
    clock = ReplayClock(start)
    loop = BackgroundLoop()
    server = ReplayServer(corpus, clock)
    loop.run(server.start())
    rules = write_rules(
        tmp / "rules", [(o, server.feed_url(o)) for o in server.outlets], interval="1s"
    )
    db = tmp / "bot.db"
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_PORT": "0",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
    }
    log = (tmp / "bot.log").open("wb")
    proc = subprocess.Popen(bot_cmd("run"), env=env, cwd=REPO, stdout=log, stderr=log)
    try:
        wait_until(
            lambda: len(query(db, "SELECT 1 FROM feeds WHERE baseline_done")) == 2,
            60,
            "the baseline polls",
        )
        yield RunningBot(db, server, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
        loop.run(server.stop())
        loop.close()


def test_a_backup_taken_while_bot_run_writes_is_a_whole_consistent_database(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    url = f"sqlite:///{running_bot.db}"
    seen = 0
    for round_ in range(4):
        for _ in range(5):  # more articles for the bot to fetch, store and match meanwhile
            running_bot.server.release_next()
        dest = tmp_path / f"backup-{round_}.db"
        result = bot("backup", str(dest), db_url=url)
        assert result.returncode == 0, result.stderr
        assert f"backed up to {dest}" in result.stdout
        assert not Path(f"{dest}-wal").exists()  # one self-contained file
        with sqlite3.connect(dest) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
            # every alert the copy holds has its deliveries: match and outbox rows are
            # written in one transaction, so a snapshot never holds one without the other
            assert (
                copy.execute(
                    "SELECT count(*) FROM matches m WHERE NOT EXISTS "
                    "(SELECT 1 FROM outbox o WHERE o.match_id = m.id)"
                ).fetchone()[0]
                == 0
            )
            stored = copy.execute("SELECT count(*) FROM articles").fetchone()[0]
            alerts = copy.execute("SELECT count(*) FROM matches").fetchone()[0]
        assert stored >= seen
        seen = stored
        released = len(running_bot.server.published())
        wait_until(holds_articles(running_bot.db, released), 60, "the bot to store the rest")
    assert seen > 0 and alerts > 1
    assert running_bot.proc.poll() is None  # the bot ran on through every backup


def test_restore_refuses_while_a_bot_runs_on_the_database(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    backup = sqlite_store(tmp_path / "other.db", 1)
    before = query(running_bot.db, "SELECT id, canonical_url FROM articles ORDER BY id")
    result = bot("restore", str(backup), db_url=f"sqlite:///{running_bot.db}")
    assert result.returncode == 1
    assert "is open in another process (a running bot?): stop the bot" in one_line_error(result)
    after = query(running_bot.db, "SELECT id, canonical_url FROM articles ORDER BY id")
    assert after[: len(before)] == before and len(before) > 0
    assert not list(running_bot.db.parent.glob("*.before-restore-*"))
    assert running_bot.proc.poll() is None


# -- restore ----------------------------------------------------------------------------------


def test_restore_puts_the_backup_back_and_keeps_what_was_there_beside_it(tmp_path: Path) -> None:
    db = sqlite_store(tmp_path / "state" / "bot.db", 2)
    url = f"sqlite:///{db}"
    saved = tmp_path / "saved.db"
    assert bot("backup", str(saved), db_url=url).returncode == 0
    store = Store.open(url)
    put(store, 3)
    store.close()
    assert articles_in(db) == 3

    result = bot("restore", str(saved), db_url=url)
    assert result.returncode == 0, result.stderr
    assert f"restored {saved} into {db} (2 articles, 2 alerts, 2 deliveries pending)" in (
        result.stdout
    )
    assert articles_in(db) == 2
    (kept,) = db.parent.glob("bot.db.before-restore-*")
    assert f"kept at {kept}" in result.stdout
    assert articles_in(kept) == 3
    store = Store.open(url)  # the bot opens and writes the restored store as before
    try:
        put(store, 4)
    finally:
        store.close()
    assert articles_in(db) == 3


def test_restore_into_a_database_that_does_not_exist_yet_creates_it(tmp_path: Path) -> None:
    saved = sqlite_store(tmp_path / "saved.db", 1)
    db = tmp_path / "fresh" / "bot.db"
    result = bot("restore", str(saved), db_url=f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert articles_in(db) == 1


def _newer_bot_database(path: Path) -> None:
    sqlite_store(path, 1)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES ('9999_from_the_future', '2030-01-01 00:00:00')"
        )


def _other_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")


def _text(path: Path) -> None:
    path.write_text("feeds:\n  - name: a\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_text, "not a SQLite database, so not a bot backup"),
        (_other_sqlite, "not a bot database (no table articles, feeds, matches, outbox"),
        (_newer_bot_database, "written by a newer version of the bot (migration 9999_"),
    ],
    ids=["text-file", "other-sqlite-database", "newer-bot-version"],
)
def test_restore_refuses_a_file_that_is_not_a_bot_database_it_can_use(
    tmp_path: Path, make: object, why: str
) -> None:
    db = sqlite_store(tmp_path / "bot.db", 2)
    before = db.read_bytes()
    wrong = tmp_path / "wrong.db"
    make(wrong)  # type: ignore[operator]
    result = bot("restore", str(wrong), db_url=f"sqlite:///{db}")
    assert result.returncode == 1
    line = one_line_error(result)
    assert line.startswith(f"Error: {wrong}: ") and why in line
    assert db.read_bytes() == before
    assert not list(tmp_path.glob("*.before-restore-*"))


# -- backup's own refusals ------------------------------------------------------------------


def test_a_backup_never_replaces_a_file_unless_forced(tmp_path: Path) -> None:
    url = f"sqlite:///{sqlite_store(tmp_path / 'bot.db', 1)}"
    dest = tmp_path / "backup.db"
    dest.write_text("an older backup\n")
    refused = bot("backup", str(dest), db_url=url)
    assert refused.returncode == 1
    assert "exists: choose another name, or pass --force" in one_line_error(refused)
    assert dest.read_text() == "an older backup\n"
    forced = bot("backup", str(dest), "--force", db_url=url)
    assert forced.returncode == 0, forced.stderr
    assert articles_in(dest) == 1


@pytest.mark.parametrize("existing", [True, False], ids=["existing-folder", "new-folder/"])
def test_a_backup_into_a_folder_gets_a_dated_name(tmp_path: Path, existing: bool) -> None:
    url = f"sqlite:///{sqlite_store(tmp_path / 'bot.db', 1)}"
    folder = tmp_path / "backups"
    if existing:
        folder.mkdir()
    result = bot("backup", str(folder) + ("" if existing else "/"), db_url=url)
    assert result.returncode == 0, result.stderr
    (made,) = folder.glob("bot-*.db")
    assert articles_in(made) == 1 and not list(folder.glob(".*.tmp"))


def test_backing_up_a_postgresql_store_points_to_pg_dump(pg_url: str, tmp_path: Path) -> None:
    result = bot("backup", str(tmp_path / "x.db"), db_url=pg_url)
    assert result.returncode == 2
    assert "BOT_DB_URL is a PostgreSQL database" in one_line_error(result)
    assert "pg_dump" in result.stderr and not (tmp_path / "x.db").exists()


# -- moving into PostgreSQL ---------------------------------------------------------------------


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order, as the store reads it back."""
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            return {
                t.name: [
                    tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).all()
                ]
                for t in metadata.sorted_tables
                if t.name != "schema_migrations"
            }
    finally:
        store.close()


def test_migrate_db_moves_every_row_into_postgresql_and_the_bot_carries_on_there(
    tmp_path: Path, pg_url: str
) -> None:
    db = tmp_path / "bot.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        first = put(store, 1)
        for n in range(2, 6):
            put(store, n)
        store.store_article(  # a duplicate pointing back at an earlier row of its own table
            Article(
                url="https://copy.example/1",
                canonical_url="https://copy.example/1",
                feed="wire",
                title="Copy",
                text="copy",
                published=T0,
                fetched_at=T0,
                content_hash=content_hash("copy"),
            ),
            feed_id=None,
            baseline=False,
            duplicate_of=first,
            now=T0,
        )
    finally:
        store.close()
    before = _rows(f"sqlite:///{db}")

    result = bot("migrate-db", "--to", pg_url, db_url=f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert "moved " in result.stdout and "now set BOT_DB_URL" in result.stdout
    after = _rows(pg_url)
    assert after == before
    assert sum(len(rows) for rows in after.values()) > 6
    assert articles_in(db) == 6  # the SQLite file is left as it was

    store = Store.open(pg_url)  # new rows get new ids: the sequences follow the copied ones
    try:
        new = put(store, 7)
        with store.engine.connect() as conn:
            from bot.store._tables import articles

            assert new == conn.scalar(select(func.max(articles.c.id)))
    finally:
        store.close()
    assert new > first + 5


def test_migrate_db_refuses_a_database_that_already_holds_data(tmp_path: Path, pg_url: str) -> None:
    db = sqlite_store(tmp_path / "bot.db", 1)
    store = Store.open(pg_url)
    put(store, 40, alert=False)
    store.close()
    result = bot("migrate-db", "--to", pg_url, db_url=f"sqlite:///{db}")
    assert result.returncode == 1
    assert "already holds data (table " in one_line_error(result)
    assert "migrate-db copies into an empty database" in result.stderr
    assert len(_rows(pg_url)["articles"]) == 1


def test_migrate_db_wants_a_postgresql_url(tmp_path: Path) -> None:
    db = sqlite_store(tmp_path / "bot.db", 1)
    result = bot("migrate-db", "--to", f"sqlite:///{tmp_path / 'b.db'}", db_url=f"sqlite:///{db}")
    assert result.returncode == 2
    assert one_line_error(result) == "Error: --to: expected a postgresql:// URL"
