"""Pipeline throughput: articles per second end to end, against bare trafilatura (the bound).

The bot polls every feed of a loopback server (in its own process) at once, as `bot run --once`
does: feed fetched and parsed, each page fetched, extracted in the bot's process pool, checked
against what is stored (URL, text hash), matched against the default rule pack, and stored with
its alerts in the outbox, in one transaction per article. Delivery is not included. The bound:
`trafilatura.extract` over the same page bytes, already in memory, in a process pool of the
same size (forkserver, one page per task, as the bot submits them). Two more rows tell what
the extraction options and the rest of the worker's job cost from what the rest of the pipeline
costs: `trafilatura.extract` with the options the bot passes (fast, no comments, no tables), and
the bot's whole worker call (`bot.extract.process_page`: extraction, metadata, the MinHash
signature and the story features of the text). The bound is measured before
and after the bot, and the mean taken, so that a change of load on the machine shows.

Corpora (`--corpus`):
- `seeds`: ../shared/corpus/seeds.jsonl replicated to `--articles` articles with new ids and
  outlets, each copy a distinct text (its seed's paragraphs, one paragraph of another seed, its
  own dateline), served by `bot.replay.ReplayServer` as one feed per outlet.
- `aeb`: the 181 real pages of ../shared/data/article-extraction-benchmark, as they are.

    .venv/bin/python bench/bench_pipeline.py [--corpus seeds|aeb|both] [--articles 325]
        [--outlets 25] [--workers 2] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from bench._harness import (  # noqa: E402
    AEB,
    SEEDS,
    ServerProcess,
    Summary,
    command_line,
    cpu_seconds,
    load_average,
    own_workers,
    py_spy,
    table,
    verdict,
    write_rules_dir,
)
from bench.results import write_section  # noqa: E402

REPLICA_START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
TARGET = 0.85
CORES = os.cpu_count() or 1


def _processes(n: int) -> str:
    return f"{n} extraction process{'' if n == 1 else 'es'}"


def replicate_seeds(n: int, outlets: int, out: Path) -> int:
    """Write `n` distinct articles made from the seeds to `out` (JSONL); returns n."""
    seeds = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines() if line]
    with out.open("w", encoding="utf-8") as fh:
        for k in range(n):
            seed = seeds[k % len(seeds)]
            copy = k // len(seeds)
            other = seeds[(k + copy + 1) % len(seeds)]
            extra = other["text"].split("\n")[0].strip()
            outlet = f"desk-{k % outlets:03d}"
            text = "\n".join([f"(Desk {outlet}, report {k}.)", seed["text"].strip(), extra])
            record = {
                "id": f"{seed['id']}-c{copy}",
                "title": f"{seed['title']} (update {copy})",
                "outlet": outlet,
                "published": (REPLICA_START + timedelta(minutes=k)).isoformat(),
                "text": text,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


def _load_trafilatura() -> None:
    import trafilatura  # noqa: F401


def _bound_extract(html: bytes) -> int:
    import trafilatura

    text = trafilatura.extract(html)
    return len(text or "")


def _strict_bound_extract(html: bytes) -> int:
    """trafilatura.extract with the options the bot passes: the bound on the same work."""
    import trafilatura

    text = trafilatura.extract(html, fast=True, include_comments=False, include_tables=False)
    return len(text or "")


def _bot_worker_call(html: bytes) -> int:
    """Everything one page costs the bot's worker: extraction, metadata, signature, features."""
    from bot.extract import process_page

    done = process_page(html, "https://example.org/a", "")
    return len(done.extracted.text) if done else 0


@dataclass
class BoundRun:
    seconds: float
    worker_cpu: float


def bound(
    pages: list[bytes], workers: int, fn: Callable[[bytes], int], server_pid: int
) -> BoundRun:
    """Run `fn` over every page in a pool of `workers` processes (warmed first)."""
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_load_trafilatura) as pool:
        list(pool.map(fn, pages[: workers * 2]))  # start and warm every worker
        procs = own_workers(exclude=[server_pid])
        cpu = sum(cpu_seconds(p) for p in procs)
        start = time.perf_counter()
        list(pool.map(fn, pages, chunksize=1))
        seconds = time.perf_counter() - start
        return BoundRun(seconds, sum(cpu_seconds(p) for p in procs) - cpu)


