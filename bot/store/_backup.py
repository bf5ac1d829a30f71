"""Backups of a SQLite store, restoring one, and moving a SQLite store into PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, Integer, Table, func, select, update
from sqlalchemy.engine import make_url

from bot.errors import BotError, ConfigError
from bot.store._engine import make_engine
from bot.store._migrations import MIGRATIONS, migrate
from bot.store._tables import metadata, schema_migrations

SQLITE_HEADER: Final = b"SQLite format 3\x00"
# Tables every bot database has had since its first migration.
CORE_TABLES: Final = frozenset({"schema_migrations", "feeds", "articles", "matches", "outbox"})
COPY_BATCH: Final = 1000  # rows per INSERT when moving a store to PostgreSQL


class BackupError(BotError):
    """A backup, restore or move that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class DatabaseSummary:
    """What a bot database holds, to show the user what a backup or restore contains."""

    path: Path
    size: int
    migrations: tuple[str, ...]
    articles: int
    alerts: int
    pending: int  # deliveries not sent yet


def sqlite_path(db_url: str) -> Path | None:
    """The file of a SQLite database URL; None for another database (or an in-memory one)."""
    try:
        url = make_url(db_url)
    except Exception as exc:
        raise ConfigError(f"BOT_DB_URL: not a database URL ({exc})") from None
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


_POSTGRESQL_WAY: Final = {
    "back up": "back it up with pg_dump",
    "restore": "restore a pg_dump backup with pg_restore",
    "move": "it is already where migrate-db would move it",
}


def _require_sqlite(db_url: str, what: str) -> Path:
    path = sqlite_path(db_url)
    if path is None:
        if make_url(db_url).get_backend_name() == "postgresql":
            raise ConfigError(
                f"BOT_DB_URL is a PostgreSQL database: {_POSTGRESQL_WAY[what]} "
                "(see README, Backups)"
            )
        raise ConfigError(f"BOT_DB_URL: to {what} it needs a SQLite file (sqlite:///path/bot.db)")
    return path


def _connect(path: Path, *, wait: float = 30.0) -> sqlite3.Connection:
    # Autocommit: every statement manages its own transaction (the backup API needs none open).
    return sqlite3.connect(path, timeout=wait, isolation_level=None)


