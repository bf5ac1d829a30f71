"""`make bench`: every benchmark in bench/, one after the other, then one table of the figures.

Each benchmark runs in its own process, prints its own details, writes its own section of
bench/RESULTS.md and hands its headline rows back here; the table is printed at the end and
kept as the "Summary" section of RESULTS.md.

    .venv/bin/python bench/run_all.py            # sizes that finish in about 10 minutes here
    .venv/bin/python bench/run_all.py --full     # the issues' sizes (5,000 feeds, 30-min soak…)
    .venv/bin/python bench/run_all.py --only polling,soak
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._harness import PYTHON, Summary, load_average, table  # noqa: E402
from bench.results import write_section  # noqa: E402

SPARE = str(max(1, (os.cpu_count() or 2) - 1))
QUICK: dict[str, list[str]] = {
    "rules": ["bench/bench_rules.py", "--rules", "200", "--words", "2000", "--runs", "100"],
    "pipeline": ["bench/bench_pipeline.py", "--rounds", "2"],
    # One extraction process fewer than cores: the bot's own process has a core of its own.
    "pipeline-spare-core": ["bench/bench_pipeline.py", "--workers", SPARE, "--rounds", "2"],
    "polling": [
        "bench/bench_polling.py",
        "--feeds",
        "2000",
        "--clients",
        "bot,bot-httpx,store-only,http-only,aiohttp,httpx,httpx-capped,httpx-per-host,httpx-aiohttp,"
        "rss2email",
        "--delay-clients",
        "bot,bot-httpx,aiohttp,httpx-capped,httpx-aiohttp,rss2email",
    ],
    "replicas": [
        "bench/bench_replicas.py",
        "--feeds",
        "2000",
        "--transports",
        "default,httpx",
        "--settle",
        "6",
        "--window",
        "8",
    ],
    "soak": ["bench/bench_soak.py", "--minutes", "2"],
    "near-duplicates": [
        "bench/bench_near_duplicates.py",
        "--articles",
        "10000",
        "--queries",
        "500",
    ],
}
FULL: dict[str, list[str]] = {
    "rules": ["bench/bench_rules.py"],
    "pipeline": ["bench/bench_pipeline.py", "--rounds", "3"],
    "pipeline-spare-core": ["bench/bench_pipeline.py", "--workers", SPARE, "--rounds", "3"],
    "polling": [
        "bench/bench_polling.py",
        "--feeds",
        "5000",
        "--delay-clients",
        "bot,bot-httpx,aiohttp,httpx-capped,httpx-aiohttp,rss2email",
    ],
    "replicas": ["bench/bench_replicas.py", "--feeds", "2000", "--window", "20"],
    "soak": ["bench/bench_soak.py", "--minutes", "30"],
    "near-duplicates": ["bench/bench_near_duplicates.py", "--articles", "10000"],
    "near-duplicates-100k": ["bench/bench_near_duplicates.py", "--articles", "100000"],
    "near-duplicates-1m": ["bench/bench_near_duplicates.py", "--articles", "1000000"],
}
WRITES_SUMMARY = {"rules", "pipeline", "pipeline-spare-core", "polling", "replicas", "soak"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--full", action="store_true", help="the issues' sizes (over an hour)")
    ap.add_argument("--only", help="comma-separated: " + ",".join(QUICK))
    ap.add_argument(
        "--earlier",
        action="append",
        default=[],
        metavar="SUMMARY.json",
        help="rows a benchmark run on its own wrote (--summary): listed in the table too, "
        "marked as an earlier run (e.g. a 30-minute soak run while nothing else ran)",
    )
    args = ap.parse_args(argv)
    plan = FULL if args.full else QUICK
    names = [n for n in (args.only.split(",") if args.only else plan) if n]
    unknown = [n for n in names if n not in plan]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[Summary] = []
    status: list[list[object]] = []
    started = time.perf_counter()
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        for name in names:
            cmd = plan[name]
            script = REPO / cmd[0]
            if not script.exists():
                print(f"\n== {name}: {cmd[0]} is not there yet, skipped", flush=True)
                status.append([name, "skipped: script not there", ""])
                continue
            summary = Path(tmp) / f"{name}.json"
            full = [PYTHON, *cmd] + (["--summary", str(summary)] if name in WRITES_SUMMARY else [])
            print(f"\n== {name}: {' '.join(cmd)}", flush=True)
            t0 = time.perf_counter()
            code = subprocess.call(full, cwd=REPO)
            took = time.perf_counter() - t0
            status.append([name, "ok" if code == 0 else f"failed (exit {code})", f"{took:.0f} s"])
            if summary.exists():
                rows += [Summary(**r) for r in json.loads(summary.read_text())]
            elif code == 0:
                rows.append(
                    Summary(name, "see its section of bench/RESULTS.md", "", "", "", "", "")
                )
    for path in args.earlier:
        rows += [
            dataclasses.replace(row, figure=row.figure + " (run on its own, before this run)")
            for row in (Summary(**r) for r in json.loads(Path(path).read_text()))
        ]
    total = time.perf_counter() - started
    text = "\n".join(
        [
            table(
                ["benchmark", "figure", "value", "baseline (same run)", "ratio", "target", "met"],
                [
                    [r.benchmark, r.figure, r.value, r.baseline, r.ratio, r.target, r.met]
                    for r in rows
                ],
            ),
            "",
            table(["benchmark", "run", "time"], status),
            "",
            f"Total {total / 60:.1f} min; load average at start {load}.",
        ]
    )
    print("\n" + text)
    command = (
        "make bench"
        if argv is None and not sys.argv[1:]
        else ("python bench/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    )
    write_section("Summary" + (" (full sizes)" if args.full else ""), text, command.strip())
    return 0 if all(s[1] in ("ok",) or str(s[1]).startswith("skipped") for s in status) else 1


if __name__ == "__main__":
    sys.exit(main())
