"""Targets built from their configuration: one function knows every kind."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.config import (
    AppriseTargetConfig,
    ConsoleTargetConfig,
    DiscordTargetConfig,
    SlackTargetConfig,
    TargetConfig,
    TeamsTargetConfig,
    WebhookTargetConfig,
)
from bot.errors import ConfigError
from bot.logs import register_secret, wants_json
from bot.net import Http
from bot.notify._chat import AppriseTarget, DiscordTarget, SlackTarget, TeamsTarget
from bot.notify._targets import ConsoleTarget, Target, WebhookTarget


def build_target(
    cfg: TargetConfig, http: Http, *, stream: TextIO | None = None, log_format: str = "auto"
) -> Target:
    """The Target `cfg` describes; its URLs and secrets are registered for redaction. A console
    target writes JSON lines when `log_format` (`BOT_LOG_FORMAT`) gives JSON on its stream.

    ConfigError when it cannot be built (an apprise target without the optional package, or
    with a URL Apprise does not know).
    """
    if isinstance(cfg, ConsoleTargetConfig):
        out = stream or sys.stdout
        return ConsoleTarget(cfg.name, out, json_lines=wants_json(log_format, out))
    if isinstance(cfg, AppriseTargetConfig):
        urls = tuple(u.get_secret_value() for u in cfg.urls)
        for url in urls:
            register_secret(url)
        try:
            return AppriseTarget(cfg.name, urls)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"target {cfg.name}: {exc}") from exc
    url = cfg.url.get_secret_value()
    register_secret(url)
    timeout = cfg.timeout.total_seconds()
    if isinstance(cfg, WebhookTargetConfig):
        secret = cfg.secret.get_secret_value() if cfg.secret is not None else None
        register_secret(secret)
        return WebhookTarget(
            cfg.name, url, http, secret=secret or None, timeout=timeout, headers=dict(cfg.headers)
        )
    if isinstance(cfg, SlackTargetConfig):
        return SlackTarget(
            cfg.name, url, http, timeout=timeout, username=cfg.username, icon_url=cfg.icon_url
        )
    if isinstance(cfg, DiscordTargetConfig):
        return DiscordTarget(
            cfg.name, url, http, timeout=timeout, username=cfg.username, icon_url=cfg.icon_url
        )
    if isinstance(cfg, TeamsTargetConfig):
        return TeamsTarget(cfg.name, url, http, timeout=timeout)
    raise AssertionError(f"unhandled target kind: {type(cfg).__name__}")
