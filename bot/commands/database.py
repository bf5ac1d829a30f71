"""`bot backup`, `bot restore` and `bot migrate-db`: copies of the store and moving it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bot.config import Settings


def _db_url() -> str:
    return Settings.from_env(dict(os.environ)).db_url


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@click.command(name="backup")
@click.argument("dest", type=click.Path())
@click.option("--force", is_flag=True, help="Replace DEST when it exists.")
def backup_cmd(dest: str, force: bool) -> None:
    """Copy the SQLite store ($BOT_DB_URL) to DEST, safely while the bot runs.

    DEST is a file, or a folder (existing, or ending in /) to write a dated
    bot-YYYYMMDD-HHMMSS.db into. For PostgreSQL use pg_dump (see README, Backups).
    """
    from bot.store import backup

    folder = dest.endswith(("/", os.sep))
    summary = backup(_db_url(), Path(dest), overwrite=force, folder=folder)
    click.echo(
        f"backed up to {summary.path} ({_size(summary.size)}: {summary.articles} articles, "
        f"{summary.alerts} alerts, {summary.pending} deliveries pending)"
    )


@click.command(name="restore")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def restore_cmd(source: Path) -> None:
    """Replace the SQLite store ($BOT_DB_URL) with the backup SOURCE.

    Stop the bot first: restore refuses while a bot has the database open. SOURCE is checked
    to be a bot database first; what the store held is kept beside it as
    NAME.before-restore-TIME.
    """
    from bot.store import restore

    summary, kept = restore(_db_url(), source)
    click.echo(
        f"restored {source} into {summary.path} ({summary.articles} articles, "
        f"{summary.alerts} alerts, {summary.pending} deliveries pending)"
    )
    if kept is not None:
        click.echo(f"the database as it was is kept at {kept}")


@click.command(name="migrate-db")
@click.option(
    "--to",
    "to_url",
    required=True,
    metavar="postgresql://USER@HOST:5432/NAME",
    help="The empty PostgreSQL database to move the store into.",
)
def migrate_db_cmd(to_url: str) -> None:
    """Move the SQLite store ($BOT_DB_URL) into an empty PostgreSQL database.

    Stop the bot first. The SQLite file is left as it was; point BOT_DB_URL at the new
    database and start the bot (and more replicas) again.
    """
    from sqlalchemy.engine import make_url

    from bot.store import move_to_postgresql

    def step(table: str, rows: int) -> None:
        click.echo(f"  {table}: {rows} rows", err=True)

    copied = move_to_postgresql(_db_url(), to_url, progress=step)
    shown = make_url(to_url).render_as_string(hide_password=True)
    click.echo(f"moved {sum(copied.values())} rows in {len(copied)} tables into {shown}")
    click.echo("now set BOT_DB_URL to that URL and start the bot")
