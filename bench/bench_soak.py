"""Soak: `bot run` on replayed traffic for `--minutes`; its memory at the start and the end.

A corpus is generated from ../shared/corpus/seeds.jsonl: `--rate` new articles a second for the
whole run, spread over `--feeds` outlets, each a distinct text (sentences of one seed with one
of another, its own dateline and numbers), published in real time. `bot.replay.ReplayServer`
serves it on loopback (its own process, `--clock live`: each article appears when the real
time passes its publication time) with a webhook receiver. The bot is a real `bot run` process
(SQLite in a temporary folder, the default rule pack plus one keyword rule, every feed polled
each `--interval`, alerts delivered to the receiver). Every `--sample` seconds the resident set
of the bot process and of its extraction workers is read; after a warm-up (a tenth of the run,
at least 40 s: the first article appears 20 s in, the workers start on demand), the median of
the first tenth of the samples is the start, the median of the last tenth is the end, and a
least-squares line over all of them gives the trend.

    .venv/bin/python bench/bench_soak.py [--minutes 30] [--rate 2] [--feeds 100] [--interval 10s]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._harness import (  # noqa: E402
    PYTHON,
    SEEDS,
    ServerProcess,
    Summary,
    children_of,
    command_line,
    load_average,
    rss_kib,
    table,
    verdict,
    write_rules_dir,
)
from bench.results import write_section  # noqa: E402

TARGET = 0.10  # end within 10% of start
KEYWORD_RULE = """\
id: putin-mention
title: "Putin mentioned"
scope: article
when:
  any: [Putin]
