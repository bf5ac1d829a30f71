"""Settings from the environment and the YAML rules directory, parsed into frozen typed objects."""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import ipaddress
import os
import re
import socket
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar, Union, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    SecretStr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)

from bot.errors import ConfigError
from bot.language._places import country_names, is_country_code
from bot.net import TRANSPORTS

__all__ = [
    "AppriseTargetConfig",
    "Condition",
    "Config",
    "ConsoleTargetConfig",
    "DiscordTargetConfig",
    "Duration",
    "FeedConfig",
    "PositiveDuration",
    "RegexTerm",
    "RuleConfig",
    "Settings",
    "SlackTargetConfig",
    "SourceFile",
    "TargetConfig",
    "TeamsTargetConfig",
    "Term",
    "WebhookTargetConfig",
    "check",
    "load_config",
    "parse_duration",
]

MAX_FILE_BYTES = 1 << 20  # a rules file larger than this is refused before it is parsed
MAX_DEPTH = 64  # YAML nesting deeper than this is refused (the loaders recurse)

FEEDS_FILE = "feeds.yaml"
TARGETS_FILE = "targets.yaml"
RULE_TESTS_SUFFIXES = (".tests.yaml", ".tests.yml")

# ---------------------------------------------------------------------------------------------
# Durations: 30s, 15m, 2h, 14d, 1w and combinations in that order (1h30m, 1d12h).

_DURATION = re.compile(
    r"(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,8})m)?(?:(\d{1,9})s)?"
)
_DURATION_HELP = "use a number and a unit (s, m, h, d, w), e.g. 30s, 15m, 2h, 14d, 1w or 1h30m"


def parse_duration(text: str) -> timedelta:
    """`"1h30m"` → `timedelta(hours=1, minutes=30)`; ValueError on anything else."""
    value = text.strip()
    m = _DURATION.fullmatch(value)
    if not value or m is None:
        raise ValueError(f"invalid duration {text!r}: {_DURATION_HELP}")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, str):
        try:
            result = parse_duration(value)
        except ValueError as exc:
            raise PydanticCustomError("duration", str(exc)) from None
    else:
        raise PydanticCustomError("duration", f"expected a duration string: {_DURATION_HELP}")
    if result < timedelta(0):
        raise PydanticCustomError("duration", "a duration cannot be negative")
    return result


def _positive_duration(value: Any) -> timedelta:
    result = _duration(value)
    if result <= timedelta(0):
        raise PydanticCustomError("duration", "must be longer than zero")
    return result


Duration = Annotated[timedelta, PlainValidator(_duration)]
"""A duration written `30s`, `15m`, `2h`, `14d`, `1w` or combined (`1h30m`); zero allowed."""

PositiveDuration = Annotated[timedelta, PlainValidator(_positive_duration)]
"""A Duration longer than zero (intervals, timeouts)."""

# ---------------------------------------------------------------------------------------------
# Settings from the environment.

LogFormat = Literal["auto", "json", "text"]
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?",
    re.IGNORECASE,
)


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Process settings from `BOT_*` environment variables (12-factor); rules live in YAML."""

    db_url: str = field(default="sqlite:///state/bot.db", repr=False)  # may hold a password
    rules_dir: Path = Path("rules")
    state_dir: Path = Path("state")
    log_level: str = "INFO"
    log_format: LogFormat = "auto"
    net_allow: tuple[str, ...] = ()
    net_transport: str = "aiohttp"  # what carries HTTP requests: "aiohttp" or "httpx"
    http_host: str = "0.0.0.0"  # noqa: S104 - the status endpoint listens in a container
    http_port: int = 8080  # 0 disables the status endpoint
    backfill: timedelta = timedelta(hours=24)
    delivery_interval: timedelta = timedelta(seconds=5)
    replica_id: str = field(default_factory=_default_replica_id)
    workers: int = 2
    retention: timedelta | None = timedelta(days=90)  # article text kept this long; None: always
    feed_failure_threshold: int = 5  # failed polls in a row that raise an alert about the feed
    lease: timedelta = timedelta(minutes=5)  # how long a replica holds a feed poll or a delivery
    db_wait: timedelta = timedelta(seconds=60)  # how long start-up waits for PostgreSQL to answer

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read every `BOT_*` variable; ConfigError lists each bad one by name."""
        problems: list[str] = []
        values: dict[str, Any] = {}

        def get(name: str) -> str | None:
            raw = env.get(name)
            return raw.strip() if raw is not None and raw.strip() else None

        def parse(name: str, attr: str, convert: Any) -> None:
            raw = get(name)
            if raw is None:
                return
            try:
                values[attr] = convert(raw)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")

        parse("BOT_DB_URL", "db_url", _db_url)
        parse("BOT_RULES_DIR", "rules_dir", Path)
        parse("BOT_STATE_DIR", "state_dir", Path)
        parse("BOT_LOG_LEVEL", "log_level", _log_level)
        parse("BOT_LOG_FORMAT", "log_format", _log_format)
        parse("BOT_NET_ALLOW", "net_allow", _net_allow)
        parse("BOT_NET_TRANSPORT", "net_transport", _net_transport)
        parse("BOT_HTTP_HOST", "http_host", _http_host)
        parse("BOT_HTTP_PORT", "http_port", lambda s: _int_in(s, 0, 65535))
        parse("BOT_BACKFILL", "backfill", parse_duration)
        parse("BOT_DELIVERY_INTERVAL", "delivery_interval", _env_positive_duration)
        parse("BOT_REPLICA_ID", "replica_id", _replica_id)
        parse("BOT_WORKERS", "workers", lambda s: _int_in(s, 1, 256))
        parse("BOT_RETENTION", "retention", _retention)
        parse("BOT_LEASE", "lease", _env_positive_duration)
        parse("BOT_DB_WAIT", "db_wait", parse_duration)
        parse("BOT_FEED_FAILURE_THRESHOLD", "feed_failure_threshold", lambda s: _int_in(s, 1, 1000))
        if problems:
            raise ConfigError(problems)
        return cls(**values)


def _db_url(value: str) -> str:
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.split("+", 1)[0].lower() not in ("sqlite", "postgresql"):
        # never echo the URL: it may carry a password
        raise ValueError("expected sqlite:///path or postgresql://user@host/db")
    return value


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in _LOG_LEVELS:
        raise ValueError(f"{value!r} is not one of {', '.join(_LOG_LEVELS)}")
    return level


def _log_format(value: str) -> LogFormat:
    fmt = value.lower()
    if fmt in ("auto", "json", "text"):
        return cast(LogFormat, fmt)
    raise ValueError(f"{value!r} is not one of auto, json, text")