def summarize(path: Path) -> DatabaseSummary:
    """Check that `path` is a bot database this version can use; say what it holds.

    Raises BackupError naming the file when it is not SQLite, is damaged, is not a bot
    database, or was written by a newer version of the bot.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BackupError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if header != SQLITE_HEADER:
        raise BackupError(f"{path}: not a SQLite database, so not a bot backup")
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{path}: the database is damaged ({check})")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            missing = sorted(CORE_TABLES - tables)
            if missing:
                raise BackupError(f"{path}: not a bot database (no table {', '.join(missing)})")
            applied = tuple(r[0] for r in conn.execute("SELECT name FROM schema_migrations"))
            unknown = sorted(set(applied) - {name for name, _ in MIGRATIONS})
            if unknown:
                raise BackupError(
                    f"{path}: written by a newer version of the bot (migration {unknown[0]}); "
                    "upgrade the bot first"
                )
            articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            alerts = conn.execute("SELECT count(*) FROM matches").fetchone()[0]
            pending = conn.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending'"
            ).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a usable SQLite database ({exc})") from None
    return DatabaseSummary(
        path, path.stat().st_size, applied, int(articles), int(alerts), int(pending)
    )


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    """Copy `source` into a new file at `dest`: one self-contained file (no -wal beside it)."""
    with closing(_connect(dest)) as out:
        # One step: the copy reads a single snapshot, whatever a running bot writes meanwhile.
        source.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")
        check = out.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{dest}: the copy does not check out ({check})")
    with dest.open("rb") as fh:
        os.fsync(fh.fileno())


def backup(
    db_url: str, dest: Path, *, overwrite: bool = False, folder: bool = False
) -> DatabaseSummary:
    """Write a consistent copy of the SQLite store to `dest` (a file, or a folder to put a
    dated file in; `folder` creates it), safe while the bot runs and writes; returns what the
    copy holds."""
    path = _require_sqlite(db_url, "back up")
    if not path.is_file():
        raise BackupError(f"BOT_DB_URL: no database at {path} (nothing to back up)")
    if folder:
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"{dest}: cannot make the folder ({exc.strerror or exc})") from None
    if dest.is_dir():
        dest = dest / f"bot-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
    if dest.resolve() == path.resolve():
        raise BackupError(f"{dest} is the database itself: choose another path")
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} exists: choose another name, or pass --force to replace it")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent}: no such folder")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # sqlite3 creates the file itself
        with closing(_connect(path)) as source:
            _copy(source, tmp)
        os.replace(tmp, dest)
    except sqlite3.Error as exc:
        raise BackupError(f"backing up {path} to {dest} failed: {exc}") from None
    except OSError as exc:
        raise BackupError(f"{dest}: cannot write it ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return summarize(dest)


def _claim_unused(path: Path) -> sqlite3.Connection:
    """A connection to `path` that only succeeds while no other process has it open.

    Leaving WAL mode needs the database to itself: a running bot keeps connections open, so
    the switch fails at once (no wait) while one runs. The bot switches back to WAL when it
    next opens the database.
    """
    conn = _connect(path, wait=0)
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError:
        mode = ""
    if str(mode).lower() != "delete":
        conn.close()
        raise BackupError(
            f"{path} is open in another process (a running bot?): stop the bot, then run this again"
        )
    return conn


def restore(db_url: str, source: Path) -> tuple[DatabaseSummary, Path | None]:
    """Replace the SQLite store with the backup at `source`.

    The backup is checked first (a bot database this version can read); the store must not
    be in use. What the store held before is kept beside it as `<name>.before-restore-<time>`,
    whose path is returned with what the store holds now.
    """
    path = _require_sqlite(db_url, "restore")
    summarize(source)
    if source.resolve() == path.resolve():
        raise BackupError(f"{source} is the database itself: nothing to restore")
    kept: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src:
            if path.exists():
                with closing(_claim_unused(path)) as target:
                    kept = path.with_name(
                        f"{path.name}.before-restore-{datetime.now(UTC):%Y%m%d-%H%M%S}"
                    )
                    _copy(target, kept)
                    src.backup(target)
                    target.execute("PRAGMA journal_mode=DELETE")
            else:
                with closing(_connect(path)) as target:
                    src.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"restoring {source} into {path} failed: {exc}") from None
    except OSError as exc:
        raise BackupError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    return summarize(path), kept


# ---------------------------------------------------------------------------------------------
# Moving a SQLite store into PostgreSQL


def _self_references(table: Table) -> list[str]:
    """Columns of `table` that point to rows of the same table (inserted empty, set after)."""
    return [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]


def _serial_column(table: Table) -> str | None:
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement in (True, "auto"):
        return pk[0].name
    return None


def move_to_postgresql(
    db_url: str, to_url: str, *, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row of the SQLite store into the empty PostgreSQL database at `to_url`;
    returns the rows copied per table.

    The store must not be in use (a bot writing after the copy would leave its rows behind).
    The copy reads one snapshot and is written in one PostgreSQL transaction: it lands whole
    or not at all. `progress(table, rows)` is called after each table.
    """
    path = _require_sqlite(db_url, "move")
    try:
        target_url = make_url(to_url)
    except Exception:
        raise ConfigError("--to: not a database URL (postgresql://user@host:5432/name)") from None
    if target_url.get_backend_name() != "postgresql":
        raise ConfigError("--to: expected a postgresql:// URL")
    if not path.is_file():
        raise BackupError(f"BOT_DB_URL: no database at {path} (nothing to move)")
    summarize(path)
    _claim_unused(path).close()
    source = make_engine(f"sqlite:///{path}")
    try:
        target = make_engine(to_url)
    except BotError:
        source.dispose()
        raise
    shown = target_url.render_as_string(hide_password=True)
    try:
        migrate(source)
        try:
            migrate(target)
        except Exception as exc:
            raise BackupError(
                f"--to: cannot set up the schema in {shown}: {_first_line(exc)}"
            ) from None
        return _copy_rows(source, target, shown, progress)
    finally:
        source.dispose()
        target.dispose()


def _copy_rows(
    source: Engine,
    target: Engine,
    shown: str,
    progress: Callable[[str, int], None] | None,
) -> dict[str, int]:
    tables = [t for t in metadata.sorted_tables if t is not schema_migrations]
    copied: dict[str, int] = {}
    with source.connect() as src, target.connect() as dst:
        with dst.begin():
            busy = [t.name for t in tables if dst.scalar(select(func.count()).select_from(t))]
            if busy:
                raise BackupError(
                    f"{shown} already holds data (table {busy[0]}): "
                    "migrate-db copies into an empty database"
                )
        with src.begin(), dst.begin():
            for table in tables:
                later = _self_references(table)
                pk = list(table.primary_key.columns)
                fixups: list[dict[str, Any]] = []
                n = 0
                result = src.execute(select(table).order_by(*pk))
                for chunk in result.mappings().partitions(COPY_BATCH):
                    rows = [dict(r) for r in chunk]
                    for row in rows:
                        refs = {c: row[c] for c in later if row[c] is not None}
                        if refs:
                            fixups.append({**{f"k_{c.name}": row[c.name] for c in pk}, **refs})
                            row.update(dict.fromkeys(refs))
                    try:
                        dst.execute(table.insert(), rows)
                    except Exception as exc:
                        raise BackupError(
                            f"copying {table.name} into {shown} failed: {_first_line(exc)}"
                        ) from None
                    n += len(rows)
                for fix in fixups:
                    keys = {c.name: fix.pop(f"k_{c.name}") for c in pk}
                    dst.execute(
                        update(table)
                        .where(*(table.c[k] == v for k, v in keys.items()))
                        .values(**fix)
                    )
                serial = _serial_column(table)
                if serial is not None and n:
                    column = table.c[serial]
                    top = select(func.max(column)).scalar_subquery()
                    dst.execute(
                        select(func.setval(func.pg_get_serial_sequence(table.name, serial), top))
                    )
                copied[table.name] = n
                if progress is not None:
                    progress(table.name, n)
    return copied


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
