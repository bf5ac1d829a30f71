"""Per-target delivery policy: routing by rule and severity, rate limits, digests, quiet hours."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import TargetConfig
from bot.models import Match

SEVERITIES = ("info", "warning", "critical")


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass
class TargetPolicy:
    """How one target takes alerts. The default takes everything, at once, without limit."""

    rules: frozenset[str] = frozenset()
    min_severity: str = "info"
    rate: tuple[int, timedelta] | None = None
    digest: str | None = None
    quiet: tuple[time, time, str | None] | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    _sent: deque[datetime] = field(default_factory=deque, repr=False)

    @classmethod
    def of(cls, cfg: TargetConfig) -> TargetPolicy:
        quiet = None
        if cfg.quiet_hours is not None:
            q = cfg.quiet_hours
            quiet = (
                time.fromisoformat(q.start.zfill(5)),
                time.fromisoformat(q.end.zfill(5)),
                q.except_severity,
            )
        return cls(
            rules=frozenset(cfg.route.rules) if cfg.route else frozenset(),
            min_severity=cfg.route.min_severity if cfg.route else "info",
            rate=(cfg.rate_limit.count, cfg.rate_limit.per) if cfg.rate_limit else None,
            digest=cfg.digest,
            quiet=quiet,
            tz=ZoneInfo(cfg.timezone),
        )

    def accepts(self, match: Match) -> bool:
        """Whether an alert of a rule that names no targets goes here."""
        if self.rules and match.rule_id not in self.rules:
            return False
        return _rank(match.severity) >= _rank(self.min_severity)

    def first_due(self, now: datetime) -> datetime:
        """When a new alert for this target is first due: now, or the next digest."""
        if self.digest is None:
            return now
        trigger = CronTrigger.from_crontab(self.digest, timezone=self.tz)
        fire: datetime | None = trigger.get_next_fire_time(None, now)
        return fire if fire is not None else now

    def quiet_until(self, now: datetime, severity: str) -> datetime | None:
        """The end of the quiet hours `now` falls in, or None when a message may go now."""
        if self.quiet is None:
            return None
        start, end, exempt = self.quiet
        if exempt is not None and _rank(severity) >= _rank(exempt):
            return None
        local = now.astimezone(self.tz)
        t = local.time().replace(tzinfo=None)
        inside = (start <= t < end) if start <= end else (t >= start or t < end)
        if not inside:
            return None
        day = local.date() if t < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, tzinfo=self.tz).astimezone(now.tzinfo)

    def rate_wait(self, now: datetime) -> datetime | None:
        """When the next message may go if the rate limit is reached now, else None."""
        if self.rate is None:
            return None
        count, per = self.rate
        while self._sent and now - self._sent[0] >= per:
            self._sent.popleft()
        if len(self._sent) < count:
            return None
        return self._sent[0] + per

    def record_sent(self, now: datetime) -> None:
        if self.rate is not None:
            self._sent.append(now)


def route(
    match: Match, names: Sequence[str], policies: Mapping[str, TargetPolicy]
) -> tuple[str, ...]:
    """A rule's own targets, or every target whose route takes this alert."""
    if match.targets:
        return match.targets
    default = TargetPolicy()
    return tuple(n for n in names if policies.get(n, default).accepts(match))
