"""Start-up checks: the database (PostgreSQL waited for), the status port; one line per failure.

Each failure a user can fix becomes a ConfigError naming what is at fault and the setting to
change, so `bot run` exits 2 with one line instead of a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.config import Settings
from bot.errors import ConfigError
from bot.store import Store, make_engine
from bot.web import StatusServer

log = logging.getLogger("bot.startup")

# Seconds between attempts to reach PostgreSQL while start-up waits for it.
DB_RETRY_S = 2.0
# Seconds one attempt to connect may take (a host that drops packets never refuses).
DB_CONNECT_TIMEOUT_S = 5

# PostgreSQL answers these at once; waiting for them to change is pointless.
_NOT_WORTH_WAITING = (
    "authentication failed",
    "does not exist",
    "no password supplied",
    "permission denied",
    "no pg_hba.conf entry",
)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0].strip()


def _parsed(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:  # its message repeats the URL, password and all
        raise ConfigError("BOT_DB_URL: not a database URL") from None


def _where(url: URL) -> str:
    """Host, port and database of a PostgreSQL URL, never its password."""
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def _sqlite_problem(url: URL, reason: str, folder: Path | None = None) -> ConfigError:
    database = url.database or ""
    if folder is None:
        folder = Path(database).resolve().parent if database else Path.cwd()
    return ConfigError(
        f"BOT_DB_URL: cannot open the SQLite database {database} ({reason}); make the folder "
        f"{folder} writable for the bot, or point BOT_DB_URL at a writable path"
    )


def _check_sqlite_writable(url: URL) -> None:
    """SQLite writes beside its file (the WAL and its index): the folder and the file must
    both be writable, or the first write fails long after start."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    folder = path.resolve().parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise _sqlite_problem(url, "folder not writable", existing)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(
            f"BOT_DB_URL: the SQLite database {database} is read-only; make it writable for "
            "the bot, or point BOT_DB_URL at a writable path"
        )


def _wait_for_postgresql(
    settings: Settings,
    url: URL,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    waits: bool = True,
) -> None:
    """Connect until PostgreSQL answers, for at most BOT_DB_WAIT (once, where the command
    does not `wait`); ConfigError after that."""
    probe_url = url.update_query_dict({"connect_timeout": str(DB_CONNECT_TIMEOUT_S)})
    waited_for = settings.db_wait.total_seconds() if waits else 0.0
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        engine = make_engine(probe_url.render_as_string(hide_password=False))
        try:
            with engine.connect():
                pass
        except DBAPIError as exc:
            reason = _first_line(exc)
        else:
            if attempts > 1:
                log.info("db.reachable", extra={"db": _where(url), "attempts": attempts})
            return
        finally:
            engine.dispose()
        waited = clock() - started
        if any(s in reason.lower() for s in _NOT_WORTH_WAITING):
            raise ConfigError(f"BOT_DB_URL: PostgreSQL at {_where(url)} refused: {reason}")
        if waited >= waited_for:
            if not waits:  # a one-off command never waits: no waiting to advise
                raise ConfigError(
                    f"BOT_DB_URL: PostgreSQL at {_where(url)} does not answer ({reason}); "
                    "start it or fix BOT_DB_URL"
                )
            raise ConfigError(
                f"BOT_DB_URL: PostgreSQL at {_where(url)} does not answer ({reason}) after "
                f"{waited:.0f}s; start it, fix BOT_DB_URL, or wait longer with BOT_DB_WAIT "
                f"(now {waited_for:g}s)"
            )
        log.warning(
            "db.waiting",
            extra={
                "db": _where(url),
                "error": reason,
                "attempt": attempts,
                "waited_s": round(waited, 1),
                "gives_up_after_s": waited_for,
            },
        )
        sleep(max(0.0, min(DB_RETRY_S, waited_for - waited)))


def check_database(settings: Settings) -> None:
    """What can be told of BOT_DB_URL before anything starts: a URL that does not parse, a
    SQLite file or folder the bot cannot write. ConfigError naming it."""
    url = _parsed(settings.db_url)
    if url.get_backend_name() != "postgresql":
        _check_sqlite_writable(url)


def open_store(
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wait: bool = True,
) -> Store:
    """Open and migrate the store; PostgreSQL not yet up is waited for (BOT_DB_WAIT), unless
    `wait` is false (a one-off command: a person at the terminal is not kept waiting).

    ConfigError, naming BOT_DB_URL and the file or server at fault, when it cannot be opened.
    """
    url = _parsed(settings.db_url)
    postgresql = url.get_backend_name() == "postgresql"
    if postgresql:
        _wait_for_postgresql(settings, url, sleep=sleep, clock=clock, waits=wait)
    else:
        _check_sqlite_writable(url)
    try:
        return Store.open(settings.db_url)
    except (OSError, DBAPIError) as exc:
        if not postgresql:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
            raise _sqlite_problem(url, reason or _first_line(exc)) from None
        raise ConfigError(
            f"BOT_DB_URL: PostgreSQL at {_where(url)} failed at start: {_first_line(exc)}"
        ) from None


async def start_status_server(server: StatusServer) -> None:
    """Listen on BOT_HTTP_HOST:BOT_HTTP_PORT; ConfigError naming the setting when it cannot."""
    try:
        await server.start()
    except OSError as exc:
        await server.stop()
        where = f"{server.host}:{server.port}"
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"BOT_HTTP_PORT: port {server.port} is in use ({where}); set BOT_HTTP_PORT to a "
                "free port, or to 0 to turn the status endpoint off"
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ConfigError(
                f"BOT_HTTP_PORT: not allowed to listen on port {server.port} ({reason}); "
                "use a port above 1023"
            ) from None
        raise ConfigError(
            f"BOT_HTTP_HOST: cannot listen on {where} ({reason}); set BOT_HTTP_HOST to an "
            "address of this machine (0.0.0.0: all of them)"
        ) from None
