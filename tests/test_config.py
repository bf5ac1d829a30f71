"""Settings and the rules directory: typed, frozen, and every problem named by file and line."""

from __future__ import annotations

import dataclasses
import hashlib
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import (
    Condition,
    ConsoleTargetConfig,
    Duration,
    PositiveDuration,
    RegexTerm,
    Settings,
    WebhookTargetConfig,
    check,
    load_config,
    parse_duration,
)
from bot.errors import ConfigError

FEEDS = """\
defaults: {interval: 30m}
feeds:
  - name: bbc-world
    url: https://feeds.bbci.co.uk/news/world/rss.xml
  - name: tass
    url: https://tass.com/rss/v2.xml
    interval: 10m
    backfill: 2h
    enabled: false
"""

TARGETS = """\
targets:
  - name: console
    type: console
  - name: chat
    type: webhook
    url: ${CHAT_WEBHOOK_URL}
    secret: ${CHAT_WEBHOOK_SECRET:-}
    timeout: 5s
    headers: {X-Extra: value}
"""

RULE = """\
id: envoy-visit
title: "Envoy visit"
severity: info
scope: sentence
when:
  all:
    - any: [Witkoff, Kushner, Driscoll]
    - any: [Moscow, Kyiv, "Abu Dhabi"]
    - any: [visit, travel, "arrive in", {regex: "\\\\bmeet(s|ing)? with\\\\b"}]
  none: [archive]
notify: [chat]
"""

