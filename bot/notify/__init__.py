"""Alert delivery: the outbox and the targets it sends to."""

from bot.notify._outbox import Deliverer, DeliveryReport, RetryPolicy
from bot.notify._targets import (
    ConsoleTarget,
    DeliveryFailed,
    Target,
    WebhookTarget,
    retry_after_seconds,
    sign,
)

__all__ = [
    "ConsoleTarget",
    "Deliverer",
    "DeliveryFailed",
    "DeliveryReport",
    "RetryPolicy",
    "Target",
    "WebhookTarget",
    "retry_after_seconds",
    "sign",
]