"""
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")


def generate(out: Path, start: datetime, seconds: float, rate: float, feeds: int) -> int:
    """Write the soak's corpus; returns the number of articles."""
    rng = random.Random(11)
    seeds = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines() if line]
    sentences = [
        [s for p in seed["text"].split("\n") for s in _SENTENCES.split(p.strip()) if s]
        for seed in seeds
    ]
    n = int(seconds * rate)
    with out.open("w", encoding="utf-8") as fh:
        for k in range(n):
            i = rng.randrange(len(seeds))
            own = sentences[i]
            first = rng.randrange(max(1, len(own) - 12))
            body = own[first : first + 12]
            body.insert(rng.randrange(len(body) + 1), rng.choice(sentences[(i + 1) % len(seeds)]))
            paragraphs = [" ".join(body[j : j + 3]) for j in range(0, len(body), 3)]
            dateline = f"KYIV, report {k}: officials counted {rng.randrange(2, 900)} new cases."
            record = {
                "id": f"soak-{k}",
                "title": f"{seeds[i]['title']} ({k})",
                "outlet": f"outlet-{k % feeds:03d}",
                "published": (start + timedelta(seconds=k / rate)).isoformat(),
                "text": "\n".join([dateline, *paragraphs]),
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


def fit(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return 0.0
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=2.0, help="new articles per second")
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--interval", default="10s", help="every feed's poll interval")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    ap.add_argument("--summary", help="write summary rows (JSON) here, for bench/run_all.py")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args(argv)
    load_at_start = load_average()
    command = command_line("bench/bench_soak.py", argv)
    seconds = args.minutes * 60
    warmup = max(40.0, seconds / 10)  # articles start 20 s in; workers start on demand
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmpdir:
        tmp = Path(tmpdir)
        corpus = tmp / "soak.jsonl"
        begin = datetime.now(UTC) + timedelta(seconds=20)
        n = generate(corpus, begin, seconds + 30, args.rate, args.feeds)
        samples: list[tuple[float, int, int]] = []  # (t, bot KiB, workers KiB)
        delivered = 0
        with ServerProcess(
            ["--replay", str(corpus), "--hosts", "50", "--clock", "live", "--receiver"],
            ttl=seconds + 600,
        ) as server:
            feeds = sorted(server.info["replay"].items())
            rules = write_rules_dir(
                tmp / "rules", feeds, interval=args.interval, webhook_url=server.info["receiver"]
            )
            (rules / "putin-mention.yaml").write_text(KEYWORD_RULE, encoding="utf-8")
            db = tmp / "bot.db"
            env = {
                **os.environ,
                "BOT_DB_URL": f"sqlite:///{db}",
                "BOT_RULES_DIR": str(rules),
                "BOT_NET_ALLOW": "127.0.0.0/8",
                "BOT_HTTP_PORT": "0",
                "BOT_LOG_FORMAT": "json",
                "BOT_DELIVERY_INTERVAL": "1s",
                "BOT_REPLICA_ID": "soak",
            }
            log = (tmp / "bot.log").open("w")
            bot = subprocess.Popen(
                [PYTHON, "-m", "bot", "run"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started = time.monotonic()
            print(
                f"soak: {args.minutes:g} min, {n} articles at {args.rate:g}/s over {args.feeds} "
                f"feeds polled every {args.interval}; bot pid {bot.pid}",
                flush=True,
            )
            try:
                next_report = started + 60
                while (now := time.monotonic()) - started < seconds:
                    if bot.poll() is not None:
                        raise RuntimeError(f"the bot exited with {bot.returncode}")
                    workers = children_of(bot.pid)
                    samples.append(
                        (now - started, rss_kib(bot.pid), sum(rss_kib(p) for p in workers))
                    )
                    delivered += int(server.command("received").get("delivered", 0))
                    if now >= next_report:
                        next_report += 60
                        print(
                            f"  {(now - started) / 60:5.1f} min: bot {samples[-1][1] / 1024:.0f} "
                            f"MiB, workers {samples[-1][2] / 1024:.0f} MiB, "
                            f"{count(db, 'SELECT count(*) FROM articles')} articles stored, "
                            f"{delivered} alerts delivered",
                            flush=True,
                        )
                    time.sleep(args.sample)
                stored = count(db, "SELECT count(*) FROM articles")
                polls = count(db, "SELECT count(*) FROM feed_polls")
                failed = count(db, "SELECT count(*) FROM feed_polls WHERE status = 'failed'")
                pending = count(db, "SELECT count(*) FROM outbox WHERE state != 'sent'")
                published = sum(
                    1
                    for line in corpus.read_text(encoding="utf-8").splitlines()
                    if datetime.fromisoformat(json.loads(line)["published"]) <= datetime.now(UTC)
                )
            finally:
                bot.send_signal(signal.SIGTERM)
                try:
                    bot.wait(60)
                except subprocess.TimeoutExpired:
                    bot.kill()
                    bot.wait(10)
                log.close()
            error_lines = [
                line
                for line in (tmp / "bot.log").read_text(errors="replace").splitlines()
                if '"level": "error"' in line
            ]
            errors = len(error_lines)
            for line in error_lines[:3]:
                print(f"  bot error: {line[:400]}")
    kept = [s for s in samples if s[0] >= warmup]
    tenth = max(1, len(kept) // 10)
    start_bot = statistics.median(s[1] for s in kept[:tenth]) / 1024
    end_bot = statistics.median(s[1] for s in kept[-tenth:]) / 1024
    start_w = statistics.median(s[2] for s in kept[:tenth]) / 1024
    end_w = statistics.median(s[2] for s in kept[-tenth:]) / 1024
    slope_bot = fit([(s[0] / 3600, s[1] / 1024) for s in kept])
    slope_w = fit([(s[0] / 3600, s[2] / 1024) for s in kept])
    growth = end_bot / start_bot - 1
    peak = max(s[1] for s in samples) / 1024
    trend = [f"{s[1] / 1024:.0f}" for s in kept[:: max(1, len(kept) // 12)]]
    rows = [
        [
            "bot process",
            f"{start_bot:.1f}",
            f"{end_bot:.1f}",
            f"**{growth:+.1%}**",
            f"{slope_bot:+.1f}",
            f"{peak:.1f}",
        ],
        [
            "extraction workers (all)",
            f"{start_w:.1f}",
            f"{end_w:.1f}",
            f"{end_w / start_w - 1:+.1%}" if start_w else "",
            f"{slope_w:+.1f}",
            f"{max(s[2] for s in samples) / 1024:.1f}",
        ],
    ]
    text = "\n".join(
        [
            f"`bot run` for {args.minutes:g} min on replayed traffic: {args.rate:g} new articles/s "
            f"over {args.feeds} feeds polled every {args.interval}; RSS sampled every "
            f"{args.sample:g} s ({len(samples)} samples), the first {warmup:.0f} s left out as "
            f"warm-up. Target: end within {TARGET:.0%} of start.",
            "",
            table(
                [
                    "process",
                    "RSS at start MiB",
                    "RSS at end MiB",
                    "end ÷ start",
                    "trend MiB/hour",
                    "peak MiB",
                ],
                rows,
            ),
            "",
            f"Bot RSS over the run (MiB, evenly spaced samples): {' → '.join(trend)}.",
            "",
            f"Work done: {stored} articles stored of {published} published, {polls} polls "
            f"({failed} failed), {delivered} alerts delivered, {pending} deliveries not sent at "
            f"the end, {errors} error lines in the bot's log.",
        ]
    )
    print(text)
    bounds = f"""\
**What bounds it.** The bot process's resident set is its interpreter, the imported libraries
(trafilatura and lxml are imported in the extraction workers, not here), SQLAlchemy's statement
cache and connection pool, APScheduler's {args.feeds} jobs and the Prometheus registry (labels by
feed and by rule: bounded by the configuration, not by traffic). The process keeps no Python
object per article once it is stored (a tracemalloc comparison over 5 minutes of this load,
2026-12-04, found the Python heap flat); native memory (SQLite's page cache of each pooled
connection, the C allocator's per-thread arenas) can still grow, and the bot's trend line is
where that shows. The extraction
workers' memory is lxml's and trafilatura's, and it rises until each worker has parsed its
largest pages (their first-tenth figure can be taken before both workers have started, so
their ratio says little); the trend line is the figure to watch. The flatness is measured
against {stored} stored articles; a longer `--minutes` gives the trend more weight."""
    if not args.no_write:
        write_section(
            f"Soak, {args.minutes:g} minutes",
            text + "\n\n" + bounds + f"\n\nLoad average at start: {load_at_start}.",
            command.strip(),
        )
    Summary.write(
        args.summary,
        [
            Summary(
                "soak",
                f"bot RSS over {args.minutes:g} min",
                f"{start_bot:.0f} → {end_bot:.0f} MiB",
                "its own start",
                f"{end_bot / start_bot:.2f}",
                f"≤ {1 + TARGET:.2f}",
                verdict(growth <= TARGET),
            )
        ],
    )


if __name__ == "__main__":
    main()
