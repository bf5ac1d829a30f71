"""Hostile input, rules and templates: rule files that try to run code or exhaust memory,
article text that looks like a template, and a broken edit to a running bot. Each test is one
attack and what must happen."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import replay
from bot.config import load_config
from bot.errors import ConfigError
from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus
from tests.helpers import free_port, write_rules
from tests.hostile.support import (
    bot_env,
    filler,
    running_bot,
    write_corpus,
)
from tests.test_cli import BackgroundLoop, query, read_events, wait_until

GOOD_RULE = "id: talks\nscope: article\nwhen:\n  any: [Geneva]\n"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return write_rules(tmp_path / "rules", [], rules={"talks": GOOD_RULE})


def rejected_quickly(rules: Path) -> list[str]:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_config(rules, {})
    assert time.perf_counter() - started < 1.0
    return list(caught.value.problems)


# -- 8. rule files that attack the loader ------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        'title: !!python/object/apply:os.system ["touch {marker}"]',
        'when: !!python/object/apply:subprocess.check_call [["touch", "{marker}"]]',
        'when: {{any: [!!python/object/new:os.system ["touch {marker}"]]}}',
    ],
)
def test_a_rule_file_with_a_python_tag_is_rejected_within_a_second_and_runs_nothing(
    rules: Path, tmp_path: Path, payload: str
) -> None:
    marker = tmp_path / "executed"
    (rules / "evil.yaml").write_text(f"id: evil\n{payload.format(marker=marker)}\n")
    problems = rejected_quickly(rules)
    assert any(re.search(r"evil\.yaml:2: .*!!python/", p) for p in problems), problems
    assert not marker.exists()


def test_a_yaml_alias_bomb_is_rejected_within_a_second(rules: Path) -> None:
    # Nine levels of nine aliases: 387 million strings once expanded.
    lines = ["id: bomb", 'a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines += ["when: {any: *a9}"]
    (rules / "bomb.yaml").write_text("\n".join(lines) + "\n")
    problems = rejected_quickly(rules)
    assert problems and all("anchors and aliases are not supported" in p for p in problems)


def test_a_rule_file_over_one_mebibyte_is_rejected_within_a_second(rules: Path) -> None:
    phrases = "".join(f"    - phrase{i:07d}\n" for i in range(60_000))  # valid YAML, 1.2 MB
    (rules / "huge.yaml").write_text(f"id: huge\nwhen:\n  any:\n{phrases}")
    problems = rejected_quickly(rules)
    assert problems == [
        f"{rules / 'huge.yaml'}: file is larger than 1 MiB "
        f"({(rules / 'huge.yaml').stat().st_size} bytes)"
    ]


# -- 9. values from articles in alert titles ---------------------------------------------------

HOSTILE_VALUES = [
    "{__class__}",
    "{{7*7}}",
    "${HOME}",
    "{codename.__class__.__mro__}",
    "%(codename)s",
    "{0}",
]

CODENAME_RULE = """\
id: codename
title: "Operation {codename}"
scope: sentence
when:
  any: [codename]
extract:
  codename: {regex: "codename (\\\\S+) in Geneva"}