@dataclass
class BotRun:
    seconds: float
    articles: int
    from_page: int
    alerts: int
    stages: dict[str, float]
    cpu: dict[str, float]  # CPU seconds during the timed run: main process, workers, server


async def fetch_pages(urls: list[str]) -> list[bytes]:
    async with aiohttp.ClientSession() as session:

        async def one(url: str) -> bytes:
            async with session.get(url) as r:
                r.raise_for_status()
                return await r.read()

        return await asyncio.gather(*(one(u) for u in urls))


async def run_bot(
    feeds: list[tuple[str, str]],
    warm_pages: list[tuple[bytes, str]],
    tmp: Path,
    workers: int,
    now: Callable[[], datetime],
    profile: str | None,
    server_pid: int,
) -> BotRun:
    from bot.app import Bot
    from bot.config import Settings, load_config
    from bot.net import NetSettings

    rules = write_rules_dir(tmp / "rules", feeds)
    env = {
        "BOT_DB_URL": f"sqlite:///{tmp / 'bot.db'}",
        "BOT_WORKERS": str(workers),
        "BOT_REPLICA_ID": "bench-pipeline",
    }
    bot = await asyncio.to_thread(
        Bot.build,
        Settings.from_env(env),
        load_config(rules, env),
        now=now,
        net=NetSettings(allow=("127.0.0.0/8",)),
    )
    try:
        # Start every extraction worker before the clock runs (the bound's pool is warm too).
        await asyncio.gather(*(bot.extractor.process(h, u, "") for h, u in warm_pages))
        registry = bot.pipeline.metrics.registry
        stage_names = ("fetch_feed", "fetch_page", "extract", "match", "store")

        def stage_sums() -> dict[str, float]:
            return {
                s: registry.get_sample_value("bot_stage_duration_seconds_sum", {"stage": s}) or 0.0
                for s in stage_names
            }

        before = stage_sums()
        workers = own_workers(exclude=[server_pid])
        cpu_before = (
            cpu_seconds(),
            sum(cpu_seconds(p) for p in workers),
            cpu_seconds(server_pid),
        )
        spy = py_spy(profile) if profile else None
        if spy is not None:
            spy.__enter__()
        try:
            start = time.perf_counter()
            outcomes = await asyncio.gather(*(bot.pipeline.poll(f, force=True) for f in bot.feeds))
            seconds = time.perf_counter() - start
        finally:
            if spy is not None:
                spy.__exit__(None, None, None)
        failed = [o for o in outcomes if o is None or o.status == "failed"]
        if failed:
            print(f"  warning: {len(failed)} polls failed or were skipped: {failed[:3]}")
        after = stage_sums()
        cpu_after = (
            cpu_seconds(),
            sum(cpu_seconds(p) for p in workers),
            cpu_seconds(server_pid),
        )
        cpu = dict(
            zip(
                ("bot process", "extraction workers", "server"),
                (b - a for a, b in zip(cpu_before, cpu_after, strict=True)),
                strict=True,
            )
        )
        rows = await bot.store.call(bot.store.list_articles)
        alerts = await bot.store.call(bot.store.count, "outbox")
        return BotRun(
            seconds,
            len(rows),
            sum(1 for r in rows if r["extraction"] == "page"),
            alerts,
            {k: after[k] - before[k] for k in stage_names},
            cpu,
        )
    finally:
        await bot.aclose()


