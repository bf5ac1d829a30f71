"""Chat targets: Slack, Discord and Teams messages as a real receiver gets them, untrusted text
neutralized, every documented limit kept, HTTP statuses classified; their configuration."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import (
    AppriseTargetConfig,
    ConsoleTargetConfig,
    DiscordTargetConfig,
    SlackTargetConfig,
    TeamsTargetConfig,
    WebhookTargetConfig,
    load_config,
)
from bot.errors import ConfigError
from bot.logs import redact
from bot.models import Article, Match
from bot.net import Http, NetSettings, Response
from bot.notify import (
    AppriseTarget,
    ConsoleTarget,
    DeliveryFailed,
    DiscordTarget,
    SlackTarget,
    TeamsTarget,
    WebhookTarget,
    build_target,
    check_response,
    discord_text,
    markdown_text,
    safe_url,
    slack_text,
    teams_text,
    truncate,
)
from bot.replay import AlertReceiver
from bot.summarize import build_payload
from tests.helpers import write_rules

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
ARTICLE_URL = "https://news.example/a"
OTHER_URL = "https://other.example/b"
ATTACKER_URLS = ("http://example.invalid", "https://evil")
HEADLINE = "@everyone <!channel> [click](http://example.invalid)"
EVIDENCE = "Witkoff told <@123> and <!here> to log in at [bank.com](https://evil) before noon."
RAW_MENTIONS = ("<!channel>", "<!here>", "<@123>", "<@&456>", "<#789>", "@everyone", "@here")

TargetClass = type[SlackTarget] | type[DiscordTarget] | type[TeamsTarget]
KINDS: dict[str, TargetClass] = {
    "slack": SlackTarget,
    "discord": DiscordTarget,
    "teams": TeamsTarget,
}


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    async with Http(NetSettings(allow=("127.0.0.1",), total_timeout=3.0)) as h:
        yield h


def hostile_payload() -> dict[str, Any]:
    """An alert whose every text an attacker could have written."""
    article = Article(
        url=ARTICLE_URL,
        canonical_url=ARTICLE_URL,
        feed="wire <@&456>",
        title="Talks resume [bank.com](https://evil) <#789>",
        text="@here Witkoff flew to Moscow. Talks followed on Thursday.",
        published=T0,
        fetched_at=T0,
        content_hash="h",
    )
    match = Match(rule_id="envoy-visit", title=HEADLINE, evidence=(EVIDENCE,), severity="critical")
    payload = build_payload(match, article, alert_id="a1", created_at=T0)
    payload["sources"].append(
        {"url": OTHER_URL, "outlet": "Other <!channel>", "title": "[login](https://evil) @here"}
    )
    return payload


WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta")


def long_text(n: int = 20_000, words: tuple[str, ...] = WORDS) -> str:
    out: list[str] = []
    size = 0
    i = 0
    while size < n:
        word = words[i % len(words)]
        out.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(out)[:n]


def huge_payload(words: tuple[str, ...] = WORDS) -> dict[str, Any]:
    """Every text of the generic payload 20,000 characters long."""
    text = long_text(words=words)
    return {
        "id": "a2",
        "rule": "envoy-visit",
        "title": text,
        "severity": "warning",
        "summary": text + " summary",
        "values": {"envoy": "Witkoff"},
        "evidence": [text, text + " two", text + " three"],
        "article": {
            "url": ARTICLE_URL,
            "title": text,
            "outlet": text,
            "site_name": "Wire",
            "published": T0.isoformat(),
            "lead": text + " lead",
            "extraction": "page",
        },
        "sources": [
            {"url": f"https://s{i}.example/{i}", "outlet": text, "title": text} for i in range(30)
        ],
        "created_at": T0.isoformat(),
    }


async def deliver(
    kind: str, receiver: AlertReceiver, http: Http, payload: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    target = KINDS[kind](kind, receiver.url, http)
    await target.send(payload, delivery_id="d1", now=T0)
    [request] = receiver.delivered
    assert request.headers["content-type"] == "application/json"
    assert isinstance(request.json, dict), "the body must be valid JSON"
    return request.json, request.body


def strings(node: Any) -> list[str]:
    """Every string in a JSON document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


# Link syntaxes as each service parses them: Slack `<url|text>`, markdown `[text](url)` with
# unescaped brackets.
SLACK_LINK = re.compile(r"<(https?://[^|>]+)\|[^>]*>")
MARKDOWN_LINK = re.compile(r"(?<!\\)\[(?:\\.|[^\]\\])*(?<!\\)\]\((\S+?)\)")