trigger: {kind: new, key: [codename], window: 1d}  # each value its own alert, one story or not
"""


async def test_template_syntax_in_article_text_renders_literally_in_the_received_title(
    tmp_path: Path,
) -> None:
    published = datetime(2025, 11, 26, 9, 0, tzinfo=UTC)
    corpus = write_corpus(
        tmp_path / "corpus.jsonl",
        [
            {
                "id": f"a{i}",
                "title": f"Talks {value} resume",
                "outlet": "wire",
                "published": published + timedelta(minutes=i),
                "text": f"Envoys met under the codename {value} in Geneva. {filler(seed=i)}",
            }
            for i, value in enumerate(HOSTILE_VALUES)
        ],
    )
    rules = write_rules(tmp_path / "rules", [], rules={"codename": CODENAME_RULE})
    report = await replay(corpus, rules, env={}, workers=1)
    received = {a["article"]["url"].rsplit("/", 1)[1]: a for a in report.alerts}
    assert len(received) == len(HOSTILE_VALUES)
    for i, value in enumerate(HOSTILE_VALUES):
        alert = received[f"a{i}.html"]
        assert alert["title"] == f"Operation {value}"
        assert alert["values"] == {"codename": value}
        assert alert["article"]["title"] == f"Talks {value} resume"


# -- 10. a broken edit to a running bot --------------------------------------------------------


@pytest.fixture
def bg() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


def metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not exposed"
    return float(found.group(1))


def test_a_hot_reload_with_invalid_yaml_keeps_the_last_good_rules_and_says_so(
    tmp_path: Path, bg: BackgroundLoop
) -> None:
    published = datetime(2025, 11, 26, 9, 0, tzinfo=UTC)
    corpus = write_corpus(
        tmp_path / "corpus.jsonl",
        [
            {
                "id": "geneva",
                "title": "Delegations gather in Geneva",
                "outlet": "wire",
                "published": published,
                "text": f"Delegations gathered in Geneva on Sunday. {filler()}",
            }
        ],
    )
    articles = load_corpus(corpus)
    clock = ReplayClock(published - timedelta(hours=1))
    server = ReplayServer(articles, clock)
    receiver = AlertReceiver()
    bg.run(server.start())
    bg.run(receiver.start())
    try:
        rules = write_rules(
            tmp_path / "rules",
            [("wire", server.feed_url("wire"))],
            interval="1s",
            webhook_url=receiver.url,
            rules={"talks": GOOD_RULE},
        )
        port = free_port()
        env = bot_env(tmp_path, rules, BOT_HTTP_PORT=str(port), BOT_HTTP_HOST="127.0.0.1")
        with running_bot(env) as (proc, logs):
            read_events(logs, lambda e: e["event"] == "scheduler.started")
            wait_until(
                lambda: bool(query(tmp_path / "bot.db", "SELECT 1 FROM feeds WHERE baseline_done")),
                30,
                "the baseline poll",
            )
            assert metric(port, "bot_rules_last_reload_failed") == 0
            (rules / "talks.yaml").write_text(
                "id: talks\nscope: article\nwhen:\n  any: [Geneva, Kyiv\n", encoding="utf-8"
            )
            failed = read_events(logs, lambda e: e["event"] == "rules.reload_failed")[-1]
            problems = [str(p) for p in failed["problems"]]  # type: ignore[union-attr]
            assert any(re.search(r"talks\.yaml:\d+:", p) for p in problems), problems
            assert metric(port, "bot_rules_last_reload_failed") == 1
            assert metric(port, "bot_rules_loaded") == 1
            clock.advance_to(published)  # the article appears: the last good rule matches it
            bg.run(receiver.wait_for(1, timeout=60), timeout=70)
            assert proc.poll() is None
        [alert] = receiver.delivered
        assert alert.json is not None and alert.json["rule"] == "talks"
    finally:
        bg.run(server.stop())
        bg.run(receiver.stop())


def test_a_hot_reload_of_a_rule_with_a_python_tag_runs_nothing(
    tmp_path: Path, bg: BackgroundLoop
) -> None:
    rules = write_rules(tmp_path / "rules", [], rules={"talks": GOOD_RULE})
    marker = tmp_path / "executed"
    env = bot_env(tmp_path, rules)
    with running_bot(env) as (proc, logs):
        read_events(logs, lambda e: e["event"] == "scheduler.started")
        (rules / "evil.yaml").write_text(
            f'id: evil\ntitle: !!python/object/apply:os.system ["touch {marker}"]\n'
            "when: {any: [Kyiv]}\n",
            encoding="utf-8",
        )
        failed = read_events(logs, lambda e: e["event"] == "rules.reload_failed")[-1]
        problems = [str(p) for p in failed["problems"]]  # type: ignore[union-attr]
        assert any(re.search(r"evil\.yaml:2: .*!!python/", p) for p in problems), problems
        assert proc.poll() is None
    assert not marker.exists()
