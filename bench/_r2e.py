"""Drive rss2email's own `run` over a configuration, timing the polling loop only.

    python -m bench._r2e CONFIG DATAFILE   → one JSON line: seconds, HTTP statuses, errors

Interpreter start-up and reading the configuration are left out, so rss2email is timed on
what it does per feed: feedparser's conditional GET with urllib, parsing, its seen-state, and
saving its data file at the end, as `r2e run --no-send` does.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("data")
    args = ap.parse_args()
    from rss2email import command, feed, feeds

    logging.getLogger("rss2email").setLevel(logging.CRITICAL)
    statuses: Counter[str] = Counter()
    fetch = feed.Feed._fetch

    def counted(self: Any) -> Any:
        parsed = fetch(self)
        statuses[str(parsed.get("status", "error"))] += 1
        return parsed

    feed.Feed._fetch = counted  # type: ignore[method-assign]
    store = feeds.Feeds(configfiles=[args.config], datafile_path=args.data)
    store.load()
    start = time.perf_counter()
    command.run(store, argparse.Namespace(index=None, send=False, clean=False))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "feeds": len(store), "statuses": statuses}))


if __name__ == "__main__":
    main()