def link_targets(kind: str, message: dict[str, Any]) -> set[str]:
    pattern = SLACK_LINK if kind == "slack" else MARKDOWN_LINK
    found = {m.group(1) for s in strings(message) for m in pattern.finditer(s)}
    if kind == "teams":
        card = message["attachments"][0]["content"]
        found |= {a["url"] for a in card.get("actions", [])}
    return found


# --- untrusted text stays data ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_mentions_and_spoofed_links_from_the_article_reach_the_payload_neutralized(
    kind: str, receiver: AlertReceiver, http: Http
) -> None:
    message, _ = await deliver(kind, receiver, http, hostile_payload())
    text = "\n".join(strings(message))
    for raw in RAW_MENTIONS:
        assert raw not in text, f"{raw!r} survived in the {kind} payload"
    for url in ATTACKER_URLS:
        assert f"]({url}" not in text  # no markdown link to the attacker's URL
        assert f"<{url}" not in text  # no Slack link or autolink either
    # the only links are the ones the bot built: the article and the other source
    assert link_targets(kind, message) <= {ARTICLE_URL, OTHER_URL}
    assert ARTICLE_URL in link_targets(kind, message)
    # and the text is still there to read
    for word in ("everyone", "channel", "click", "bank.com", "Witkoff"):
        assert word in text


async def test_discord_never_lets_a_message_ping(receiver: AlertReceiver, http: Http) -> None:
    for payload in (hostile_payload(), huge_payload()):
        receiver.clear()
        message, _ = await deliver("discord", receiver, http, payload)
        assert message["allowed_mentions"] == {"parse": []}


def test_slack_text_escapes_the_three_control_characters() -> None:
    assert slack_text("<!channel> & <@U024BE7LH> <http://x|spoof>") == (
        "&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt; &lt;http://x|spoof&gt;"
    )
    for word in ("@channel", "@here", "@everyone"):
        assert word not in slack_text(f"hi {word}!")
    assert "](" not in slack_text("[bank.com](https://evil)")


def test_discord_text_breaks_mentions_and_escapes_masked_links() -> None:
    out = discord_text("<@123> <@!123> <@&456> <#789> @everyone @here")
    for raw in ("<@", "<#", "@everyone", "@here"):
        assert raw not in out
    assert discord_text("[bank.com](https://evil)") == r"\[bank.com\]\(https://evil\)"
    assert discord_text("||hidden|| *bold*") == r"\|\|hidden\|\| \*bold\*"
    assert discord_text("# Heading\n> quote") == "\\# Heading\n\\> quote"


def test_discord_text_leaves_bare_urls_usable() -> None:
    assert discord_text("see https://x.example/a_b?c=1") == "see https://x.example/a_b?c=1"


def test_teams_text_breaks_links_and_at_mentions() -> None:
    out = teams_text("[bank.com](https://evil) <at>Boss</at> {{DATE(2025-01-01T00:00:00Z)}}")
    assert "](" not in out
    assert "<at>" not in out
    assert "{{" not in out
    assert "@everyone" not in teams_text("@everyone")


def test_markdown_text_escapes_markup_and_breaks_every_at_name() -> None:
    out = markdown_text("@alice @123 <@&9> [a](https://evil)")
    assert re.search(r"@[\w&]", out) is None
    assert "](" not in out


def test_bidirectional_overrides_are_removed() -> None:
    # U+202E would show "gnp.exe" as "exe.png"
    for escape in (slack_text, discord_text, teams_text, markdown_text):
        assert "\u202e" not in escape("photo\u202egnp.exe")


def test_only_plain_http_urls_become_links() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://x.example/a b") is None
    assert safe_url(None) is None
    assert safe_url("https://x.example/a_(b)|c") == "https://x.example/a_%28b%29%7Cc"


# --- limits ---------------------------------------------------------------------------------


def test_truncate_cuts_on_a_word_boundary_with_an_ellipsis() -> None:
    assert truncate("alpha beta gamma", 100) == "alpha beta gamma"
    assert truncate("alpha beta gamma", 12) == "alpha beta…"
    assert truncate("x" * 50, 10) == "x" * 9 + "…"  # one overlong word is cut inside


def test_truncate_never_splits_an_escape() -> None:
    text = "a & b < c > d " * 50
    for limit in range(5, 60):
        out = truncate(text, limit, slack_text)
        assert len(out) <= limit
        assert out.endswith("…")
        assert re.search(r"&(?!amp;|lt;|gt;)", out) is None, out
    for limit in range(5, 40):
        out = truncate("[x](y) " * 20, limit, discord_text)
        assert len(out) <= limit
        assert not out.removesuffix("…").endswith("\\") or out.endswith("\\\\…")