def _net_transport(value: str) -> str:
    transport = value.lower()
    if transport not in TRANSPORTS:
        raise ValueError(f"{value!r} is not one of {', '.join(TRANSPORTS)}")
    return transport


def _net_allow(value: str) -> tuple[str, ...]:
    entries: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            entries.append(
                str(ipaddress.ip_network(item, strict=False))
                if "/" in item
                else str(ipaddress.ip_address(item))
            )
            continue
        except ValueError:
            pass
        if "/" in item or not _HOSTNAME.fullmatch(item):
            raise ValueError(f"{item!r} is not a host name, an IP address or a CIDR network")
        entries.append(item.lower().rstrip("."))
    return tuple(entries)


def _http_host(value: str) -> str:
    if any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} is not a host name or address")
    return value


def _retention(value: str) -> timedelta | None:
    if value.strip().lower() in ("off", "never", "none"):
        return None
    return _env_positive_duration(value)


def _int_in(value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if not low <= number <= high:
        raise ValueError(f"{number} is not between {low} and {high}")
    return number


def _env_positive_duration(value: str) -> timedelta:
    result = parse_duration(value)
    if result <= timedelta(0):
        raise ValueError("must be longer than zero")
    return result


def _replica_id(value: str) -> str:
    if len(value) > 200 or any(ch.isspace() for ch in value):
        raise ValueError("must be at most 200 characters without spaces")
    return value


# ---------------------------------------------------------------------------------------------
# The schema of the YAML files. Every model is frozen and rejects unknown keys.


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value) or len(value) > 100:
        raise PydanticCustomError(
            "name",
            "must be lowercase letters, digits, '.', '_' or '-', starting with a letter "
            "or digit (at most 100 characters)",
        )
    return value


def _rule_id(value: str) -> str:
    if not _RULE_ID.fullmatch(value) or len(value) > 100:
        raise PydanticCustomError(
            "rule_id",
            "must be lowercase letters, digits or '-', starting with a letter or digit "
            "(at most 100 characters)",
        )
    return value


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not host
        or any(ch.isspace() for ch in value)
    ):
        # never echo the value: webhook URLs carry tokens
        raise PydanticCustomError("url", "expected an http:// or https:// URL")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