async def measure(corpus: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    if corpus == "seeds":
        path = tmp / "corpus.jsonl"
        n = replicate_seeds(args.articles, args.outlets, path)
        server_args = ["--replay", str(path), "--hosts", str(args.outlets), "--clock", "all"]
        last = REPLICA_START + timedelta(minutes=n - 1, seconds=1)

        def fixed() -> datetime:
            return last

        now: Callable[[], datetime] | None = fixed
    else:
        server_args = ["--aeb", str(AEB), "--outlets", str(args.outlets), "--hosts", "50"]
        now = None
    with ServerProcess(server_args, ttl=1800) as server:
        if corpus == "seeds":
            feeds = sorted(server.info["replay"].items())
        else:
            feeds = [(f"outlet-{k}", u) for k, u in enumerate(server.info["aeb"])]
        page_urls = list(server.info["pages"].values())
        pages = await fetch_pages(page_urls)
        print(
            f"{corpus}: {len(pages)} pages, {len(feeds)} feeds, "
            f"{sum(map(len, pages)) / len(pages) / 1024:.0f} KiB per page on average"
        )
        bounds = [await asyncio.to_thread(bound, pages, args.workers, _bound_extract, server.pid)]
        strict = await asyncio.to_thread(
            bound, pages, args.workers, _strict_bound_extract, server.pid
        )
        options = await asyncio.to_thread(bound, pages, args.workers, _bot_worker_call, server.pid)
        warm = list(zip(pages[: args.workers * 2], page_urls, strict=False))
        runs = []
        for r in range(args.rounds):
            runs.append(
                await run_bot(
                    feeds,
                    warm,
                    tmp / f"bot-{corpus}-{r}",
                    args.workers,
                    now=now or _utc_now,
                    profile=f"pipeline-{corpus}" if args.profile and r == 0 else None,
                    server_pid=server.pid,
                )
            )
            bounds.append(
                await asyncio.to_thread(bound, pages, args.workers, _bound_extract, server.pid)
            )
            print(
                f"  round {r + 1}: bot {runs[-1].articles / runs[-1].seconds:.1f} articles/s, "
                f"bound {len(pages) / bounds[-1].seconds:.1f} pages/s",
                flush=True,
            )
    return {
        "corpus": corpus,
        "pages": len(pages),
        "bounds": bounds,
        "options": options,
        "strict": strict,
        "runs": runs,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def report(results: list[dict[str, Any]], args: argparse.Namespace, command: str) -> list[Summary]:
    rows = []
    cpu_rows = []
    summaries = []
    for r in results:
        n = r["pages"]
        runs: list[BotRun] = r["runs"]
        bounds: list[BoundRun] = r["bounds"]
        best = min(runs, key=lambda b: b.seconds)
        best_bound = min(bounds, key=lambda b: b.seconds)
        bot_rate = best.articles / best.seconds
        bound_rate = n / best_bound.seconds
        options_rate = n / r["options"].seconds
        strict_rate = n / r["strict"].seconds
        ratio = bot_rate / bound_rate
        med_ratio = statistics.median(b.articles / b.seconds for b in runs) / (
            n / statistics.median(b.seconds for b in bounds)
        )
        rows.append(
            [
                r["corpus"],
                n,
                f"{bot_rate:.1f}",
                f"{bound_rate:.1f}",
                f"**{ratio:.2f}**",
                f"{med_ratio:.2f}",
                f"{strict_rate:.1f}",
                f"{bot_rate / strict_rate:.2f}",
                f"{options_rate:.1f}",
                f"{best.from_page}/{best.articles}",
                best.alerts,
            ]
        )
        ms = {k: 1000 * v / max(best.articles, 1) for k, v in best.cpu.items()}
        cpu_rows.append(
            [
                r["corpus"],
                f"{ms['bot process']:.1f}",
                f"{ms['extraction workers']:.1f}",
                f"{ms['server']:.1f}",
                f"{1000 * best_bound.worker_cpu / n:.1f}",
                f"{sum(best.cpu.values()) / best.seconds:.2f}",
            ]
            + [f"{best.stages[s]:.2f}" for s in best.stages]
            + [f"{best.seconds:.2f}"]
        )
        summaries.append(
            Summary(
                "pipeline",
                f"articles/s end to end ({r['corpus']}, {_processes(args.workers)})",
                f"{bot_rate:.1f}/s",
                f"trafilatura.extract {bound_rate:.1f}/s",
                f"{ratio:.2f}",
                f"≥ {TARGET}",
                verdict(ratio >= TARGET),
            )
        )
    headers = [
        "corpus",
        "pages",
        "bot articles/s",
        "bound: trafilatura.extract pages/s",
        "bot ÷ bound (best runs)",
        "(medians)",
        "same-options trafilatura.extract pages/s",
        "bot ÷ it",
        "bot's worker call alone, pages/s",
        "text from page",
        "outbox rows",
    ]
    stage_names = list(results[0]["runs"][0].stages) if results else []
    cpu_headers = [
        "corpus",
        "bot process CPU ms/article",
        "its extraction workers",
        "server",
        "bound's workers CPU ms/page",
        "cores busy (bot run)",
        *[f"{s} s" for s in stage_names],
        "wall s",
    ]
    lines = [
        f"{_processes(args.workers)} on both sides; best of {args.rounds} bot runs "
        f"against the best of {args.rounds + 1} bound runs (interleaved; medians beside). "
        f"Target: bot ÷ bound ≥ {TARGET}.",
        "",
        table(headers, rows),
        "",
        "Where the CPU went in the best bot run (per article), and the seconds each stage took "
        "(`bot_stage_duration_seconds` sums; stages overlap, many pages are in flight at once):",
        "",
        table(cpu_headers, cpu_rows),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        body = (
            text
            + "\n\n"
            + what_bounds(results, args.workers)
            + f"\n\nLoad average at start: {args.load_at_start}."
        )
        from bot.config import Settings

        title = "Pipeline throughput"
        if args.workers != Settings().workers:  # the bot's default, BOT_WORKERS unset
            title += f", {_processes(args.workers)}"
        write_section(title, body, command)
    return summaries


def what_bounds(results: list[dict[str, Any]], workers: int) -> str:
    parts = []
    for r in results:
        best: BotRun = min(r["runs"], key=lambda b: b.seconds)
        n = best.articles or 1
        main_ms = 1000 * best.cpu["bot process"] / n
        work_ms = 1000 * best.cpu["extraction workers"] / n
        bound_ms = 1000 * min(r["bounds"], key=lambda b: b.seconds).worker_cpu / r["pages"]
        call_ms = 1000 * r["options"].worker_cpu / r["pages"]
        strict_ms = 1000 * r["strict"].worker_cpu / r["pages"]
        busy = sum(best.cpu.values()) / best.seconds
        if workers < CORES:
            # A core is left over: the workers and the bot's process run side by side, and
            # the bot goes as fast as the slower of the two.
            slowest = max(work_ms, main_ms * workers)
            slower = "its workers" if work_ms >= main_ms * workers else "its own process"
            parts.append(
                f"{r['corpus']}: the bound's workers spend {bound_ms:.1f} ms of CPU per page, "
                f"the bot's workers {work_ms:.1f} ms (alone {call_ms:.1f}) and its own process "
                f"{main_ms:.1f} ms per article; the slower side is {slower}, so the ratio "
                f"could not pass {bound_ms:.1f} ÷ {slowest:.1f} = {bound_ms / slowest:.2f}"
            )
            continue
        ceiling = bound_ms / (work_ms + main_ms)
        parts.append(
            f"{r['corpus']}: the bound's workers spend {bound_ms:.1f} ms of CPU per page; the "
            f"bot's whole worker call, alone, {call_ms:.1f} ms (trafilatura with the bot's "
            f"options {strict_ms:.1f} ms of it), and in the pipeline its workers "
            f"{work_ms:.1f} ms and its own process {main_ms:.1f} ms per article, with "
            f"{busy:.2f} of the {CORES} cores busy: even with every core full the ratio could "
            f"not pass {bound_ms:.1f} ÷ ({work_ms:.1f} + {main_ms:.1f}) = {ceiling:.2f}"
        )
    if workers < CORES:
        return f"""\
**What bounds it.** With {_processes(workers)} on {CORES} cores, the bot's own process
(fetching feeds and pages, parsing feeds, the store, matching) has a core to itself, and the
bot can go as fast as the slower of its workers and that process. {"; ".join(parts)}. Where the
workers are the slower side, the gap is what the worker call does beyond the bound's
`trafilatura.extract` (metadata, language, signature and story features, and handing them
back); where the bot's own process is, it is the per-article work that does not shrink with the
page, the store above all (see "Pipeline throughput" for its profile). This section is the
pipeline without its two sides competing for the cores: in the default setting, with as many
extraction processes as cores, the bot's own process takes its CPU from extraction."""
    return f"""\
**What bounds it.** {"; ".join(parts)}. With {_processes(workers)} on {CORES} cores,
every millisecond of the bot's own process (fetching feeds and pages, parsing feeds, handing
pages to the workers, the store, matching) is taken from extraction, and the bound does none of
it. The extraction workers run at a lower CPU priority (nice +10, bot/extract.py), so that the
bot's process, whose one store thread writes every article in turn, does not wait for a core.
At equal priority (before 2026-12-07) the store's calls queued behind that thread (the store
stage summed 10 to 15 s over a 3 s aeb run, against 2 to 2.5 s since) and 1.64 to 1.70 cores
were busy, against 1.81 to 1.88 since: aeb 62.8 and 67.4 against 58.5 and 54.0 articles/s in
two pairs of runs against the tree before; seeds, where the bot's own process is the slower
side, no difference (146.9 and 173.6 against 148.2 and 164.1). The worker call does more
than the bound's `trafilatura.extract`: `fast=True` (no fallback
extractors) makes the extraction itself cheaper, but the bot also reads the page's metadata
(title, site name, declared author), its language, the MinHash signature of the text and its
story features (the worker call's time beyond trafilatura's, above; cheaper signing and
story features took 13% off the whole call on seeds pages on 2026-12-06). In the bot's process the
store is the largest part. A py-spy profile of the aeb run, which samples whichever thread
holds the interpreter lock (`--profile`, 2026-12-07), has 68% of its samples in the store
thread, 51% in `DedupQueries.assign_story` alone (story clustering: the article's terms
counted into the corpus statistics, the candidate stories found through the `story_terms`
index, and a new story's ~400 term rows written into that index, each a B-tree insert), 12%
in encoding the term lists that the SQL unpacks as JSON; the event loop has 13%. SQLite's own
work runs without that lock and is not in the profile: timed outside the pipeline (2026-12-07),
`store_article` with the duplicate lookups takes about 8.6 ms per new aeb article, of which
about 2 ms in SQLite's statements (16 an article) and 2 ms in its commits, which write about
190 pages of term index and statistics each (WAL frames counted over the 180 articles).
Writing 16 articles per transaction instead of one saved about 15% of the store's time in a
trial (group commit as the poll records have it; not done yet: a few percent end to end). On
seeds, small
pages, the bound's worker does little per page and the bot's per-article costs, the same as on
real pages, dominate; the pipeline's shape adds to it there: each feed's pages are extracted
before the first is stored, at most 8 pages are in flight (`page_concurrency`), and the one
SQLite store thread serialises every write. A profile of the seeds run (2026-12-07) has 50%
of its samples in the store thread: 21% in `assign_story` (6 of those 21 points are copies
joining their original's story) and 14% in the duplicate lookups (many copies share LSH bands,
and each candidate's signature is compared); 19% on the event loop and 11% in the process
pool's thread that hands pages to the workers and takes their results back. The text's hash
is made in the worker, from the normalized text it signs (before 2026-12-07 the event loop
normalized each text a second time for it: 7% of a profile of that code; doing it in the
worker gave about 8% more seeds throughput)."""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--corpus", choices=["seeds", "aeb", "both"], default="both")
    ap.add_argument("--articles", type=int, default=325, help="seed replicas (seeds corpus)")
    ap.add_argument("--outlets", type=int, default=25, help="feeds (one per outlet)")
    ap.add_argument("--workers", type=int, default=2, help="extraction processes, both sides")
    ap.add_argument("--rounds", type=int, default=3, help="bot runs, each between bound runs")
    ap.add_argument("--profile", action="store_true", help="py-spy the bot's first run")
    ap.add_argument("--summary", help="write summary rows (JSON) here, for bench/run_all.py")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args(argv)
    args.load_at_start = load_average()
    logging.getLogger("bot").setLevel(logging.ERROR)
    command = command_line("bench/bench_pipeline.py", argv)
    corpora = ["seeds", "aeb"] if args.corpus == "both" else [args.corpus]
    missing = [c for c in corpora if not (SEEDS if c == "seeds" else AEB).exists()]
    for c in missing:
        print(f"skipping the {c} corpus: {SEEDS if c == 'seeds' else AEB} is not there")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for corpus in corpora:
            if corpus not in missing:
                results.append(asyncio.run(measure(corpus, args, Path(tmp))))
    summaries = report(results, args, command.strip()) if results else []
    Summary.write(args.summary, summaries)


if __name__ == "__main__":
    main()