def assert_cut_on_a_word(text: str) -> None:
    assert "…" in text
    for m in re.finditer(r"(\S*)…", text):
        assert m.group(1).lstrip("\\>-*[ ") in WORDS, f"cut inside a word: {m.group(0)!r}"


async def test_slack_payload_keeps_block_kit_limits_with_20000_character_texts(
    receiver: AlertReceiver, http: Http
) -> None:
    message, _ = await deliver("slack", receiver, http, huge_payload())
    blocks = message["blocks"]
    assert len(blocks) <= 50
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    assert header["text"]["text"].endswith("…")
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
    assert len(message["text"]) <= 3000 and message["text"].endswith("…")
    evidence = blocks[1]["text"]["text"]
    assert evidence.count("\n> ") == 2  # three evidence sentences, each cut, none dropped
    assert_cut_on_a_word(evidence)


async def test_discord_payload_keeps_embed_limits_with_20000_character_texts(
    receiver: AlertReceiver, http: Http
) -> None:
    message, _ = await deliver("discord", receiver, http, huge_payload())
    assert len(message.get("content", "")) <= 2000
    [embed] = message["embeds"]
    assert len(embed["title"]) <= 256 and embed["title"].endswith("…")
    assert len(embed["description"]) <= 4096
    assert len(embed["fields"]) <= 25
    for f in embed["fields"]:
        assert 0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024
    assert len(embed["footer"]["text"]) <= 2048
    total = (
        len(embed["title"])
        + len(embed["description"])
        + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
        + len(embed["footer"]["text"])
    )
    assert total <= 6000
    assert embed["url"] == ARTICLE_URL
    assert embed["timestamp"].startswith("2025-11-26T12:00:00")
    assert_cut_on_a_word(embed["description"])


@pytest.mark.parametrize(
    "words",
    [WORDS, ("переговоры", "мир", "Москва"), ("和平", "谈判"), ("🕊️", "🇺🇦")],
    ids=["ascii", "cyrillic", "cjk", "emoji"],
)
async def test_teams_card_stays_under_the_message_size_limit_with_20000_character_texts(
    receiver: AlertReceiver, http: Http, words: tuple[str, ...]
) -> None:
    message, body = await deliver("teams", receiver, http, huge_payload(words))
    assert len(body) < 28 * 1024
    assert len(body) <= TeamsTarget.MAX_BYTES
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] in ("1.4", "1.5")
    assert all(b["type"] == "TextBlock" and b["wrap"] is True for b in card["body"])
    assert card["body"][0]["text"].endswith("…")
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Read article", "url": ARTICLE_URL}
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_an_ordinary_alert_is_not_cut(kind: str, receiver: AlertReceiver, http: Http) -> None:
    message, _ = await deliver(kind, receiver, http, hostile_payload())
    text = "\n".join(strings(message))
    assert "…" not in text
    assert "Witkoff flew to Moscow." in text  # the lead, as context below the evidence


@pytest.mark.parametrize("kind", KINDS)
async def test_a_payload_missing_fields_still_renders(
    kind: str, receiver: AlertReceiver, http: Http
) -> None:
    message, _ = await deliver(kind, receiver, http, {"title": "Deadline dropped", "evidence": 3})
    assert "Deadline dropped" in "\n".join(strings(message))


# --- HTTP statuses ----------------------------------------------------------------------------


async def send_expecting_failure(kind: str, receiver: AlertReceiver, http: Http) -> DeliveryFailed:
    target = KINDS[kind](kind, receiver.url, http)
    with pytest.raises(DeliveryFailed) as caught:
        await target.send(hostile_payload(), delivery_id="d1", now=T0)
    return caught.value


@pytest.mark.parametrize("kind", KINDS)
async def test_410_gone_is_final_and_says_to_disable_the_target(
    kind: str, receiver: AlertReceiver, http: Http
) -> None:
    receiver.respond_with(410)
    failed = await send_expecting_failure(kind, receiver, http)
    assert failed.retryable is False
    assert "HTTP 410" in failed.detail and "disable target " + kind in failed.detail


@pytest.mark.parametrize("kind", KINDS)
async def test_429_is_retried_after_the_time_retry_after_gives(
    kind: str, receiver: AlertReceiver, http: Http
) -> None:
    receiver.respond_with((429, {"Retry-After": "7"}))
    failed = await send_expecting_failure(kind, receiver, http)
    assert failed.retryable is True
    assert failed.retry_after == 7.0


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (408, True), (404, False)])
@pytest.mark.parametrize("kind", KINDS)
async def test_statuses_are_classified_like_the_generic_webhook(
    kind: str, receiver: AlertReceiver, http: Http, status: int, retryable: bool
) -> None:
    receiver.respond_with(status)
    failed = await send_expecting_failure(kind, receiver, http)
    assert failed.retryable is retryable
    assert f"HTTP {status}" in failed.detail


