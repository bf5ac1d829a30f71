"""Group commit of poll leases and poll records: many polls, few transactions, no lost record."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import Claim, FeedRow, PollRecord, Store
from bot.store._group import GroupCall

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


# -- GroupCall ------------------------------------------------------------------------------


class Recorder:
    """A batch function that remembers its batches and can be told to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.raise_on: set[int] = set()
        self.explode = False

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.explode:
            raise RuntimeError("the whole batch failed")
        return [ValueError(f"item {i}") if i in self.raise_on else i * 10 for i in items]


async def test_calls_made_while_a_batch_runs_go_together_into_the_next() -> None:
    rec = Recorder()
    rec.gate.clear()
    group: GroupCall[int, int] = GroupCall(rec, limit=100)
    first = asyncio.create_task(group(0))
    await asyncio.sleep(0)  # the first batch starts alone, at once
    await asyncio.sleep(0)
    assert rec.batches == [[0]]
    rest = [asyncio.create_task(group(i)) for i in range(1, 8)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 0
    assert await asyncio.gather(*rest) == [10, 20, 30, 40, 50, 60, 70]
    assert rec.batches == [[0], [1, 2, 3, 4, 5, 6, 7]]


async def test_a_batch_never_holds_more_than_its_limit() -> None:
    rec = Recorder()
    group: GroupCall[int, int] = GroupCall(rec, limit=3)
    results = await asyncio.gather(*(group(i) for i in range(8)))
    assert results == [i * 10 for i in range(8)]
    assert [len(b) for b in rec.batches] == [3, 3, 2]
    assert sorted(i for b in rec.batches for i in b) == list(range(8))


async def test_an_item_that_fails_fails_only_its_own_caller() -> None:
    rec = Recorder()
    rec.raise_on = {2}
    group: GroupCall[int, int] = GroupCall(rec, limit=100)
    results = await asyncio.gather(*(group(i) for i in range(4)), return_exceptions=True)
    assert results[:2] == [0, 10] and results[3] == 30
    assert isinstance(results[2], ValueError) and str(results[2]) == "item 2"


async def test_a_failed_batch_reaches_every_caller_and_the_next_batch_still_runs() -> None:
    rec = Recorder()
    rec.explode = True
    group: GroupCall[int, int] = GroupCall(rec, limit=100)
    failed = await asyncio.gather(*(group(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in failed)
    rec.explode = False
    assert await group(5) == 50


async def test_a_cancelled_caller_does_not_take_the_others_down() -> None:
    rec = Recorder()
    rec.gate.clear()
    group: GroupCall[int, int] = GroupCall(rec, limit=100)
    tasks = [asyncio.create_task(group(i)) for i in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    rec.gate.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[0] == 0 and done[2] == 20
    assert isinstance(done[1], asyncio.CancelledError)


def test_a_batch_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        GroupCall(Recorder(), limit=0)


# -- the store's claims and records ---------------------------------------------------------


def feeds(store: Store, n: int) -> dict[str, int]:
    return store.sync_feeds([(f"f{i}", f"https://{i}.example/rss") for i in range(n)], T0)


def record(feed_id: int, **changes: object) -> PollRecord:
    values: dict[str, object] = {
        "owner": "r1",
        "started": T0,
        "finished": T0,
        "status": "not_modified",
        "http_status": 304,
        "items_new": 0,
        "next_poll_at": T0 + timedelta(minutes=10),
        "validators": ('"e"', "lm", "h"),
    }
    values.update(changes)
    return PollRecord(feed_id, **values)  # type: ignore[arg-type]


async def test_concurrent_claims_and_records_are_written_in_few_transactions(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = feeds(store, 60)
    batches: dict[str, list[int]] = {"claims": [], "records": []}
    claim_feeds, record_polls = store.claim_feeds, store.record_polls

    def counted_claims(claims: Sequence[Claim]) -> list[object]:
        batches["claims"].append(len(claims))
        return claim_feeds(claims)  # type: ignore[return-value]

    def counted_records(records: Sequence[PollRecord]) -> list[object]:
        batches["records"].append(len(records))
        return record_polls(records)  # type: ignore[return-value]

    monkeypatch.setattr(store, "claim_feeds", counted_claims)
    monkeypatch.setattr(store, "record_polls", counted_records)

    async def poll(name: str) -> None:
        row = await store.claim(name, "r1", T0, LEASE)
        assert row is not None and row.name == name
        await store.record(record(row.id, finished=T0 + timedelta(seconds=1)))

    await asyncio.gather(*(poll(name) for name in ids))
    assert sum(batches["claims"]) == 60 and sum(batches["records"]) == 60
    assert len(batches["claims"]) < 10 and len(batches["records"]) < 10
    rows = store.list_feeds()
    assert all(r.etag == '"e"' and r.last_status == "not_modified" for r in rows)
    assert all(r.next_poll_at == T0 + timedelta(minutes=10) for r in rows)
    history = store.poll_history()
    assert sorted(h["name"] for h in history) == sorted(ids)
    # the leases are released: another replica may claim every feed once it is due again
    later = T0 + timedelta(minutes=10)
    claimed = store.claim_feeds([Claim(n, "r2", later, LEASE) for n in ids])
    assert all(c is not None and not isinstance(c, BaseException) for c in claimed)


def test_a_batch_of_claims_honours_leases_and_due_times_per_feed(store: Store) -> None:
    ids = feeds(store, 3)
    assert store.claim_feed("f0", "r2", T0, LEASE) is not None  # another replica holds f0
    # f1 is not due for an hour
    store.record_polls([record(ids["f1"], next_poll_at=T0 + timedelta(hours=1))])
    got = store.claim_feeds(
        [Claim(f"f{i}", "r1", T0 + timedelta(minutes=1), LEASE) for i in range(3)]
    )
    assert [g.name if isinstance(g, FeedRow) else g for g in got] == [None, None, "f2"]
    forced = store.claim_feeds([Claim("f1", "r1", T0, LEASE, force=True)])
    assert forced[0] is not None and not isinstance(forced[0], BaseException)


def test_failures_in_one_batch_count_up_per_feed_and_success_resets(store: Store) -> None:
    ids = feeds(store, 2)
    a, b = ids["f0"], ids["f1"]
    outcomes = store.record_polls(
        [
            record(a, status="failed", http_status=None, error="boom", validators=None),
            record(b, status="failed", http_status=None, error="boom", validators=None),
            record(a, status="failed", http_status=None, error="again", validators=None),
        ]
    )
    assert outcomes == [None, None, None]
    fa, fb = store.feed("f0"), store.feed("f1")
    assert fa is not None and fb is not None
    assert (fa.consecutive_failures, fa.last_error, fa.etag) == (2, "again", None)
    assert (fb.consecutive_failures, fb.last_error) == (1, "boom")
    store.record_polls([record(a)])
    fa = store.feed("f0")
    assert fa is not None
    assert (fa.consecutive_failures, fa.last_error, fa.etag) == (0, None, '"e"')


def test_health_alerts_see_the_failures_before_and_after_each_record(store: Store) -> None:
    ids = feeds(store, 1)
    seen: list[tuple[int, int]] = []

    def health(before: int, after: int) -> None:
        seen.append((before, after))

    store.record_polls(
        [
            record(ids["f0"], error="x", status="failed", health=health),
            record(ids["f0"], error="y", status="failed", health=health),
            record(ids["f0"], health=health),
        ]
    )
    assert seen == [(0, 1), (1, 2), (2, 0)]


def test_a_record_that_breaks_its_transaction_fails_alone(store: Store) -> None:
    ids = feeds(store, 3)

    def broken(before: int, after: int) -> None:
        raise RuntimeError("health check broke")

    outcomes = store.record_polls(
        [record(ids["f0"]), record(ids["f1"], health=broken), record(ids["f2"])]
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], RuntimeError)
    history = sorted(h["name"] for h in store.poll_history())
    assert history == ["f0", "f2"]
    f1 = store.feed("f1")
    assert f1 is not None and f1.last_status is None  # nothing of it was written
