"""The few exceptions that cross module boundaries; only the CLI turns them into exit codes."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError):
    """Configuration the user must fix; shown without a traceback, exit code 2.

    `problems` holds every problem found, each already formatted as `file:line: message`.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class TransientError(BotError):
    """A failure worth retrying later with backoff (network, a 5xx, a timeout)."""


class PermanentError(BotError):
    """A failure that retrying will not fix (a refused URL, a 404, malformed content)."""


class Skip(BotError):
    """An item deliberately not processed; `reason` is counted and logged."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