async def test_a_redirect_is_not_followed(receiver: AlertReceiver, http: Http) -> None:
    receiver.respond_with((302, {"Location": "http://127.0.0.1:1/elsewhere"}))
    failed = await send_expecting_failure("slack", receiver, http)
    assert failed.retryable is False
    assert len(receiver.received) == 1


def test_discord_retry_after_in_the_json_body_is_honoured() -> None:
    response = Response(
        "https://discord.test/api/webhooks/1/x",
        429,
        httpx.Headers({"content-type": "application/json"}),
        b'{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}',
    )
    with pytest.raises(DeliveryFailed) as caught:
        check_response(response, name="d", now=T0)
    assert caught.value.retryable and caught.value.retry_after == 1.5


async def test_an_unreachable_chat_target_is_retryable(http: Http) -> None:
    target = SlackTarget("s", "http://127.0.0.1:9/hook", http)
    with pytest.raises(DeliveryFailed) as caught:
        await target.send(hostile_payload(), delivery_id="d1", now=T0)
    assert caught.value.retryable


# --- configuration and construction -----------------------------------------------------------

TARGETS_YAML = """\
targets:
  - name: newsroom-slack
    type: slack
    url: ${SLACK_URL}
    username: News bot
    icon_url: https://example.org/icon.png
  - name: newsroom-discord
    type: discord
    url: ${DISCORD_URL}
    timeout: 5s
  - name: newsroom-teams
    type: teams
    url: ${TEAMS_URL}
  - name: long-tail
    type: apprise
    urls:
      - ${TELEGRAM_URL}
      - json://127.0.0.1/hook
"""
ENV = {
    "SLACK_URL": "https://hooks.slack.test/services/T0/B0/slack-token",
    "DISCORD_URL": "https://discord.test/api/webhooks/1/discord-token",
    "TEAMS_URL": "https://teams.test/workflows/teams-token",
    "TELEGRAM_URL": "tgram://123456789:telegram-token/-100200300",
}


def rules_dir(tmp_path: Path, targets: str) -> Path:
    root = write_rules(tmp_path / "rules", [])
    (root / "targets.yaml").write_text(targets, encoding="utf-8")
    return root


