"""Shared fixtures: the acceptance-tier data, throwaway databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.replay import AlertReceiver
from bot.store import Store

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def shared_dir() -> Path:
    """`../shared` beside the repository: the acceptance tier's data.

    Absent on a user's clone: the test skips saying so. Under CI it must be there.
    """
    path = REPO.parent / "shared"
    if not path.is_dir():
        if _under_ci():
            pytest.fail(f"{path} not found: the acceptance tier must run under CI")
        pytest.skip(f"{path} not found: acceptance tier skipped outside CI")
    return path


@pytest.fixture
def shared() -> Path:
    return shared_dir()


@pytest.fixture
def seeds(shared: Path) -> Path:
    return shared / "corpus" / "seeds.jsonl"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL database on the local server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if _under_ci():
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required under CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
async def receiver() -> AsyncIterator[AlertReceiver]:
    """A webhook receiver on loopback that answers 200 until told otherwise."""
    async with AlertReceiver() as r:
        yield r
