"""Stateful triggers: decide whether a match is news, given what was stored before."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.models import Match, TriggerState
from bot.rules._compile import render_title

__all__ = ["Decision", "decide"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The match to send (values and title completed), or None and why not; the new state."""

    alert: Match | None
    state: TriggerState
    reason: str = ""


def decide(match: Match, state: TriggerState | None, now: datetime) -> Decision:
    """Apply the match's trigger to the stored state of its (rule, key).

    any: every match. new: a key not seen within the window (or never). changed: the tracked
    value differs from the last one stored (or, the first time, from the earlier value the
    article itself reports); the alert carries `from` and `to`. count: the match that makes
    `count` matches within the window. A cooldown holds back any alert that comes sooner than
    `cooldown` after the previous alert of the same key; the state is updated all the same.
    """
    trigger = match.trigger
    before = state or TriggerState()
    after = replace(before, last_seen=now)
    alert: Match | None = match
    reason = ""
    if trigger.kind == "new":
        seen = before.last_seen
        if seen is not None and (trigger.window is None or now - seen <= trigger.window):
            alert, reason = None, "seen"
    elif trigger.kind == "changed":
        assert trigger.value is not None
        current = str(match.values[trigger.value])
        previous = before.value if before.last_seen is not None else match.previous
        after = replace(after, value=current)
        if previous == current:
            alert, reason = None, "unchanged"
        else:
            values = {**match.values, "from": previous, "to": current}
            alert = replace(match, values=values, title=render_title(match.template, values))
    elif trigger.kind == "count":
        assert trigger.window is not None and trigger.count is not None
        window = trigger.window
        events = (*(t for t in before.events if now - t <= window), now)
        after = replace(after, events=events)
        if len(events) < trigger.count:
            alert, reason = None, "below count"
        else:
            after = replace(after, events=())  # the next alert needs `count` new matches
            values = {**match.values, "count": len(events)}
            alert = replace(match, values=values, title=render_title(match.template, values))
    if (
        alert is not None
        and trigger.cooldown is not None
        and before.last_alert is not None
        and now - before.last_alert < trigger.cooldown
    ):
        alert, reason = None, "cooldown"
    if alert is not None:
        after = replace(after, last_alert=now)
    return Decision(alert, after, reason)
