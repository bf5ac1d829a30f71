"""Retention, database upkeep and the status page's reads, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dedup import Signature, content_hash
from bot.models import Article, Match
from bot.store import NewAlert, Store, new_id

T0 = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)


def article(n: int, fetched: datetime, text: str | None = None) -> Article:
    body = text if text is not None else f"Witkoff met Umerov in Geneva, report number {n}."
    return Article(
        url=f"https://news.example/{n}",
        canonical_url=f"https://news.example/{n}",
        feed="wire",
        title=f"Title {n}",
        text=body,
        published=fetched,
        fetched_at=fetched,
        content_hash=content_hash(body),
    )


def store_with_alert(
    store: Store,
    n: int,
    at: datetime,
    *,
    feed_id: int | None = None,
    targets: tuple[str, ...] = ("chat",),
) -> tuple[int, str]:
    alert_id = new_id()
    stored = store.store_article(
        article(n, at),
        feed_id=feed_id,
        baseline=False,
        duplicate_of=None,
        matches=[
            Match(
                rule_id="envoy-visit",
                title=f"Witkoff to Geneva ({n})",
                evidence=(f"Witkoff met Umerov in Geneva, report number {n}.",),
                values={"envoy": "Witkoff", "place": "Geneva"},
                key=("Witkoff", "Geneva"),
            )
        ],
        build=lambda m: NewAlert(m, alert_id, targets, {"title": m.title}),
        now=at,
    )
    assert stored is not None
    return stored.id, alert_id


def test_old_article_text_is_dropped_and_what_dedup_and_triggers_need_stays(store: Store) -> None:
    old_id, _ = store_with_alert(store, 1, T0)
    new_id_, _ = store_with_alert(store, 2, T0 + timedelta(days=100))
    before = store.article(old_id)
    assert before is not None and before["text"]

    assert store.drop_old_text(T0 + timedelta(days=10)) == 1
    old, recent = store.article(old_id), store.article(new_id_)
    assert old is not None and recent is not None
    assert old["text"] == "" and recent["text"]
    for kept in ("title", "url", "canonical_url", "content_hash", "published_at", "extraction"):
        assert old[kept] == before[kept], kept
    assert len(store.matches_for([old_id])) == 1
    # dedup still finds it
    assert store.original_of(before["content_hash"], Signature(b"")) == (old_id, "hash")
    assert store.known_urls([before["canonical_url"]]) == {before["canonical_url"]}
    assert store.drop_old_text(T0 + timedelta(days=10)) == 0  # idempotent


def test_retention_works_in_batches_past_the_batch_size(store: Store) -> None:
    from bot.store import _maintenance

    for n in range(_maintenance.RETENTION_BATCH + 3):
        store.store_article(article(n, T0), feed_id=None, baseline=True, duplicate_of=None, now=T0)
    assert store.drop_old_text(T0 + timedelta(days=1)) == _maintenance.RETENTION_BATCH + 3
    assert all(a["text"] == "" for a in store.list_articles())


def test_old_polls_and_sent_deliveries_are_pruned_and_unsent_ones_kept(store: Store) -> None:
    [feed_id] = store.sync_feeds([("wire", "https://wire.example/rss")], T0).values()
    for day in (0, 1, 50):
        at = T0 + timedelta(days=day)
        store.record_poll(
            feed_id,
            owner="r",
            started=at,
            finished=at,
            status="parsed",
            http_status=200,
            items_new=0,
            next_poll_at=at,
        )
    for n in range(3):
        store_with_alert(store, n + 1, T0 + timedelta(seconds=n))
    rows = {r.payload["title"]: r for r in store.list_outbox()}
    store.mark_sent(rows["Witkoff to Geneva (1)"].delivery_id, T0)
    store.mark_dead(rows["Witkoff to Geneva (2)"].delivery_id, "HTTP 400")

    report = store.apply_retention(T0 + timedelta(days=10))
    assert (report.polls_pruned, report.deliveries_pruned, report.texts_dropped) == (2, 1, 3)
    assert [p["started_at"] for p in store.poll_history("wire")] == [T0 + timedelta(days=50)]
    assert sorted(r.state for r in store.list_outbox()) == ["dead", "pending"]
    assert len(store.list_matches()) == 3  # the alerts themselves stay
    assert store.feed("wire") is not None


def test_retention_leaves_no_lsh_band_or_story_term_of_the_articles_it_dropped(
    store: Store,
) -> None:
    from sqlalchemy import func, select

    from bot.dedup import signature, story_features
    from bot.store._dedup import article_signatures, lsh_bands, stories, story_terms
    from bot.store._tables import articles

    old_text = "Witkoff met Umerov in Geneva on Sunday to discuss the draft peace plan. " * 3
    new_text = "The city council approved a new budget for the public library on Tuesday. " * 3
    old_id = store.store_article(
        article(1, T0, old_text), feed_id=None, baseline=False, duplicate_of=None, now=T0
    )
    recent = T0 + timedelta(days=100)
    new_id_ = store.store_article(
        article(2, recent, new_text), feed_id=None, baseline=False, duplicate_of=None, now=recent
    )
    assert old_id is not None and new_id_ is not None
    for stored, when, body in ((old_id, T0, old_text), (new_id_, recent, new_text)):
        store.add_signature(None, stored.id, signature(body))
        store.assign_story(None, stored.id, story_features(f"Title {stored.id}", body), when)

    report = store.apply_retention(T0 + timedelta(days=10))

    dropped = select(articles.c.id).where(articles.c.text == "")
    dropped_stories = select(articles.c.story_id).where(articles.c.text == "")
    with store.engine.connect() as conn:

        def count(table: Any, condition: Any) -> int:
            return int(conn.scalar(select(func.count()).select_from(table).where(condition)))

        assert count(lsh_bands, lsh_bands.c.article_id.in_(dropped)) == 0
        assert count(article_signatures, article_signatures.c.article_id.in_(dropped)) == 0
        assert count(story_terms, story_terms.c.story_id.in_(dropped_stories)) == 0
        # the recent article's index is untouched, and the old story itself stays listed
        assert count(lsh_bands, lsh_bands.c.article_id == new_id_.id) > 0
        assert count(story_terms, story_terms.c.story_id.not_in(dropped_stories)) > 0
        assert count(stories, stories.c.id.in_(dropped_stories)) == 1
    assert (report.signatures_pruned, report.stories_unindexed) == (1, 1)
    assert store.apply_retention(T0 + timedelta(days=10)).signatures_pruned == 0


def test_the_near_duplicate_index_is_pruned_in_batches_past_the_batch_size(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.dedup import signature
    from bot.store import _maintenance

    monkeypatch.setattr(_maintenance, "RETENTION_BATCH", 2)
    for n in range(5):
        body = f"Report {n}: envoys met in Geneva to talk about the draft peace plan again."
        stored = store.store_article(
            article(n, T0, body), feed_id=None, baseline=True, duplicate_of=None, now=T0
        )
        assert stored is not None
        store.add_signature(None, stored.id, signature(body))
    assert store.prune_near_duplicate_index(T0 + timedelta(days=1)) == 5
    assert store.prune_near_duplicate_index(T0 + timedelta(days=1)) == 0


def test_maintenance_runs_on_each_database(store: Store) -> None:
    store_with_alert(store, 1, T0)
    done = store.maintain()
    if store.dialect == "postgresql":
        assert done == ["analyze"]
    else:
        assert done[0] == "optimize" and done[-1] == "wal_checkpoint"
    store.ping()  # and the store still works


def test_sqlite_gives_free_pages_back_once_a_quarter_of_the_file_is_free(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        big = "lorem ipsum dolor " * 2000
        for n in range(300):
            store.store_article(
                article(n, T0, f"{n} {big}"), feed_id=None, baseline=True, duplicate_of=None, now=T0
            )
        store.maintain()
        full = db.stat().st_size
        store.drop_old_text(T0 + timedelta(days=1))
        done = store.maintain()
        assert any(step.startswith("vacuum") for step in done), done
        assert db.stat().st_size < full / 4
        for n in range(300, 400):
            store.store_article(
                article(n, T0, f"{n} {big}"), feed_id=None, baseline=True, duplicate_of=None, now=T0
            )
        store.drop_old_text(T0 + timedelta(days=1))
        assert any(step.startswith("incremental_vacuum") for step in store.maintain())
    finally:
        store.close()


def test_recent_alerts_are_newest_first_with_their_article_feed_and_deliveries(
    store: Store,
) -> None:
    [feed_id] = store.sync_feeds([("wire", "https://wire.example/rss")], T0).values()
    store_with_alert(store, 1, T0, feed_id=feed_id, targets=("chat", "log"))
    _, second = store_with_alert(store, 2, T0 + timedelta(minutes=1), targets=())
    alerts = store.recent_alerts(10)
    assert [a.alert_id for a in alerts][:1] == [second]
    first = alerts[1]
    assert first.rule_id == "envoy-visit"
    assert first.values == {"envoy": "Witkoff", "place": "Geneva"}
    assert first.evidence == ["Witkoff met Umerov in Geneva, report number 1."]
    assert (first.article_title, first.article_url, first.feed) == (
        "Title 1",
        "https://news.example/1",
        "wire",
    )
    assert [(d.target, d.state) for d in first.deliveries] == [
        ("chat", "pending"),
        ("log", "pending"),
    ]
    assert alerts[0].deliveries == () and alerts[0].feed is None
    assert len(store.recent_alerts(1)) == 1


def test_the_outbox_summary_and_the_oldest_pending_age(store: Store) -> None:
    assert store.oldest_pending_age(T0) is None
    store_with_alert(store, 1, T0)
    store_with_alert(store, 2, T0 + timedelta(minutes=5))
    rows = {r.payload["title"]: r for r in store.list_outbox()}
    store.mark_dead(rows["Witkoff to Geneva (2)"].delivery_id, "HTTP 410: gone")
    summary = store.outbox_summary()
    assert summary.counts == {"pending": 1, "dead": 1}
    assert summary.oldest_pending_at == T0
    assert [(d.title, d.state, d.last_error) for d in summary.open] == [
        ("Witkoff to Geneva (2)", "dead", "HTTP 410: gone"),
        ("Witkoff to Geneva (1)", "pending", None),
    ]
    assert store.oldest_pending_age(T0 + timedelta(minutes=10)) == 600.0
    gauges = store.gauges(T0 + timedelta(minutes=10))
    assert gauges.outbox_depth == {"pending": 1, "dead": 1}
    assert gauges.oldest_pending_age == 600.0


def test_the_feed_overview_has_health_last_good_poll_and_article_count(store: Store) -> None:
    ids = store.sync_feeds(
        [("wire", "https://wire.example/rss"), ("quiet", "https://quiet.example/rss")], T0
    )
    store.record_poll(
        ids["wire"],
        owner="r",
        started=T0,
        finished=T0,
        status="parsed",
        http_status=200,
        items_new=1,
        next_poll_at=T0,
    )
    later = T0 + timedelta(minutes=15)
    store.record_poll(
        ids["wire"],
        owner="r",
        started=later,
        finished=later,
        status="failed",
        http_status=None,
        items_new=0,
        next_poll_at=later,
        error="HTTP 503",
    )
    store_with_alert(store, 1, T0, feed_id=ids["wire"])
    views = {v.name: v for v in store.feed_overview()}
    wire, quiet = views["wire"], views["quiet"]
    assert (wire.consecutive_failures, wire.last_error, wire.articles) == (1, "HTTP 503", 1)
    assert wire.last_ok_at == T0 and wire.last_polled_at == later
    assert (quiet.last_polled_at, quiet.last_ok_at, quiet.articles) == (None, None, 0)
    assert store.gauges(later).feed_failures == {"wire": 1, "quiet": 0}
    store.ping()


def test_bot_maintain_applies_the_retention_it_is_given(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    db = tmp_path / "bot.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        old = datetime.now(UTC) - timedelta(days=40)
        store_with_alert(store, 1, old)
        store_with_alert(store, 2, datetime.now(UTC))
    finally:
        store.close()

    def maintain(*args: str, retention: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "maintain", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "BOT_DB_URL": f"sqlite:///{db}", "BOT_RETENTION": retention},
        )

    kept = maintain()  # 90 days by default
    assert kept.returncode == 0, kept.stderr
    assert "retention 90d: 0 article texts dropped" in kept.stdout
    dropped = maintain(retention="30d")
    assert "retention 30d: 1 article texts dropped" in dropped.stdout
    assert "database: optimize" in dropped.stdout
    assert "retention off" in maintain("--retention", "off").stdout
    bad = maintain(retention="soon")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: BOT_RETENTION:")
