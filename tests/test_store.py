"""The store's behaviour, on a SQLite file and on the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.dedup import Signature
from bot.models import Article, Match
from bot.store import MIGRATIONS, NewAlert, Store, migrate, new_id

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
NO_SIGNATURE = Signature(b"")  # a text without words: only its hash can find an original


def make_article(url: str = "https://news.example/a", text_: str = "Body.") -> Article:
    return Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title="Title",
        text=text_,
        published=T0,
        fetched_at=T0,
        content_hash="h-" + text_,
    )


def alert_for(rule: str, targets: tuple[str, ...] = ("chat",)) -> Match:
    return Match(
        rule_id=rule,
        title=f"{rule} fired",
        evidence=("A sentence.",),
        values={"k": 1},
        targets=targets,
    )


def build(match: Match) -> NewAlert:
    return NewAlert(
        match=match, alert_id=new_id(), targets=match.targets, payload={"rule": match.rule_id}
    )


def test_migrations_are_recorded_once(store: Store) -> None:
    assert migrate(store.engine) == []
    with store.engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT name FROM schema_migrations"))]
    assert names == [name for name, _ in MIGRATIONS]


def test_sync_feeds_creates_rows_and_a_new_url_starts_afresh(store: Store) -> None:
    ids = store.sync_feeds([("wire", "https://a.example/rss")], T0)
    feed_id = ids["wire"]
    store.record_poll(
        feed_id,
        owner="r1",
        started=T0,
        finished=T0,
        status="parsed",
        http_status=200,
        items_new=0,
        next_poll_at=T0,
        validators=('"e1"', "lm", "hash"),
    )
    assert store.feed("wire").baseline_done  # type: ignore[union-attr]
    assert store.sync_feeds([("wire", "https://a.example/rss")], T0) == {"wire": feed_id}
    assert store.feed("wire").etag == '"e1"'  # type: ignore[union-attr]
    store.sync_feeds([("wire", "https://b.example/rss")], T0)
    row = store.feed("wire")
    assert row is not None
    assert (row.url, row.etag, row.baseline_done) == ("https://b.example/rss", None, False)


def test_a_leased_feed_is_not_claimed_by_another_replica_until_the_lease_expires(
    store: Store,
) -> None:
    store.sync_feeds([("wire", "https://a.example/rss")], T0)
    lease = timedelta(minutes=2)
    assert store.claim_feed("wire", "r1", T0, lease) is not None
    assert store.claim_feed("wire", "r2", T0 + timedelta(minutes=1), lease) is None
    assert store.claim_feed("wire", "r2", T0 + timedelta(minutes=3), lease) is not None


def test_a_feed_is_not_claimed_before_its_next_poll(store: Store) -> None:
    feed_id = store.sync_feeds([("wire", "https://a.example/rss")], T0)["wire"]
    store.record_poll(
        feed_id,
        owner="r1",
        started=T0,
        finished=T0,
        status="failed",
        http_status=500,
        items_new=0,
        next_poll_at=T0 + timedelta(minutes=10),
        error="HTTP 500",
    )
    assert store.claim_feed("wire", "r1", T0 + timedelta(minutes=5), timedelta(minutes=1)) is None
    row = store.claim_feed("wire", "r1", T0 + timedelta(minutes=11), timedelta(minutes=1))
    assert row is not None
    assert (row.consecutive_failures, row.last_error) == (1, "HTTP 500")


def test_failures_count_up_and_a_success_resets_them(store: Store) -> None:
    feed_id = store.sync_feeds([("wire", "https://a.example/rss")], T0)["wire"]
    for _ in range(3):
        store.record_poll(
            feed_id,
            owner="r1",
            started=T0,
            finished=T0,
            status="failed",
            http_status=None,
            items_new=0,
            next_poll_at=T0,
            error="timeout",
        )
    assert store.feed("wire").consecutive_failures == 3  # type: ignore[union-attr]
    store.record_poll(
        feed_id,
        owner="r1",
        started=T0,
        finished=T0,
        status="not_modified",
        http_status=304,
        items_new=0,
        next_poll_at=T0,
    )
    row = store.feed("wire")
    assert row is not None
    assert (row.consecutive_failures, row.last_error, row.last_status) == (0, None, "not_modified")
    assert [p["status"] for p in store.poll_history("wire")] == ["failed"] * 3 + ["not_modified"]


def test_article_matches_and_outbox_rows_are_written_together(store: Store) -> None:
    feed_id = store.sync_feeds([("wire", "https://a.example/rss")], T0)["wire"]
    article_id = store.store_article(
        make_article(),
        feed_id=feed_id,
        baseline=False,
        duplicate_of=None,
        matches=[alert_for("envoy-visit", ("chat", "console"))],
        build=build,
        now=T0,
    )
    assert article_id is not None
    assert store.count("matches") == 1
    rows = store.list_outbox()
    assert sorted(r.target for r in rows) == ["chat", "console"]
    assert {r.state for r in rows} == {"pending"}
    assert len({r.delivery_id for r in rows}) == 2


def test_the_same_canonical_url_is_stored_once_and_the_loser_writes_nothing(store: Store) -> None:
    first = store.store_article(
        make_article(),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[alert_for("r")],
        build=build,
        now=T0,
    )
    second = store.store_article(
        make_article(text_="Other body."),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[alert_for("r")],
        build=build,
        now=T0,
    )
    assert first is not None and second is None
    assert (store.count("articles"), store.count("matches"), store.count("outbox")) == (1, 1, 1)
    assert store.known_urls(["https://news.example/a", "https://news.example/b"]) == {
        "https://news.example/a"
    }


def test_the_text_hash_finds_the_first_non_duplicate(store: Store) -> None:
    a = store.store_article(
        make_article("https://x.example/1"),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        now=T0,
    )
    store.store_article(
        make_article("https://x.example/2"),
        feed_id=None,
        baseline=False,
        duplicate_of=a.id,
        now=T0,
    )
    assert a is not None
    assert store.original_of("h-Body.", NO_SIGNATURE) == (a.id, "hash")
    assert store.original_of("h-none", NO_SIGNATURE) is None


def test_outbox_claims_are_leased_and_finished_states_stick(store: Store) -> None:
    store.store_article(
        make_article(),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[alert_for("a"), alert_for("b")],
        build=build,
        now=T0,
    )
    lease = timedelta(seconds=30)
    claimed = store.claim_due(T0, "r1", lease)
    assert [r.rule_id for r in claimed] == ["a", "b"]
    assert store.claim_due(T0 + timedelta(seconds=1), "r2", lease) == []
    store.mark_sent(claimed[0].delivery_id, T0)
    store.mark_retry(claimed[1].delivery_id, "HTTP 503", T0 + timedelta(minutes=1))
    assert store.claim_due(T0 + timedelta(seconds=2), "r1", lease) == []
    again = store.claim_due(T0 + timedelta(minutes=2), "r1", lease)
    assert [(r.rule_id, r.attempts, r.last_error) for r in again] == [("b", 1, "HTTP 503")]
    store.mark_dead(again[0].delivery_id, "HTTP 404")
    assert [r.rule_id for r in store.list_outbox(state="dead")] == ["b"]
    assert store.retry_now(again[0].delivery_id, T0)
    assert not store.retry_now(claimed[0].delivery_id, T0)  # already sent


def test_an_expired_outbox_lease_is_taken_over(store: Store) -> None:
    store.store_article(
        make_article(),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[alert_for("a")],
        build=build,
        now=T0,
    )
    lease = timedelta(seconds=30)
    first = store.claim_due(T0, "r1", lease)
    later = store.claim_due(T0 + timedelta(seconds=31), "r2", lease)
    assert [r.delivery_id for r in later] == [first[0].delivery_id]


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    store.sync_feeds([("wire", "https://a.example/rss")], T0)
    row = store.claim_feed("wire", "r1", T0, timedelta(seconds=5))
    assert row is not None
    feed_id = row.id
    store.record_poll(
        feed_id,
        owner="r1",
        started=T0,
        finished=T0,
        status="parsed",
        http_status=200,
        items_new=0,
        next_poll_at=T0 + timedelta(minutes=15),
    )
    polled = store.feed("wire")
    assert polled is not None and polled.next_poll_at == T0 + timedelta(minutes=15)
    assert polled.next_poll_at.tzinfo is UTC


def test_trigger_state_is_kept_in_the_database_between_articles(db_url: str) -> None:
    from bot.models import Trigger
    from bot.rules import decide

    match = Match(
        rule_id="visit",
        title="t",
        evidence=("e",),
        key=("Witkoff", "Moscow"),
        trigger=Trigger(kind="new", window=timedelta(days=14)),
    )
    first = Store.open(db_url)
    stored = first.store_article(
        make_article("https://x.example/1"),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[match],
        decide=decide,
        build=build,
        now=T0,
    )
    first.close()
    assert stored is not None and len(stored.alerts) == 1
    again = Store.open(db_url)  # a restart: the state comes from the database
    repeat = again.store_article(
        make_article("https://x.example/2"),
        feed_id=None,
        baseline=False,
        duplicate_of=None,
        matches=[match],
        decide=decide,
        build=build,
        now=T0 + timedelta(days=1),
    )
    assert repeat is not None and repeat.alerts == [] and repeat.held == [("visit", "seen")]
    assert again.count("matches") == 1
    [state] = again.trigger_states("visit")
    assert state["last_seen"] == T0 + timedelta(days=1)
    again.close()


def test_a_trip_alerted_at_a_place_inside_holds_a_report_of_it_at_the_larger_place(
    store: Store,
) -> None:
    """A match's `related` keys name its trip more closely (Geneva for Switzerland): one of
    them alerted within RELATED_SPAN holds the match as seen, on SQLite and on PostgreSQL;
    the held report is no report of its own key."""
    from bot.models import Trigger
    from bot.rules import decide
    from bot.store._triggers import RELATED_SPAN

    def trip(place: str, *inside: str, who: str = "Rubio") -> Match:
        return Match(
            rule_id="visit",
            title=f"{who} to {place}",
            evidence=("e",),
            key=(who, place),
            related=tuple((who, p) for p in inside),
            trigger=Trigger(kind="new", window=timedelta(days=10)),
        )

    def report(n: int, match: Match, at: datetime) -> list[str]:
        stored = store.store_article(
            make_article(f"https://x.example/{n}", f"text {n}"),
            feed_id=None,
            baseline=False,
            duplicate_of=None,
            matches=[match],
            decide=decide,
            build=build,
            now=at,
        )
        assert stored is not None
        return [a.match.title for a in stored.alerts] + [r for _, r in stored.held]

    assert report(1, trip("Geneva"), T0) == ["Rubio to Geneva"]
    assert report(2, trip("Switzerland", "Davos", "Geneva"), T0 + timedelta(days=1)) == ["seen"]
    held = [s for s in store.trigger_states("visit") if "Switzerland" in s["key"]]
    assert [s["last_seen"] for s in held] in ([], [None])
    # past RELATED_SPAN from the alert inside, a report at the larger place may be of the
    # next round, and is news
    assert timedelta(days=4) > RELATED_SPAN
    later = T0 + timedelta(days=4)
    assert report(3, trip("Switzerland", "Geneva"), later) == ["Rubio to Switzerland"]
    # a report at a place inside one alerted says more closely where: news
    assert report(4, trip("Florida", "Miami", who="Umerov"), T0) == ["Umerov to Florida"]
    assert report(5, trip("Miami", who="Umerov"), T0) == ["Umerov to Miami"]
    # another actor's trip holds nothing
    assert report(6, trip("Switzerland", "Geneva", who="Yermak"), T0) == ["Yermak to Switzerland"]