def problems(tmp_path: Path, targets: str, env: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(rules_dir(tmp_path, targets), env)
    return "\n".join(caught.value.problems)


def test_chat_target_kinds_load_with_urls_from_the_environment(tmp_path: Path) -> None:
    config = load_config(rules_dir(tmp_path, TARGETS_YAML), ENV)
    slack, discord, teams, apprise = config.targets
    assert isinstance(slack, SlackTargetConfig)
    assert slack.url.get_secret_value() == ENV["SLACK_URL"]
    assert (slack.username, slack.icon_url) == ("News bot", "https://example.org/icon.png")
    assert isinstance(discord, DiscordTargetConfig)
    assert discord.timeout.total_seconds() == 5
    assert isinstance(teams, TeamsTargetConfig)
    assert teams.url.get_secret_value() == ENV["TEAMS_URL"]
    assert isinstance(apprise, AppriseTargetConfig)
    assert [u.get_secret_value() for u in apprise.urls] == [
        ENV["TELEGRAM_URL"],
        "json://127.0.0.1/hook",
    ]
    for cfg in config.targets:
        assert "token" not in repr(cfg)


def test_an_unknown_target_type_lists_every_kind_at_its_line(tmp_path: Path) -> None:
    text = problems(tmp_path, "targets:\n  - name: t\n    type: telegram\n")
    assert "targets.yaml:3: targets[0].type: type must be one of: " in text
    assert "console, webhook, slack, discord, teams, apprise" in text


def test_a_bad_chat_url_is_reported_at_its_line_without_echoing_it(tmp_path: Path) -> None:
    text = problems(
        tmp_path, "targets:\n  - name: t\n    type: discord\n    url: ftp://secret-token\n"
    )
    assert "targets.yaml:4: targets[0].url: expected an http:// or https:// URL" in text
    assert "secret-token" not in text


def test_an_unset_variable_in_a_chat_url_is_reported(tmp_path: Path) -> None:
    text = problems(tmp_path, "targets:\n  - name: t\n    type: teams\n    url: ${NOPE}\n", {})
    assert "targets.yaml:4: targets[0].url: environment variable NOPE is not set" in text


def test_discord_names_it_refuses_are_refused_here(tmp_path: Path) -> None:
    text = problems(
        tmp_path,
        "targets:\n  - name: t\n    type: discord\n    url: https://d.test/x\n"
        "    username: My Discord bot\n",
    )
    assert "targets.yaml:5: targets[0].username: Discord refuses names" in text


def test_options_a_kind_does_not_have_are_unknown_fields(tmp_path: Path) -> None:
    text = problems(
        tmp_path,
        "targets:\n  - name: t\n    type: teams\n    url: https://t.test/x\n    username: x\n",
    )
    assert "targets.yaml:5: targets[0].username: unknown field (not an option here)" in text


@pytest.mark.parametrize(
    ("urls", "message"),
    [("[]", "at least 1"), ("['not a url with-secret']", "expected an Apprise URL")],
)
def test_apprise_urls_are_checked_without_echoing_them(
    tmp_path: Path, urls: str, message: str
) -> None:
    text = problems(tmp_path, f"targets:\n  - name: t\n    type: apprise\n    urls: {urls}\n")
    assert "targets.yaml:4: targets[0].urls" in text and message in text
    assert "with-secret" not in text


def test_build_target_makes_every_kind_and_redacts_its_urls(tmp_path: Path) -> None:
    env = {**ENV, "HOOK_URL": "https://hook.test/in/webhook-token"}
    yaml = TARGETS_YAML.split("  - name: long-tail")[0] + (
        "  - name: console\n    type: console\n"
        "  - name: hook\n    type: webhook\n    url: ${HOOK_URL}\n"
    )
    config = load_config(rules_dir(tmp_path, yaml), env)
    http = Http(NetSettings())
    built = {cfg.name: build_target(cfg, http) for cfg in config.targets}
    assert isinstance(built["newsroom-slack"], SlackTarget)
    assert isinstance(built["newsroom-discord"], DiscordTarget)
    assert isinstance(built["newsroom-teams"], TeamsTarget)
    assert isinstance(built["console"], ConsoleTarget)
    assert isinstance(built["hook"], WebhookTarget)
    assert built["newsroom-discord"].timeout == 5.0
    assert built["newsroom-slack"].username == "News bot"
    for key in ("SLACK_URL", "DISCORD_URL", "TEAMS_URL", "HOOK_URL"):
        assert redact(f"posting to {env[key]}") == "posting to ***"
    assert isinstance(config.target("console"), ConsoleTargetConfig)
    assert isinstance(config.target("hook"), WebhookTargetConfig)


def test_an_apprise_target_without_apprise_installed_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # makes `import apprise` fail
    cfg = AppriseTargetConfig.model_validate(
        {"name": "tail", "type": "apprise", "urls": [ENV["TELEGRAM_URL"]]}
    )
    with pytest.raises(ConfigError, match=r"pip install 'news-alert-bot\[apprise\]'"):
        build_target(cfg, Http(NetSettings()))


# --- Apprise, when installed -------------------------------------------------------------------


async def test_apprise_delivers_neutralized_markdown(receiver: AlertReceiver) -> None:
    pytest.importorskip("apprise")
    url = receiver.url.replace("http://", "json://", 1)
    target = AppriseTarget("tail", (url,))
    await target.send(hostile_payload(), delivery_id="d1", now=T0)
    [request] = receiver.delivered
    assert isinstance(request.json, dict)
    text = json.dumps(request.json, ensure_ascii=False)
    for raw in RAW_MENTIONS:
        assert raw not in text
    for url in ATTACKER_URLS:
        assert f"]({url}" not in text
    assert "Witkoff" in request.json["message"]
    assert f"[Read article]({ARTICLE_URL})" in request.json["message"]


async def test_apprise_failure_is_retryable(receiver: AlertReceiver) -> None:
    pytest.importorskip("apprise")
    receiver.respond_with(503)
    target = AppriseTarget("tail", (receiver.url.replace("http://", "json://", 1),))
    with pytest.raises(DeliveryFailed) as caught:
        await target.send(hostile_payload(), delivery_id="d1", now=T0)
    assert caught.value.retryable


def test_an_apprise_url_apprise_does_not_know_is_a_config_error() -> None:
    pytest.importorskip("apprise")
    cfg = AppriseTargetConfig.model_validate(
        {"name": "tail", "type": "apprise", "urls": ["nosuchservice://token-123"]}
    )
    with pytest.raises(ConfigError) as caught:
        build_target(cfg, Http(NetSettings()))
    assert "#1" in str(caught.value) and "token-123" not in str(caught.value)
