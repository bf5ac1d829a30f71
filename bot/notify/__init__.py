"""Alert delivery: the outbox and the targets it sends to."""

from bot.notify._chat import (
    AlertView,
    AppriseTarget,
    DiscordTarget,
    SlackTarget,
    TeamsTarget,
    discord_pace,
)
from bot.notify._factory import build_target
from bot.notify._neutralize import (
    discord_text,
    markdown_text,
    safe_url,
    slack_text,
    teams_text,
    truncate,
)
from bot.notify._outbox import Deliverer, DeliveryReport, RetryPolicy, digest_payload
from bot.notify._policy import TargetPolicy, route
from bot.notify._preview import PreviewDeliverer
from bot.notify._targets import (
    ConsoleTarget,
    DeliveryFailed,
    Pace,
    Target,
    WebhookTarget,
    check_response,
    post_json,
    retry_after_seconds,
    sign,
)

__all__ = [
    "AlertView",
    "AppriseTarget",
    "ConsoleTarget",
    "Deliverer",
    "DeliveryFailed",
    "DeliveryReport",
    "DiscordTarget",
    "Pace",
    "PreviewDeliverer",
    "RetryPolicy",
    "SlackTarget",
    "Target",
    "TargetPolicy",
    "TeamsTarget",
    "WebhookTarget",
    "build_target",
    "check_response",
    "digest_payload",
    "discord_pace",
    "discord_text",
    "markdown_text",
    "post_json",
    "retry_after_seconds",
    "route",
    "safe_url",
    "sign",
    "slack_text",
    "teams_text",
    "truncate",
]