Name = Annotated[str, AfterValidator(_name)]
RuleId = Annotated[str, AfterValidator(_rule_id)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Text = Annotated[str, AfterValidator(_non_blank)]


def _label(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 200 or any(ord(ch) < 32 for ch in value):
        raise PydanticCustomError("label", "must be 1 to 200 characters on one line")
    return value


Label = Annotated[str, AfterValidator(_label)]


class FeedConfig(_Frozen):
    """One feed to poll; `backfill` None means Settings.backfill. `title`, `site` and `tags`
    (folders, `News/Europe` for a nested one) are what a feed reader's OPML said of it."""

    name: Name
    url: HttpUrl
    interval: PositiveDuration = timedelta(minutes=15)
    backfill: Duration | None = None
    enabled: bool = True
    title: Label | None = None
    site: HttpUrl | None = None
    tags: tuple[Label, ...] = ()


class _FeedDefaults(_Frozen):
    interval: PositiveDuration | None = None
    backfill: Duration | None = None


class _FeedsFile(_Frozen):
    defaults: _FeedDefaults = _FeedDefaults()
    feeds: tuple[FeedConfig, ...]

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        """Fill each feed's missing `interval`/`backfill` from a valid `defaults` entry."""
        if not isinstance(data, dict):
            return data
        defaults, feeds = data.get("defaults"), data.get("feeds")
        if not isinstance(defaults, dict) or not isinstance(feeds, list):
            return data
        fill: dict[str, Any] = {}
        for key in ("interval", "backfill"):
            value = defaults.get(key)
            if isinstance(value, str):
                try:
                    parse_duration(value)
                except ValueError:
                    continue  # reported at defaults.<key>
                fill[key] = value
        if not fill:
            return data
        filled = [{**fill, **f} if isinstance(f, dict) else f for f in feeds]
        return {**data, "feeds": filled}


def _secret_url(value: Any) -> SecretStr:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        raise PydanticCustomError("url", "expected an http:// or https:// URL")
    return SecretStr(_http_url(raw.strip()))


def _signing_secret(value: Any) -> SecretStr | None:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise PydanticCustomError("secret", "expected a string")
    raw = raw.strip()
    if not raw:
        return None  # `${SECRET:-}`: signing switched off
    if raw.startswith("whsec_"):
        try:
            key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key:
            raise PydanticCustomError(
                "secret", "a whsec_ secret must be followed by base64 (Standard Webhooks)"
            )
    return SecretStr(raw)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def _headers(value: Mapping[str, str]) -> Mapping[str, str]:
    for name, header in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise PydanticCustomError(
                "header", "{name!r} is not a valid header name", {"name": name}
            )
        if name.lower() in _RESERVED_HEADERS:
            raise PydanticCustomError("header", "{name} is set by the bot", {"name": name})
        if "\r" in header or "\n" in header:
            raise PydanticCustomError(
                "header", "the value of {name} contains a line break", {"name": name}
            )
    return MappingProxyType(dict(value))


Headers = Annotated[Mapping[str, str], AfterValidator(_headers)]


_SEVERITY_ORDER = ("info", "warning", "critical")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", "unknown time zone {tz!r} (e.g. UTC, Europe/Kyiv)", {"tz": value}
        ) from None
    return value


def _cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise PydanticCustomError(
            "cron",
            "not a cron expression ({error}): minute hour day month weekday",
            {"error": str(exc)},
        ) from None
    return value


def _clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise PydanticCustomError("clock", "a time of day as HH:MM")
    return value


def _none_is_empty(value: Any) -> Any:
    return () if value is None else value


class RouteConfig(_Frozen):
    """Which alerts a target takes when a rule names no targets: by rule id and severity."""

    rules: Annotated[tuple[RuleId, ...], BeforeValidator(_none_is_empty)] = ()  # empty: all
    min_severity: Literal["info", "warning", "critical"] = "info"


class RateLimitConfig(_Frozen):
    """At most `count` messages per `per`; the rest wait their turn (nothing is dropped)."""

    count: Annotated[int, Field(ge=1)]
    per: PositiveDuration


class QuietHoursConfig(_Frozen):
    """No messages between `start` and `end` (local time of the target's `timezone`); they
    are sent when the quiet hours end. Alerts of `except_severity` still go out at once."""

    start: Annotated[str, AfterValidator(_clock)]
    end: Annotated[str, AfterValidator(_clock)]
    except_severity: Literal["info", "warning", "critical"] | None = "critical"


class _TargetBase(_Frozen):
    """What every target kind takes: routing, a rate limit, digests and quiet hours."""

    name: Name
    route: RouteConfig | None = None
    rate_limit: RateLimitConfig | None = None
    digest: Annotated[str, AfterValidator(_cron)] | None = None  # cron: one message per run
    quiet_hours: QuietHoursConfig | None = None
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"


class ConsoleTargetConfig(_TargetBase):
    """Print alerts on standard output."""

    name: Name
    type: Literal["console"]


class WebhookTargetConfig(_TargetBase):
    """POST a JSON alert to `url`, signed per Standard Webhooks when `secret` is set."""

    name: Name
    type: Literal["webhook"]
    url: Annotated[SecretStr, PlainValidator(_secret_url)]
    secret: Annotated[SecretStr | None, PlainValidator(_signing_secret)] = None
    timeout: PositiveDuration = timedelta(seconds=10)
    headers: Headers = Field(default_factory=dict, repr=False, validate_default=True)


def _display_name(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 80:
        raise PydanticCustomError("username", "must be 1 to 80 characters")
    return value


def _discord_name(value: str) -> str:
    # Discord refuses these in webhook names (the request fails with 400).
    lowered = value.lower()
    if any(word in lowered for word in ("discord", "clyde")) or lowered in ("everyone", "here"):
        raise PydanticCustomError(
            "username",
            "Discord refuses names containing 'discord' or 'clyde', and 'everyone' or 'here'",
        )
    return value


DisplayName = Annotated[str, AfterValidator(_display_name)]


class SlackTargetConfig(_TargetBase):
    """Post to a Slack incoming webhook (Block Kit).

    `username` and `icon_url` are honoured only by legacy webhooks; app webhooks post as the app.
    """

    name: Name
    type: Literal["slack"]
    url: Annotated[SecretStr, PlainValidator(_secret_url)]
    timeout: PositiveDuration = timedelta(seconds=10)
    username: DisplayName | None = None
    icon_url: HttpUrl | None = None


class DiscordTargetConfig(_TargetBase):
    """Post to a Discord webhook (one embed; mentions never ping). `icon_url` is the avatar."""

    name: Name
    type: Literal["discord"]
    url: Annotated[SecretStr, PlainValidator(_secret_url)]
    timeout: PositiveDuration = timedelta(seconds=10)
    username: Annotated[DisplayName, AfterValidator(_discord_name)] | None = None
    icon_url: HttpUrl | None = None


class TeamsTargetConfig(_TargetBase):
    """Post to a Microsoft Teams Workflows webhook (an Adaptive Card)."""

    name: Name
    type: Literal["teams"]
    url: Annotated[SecretStr, PlainValidator(_secret_url)]
    timeout: PositiveDuration = timedelta(seconds=10)


def _apprise_url(value: Any) -> SecretStr:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        raise PydanticCustomError("url", "expected an Apprise URL (scheme://…)")
    raw = raw.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep or not scheme or not rest or any(ch.isspace() for ch in raw):
        # never echo the value: Apprise URLs carry tokens
        raise PydanticCustomError("url", "expected an Apprise URL (scheme://…)")
    return SecretStr(raw)


class AppriseTargetConfig(_TargetBase):
    """Notify through Apprise (an optional extra) to any of the services it supports."""

    name: Name
    type: Literal["apprise"]
    urls: Annotated[
        tuple[Annotated[SecretStr, PlainValidator(_apprise_url)], ...], Field(min_length=1)
    ]


_TARGET_KINDS = ("console", "webhook", "slack", "discord", "teams", "apprise")


def _target_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"<{kind}>" if kind in _TARGET_KINDS else None


TargetConfig = Annotated[
    Union[  # noqa: UP007 - tagged members need the Union form
        Annotated[ConsoleTargetConfig, Tag("<console>")],
        Annotated[WebhookTargetConfig, Tag("<webhook>")],
        Annotated[SlackTargetConfig, Tag("<slack>")],
        Annotated[DiscordTargetConfig, Tag("<discord>")],
        Annotated[TeamsTargetConfig, Tag("<teams>")],
        Annotated[AppriseTargetConfig, Tag("<apprise>")],
    ],
    Discriminator(
        _target_kind,
        custom_error_type="target_type",
        custom_error_message=f"type must be one of: {', '.join(_TARGET_KINDS)}",
    ),
]
"""A target; `type` picks the kind: console, webhook, slack, discord, teams or apprise."""


class _TargetsFile(_Frozen):
    targets: tuple[TargetConfig, ...]


# The rule language. A term is a phrase, a {regex: …} or a nested condition; new kinds of term
# (entity, near, …) join the Term union under a new tag, new rule keys join RuleConfig.


def _phrase(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("phrase", "a phrase must not be empty")
    return value


def _regex(value: str) -> str:
    if not value:
        raise PydanticCustomError("regex", "a regex must not be empty")
    try:
        re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise PydanticCustomError("regex", "invalid regex: {error}", {"error": str(exc)}) from None
    return value


Phrase = Annotated[str, AfterValidator(_phrase)]


class RegexTerm(_Frozen):
    """`{regex: "…"}`: a Python regular expression, matched case-insensitively."""

    regex: Annotated[str, AfterValidator(_regex)]


class EntityTerm(_Frozen):
    """`{entity: envoy}`: any name (or alias) of the rule's gazetteer `envoy`."""

    entity: Name


def _term_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "<phrase>"
    if isinstance(value, RegexTerm) or (isinstance(value, dict) and "regex" in value):
        return "<regex>"
    if isinstance(value, EntityTerm) or (isinstance(value, dict) and "entity" in value):
        return "<entity>"
    if isinstance(value, dict | Condition):
        return "<condition>"
    return None


Term = Annotated[
    Union[  # noqa: UP007 - tagged members need the Union form
        Annotated[Phrase, Tag("<phrase>")],
        Annotated[RegexTerm, Tag("<regex>")],
        Annotated[EntityTerm, Tag("<entity>")],
        Annotated["Condition", Tag("<condition>")],
    ],
    Discriminator(
        _term_kind,
        custom_error_type="term",
        custom_error_message=(
            "a term is a phrase (a string: quote numbers), {regex: …}, {entity: …} "
            "or a condition mapping"
        ),
    ),
]


def _terms(value: tuple[Term, ...]) -> tuple[Term, ...]:
    if not value:
        raise PydanticCustomError("empty", "must list at least one term")
    return value


Terms = Annotated[tuple[Term, ...], AfterValidator(_terms)]


class Condition(_Frozen):
    """`any` holds if one term holds, `all` if every term does, `none` if no term does.

    Every key present must hold.
    """

    any: Terms | None = None
    all: Terms | None = None
    none: Terms | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if self.any is None and self.all is None and self.none is None:
            raise PydanticCustomError(
                "empty_condition", "a condition needs at least one of any, all, none"
            )
        return self


Severity = Literal["info", "warning", "critical"]
Scope = Literal["sentence", "paragraph", "article"]


class WithinScope(_Frozen):
    """`scope: {within: 12}`: the conditions hold within a span of that many words."""

    within: Annotated[int, Field(ge=2, le=500)]


def _dedupe(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value))


def _entity_entry(value: Any) -> Any:
    """`Moscow`, or `{Kyiv: [Kiev, Київ]}`: a name with its aliases and other spellings."""
    if isinstance(value, str):
        if not value.strip():
            raise PydanticCustomError("entity", "an entity name must not be empty")
        return (value, ())
    if isinstance(value, dict) and len(value) == 1:
        ((name, aliases),) = value.items()
        if isinstance(aliases, str):
            aliases = [aliases]
        if (
            isinstance(name, str)
            and name.strip()
            and isinstance(aliases, list)
            and all(isinstance(a, str) and a.strip() for a in aliases)
        ):
            return (name, _with_country_names(aliases))
    raise PydanticCustomError(
        "entity", "an entity is a name or {name: [alias, …]} with one name per entry"
    )


_COUNTRY = "country:"


def _with_country_names(aliases: list[str]) -> tuple[str, ...]:
    """`country:DE` among the aliases stands for the country's name in every language of the
    pack, from CLDR."""
    out: list[str] = []
    for alias in aliases:
        if not alias.startswith(_COUNTRY):
            out.append(alias)
            continue
        code = alias[len(_COUNTRY) :].strip().upper()
        if not is_country_code(code):
            raise PydanticCustomError(
                "entity",
                "'{alias}': no country with that code (ISO 3166 two letters, e.g. country:DE)",
                {"alias": alias},
            )
        out.extend(n for n in country_names(code) if n not in out)
    return tuple(out)


EntityEntry = Annotated[tuple[str, tuple[str, ...]], BeforeValidator(_entity_entry)]


class RegexExtract(_Frozen):
    """`{regex: "(?P<n>\\d+)-point"}`: the named group `group` (default: the first group, else
    the whole match) of the first match in the rule's evidence."""

    regex: Annotated[str, AfterValidator(_regex)]
    group: str | int | None = None
    format: str | None = None  # e.g. "{}-point": the captured text put into a fixed form
    every: bool = False  # each match is a value ("28 or 26 points": two), not only the first


class DateExtract(_Frozen):
    """`{date: deadline}`: a deadline's date (YYYY-MM-DD, YYYY-MM, or none when withdrawn);
    `{date: any}`: the first date mentioned."""

    date: Literal["deadline", "any"]


class NumberExtract(_Frozen):
    """`{number: any}`: the first number in the evidence, as digits. With `of` (noun stems,
    e.g. `[point, punkt, пункт]`): the numbers, in digits or words in the pack's languages,
    that count one of those nouns ("28-point", "двадцати пунктов", "20 puntos"); `every`
    makes each of them a value ("26 or 28 points": two), `format` puts each in a fixed form."""

    number: Literal["any"]
    of: tuple[str, ...] | None = None
    every: bool = False
    format: str | None = None


def _extract_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("regex", "date", "number"):
            if key in value:
                return f"<{key}>"
    return None


ExtractSpec = Annotated[
    Union[  # noqa: UP007 - tagged members need the Union form
        Annotated[RegexExtract, Tag("<regex>")],
        Annotated[DateExtract, Tag("<date>")],
        Annotated[NumberExtract, Tag("<number>")],
    ],
    Discriminator(
        _extract_kind,
        custom_error_type="extract",
        custom_error_message="an extracted value is {regex: …}, {date: …} or {number: any}",
    ),
]

TriggerKind = Literal["any", "new", "changed", "count"]


class TriggerConfig(_Frozen):
    """When a match is news: every time (`any`), a key not seen within `window` (`new`), a
    tracked `value` that differs from the last one stored (`changed`), or `count` matches of
    a key within `window` (`count`)."""

    kind: TriggerKind = "any"
    key: Annotated[tuple[Name, ...], BeforeValidator(_none_is_empty)] = ()
    value: Name | None = None
    window: PositiveDuration | None = None
    count: Annotated[int, Field(ge=2)] | None = None

    @model_validator(mode="after")
    def _complete(self) -> TriggerConfig:
        if self.kind == "changed" and self.value is None:
            raise PydanticCustomError("trigger", "a changed trigger needs `value`")
        if self.kind == "count" and (self.count is None or self.window is None):
            raise PydanticCustomError("trigger", "a count trigger needs `count` and `window`")
        return self


class RuleConfig(_Frozen):
    """One rule file: what to look for, at what scope, what to pull out, when it is news,
    and where to send the alert."""

    id: RuleId
    title: Text  # a template: {name} is replaced by the extracted value `name`
    description: str = ""
    severity: Severity = "info"
    topic: Condition | None = None  # an article-level condition
    scope: Scope | WithinScope = "sentence"
    when: Condition
    entities: Mapping[Name, Annotated[tuple[EntityEntry, ...], AfterValidator(_terms)]] = Field(
        default_factory=dict
    )
    extract: Mapping[Name, ExtractSpec] = Field(default_factory=dict)
    # `{Putin: [Moscow]}`: a pair of a key's two gazetteers where the first is at home in the
    # second (a host receiving visitors) is not a key: "Witkoff met Putin in Moscow" is
    # Witkoff's trip, not Putin's.
    home: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    # For a rule keyed on an actor and a place: the sentences that name actors taking part in
    # the talks without naming the place ("the delegation is led by Umerov"). An actor named in
    # one of them, or in a list of names, is paired with the place of the pair found just before.
    venue: Condition | None = None
    # For the same rules: the larger place each place lies in (`{Miami: Florida, Geneva:
    # Switzerland}`). A match names the chain in its value `within`, and an article's pair at
    # the larger place gives way to the same actor's pair at a place inside it.
    within: Mapping[str, str] = Field(default_factory=dict)
    # For the same rules: names of the first gazetteer spoken of far more often than they
    # travel (heads of state). One pairs with a place only as the sentence's own traveller:
    # named in the uninflected form, not as an owner ("Trump's envoy", "l'envoyé de Trump",
    # "the Trump administration"), with no other place between him and it, close before it.
    principals: tuple[str, ...] = ()
    trigger: TriggerConfig = TriggerConfig()
    cooldown: PositiveDuration | None = None
    notify: Annotated[
        tuple[Name, ...], BeforeValidator(_none_is_empty), AfterValidator(_dedupe)
    ] = ()  # empty: every target

    @model_validator(mode="before")
    @classmethod
    def _title_defaults_to_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "title" not in data and isinstance(data.get("id"), str):
            return {**data, "title": data["id"]}
        return data

    @property
    def value_names(self) -> tuple[str, ...]:
        """Names a match can carry: gazetteers and extracted values."""
        return (*self.entities, *self.extract)


Condition.model_rebuild()
RuleConfig.model_rebuild()

_MODELS: tuple[type[BaseModel], ...] = (
    FeedConfig,
    _FeedDefaults,
    _FeedsFile,
    RouteConfig,
    RateLimitConfig,
    QuietHoursConfig,
    ConsoleTargetConfig,
    WebhookTargetConfig,
    SlackTargetConfig,
    DiscordTargetConfig,
    TeamsTargetConfig,
    AppriseTargetConfig,
    _TargetsFile,
    RegexTerm,
    EntityTerm,
    Condition,
    WithinScope,
    RegexExtract,
    DateExtract,
    NumberExtract,
    TriggerConfig,
    RuleConfig,
)
_KNOWN_KEYS = sorted({name for model in _MODELS for name in model.model_fields})

# ---------------------------------------------------------------------------------------------
# The loaded configuration.


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file the configuration was read from, to notice edits (hot reload)."""

    path: Path
    mtime_ns: int
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the rules directory says, validated."""

    feeds: tuple[FeedConfig, ...]
    targets: tuple[TargetConfig, ...]
    rules: tuple[RuleConfig, ...]
    source_files: tuple[SourceFile, ...] = ()

    def with_feeds(self, feeds: Iterable[FeedConfig]) -> Config:
        """The same configuration polling other feeds (the replay serves its own)."""
        return replace(self, feeds=tuple(feeds))

    def target(self, name: str) -> TargetConfig:
        """The target called `name`; KeyError if there is none."""
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


class RuleTestCase(_Frozen):
    """One test case beside a rule: a few sentences in, the values the rule must find out.

    `expect` lists the matches (each a mapping of value names to values, compared on the
    names it gives); an empty list says the rule must not match.
    """

    name: Text
    rule: RuleId | None = None  # default: the rule named by the file (`<rule id>.tests.yaml`)
    title: str = ""
    text: str
    published: datetime
    expect: tuple[Mapping[Name, Any], ...]
    line: int = 0  # where the case starts, filled in when loaded


class _RuleTestsFile(_Frozen):
    cases: tuple[RuleTestCase, ...]


def load_rule_tests(rules_dir: Path) -> tuple[list[RuleTestCase], list[str]]:
    """The test cases in every `<rule id>.tests.yaml`, and the problems found reading them."""
    loader = _Loader(Path(rules_dir), {})
    cases: list[RuleTestCase] = []
    for path in sorted(Path(rules_dir).glob("*.tests.y*ml")):
        doc = loader.read(path, interpolate=False)
        parsed = loader.validate(doc, _RuleTestsFile)
        if doc is None or parsed is None:
            continue
        default_rule = path.name.split(".tests.")[0]
        for i, case in enumerate(parsed.cases):
            cases.append(
                case.model_copy(
                    update={"rule": case.rule or default_rule, "line": doc.value_line(("cases", i))}
                )
            )
    return cases, loader._formatted()


def load_config(rules_dir: Path, env: Mapping[str, str]) -> Config:
    """Read and validate the rules directory; one ConfigError lists every problem found."""
    config, problems = _Loader(Path(rules_dir), env).load()
    if problems or config is None:
        raise ConfigError(problems or [f"{_display(Path(rules_dir))}: no configuration"])
    return config


def check(rules_dir: Path, env: Mapping[str, str]) -> list[str]:
    """Every problem in the rules directory, its rule test cases included (empty when it is
    fine); no network, no database."""
    problems = _Loader(Path(rules_dir), env).load()[1]
    if Path(rules_dir).is_dir():
        problems += load_rule_tests(Path(rules_dir))[1]
    return problems


# ---------------------------------------------------------------------------------------------
# Reading YAML safely, with positions.

_Path = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)
_YAML_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL, _MAP, _SEQ = (
    _YAML_TAG + kind for kind in ("str", "int", "float", "bool", "null", "map", "seq")
)
# Plain scalars resolve by the YAML 1.2 core schema; anything else stays a string.
_CORE_NULL = re.compile(r"~|null|Null|NULL|")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_INT = re.compile(r"[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+")
_CORE_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
# A title template's `{…}` fields, as the rules render them: `{name}` is a value, `{{` and `}}`
# are literal braces; any other `{…}` would reach the chat as it is written.
_TEMPLATE_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_PLACEHOLDER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Values a trigger adds to its alert, beside what the rule extracts.
_TRIGGER_VALUES: dict[str, tuple[str, ...]] = {"changed": ("from", "to"), "count": ("count",)}


def template_fields(template: str) -> list[str]:
    """The text inside each `{…}` field of a title template, in order (escaped braces skipped)."""
    return [m.group(1) for m in _TEMPLATE_FIELD.finditer(template) if m.group(1) is not None]


_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def _display(path: Path) -> str:
    """`path` relative to the working directory when it lies below it."""
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class _Problem:
    order: int
    line: int
    text: str


@dataclass
class _Document:
    """One YAML file as plain data, plus the line of every key and value in it."""

    path: Path
    display: str
    order: int
    data: Any = None
    lines: dict[_Path, tuple[int, int]] = field(default_factory=dict)  # (key line, value line)
    broken: list[_Path] = field(default_factory=list)  # values already reported

    def value_line(self, path: _Path) -> int:
        return self.lines.get(path, (1, 1))[1]

    def key_line(self, path: _Path) -> int:
        return self.lines.get(path, (1, 1))[0]


class _Loader:
    def __init__(self, rules_dir: Path, env: Mapping[str, str]) -> None:
        self.rules_dir = rules_dir
        self.env = env
        self.problems: list[_Problem] = []
        self.sources: list[SourceFile] = []
        self.order = 0

    # -- problems ----------------------------------------------------------------------------

    def problem(self, doc: _Document, line: int, path: _Path, message: str) -> None:
        where = f"{doc.display}:{line}: "
        field_path = _format_path(path)
        self.problems.append(
            _Problem(doc.order, line, where + (f"{field_path}: " if field_path else "") + message)
        )

    def file_problem(self, path: Path, message: str) -> None:
        self.order += 1
        self.problems.append(_Problem(self.order, 0, f"{_display(path)}: {message}"))

    # -- the directory -----------------------------------------------------------------------

    def load(self) -> tuple[Config | None, list[str]]:
        d = self.rules_dir
        if not d.is_dir():
            self.file_problem(
                d, "rules directory not found (give another with --rules or BOT_RULES_DIR)"
            )
            return None, self._formatted()
        feeds_doc = self.read(d / FEEDS_FILE, interpolate=True)
        targets_doc = self.read(d / TARGETS_FILE, interpolate=True)
        rule_docs = [
            doc
            for doc in (self.read(p, interpolate=False) for p in self.rule_files())
            if doc is not None
        ]
        feeds = self.validate(feeds_doc, _FeedsFile)
        targets = self.validate(targets_doc, _TargetsFile)
        rules = [self.validate(doc, RuleConfig) for doc in rule_docs]
        # The checks across entries and files read the raw data, so that they also run on
        # files with other problems: every problem is reported at once.
        self.unique_names(feeds_doc, "feeds", "feed name")
        self.unique_names(targets_doc, "targets", "target name")
        self.unique_rule_ids(rule_docs)
        self.check_rule_references(rule_docs)
        if targets_doc is not None:
            self.check_notify(rule_docs, [name for _, name in _names(targets_doc, "targets")])
        if self.problems or feeds is None or targets is None or None in rules:
            return None, self._formatted()
        return Config(
            feeds=feeds.feeds,
            targets=targets.targets,
            rules=tuple(rule for rule in rules if rule is not None),
            source_files=tuple(self.sources),
        ), []

    def rule_files(self) -> list[Path]:
        out: list[Path] = []
        for path in sorted(self.rules_dir.iterdir()):
            name = path.name
            if (
                name.startswith(".")
                or not name.endswith((".yaml", ".yml"))
                or name.endswith(RULE_TESTS_SUFFIXES)
                or name in (FEEDS_FILE, TARGETS_FILE)
            ):
                continue
            if name in ("feeds.yml", "targets.yml"):
                self.file_problem(path, f"rename to {name.removesuffix('.yml')}.yaml")
                continue
            out.append(path)
        return out

    def _formatted(self) -> list[str]:
        return [p.text for p in sorted(self.problems, key=lambda p: (p.order, p.line))]

    # -- one file ----------------------------------------------------------------------------

    def read(self, path: Path, *, interpolate: bool) -> _Document | None:
        """Parse `path` into a _Document; None (with the problem recorded) if it cannot be."""
        try:
            st = path.stat()
        except FileNotFoundError:
            self.file_problem(path, "file not found")
            return None
        except OSError as exc:
            self.file_problem(path, f"cannot read: {exc.strerror}")
            return None
        if not stat.S_ISREG(st.st_mode):
            self.file_problem(path, "not a regular file")
            return None
        if st.st_size > MAX_FILE_BYTES:
            self.file_problem(path, f"file is larger than 1 MiB ({st.st_size} bytes)")
            return None
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.file_problem(path, f"cannot read: {exc.strerror}")
            return None
        if len(raw) > MAX_FILE_BYTES:
            self.file_problem(path, "file is larger than 1 MiB")
            return None
        digest = hashlib.sha256(raw).hexdigest()
        self.sources.append(SourceFile(path, st.st_mtime_ns, len(raw), digest))
        self.order += 1
        doc = _Document(path, _display(path), self.order)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problem(doc, raw.count(b"\n", 0, exc.start) + 1, (), "not valid UTF-8")
            return None
        if not self.parse(doc, text, interpolate):
            return None
        return doc

    def parse(self, doc: _Document, text: str, interpolate: bool) -> bool:
        """Fill `doc.data` from the YAML events; False if the file cannot be used.

        Only parser events are read: no node graph, no constructor, so no tag can ever make
        a Python object. Anchors and aliases are refused outright (rules have no use for them,
        and an alias bomb needs them), and so is nesting deeper than MAX_DEPTH.
        """
        builder = _Builder(self, doc, interpolate)
        try:
            for event in YAML(typ="rt", pure=True).parse(text):
                if not builder.feed(event):
                    break
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            message = ": ".join(part for part in (exc.context, exc.problem) if part)
            self.problem(doc, line, (), f"YAML syntax error: {message or 'cannot parse'}")
            return False
        except YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.problem(doc, 1, (), f"YAML error: {first}")
            return False
        if builder.failed:
            return False
        if not builder.documents:
            self.problem(doc, 1, (), "file is empty")
            return False
        doc.data = builder.root
        return True

    def broken(self, doc: _Document, line: int, path: _Path, message: str) -> None:
        self.problem(doc, line, path, message)
        doc.broken.append(path)

    def interpolate(self, doc: _Document, value: str, path: _Path, line: int) -> str:
        """`${VAR}` and `${VAR:-default}` from the environment; `$$` is a literal `$`."""
        if "$" not in value:
            return value
        failed = False

        def sub(m: re.Match[str]) -> str:
            nonlocal failed
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name is None:
                self.problem(doc, line, path, "malformed ${…}: expected ${VAR} or ${VAR:-default}")
                failed = True
                return ""
            found = self.env.get(name)
            if found:
                return found
            if default is not None:
                return default
            state = "is empty" if name in self.env else "is not set"
            self.problem(doc, line, path, f"environment variable {name} {state}")
            failed = True
            return ""

        result = _INTERPOLATION.sub(sub, value)
        if failed:
            doc.broken.append(path)
        return result

    # -- schema ------------------------------------------------------------------------------

    def validate(self, doc: _Document | None, model: type[_M]) -> _M | None:
        if doc is None:
            return None
        try:
            result = model.model_validate(doc.data)
        except ValidationError as exc:
            self.report(doc, exc)
            return None
        return None if doc.broken else result

    def report(self, doc: _Document, exc: ValidationError) -> None:
        for err in exc.errors(include_url=False, include_input=False):
            kind = err["type"]
            loc = err["loc"]
            cur: Any = doc.data
            path: list[str | int] = []
            for part in loc:
                in_dict = isinstance(part, str) and isinstance(cur, dict) and part in cur
                in_list = isinstance(part, int) and isinstance(cur, list) and 0 <= part < len(cur)
                if in_dict or in_list:
                    cur = cur[part]
                else:
                    continue  # a union tag, or the name of a missing field
                path.append(part)
            here = tuple(path)
            if any(here[: len(b)] == b for b in doc.broken):
                continue  # its value was already reported (bad tag, unset variable)
            if kind == "missing":
                self.problem(doc, doc.value_line(here), (*here, loc[-1]), "required field missing")
            elif kind == "extra_forbidden":
                key = str(loc[-1])
                hint = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
                if key in _KNOWN_KEYS:  # an option of another kind (a console target's url)
                    extra = " (not an option here)"
                else:
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.problem(doc, doc.key_line(here), here, "unknown field" + extra)
            elif kind == "target_type" and isinstance(cur, dict) and "type" in cur:
                kind_path = (*here, "type")
                self.problem(doc, doc.value_line(kind_path), kind_path, _message(err["msg"], kind))
            else:
                self.problem(doc, doc.value_line(here), here, _message(err["msg"], kind))

    # -- across files ------------------------------------------------------------------------

    def unique_names(self, doc: _Document | None, key: str, what: str) -> None:
        if doc is None:
            return
        seen: dict[str, int] = {}
        for i, name in _names(doc, key):
            line = doc.value_line((key, i, "name"))
            if name in seen:
                self.problem(
                    doc,
                    line,
                    (key, i, "name"),
                    f"duplicate {what} {name!r} (first at line {seen[name]})",
                )
            else:
                seen[name] = line

    def unique_rule_ids(self, docs: list[_Document]) -> None:
        seen: dict[str, _Document] = {}
        for doc in docs:
            rule_id = doc.data.get("id") if isinstance(doc.data, dict) else None
            if not isinstance(rule_id, str):
                continue
            if rule_id in seen:
                other = seen[rule_id]
                self.problem(
                    doc,
                    doc.value_line(("id",)),
                    ("id",),
                    f"duplicate rule id {rule_id!r} (also in "
                    f"{other.display}:{other.value_line(('id',))})",
                )
            else:
                seen[rule_id] = doc

    def check_rule_references(self, docs: list[_Document]) -> None:
        """`{entity: x}` names a gazetteer of the rule; trigger keys name values it extracts."""
        for doc in docs:
            data = doc.data if isinstance(doc.data, dict) else {}
            entities = data.get("entities")
            extract = data.get("extract")
            gazetteers = set(entities) if isinstance(entities, dict) else set()
            values = gazetteers | (set(extract) if isinstance(extract, dict) else set())
            for root in ("when", "topic"):
                for path, name in _entity_refs(data.get(root), (root,)):
                    if name not in gazetteers:
                        self.problem(
                            doc,
                            doc.value_line(path),
                            path,
                            f"no entity list {name!r} in this rule's `entities`"
                            + (f" (lists: {', '.join(sorted(gazetteers))})" if gazetteers else ""),
                        )
            principals = data.get("principals")
            if isinstance(principals, list) and isinstance(entities, dict):
                names = {
                    next(iter(e)) if isinstance(e, dict) and e else e
                    for entries in entities.values()
                    if isinstance(entries, list)
                    for e in entries
                }
                for i, name in enumerate(principals):
                    if isinstance(name, str) and name not in names:
                        self.problem(
                            doc,
                            doc.value_line(("principals", i)),
                            ("principals", i),
                            f"{name!r} is not a name in this rule's `entities`",
                        )
            trigger = data.get("trigger")
            self.check_title(doc, data.get("title"), trigger, values)
            if not isinstance(trigger, dict):
                continue
            keys = trigger.get("key")
            named: list[tuple[_Path, Any]] = (
                [(("trigger", "key", i), k) for i, k in enumerate(keys)]
                if isinstance(keys, list)
                else []
            )
            if isinstance(trigger.get("value"), str):
                named.append((("trigger", "value"), trigger["value"]))
            for path, name in named:
                if isinstance(name, str) and name not in values:
                    self.problem(
                        doc,
                        doc.value_line(path),
                        path,
                        f"{name!r} is not a value this rule extracts"
                        + (f" (values: {', '.join(sorted(values))})" if values else ""),
                    )

    def check_title(self, doc: _Document, title: Any, trigger: Any, values: set[str]) -> None:
        """Every `{name}` of the title is a value the alert carries: what the rule extracts,
        and `from`/`to` of a changed trigger or `count` of a count trigger."""
        if not isinstance(title, str):
            return
        kind = trigger.get("kind", "any") if isinstance(trigger, dict) else "any"
        names = values | set(_TRIGGER_VALUES.get(kind, ()) if isinstance(kind, str) else ())
        for name in template_fields(title):
            if name in names and _PLACEHOLDER.fullmatch(name):
                continue
            listed = ", ".join(sorted(names))
            if _PLACEHOLDER.fullmatch(name):
                message = f"{{{name}}} is not a value this rule extracts" + (
                    f" (values: {listed})" if names else ""
                )
            else:
                message = (
                    f"{{{name}}} is not a field: a field is the name of a value"
                    + (f" ({listed})" if names else "")
                    + " in letters, digits, _ and -; write {{ and }} for a literal brace"
                )
            self.problem(doc, doc.value_line(("title",)), ("title",), message)

    def check_notify(self, docs: list[_Document], targets: list[str]) -> None:
        known = set(targets)
        for doc in docs:
            names = doc.data.get("notify") if isinstance(doc.data, dict) else None
            if not isinstance(names, list):
                continue
            for i, name in enumerate(names):
                if isinstance(name, str) and name not in known and name not in names[:i]:
                    self.problem(
                        doc,
                        doc.value_line(("notify", i)),
                        ("notify", i),
                        f"unknown target {name!r} (targets: {', '.join(targets) or 'none'})",
                    )


def _entity_refs(node: Any, path: _Path) -> Iterator[tuple[_Path, str]]:
    """(path, name) of every `{entity: name}` term below a condition."""
    if isinstance(node, dict):
        if isinstance(node.get("entity"), str):
            yield (*path, "entity"), node["entity"]
        for key in ("any", "all", "none"):
            terms = node.get(key)
            if isinstance(terms, list):
                for i, term in enumerate(terms):
                    yield from _entity_refs(term, (*path, key, i))


def _names(doc: _Document, key: str) -> list[tuple[int, str]]:
    """(index, name) of each entry of the list `key` whose `name` is a string."""
    entries = doc.data.get(key) if isinstance(doc.data, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        (i, e["name"])
        for i, e in enumerate(entries)
        if isinstance(e, dict) and isinstance(e.get("name"), str)
    ]


_NO_KEY = object()  # a mapping's key that is not kept (not a string, or a duplicate)


@dataclass
class _Frame:
    """An open mapping or sequence while events are read."""

    is_map: bool
    container: dict[str, Any] | list[Any] | None  # None: read but not kept
    path: _Path
    is_key: bool = False  # a collection used as a mapping key (refused)
    expect_key: bool = True  # a mapping waits for a key, else for the value of `key`
    key: str | object = _NO_KEY
    key_line: int = 0
    key_lines: dict[str, int] = field(default_factory=dict)


class _Builder:
    """Plain data (dict, list, str, int, float, bool, None) from YAML events, with lines."""

    def __init__(self, loader: _Loader, doc: _Document, interpolate: bool) -> None:
        self.loader = loader
        self.doc = doc
        self.interpolate = interpolate
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0
        self.failed = False

    def feed(self, event: Event) -> bool:
        """Take one event; False to stop reading."""
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self.fail(line, "only one YAML document per file")
                return False
            return True
        anchor = getattr(event, "anchor", None)
        if isinstance(event, AliasEvent) or anchor:
            sign = "*" if isinstance(event, AliasEvent) else "&"
            self.fail(
                line,
                f"YAML anchors and aliases are not supported ({sign}{anchor}): "
                "repeat the value instead",
            )
            if isinstance(event, AliasEvent):  # stands for a key or a value: keep the shape
                if self._wants_key():
                    self.stack[-1].expect_key = False
                    self.stack[-1].key = _NO_KEY
                else:
                    self.put(None)
        if isinstance(event, ScalarEvent):
            self.scalar(event, line)
        elif isinstance(event, CollectionStartEvent):
            return self.start(event, line)
        elif isinstance(event, CollectionEndEvent):
            frame = self.stack.pop()
            if frame.is_key:
                self.stack[-1].expect_key = False
            else:
                self.put(frame.container)
        return True

    def fail(self, line: int, message: str) -> None:
        self.loader.problem(self.doc, line, (), message)
        self.failed = True

    def _wants_key(self) -> bool:
        return bool(self.stack) and self.stack[-1].is_map and self.stack[-1].expect_key

    def next_path(self) -> tuple[_Path | None, int]:
        """Where the next value goes (None: it is not kept) and the line of its key."""
        if not self.stack:
            return (), 1
        top = self.stack[-1]
        if top.container is None:
            return None, 0
        if isinstance(top.container, list):
            return (*top.path, len(top.container)), 0
        if not isinstance(top.key, str):
            return None, 0
        return (*top.path, top.key), top.key_line

    def key(self, event: ScalarEvent, line: int) -> None:
        top = self.stack[-1]
        top.expect_key = False
        top.key = _NO_KEY
        if top.container is None:
            return
        if _scalar_tag(event) != _STR:
            self.loader.broken(self.doc, line, top.path, "keys must be plain strings")
            return
        key = str(event.value)
        if key in top.key_lines:
            self.loader.problem(
                self.doc,
                line,
                (*top.path, key),
                f"duplicate key (first at line {top.key_lines[key]})",
            )
            return
        top.key, top.key_line = key, line
        top.key_lines[key] = line

    def scalar(self, event: ScalarEvent, line: int) -> None:
        if self._wants_key():
            self.key(event, line)
            return
        path, key_line = self.next_path()
        if path is None:
            self.put(None)
            return
        if event.value == "" and event.style is None and line > key_line > 0:
            line = key_line  # an empty value sits on its key's line, not the next token's
        self.doc.lines[path] = (key_line or line, line)
        self.put(self.convert(event, path, line))

    def start(self, event: CollectionStartEvent, line: int) -> bool:
        if len(self.stack) >= MAX_DEPTH:
            self.fail(line, f"YAML nested deeper than {MAX_DEPTH} levels")
            return False
        is_map = isinstance(event, MappingStartEvent)
        if self._wants_key():
            top = self.stack[-1]
            if top.container is not None:
                self.loader.broken(self.doc, line, top.path, "keys must be plain strings")
            top.key = _NO_KEY
            self.stack.append(_Frame(is_map, None, top.path, is_key=True))
            return True
        path, key_line = self.next_path()
        if path is None:
            self.stack.append(_Frame(is_map, None, ()))
            return True
        self.doc.lines[path] = (key_line or line, line)
        tag = event.tag
        if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
            self.loader.broken(self.doc, line, path, f"YAML tag {_shown_tag(tag)} is not allowed")
            self.stack.append(_Frame(is_map, None, path))
            return True
        self.stack.append(_Frame(is_map, {} if is_map else [], path))
        return True

    def put(self, value: Any) -> None:
        """Place a finished value in the open collection (or make it the document)."""
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.container, list):
            top.container.append(value)
        elif top.is_map:
            if isinstance(top.container, dict) and isinstance(top.key, str):
                top.container[top.key] = value
            top.expect_key = True
            top.key = _NO_KEY

    def convert(self, event: ScalarEvent, path: _Path, line: int) -> Any:
        tag = _scalar_tag(event)
        value = str(event.value)
        if tag == _STR:
            if self.interpolate:
                return self.loader.interpolate(self.doc, value, path, line)
            return value
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return value.lower() == "true"
        try:
            if tag == _INT:
                digits = value.replace("_", "")
                return int(digits, 0) if digits[:2] in ("0o", "0x") else int(digits, 10)
            if tag == _FLOAT:
                special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
                return float(special.get(value.lower(), value.replace("_", "")))
        except ValueError:
            return self.loader.broken(self.doc, line, path, f"not a valid number: {value!r}")
        return self.loader.broken(
            self.doc, line, path, f"YAML tag {_shown_tag(tag)} is not allowed"
        )


def _scalar_tag(event: ScalarEvent) -> str:
    """The tag of a scalar: its explicit tag, or by the YAML 1.2 core schema if it is plain."""
    tag = event.tag
    if tag is not None and tag != "!":
        return str(tag)
    if tag == "!" or event.style is not None or not event.implicit[0]:
        return _STR
    value = str(event.value)
    for core, resolved in (
        (_CORE_NULL, _NULL),
        (_CORE_BOOL, _BOOL),
        (_CORE_INT, _INT),
        (_CORE_FLOAT, _FLOAT),
    ):
        if core.fullmatch(value):
            return resolved
    return _STR


_MESSAGES = {
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def _message(msg: str, kind: str) -> str:
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    msg = msg.removeprefix("Value error, ")
    return msg.replace("Input should be", "expected", 1)
