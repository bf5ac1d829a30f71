"""Rule evaluation per article: the default pack plus generated phrase rules, against a loop that
runs one precompiled `re.search` per phrase (the obvious way to write it).

    .venv/bin/python bench/bench_rules.py [--rules 200] [--words 2000] [--runs 200] [--summary F]

Prints the median time per article for both and their ratio, and updates bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._harness import Summary  # noqa: E402
from bench.results import write_section  # noqa: E402
from bot.config import RuleConfig, load_config  # noqa: E402
from bot.rules import RuleSet  # noqa: E402

WORDS = [
    "peace",
    "talks",
    "envoy",
    "ceasefire",
    "deadline",
    "summit",
    "minister",
    "kremlin",
    "sanctions",
    "negotiators",
    "delegation",
    "proposal",
    "framework",
    "treaty",
    "border",
    "troops",
    "drone",
    "strike",
    "energy",
    "grain",
    "port",
    "security",
    "guarantee",
    "territory",
    "referendum",
    "election",
    "parliament",
    "president",
    "adviser",
    "aide",
    "statement",
    "meeting",
    "capital",
    "region",
    "frontline",
    "offensive",
    "artillery",
    "missile",
    "air",
    "defence",
    "reconstruction",
    "aid",
    "package",
    "loan",
    "reserves",
    "exchange",
    "prisoners",
    "humanitarian",
    "corridor",
]


def article_text(words: int, rng: random.Random) -> str:
    seeds = REPO.parent / "shared" / "corpus" / "seeds.jsonl"
    if seeds.exists():
        import json

        pool = " ".join(json.loads(line)["text"] for line in seeds.open(encoding="utf-8")).split()
    else:
        pool = [rng.choice(WORDS) for _ in range(words)]
    start = rng.randrange(0, max(1, len(pool) - words))
    chunk = pool[start : start + words]
    return " ".join(chunk)


def generated_rules(n: int, rng: random.Random) -> list[RuleConfig]:
    vocab = WORDS + [f"{a} {b}" for a, b in itertools.pairwise(WORDS)]
    rules = []
    for i in range(n):
        rules.append(
            RuleConfig.model_validate(
                {
                    "id": f"generated-{i}",
                    "when": {
                        "all": [
                            {"any": rng.sample(vocab, 5)},
                            {"any": rng.sample(vocab, 5)},
                        ],
                        "none": rng.sample(vocab, 2),
                    },
                }
            )
        )
    return rules


def regex_loop(rules: list[RuleConfig]) -> list[tuple[str, list[list[re.Pattern[str]]]]]:
    """Each phrase compiled on its own; a rule holds if each `any` group has a hit."""
    out = []
    for rule in rules:
        groups = []
        for group in rule.when.all or ():
            phrases = [t for t in getattr(group, "any", None) or () if isinstance(t, str)]
            if phrases:
                groups.append(
                    [re.compile(r"\b" + re.escape(p) + r"\b", re.IGNORECASE) for p in phrases]
                )
        out.append((rule.id, groups))
    return out


def run_regex_loop(compiled: list[tuple[str, list[list[re.Pattern[str]]]]], text: str) -> int:
    fired = 0
    for _rule, groups in compiled:
        if all(any(p.search(text) for p in group) for group in groups):
            fired += 1
    return fired


def median_ms(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def stages(ruleset: RuleSet, text: str, runs: int) -> dict[str, float]:
    """Median ms of the steps of one `RuleSet.match`, and how many rules get past each."""
    from bot.rules._compile import ArticleText, Scan

    phrases = ruleset._phrases  # the benchmark looks inside on purpose
    scan = Scan.of("", text, phrases)
    view = ArticleText("", text, phrases, scan=scan)
    present = {phrase_id for phrase_id, _ in scan.text}
    tried = [r for r in ruleset.rules if r.needs is None or not r.needs.isdisjoint(present)]
    return {
        "scan": median_ms(lambda: Scan.of("", text, phrases), runs),
        "units": median_ms(lambda: ArticleText("", text, phrases, scan=scan), runs),
        "trees": median_ms(lambda: [r.holding_units(view) for r in tried], runs),
        "tried": len(tried),
        "held": sum(1 for r in tried if r.holding_units(view)),
        "sentences": len(view.sentences),
        "hits": len(scan.text),
    }


def what_bounds(parts: dict[str, float], total: float, rules: int) -> str:
    rest = total - parts["scan"] - parts["units"] - parts["trees"]
    return (
        f"**What bounds it.** One pass finds every phrase: normalizing the text and one "
        f"Aho-Corasick scan (pyahocorasick, in C) with word-boundary checks, "
        f"{parts['scan']:.2f} ms for {parts['hits']:.0f} hits. Splitting the text into its "
        f"{parts['sentences']:.0f} sentences and placing each hit in its sentence, "
        f"{parts['units']:.2f} ms. A rule none of whose required phrases occurs is skipped "
        f"by one set test; the other {parts['tried']:.0f} of {rules} have their trees decided "
        f"from bit masks of their phrases' sentences (a rule with a regex tries its candidate "
        f"sentences one by one), {parts['trees']:.2f} ms; the remaining {rest:.2f} ms builds "
        f"the matches of the {parts['held']:.0f} rules that held (evidence, extracted values, "
        f"dates) and the per-rule calls. All but the scan are Python, on one core: the "
        f"regex loop's cost grows with the number of phrases, this one's with the hits and "
        f"the rules that can hold."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=int, default=200)
    ap.add_argument("--words", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--summary", help="write summary rows (JSON) here, for bench/run_all.py")
    args = ap.parse_args()
    rng = random.Random(7)
    pack = list(load_config(REPO / "rules", {}).rules)
    rules = pack + generated_rules(args.rules, rng)
    text = article_text(args.words, rng)
    published = datetime(2025, 11, 26, tzinfo=UTC)
    ruleset = RuleSet.compile(rules)
    baseline = regex_loop(rules)
    ruleset.match("", text, published)  # warm up
    ours = median_ms(lambda: ruleset.match("", text, published), args.runs)
    theirs = median_ms(lambda: run_regex_loop(baseline, text), max(5, args.runs // 10))
    phrases = sum(len(g) for _, groups in baseline for g in groups)
    parts = stages(ruleset, text, args.runs)
    lines = [
        "| rules | phrases | words | RuleSet.match (median) "
        "| re.search per phrase (median) | ratio |",
        "|---|---|---|---|---|---|",
        f"| {len(rules)} | {phrases} | {args.words} | {ours:.3f} ms | {theirs:.3f} ms "
        f"| {theirs / ours:.1f}x faster |",
        "",
        "Targets: ≤ 2 ms per article and ≥ 20x faster than the regex loop.",
        "",
        what_bounds(parts, ours, len(rules)),
    ]
    print("\n".join(lines))
    Summary.write(
        args.summary,
        [
            Summary(
                "rules",
                f"RuleSet.match per article ({len(rules)} rules, {args.words} words)",
                f"{ours:.3f} ms",
                f"re.search per phrase {theirs:.3f} ms",
                f"{theirs / ours:.1f}x faster",
                "≤ 2 ms and ≥ 20x",
                "yes" if ours <= 2 and theirs / ours >= 20 else "no",
            )
        ],
    )
    write_section(
        "Rule evaluation per article",
        "\n".join(lines),
        f"python bench/bench_rules.py --rules {args.rules} --words {args.words}",
    )


if __name__ == "__main__":
    main()
