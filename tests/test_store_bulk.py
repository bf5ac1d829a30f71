"""The poll writes that bypass SQLAlchemy's bind processing store exactly what it would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Boolean, String, bindparam, delete, select, type_coerce, update

from bot.store import Store
from bot.store._bulk import Bulk, driver_value
from bot.store._feeds import PollRecord
from bot.store._tables import feed_polls, feeds

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
KYIV = timezone(timedelta(hours=2))

DATETIMES = [
    T0,  # microsecond 0: SQLite's text must still carry ".000000"
    T0.replace(microsecond=123456),
    datetime(2025, 11, 26, 14, 30, 5, 7, tzinfo=KYIV),  # not UTC: stored as 12:30:05.000007
]


@pytest.mark.parametrize(
    "value",
    [
        *DATETIMES,
        datetime(2025, 11, 26, 12, 0, 1, tzinfo=ZoneInfo("UTC")),  # UTC, but not `UTC` itself
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a short year is still padded to four
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=KYIV),  # ... and converts across a day
    ],
    ids=["whole-second", "micros", "kyiv", "zoneinfo-utc", "year-5", "year-5-kyiv"],
)
def test_datetimes_reach_the_driver_as_sqlalchemy_sends_them(store: Store, value: datetime) -> None:
    dialect = store.engine.dialect
    process = feeds.c.next_poll_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert driver_value(value, dialect) == process(value)


def test_booleans_and_plain_values_reach_the_driver_as_sqlalchemy_sends_them(store: Store) -> None:
    dialect = store.engine.dialect
    process = Boolean().dialect_impl(dialect).bind_processor(dialect)
    for flag in (True, False):
        want = process(flag) if process else flag
        got = driver_value(flag, dialect)
        assert (type(got), got) == (type(want), want)
    assert [driver_value(v, dialect) for v in ("text", 7, None)] == ["text", 7, None]


def test_a_naive_datetime_is_refused_as_the_column_type_refuses_it(store: Store) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        driver_value(datetime(2025, 11, 26, 12, 0), store.engine.dialect)


def test_a_statement_of_one_parameter_gets_each_row_value(store: Store) -> None:
    ids = store.sync_feeds([(f"f{i}", f"https://{i}.example/rss") for i in range(3)], T0)
    bulk = Bulk(
        delete(feeds).where(feeds.c.id == bindparam("b_id")), ["b_id"], store.engine.dialect
    )
    with store.engine.begin() as conn:
        bulk.run(conn, [{"b_id": ids["f0"]}, {"b_id": ids["f2"]}])
    assert [row.name for row in store.list_feeds()] == ["f1"]


def test_a_statement_needing_a_parameter_not_given_is_refused(store: Store) -> None:
    stmt = update(feeds).where(feeds.c.id == bindparam("b_id")).values(name=bindparam("b_name"))
    with pytest.raises(ValueError, match=r"statement parameters not given: \['b_name'\]"):
        Bulk(stmt, ["b_id"], store.engine.dialect)


def _raw(store: Store, feed_id: int) -> tuple[object, ...]:
    """The feed's stored datetimes as the driver returns them (text on SQLite)."""
    cols = (type_coerce(feeds.c.next_poll_at, String), type_coerce(feeds.c.last_polled_at, String))
    with store.engine.connect() as conn:
        return tuple(conn.execute(select(*cols).where(feeds.c.id == feed_id)).one())


def test_poll_records_store_the_bytes_a_plain_update_stores(store: Store) -> None:
    ids = store.sync_feeds(
        [("bulk", "https://a.example/rss"), ("plain", "https://b.example/rss")], T0
    )
    for i, when in enumerate(DATETIMES):
        store.record_poll(
            ids["bulk"],
            owner="r1",
            started=when,
            finished=when,
            status="not_modified",
            http_status=304,
            items_new=0,
            next_poll_at=when + timedelta(minutes=i),
        )
        with store.engine.begin() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id == ids["plain"])
                .values(next_poll_at=when + timedelta(minutes=i), last_polled_at=when)
            )
        assert _raw(store, ids["bulk"]) == _raw(store, ids["plain"])
        row = store.feed("bulk")
        assert row is not None
        assert (row.next_poll_at, row.last_polled_at) == (when + timedelta(minutes=i), when)


def test_a_feed_due_at_a_whole_second_is_claimed_from_that_second_not_before(store: Store) -> None:
    feed_id = store.sync_feeds([("wire", "https://a.example/rss")], T0)["wire"]
    store.record_poll(
        feed_id,
        owner="r1",
        started=T0,
        finished=T0,
        status="not_modified",
        http_status=304,
        items_new=0,
        next_poll_at=T0 + timedelta(seconds=10),
    )
    lease = timedelta(minutes=1)
    early = T0 + timedelta(seconds=10) - timedelta(microseconds=1)
    assert store.claim_feed("wire", "r1", early, lease) is None
    assert store.claim_feed("wire", "r1", T0 + timedelta(seconds=10), lease) is not None


def test_records_of_several_shapes_in_one_batch_each_land_on_their_feed(store: Store) -> None:
    names = ["ok", "failed", "unchanged"]
    ids = store.sync_feeds([(n, f"https://{n}.example/rss") for n in names], T0)
    later = T0 + timedelta(minutes=5)
    records = [
        PollRecord(ids["ok"], "r1", T0, T0, "parsed", 200, 3, later, ('"e"', "lm", "h")),
        PollRecord(ids["failed"], "r2", T0, T0, "failed", None, 0, later, error="timeout"),
        PollRecord(ids["unchanged"], "r1", T0, T0, "not_modified", 304, 0, later),
    ]
    assert store.record_polls(records) == [None, None, None]
    rows = {n: store.feed(n) for n in names}
    got = {
        n: (
            r.etag,
            r.body_hash,
            r.baseline_done,
            r.last_error,
            r.consecutive_failures,
            r.last_status,
        )
        for n, r in rows.items()
        if r is not None
    }
    assert got == {
        "ok": ('"e"', "h", True, None, 0, "parsed"),
        "failed": (None, None, False, "timeout", 1, "failed"),
        "unchanged": (None, None, True, None, 0, "not_modified"),
    }
    history = store.poll_history()
    assert [
        (h["name"], h["replica"], h["http_status"], h["items_new"], h["error"]) for h in history
    ] == [
        ("ok", "r1", 200, 3, None),
        ("failed", "r2", None, 0, "timeout"),
        ("unchanged", "r1", 304, 0, None),
    ]
    assert {h["started_at"] for h in history} == {T0}
    with store.engine.connect() as conn:
        assert len(conn.execute(select(feed_polls.c.id)).all()) == 3