ENV = {"CHAT_WEBHOOK_URL": "https://chat.example/hooks/T0K3N-abcdef"}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A valid rules directory: two feeds, two targets, one rule."""
    d = tmp_path / "rules"
    d.mkdir()
    write(d, "feeds.yaml", FEEDS)
    write(d, "targets.yaml", TARGETS)
    write(d, "envoy-visit.yaml", RULE)
    return d


def problems_in(rules: Path, env: dict[str, str] | None = None) -> list[str]:
    found = check(rules, ENV if env is None else env)
    assert found, "expected problems"
    return found


# -- a valid directory ------------------------------------------------------------------------


def test_a_valid_directory_loads_into_typed_objects(rules: Path) -> None:
    config = load_config(rules, ENV)

    bbc, tass = config.feeds
    assert (bbc.name, bbc.interval, bbc.backfill, bbc.enabled) == (
        "bbc-world",
        timedelta(minutes=30),
        None,
        True,
    )
    assert (tass.interval, tass.backfill, tass.enabled) == (
        timedelta(minutes=10),
        timedelta(hours=2),
        False,
    )
    console, chat = config.targets
    assert isinstance(console, ConsoleTargetConfig)
    assert isinstance(chat, WebhookTargetConfig)
    assert chat.url.get_secret_value() == ENV["CHAT_WEBHOOK_URL"]
    assert chat.secret is None  # ${CHAT_WEBHOOK_SECRET:-} with the variable unset
    assert chat.timeout == timedelta(seconds=5)
    assert dict(chat.headers) == {"X-Extra": "value"}

    (rule,) = config.rules
    assert (rule.id, rule.title, rule.severity, rule.scope, rule.notify) == (
        "envoy-visit",
        "Envoy visit",
        "info",
        "sentence",
        ("chat",),
    )
    assert rule.when.none == ("archive",)
    assert rule.when.all is not None
    first, _, third = rule.when.all
    assert isinstance(first, Condition) and first.any == ("Witkoff", "Kushner", "Driscoll")
    assert isinstance(third, Condition) and third.any is not None
    assert third.any[-1] == RegexTerm(regex=r"\bmeet(s|ing)? with\b")


def test_the_loaded_configuration_is_frozen(rules: Path) -> None:
    config = load_config(rules, ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.rules = ()  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.feeds[0].interval = timedelta(0)
    with pytest.raises(ValidationError):
        config.rules[0].when.none = ()
    chat = config.targets[1]
    assert isinstance(chat, WebhookTargetConfig)
    with pytest.raises(TypeError):
        chat.headers["X-Other"] = "x"  # type: ignore[index]


def test_source_files_record_size_mtime_and_hash(rules: Path) -> None:
    config = load_config(rules, ENV)
    by_name = {s.path.name: s for s in config.source_files}
    assert set(by_name) == {"feeds.yaml", "targets.yaml", "envoy-visit.yaml"}
    rule_file = rules / "envoy-visit.yaml"
    source = by_name["envoy-visit.yaml"]
    assert source.sha256 == hashlib.sha256(rule_file.read_bytes()).hexdigest()
    assert source.size == rule_file.stat().st_size
    assert source.mtime_ns == rule_file.stat().st_mtime_ns


def test_hidden_files_and_rule_test_cases_are_not_rules(rules: Path) -> None:
    write(rules, ".draft.yaml", "not: [a rule")
    write(
        rules,
        "envoy-visit.tests.yaml",
        "cases:\n  - name: x\n    text: x\n    published: 2025-11-26T12:00:00Z\n    expect: []\n",
    )
    write(rules, "notes.txt", "whatever")
    assert check(rules, ENV) == []
    assert [r.id for r in load_config(rules, ENV).rules] == ["envoy-visit"]


def test_check_reports_a_malformed_rule_test_file(rules: Path) -> None:
    write(rules, "envoy-visit.tests.yaml", "cases:\n  - name: x\n    expect: []\n")
    problems = check(rules, ENV)
    assert any(
        "envoy-visit.tests.yaml:2: cases[0].text: required field missing" in p for p in problems
    ), problems


def test_title_defaults_to_id_and_notify_defaults_to_every_target(rules: Path) -> None:
    write(rules, "bare.yaml", "id: bare\nwhen: {any: [x]}\n")
    bare = next(r for r in load_config(rules, ENV).rules if r.id == "bare")
    assert (bare.title, bare.severity, bare.scope, bare.notify) == ("bare", "info", "sentence", ())


def test_problems_name_paths_relative_to_the_working_directory(
    rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(rules.parent)
    write(rules, "bad.yaml", "id: bad\nwhen: {any: [x]}\ncolour: red\n")
    assert check(rules, ENV) == ["rules/bad.yaml:3: colour: unknown field"]
    assert check(rules.resolve(), ENV) == ["rules/bad.yaml:3: colour: unknown field"]


# -- environment interpolation ----------------------------------------------------------------


def test_interpolation_takes_values_and_defaults_from_the_environment(rules: Path) -> None:
    write(
        rules,
        "targets.yaml",
        """\
        targets:
          - name: chat
            type: webhook
            url: https://${HOST:-chat.example}/hooks/${TOKEN}
            secret: ${SECRET:-whsec_c2VjcmV0}
            headers: {X-Cost: "$$5"}
        """,
    )
    (chat,) = load_config(rules, {"TOKEN": "abc123"}).targets
    assert isinstance(chat, WebhookTargetConfig)
    assert chat.url.get_secret_value() == "https://chat.example/hooks/abc123"
    assert chat.secret is not None and chat.secret.get_secret_value() == "whsec_c2VjcmV0"
    assert chat.headers["X-Cost"] == "$5"


def test_an_unset_variable_without_default_is_named_with_file_and_line(rules: Path) -> None:
    assert problems_in(rules, env={}) == [
        f"{rules / 'targets.yaml'}:6: targets[1].url: environment variable CHAT_WEBHOOK_URL "
        "is not set"
    ]


def test_rule_files_are_not_interpolated(rules: Path) -> None:
    write(rules, "dollar.yaml", 'id: dollar\nwhen: {any: [{regex: "US\\\\${1,2}"}, "${NAME}"]}\n')
    rule = next(r for r in load_config(rules, ENV).rules if r.id == "dollar")
    assert rule.when.any == (RegexTerm(regex=r"US\${1,2}"), "${NAME}")


# -- problems, each with its file and line ------------------------------------------------------


def test_check_reports_problems_of_several_files_at_once(rules: Path) -> None:
    write(
        rules,
        "a-unknown-key.yaml",
        """\
        id: a
        when:
          any: [Kyiv]
        severity: info
        sevrity: critical
        """,
    )
    write(
        rules,
        "b-bad-regex.yaml",
        """\
        id: b
        when:
          all:
            - any: [Kyiv]
            - any:
                - Moscow
                - {regex: "(unclosed"}
        """,
    )
    assert check(rules, ENV) == [
        f"{rules / 'a-unknown-key.yaml'}:5: sevrity: unknown field (did you mean 'severity'?)",
        f"{rules / 'b-bad-regex.yaml'}:7: when.all[1].any[1].regex: invalid regex: "
        "missing ), unterminated subpattern at position 0",
    ]


def test_unknown_key_in_feeds_is_reported_on_the_key_line(rules: Path) -> None:
    write(
        rules,
        "feeds.yaml",
        """\
        feeds:
          - name: bbc-world
            url: https://feeds.bbci.co.uk/news/world/rss.xml
            intervall: 5m
        """,
    )
    assert problems_in(rules) == [
        f"{rules / 'feeds.yaml'}:4: feeds[0].intervall: unknown field (did you mean 'interval'?)"
    ]


def test_a_missing_field_is_reported_on_its_mapping_line(rules: Path) -> None:
    write(
        rules,
        "feeds.yaml",
        """\
        feeds:
          - name: bbc-world
            url: https://feeds.bbci.co.uk/news/world/rss.xml
          - name: tass
            interval: 10m
        """,
    )
    assert problems_in(rules) == [f"{rules / 'feeds.yaml'}:4: feeds[1].url: required field missing"]


def test_a_bad_value_is_reported_on_its_value_line(rules: Path) -> None:
    write(
        rules,
        "feeds.yaml",
        """\
        feeds:
          - name: Bad Name
            url: ftp://example.org/feed
            interval:
              15
            enabled: maybe
        """,
    )
    assert problems_in(rules) == [
        f"{rules / 'feeds.yaml'}:2: feeds[0].name: must be lowercase letters, digits, '.', '_' "
        "or '-', starting with a letter or digit (at most 100 characters)",
        f"{rules / 'feeds.yaml'}:3: feeds[0].url: expected an http:// or https:// URL",
        f"{rules / 'feeds.yaml'}:5: feeds[0].interval: expected a duration string: use a number "
        "and a unit (s, m, h, d, w), e.g. 30s, 15m, 2h, 14d, 1w or 1h30m",
        f"{rules / 'feeds.yaml'}:6: feeds[0].enabled: expected true or false",
    ]


@pytest.mark.parametrize(
    ("when", "line", "message"),
    [
        ("when: {}", 2, "when: a condition needs at least one of any, all, none"),
        ("when:\n  any: []", 3, "when.any: must list at least one term"),
        (
            "when:\n  all:\n    - {}",
            4,
            "when.all[0]: a condition needs at least one of any, all, none",
        ),
        (
            "when:\n  any: [Kyiv, 2025]",
            3,
            "when.any[1]: a term is a phrase (a string: quote numbers), {regex: …}, {entity: …} "
            "or a condition mapping",
        ),
        ("when:\n  any: ['  ']", 3, "when.any[0]: a phrase must not be empty"),
        ("when:", 2, "when: expected a mapping"),
    ],
)
def test_malformed_conditions_are_reported(rules: Path, when: str, line: int, message: str) -> None:
    write(rules, "broken.yaml", f"id: broken\n{when}\n")
    assert problems_in(rules) == [f"{rules / 'broken.yaml'}:{line}: {message}"]


def test_duplicate_rule_ids_across_files(rules: Path) -> None:
    write(rules, "zz-copy.yaml", "# a copy\nid: envoy-visit\nwhen: {any: [x]}\n")
    assert problems_in(rules) == [
        f"{rules / 'zz-copy.yaml'}:2: id: duplicate rule id 'envoy-visit' "
        f"(also in {rules / 'envoy-visit.yaml'}:1)"
    ]


def test_duplicate_feed_and_target_names(rules: Path) -> None:
    write(
        rules,
        "feeds.yaml",
        """\
        feeds:
          - name: bbc
            url: https://a.example/rss
          - name: bbc
            url: https://b.example/rss
        """,
    )
    write(
        rules,
        "targets.yaml",
        """\
        targets:
          - {name: console, type: console}
          - {name: console, type: console}
          - {name: chat, type: console}
        """,
    )
    assert problems_in(rules) == [
        f"{rules / 'feeds.yaml'}:4: feeds[1].name: duplicate feed name 'bbc' (first at line 2)",
        f"{rules / 'targets.yaml'}:3: targets[1].name: duplicate target name 'console' "
        "(first at line 2)",
    ]


def test_notify_naming_an_unknown_target(rules: Path) -> None:
    write(rules, "envoy-visit.yaml", RULE.replace("notify: [chat]", "notify:\n  - chat\n  - chta"))
    assert problems_in(rules) == [
        f"{rules / 'envoy-visit.yaml'}:13: notify[1]: unknown target 'chta' "
        "(targets: console, chat)"
    ]


def test_an_unknown_target_type_is_reported_on_the_type_line(rules: Path) -> None:
    write(rules, "targets.yaml", "targets:\n  - name: team\n    type: carrier-pigeon\n")
    write(rules, "envoy-visit.yaml", RULE.replace("notify: [chat]", ""))
    assert problems_in(rules) == [
        f"{rules / 'targets.yaml'}:3: targets[0].type: type must be one of: "
        "console, webhook, slack, discord, teams, apprise"
    ]


def test_yaml_syntax_errors_name_their_line(rules: Path) -> None:
    write(rules, "broken.yaml", "id: broken\nwhen:\n  any: [Kyiv, Moscow\n  none: [x]\n")
    (problem,) = problems_in(rules)
    assert problem.startswith(f"{rules / 'broken.yaml'}:4: YAML syntax error: ")


def test_duplicate_keys_are_reported(rules: Path) -> None:
    write(rules, "twice.yaml", "id: twice\nwhen: {any: [x]}\nid: again\n")
    assert problems_in(rules) == [f"{rules / 'twice.yaml'}:3: id: duplicate key (first at line 1)"]


def test_missing_files_and_directories(tmp_path: Path) -> None:
    assert check(tmp_path / "nowhere", {}) == [
        f"{tmp_path / 'nowhere'}: rules directory not found "
        "(give another with --rules or BOT_RULES_DIR)"
    ]
    assert check(tmp_path, {}) == [
        f"{tmp_path / 'feeds.yaml'}: file not found",
        f"{tmp_path / 'targets.yaml'}: file not found",
    ]


def test_load_config_raises_one_config_error_with_every_problem(rules: Path) -> None:
    write(rules, "one.yaml", "id: one\nwhen: {any: [x]}\nextra: 1\n")
    write(rules, "two.yaml", "id: two\nwhen: {all: [x]}\nnotify: [nobody]\n")
    with pytest.raises(ConfigError) as info:
        load_config(rules, ENV)
    assert info.value.problems == check(rules, ENV)
    assert len(info.value.problems) == 2


# -- safety ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tagged",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_rejected_and_never_executed(
    rules: Path, tmp_path: Path, tagged: str
) -> None:
    marker = tmp_path / "pwned"
    evil = tagged.format(marker=marker)
    write(rules, "evil.yaml", f"id: evil\nwhen:\n  any:\n    - {evil}\n")
    (problem,) = problems_in(rules)
    assert problem.startswith(f"{rules / 'evil.yaml'}:4: when.any[0]: YAML tag !!python/")
    assert problem.endswith("is not allowed")
    assert not marker.exists()


def test_anchors_and_aliases_are_refused_with_their_lines(rules: Path) -> None:
    write(
        rules,
        "bomb.yaml",
        """\
        id: bomb
        a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        when: {any: [*c]}
        """,
    )
    found = problems_in(rules)
    assert all("YAML anchors and aliases are not supported" in p for p in found)
    assert {p.split(":")[1] for p in found} == {"2", "3", "4", "5"}


def test_a_file_over_one_mebibyte_is_rejected_before_parsing(rules: Path) -> None:
    # Parsed, this would nest a million levels deep.
    (rules / "huge.yaml").write_text("[" * ((1 << 20) + 1))
    assert problems_in(rules) == [
        f"{rules / 'huge.yaml'}: file is larger than 1 MiB (1048577 bytes)"
    ]


def test_deep_nesting_is_refused(rules: Path) -> None:
    (rules / "deep.yaml").write_text("id: deep\nwhen: " + "{all: [" * 200 + "x" + "]}" * 200 + "\n")
    (problem,) = problems_in(rules)
    assert "nested deeper than" in problem


def test_secrets_never_appear_in_reprs_or_errors(rules: Path) -> None:
    env = {
        "CHAT_WEBHOOK_URL": "https://chat.example/hooks/T0K3N-abcdef",
        "CHAT_WEBHOOK_SECRET": "whsec_U0VDUkVULVNJR05JTkc=",
    }
    write(rules, "targets.yaml", TARGETS.replace("{X-Extra: value}", "{Authorization: B34R3R}"))
    config = load_config(rules, env)
    for text in (repr(config), str(config), repr(config.targets[1]), str(config.targets[1])):
        assert "T0K3N" not in text
        assert "whsec_U0VD" not in text
        assert "B34R3R" not in text

    bad = {"CHAT_WEBHOOK_URL": "ftp://chat.example/T0K3N", "CHAT_WEBHOOK_SECRET": "whsec_T0K3N!!"}
    with pytest.raises(ConfigError) as info:
        load_config(rules, bad)
    assert len(info.value.problems) == 2
    assert "T0K3N" not in str(info.value)


def test_settings_repr_hides_the_database_url() -> None:
    settings = Settings.from_env({"BOT_DB_URL": "postgresql://bot:hunter2@db/bot"})
    assert settings.db_url == "postgresql://bot:hunter2@db/bot"
    assert "hunter2" not in repr(settings)


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("14d", timedelta(days=14)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 0s ", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "15", "15 m", "1.5h", "-5m", "30m1h", "1h1h", "15min", "PT15M", "1H"]
)
def test_parse_duration_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


class _Timed(BaseModel):
    every: PositiveDuration
    window: Duration = timedelta(0)


def test_duration_types_in_a_model() -> None:
    assert _Timed(every="1h30m", window="0s").every == timedelta(hours=1, minutes=30)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="expected a duration string"):
        _Timed(every=90)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be longer than zero"):
        _Timed(every="0m")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="invalid duration '90 minutes'"):
        _Timed(every="90 minutes")  # type: ignore[arg-type]


# -- settings from the environment -------------------------------------------------------------


def test_settings_defaults() -> None:
    s = Settings.from_env({})
    assert s.db_url == "sqlite:///state/bot.db"
    assert (s.rules_dir, s.state_dir) == (Path("rules"), Path("state"))
    assert (s.log_level, s.log_format, s.net_allow) == ("INFO", "auto", ())
    assert s.net_transport == "aiohttp"
    assert (s.http_host, s.http_port, s.workers) == ("0.0.0.0", 8080, 2)
    assert (s.backfill, s.delivery_interval) == (timedelta(hours=24), timedelta(seconds=5))
    assert s.replica_id


def test_settings_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "BOT_DB_URL": "postgresql+psycopg://bot@127.0.0.1/bot",
            "BOT_RULES_DIR": "/etc/bot/rules",
            "BOT_STATE_DIR": "/var/lib/bot",
            "BOT_LOG_LEVEL": "debug",
            "BOT_LOG_FORMAT": "json",
            "BOT_NET_ALLOW": "127.0.0.1, 10.0.0.0/8 ,Feeds.Internal ,",
            "BOT_NET_TRANSPORT": "HTTPX",
            "BOT_HTTP_HOST": "127.0.0.1",
            "BOT_HTTP_PORT": "0",
            "BOT_BACKFILL": "2d",
            "BOT_DELIVERY_INTERVAL": "1m",
            "BOT_REPLICA_ID": "replica-a",
            "BOT_WORKERS": "4",
        }
    )
    assert s.rules_dir == Path("/etc/bot/rules")
    assert (s.log_level, s.log_format) == ("DEBUG", "json")
    assert s.net_allow == ("127.0.0.1", "10.0.0.0/8", "feeds.internal")
    assert s.net_transport == "httpx"
    assert (s.http_host, s.http_port, s.workers, s.replica_id) == ("127.0.0.1", 0, 4, "replica-a")
    assert (s.backfill, s.delivery_interval) == (timedelta(days=2), timedelta(minutes=1))


def test_every_bad_setting_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(
            {
                "BOT_DB_URL": "mysql://root:hunter2@db/bot",
                "BOT_LOG_LEVEL": "chatty",
                "BOT_LOG_FORMAT": "xml",
                "BOT_NET_ALLOW": "10.0.0.0/33",
                "BOT_NET_TRANSPORT": "curl",
                "BOT_HTTP_PORT": "80000",
                "BOT_BACKFILL": "yesterday",
                "BOT_DELIVERY_INTERVAL": "0s",
                "BOT_WORKERS": "many",
            }
        )
    names = [p.split(":")[0] for p in info.value.problems]
    assert names == [
        "BOT_DB_URL",
        "BOT_LOG_LEVEL",
        "BOT_LOG_FORMAT",
        "BOT_NET_ALLOW",
        "BOT_NET_TRANSPORT",
        "BOT_HTTP_PORT",
        "BOT_BACKFILL",
        "BOT_DELIVERY_INTERVAL",
        "BOT_WORKERS",
    ]
    assert "hunter2" not in str(info.value)
