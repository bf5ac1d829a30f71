"""A store-only workload to be killed at random moments: the fast path of the storage test.

Run as `python -m tests.hostile.store_workload DB_URL`. This process (a zygote) imports the
store once, then for each `go SEED` line on stdin forks a worker, prints `pid N`, waits for the
worker to die (the test SIGKILLs it) and prints `reaped`. The worker opens the store (running
the migrations, as a restarting bot does) and does what a replay does to it, over and over:
store an article with an alert in one transaction, claim the alert, mark it sent. After each
commit it prints what it may now count on: `stored URL`, `sent DELIVERY_ID`.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta

from bot.models import Article, Match
from bot.store import NewAlert, Store, new_id


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # unbuffered: nothing is left in a buffer at the kill


def work(db_url: str, seed: int) -> None:
    rng = random.Random(seed)
    store = Store.open(db_url)
    # Each worker's clock starts past the lease (one minute) of every earlier worker's claims:
    # an alert a killed worker had claimed is due again, and the target's order lets the next
    # worker's alerts go out behind it.
    now = datetime(2025, 11, 26, tzinfo=UTC) + timedelta(minutes=2 * seed)
    for n in range(100_000):
        url = f"https://news.example/{seed}/{n}"
        article = Article(
            url=url,
            canonical_url=url,
            feed="wire",
            title=f"Witkoff to Moscow {seed}/{n}",
            text=" ".join(rng.choice(("talks", "envoy", "plan", "Moscow")) for _ in range(400)),
            published=now,
            fetched_at=now,
            content_hash=new_id(),
        )
        match = Match(rule_id="r", title=article.title, evidence=("Witkoff flew.",))

        def build(m: Match) -> NewAlert:
            alert_id = new_id()
            return NewAlert(m, alert_id, ("hook", "chat"), {"id": alert_id, "title": m.title})

        store.store_article(
            article,
            feed_id=None,
            baseline=False,
            duplicate_of=None,
            matches=[match],
            build=build,
            now=now,
        )
        _say(f"stored {url}")
        for row in store.claim_due(now, f"worker-{seed}", timedelta(minutes=1)):
            if rng.random() < 0.2:
                store.mark_retry(row.delivery_id, "HTTP 503", now)
                continue
            store.mark_sent(row.delivery_id, now)
            _say(f"sent {row.delivery_id}")


def main() -> None:
    db_url = sys.argv[1]
    for line in sys.stdin:
        seed = int(line.split()[1])
        sys.stdout.flush()
        go, started = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(started)
                os.read(go, 1)  # the pid line goes out before anything the worker says
                work(db_url, seed)
            finally:
                os._exit(0)
        os.close(go)
        _say(f"pid {pid}")
        os.write(started, b"!")
        os.close(started)
        _, status = os.waitpid(pid, 0)
        _say(f"reaped {status}")


if __name__ == "__main__":
    main()
